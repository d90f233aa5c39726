"""The flow: given answers so far, what to ask next and what it means for eligibility.

The flow is a pure function of (study, answers, respondent, today). It is recomputed on every
step instead of stored, so changing an earlier answer re-branches naturally and answers to
questions that are no longer reached can never leak into a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import product
from typing import Any

from .errors import AnswerError
from .expr import Env
from .model import Criterion, Question, Study
from .month import Month
from .outcome import FrozenDict, Outcome, Reason, State
from .vocab import CONFIRM, LIKELY_ELIGIBLE, MET, NEEDS_REVIEW, NOT_ELIGIBLE, NOT_MET, REVIEW

__all__ = ["Flow", "Item", "Outcome", "Reason", "State"]


@dataclass(frozen=True)
class Item:
    """A unit of the outcome rule: a standalone criterion or an ``any_of`` group."""

    name: str
    criteria: tuple[Criterion, ...]

    @property
    def waiting_period(self) -> bool:
        return all(c.waiting_period for c in self.criteria)


def _frozen(value: Any) -> Any:
    """A raw answer as a hashable memo key: tick-all lists become tuples, the rest stay as given."""
    return tuple(value) if isinstance(value, list) else value


def _combine(statuses: list[str]) -> str:
    """OR over arms with three-valued logic (STUDY-NOTES §1)."""
    if MET in statuses:
        return MET
    if all(s == NOT_MET for s in statuses):
        return NOT_MET
    return REVIEW if REVIEW in statuses else CONFIRM


class Flow:
    """Walks one study's questions for one family."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.exclusive = {q.id: q.exclusive_values for q in study.questions}
        self.items = self._items(study.criteria)
        self.item_of = {c.id: item for item in self.items for c in item.criteria}
        # criteria to re-evaluate after each question is answered
        self.dependents: dict[str, list[Criterion]] = {q.id: [] for q in study.questions}
        for criterion in study.criteria:
            for name in criterion.names:
                self.dependents.setdefault(name, []).append(criterion)
        # Memos (see run and _likely_shown): a chat step re-derives the previous request's state,
        # and families share the few answers each "questions left" estimate reads.
        self._shown_memo: dict[tuple[Any, ...], bool] = {}
        self._run_memo: dict[tuple[Any, ...], State] = {}
        self._start_memo: dict[tuple[str, Month], dict[str, str]] = {}
        self.position = {q.id: index for index, q in enumerate(study.questions)}

    @staticmethod
    def _items(criteria: Iterable[Criterion]) -> list[Item]:
        items: list[Item] = []
        groups: dict[str, list[Criterion]] = {}
        for criterion in criteria:
            if criterion.any_of:
                if criterion.any_of not in groups:
                    groups[criterion.any_of] = []
                    items.append(Item(criterion.any_of, ()))
                groups[criterion.any_of].append(criterion)
            else:
                items.append(Item(criterion.id, (criterion,)))
        return [Item(i.name, tuple(groups[i.name])) if i.name in groups else i for i in items]

    # -- evaluation -------------------------------------------------------------------------
    def env(self, values: Mapping[str, Any], respondent: str, today: date) -> Env:
        return Env(values=values, respondent=respondent, month=Month.of(today), exclusive=self.exclusive)

    @staticmethod
    def status(criterion: Criterion, env: Env) -> str:
        """One criterion's status; a rule that is unknown counts as not true."""
        if criterion.not_met_if is not None and criterion.not_met_if.is_true(env):
            return NOT_MET
        if criterion.met_if is not None and criterion.met_if.is_true(env):
            return MET
        if criterion.confirm_if is not None and criterion.confirm_if.is_true(env):
            return CONFIRM
        return REVIEW

    def item_status(self, item: Item, statuses: Mapping[str, str]) -> str:
        if len(item.criteria) == 1:
            return statuses[item.criteria[0].id]
        return _combine([statuses[c.id] for c in item.criteria])

    def knocked_out(self, statuses: Mapping[str, str], criteria: Iterable[Criterion]) -> bool:
        """Whether a freshly updated criterion ends the form (a permanent not_met)."""
        for criterion in criteria:
            item = self.item_of[criterion.id]
            if not item.waiting_period and self.item_status(item, statuses) == NOT_MET:
                return True
        return False

    def outcome(self, statuses: Mapping[str, str], env: Env, knocked_out_at: str | None = None) -> Outcome:
        """Apply the outcome rule (STUDY-NOTES §5) to the criteria statuses."""
        failing: list[Item] = []
        review = False
        for item in self.items:
            status = self.item_status(item, statuses)
            if status == NOT_MET:
                failing.append(item)
            elif status == REVIEW:
                review = True
        reasons: list[Reason] = []
        failed: list[str] = []
        dates: list[date | None] = []
        for item in failing:
            item_date = self._recheck(item, statuses, env) if item.waiting_period else None
            dates.append(item_date)
            for criterion in item.criteria:
                if statuses[criterion.id] != NOT_MET:
                    continue
                failed.append(criterion.id)
                if all(r.texts != criterion.reasons for r in reasons):
                    reasons.append(Reason(criterion.id, criterion.reasons, item_date))
        if failing:
            status = NOT_ELIGIBLE
            recheck = max(dates) if dates and all(d is not None for d in dates) else None  # type: ignore[type-var]
        else:
            status = NEEDS_REVIEW if review else LIKELY_ELIGIBLE
            recheck = None
        return Outcome(status, FrozenDict(statuses), failed, reasons, recheck, knocked_out_at)

    @staticmethod
    def _recheck(item: Item, statuses: Mapping[str, str], env: Env) -> date | None:
        months = []
        for criterion in item.criteria:
            if statuses[criterion.id] == NOT_MET and criterion.recheck is not None:
                month = criterion.recheck(env)
                # a month already past cannot explain a failure (e.g. over the age limit)
                if not isinstance(month, Month) or month < env.month:
                    return None
                months.append(month)
        return max(months).first_day_after() if months else None

    # -- the walk ---------------------------------------------------------------------------
    #: States kept by :meth:`run`'s memo before it starts again (bounds a worker's memory).
    RUN_MEMO_SIZE = 2048

    def run(self, answers: Mapping[str, Any], respondent: str = "guardian", today: date | None = None) -> State:
        """Where a family stands given ``answers`` (question id -> raw value).

        ``today`` is required in spirit: the engine never reads the clock, so the caller decides
        what "now" is (the CLI's ``--today``, the request time in the web app).

        The result is memoised on exactly these arguments: a chat step re-derives the state the
        previous request ended with before adding one answer. Callers must treat the returned
        :class:`State` as read-only (it may be handed out again).
        """
        if today is None:
            raise ValueError("today must be given: the engine never reads the clock")
        return self._remembered(answers, respondent, today, None)

    def advance(self, state: State, answers: Mapping[str, Any], today: date) -> State:
        """The state after ``answers``: ``state``'s own answers plus one for ``state.question``.

        Equal to ``run(answers, state.respondent, today)`` (``today`` being the day ``state`` was
        worked out for), but the walk resumes at ``state.question`` instead of starting again: a
        condition may only read earlier answers (the loader refuses anything else), so nothing
        before that question can change. Each answer in the chat is such a step.
        """
        if state.question is None:
            raise ValueError("advance needs a state that is waiting for an answer")
        return self._remembered(answers, state.respondent, today, state)

    def _remembered(self, answers: Mapping[str, Any], respondent: str, today: date, resume: State | None) -> State:
        """:meth:`_run` through the memo (keyed on the arguments ``run`` takes, whatever ``resume``)."""
        try:
            key = (respondent, today, frozenset((k, _frozen(v)) for k, v in answers.items()))
            state = self._run_memo.get(key)
        except TypeError:  # an answer that cannot be hashed (a fuzzer's dict): no memo
            return self._run(answers, respondent, today, resume)
        if state is None:
            state = self._run(answers, respondent, today, resume)
            if len(self._run_memo) >= self.RUN_MEMO_SIZE:
                self._run_memo.clear()
            self._run_memo[key] = state
        return state

    def _run(self, answers: Mapping[str, Any], respondent: str, today: date, resume: State | None = None) -> State:
        values: dict[str, Any] = {}
        env = self.env(values, respondent, today)
        if resume is None or resume.question is None:
            start = 0
            statuses = self._start_statuses(env)
            asked: list[str] = []
        else:
            start = self.position[resume.question.id]
            values.update(resume.values)
            statuses = dict(resume.provisional.criteria)
            asked = list(resume.asked)
        errors: dict[str, AnswerError] = {}
        next_question: Question | None = None
        knocked_out_at: str | None = None
        for index in range(start, len(self.study.questions)):
            question = self.study.questions[index]
            if question.show_if is not None and not question.show_if.is_true(env):
                continue
            raw = answers.get(question.id)
            try:
                values[question.id] = question.parse(raw, today)
            except AnswerError as error:
                if raw is not None:
                    errors[question.id] = error
                next_question = question
                remaining = 1 + self._remaining(index + 1, env)
                break
            asked.append(question.id)
            touched = self.dependents.get(question.id, [])
            for criterion in touched:
                statuses[criterion.id] = self.status(criterion, env)
            if self.knocked_out(statuses, touched):
                knocked_out_at = question.id
                break
        if next_question is None:
            remaining = 0
        current = self.outcome(statuses, env, knocked_out_at)
        return State(
            question=next_question,
            outcome=None if next_question else current,
            asked=asked,
            values=FrozenDict(values),
            remaining=remaining,
            provisional=current,
            respondent=respondent,
            errors=errors,
        )

    def _start_statuses(self, env: Env) -> dict[str, str]:
        """Every criterion's status before any answer (a fresh copy the walk may update).

        Before the first answer a status can depend only on the respondent and the month, and
        working it out for every criterion was a third of a walk's time; so it is kept per
        (respondent, month). Only ever called while ``env.values`` is still empty.
        """
        key = (env.respondent, env.month)
        start = self._start_memo.get(key)
        if start is None:
            start = {c.id: self.status(c, env) for c in self.study.criteria}
            if len(self._start_memo) >= self.SHOWN_MEMO_SIZE:
                self._start_memo.clear()
            self._start_memo[key] = start
        return dict(start)

    def _remaining(self, start: int, env: Env) -> int:
        """About how many questions after ``start`` a typical family still answers.

        A question whose condition is already true counts, one already false does not. One whose
        condition waits on answers not given yet counts when most possible answers to those
        questions would ask it: "have you had X?" follow-ups are usually skipped, while a gate
        that only stops the few who are not eligible usually lets a family through.
        """
        count = 0
        for question in self.study.questions[start:]:
            if question.show_if is None:
                count += 1
                continue
            shown = question.show_if(env)
            if shown is None:
                shown = self._likely_shown(question, env)
            count += bool(shown)
        return count

    #: Entries kept in the ``_likely_shown`` memo before it starts again (bounds a worker's memory).
    SHOWN_MEMO_SIZE = 4096

    def _likely_shown(self, question: Question, env: Env) -> bool:
        """Whether most answers to the questions ``question``'s condition still waits on ask it.

        The result depends only on the condition's own answered names, the respondent and the
        month, so it is memoised on exactly those (a value that cannot be hashed skips the memo).
        """
        if question.show_if is None:
            return True
        names = question.show_if.names
        key = (
            question.id,
            env.respondent,
            env.month,
            tuple((n, env.values[n]) for n in sorted(names) if n in env.values),
        )
        try:
            return self._shown_memo[key]
        except KeyError:
            pass
        except TypeError:
            return self._estimate_shown(question, env)
        shown = self._estimate_shown(question, env)
        if len(self._shown_memo) >= self.SHOWN_MEMO_SIZE:
            self._shown_memo.clear()
        self._shown_memo[key] = shown
        return shown

    def _estimate_shown(self, question: Question, env: Env) -> bool:
        show_if = question.show_if
        if show_if is None:
            return True
        pending = [n for n in sorted(show_if.names) if n not in env.values]
        options: list[list[Any]] = []
        for name in pending:
            asked = self.study.question(name)
            trials = asked.kind.trials(asked)
            if trials is None:
                return True  # a number or month: assume the condition may well hold
            options.append(trials)
        trials = shown = 0
        for combo in product(*options):
            trials += 1
            if trials > 64:
                return True
            values = {**env.values, **dict(zip(pending, combo, strict=True))}
            trial = Env(values=values, respondent=env.respondent, month=env.month, exclusive=env.exclusive)
            shown += show_if(trial) is True
        return shown * 2 >= trials

    def age(self, answers: Mapping[str, Any], today: date) -> int | None:
        """Completed years from the study's date-of-birth question, if answered validly."""
        qid = self.study.meta.get("age_question", "")
        if not qid or not self.study.has_question(qid):
            return None
        try:
            born = self.study.question(qid).parse(answers.get(qid), today)
        except AnswerError:
            return None
        return (Month.of(today) - born) // 12

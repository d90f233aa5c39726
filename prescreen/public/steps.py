"""One step of the chat below the HTTP level: take a posted answer (or a change), apply the rules, save.

The views in :mod:`.chat` only pick the response (a whole page, a step fragment, a redirect) from
the :class:`StepResult` this returns. Everything a family's answer is subject to is here, in the
order it is checked: a screening waiting for a guardian, a stale form (a double tap, a replayed
request, a second tab), a screening already sent to the team, an unknown question, an answer the
question does not take, a patient found to be under 14, then the flow moves on and the step is
saved (the store refuses it if another request saved this step first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlite_utils
from werkzeug.datastructures import MultiDict

from .. import studies
from ..engine import AnswerError, Question, State, Study
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from . import early

#: The age under which a patient may not fill this in alone (PIPL art. 31).
GUARDIAN_AGE = 14
#: The most ticks a multiple-choice answer may carry (a question has far fewer choices).
MAX_TICKS = 50

#: ``handoff``: a guardian must take over (just now, or already); ``stale``: not this step's form;
#: ``locked``: the details were already sent; ``invalid``: nothing saved, show ``error``;
#: ``saved``: the step was written (``row`` is the new row); ``lost``: another request saved it first.
StepKind = Literal["handoff", "stale", "locked", "invalid", "saved", "lost"]


@dataclass(frozen=True)
class StepResult:
    """What happened to one posted answer, and what to show next."""

    kind: StepKind
    #: The screening as it now stands (with ``editing`` set to the question to show again on ``invalid``).
    row: dict[str, Any]
    #: The flow's state to show: the new one after ``saved``/``lost``, the one before otherwise.
    state: State | None = None
    #: The question the answer was for (None for an unknown question).
    question: Question | None = None
    #: Why the answer was refused (None on ``invalid`` means the question itself was not one to answer).
    error: AnswerError | None = None
    #: The refused answer as posted, to show again.
    raw: Any = None
    #: The usual step: the answer to the question just asked, and the flow simply moved on by one.
    forward: bool = False
    #: What the answer did to the told-early choice (``store.screenings.EARLY_STEPS``).
    early: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the flow has reached a result."""
        return self.state is not None and self.state.outcome is not None


def flow_state(study: Study, row: dict[str, Any], day: date) -> State:
    """Where this screening stands on ``day``, as the family sees it (finished if they stopped early)."""
    state = studies.flow(study).run(row["answers"], respondent=row["respondent"] or "guardian", today=day)
    return early.as_seen(row, state)


def result_notice(previous: str | None, state: State, new: State, *, changed: bool) -> str | None:
    """What to tell the family after a change to an answer given after they saw a result.

    ``was:<status>`` rides along while the re-branched flow asks more questions; once it ends,
    ``result_changed`` is shown if the result differs from the one they had seen.
    """
    seen = previous[4:] if previous and previous.startswith("was:") else None
    if changed and state.outcome is not None:
        seen = state.outcome.status
    if seen is None:
        return None
    if new.outcome is None:
        return f"was:{seen}"
    return "result_changed" if new.outcome.status != seen else None


def posted_value(question: Question, form: MultiDict[str, str]) -> Any:
    """The answer as posted: a list of ticks for a multiple choice, else one string."""
    if question.type == "multiple":
        return form.getlist("value")[:MAX_TICKS]
    return form.get("value", "")


def is_repeat(study: Study, row: dict[str, Any], form: MultiDict[str, str], *, today: date) -> bool:
    """Whether a stale form only repeats an answer already saved (a double tap): nothing to tell.

    Anything else stale (a second tab, a page left open while the answers moved on) was dropped,
    and the family is told so (:func:`prescreen.public.chat.answer`).
    """
    qid = form.get("q", "")
    if qid not in row["answers"] or not study.has_question(qid):
        return False
    question = study.question(qid)
    try:
        value = question.parse(posted_value(question, form), today)
    except AnswerError:
        return False
    return bool(question.stored(value) == row["answers"][qid])


def take_answer(
    db: sqlite_utils.Database,
    study: Study,
    row: dict[str, Any],
    form: MultiDict[str, str],
    *,
    today: date,
    locale: str,
    resume_days: int,
) -> StepResult:
    """Apply one posted answer (``step``, ``q``, ``value``) to the screening ``row`` and save it.

    ``today`` is one day for the whole step, so the walk can resume where the last one stopped.
    """
    if row["status"] == "handoff":
        return StepResult("handoff", row)
    if form.get("step") != str(row["step"]):
        return StepResult("stale", row)  # the first of a double tap counted; show where things stand
    if referral_store.by_screening(db, row["id"]):
        return StepResult("locked", row)
    state = flow_state(study, row, today)
    qid = form.get("q", "")
    next_id = state.question.id if state.question else None
    if qid != next_id and qid not in state.asked:
        return StepResult("invalid", row, state)
    question = study.question(qid)
    raw = posted_value(question, form)
    try:
        value = question.parse(raw, today)
    except AnswerError as exc:
        editing = {**row, "editing": qid if qid != next_id else None}
        return StepResult("invalid", editing, state, question, exc, raw)
    return _move_on(
        db, study, row, state, {**row["answers"], qid: question.stored(value)}, question, today, locale, resume_days
    )


def _move_on(
    db: sqlite_utils.Database,
    study: Study,
    row: dict[str, Any],
    state: State,
    answers: dict[str, Any],
    question: Question,
    today: date,
    locale: str,
    resume_days: int,
) -> StepResult:
    """With a valid answer in ``answers``: hand a young patient over, or move the flow on and save."""
    qid = question.id
    next_id = state.question.id if state.question else None
    flow = studies.flow(study)
    voice = row["respondent"] or "guardian"
    if voice == "patient":
        age = flow.age(answers, today)
        if age is not None and age < GUARDIAN_AGE:
            screening_store.hand_off(db, row["id"], row["step"])
            return StepResult("handoff", row)
    if qid == next_id:  # the usual step: an answer to the question just asked
        engine = flow.advance(state, answers, today)
    else:  # a change to an earlier answer can change which questions come after it
        engine = flow.run(answers, respondent=voice, today=today)
    new = early.as_seen(row, engine)
    effect = early.step_effect(row, state, engine, new, forward=qid == next_id)
    saved = screening_store.save_step(
        db,
        row["id"],
        row["step"],
        answers=answers,
        version=study.version,
        locale=locale,
        outcome=new.to_record(),
        notice=result_notice(row["notice"], state, new, changed=qid != next_id),
        resume_days=resume_days,
        early=effect,
    )
    if saved is None:
        return StepResult("lost", row, new, question)
    forward = qid == next_id and new.asked == [*state.asked, qid]
    return StepResult("saved", saved, new, question, forward=forward, early=effect)


def choose_change(
    db: sqlite_utils.Database, study: Study, row: dict[str, Any], form: MultiDict[str, str], *, today: date
) -> dict[str, Any]:
    """Start (``q`` = an answered question) or cancel (anything else) changing an earlier answer.

    A stale form or a screening already sent to the team changes nothing. Returns the row as it
    now stands.
    """
    if form.get("step") != str(row["step"]) or referral_store.by_screening(db, row["id"]):
        return row
    qid = form.get("q", "")
    state = flow_state(study, row, today)
    written = screening_store.set_editing(db, row["id"], row["step"], qid if qid in state.asked else None)
    return written or row


def choose_early(
    db: sqlite_utils.Database, study: Study, row: dict[str, Any], form: MultiDict[str, str], *, today: date
) -> dict[str, Any]:
    """The family's choice after being told early: ``stop`` (see the result now) or ``rest`` (reopen).

    ``stop`` finishes the screening with the engine's outcome of the answers given, while that
    outcome is "not eligible for now"; ``rest`` reopens a stopped screening where it was left.
    A stale form or a screening already sent to the team changes nothing. Returns the row as it
    now stands.
    """
    if form.get("step") != str(row["step"]) or referral_store.by_screening(db, row["id"]):
        return row
    choice = form.get("choice", "")
    written = None
    if choice == "stop":
        state = flow_state(study, row, today)
        if state.question is not None and state.provisional.waiting:
            written = screening_store.stop_early(db, row["id"], row["step"], state.provisional.to_record())
    elif choice == "rest":
        written = screening_store.answer_the_rest(db, row["id"], row["step"])
    return written or row

"""Walk every route through a study, so a sheet error shows up before a family meets it.

Trying every combination of answers is impossible (tick-all questions alone multiply fast), but
most answers stop mattering once the criteria that read them are decided. The walk memoises on
exactly what can still change the route or the outcome — the answers later conditions or
undecided criteria read, and the decided statuses — so it visits each distinct situation once and
still sees every route.

It also collects every status a family can read about each criterion on some finished route
(:func:`.explain.shown`), so the study's check can insist on that status's family wording.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .errors import EvaluationError, Problem
from .explain import shown
from .flow import Flow
from .model import Question, Study
from .sheets import display_path
from .types import Hints
from .vocab import CONFIRM, NOT_MET, REVIEW, VOICES

#: the walk uses a fixed "today": month arithmetic is relative, so any date shows every route
WALK_TODAY = date(2026, 6, 15)
MAX_ROUTES = 500_000


@dataclass
class WalkReport:
    """What the exhaustive walk found."""

    paths: int = 0
    longest: tuple[str, ...] = ()
    shortest: dict[str, tuple[str, ...]] = field(default_factory=dict)
    routes_by_outcome: dict[str, int] = field(default_factory=dict)
    never_asked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    #: criterion id -> the statuses a family may read about it at the end of some route
    family_statuses: dict[str, set[str]] = field(default_factory=dict)


class _Walker:
    def __init__(self, study: Study, respondent: str, today: date) -> None:
        self.study = study
        self.flow = Flow(study)
        self.respondent = respondent
        self.today = today
        self.questions = study.questions
        self.index = {q.id: i for i, q in enumerate(self.questions)}
        self.memo: dict[Any, frozenset[int]] = {}
        # routes are hash-consed: id -> (question, rest id) or ("", outcome) for the end, so
        # extending a route is one dict lookup instead of copying a tuple
        self.route_ids: dict[tuple[str, Any], int] = {}
        self.routes: list[tuple[str, Any]] = []
        self.reached: set[str] = set()
        self.errors: list[str] = []
        self.shown: set[tuple[str, str]] = set()
        self._prepare()

    def _prepare(self) -> None:
        n = len(self.questions)
        # the last position at which each criterion can still change
        self.crit_last = {
            c.id: max((self.index[q] for q in c.names if q in self.index), default=-1) for c in self.study.criteria
        }
        live_until: dict[str, int] = {}
        for i, question in enumerate(self.questions):
            if question.show_if is not None:
                for name in question.show_if.names:
                    live_until[name] = max(live_until.get(name, -1), i)
        for criterion in self.study.criteria:
            for name in criterion.names:
                # a criterion also needs its answers at the end, for the outcome and recheck
                live_until[name] = max(live_until.get(name, -1), self.crit_last[criterion.id])
        self.live_at: list[tuple[str, ...]] = [
            tuple(sorted(name for name, last in live_until.items() if self.index.get(name, n) < i <= last))
            for i in range(n + 1)
        ]
        # per position: items wholly decided, and the decided arms of groups still open
        self.decided_items: list[tuple[Any, ...]] = []
        self.partial_groups: list[tuple[tuple[str, ...], ...]] = []
        for i in range(n + 1):
            decided, partial = [], []
            for item in self.flow.items:
                if all(self.crit_last[c.id] < i for c in item.criteria):
                    decided.append(item)
                elif len(item.criteria) > 1:
                    partial.append(tuple(c.id for c in item.criteria if self.crit_last[c.id] < i))
            self.decided_items.append(tuple(decided))
            self.partial_groups.append(tuple(partial))
        self.samples = {q.id: self._samples(q) for q in self.questions}

    def _numbers_for(self, question: Question) -> tuple[set[int], bool]:
        numbers: set[int] = set()
        aged = False
        expressions = [q.show_if for q in self.questions if q.show_if is not None]
        for criterion in self.study.criteria:
            expressions.extend(criterion.rules)
        for expression in expressions:
            if question.id in expression.names:
                numbers |= set(expression.numbers)
                aged = aged or question.id in expression.age_names
        return numbers, aged

    def _samples(self, question: Question) -> list[Any]:
        numbers, aged = self._numbers_for(question)
        return question.kind.samples(question, Hints(frozenset(numbers), aged, self.today))

    def signature(self, i: int, values: Mapping[str, Any], statuses: Mapping[str, str]) -> Any:
        live = tuple(values.get(name) for name in self.live_at[i])
        fails = review = False
        for item in self.decided_items[i]:
            status = self.flow.item_status(item, statuses)
            fails = fails or status == NOT_MET
            review = review or status == REVIEW
        groups = tuple(tuple(statuses[cid] for cid in arms) for arms in self.partial_groups[i])
        return (i, live, fails, review, groups)

    def intern(self, head: str, rest: Any) -> int:
        key = (head, rest)
        found = self.route_ids.get(key)
        if found is None:
            found = self.route_ids[key] = len(self.routes)
            self.routes.append(key)
        return found

    def decode(self, route: int) -> tuple[tuple[str, ...], str]:
        """A route id as (question ids, outcome)."""
        asked: list[str] = []
        head, rest = self.routes[route]
        while head:
            asked.append(head)
            head, rest = self.routes[rest]
        return tuple(asked), rest

    def walk(self, i: int, values: dict[str, Any], statuses: dict[str, str]) -> frozenset[int]:
        env = self.flow.env(values, self.respondent, self.today)
        n = len(self.questions)
        while i < n:
            show_if = self.questions[i].show_if
            if show_if is None or show_if.is_true(env):
                break
            i += 1
        if i == n:
            return frozenset({self.intern("", self.end(statuses, env))})
        key = self.signature(i, values, statuses)
        cached = self.memo.get(key)
        if cached is not None:
            self.shown_before(i, statuses)
            return cached
        question = self.questions[i]
        self.reached.add(question.id)
        result: set[int] = set()
        dependents = self.flow.dependents.get(question.id, [])
        if not self.samples[question.id]:
            self.errors.append(f"question '{question.id}' has no answer a family could give")
        children: dict[int, frozenset[int]] = {}
        for value in self.samples[question.id]:
            new_values = {**values, question.id: value}
            new_env = self.flow.env(new_values, self.respondent, self.today)
            new_statuses = dict(statuses)
            for criterion in dependents:
                new_statuses[criterion.id] = self.flow.status(criterion, new_env)
            if self.flow.knocked_out(new_statuses, dependents):
                end = self.intern("", self.end(new_statuses, new_env))
                result.add(self.intern(question.id, end))
                continue
            child = self.walk(i + 1, new_values, new_statuses)
            children[id(child)] = child  # many answers lead to the same situation: prefix it once
        qid, intern = question.id, self.intern
        for child in children.values():
            result.update(intern(qid, rest) for rest in child)
            if len(result) > MAX_ROUTES:
                raise OverflowError
        frozen = frozenset(result)
        self.memo[key] = frozen
        return frozen

    def end(self, statuses: dict[str, str], env: Any) -> str:
        """A route's outcome, noting what its family reads about each criterion."""
        outcome = self.flow.outcome(statuses, env).status
        self.shown.update((c.id, status) for c, status in shown(self.flow, statuses, outcome))
        return outcome

    def shown_before(self, i: int, statuses: dict[str, str]) -> None:
        """On a memo hit, note the statuses of criteria already decided that a family may read.

        The routes below were walked from an earlier situation with the same signature, which
        keeps the answers every undecided criterion reads but only whether a decided item failed
        or needs review, not which; so the decided items' own statuses are noted here. This may
        note a status that every route on from here ends before showing (a later knock-out): the
        check then asks for wording that is rarely read, never misses wording that is.
        """
        combined = [(item, self.flow.item_status(item, statuses)) for item in self.decided_items[i]]
        fails = any(status == NOT_MET for _, status in combined)  # then every route on ends "not eligible"
        for item, status in combined:
            if status == NOT_MET:
                wanted: tuple[str, ...] = (NOT_MET,)
            elif not fails and status in (REVIEW, CONFIRM):
                wanted = (REVIEW, CONFIRM)
            else:
                continue
            self.shown.update((c.id, statuses[c.id]) for c in item.criteria if statuses[c.id] in wanted)

    def run(self) -> frozenset[int]:
        env = self.flow.env({}, self.respondent, self.today)
        statuses = {c.id: self.flow.status(c, env) for c in self.study.criteria}
        return self.walk(0, {}, statuses)


def check_flow(study: Study, today: date = WALK_TODAY) -> WalkReport:
    """Walk every route for both voices; report counts, extremes and problems."""
    started = time.perf_counter()
    report = WalkReport()
    questions_sheet = display_path_for(study, "questions")
    routes: set[tuple[tuple[str, ...], str]] = set()
    reached: set[str] = set()
    for respondent in VOICES:
        walker = _Walker(study, respondent, today)
        try:
            routes |= {walker.decode(route) for route in walker.run()}
        except EvaluationError as error:
            report.problems.append(
                Problem(questions_sheet, None, None, f"a path that never reaches an outcome: {error}")
            )
            return report
        except OverflowError:
            report.problems.append(
                Problem(questions_sheet, None, None, f"more than {MAX_ROUTES} routes; simplify the branching")
            )
            return report
        except RecursionError:
            report.problems.append(Problem(questions_sheet, None, None, "the questionnaire is too long to walk"))
            return report
        reached |= walker.reached
        for cid, status in walker.shown:
            report.family_statuses.setdefault(cid, set()).add(status)
        for message in walker.errors:
            report.problems.append(
                Problem(questions_sheet, None, None, f"a path that never reaches an outcome: {message}")
            )
    for question in study.questions:
        if question.id not in reached:
            report.never_asked.append(question.id)
            report.problems.append(
                Problem(
                    questions_sheet,
                    question.row,
                    "show_if",
                    f"question '{question.id}' can never be asked: no route reaches it",
                )
            )
    distinct = {route for route, _ in routes}
    report.paths = len(distinct)
    report.longest = max(distinct, key=lambda r: (len(r), r), default=())
    for route, outcome in sorted(routes, key=lambda ro: (len(ro[0]), ro)):
        report.shortest.setdefault(outcome, route)
        report.routes_by_outcome[outcome] = report.routes_by_outcome.get(outcome, 0) + 1
    report.seconds = time.perf_counter() - started
    return report


def display_path_for(study: Study, sheet: str) -> str:
    """Where a study's sheet is, as the study team sees it.

    ``questions/<study>/<sheet>.csv``, or ``questions/<study>/<file>.xlsx:<sheet>`` for a workbook.
    """
    if study.folder and study.workbook:
        folder = Path(study.folder)
        return f"{folder.parent.name}/{folder.name}/{study.workbook}:{sheet}"
    return display_path(Path(study.folder), sheet) if study.folder else f"{study.id}/{sheet}.csv"

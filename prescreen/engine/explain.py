"""What a family reads about a finished screening: which criteria, in which status, and why.

The result page and the printed summary say, in the family's words, what decided the outcome
(the criteria that rule the child out, or those that need a closer look) and what the doctor
checks at the first visit. Which criteria those are is a rule of the outcome, so it lives here,
beside it, and the path walk (:mod:`.check`) uses the same rule to find every status a family can
read, so that the study's check can insist on its wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from .flow import Flow
from .model import Criterion
from .outcome import State
from .vocab import CONFIRM, NOT_ELIGIBLE, NOT_MET, REVIEW


@dataclass(frozen=True)
class Explanation:
    """One criterion a family reads about: its status and the answers (question ids) that decided it."""

    criterion: Criterion
    status: str
    answers: tuple[str, ...]

    def text(self, voice: str, lang: str) -> str:
        """The family wording for this status (see :meth:`.model.Criterion.family`)."""
        return self.criterion.family(self.status, voice, lang)


def shown(flow: Flow, statuses: Mapping[str, str], outcome: str) -> list[tuple[Criterion, str]]:
    """The criteria a family reads about, each with its status, in the order of the criteria sheet.

    Not eligible: each criterion not met in an item that fails (an ``any_of`` group fails only
    when every arm does). Otherwise: each criterion needing review or left for the visit, in an
    item that itself needs review or is left for the visit; an arm of a group that is already met
    changes nothing, so it is not mentioned.
    """
    out: list[tuple[Criterion, str]] = []
    for item in flow.items:
        combined = flow.item_status(item, statuses)
        for criterion in item.criteria:
            status = statuses[criterion.id]
            if outcome == NOT_ELIGIBLE:
                if combined == NOT_MET and status == NOT_MET:
                    out.append((criterion, status))
            elif combined in (REVIEW, CONFIRM) and status in (REVIEW, CONFIRM):
                out.append((criterion, status))
    return out


def explain(flow: Flow, state: State, today: date) -> list[Explanation]:
    """What a family reads about ``state``'s outcome (``today``: the day ``state`` was worked out for).

    :raises ValueError: when the screening is not finished.
    """
    if state.outcome is None:
        raise ValueError("only a finished screening has a result to explain")
    statuses = state.outcome.criteria
    return [
        Explanation(criterion, status, deciding_answers(flow, criterion, state, today))
        for criterion, status in shown(flow, statuses, state.outcome.status)
    ]


def deciding_answers(flow: Flow, criterion: Criterion, state: State, today: date) -> tuple[str, ...]:
    """The answered questions that decided ``criterion``'s status, in the order they were asked.

    A status a rule gave (not met, met, left for the visit) was decided by the answers without
    which that rule would no longer give it: "rituximab in June" decides a waiting period, the
    "yes" before it does not. When no single answer is needed (two would each do), or for
    "needs review" (no rule was true, so every answer it reads played a part), it is every
    answered question the criterion reads.
    """
    asked = tuple(q for q in state.asked if q in criterion.names)
    status = state.outcome.criteria[criterion.id] if state.outcome else REVIEW
    if status == REVIEW or len(asked) < 2:
        return asked
    needed = []
    for question in asked:
        values = {k: v for k, v in state.values.items() if k != question}
        if flow.status(criterion, flow.env(values, state.respondent, today)) != status:
            needed.append(question)
    return tuple(needed) or asked

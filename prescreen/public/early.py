"""Told early: a waiting period is said on the next screen, and the family chooses how to go on.

When an answer makes the child not eligible for now (the engine's provisional outcome becomes
:attr:`~prescreen.engine.Outcome.waiting`), the chat says so before the next question, with the
reason and the date it may change, and offers two ways on (STUDY-NOTES §4.2): see the result now
(:data:`STOPPED`: the screening is finished with the outcome of the answers given, and can be
reopened), or answer the rest so the team has the whole picture (``continued``: the family
simply answers the next question). The choice is stored on the screening (migration m0012) and
counted in the de-identified log either way.

The notice is shown once, from the answer that made the child wait until the family chooses;
a later answer that starts another waiting period after the first one ended (a changed answer)
tells them again. The engine decides everything; this module only reads its outcome.
"""

from __future__ import annotations

from typing import Any

from ..engine import NOT_MET, State, Study
from .text import long_date

#: ``screenings.early_choice`` of a family that chose to see the result before the last questions.
STOPPED = "stopped"


def as_seen(row: dict[str, Any], state: State) -> State:
    """The state as the family sees it: finished with the answers given if they stopped early.

    A stop holds only while the engine still says "not eligible for now"; once it does not (a
    changed answer, or the waiting period is over) the questions go on where they were left.
    """
    if row.get("early_choice") == STOPPED and state.outcome is None and state.provisional.waiting:
        return state.stopped_early()
    return state


def notice_due(row: dict[str, Any], state: State) -> bool:
    """Whether the chat shows the told-early notice now (told, not yet chosen, still waiting)."""
    return (
        bool(row.get("early_told_at"))
        and row.get("early_choice") is None
        and state.question is not None
        and state.provisional.waiting
    )


def step_effect(row: dict[str, Any], before: State, engine: State, seen: State, *, forward: bool) -> str | None:
    """What one saved answer does to the told-early choice (``store.screenings.EARLY_STEPS``).

    ``before`` is the state the answer was given in (as seen), ``engine`` the engine's state
    after it and ``seen`` that state as the family will see it (:func:`as_seen`).
    """
    if row.get("early_choice") == STOPPED and seen is engine:
        return "cleared"  # the stop no longer holds: the questions go on (or the form ended)
    if seen.question is not None and seen.provisional.waiting and not before.provisional.waiting:
        return "told"
    if forward and notice_due(row, before):
        return "continued"
    return None


def reason_lines(study: Study, state: State, voice: str, lang: str) -> list[str]:
    """Why the child must wait, in the study's family wording, voice and language (each text once)."""
    lines: dict[str, None] = {}
    for reason in state.provisional.reasons:
        lines[study.criterion(reason.criterion).family(NOT_MET, voice, lang) or reason.text(lang)] = None
    return list(lines)


def notice(study: Study, row: dict[str, Any], state: State, voice: str, lang: str) -> dict[str, Any] | None:
    """What the told-early notice says, or None when it is not due."""
    if not notice_due(row, state):
        return None
    return {
        "reasons": reason_lines(study, state, voice, lang),
        "recheck": long_date(state.provisional.recheck_after, lang),
    }

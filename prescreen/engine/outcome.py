"""What a walk gives back: where a family stands (:class:`State`) and what it means (:class:`Outcome`).

Both are immutable. :meth:`.flow.Flow.run` memoises states and hands the same object to every
caller that asks with the same answers (the chat re-derives the previous step's state on every
request), so a caller that changed one in place would change it for the next family. Their lists
and dicts are read-only subclasses of ``list`` and ``dict``: they compare, iterate and serialise
to JSON exactly as before, but refuse to be changed.

:meth:`Outcome.to_record` is the one plain-data form of a result, shared by the web app (what a
finished screening stores) and the CLI (``prescreen screen`` prints it inside its JSON).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import AnswerError
from .vocab import NOT_ELIGIBLE

if TYPE_CHECKING:
    from .model import Question


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is read-only: it may be shared with other callers")


class FrozenList(list):  # type: ignore[type-arg]
    """A list that refuses every change (equal to, and JSON-encoded as, a plain list)."""

    __slots__ = ()
    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses every change (equal to, and JSON-encoded as, a plain dict)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


def frozen_list(items: Iterable[Any]) -> FrozenList:
    """``items`` as a read-only list (itself when it already is one)."""
    return items if type(items) is FrozenList else FrozenList(items)


def frozen_dict(items: Mapping[Any, Any]) -> FrozenDict:
    """``items`` as a read-only dict (itself when it already is one)."""
    return items if type(items) is FrozenDict else FrozenDict(items)


@dataclass(frozen=True)
class Reason:
    """A plain-language sentence about one criterion that is not met."""

    criterion: str
    texts: Mapping[str, str]
    recheck_after: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", frozen_dict(self.texts))

    def text(self, lang: str) -> str:
        return self.texts[lang]


@dataclass(frozen=True)
class Outcome:
    """The result of a screening (final, or provisional while questions remain)."""

    status: str
    criteria: Mapping[str, str]
    failed: list[str]
    reasons: list[Reason]
    recheck_after: date | None
    knocked_out_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "criteria", frozen_dict(self.criteria))
        object.__setattr__(self, "failed", frozen_list(self.failed))
        object.__setattr__(self, "reasons", frozen_list(self.reasons))

    def reason_texts(self, lang: str) -> list[str]:
        return [r.text(lang) for r in self.reasons]

    @property
    def waiting(self) -> bool:
        """Not eligible only for now: every failing item is a waiting period with a date it may end.

        The web app tells a family as soon as this becomes true (STUDY-NOTES §4.2): one not_met
        decides the result, so the rest of the questions can add reasons or move the date, but
        cannot make the child eligible sooner.
        """
        return self.status == NOT_ELIGIBLE and self.recheck_after is not None

    def to_record(self) -> dict[str, Any]:
        """The result as plain JSON-ready data: what a finished screening stores and the CLI prints.

        ``status``, ``criteria`` (criterion id -> status), ``failed`` (criterion ids, in the
        order of the criteria sheet) and ``recheck_after`` (``YYYY-MM-DD`` or None).
        """
        return {
            "status": self.status,
            "criteria": dict(self.criteria),
            "failed": list(self.failed),
            "recheck_after": self.recheck_after.isoformat() if self.recheck_after else None,
        }


@dataclass(frozen=True)
class State:
    """Where a family is: the next question, or the outcome once there is none."""

    question: Question | None
    outcome: Outcome | None
    asked: list[str]
    values: Mapping[str, Any]
    remaining: int
    provisional: Outcome
    respondent: str = "guardian"
    errors: Mapping[str, AnswerError] = field(default_factory=FrozenDict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "asked", frozen_list(self.asked))
        object.__setattr__(self, "values", frozen_dict(self.values))
        object.__setattr__(self, "errors", frozen_dict(self.errors))

    @property
    def finished(self) -> bool:
        return self.question is None

    def stopped_early(self) -> State:
        """This state as a finished one: the family chose to see the result before the last questions.

        The provisional outcome becomes the outcome (the engine's verdict on the answers given);
        the questions not answered stay unasked.
        """
        return replace(self, question=None, outcome=self.provisional, remaining=0)

    def to_record(self) -> dict[str, Any] | None:
        """What the web app stores after this step: the outcome's record once finished, else None."""
        return self.outcome.to_record() if self.outcome is not None else None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The ``prescreen screen`` JSON contract (built on :meth:`Outcome.to_record`)."""
        outcome = self.outcome or self.provisional
        record = outcome.to_record()
        return {
            "outcome": record["status"] if self.outcome else None,
            "criteria": record["criteria"],
            "asked": list(self.asked),
            "reasons": outcome.reason_texts(lang),
            "recheck_after": record["recheck_after"],
            "failed": record["failed"],
            "next_question": self.question.id if self.question else None,
        }

"""One table of question types: everything the engine knows about ``single``, ``multiple``,
``number`` and ``month`` in one row each.

Adding or changing a type used to mean finding every ``if question.type == ...`` in the model,
the expression compiler, the flow's estimate, the path walk and the loader; now each of those asks
this table. The web layer and the CLI can ask it too (``question.kind``), so a new type is one new
row plus its display.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from typing import Any, Protocol

from .errors import AnswerError
from .month import Month


class Answerable(Protocol):
    """What a type needs from a question (the model's ``Question`` has all of it).

    A protocol instead of importing the model keeps this table below the model in the import
    order: the model uses the table, never the other way round.
    """

    @property
    def id(self) -> str: ...
    @property
    def min(self) -> int | None: ...
    @property
    def max(self) -> int | None: ...
    @property
    def values(self) -> tuple[str, ...]: ...
    @property
    def plain_values(self) -> tuple[str, ...]: ...
    @property
    def exclusive_values(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Hints:
    """What the path walk learned from the study's rules about one question.

    ``numbers`` are the whole numbers the rules that read the question compare with, and ``aged``
    says whether a rule takes ``age()`` of it; samples on either side of each catch every branch.
    """

    numbers: frozenset[int]
    aged: bool
    today: date


@dataclass(frozen=True)
class QuestionType:
    """One question type: how answers are read, checked, sampled and stored."""

    name: str
    #: the type an answer has inside an expression (``text``, ``set``, ``number``, ``month``)
    value_type: str
    #: whether the question needs a choice list (``choices`` column)
    has_choices: bool
    #: whether the question needs ``min`` and ``max``
    has_range: bool
    #: a raw form or JSON value (never empty) -> the typed value rules compare; raises AnswerError
    parse: Callable[[Answerable, Any, date], Any]
    #: what would fit, for AnswerError and the CLI: option values, ``(min, max)`` or ``"YYYY-MM"``
    allowed: Callable[[Answerable], object]
    #: the answers the exhaustive path walk tries (every branch a rule can take)
    samples: Callable[[Answerable, Hints], list[Any]]
    #: answers the "questions left" estimate tries, or None when it cannot enumerate them
    trials: Callable[[Answerable], list[Any] | None]
    #: a parsed value -> what the answers JSON holds (option values, ``YYYY-MM`` or an integer)
    stored: Callable[[Any], Any]


# -- single ---------------------------------------------------------------------------------------
def _parse_single(question: Answerable, raw: Any, today: date) -> str:
    if not isinstance(raw, str) or raw not in question.values:
        raise AnswerError(question.id, "not_an_option", question.values)
    return raw


def _options(question: Answerable) -> object:
    return question.values


def _samples_single(question: Answerable, hints: Hints) -> list[Any]:
    return list(question.values)


def _as_is(value: Any) -> Any:
    return value


# -- multiple -------------------------------------------------------------------------------------
def _parse_multiple(question: Answerable, raw: Any, today: date) -> frozenset[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise AnswerError(question.id, "not_an_option", question.values)
    picked = frozenset(items)
    values = question.values
    if not picked or any(v not in values for v in picked):
        raise AnswerError(question.id, "not_an_option", values)
    if len(picked) > 1 and picked & question.exclusive_values:
        raise AnswerError(question.id, "exclusive", values)
    return picked


def _samples_multiple(question: Answerable, hints: Hints) -> list[Any]:
    """Each "none"/"not sure" alone, then combinations of the rest (all of them up to eight)."""
    plain = question.plain_values
    picks: list[Any] = [frozenset((v,)) for v in question.exclusive_values]
    sizes = range(1, len(plain) + 1) if len(plain) <= 8 else (1, 2, len(plain))
    for size in sizes:
        picks.extend(frozenset(c) for c in combinations(plain, size))
    return picks


def _trials_multiple(question: Answerable) -> list[Any]:
    return [frozenset((v,)) for v in question.values]


def _stored_multiple(value: Any) -> list[str]:
    return sorted(value)


# -- number ---------------------------------------------------------------------------------------
_NUMBER_RE = re.compile(r"[+-]?\d{1,9}")


def _parse_number(question: Answerable, raw: Any, today: date) -> int:
    bounds = (question.min, question.max)
    if isinstance(raw, bool):
        raise AnswerError(question.id, "not_a_number", bounds)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if not _NUMBER_RE.fullmatch(text):
            raise AnswerError(question.id, "not_a_number", bounds)
        value = int(text)
    else:
        raise AnswerError(question.id, "not_a_number", bounds)
    if (question.min is not None and value < question.min) or (question.max is not None and value > question.max):
        raise AnswerError(question.id, "out_of_range", bounds)
    return value


def _range(question: Answerable) -> object:
    return (question.min, question.max)


def _samples_number(question: Answerable, hints: Hints) -> list[Any]:
    """Both ends of the range and one either side of every number a rule compares with."""
    low = question.min if question.min is not None else 0
    high = question.max if question.max is not None else low
    candidates = {low, high}
    for n in hints.numbers:
        candidates |= {n - 1, n, n + 1}
    return sorted(v for v in candidates if low <= v <= high)


# -- month ----------------------------------------------------------------------------------------
_MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


def _parse_month(question: Answerable, raw: Any, today: date) -> Month:
    if isinstance(raw, Month):
        value = raw
    else:
        match = _MONTH_RE.match(unicodedata.normalize("NFKC", raw)) if isinstance(raw, str) else None
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
            raise AnswerError(question.id, "bad_month", "YYYY-MM")
        value = Month(int(match.group(1)), int(match.group(2)))
    if value > Month.of(today):
        raise AnswerError(question.id, "future_month", "YYYY-MM")
    return value


def _month_format(question: Answerable) -> object:
    return "YYYY-MM"


def _samples_month(question: Answerable, hints: Hints) -> list[Any]:
    """This month and last, and months (or years, under ``age()``) either side of every number."""
    this_month = Month.of(hints.today)
    offsets = {0, 1}
    for n in hints.numbers:
        offsets |= {n - 1, n, n + 1}
        if hints.aged:
            offsets |= {12 * n - 1, 12 * n, 12 * n + 1}
    limit = this_month.ordinal - Month(1900, 1).ordinal
    return [this_month - k for k in sorted(offsets) if 0 <= k <= limit]


def _no_trials(question: Answerable) -> None:
    return None  # a number or a month: too many answers; the estimate assumes the question is asked


def _stored_month(value: Any) -> str:
    return str(value)


QUESTION_TYPES: dict[str, QuestionType] = {
    "single": QuestionType(
        name="single",
        value_type="text",
        has_choices=True,
        has_range=False,
        parse=_parse_single,
        allowed=_options,
        samples=_samples_single,
        trials=lambda question: list(question.values),
        stored=_as_is,
    ),
    "multiple": QuestionType(
        name="multiple",
        value_type="set",
        has_choices=True,
        has_range=False,
        parse=_parse_multiple,
        allowed=_options,
        samples=_samples_multiple,
        trials=_trials_multiple,
        stored=_stored_multiple,
    ),
    "number": QuestionType(
        name="number",
        value_type="number",
        has_choices=False,
        has_range=True,
        parse=_parse_number,
        allowed=_range,
        samples=_samples_number,
        trials=_no_trials,
        stored=_as_is,
    ),
    "month": QuestionType(
        name="month",
        value_type="month",
        has_choices=False,
        has_range=False,
        parse=_parse_month,
        allowed=_month_format,
        samples=_samples_month,
        trials=_no_trials,
        stored=_stored_month,
    ),
}

#: question type -> the type its answer has inside an expression
VALUE_TYPES: dict[str, str] = {name: kind.value_type for name, kind in QUESTION_TYPES.items()}

"""The study as plain data: months, choices, questions, criteria and the study itself.

Everything here is immutable after loading, so one loaded study can be shared by every request
and worker thread without locks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from .errors import AnswerError

if TYPE_CHECKING:
    from .expr import Expression

LANGS = ("en", "zh")
VOICES = ("guardian", "patient")
QUESTION_TYPES = ("single", "multiple", "number", "month")

MET = "met"
NOT_MET = "not_met"
CONFIRM = "confirm_at_visit"
REVIEW = "needs_review"
STATUSES = (MET, NOT_MET, CONFIRM, REVIEW)

LIKELY_ELIGIBLE = "likely_eligible"
NEEDS_REVIEW = "needs_review"
NOT_ELIGIBLE = "not_eligible"
OUTCOMES = (LIKELY_ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month: families know "May 2024" far more often than an exact day."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def ordinal(self) -> int:
        return self.year * 12 + self.month - 1

    @classmethod
    def from_ordinal(cls, n: int) -> Month:
        return cls(n // 12, n % 12 + 1)

    def __add__(self, months: object) -> Month:
        if isinstance(months, int) and not isinstance(months, bool):
            return Month.from_ordinal(self.ordinal + months)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Month | int:
        if isinstance(other, Month):
            return self.ordinal - other.ordinal
        if isinstance(other, int) and not isinstance(other, bool):
            return Month.from_ordinal(self.ordinal - other)
        return NotImplemented

    def first_day_after(self) -> date:
        """The first day after this month ends: the earliest date we can promise."""
        nxt = self + 1
        return date(nxt.year, nxt.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


_MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


@dataclass(frozen=True)
class Choice:
    """One answer option; ``value`` is stored, labels are shown."""

    value: str
    labels: dict[str, str]
    exclusive: bool = False

    def label(self, lang: str) -> str:
        return self.labels[lang]


@dataclass(frozen=True, eq=False)
class Question:
    """One question, in both voices and both languages, with when to ask it."""

    id: str
    type: str
    texts: dict[tuple[str, str], str]
    whys: dict[str, str]
    choices: tuple[Choice, ...] = ()
    show_if: Expression | None = None
    criteria: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    units: dict[str, str] = field(default_factory=dict)
    choice_list: str = ""
    row: int = 0

    def text(self, voice: str, lang: str) -> str:
        return self.texts[(voice, lang)]

    def why(self, lang: str) -> str:
        return self.whys[lang]

    def unit(self, lang: str) -> str:
        return self.units.get(lang, "")

    def choice(self, value: str) -> Choice | None:
        for choice in self.choices:
            if choice.value == value:
                return choice
        return None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    @property
    def exclusive_values(self) -> frozenset[str]:
        return frozenset(c.value for c in self.choices if c.exclusive)

    def parse(self, raw: Any, today: date) -> Any:
        """Turn a raw answer (JSON or form value) into the typed value rules compare.

        :raises AnswerError: when the answer is missing or not allowed.
        """
        if raw is None or raw == "" or raw == [] or raw == ():
            raise AnswerError(self.id, "required", self._allowed())
        if self.type == "single":
            if not isinstance(raw, str) or self.choice(raw) is None:
                raise AnswerError(self.id, "not_an_option", self.values)
            return raw
        if self.type == "multiple":
            items = [raw] if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise AnswerError(self.id, "not_an_option", self.values)
            picked = frozenset(items)
            if not picked or any(self.choice(v) is None for v in picked):
                raise AnswerError(self.id, "not_an_option", self.values)
            if len(picked) > 1 and picked & self.exclusive_values:
                raise AnswerError(self.id, "exclusive", self.values)
            return picked
        if self.type == "number":
            return self._parse_number(raw)
        return self._parse_month(raw, today)

    def _allowed(self) -> object:
        if self.type in ("single", "multiple"):
            return self.values
        if self.type == "number":
            return (self.min, self.max)
        return "YYYY-MM"

    def _parse_number(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise AnswerError(self.id, "not_a_number", (self.min, self.max))
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, str):
            text = unicodedata.normalize("NFKC", raw).strip()
            if not re.fullmatch(r"[+-]?\d{1,9}", text):
                raise AnswerError(self.id, "not_a_number", (self.min, self.max))
            value = int(text)
        else:
            raise AnswerError(self.id, "not_a_number", (self.min, self.max))
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise AnswerError(self.id, "out_of_range", (self.min, self.max))
        return value

    def _parse_month(self, raw: Any, today: date) -> Month:
        if isinstance(raw, Month):
            value = raw
        else:
            match = _MONTH_RE.match(unicodedata.normalize("NFKC", raw)) if isinstance(raw, str) else None
            if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
                raise AnswerError(self.id, "bad_month", "YYYY-MM")
            value = Month(int(match.group(1)), int(match.group(2)))
        if value > Month.of(today):
            raise AnswerError(self.id, "future_month", "YYYY-MM")
        return value


@dataclass(frozen=True, eq=False)
class Criterion:
    """One atomic condition of the listing, written as something the child must pass."""

    id: str
    kind: str
    wording: str
    labels: dict[str, str]
    reasons: dict[str, str]
    home: str
    any_of: str = ""
    waiting_period: bool = False
    not_met_if: Expression | None = None
    met_if: Expression | None = None
    confirm_if: Expression | None = None
    recheck: Expression | None = None
    row: int = 0

    def label(self, lang: str) -> str:
        return self.labels[lang]

    def reason(self, lang: str) -> str:
        return self.reasons[lang]

    @property
    def rules(self) -> tuple[Expression, ...]:
        return tuple(e for e in (self.not_met_if, self.met_if, self.confirm_if, self.recheck) if e)

    @property
    def names(self) -> frozenset[str]:
        """Question ids this criterion's rules read."""
        out: set[str] = set()
        for rule in self.rules:
            out |= rule.names
        return frozenset(out)


@dataclass(frozen=True, eq=False)
class Study:
    """A loaded, validated study: what the flow walks and the web pages show."""

    id: str
    version: str
    meta: dict[str, str]
    questions: tuple[Question, ...]
    criteria: tuple[Criterion, ...]
    folder: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_questions", {q.id: q for q in self.questions})
        object.__setattr__(self, "_criteria", {c.id: c for c in self.criteria})

    def question(self, question_id: str) -> Question:
        return self._questions[question_id]  # type: ignore[attr-defined]

    def criterion(self, criterion_id: str) -> Criterion:
        return self._criteria[criterion_id]  # type: ignore[attr-defined]

    def has_question(self, question_id: str) -> bool:
        return question_id in self._questions  # type: ignore[attr-defined]

    def text(self, name: str, lang: str) -> str:
        """A bilingual field of ``study.csv``, e.g. ``text("title", "zh")``."""
        return self.meta[f"{name}::{lang}"]

    @property
    def status(self) -> str:
        return self.meta.get("status", "")

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.meta.get("categories", "").split(";") if c.strip())

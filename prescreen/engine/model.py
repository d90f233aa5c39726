"""The study as plain data: choices, questions, criteria and the study itself.

Everything here is immutable after loading, so one loaded study can be shared by every request
and worker thread without locks. What a question's type means (how an answer is read, checked and
stored) is not here but in :mod:`.types`, one row per type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from .errors import AnswerError
from .expr import Expression
from .month import Month
from .types import QUESTION_TYPES, QuestionType
from .vocab import (
    CONFIRM,
    LANGS,
    LIKELY_ELIGIBLE,
    MET,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    NOT_MET,
    OUTCOMES,
    REVIEW,
    STATUSES,
    VOICES,
)

__all__ = [
    "CONFIRM",
    "LANGS",
    "LIKELY_ELIGIBLE",
    "MET",
    "NEEDS_REVIEW",
    "NOT_ELIGIBLE",
    "NOT_MET",
    "OUTCOMES",
    "QUESTION_TYPES",
    "REVIEW",
    "STATUSES",
    "VOICES",
    "Choice",
    "Criterion",
    "Month",
    "Question",
    "Study",
]


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

    # cached: parsing an answer reads these on every step of every family's walk
    @cached_property
    def values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    @cached_property
    def exclusive_values(self) -> frozenset[str]:
        return frozenset(c.value for c in self.choices if c.exclusive)

    @cached_property
    def plain_values(self) -> tuple[str, ...]:
        """The options that may be ticked together (not "none" or "not sure")."""
        return tuple(c.value for c in self.choices if not c.exclusive)

    @property
    def kind(self) -> QuestionType:
        """This question's row of the type table (:data:`.types.QUESTION_TYPES`)."""
        return QUESTION_TYPES[self.type]

    def parse(self, raw: Any, today: date) -> Any:
        """Turn a raw answer (JSON or form value) into the typed value rules compare.

        :raises AnswerError: when the answer is missing or not allowed.
        """
        if raw is None or raw == "" or raw == [] or raw == ():
            raise AnswerError(self.id, "required", self.allowed())
        return QUESTION_TYPES[self.type].parse(self, raw, today)

    def allowed(self) -> object:
        """What would fit: the option values, ``(min, max)`` or ``"YYYY-MM"`` (for messages)."""
        return QUESTION_TYPES[self.type].allowed(self)

    def stored(self, value: Any) -> Any:
        """A parsed answer as the answers JSON keeps it: option values, ``YYYY-MM`` or an integer."""
        return QUESTION_TYPES[self.type].stored(value)


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
    #: (status, voice, lang) -> what a family reads when this criterion has that status
    family_texts: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: lang -> what to bring to the first visit for it (a short noun phrase), or nothing
    brings: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        """The coordinator's short name (listing words; never shown to families)."""
        return self.labels[lang]

    def reason(self, lang: str) -> str:
        return self.reasons[lang]

    def family(self, status: str, voice: str, lang: str) -> str:
        """What a family reads about this criterion when it is ``status``, in their voice and language.

        ``status`` is ``not_met`` (why it rules the child out, or not yet), ``needs_review`` (what
        a doctor looks at more closely) or ``confirm_at_visit`` (what the doctor checks at the
        first visit); empty for ``met`` and for a status this criterion can never show.
        """
        return self.family_texts.get((status, voice, lang), "")

    def bring(self, lang: str) -> str:
        """What to bring to the first visit for this criterion (voice-neutral), or ``""``."""
        return self.brings.get(lang, "")

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
    #: the workbook's file name when the study is one ``.xlsx`` in its folder; "" for CSV sheets
    workbook: str = ""

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

"""Errors the engine raises: one type per audience.

Study authors get :class:`StudyError` with every :class:`Problem` at once (pyxform style), so a
spreadsheet can be fixed in one pass. Families' answers that do not fit get :class:`AnswerError`
with a stable ``code`` the web layer translates; the engine itself never renders.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a study's sheets, located as precisely as we can."""

    path: str
    row: int | None = None
    column: str | None = None
    message: str = ""

    def __str__(self) -> str:
        where = self.path if self.row is None else f"{self.path}:{self.row}"
        if self.column:
            return f"{where}: column '{self.column}': {self.message}"
        return f"{where}: {self.message}"


class StudyError(Exception):
    """A study folder that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


#: Why an expression was refused. Callers branch on these, never on the English message, so the
#: wording can change without changing what the loader does.
EXPRESSION_CODES = (
    "syntax",  # not Python-shaped, too long or too deeply nested
    "not_allowed",  # a construct outside the whitelist (a comprehension, a float, ``True``...)
    "unknown_name",  # a question id that no earlier question has; ``name`` holds it
    "unknown_function",  # not one of age(), months_since(), count(), answered()
    "unknown_option",  # a literal that is not an allowed value (``respondent == 'parent'``)
    "bad_call",  # a known function called with the wrong arguments
    "type_mismatch",  # values that cannot be combined or compared, or the wrong result type
)


class ExpressionError(Exception):
    """An expression that cannot be parsed or names something unknown.

    ``code`` is one of :data:`EXPRESSION_CODES`; ``name`` is the question id an ``unknown_name``
    error is about, so the loader can tell "asked later" from "does not exist" without reading
    the message.
    """

    def __init__(self, message: str, code: str = "not_allowed", name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class EvaluationError(Exception):
    """An expression met values it cannot combine (a study bug the path walk reports)."""


class AnswerError(ValueError):
    """A family's answer that the question does not allow.

    ``code`` is one of ``required``, ``not_an_option``, ``exclusive``, ``not_a_number``,
    ``out_of_range``, ``bad_month``, ``future_month``; ``allowed`` describes the valid values
    (option values, or ``(min, max)``) so the CLI and the web layer can say what would fit.
    """

    def __init__(self, question_id: str, code: str, allowed: object = None) -> None:
        self.question_id = question_id
        self.code = code
        self.allowed = allowed
        super().__init__(self.describe())

    def describe(self) -> str:
        """An English sentence for study teams and the CLI (families see a translated one)."""
        messages = {
            "required": "an answer is required",
            "not_an_option": "that is not one of the options",
            "exclusive": "this option cannot be ticked together with others",
            "not_a_number": "a whole number is required",
            "out_of_range": "the number is out of range",
            "bad_month": "a month is required, written YYYY-MM",
            "future_month": "the month cannot be in the future",
        }
        text = f"question '{self.question_id}': {messages.get(self.code, self.code)}"
        if isinstance(self.allowed, tuple | list) and self.allowed:
            if self.code in ("not_a_number", "out_of_range"):
                text += f" (allowed: {self.allowed[0]} to {self.allowed[1]})"
            else:
                text += f" (allowed: {', '.join(str(a) for a in self.allowed)})"
        elif isinstance(self.allowed, str):
            text += f" (allowed: {self.allowed})"
        return text


def suggest(word: str, candidates: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" when a close candidate exists, else "" (pyxform-style hints)."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""

"""Checks of single cells shared by the sheet builders: ids, wordings, numbers and expressions.

Each helper reports into the :class:`.sheets.Collector` and returns what it could read (or None),
so a builder carries on to the next cell and the study team gets every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from .errors import ExpressionError, suggest
from .expr import Expression, compile_expression
from .model import Question
from .sheets import Collector, Sheet
from .vocab import LANGS

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
STUDY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CRITERION_KINDS = ("inclusion", "exclusion", "check")
HOME_VALUES = ("yes", "partly", "no")
YES_NO = ("yes", "no")


def need_text(sheet: Sheet, number: int, row: dict[str, str], columns: tuple[str, ...], out: Collector) -> None:
    """Report each of ``columns`` left empty; a wording names the language that is missing."""
    for column in columns:
        if column in row and not row[column]:
            lang = column.rsplit("::", 1)[-1]
            if lang in LANGS:
                out.add(
                    sheet.path,
                    number,
                    column,
                    f"empty {lang} cell: every wording needs both Chinese and English",
                )
            else:
                out.add(sheet.path, number, column, "must not be empty")


def int_cell(sheet: Sheet, number: int, row: dict[str, str], column: str, out: Collector) -> int | None:
    """A whole-number cell, or None when empty or (reported) not a number."""
    text = row.get(column, "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        out.add(sheet.path, number, column, f"'{text}' is not a whole number")
        return None


def langs(row: dict[str, str], name: str) -> dict[str, str]:
    """A bilingual column pair (``name::en``, ``name::zh``) as ``{lang: text}``."""
    return {lang: row.get(f"{name}::{lang}", "") for lang in LANGS}


def broken_ids(questions: list[Question], types: dict[str, str]) -> frozenset[str]:
    """Questions whose type could not be read: expressions naming them are not reported again."""
    return frozenset(q.id for q in questions if q.id not in types)


def expression_cell(
    sheet: Sheet,
    number: int,
    column: str,
    source: str,
    types: Mapping[str, str],
    all_ids: Collection[str],
    out: Collector,
    lists_of: list[Question],
    want: str = "bool",
    broken: frozenset[str] = frozenset(),
) -> Expression | None:
    """Compile one expression cell against the questions it may read (``types``: id -> type).

    ``all_ids`` are every question id of the sheet, so a name that is only asked later gets its
    own message; ``broken`` are questions whose own row failed, which are not reported twice.
    """
    try:
        expression = compile_expression(source, types, want)
    except ExpressionError as error:
        message = str(error)
        if error.code == "unknown_name" and error.name is not None:
            if error.name in broken:
                return None  # that question's own row already reports why it cannot be used
            if error.name in all_ids:
                message = f"'{error.name}' is asked later; a condition can only use earlier answers"
        out.add(sheet.path, number, column, message)
        return None
    by_id = {q.id: q for q in lists_of}
    for qid, option in expression.options:
        question = by_id.get(qid)
        if question is None or not question.kind.has_choices or not question.choices:
            if question is not None and not question.kind.has_choices:
                out.add(sheet.path, number, column, f"'{qid}' is a {question.type} question and has no options")
            continue
        if question.choice(option) is None:
            out.add(
                sheet.path,
                number,
                column,
                f"'{option}' is not an option of '{qid}'{suggest(option, question.values)}",
            )
    return expression

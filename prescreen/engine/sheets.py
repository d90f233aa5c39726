"""Read one CSV sheet, the same way for every study sheet and for ``categories.csv``.

A workbook's sheets (:mod:`.workbook`) go through the same header and row checks
(:func:`table_sheet`) once their cells are read as text.

Study teams save sheets from Excel or WPS, so every file goes through the same checks: the
encoding (UTF-8 with or without a BOM; GBK named as such), CSV syntax, the header (unknown,
duplicate and missing columns, with suggestions) and spreadsheet row numbers, so each problem
names the file, row and column a person can find.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, suggest
from .vocab import FAMILY_TEXTS, LANGS, VOICES

SHEETS = ("study", "criteria", "questions", "choices")


def bilingual(*names: str) -> tuple[str, ...]:
    return tuple(f"{n}::{lang}" for n in names for lang in LANGS)


def voiced(*names: str) -> tuple[str, ...]:
    """``name::voice::lang`` for both voices and both languages (``text::guardian::en`` …)."""
    return tuple(f"{n}::{voice}::{lang}" for n in names for voice in VOICES for lang in LANGS)


#: ``criteria.csv``'s family wording, one column per status, voice and language. Every study has
#: the columns; a cell may stay empty only when its criterion can never show that status (see
#: :mod:`.build_criteria` and :mod:`.validate`).
FAMILY_COLUMNS = voiced(*FAMILY_TEXTS.values())


COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # sheet: (required columns, optional columns)
    "study": (
        (
            "id",
            "status",
            "min_age",
            "max_age",
            "age_question",
            "conditions",
            "categories",
            *bilingual("title", "summary", "involves", "centre", "address"),
        ),
        # Optional: a department and an ethics approval number only when the team has them; the
        # ethics-approved questionnaire version's label and the enrolment target, for the reports.
        ("registry_id", "minutes", *bilingual("department"), "ethics_approval", "version_label", "enrolment_target"),
    ),
    "criteria": (
        ("id", "kind", "wording", *bilingual("label", "reason"), "home", "waiting_period", *FAMILY_COLUMNS),
        ("any_of", "not_met_if", "met_if", "confirm_if", "recheck", *bilingual("bring")),
    ),
    "questions": (
        (
            "id",
            "type",
            *(f"text::{voice}::{lang}" for voice in VOICES for lang in LANGS),
            *bilingual("why"),
        ),
        ("choices", "show_if", "criteria", "min", "max", *bilingual("unit")),
    ),
    "choices": (("list", "value", *bilingual("label")), ("exclusive",)),
}


#: ``questions/categories.csv``: (required columns, optional columns)
CATEGORY_COLUMNS: tuple[tuple[str, ...], tuple[str, ...]] = (("id", "parent", "label::en", "label::zh"), ())


@dataclass
class Sheet:
    """One sheet (a CSV file or a workbook's sheet): its display path and rows as (row number, cells).

    ``raw`` is what the study's version hashes: a CSV file's bytes, or a workbook sheet's text
    (see :mod:`.workbook`). ``columns`` are the header's known columns, in the sheet's order.
    """

    name: str
    path: str
    rows: list[tuple[int, dict[str, str]]]
    raw: bytes
    columns: tuple[str, ...] = ()


class Collector:
    """Every problem found so far: nothing is reported until everything has been read."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(path, row, column, message))


def display_path(folder: Path, sheet: str) -> str:
    """``questions/<study>/<sheet>.csv``: how a study team finds the file in their project."""
    return f"{folder.parent.name}/{folder.name}/{sheet}.csv"


def decode_sheet(data: bytes) -> str:
    """Decode a sheet as UTF-8 (with or without Excel's BOM).

    :raises UnicodeError: with a message naming the likely encoding (GBK from WPS).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            raise UnicodeError(
                f"the file is not UTF-8 text (unreadable byte at position {error.start}); save it again as 'CSV UTF-8'"
            ) from None
        raise UnicodeError(
            "the file is saved as GBK/GB18030 (the Chinese 'CSV' of WPS or older Excel), "
            "not UTF-8; save it again as 'CSV UTF-8 (Comma delimited)'"
        ) from None


def read_sheet(
    path: Path,
    shown: str,
    name: str,
    out: Collector,
    columns: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> Sheet | None:
    """Read one CSV sheet, reporting encoding and header problems.

    ``columns`` is (required, optional); by default the study sheet ``name``'s own.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        out.add(shown, None, None, f"cannot be read: {error.strerror}")
        return None
    try:
        text = decode_sheet(data)
    except UnicodeError as error:
        out.add(shown, None, None, str(error))
        return None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        out.add(shown, None, None, f"is not a valid CSV file: {error}")
        return None
    return table_sheet(table, shown, name, out, data, columns)


def table_sheet(
    table: list[list[str]],
    shown: str,
    name: str,
    out: Collector,
    raw: bytes,
    columns: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> Sheet | None:
    """Check a sheet's header and turn its rows of text cells into a :class:`Sheet`.

    Shared by CSV files and workbook sheets, so both report the same problems the same way;
    the first row is the header, and rows are numbered as a spreadsheet shows them.
    """
    if not table or not any(cell.strip() for cell in table[0]):
        out.add(shown, 1, None, "the sheet is empty; the first row must name the columns")
        return None
    header = [cell.strip() for cell in table[0]]
    required, optional = columns if columns is not None else COLUMNS[name]
    known = (*required, *optional)
    usable: list[str | None] = []
    for column in header:
        if not column:
            usable.append(None)
        elif header.count(column) > 1 and column in usable:
            out.add(shown, 1, column, "this column appears twice")
            usable.append(None)
        elif column not in known:
            out.add(shown, 1, column, f"unknown column{suggest(column, known)}")
            usable.append(None)
        else:
            usable.append(column)
    for column in required:
        if column not in header:
            out.add(shown, 1, column, "required column is missing")
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            out.add(shown, number, None, "this row has more cells than the header has columns")
        row = {col: (cells[i].strip() if i < len(cells) else "") for i, col in enumerate(usable) if col}
        rows.append((number, row))
    return Sheet(name, shown, rows, raw, tuple(col for col in usable if col))

"""A study as one Excel workbook: sheets ``study``, ``criteria``, ``questions``, ``choices``.

Study teams work in Excel and WPS, and the form tools they know (XLSForm, REDCap's data
dictionary) take a workbook, so a study folder may hold one ``.xlsx`` instead of four CSV files.
Each sheet has the same columns as the CSV file of the same name, and its rows become exactly
the rows the CSV reader gives (column → stripped text), so every check of :mod:`.build` and
:mod:`.check` applies unchanged and reports ``<file>.xlsx:<sheet>:<row>: column '…': …``.

Cells are read as the text a CSV export of the sheet would hold: Excel keeps a typed ``5`` as
the number 5.0, which reads as ``5``; a date reads as its ISO date. The version of a workbook
study hashes that text, not the file's bytes, so saving the workbook again unchanged (which
rewrites its timestamps) keeps the version.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from .errors import suggest
from .sheets import SHEETS, Collector, Sheet, table_sheet

#: Widest column the export gives (characters); longer wordings wrap.
MAX_WIDTH = 60


def workbook_files(folder: Path) -> list[Path]:
    """The ``.xlsx`` files of a study folder, leaving out Excel's ``~$…`` lock files."""
    return sorted(p for p in folder.glob("*.xlsx") if not p.name.startswith("~$"))


def cell_text(value: object) -> str:
    """A cell as the text a CSV export of it would hold (None → "", 5.0 → "5", a date → ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def sheet_path(shown_file: str, sheet: str) -> str:
    """How a problem names a workbook's sheet: ``questions/<study>/<file>.xlsx:<sheet>``."""
    return f"{shown_file}:{sheet}"


def read_workbook(path: Path, shown_file: str, out: Collector) -> dict[str, Sheet]:
    """The four study sheets of the workbook at ``path``; every problem goes to ``out``.

    A sheet that is missing or cannot be used is left out of the result (and reported).
    """
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or "it is not an Excel workbook (.xlsx)"
        out.add(shown_file, None, None, f"cannot be read: {reason}; save it again from Excel or WPS as .xlsx")
        return {}
    try:
        names = list(book.sheetnames)
        for extra in names:
            if extra not in SHEETS:
                out.add(
                    sheet_path(shown_file, extra),
                    None,
                    None,
                    f"unknown sheet '{extra}'{suggest(extra, SHEETS)}; a study workbook has sheets {', '.join(SHEETS)}",
                )
        sheets: dict[str, Sheet] = {}
        for name in SHEETS:
            shown = sheet_path(shown_file, name)
            if name not in names:
                out.add(shown, None, None, f"sheet is missing; a study workbook has sheets {', '.join(SHEETS)}")
                continue
            table = [[cell_text(value) for value in row] for row in book[name].iter_rows(values_only=True)]
            raw = json.dumps(_trimmed(table), ensure_ascii=False).encode("utf-8")
            sheet = table_sheet(table, shown, name, out, raw)
            if sheet is not None:
                sheets[name] = sheet
        return sheets
    finally:
        book.close()


def _trimmed(table: list[list[str]]) -> list[list[str]]:
    """The table without empty trailing cells and rows, so formatting-only edits keep the version."""
    rows = []
    for row in table:
        cells = list(row)
        while cells and not cells[-1]:
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _width(texts: Iterable[str]) -> int:
    """A column width in Excel's characters: Chinese characters count double; capped."""
    widest = 0
    for text in texts:
        for line in text.splitlines() or [""]:
            size = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            widest = max(widest, size)
    return max(8, min(MAX_WIDTH, widest + 2))


def write_workbook(sheets: Mapping[str, tuple[Sequence[str], Sequence[Mapping[str, str]]]], path: Path) -> None:
    """Write a study workbook: per sheet, a bold frozen header row and every cell as text.

    ``sheets`` maps a sheet name to (columns, rows of column → text). Every cell is a text cell
    with the "@" (Text) format and Excel's quote prefix, so Excel and WPS keep "05", a long
    registry id or "=" at the start as typed, before and after a study nurse edits the cell.
    """
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for name, (columns, rows) in sheets.items():
        sheet = book.create_sheet(title=name)
        sheet.freeze_panes = "A2"
        for i, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = _width([column, *(r.get(column, "") for r in rows)])

        sheet.append([_text_cell(sheet, column, wrap, bold) for column in columns])
        for row in rows:
            sheet.append([_text_cell(sheet, row.get(column, ""), wrap) for column in columns])
    book.save(path)


def _text_cell(sheet: object, text: str, alignment: Alignment, font: Font | None = None) -> WriteOnlyCell:
    """A text cell: the "@" format and the quote prefix keep it text after an edit in Excel or WPS."""
    cell = WriteOnlyCell(sheet)
    cell.value = text
    cell.data_type = "s"  # text, even when it looks like a number or starts with "="
    cell.number_format = "@"
    cell.quotePrefix = True
    cell.alignment = alignment
    if font is not None:
        cell.font = font
    return cell

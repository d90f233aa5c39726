"""Spreadsheet files a CRC opens in Excel or WPS: CSV with a BOM, or XLSX with text-typed cells.

Two things go wrong in a spreadsheet that a plain CSV writer does not see:

- a phone number such as ``+8613800138000`` is read as the number 8.61E+12 (or, with its
  ``+``, as a formula), and the old guard that put an apostrophe in front of it left a visible
  ``'`` that breaks copy-and-dial. Phones are written as a person dials them from China
  (``138 0013 8000``; abroad ``00 44 20 …``): spaces keep Excel from making a number of it,
  no ``+`` or apostrophe is needed, and a phone's dialler ignores the spaces;
- a text field a family typed that starts with ``=``, ``+``, ``-`` or ``@`` would run as a
  formula (OWASP CSV injection). In a CSV it gets an apostrophe; in an XLSX every cell is a
  text cell with Excel's "quote prefix" style, which shows no apostrophe and never runs.

Only a whole number (a count, such as the attempts) is a number cell in an XLSX, so it sums and
sorts; a number cannot run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import phonenumbers
from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What a spreadsheet may run as a formula when a cell starts with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def dial_text(phone: str | None) -> str:
    """A stored E.164 phone as dialled from mainland China, grouped with spaces.

    ``+8613800138000`` → ``138 0013 8000``; ``+442079460018`` → ``00 44 20 7946 0018``.
    Anything that does not parse comes back as it was (and the CSV guard then applies).
    """
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, "CN")
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_out_of_country_calling_number(number, "CN")


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def attachment(response: Response, filename: str) -> Response:
    """Mark *response* as a download named *filename* (ASCII names only, no quoting issues)."""
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(header: Sequence[str], rows: Sequence[Sequence[Any]], filename: str) -> Response:
    """A UTF-8 CSV with a BOM (so Excel and WPS open Chinese text correctly), CRLF lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return attachment(Response("\ufeff" + out.getvalue(), mimetype="text/csv"), filename)


def xlsx_bytes(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int] = ()) -> bytes:
    """One sheet, a bold header row, every cell text-typed ("@" format, quote prefix) but whole numbers."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: Any, font: Font | None = None) -> WriteOnlyCell:
        if isinstance(value, int) and not isinstance(value, bool):
            return WriteOnlyCell(sheet, value=value)  # a count: a number cell that sums and sorts
        text = "" if value is None else str(value)
        c = WriteOnlyCell(sheet)
        c.value = text
        c.data_type = "s"  # text, even when it starts with "=": never a formula
        c.number_format = "@"
        c.quotePrefix = True  # Excel keeps it text after an edit too, without showing an apostrophe
        if font is not None:
            c.font = font
        return c

    sheet.append([cell(h, bold) for h in header])
    for row in rows:
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], filename: str, widths: Sequence[int] = ()
) -> Response:
    """An XLSX download of one sheet (see :func:`xlsx_bytes`)."""
    return attachment(Response(xlsx_bytes(title, header, rows, widths), mimetype=XLSX_MIME), filename)

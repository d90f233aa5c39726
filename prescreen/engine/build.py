"""Build a :class:`.model.Study` from a folder of sheets (CSV files or one workbook), collecting every problem.

Like pyxform, nothing is reported until everything has been read: a study team fixing a sheet in
WPS wants the whole list, each line naming sheet, row and column, not one error per attempt. This
module reads the folder and the study and choices sheets and ties the sheets together; the
questions and criteria sheets have a builder each. Nothing here walks the flow: see
:mod:`.validate`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .build_criteria import criteria_of
from .build_questions import questions_of
from .categories import load_categories
from .cells import ID_RE, STUDY_ID_RE, YES_NO, int_cell, langs, need_text
from .errors import StudyError, suggest
from .model import Choice, Criterion, Question, Study
from .sheets import COLUMNS, SHEETS, Collector, Sheet, bilingual, display_path, read_sheet
from .workbook import read_workbook, workbook_files


def build(folder: Path) -> tuple[Study | None, Collector]:
    """The study in ``folder`` (None when it cannot be built at all) and every problem found."""
    out = Collector()
    sheets, workbook = read_study_sheets(folder, out)
    if len(sheets) < len(SHEETS):
        return None, out
    version = hashlib.sha256(b"".join(hashlib.sha256(sheets[n].raw).digest() for n in SHEETS)).hexdigest()[:16]
    meta = _study_meta(folder, sheets["study"], out)
    choice_lists = _choices(sheets["choices"], out)
    questions, types = questions_of(sheets["questions"], choice_lists, out)
    criteria = criteria_of(sheets["criteria"], types, questions, out)
    _question_links(sheets["questions"], questions, criteria, out)
    _study_links(sheets["study"], meta, questions, folder, out)
    if meta is None:
        return None, out
    study = Study(
        id=meta["id"],
        version=version,
        meta=meta,
        questions=tuple(questions),
        criteria=tuple(criteria),
        folder=str(folder),
        workbook=workbook,
    )
    return study, out


def read_study_sheets(folder: Path, out: Collector) -> tuple[dict[str, Sheet], str]:
    """The sheets of a study folder and the name of its workbook ("" for CSV files).

    A folder holds either the four CSV files or one ``.xlsx`` workbook. Both at once is refused
    rather than guessed at: the team would edit one and wonder why the app shows the other.
    A sheet that is missing or unreadable is reported and left out of the result.
    """
    shown_folder = f"{folder.parent.name}/{folder.name}"
    if not folder.is_dir():
        out.add(shown_folder, None, None, "is not a folder")
        return {}, ""
    books = workbook_files(folder)
    csvs = sorted(folder.glob("*.csv"))
    if books and csvs:
        out.add(
            shown_folder,
            None,
            None,
            f"holds both a workbook ({', '.join(b.name for b in books)}) and CSV sheets "
            f"({', '.join(c.name for c in csvs)}); keep one: the workbook or the CSV files",
        )
        return {}, ""
    if len(books) > 1:
        out.add(
            shown_folder,
            None,
            None,
            f"holds {len(books)} workbooks ({', '.join(b.name for b in books)}); a study is one workbook",
        )
        return {}, ""
    if books:
        return read_workbook(books[0], f"{shown_folder}/{books[0].name}", out), books[0].name
    for extra in csvs:
        if extra.stem not in SHEETS:
            out.add(
                display_path(folder, extra.stem),
                None,
                None,
                f"unknown sheet '{extra.name}'{suggest(extra.stem, SHEETS)}; "
                f"a study has {', '.join(s + '.csv' for s in SHEETS)}",
            )
    sheets: dict[str, Sheet] = {}
    for name in SHEETS:
        path = folder / f"{name}.csv"
        shown = display_path(folder, name)
        if not path.exists():
            out.add(shown, None, None, "sheet is missing")
            continue
        sheet = read_sheet(path, shown, name, out)
        if sheet is not None:
            sheets[name] = sheet
    return sheets, ""


def _study_meta(folder: Path, sheet: Sheet, out: Collector) -> dict[str, str] | None:
    if len(sheet.rows) != 1:
        out.add(sheet.path, None, None, f"must have exactly one row about the study, found {len(sheet.rows)}")
        if not sheet.rows:
            return None
    number, row = sheet.rows[0]
    need_text(sheet, number, row, tuple(COLUMNS["study"][0]), out)
    if row.get("id") and row["id"] != folder.name:
        out.add(sheet.path, number, "id", f"'{row['id']}' must equal the folder name '{folder.name}'")
    elif row.get("id") and not STUDY_ID_RE.match(row["id"]):
        out.add(sheet.path, number, "id", "use lower-case letters, digits and '-'")
    if row.get("status") and row["status"] not in ("recruiting", "closed"):
        out.add(
            sheet.path,
            number,
            "status",
            f"unknown status '{row['status']}'{suggest(row['status'], ('recruiting', 'closed'))}",
        )
    low = int_cell(sheet, number, row, "min_age", out)
    high = int_cell(sheet, number, row, "max_age", out)
    if low is not None and high is not None and low > high:
        out.add(sheet.path, number, "max_age", "must not be below min_age")
    int_cell(sheet, number, row, "minutes", out)
    departments = [row.get(column, "") for column in bilingual("department")]
    if any(departments) and not all(departments):
        empty = bilingual("department")[departments.index("")]
        out.add(sheet.path, number, empty, "fill in the department in both languages, or leave both empty")
    if not row.get("id"):
        return None
    # Optional columns read as "" when absent, so pages can ask for any of them.
    return {column: "" for column in COLUMNS["study"][1]} | dict(row)


def _study_links(
    sheet: Sheet, meta: dict[str, str] | None, questions: list[Question], folder: Path, out: Collector
) -> None:
    if meta is None or not sheet.rows:
        return
    number = sheet.rows[0][0]
    age_q = meta.get("age_question", "")
    ids = {q.id: q for q in questions}
    if age_q and age_q not in ids:
        out.add(sheet.path, number, "age_question", f"unknown question '{age_q}'{suggest(age_q, ids)}")
    elif age_q and ids[age_q].kind.value_type != "month":
        out.add(sheet.path, number, "age_question", f"'{age_q}' must be a month question (month and year of birth)")
    categories_file = folder.parent / "categories.csv"
    if categories_file.exists():
        try:
            known = {c.id for c in load_categories(categories_file)}
        except StudyError:
            return  # reported by the categories check itself
        for category in filter(None, (c.strip() for c in meta.get("categories", "").split(";"))):
            if category not in known:
                out.add(sheet.path, number, "categories", f"unknown category '{category}'{suggest(category, known)}")


def _choices(sheet: Sheet, out: Collector) -> dict[str, list[Choice]]:
    lists: dict[str, list[Choice]] = {}
    for number, row in sheet.rows:
        need_text(sheet, number, row, ("list", "value", *bilingual("label")), out)
        name, value = row.get("list", ""), row.get("value", "")
        if not name or not value:
            continue
        for column, text in (("list", name), ("value", value)):
            if not ID_RE.match(text):
                out.add(sheet.path, number, column, f"'{text}' must be lower-case letters, digits and '_'")
        exclusive = row.get("exclusive", "").lower()
        if exclusive not in ("", *YES_NO):
            out.add(sheet.path, number, "exclusive", f"must be 'yes' or 'no', not '{exclusive}'")
        if any(c.value == value for c in lists.get(name, [])):
            out.add(sheet.path, number, "value", f"duplicate value '{value}' in list '{name}'")
            continue
        lists.setdefault(name, []).append(Choice(value=value, labels=langs(row, "label"), exclusive=exclusive == "yes"))
    return lists


def _question_links(sheet: Sheet, questions: list[Question], criteria: list[Criterion], out: Collector) -> None:
    known = {c.id for c in criteria}
    for question in questions:
        for cid in question.criteria:
            if cid not in known:
                out.add(sheet.path, question.row, "criteria", f"unknown criterion '{cid}'{suggest(cid, known)}")

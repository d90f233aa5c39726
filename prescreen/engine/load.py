"""Read a study folder of CSV sheets into a :class:`Study`, collecting every problem first.

Like pyxform, nothing is reported until everything has been read: a study team fixing a sheet in
WPS wants the whole list, each line naming sheet, row and column, not one error per attempt.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ExpressionError, Problem, StudyError
from .expr import compile_expression, suggest
from .model import LANGS, QUESTION_TYPES, VOICES, Choice, Criterion, Question, Study

SHEETS = ("study", "criteria", "questions", "choices")
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
STUDY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _bilingual(*names: str) -> tuple[str, ...]:
    return tuple(f"{n}::{lang}" for n in names for lang in LANGS)


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
            *_bilingual("title", "summary", "involves", "centre", "address"),
        ),
        ("registry_id", "minutes"),
    ),
    "criteria": (
        ("id", "kind", "wording", *_bilingual("label", "reason"), "home", "waiting_period"),
        ("any_of", "not_met_if", "met_if", "confirm_if", "recheck"),
    ),
    "questions": (
        (
            "id",
            "type",
            *(f"text::{voice}::{lang}" for voice in VOICES for lang in LANGS),
            *_bilingual("why"),
        ),
        ("choices", "show_if", "criteria", "min", "max", *_bilingual("unit")),
    ),
    "choices": (("list", "value", *_bilingual("label")), ("exclusive",)),
}
CRITERION_KINDS = ("inclusion", "exclusion", "check")
HOME_VALUES = ("yes", "partly", "no")
YES_NO = ("yes", "no")


@dataclass
class Sheet:
    """One CSV sheet: its display path and rows as (spreadsheet row number, cells)."""

    name: str
    path: str
    rows: list[tuple[int, dict[str, str]]]
    raw: bytes


class _Collector:
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


def read_sheet(path: Path, shown: str, name: str, out: _Collector) -> Sheet | None:
    """Read one CSV sheet, reporting encoding and header problems."""
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
    if not table or not any(cell.strip() for cell in table[0]):
        out.add(shown, 1, None, "the sheet is empty; the first row must name the columns")
        return None
    header = [cell.strip() for cell in table[0]]
    required, optional = COLUMNS[name]
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
    return Sheet(name, shown, rows, data)


def _need_text(sheet: Sheet, number: int, row: dict[str, str], columns: tuple[str, ...], out: _Collector) -> None:
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


def _int_cell(sheet: Sheet, number: int, row: dict[str, str], column: str, out: _Collector) -> int | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        out.add(sheet.path, number, column, f"'{text}' is not a whole number")
        return None


def _langs(row: dict[str, str], name: str) -> dict[str, str]:
    return {lang: row.get(f"{name}::{lang}", "") for lang in LANGS}


def load_study(folder: str | Path) -> Study:
    """Load and validate one study folder.

    :raises StudyError: listing every problem found in the sheets.
    """
    from .check import check_flow  # the path walk needs a built study

    study, collector = _build(Path(folder))
    if study is not None and not collector.problems:
        collector.problems.extend(check_flow(study).problems)
    if collector.problems or study is None:
        raise StudyError(sorted(collector.problems, key=_problem_order))
    return study


def _problem_order(problem: Problem) -> tuple[int, str, int]:
    sheet = problem.path.rsplit("/", 1)[-1].removesuffix(".csv")
    order = SHEETS.index(sheet) if sheet in SHEETS else len(SHEETS)
    return (order, problem.path, problem.row or 0)


def _build(folder: Path) -> tuple[Study | None, _Collector]:
    out = _Collector()
    shown_folder = f"{folder.parent.name}/{folder.name}"
    if not folder.is_dir():
        out.add(shown_folder, None, None, "is not a folder")
        return None, out
    for extra in sorted(folder.glob("*.csv")):
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
    if len(sheets) < len(SHEETS):
        return None, out
    version = hashlib.sha256(b"".join(hashlib.sha256(sheets[n].raw).digest() for n in SHEETS)).hexdigest()[:16]
    meta = _study_meta(folder, sheets["study"], out)
    choice_lists = _choices(sheets["choices"], out)
    questions, types = _questions(sheets["questions"], choice_lists, out)
    criteria = _criteria(sheets["criteria"], types, questions, out)
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
    )
    return study, out


def _study_meta(folder: Path, sheet: Sheet, out: _Collector) -> dict[str, str] | None:
    if len(sheet.rows) != 1:
        out.add(sheet.path, None, None, f"must have exactly one row about the study, found {len(sheet.rows)}")
        if not sheet.rows:
            return None
    number, row = sheet.rows[0]
    _need_text(sheet, number, row, tuple(COLUMNS["study"][0]), out)
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
    low = _int_cell(sheet, number, row, "min_age", out)
    high = _int_cell(sheet, number, row, "max_age", out)
    if low is not None and high is not None and low > high:
        out.add(sheet.path, number, "max_age", "must not be below min_age")
    _int_cell(sheet, number, row, "minutes", out)
    return dict(row) if row.get("id") else None


def _study_links(
    sheet: Sheet, meta: dict[str, str] | None, questions: list[Question], folder: Path, out: _Collector
) -> None:
    if meta is None or not sheet.rows:
        return
    number = sheet.rows[0][0]
    age_q = meta.get("age_question", "")
    ids = {q.id: q for q in questions}
    if age_q and age_q not in ids:
        out.add(sheet.path, number, "age_question", f"unknown question '{age_q}'{suggest(age_q, ids)}")
    elif age_q and ids[age_q].type != "month":
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


def _choices(sheet: Sheet, out: _Collector) -> dict[str, list[Choice]]:
    lists: dict[str, list[Choice]] = {}
    for number, row in sheet.rows:
        _need_text(sheet, number, row, ("list", "value", *_bilingual("label")), out)
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
        lists.setdefault(name, []).append(
            Choice(value=value, labels=_langs(row, "label"), exclusive=exclusive == "yes")
        )
    return lists


def _questions(sheet: Sheet, lists: dict[str, list[Choice]], out: _Collector) -> tuple[list[Question], dict[str, str]]:
    questions: list[Question] = []
    types: dict[str, str] = {}
    earlier: dict[str, str] = {}
    broken: set[str] = set()
    all_ids = {row.get("id", "") for _, row in sheet.rows}
    text_columns = tuple(c for c in COLUMNS["questions"][0] if "::" in c)
    for number, row in sheet.rows:
        qid, kind = row.get("id", ""), row.get("type", "")
        _need_text(sheet, number, row, ("id", "type", *text_columns), out)
        units = _langs(row, "unit")
        if bool(units["en"]) != bool(units["zh"]):
            missing = "zh" if units["en"] else "en"
            out.add(
                sheet.path,
                number,
                f"unit::{missing}",
                f"empty {missing} cell: every wording needs both Chinese and English",
            )
        if not qid:
            continue
        if not ID_RE.match(qid):
            out.add(sheet.path, number, "id", f"'{qid}' must be lower-case letters, digits and '_'")
        if qid in types:
            out.add(sheet.path, number, "id", f"duplicate question id '{qid}'")
            continue
        if qid == "respondent":
            out.add(sheet.path, number, "id", "'respondent' is reserved for who is filling in")
        if kind and kind not in QUESTION_TYPES:
            out.add(sheet.path, number, "type", f"unknown type '{kind}'{suggest(kind, QUESTION_TYPES)}")
            kind = ""
            broken.add(qid)
        choice_list = row.get("choices", "")
        choices: tuple[Choice, ...] = ()
        if kind in ("single", "multiple"):
            if not choice_list:
                out.add(sheet.path, number, "choices", f"a {kind} question needs a choice list")
            elif choice_list not in lists:
                out.add(
                    sheet.path, number, "choices", f"unknown choice list '{choice_list}'{suggest(choice_list, lists)}"
                )
            else:
                choices = tuple(lists[choice_list])
        elif kind and choice_list:
            out.add(sheet.path, number, "choices", f"a {kind} question has no choice list")
        low = _int_cell(sheet, number, row, "min", out)
        high = _int_cell(sheet, number, row, "max", out)
        if kind == "number" and (low is None or high is None):
            out.add(sheet.path, number, "min" if low is None else "max", "a number question needs min and max")
        elif low is not None and high is not None and low > high:
            out.add(sheet.path, number, "max", "must not be below min")
        if kind != "number" and (row.get("min") or row.get("max")):
            out.add(sheet.path, number, "min" if row.get("min") else "max", "only number questions have a range")
        show_if = None
        if row.get("show_if"):
            show_if = _expression(
                sheet,
                number,
                "show_if",
                row["show_if"],
                earlier,
                all_ids,
                out,
                questions,
                broken=frozenset(broken),
            )
        question = Question(
            id=qid,
            type=kind or "single",
            texts={(v, lang): row.get(f"text::{v}::{lang}", "") for v in VOICES for lang in LANGS},
            whys=_langs(row, "why"),
            choices=choices,
            show_if=show_if,
            criteria=tuple(c.strip() for c in row.get("criteria", "").split(";") if c.strip()),
            min=low,
            max=high,
            units={k: v for k, v in units.items() if v},
            choice_list=choice_list,
            row=number,
        )
        questions.append(question)
        if kind:
            types[qid] = kind
            earlier[qid] = kind
    return questions, types


def _broken(questions: list[Question], types: dict[str, str]) -> frozenset[str]:
    return frozenset(q.id for q in questions if q.id not in types)


def _expression(
    sheet: Sheet,
    number: int,
    column: str,
    source: str,
    types: dict[str, str],
    all_ids: set[str],
    out: _Collector,
    lists_of: list[Question],
    want: str = "bool",
    broken: frozenset[str] = frozenset(),
) -> Any:
    try:
        expression = compile_expression(source, types, want)
    except ExpressionError as error:
        message = str(error)
        match = re.match(r"unknown question '([^']+)'", message)
        if match and match.group(1) in broken:
            return None  # that question's own row already reports why it cannot be used
        if match and match.group(1) in all_ids:
            message = f"'{match.group(1)}' is asked later; a condition can only use earlier answers"
        out.add(sheet.path, number, column, message)
        return None
    by_id = {q.id: q for q in lists_of}
    for qid, option in expression.options:
        question = by_id.get(qid)
        if question is None or question.type not in ("single", "multiple") or not question.choices:
            if question is not None and question.type not in ("single", "multiple"):
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


def _criteria(sheet: Sheet, types: dict[str, str], questions: list[Question], out: _Collector) -> list[Criterion]:
    criteria: list[Criterion] = []
    seen: set[str] = set()
    all_ids = set(types)
    for number, row in sheet.rows:
        cid = row.get("id", "")
        _need_text(sheet, number, row, tuple(COLUMNS["criteria"][0]), out)
        if not cid:
            continue
        if not ID_RE.match(cid):
            out.add(sheet.path, number, "id", f"'{cid}' must be lower-case letters, digits and '_'")
        if cid in seen:
            out.add(sheet.path, number, "id", f"duplicate criterion id '{cid}'")
            continue
        seen.add(cid)
        checks: list[tuple[str, tuple[str, ...]]] = [
            ("kind", CRITERION_KINDS),
            ("home", HOME_VALUES),
            ("waiting_period", YES_NO),
        ]
        for column, allowed in checks:
            value = row.get(column, "")
            if value and value not in allowed:
                out.add(
                    sheet.path,
                    number,
                    column,
                    f"unknown value '{value}'{suggest(value, allowed)}; use one of {', '.join(allowed)}",
                )
        rules: dict[str, Any] = {}
        for column in ("not_met_if", "met_if", "confirm_if"):
            if row.get(column):
                rules[column] = _expression(
                    sheet,
                    number,
                    column,
                    row[column],
                    types,
                    all_ids,
                    out,
                    questions,
                    broken=_broken(questions, types),
                )
        if not any(row.get(c) for c in ("not_met_if", "met_if", "confirm_if")):
            out.add(
                sheet.path, number, "met_if", f"criterion '{cid}' has no rule: fill in not_met_if, met_if or confirm_if"
            )
        waiting = row.get("waiting_period") == "yes"
        recheck = None
        if row.get("recheck"):
            if not waiting:
                out.add(sheet.path, number, "recheck", "only a waiting period has a re-check month")
            recheck = _expression(
                sheet,
                number,
                "recheck",
                row["recheck"],
                types,
                all_ids,
                out,
                questions,
                want="month",
                broken=_broken(questions, types),
            )
        elif waiting:
            out.add(sheet.path, number, "recheck", "a waiting period needs a re-check month, e.g. last_dose + 6")
        criteria.append(
            Criterion(
                id=cid,
                kind=row.get("kind", ""),
                wording=row.get("wording", ""),
                labels=_langs(row, "label"),
                reasons=_langs(row, "reason"),
                home=row.get("home", ""),
                any_of=row.get("any_of", ""),
                waiting_period=waiting,
                not_met_if=rules.get("not_met_if"),
                met_if=rules.get("met_if"),
                confirm_if=rules.get("confirm_if"),
                recheck=recheck,
                row=number,
            )
        )
    groups: dict[str, list[Criterion]] = {}
    for criterion in criteria:
        if criterion.any_of:
            groups.setdefault(criterion.any_of, []).append(criterion)
    for name, arms in groups.items():
        if len(arms) < 2:
            out.add(
                sheet.path,
                arms[0].row,
                "any_of",
                f"group '{name}' has only one criterion; an any_of group needs two or more",
            )
        elif len({a.waiting_period for a in arms}) > 1:
            out.add(
                sheet.path,
                arms[0].row,
                "waiting_period",
                f"criteria of group '{name}' must all be waiting periods or none",
            )
    return criteria


def _question_links(sheet: Sheet, questions: list[Question], criteria: list[Criterion], out: _Collector) -> None:
    known = {c.id for c in criteria}
    for question in questions:
        for cid in question.criteria:
            if cid not in known:
                out.add(sheet.path, question.row, "criteria", f"unknown criterion '{cid}'{suggest(cid, known)}")


@dataclass(frozen=True)
class Category:
    """A medical category volunteers can follow (``questions/categories.csv``)."""

    id: str
    parent: str
    labels: dict[str, str]

    def label(self, lang: str) -> str:
        return self.labels[lang]


def load_categories(path: str | Path) -> list[Category]:
    """Load the category taxonomy; parents must exist and come first.

    :raises StudyError: listing every problem.
    """
    path = Path(path)
    out = _Collector()
    shown = f"{path.parent.name}/{path.name}"
    data = _read_plain(path, shown, out)
    categories: list[Category] = []
    if data is not None:
        header = [c.strip() for c in data[0]] if data else []
        wanted = ("id", "parent", "label::en", "label::zh")
        for column in header:
            if column and column not in wanted:
                out.add(shown, 1, column, f"unknown column{suggest(column, wanted)}")
        for column in wanted:
            if column not in header:
                out.add(shown, 1, column, "required column is missing")
        ids: set[str] = set()
        for number, cells in enumerate(data[1:], start=2):
            if not any(c.strip() for c in cells):
                continue
            row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
            for column in ("id", "label::en", "label::zh"):
                if not row.get(column):
                    lang = column.rsplit("::", 1)[-1]
                    msg = (
                        f"empty {lang} cell: every wording needs both Chinese and English"
                        if lang in LANGS
                        else "must not be empty"
                    )
                    out.add(shown, number, column, msg)
            cid = row.get("id", "")
            if cid and not ID_RE.match(cid):
                out.add(shown, number, "id", f"'{cid}' must be lower-case letters, digits and '_'")
            if cid in ids:
                out.add(shown, number, "id", f"duplicate category id '{cid}'")
            parent = row.get("parent", "")
            if parent and parent not in ids:
                out.add(
                    shown,
                    number,
                    "parent",
                    f"unknown parent '{parent}'{suggest(parent, ids)} (a parent must come before its children)",
                )
            if cid:
                ids.add(cid)
                categories.append(
                    Category(cid, parent, {"en": row.get("label::en", ""), "zh": row.get("label::zh", "")})
                )
    if out.problems:
        raise StudyError(out.problems)
    return categories


def _read_plain(path: Path, shown: str, out: _Collector) -> list[list[str]] | None:
    try:
        text = decode_sheet(path.read_bytes())
    except OSError as error:
        out.add(shown, None, None, f"cannot be read: {error.strerror}")
        return None
    except UnicodeError as error:
        out.add(shown, None, None, str(error))
        return None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        out.add(shown, None, None, f"is not a valid CSV file: {error}")
        return None
    if not rows:
        out.add(shown, 1, None, "the sheet is empty; the first row must name the columns")
        return None
    return rows


def study_folders(root: str | Path) -> list[Path]:
    """Every study folder under ``root`` (a folder holding a ``study.csv``)."""
    return sorted(p.parent for p in Path(root).glob("*/study.csv"))


def load_studies(root: str | Path, loader: Callable[[Path], Study] = load_study) -> dict[str, Study]:
    """Load every study under ``root``; all problems of all studies are raised together.

    :raises StudyError: listing every problem in every study.
    """
    studies: dict[str, Study] = {}
    problems: list[Problem] = []
    for folder in study_folders(root):
        try:
            study = loader(folder)
        except StudyError as error:
            problems.extend(error.problems)
            continue
        studies[study.id] = study
    if problems:
        raise StudyError(problems)
    return studies

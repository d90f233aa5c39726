"""A study as one Excel workbook: the same study as its CSV files, and mistakes named by sheet, row and column.

Study teams live in Excel and WPS. The real study is exported to a workbook here and loaded back:
it must be the same study (every question, choice, rule and wording) and give every family of
the study's table (tests/test_study_families.py) exactly the outcome and reasons the CSV files
give. A workbook with mistakes a nurse makes in Excel lists each as ``<file>.xlsx:<sheet>:<row>``,
row 1 being the header as Excel numbers it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from prescreen.cli import main
from prescreen.engine import Flow, Study, StudyError, export_workbook, load_study
from prescreen.study_cli import study_as_data
from tests.helpers.study import write_study
from tests.test_study_families import FAMILIES, ROOT, STUDY_DIR, TODAY

STUDY_ID = "pumch-pediatric-sjogren"


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Study]:
    """The real study from its CSV files, and from a workbook exported from them (loaded, path-walked)."""
    root = tmp_path_factory.mktemp("workbook") / "questions"
    (root / STUDY_ID).mkdir(parents=True)
    shutil.copy(ROOT / "questions" / "categories.csv", root / "categories.csv")
    export_workbook(STUDY_DIR, root / STUDY_ID / "study.xlsx")
    return load_study(STUDY_DIR), load_study(root / STUDY_ID)


def without_version(study: Study) -> dict[str, object]:
    data = study_as_data(study)
    data.pop("version")
    return data


def test_the_workbook_is_the_same_study(studies: tuple[Study, Study]) -> None:
    """Every question, choice, rule, wording and study field is the same; only the version differs.

    The version hashes what was read (a CSV file's bytes, a workbook's cell text), so a workbook
    is a new version of the questionnaire even when nothing in it changed.
    """
    csv_study, book_study = studies
    assert book_study.workbook == "study.xlsx" and csv_study.workbook == ""
    assert without_version(book_study) == without_version(csv_study)
    assert [q.row for q in book_study.questions] == [q.row for q in csv_study.questions]
    assert [c.row for c in book_study.criteria] == [c.row for c in csv_study.criteria]
    assert len(book_study.version) == 16 and book_study.version != csv_study.version


def test_every_family_gets_the_same_outcome_and_reasons_from_the_workbook(studies: tuple[Study, Study]) -> None:
    csv_flow, book_flow = Flow(studies[0]), Flow(studies[1])
    for family in FAMILIES:
        answers = family.answers()
        from_csv = csv_flow.run(answers, respondent=family.respondent, today=TODAY)
        from_book = book_flow.run(answers, respondent=family.respondent, today=TODAY)
        assert from_book.outcome is not None and from_book.outcome.status == family.outcome, family.id
        for lang in ("en", "zh"):
            assert from_book.to_dict(lang) == from_csv.to_dict(lang), family.id
        assert from_book.values == from_csv.values, family.id


def test_saving_the_workbook_again_keeps_its_version(studies: tuple[Study, Study], tmp_path: Path) -> None:
    """Excel rewrites a workbook's timestamps on every save: the version follows the cells, not the bytes."""
    folder = Path(studies[1].folder)
    copy = tmp_path / "questions" / STUDY_ID
    copy.mkdir(parents=True)
    book = load_workbook(folder / "study.xlsx")
    book.save(copy / "renamed.xlsx")
    assert load_study(copy).version == studies[1].version
    questions = book["questions"]
    assert questions["A2"].value == "dob"
    questions["A2"].value = "dob "  # a trailing space: the same text once read
    book.save(copy / "renamed.xlsx")
    assert load_study(copy).version == studies[1].version
    header = [c.value for c in questions[1]]
    questions.cell(row=2, column=header.index("text::guardian::en") + 1).value = "In what month and year was he born?"
    book.save(copy / "renamed.xlsx")
    assert load_study(copy).version != studies[1].version


def test_exported_cells_are_text_with_a_frozen_header(studies: tuple[Study, Study]) -> None:
    """Excel must not turn '5' or a registry id into a number, and the header stays in view."""
    book = load_workbook(Path(studies[1].folder) / "study.xlsx")
    assert book.sheetnames == ["study", "criteria", "questions", "choices"]
    sheet = book["study"]
    header = [c.value for c in sheet[1]]
    min_age = sheet.cell(row=2, column=header.index("min_age") + 1)
    assert min_age.value == "5" and min_age.data_type == "s" and min_age.number_format == "@"
    for name in book.sheetnames:
        assert book[name].freeze_panes == "A2"
        assert all(cell.font.b for cell in book[name][1])
    questions = book["questions"]
    widths = [questions.column_dimensions[letter].width for letter in ("A", "B", "F")]
    assert all(8 <= w <= 60 for w in widths) and widths[2] > widths[1]  # an English wording is wider than a type


def demo_workbook(tmp_path: Path) -> Path:
    """The small demo study (tests/helpers/study.py) as ``questions/demo/demo.xlsx``; returns its path."""
    source = write_study(tmp_path / "csv")
    folder = tmp_path / "questions" / "demo"
    folder.mkdir(parents=True)
    export_workbook(source, folder / "demo.xlsx")
    return folder / "demo.xlsx"


def problems(folder: Path) -> list[str]:
    with pytest.raises(StudyError) as caught:
        load_study(folder)
    return [str(p) for p in caught.value.problems]


def test_a_demo_workbook_with_typed_numbers_loads(tmp_path: Path) -> None:
    """Numbers a nurse types into min_age and max_age (number cells in Excel) read as '5' and '18'."""
    path = demo_workbook(tmp_path)
    book = load_workbook(path)
    book["study"]["C2"].value = 5.0
    book["study"]["D2"].value = 18
    book.save(path)
    study = load_study(path.parent)
    assert (study.meta["min_age"], study.meta["max_age"]) == ("5", "18")
    assert [q.id for q in study.questions] == ["dob", "dx", "drugs"]


def test_seeded_mistakes_are_each_named_by_sheet_row_and_column(tmp_path: Path) -> None:
    path = demo_workbook(tmp_path)
    book = load_workbook(path)
    questions = book["questions"]
    header = [c.value for c in questions[1]]
    assert questions.cell(row=4, column=1).value == "drugs"
    questions.cell(row=4, column=header.index("show_if") + 1).value = "dxx == 'yes'"
    assert questions.cell(row=3, column=1).value == "dx"
    questions.cell(row=3, column=header.index("choices") + 1).value = "yesno"
    questions.delete_cols(header.index("why::zh") + 1)
    choices = book["choices"]
    assert [c.value for c in choices[6]][:2] == ["drugs", "rtx"]
    choices.cell(row=6, column=2).value = 5  # a number cell where an option's code belongs
    book.save(path)
    shown = "questions/demo/demo.xlsx"
    found = problems(path.parent)
    for line in (
        f"{shown}:questions:1: column 'why::zh': required column is missing",
        f"{shown}:questions:3: column 'choices': unknown choice list 'yesno'",
        f"{shown}:questions:4: column 'show_if': unknown question 'dxx' (did you mean 'dx'?)",
        f"{shown}:choices:6: column 'value': '5' must be lower-case letters, digits and '_'",
    ):
        assert line in found, "\n".join(found)
    # sheets in the order a team fills them in, rows top to bottom
    assert found == sorted(
        found,
        key=lambda p: (["study", "criteria", "questions", "choices"].index(p.split(":")[1]), int(p.split(":")[2])),
    )


def test_a_missing_sheet_and_an_unknown_one_are_named(tmp_path: Path) -> None:
    path = demo_workbook(tmp_path)
    book = load_workbook(path)
    book["choices"].title = "choice"
    book.save(path)
    assert problems(path.parent) == [
        "questions/demo/demo.xlsx:choices: sheet is missing; a study workbook has sheets study, criteria, "
        "questions, choices",
        "questions/demo/demo.xlsx:choice: unknown sheet 'choice' (did you mean 'choices'?); "
        "a study workbook has sheets study, criteria, questions, choices",
    ]


def test_a_folder_with_both_csv_files_and_a_workbook_is_refused(tmp_path: Path) -> None:
    path = demo_workbook(tmp_path)
    shutil.copy(tmp_path / "csv" / "questions" / "demo" / "study.csv", path.parent / "study.csv")
    (path.parent / "~$demo.xlsx").write_bytes(b"Excel's lock file while the workbook is open")
    assert problems(path.parent) == [
        "questions/demo: holds both a workbook (demo.xlsx) and CSV sheets (study.csv); "
        "keep one: the workbook or the CSV files"
    ]


def test_a_file_that_is_not_a_workbook_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "questions" / "demo"
    folder.mkdir(parents=True)
    (folder / "demo.xlsx").write_text("id,status\n", encoding="utf-8")  # a CSV renamed to .xlsx
    assert problems(folder) == [
        "questions/demo/demo.xlsx: cannot be read: it is not an Excel workbook (.xlsx); "
        "save it again from Excel or WPS as .xlsx"
    ]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("PRESCREEN_QUESTIONS_DIR", raising=False)
    return CliRunner()


def test_cli_check_lists_a_workbooks_problems_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    path = demo_workbook(tmp_path)
    book = load_workbook(path)
    book["questions"]["A4"].value = "Drugs"
    book.save(path)
    result = cli.invoke(main, ["questions", "check", str(path.parent)])
    assert result.exit_code == 1
    assert "questions/demo/demo.xlsx:questions:4: column 'id': 'Drugs' must be lower-case letters, digits and '_'" in (
        result.output.splitlines()
    )


def test_cli_exports_a_study_that_the_app_then_finds_and_checks_clean(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "questions" / STUDY_ID / "pumch.xlsx"
    target.parent.mkdir(parents=True)
    result = cli.invoke(main, ["questions", "export", STUDY_ID, "--xlsx", str(target)])
    assert result.exit_code == 0, result.output
    assert f"{STUDY_ID}: wrote {target}" in result.output
    refused = cli.invoke(main, ["questions", "export", STUDY_ID, "--xlsx", str(STUDY_DIR / "study.xlsx")])
    assert refused.exit_code == 1 and "outside the study's folder" in refused.output
    assert not (STUDY_DIR / "study.xlsx").exists()

    shutil.copy(ROOT / "questions" / "categories.csv", tmp_path / "questions" / "categories.csv")
    monkeypatch.setenv("PRESCREEN_QUESTIONS_DIR", str(tmp_path / "questions"))
    checked = cli.invoke(main, ["questions", "check"])
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith(f"{STUDY_ID}: ok — 38 questions, 37 criteria")

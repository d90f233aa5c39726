"""What changed between two versions of a study (issue 20), for the ethics submission.

The real study is exported to a workbook as a study team would (``questions export --xlsx``),
edited the way a team edits it in Excel, and compared: the list holds exactly the edits, each with
where it is and the text before and after; the CLI prints them; the table partial names each kind
of change in the page's language.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, render_template_string
from openpyxl import load_workbook

from prescreen.cli import main
from prescreen.engine import load_study
from prescreen.engine.diff import diff

ROOT = Path(__file__).resolve().parent.parent
STUDY_ID = "pumch-pediatric-sjogren"
FOLDER = ROOT / "questions" / STUDY_ID


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("PRESCREEN_QUESTIONS_DIR", raising=False)
    return CliRunner()


@pytest.fixture
def exported(cli: CliRunner, tmp_path: Path) -> Path:
    """The real study as one workbook, written by the export command."""
    target = tmp_path / "approved.xlsx"
    result = cli.invoke(main, ["questions", "export", STUDY_ID, "--xlsx", str(target)])
    assert result.exit_code == 0, result.output
    return target


def edited(source: Path, target: Path, edit: Callable[[dict[str, list[dict]]], None]) -> Path:  # type: ignore[type-arg]
    """A copy of the workbook at *source* with *edit* applied to its rows (sheet -> rows of column -> cell)."""
    shutil.copy(source, target)
    book = load_workbook(target)
    sheets = {}
    for sheet in book:
        header = [c.value for c in sheet[1]]
        sheets[sheet.title] = [dict(zip(header, row, strict=False)) for row in sheet.iter_rows(min_row=2)]
    edit(sheets)
    book.save(target)
    return target


def row(rows: list[dict], **match: str) -> dict:  # type: ignore[type-arg]
    (found,) = [r for r in rows if all(r[k].value == v for k, v in match.items())]
    return found


def study_in(workbook: Path, tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / name / STUDY_ID
    folder.mkdir(parents=True)
    shutil.copy(workbook, folder / workbook.name)
    return load_study(folder)


TB_LATENT = "Only a positive TB skin or blood test, and not ill"
HOSPITAL_SHOW_IF = "diagnosis not in ('no', 'dm_only') and hospital in ('yes', 'not_sure')"
TB_REASON = "Children with active TB, or on TB treatment now, cannot join."


def four_edits(sheets: dict[str, list[dict]]) -> None:  # type: ignore[type-arg]
    """One option reworded, one removed, one show-if changed, one criterion's reason reworded."""
    row(sheets["choices"], list="tb", value="latent")["label::en"].value = TB_LATENT
    removed = row(sheets["choices"], list="other_trial", value="survey_only")
    removed["list"].parent.delete_rows(removed["list"].row)
    row(sheets["questions"], id="hospital_month")["show_if"].value = HOSPITAL_SHOW_IF
    row(sheets["criteria"], id="exc_active_tb")["reason::en"].value = TB_REASON


def test_diff_lists_exactly_the_edits(exported: Path, tmp_path: Path) -> None:
    new = edited(exported, tmp_path / "new.xlsx", four_edits)
    before, after = study_in(exported, tmp_path, "a"), study_in(new, tmp_path, "b")
    changes = diff(before, after)
    got = {(c.kind, c.where, c.field): (c.before, c.after) for c in changes}
    assert len(changes) == 4
    tb, other_trial = before.question("tb"), before.question("other_trial")
    assert got == {
        ("option_changed", "tb: latent", "label::en"): (tb.choice("latent").label("en"), TB_LATENT),
        ("option_removed", "other_trial: survey_only", ""): (
            f"{other_trial.choice('survey_only').label('zh')} / {other_trial.choice('survey_only').label('en')}",
            "",
        ),
        ("question_show_if", "hospital_month", "show_if"): (
            before.question("hospital_month").show_if.source,
            HOSPITAL_SHOW_IF,
        ),
        ("criterion_reason", "exc_active_tb", "reason::en"): (
            before.criterion("exc_active_tb").reason("en"),
            TB_REASON,
        ),
    }
    assert next(c for c in changes if c.kind == "option_changed").used_by == ("tb",)


def test_identical_studies_give_no_changes(exported: Path, tmp_path: Path) -> None:
    from_csv = load_study(FOLDER)
    assert diff(from_csv, from_csv) == []
    # the CSV folder and its exported workbook are the same questionnaire, though read differently
    assert diff(from_csv, study_in(exported, tmp_path, "a")) == []


def test_moves_voices_and_study_fields(exported: Path, tmp_path: Path) -> None:
    """Two neighbouring questions swapped, one young-person wording in Chinese and the English title."""

    def edit(sheets: dict[str, list[dict]]) -> None:  # type: ignore[type-arg]
        questions = sheets["questions"]
        kidney, other = row(questions, id="kidney"), row(questions, id="other_illness")
        for column in kidney:  # other_illness is now asked before kidney
            kidney[column].value, other[column].value = other[column].value, kidney[column].value
        row(questions, id="hbv")["text::patient::zh"].value = "你查过乙肝两对半吗？"
        sheets["study"][0]["title::en"].value = "Belimumab after rituximab (version 2)"

    new = edited(exported, tmp_path / "new.xlsx", edit)
    before, after = study_in(exported, tmp_path, "a"), study_in(new, tmp_path, "b")
    changes = diff(before, after)
    moved = [c for c in changes if c.kind == "question_moved"]
    assert len(moved) == 1 and moved[0].where in ("kidney", "other_illness")  # one move explains the swap
    assert int(moved[0].before) == int(moved[0].after) + (1 if moved[0].where == "other_illness" else -1)
    assert {(c.kind, c.where, c.field) for c in changes if c.kind != "question_moved"} == {
        ("question_wording", "hbv", "text::patient::zh"),
        ("study_changed", "study", "title::en"),
    }


def test_cli_prints_the_changes(cli: CliRunner, exported: Path, tmp_path: Path) -> None:
    new = edited(exported, tmp_path / "new.xlsx", four_edits)
    result = cli.invoke(main, ["questions", "diff", str(exported), str(new)])
    assert result.exit_code == 0, result.output
    assert "4 change(s)" in result.output
    for text in ("tb: latent", TB_LATENT, "other_trial: survey_only", HOSPITAL_SHOW_IF, "exc_active_tb", TB_REASON):
        assert text in result.output
    # a folder against its own workbook: nothing to submit
    same = cli.invoke(main, ["questions", "diff", str(FOLDER), str(exported)])
    assert same.exit_code == 0 and "0 change(s)" in same.output
    (tmp_path / "empty").mkdir()
    missing = cli.invoke(main, ["questions", "diff", str(FOLDER), str(tmp_path / "empty")])
    assert missing.exit_code != 0 and "not a study folder" in missing.output


PARTIAL = '{% from "coordinator/_version_diff.html" import version_diff %}{{ version_diff(changes) }}'


def test_partial_names_each_change_in_the_page_language(app: Flask, exported: Path, tmp_path: Path) -> None:
    new = edited(exported, tmp_path / "new.xlsx", four_edits)
    changes = diff(study_in(exported, tmp_path, "a"), study_in(new, tmp_path, "b"))
    pages = {}
    for lang in ("en", "zh"):
        with app.test_request_context(f"/?lang={lang}"):
            pages[lang] = render_template_string(PARTIAL, changes=changes)
    assert "Answer option removed" in pages["en"] and "Reason wording changed" in pages["en"]
    assert "Answer option removed" not in pages["zh"] and "Reason wording changed" not in pages["zh"]
    for page in pages.values():
        assert pages["en"].count("<tr") == page.count("<tr") == 5  # the header and one row per change
        assert "Children with active TB, or on TB treatment now, cannot join." in page
    with app.test_request_context("/?lang=zh"):
        assert "<table" not in render_template_string(PARTIAL, changes=[])

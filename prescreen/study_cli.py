"""Study commands that must work without the web app: check, show, export, diff, screen, export-fhir.

A study team runs ``prescreen questions check`` on a sheet the app would refuse to start with,
so these commands load studies straight from the folder and never call ``create_app``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import click
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from . import clock
from .engine import (
    FAMILY_TEXTS,
    AnswerError,
    Flow,
    Study,
    StudyError,
    export_workbook,
    is_study_folder,
    load_study,
    study_folders,
    validate_study,
)
from .engine.diff import diff
from .fhir import questionnaire, questionnaire_response

DEFAULT_QUESTIONS = Path(__file__).resolve().parent.parent / "questions"


def questions_dir() -> Path:
    """Where the studies live: ``PRESCREEN_QUESTIONS_DIR`` or the project's ``questions/``."""
    return Path(os.environ.get("PRESCREEN_QUESTIONS_DIR") or DEFAULT_QUESTIONS)


def _study(study_id: str) -> Study:
    folder = questions_dir() / study_id
    if not is_study_folder(folder):
        known = ", ".join(f.name for f in study_folders(questions_dir())) or "none"
        raise click.ClickException(f"unknown study '{study_id}' (studies: {known})")
    try:
        return load_study(folder)
    except StudyError as error:
        raise click.ClickException(
            f"study '{study_id}' has problems; run 'prescreen questions check':\n{error}"
        ) from None


@click.group("questions")
def questions_cli() -> None:
    """Check, show and export studies (questions/<study>/: four CSV files or one .xlsx workbook)."""


@questions_cli.command("check")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
def check_command(folders: tuple[Path, ...]) -> None:
    """Validate studies and walk every route (default: every study)."""
    targets = list(folders) or study_folders(questions_dir())
    if not targets:
        raise click.ClickException(f"no study found under {questions_dir()}")
    failed = False
    for folder in targets:
        try:
            study, report = validate_study(folder)  # loads and walks every route once
        except StudyError as error:
            failed = True
            for problem in error.problems:
                click.echo(str(problem))
            continue
        click.echo(
            f"{study.id}: ok — {len(study.questions)} questions, {len(study.criteria)} criteria, "
            f"{report.paths} paths walked, longest {len(report.longest)} questions "
            f"(version {study.version})"
        )
    if failed:
        sys.exit(1)


def study_as_data(study: Study) -> dict[str, Any]:
    """The study as plain JSON-ready data (``questions show --json``)."""
    return {
        "id": study.id,
        "version": study.version,
        "meta": dict(study.meta),
        "criteria": [
            {
                "id": c.id,
                "kind": c.kind,
                "wording": c.wording,
                "label": dict(c.labels),
                "reason": dict(c.reasons),
                # keyed by the sheet's column names (not_met::guardian::en …)
                "family": {f"{FAMILY_TEXTS[st]}::{v}::{lang}": t for (st, v, lang), t in c.family_texts.items()},
                "bring": dict(c.brings),
                "home": c.home,
                "any_of": c.any_of or None,
                "waiting_period": c.waiting_period,
                "not_met_if": c.not_met_if.source if c.not_met_if else None,
                "met_if": c.met_if.source if c.met_if else None,
                "confirm_if": c.confirm_if.source if c.confirm_if else None,
                "recheck": c.recheck.source if c.recheck else None,
            }
            for c in study.criteria
        ],
        "questions": [
            {
                "id": q.id,
                "type": q.type,
                "show_if": q.show_if.source if q.show_if else None,
                "criteria": list(q.criteria),
                "min": q.min,
                "max": q.max,
                "text": {f"{v}::{lang}": t for (v, lang), t in q.texts.items()},
                "why": dict(q.whys),
                "choices": [{"value": c.value, "exclusive": c.exclusive, "label": dict(c.labels)} for c in q.choices],
            }
            for q in study.questions
        ],
    }


@questions_cli.command("show")
@click.argument("study_id")
@click.option("--json", "as_json", is_flag=True, help="Print the study as JSON.")
def show_command(study_id: str, as_json: bool) -> None:
    """Print a study's questions and criteria."""
    study = _study(study_id)
    if as_json:
        click.echo(json.dumps(study_as_data(study), ensure_ascii=False, indent=2))
        return
    click.echo(f"{study.id} (version {study.version}): {study.text('title', 'en')}")
    for question in study.questions:
        condition = f"  [if {question.show_if.source}]" if question.show_if else ""
        click.echo(f"  {question.id} ({question.type}){condition}: {question.text('guardian', 'en')}")


@questions_cli.command("export-fhir")
@click.argument("study_id")
def export_fhir_command(study_id: str) -> None:
    """Print the study as an HL7 FHIR R4 Questionnaire (JSON)."""
    click.echo(json.dumps(questionnaire(_study(study_id)), ensure_ascii=False, indent=2))


@questions_cli.command("export")
@click.argument("study_id")
@click.option(
    "--xlsx",
    "target",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the study as one Excel workbook (sheets study, criteria, questions, choices) to this file.",
)
def export_command(study_id: str, target: Path) -> None:
    """Write a study as an Excel workbook a study team can edit and put back in place of the CSV files."""
    study = _study(study_id)  # only a study that checks clean is exported
    if target.suffix.lower() != ".xlsx":
        raise click.ClickException(f"'{target}' must end in .xlsx")
    if target.resolve().parent == Path(study.folder).resolve():
        raise click.ClickException(
            "write the workbook outside the study's folder: a folder holding both CSV files and a workbook is refused"
        )
    try:
        export_workbook(study.folder, target)
    except OSError as error:
        raise click.ClickException(f"cannot write '{target}': {error.strerror}") from None
    click.echo(f"{study.id}: wrote {target} (version {study.version})")


def _workbook_study_id(path: Path) -> str:
    """The ``id`` on a workbook's ``study`` sheet, or "" when it cannot be read (the loader then says why)."""
    try:
        rows = load_workbook(path, read_only=True)["study"].iter_rows(max_row=2, values_only=True)
        header, first = next(rows), next(rows)
        study_id = str(dict(zip(header, first, strict=False)).get("id") or "").strip()
    except (OSError, KeyError, StopIteration, InvalidFileException, zipfile.BadZipFile):
        return ""
    return study_id if study_id and study_id not in (".", "..") and "/" not in study_id else ""


def _study_at(path: Path, scratch: Path) -> Study:
    """A study from a folder, or from one workbook file (copied alone into ``scratch`` to load it)."""
    if path.is_file():
        if path.suffix.lower() != ".xlsx":
            raise click.ClickException(f"'{path}' is neither a study folder nor an .xlsx workbook")
        folder = scratch / (_workbook_study_id(path) or path.stem)  # the loader wants folder name == study id
        folder.mkdir(parents=True)
        shutil.copy(path, folder / path.name)
        path = folder
    if not is_study_folder(path):
        raise click.ClickException(f"'{path}' is not a study folder (no study.csv and no .xlsx workbook)")
    try:
        return load_study(path)
    except StudyError as error:
        raise click.ClickException(f"'{path}' has problems; run 'prescreen questions check':\n{error}") from None


@questions_cli.command("diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
def diff_command(old: Path, new: Path) -> None:
    """List what changed from OLD to NEW (study folders or .xlsx workbooks), e.g. for an ethics submission."""
    with tempfile.TemporaryDirectory() as scratch:
        before = _study_at(old, Path(scratch) / "old")
        after = _study_at(new, Path(scratch) / "new")
    changes = diff(before, after)
    click.echo(f"{before.id} {before.version} -> {after.id} {after.version}: {len(changes)} change(s)")
    for change in changes:
        where = change.where + (f" [{change.field}]" if change.field else "")
        used = f" (used by {', '.join(change.used_by)})" if change.used_by else ""
        click.echo(f"- {change.kind}: {where}{used}")
        if change.before:
            click.echo(f"    before: {change.before}")
        if change.after:
            click.echo(f"    after:  {change.after}")


@click.command("screen")
@click.argument("study_id")
@click.option("--answers", "answers_file", required=True, type=click.File("r", encoding="utf-8"))
@click.option("--respondent", type=click.Choice(["guardian", "patient"]), default="guardian")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--fhir", "as_fhir", is_flag=True, help="Print an HL7 FHIR R4 QuestionnaireResponse instead.")
def screen_command(study_id: str, answers_file: Any, respondent: str, lang: str, today: Any, as_fhir: bool) -> None:
    """Screen one family's answers (JSON: question id -> value) and print the result as JSON."""
    study = _study(study_id)
    try:
        answers = json.load(answers_file)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"answers file is not valid JSON: {error}") from None
    if not isinstance(answers, dict):
        raise click.ClickException("answers file must hold a JSON object: question id -> value")
    day = today.date() if today else clock.today()
    state = Flow(study).run(answers, respondent=respondent, today=day)
    if state.question is not None:
        error = state.errors.get(state.question.id) or AnswerError(
            state.question.id, "required", state.question.allowed()
        )
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    if as_fhir:
        response = questionnaire_response(study, state, study.version, authored=clock.now(), completed=True)
        click.echo(json.dumps(response, ensure_ascii=False, indent=2))
        return
    click.echo(json.dumps(state.to_dict(lang), ensure_ascii=False, indent=2))

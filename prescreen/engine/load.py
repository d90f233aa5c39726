"""Load studies and categories for the web app and the CLI.

The work is done elsewhere: :mod:`.sheets` reads a CSV file, :mod:`.workbook` an ``.xlsx``,
:mod:`.build` turns a folder of sheets into a study, :mod:`.validate` walks it. This module is the
short list of entry points callers need, and keeps the names older callers imported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .build import read_study_sheets
from .categories import Category, load_categories
from .cells import CRITERION_KINDS, HOME_VALUES, ID_RE, STUDY_ID_RE, YES_NO
from .errors import Problem, StudyError
from .model import Study
from .sheets import COLUMNS, SHEETS, Collector, Sheet, decode_sheet, display_path, read_sheet
from .validate import validate_study
from .workbook import workbook_files, write_workbook

__all__ = [
    "COLUMNS",
    "CRITERION_KINDS",
    "HOME_VALUES",
    "ID_RE",
    "SHEETS",
    "STUDY_ID_RE",
    "YES_NO",
    "Category",
    "Sheet",
    "decode_sheet",
    "display_path",
    "export_workbook",
    "is_study_folder",
    "load_categories",
    "load_studies",
    "load_study",
    "read_sheet",
    "study_folders",
    "validate_study",
]


def load_study(folder: str | Path) -> Study:
    """Load and validate one study folder (every route walked).

    :raises StudyError: listing every problem found in the sheets.
    """
    return validate_study(folder)[0]


def is_study_folder(folder: Path) -> bool:
    """A folder holding a ``study.csv`` or a workbook (``.xlsx``): :func:`load_study` says if it is usable."""
    return folder.is_dir() and ((folder / "study.csv").exists() or bool(workbook_files(folder)))


def study_folders(root: str | Path) -> list[Path]:
    """Every study folder under ``root`` (a folder holding a ``study.csv`` or a workbook)."""
    return sorted(p for p in Path(root).iterdir() if is_study_folder(p)) if Path(root).is_dir() else []


def export_workbook(folder: str | Path, target: str | Path) -> None:
    """Write the study in ``folder`` (CSV files or a workbook) as one workbook at ``target``.

    The rows are copied as read, column for column, so the workbook loads as the same study.

    :raises StudyError: when a sheet cannot be read.
    """
    out = Collector()
    sheets, _workbook = read_study_sheets(Path(folder), out)
    if out.problems or len(sheets) < len(SHEETS):
        raise StudyError(out.problems)
    write_workbook({name: (sheets[name].columns, [row for _n, row in sheets[name].rows]) for name in SHEETS}, target)


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

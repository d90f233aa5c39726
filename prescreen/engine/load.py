"""Load studies and categories for the web app and the CLI.

The work is done elsewhere: :mod:`.sheets` reads a CSV file, :mod:`.build` turns a folder of
sheets into a study, :mod:`.validate` walks it. This module is the short list of entry points
callers need, and keeps the names older callers imported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .categories import Category, load_categories
from .cells import CRITERION_KINDS, HOME_VALUES, ID_RE, STUDY_ID_RE, YES_NO
from .errors import Problem, StudyError
from .model import Study
from .sheets import COLUMNS, SHEETS, Sheet, decode_sheet, display_path, read_sheet
from .validate import validate_study

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

"""Load a study and walk every route through it, once.

Building a study only reads its sheets; the path walk (:mod:`.check`) is what finds a question no
route reaches or a rule that meets values it cannot combine. ``prescreen questions check`` wants
both the study and the walk's figures, and the walk is most of the cost, so this gives them
together instead of walking once to validate and again to report.
"""

from __future__ import annotations

from pathlib import Path

from .build import build
from .check import WalkReport, check_flow
from .errors import Problem, StudyError
from .model import Study
from .sheets import SHEETS


def validate_study(folder: str | Path) -> tuple[Study, WalkReport]:
    """Build the study in ``folder``, walk every route, and return both.

    :raises StudyError: listing every problem in the sheets, or, when the sheets are fine, every
        problem the walk found.
    """
    study, collector = build(Path(folder))
    report = None
    if study is not None and not collector.problems:
        report = check_flow(study)
        collector.problems.extend(report.problems)
    if collector.problems or study is None or report is None:
        raise StudyError(sorted(collector.problems, key=problem_order))
    return study, report


def problem_order(problem: Problem) -> tuple[int, str, int]:
    """Sheets in the order a study team fills them in, then rows top to bottom."""
    sheet = problem.path.rsplit("/", 1)[-1].removesuffix(".csv")
    order = SHEETS.index(sheet) if sheet in SHEETS else len(SHEETS)
    return (order, problem.path, problem.row or 0)

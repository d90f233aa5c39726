"""Load a study and walk every route through it, once.

Building a study only reads its sheets; the path walk (:mod:`.check`) is what finds a question no
route reaches or a rule that meets values it cannot combine. ``prescreen questions check`` wants
both the study and the walk's figures, and the walk is most of the cost, so this gives them
together instead of walking once to validate and again to report. The walk is also what tells
which criteria a family can see needing review, so that wording is checked here.
"""

from __future__ import annotations

from pathlib import Path

from .build import build
from .check import WalkReport, check_flow, display_path_for
from .errors import Problem, StudyError
from .model import Study
from .sheets import SHEETS
from .vocab import FAMILY_TEXTS, LANGS, REVIEW, VOICES


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
        if not report.problems:
            collector.problems.extend(review_wording(study, report))
    if collector.problems or study is None or report is None:
        raise StudyError(sorted(collector.problems, key=problem_order))
    return study, report


def problem_order(problem: Problem) -> tuple[int, str, int]:
    """Sheets in the order a study team fills them in, then rows top to bottom."""
    last = problem.path.rsplit("/", 1)[-1]  # "<sheet>.csv", or "<file>.xlsx:<sheet>" in a workbook
    sheet = last.rsplit(":", 1)[-1] if ".xlsx:" in last else last.removesuffix(".csv")
    order = SHEETS.index(sheet) if sheet in SHEETS else len(SHEETS)
    return (order, problem.path, problem.row or 0)


def review_wording(study: Study, report: WalkReport) -> list[Problem]:
    """Each ``review::…`` cell left empty although a family can finish with that criterion needing review.

    Whether one can is decided by the walk of every route (:attr:`.check.WalkReport.family_statuses`),
    not by reading the rules: "needs review" is what is left when no rule is true, and whether some
    answers leave every rule false depends on the whole questionnaire. The walk may, rarely, count a
    status only a route that later ends "not eligible" would give; it never misses one a family reads.
    """
    path = display_path_for(study, "criteria")
    prefix = FAMILY_TEXTS[REVIEW]
    problems = []
    for criterion in study.criteria:
        if REVIEW not in report.family_statuses.get(criterion.id, ()):
            continue
        for voice in VOICES:
            for lang in LANGS:
                if not criterion.family(REVIEW, voice, lang):
                    problems.append(
                        Problem(
                            path,
                            criterion.row,
                            f"{prefix}::{voice}::{lang}",
                            f"empty {lang} cell: a family can finish with '{criterion.id}' needing review "
                            "(e.g. after answering 'not sure'), and then reads this",
                        )
                    )
    return problems

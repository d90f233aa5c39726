"""The questionnaire engine: pure Python, no web framework or database.

It loads a study from CSV sheets, validates it, and answers one question for any caller (the web
app, the CLI, tests): given these answers, what comes next, and what does it mean for
eligibility? Keeping it free of Flask and SQLite lets us test it exhaustively and reuse it.
"""

from .check import WalkReport, check_flow
from .errors import AnswerError, EvaluationError, ExpressionError, Problem, StudyError
from .expr import compile_expression
from .flow import Flow, Outcome, Reason, State
from .load import Category, load_categories, load_studies, load_study, study_folders
from .model import (
    CONFIRM,
    LIKELY_ELIGIBLE,
    MET,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    NOT_MET,
    OUTCOMES,
    REVIEW,
    STATUSES,
    Choice,
    Criterion,
    Month,
    Question,
    Study,
)

__all__ = [
    "CONFIRM",
    "LIKELY_ELIGIBLE",
    "MET",
    "NEEDS_REVIEW",
    "NOT_ELIGIBLE",
    "NOT_MET",
    "OUTCOMES",
    "REVIEW",
    "STATUSES",
    "AnswerError",
    "Category",
    "Choice",
    "Criterion",
    "EvaluationError",
    "ExpressionError",
    "Flow",
    "Month",
    "Outcome",
    "Problem",
    "Question",
    "Reason",
    "State",
    "Study",
    "StudyError",
    "WalkReport",
    "check_flow",
    "compile_expression",
    "load_categories",
    "load_studies",
    "load_study",
    "study_folders",
]

"""The questionnaire engine: pure Python, no web framework or database.

It loads a study from CSV sheets or one workbook, validates it, and answers one question for any caller (the
web app, the CLI, tests): given these answers, what comes next, and what does it mean for
eligibility? Keeping it free of Flask and SQLite lets us test it exhaustively and reuse it.
"""

from .categories import Category, load_categories
from .check import WalkReport, check_flow
from .errors import EXPRESSION_CODES, AnswerError, EvaluationError, ExpressionError, Problem, StudyError
from .explain import Explanation, explain
from .expr import compile_expression
from .flow import Flow
from .load import export_workbook, is_study_folder, load_studies, load_study, study_folders
from .model import Choice, Criterion, Month, Question, Study
from .outcome import Outcome, Reason, State
from .types import QUESTION_TYPES, QuestionType
from .validate import validate_study
from .vocab import (
    CONFIRM,
    FAMILY_TEXTS,
    LIKELY_ELIGIBLE,
    MET,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    NOT_MET,
    OUTCOMES,
    REVIEW,
    STATUSES,
)

__all__ = [
    "CONFIRM",
    "EXPRESSION_CODES",
    "FAMILY_TEXTS",
    "LIKELY_ELIGIBLE",
    "MET",
    "NEEDS_REVIEW",
    "NOT_ELIGIBLE",
    "NOT_MET",
    "OUTCOMES",
    "QUESTION_TYPES",
    "REVIEW",
    "STATUSES",
    "AnswerError",
    "Category",
    "Choice",
    "Criterion",
    "EvaluationError",
    "Explanation",
    "ExpressionError",
    "Flow",
    "Month",
    "Outcome",
    "Problem",
    "Question",
    "QuestionType",
    "Reason",
    "State",
    "Study",
    "StudyError",
    "WalkReport",
    "check_flow",
    "compile_expression",
    "explain",
    "export_workbook",
    "is_study_folder",
    "load_categories",
    "load_studies",
    "load_study",
    "study_folders",
    "validate_study",
]

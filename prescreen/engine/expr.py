"""The small, safe expression language of ``show_if`` and criterion rules.

Sheets are edited by study teams, so expressions are untrusted text. We parse them with
:mod:`ast` and accept only a whitelist of node types, each compiled into a closure
(:mod:`.compiler`); nothing is ever passed to ``eval``. Static types are inferred while compiling
so a rule that compares a month with a number fails the study check instead of a family's
screening.

Evaluation is three-valued: an unanswered question is ``None`` ("unknown") and so is anything
computed from it, combined with Kleene logic, so a rule never decides on a question not asked.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compiler import FUNCTIONS, RESPONDENT, Compiler, Env, Fn, article
from .errors import EvaluationError, ExpressionError, suggest
from .types import VALUE_TYPES

__all__ = [
    "FUNCTIONS",
    "RESPONDENT",
    "VALUE_TYPES",
    "Env",
    "Expression",
    "compile_expression",
    "suggest",
]


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled expression and what it refers to (for the validator and the path walk)."""

    source: str
    type: str
    names: frozenset[str]
    options: tuple[tuple[str, str], ...]
    numbers: frozenset[int]
    age_names: frozenset[str]
    fn: Fn

    def __call__(self, env: Env) -> Any:
        return self.fn(env)

    def is_true(self, env: Env) -> bool:
        return self.fn(env) is True


def compile_expression(source: str, types: Mapping[str, str], want: str = "bool") -> Expression:
    """Parse and type-check ``source`` against question ``types`` (id -> question type).

    ``want`` is the type the caller needs: ``bool`` for conditions, ``month`` for re-check rules.

    :raises ExpressionError: with a message fit to show a study author.
    """
    text = source.strip()
    if len(text) > 2000:
        raise ExpressionError("expression is too long (over 2000 characters)", "syntax")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        column = f" at character {error.offset}" if error.offset else ""
        raise ExpressionError(f"syntax error{column}: {error.msg}", "syntax") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("expression cannot be read", "syntax") from None
    compiler = Compiler(types)
    try:
        kind, fn = compiler.compile(tree.body)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply", "syntax") from None
    if kind != want:
        raise ExpressionError(
            f"this must give {article(want)}, but gives {article(kind)}"
            + (" (compare it, e.g. x == 'yes')" if want == "bool" else ""),
            "type_mismatch",
        )

    def guarded(env: Env) -> Any:
        try:
            return fn(env)
        except TypeError as error:  # values of a type the study did not expect
            raise EvaluationError(f"{text}: {error}") from None

    return Expression(
        source=text,
        type=kind,
        names=frozenset(compiler.names),
        options=tuple(compiler.options),
        numbers=frozenset(compiler.numbers),
        age_names=frozenset(compiler.age_names),
        fn=guarded,
    )

"""The small, safe expression language of ``show_if`` and criterion rules.

Sheets are edited by study teams, so expressions are untrusted text. We parse them with
:mod:`ast` and accept only a whitelist of node types, each compiled into a closure; nothing is
ever passed to ``eval``. Static types are inferred while compiling so a rule that compares a
month with a number fails the study check instead of a family's screening.

Evaluation is three-valued: an unanswered question is ``None`` ("unknown") and so is anything
computed from it, combined with Kleene logic, so a rule never decides on a question not asked.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import EvaluationError, ExpressionError
from .model import VOICES, Month

Fn = Callable[["Env"], Any]

#: question type -> expression type
VALUE_TYPES = {"single": "text", "multiple": "set", "number": "number", "month": "month"}
FUNCTIONS = ("age", "months_since", "count", "answered")
RESPONDENT = "respondent"


@dataclass
class Env:
    """What an expression can see: answers so far, who answers, and the screening's month."""

    values: Mapping[str, Any]
    respondent: str
    month: Month
    exclusive: Mapping[str, frozenset[str]] = field(default_factory=dict)


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


def suggest(word: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str:
    """ " (did you mean 'x'?)" when a close candidate exists, else ""."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Compiler:
    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = types
        self.names: set[str] = set()
        self.options: list[tuple[str, str]] = []
        self.numbers: set[int] = set()
        self.age_names: set[str] = set()

    # -- entry ------------------------------------------------------------------------------
    def compile(self, node: ast.AST) -> tuple[str, Fn]:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ExpressionError(f"'{_describe(node)}' is not allowed in an expression")
        return method(node)

    # -- leaves -----------------------------------------------------------------------------
    def _Name(self, node: ast.Name) -> tuple[str, Fn]:
        name = node.id
        if name == RESPONDENT:
            return "text", lambda env: env.respondent
        if name in ("true", "True", "false", "False", "None", "null"):
            raise ExpressionError(f"'{name}' is not allowed; compare an answer instead")
        if name not in self.types:
            candidates = [*self.types, RESPONDENT]
            raise ExpressionError(f"unknown question '{name}'{suggest(name, candidates)}")
        self.names.add(name)
        return VALUE_TYPES[self.types[name]], lambda env: env.values.get(name)

    def _Constant(self, node: ast.Constant) -> tuple[str, Fn]:
        value = node.value
        if isinstance(value, str):
            return "text", lambda env: value
        if isinstance(value, int) and not isinstance(value, bool):
            self.numbers.add(value)
            return "number", lambda env: value
        raise ExpressionError(f"{value!r} is not allowed; use text in quotes ('yes') or a whole number")

    def _Tuple(self, node: ast.Tuple) -> tuple[str, Fn]:
        items = []
        for element in node.elts:
            if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
                raise ExpressionError("a list of options may hold only text in quotes")
            items.append(element.value)
        frozen = frozenset(items)
        return "tuple", lambda env: frozen

    _List = _Tuple  # ['a', 'b'] reads the same as ('a', 'b') to a spreadsheet author

    # -- logic ------------------------------------------------------------------------------
    def _BoolOp(self, node: ast.BoolOp) -> tuple[str, Fn]:
        parts = [self._boolean(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def both(env: Env) -> bool | None:
                result: bool | None = True
                for part in parts:
                    value = part(env)
                    if value is False:
                        return False
                    if value is None:
                        result = None
                return result

            return "bool", both

        def either(env: Env) -> bool | None:
            result: bool | None = False
            for part in parts:
                value = part(env)
                if value is True:
                    return True
                if value is None:
                    result = None
            return result

        return "bool", either

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[str, Fn]:
        if isinstance(node.op, ast.Not):
            inner = self._boolean(node.operand)
            return "bool", lambda env: None if (v := inner(env)) is None else not v
        if isinstance(node.op, ast.USub):
            kind, inner = self.compile(node.operand)
            if kind != "number":
                raise ExpressionError("'-' works only on numbers")
            return "number", lambda env: None if (v := inner(env)) is None else -v
        raise ExpressionError(f"'{_describe(node)}' is not allowed in an expression")

    def _boolean(self, node: ast.AST) -> Fn:
        kind, fn = self.compile(node)
        if kind != "bool":
            raise ExpressionError(
                f"'{_describe(node)}' is not a condition; compare it, e.g. {_describe(node)} == 'yes'"
            )
        return fn

    # -- arithmetic -------------------------------------------------------------------------
    def _BinOp(self, node: ast.BinOp) -> tuple[str, Fn]:
        if not isinstance(node.op, ast.Add | ast.Sub):
            raise ExpressionError("only + and - are allowed in arithmetic")
        lt, left = self.compile(node.left)
        rt, right = self.compile(node.right)
        add = isinstance(node.op, ast.Add)
        result = {
            ("number", "number"): "number",
            ("month", "number"): "month",
            ("number", "month"): "month" if add else None,
            ("month", "month"): None if add else "number",
        }.get((lt, rt))
        if result is None:
            raise ExpressionError(
                f"cannot {'add' if add else 'subtract'} {_article(rt)} {'to' if add else 'from'} {_article(lt)}"
            )

        def arith(env: Env) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            return a + b if add else a - b

        return result, arith

    # -- comparisons ------------------------------------------------------------------------
    def _Compare(self, node: ast.Compare) -> tuple[str, Fn]:
        operands = [node.left, *node.comparators]
        compiled = [self.compile(o) for o in operands]
        checks: list[Callable[[Any, Any], bool]] = []
        for i, op in enumerate(node.ops):
            (lt, _), (rt, _) = compiled[i], compiled[i + 1]
            checks.append(self._comparison(op, lt, rt))
            self._note_options(operands[i], operands[i + 1])
        fns = [fn for _, fn in compiled]
        if len(checks) == 1:  # ``a == b``, by far the commonest: no lists or loop per call
            (check,), (left, right) = checks, fns

            def compare_two(env: Env) -> bool | None:
                a, b = left(env), right(env)
                if a is None or b is None:
                    return None
                return bool(check(a, b))

            return "bool", compare_two

        def compare(env: Env) -> bool | None:
            values = [fn(env) for fn in fns]
            result: bool | None = True
            for i, check in enumerate(checks):
                a, b = values[i], values[i + 1]
                if a is None or b is None:
                    result = None
                    continue
                if not check(a, b):
                    return False
            return result

        return "bool", compare

    def _comparison(self, op: ast.cmpop, lt: str, rt: str) -> Callable[[Any, Any], bool]:
        if isinstance(op, ast.Eq | ast.NotEq):
            if lt == rt and lt in ("text", "number", "month", "set"):
                eq = _equal
            elif {lt, rt} == {"set", "text"}:
                eq = _set_equals_text
            else:
                raise ExpressionError(f"cannot compare {_article(lt)} with {_article(rt)}")
            if isinstance(op, ast.Eq):
                return eq
            return lambda a, b: not eq(a, b)
        if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            if lt != rt or lt not in ("number", "month"):
                raise ExpressionError(
                    f"cannot order {_article(lt)} and {_article(rt)}; use months_since() or age() "
                    "to turn a month into a number"
                )
            return {
                ast.Lt: lambda a, b: a < b,
                ast.LtE: lambda a, b: a <= b,
                ast.Gt: lambda a, b: a > b,
                ast.GtE: lambda a, b: a >= b,
            }[type(op)]
        if isinstance(op, ast.In | ast.NotIn):
            if lt == "text" and rt in ("tuple", "set"):
                contains = _member
            elif lt == "set" and rt == "tuple":
                contains = _subset
            else:
                raise ExpressionError(
                    f"'in' needs text on the left and a list of options or a tick-all answer on "
                    f"the right, not {_article(lt)} and {_article(rt)}"
                )
            if isinstance(op, ast.In):
                return contains
            return lambda a, b: not contains(a, b)
        raise ExpressionError(f"'{type(op).__name__}' comparisons are not allowed")

    def _note_options(self, a: ast.AST, b: ast.AST) -> None:
        """Remember (question, option) pairs so the validator can check the option exists."""
        for name_node, other in ((a, b), (b, a)):
            if not isinstance(name_node, ast.Name):
                continue
            literals: list[str] = []
            if isinstance(other, ast.Constant) and isinstance(other.value, str):
                literals = [other.value]
            elif isinstance(other, ast.Tuple | ast.List):
                literals = [e.value for e in other.elts if isinstance(e, ast.Constant)]
            for literal in literals:
                if name_node.id == RESPONDENT:
                    if literal not in VOICES:
                        raise ExpressionError(
                            f"respondent is 'guardian' or 'patient', not '{literal}'{suggest(literal, VOICES)}"
                        )
                else:
                    self.options.append((name_node.id, literal))

    # -- functions --------------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> tuple[str, Fn]:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ExpressionError("only age(), months_since(), count() and answered() can be called")
        func = node.func.id
        if func not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{func}'{suggest(func, FUNCTIONS)}")
        if not node.args or not isinstance(node.args[0], ast.Name):
            raise ExpressionError(f"{func}() takes a question id first, e.g. {func}(dob)")
        name = node.args[0].id
        kind, value_of = self._Name(node.args[0])
        extra = node.args[1:]
        if func == "answered":
            if extra:
                raise ExpressionError("answered() takes one question id")
            return "bool", lambda env: name in env.values
        if func in ("age", "months_since"):
            if kind != "month" or extra:
                raise ExpressionError(f"{func}() takes one month question, e.g. {func}(dob)")
            if func == "age":
                self.age_names.add(name)
                return "number", lambda env: None if (v := value_of(env)) is None else (env.month - v) // 12
            return "number", lambda env: None if (v := value_of(env)) is None else env.month - v
        # count
        if kind != "set":
            raise ExpressionError("count() takes a tick-all-that-apply question")
        wanted: list[str] = []
        for arg in extra:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ExpressionError("count() options must be text in quotes")
            wanted.append(arg.value)
            self.options.append((name, arg.value))
        if wanted:
            chosen = frozenset(wanted)
            return "number", lambda env: None if (v := value_of(env)) is None else len(v & chosen)
        return (
            "number",
            lambda env: None if (v := value_of(env)) is None else len(v - env.exclusive.get(name, frozenset())),
        )


def _equal(a: Any, b: Any) -> bool:
    return a == b


def _set_equals_text(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        a, b = b, a
    return a == frozenset((b,))


def _member(a: Any, b: Any) -> bool:
    return a in b


def _subset(a: Any, b: Any) -> bool:
    return a <= b


def _article(kind: str) -> str:
    return {
        "text": "text",
        "number": "a number",
        "month": "a month",
        "set": "a tick-all answer",
        "tuple": "a list of options",
        "bool": "a condition",
    }.get(kind, kind)


def _describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only used to word an error message
        return type(node).__name__


def compile_expression(source: str, types: Mapping[str, str], want: str = "bool") -> Expression:
    """Parse and type-check ``source`` against question ``types`` (id -> question type).

    ``want`` is the type the caller needs: ``bool`` for conditions, ``month`` for re-check rules.

    :raises ExpressionError: with a message fit to show a study author.
    """
    text = source.strip()
    if len(text) > 2000:
        raise ExpressionError("expression is too long (over 2000 characters)")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        column = f" at character {error.offset}" if error.offset else ""
        raise ExpressionError(f"syntax error{column}: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("expression cannot be read") from None
    compiler = _Compiler(types)
    try:
        kind, fn = compiler.compile(tree.body)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None
    if kind != want:
        raise ExpressionError(
            f"this must give {_article(want)}, but gives {_article(kind)}"
            + (" (compare it, e.g. x == 'yes')" if want == "bool" else "")
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

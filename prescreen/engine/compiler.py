"""Compile one expression's syntax tree into closures, checking types on the way.

Each whitelisted :mod:`ast` node type has one method that returns ``(static type, closure)``;
any other node is refused, so nothing a study team writes is ever evaluated as Python. Static
types are worked out here so that a rule comparing a month with a number fails the study check,
not a family's screening. :func:`.expr.compile_expression` is the way in.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ExpressionError, suggest
from .month import Month
from .types import VALUE_TYPES
from .vocab import VOICES

Fn = Callable[["Env"], Any]

FUNCTIONS = ("age", "months_since", "count", "answered")
RESPONDENT = "respondent"


@dataclass
class Env:
    """What an expression can see: answers so far, who answers, and the screening's month."""

    values: Mapping[str, Any]
    respondent: str
    month: Month
    exclusive: Mapping[str, frozenset[str]] = field(default_factory=dict)


class Compiler:
    """Compiles one expression against question types (id -> question type), noting what it reads."""

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
            raise ExpressionError(f"'{describe(node)}' is not allowed in an expression")
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
            raise ExpressionError(f"unknown question '{name}'{suggest(name, candidates)}", "unknown_name", name=name)
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
                raise ExpressionError("'-' works only on numbers", "type_mismatch")
            return "number", lambda env: None if (v := inner(env)) is None else -v
        raise ExpressionError(f"'{describe(node)}' is not allowed in an expression")

    def _boolean(self, node: ast.AST) -> Fn:
        kind, fn = self.compile(node)
        if kind != "bool":
            raise ExpressionError(
                f"'{describe(node)}' is not a condition; compare it, e.g. {describe(node)} == 'yes'", "type_mismatch"
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
                f"cannot {'add' if add else 'subtract'} {article(rt)} {'to' if add else 'from'} {article(lt)}",
                "type_mismatch",
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
                raise ExpressionError(f"cannot compare {article(lt)} with {article(rt)}", "type_mismatch")
            if isinstance(op, ast.Eq):
                return eq
            return lambda a, b: not eq(a, b)
        if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            if lt != rt or lt not in ("number", "month"):
                raise ExpressionError(
                    f"cannot order {article(lt)} and {article(rt)}; use months_since() or age() "
                    "to turn a month into a number",
                    "type_mismatch",
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
                    f"the right, not {article(lt)} and {article(rt)}",
                    "type_mismatch",
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
                            f"respondent is 'guardian' or 'patient', not '{literal}'{suggest(literal, VOICES)}",
                            "unknown_option",
                        )
                else:
                    self.options.append((name_node.id, literal))

    # -- functions --------------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> tuple[str, Fn]:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ExpressionError("only age(), months_since(), count() and answered() can be called")
        func = node.func.id
        if func not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{func}'{suggest(func, FUNCTIONS)}", "unknown_function")
        if not node.args or not isinstance(node.args[0], ast.Name):
            raise ExpressionError(f"{func}() takes a question id first, e.g. {func}(dob)", "bad_call")
        name = node.args[0].id
        kind, value_of = self._Name(node.args[0])
        extra = node.args[1:]
        if func == "answered":
            if extra:
                raise ExpressionError("answered() takes one question id", "bad_call")
            return "bool", lambda env: name in env.values
        if func in ("age", "months_since"):
            if kind != "month" or extra:
                raise ExpressionError(f"{func}() takes one month question, e.g. {func}(dob)", "bad_call")
            if func == "age":
                self.age_names.add(name)
                return "number", lambda env: None if (v := value_of(env)) is None else (env.month - v) // 12
            return "number", lambda env: None if (v := value_of(env)) is None else env.month - v
        # count
        if kind != "set":
            raise ExpressionError("count() takes a tick-all-that-apply question", "bad_call")
        wanted: list[str] = []
        for arg in extra:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ExpressionError("count() options must be text in quotes", "bad_call")
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


def article(kind: str) -> str:
    return {
        "text": "text",
        "number": "a number",
        "month": "a month",
        "set": "a tick-all answer",
        "tuple": "a list of options",
        "bool": "a condition",
    }.get(kind, kind)


def describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only used to word an error message
        return type(node).__name__

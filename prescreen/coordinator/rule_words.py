"""A show-if or rule expression in words a study nurse reads: ``Q2 is not “No” or “Only DM”``.

Study teams write ``diagnosis not in ('no', 'dm_only')``; the branching picture says it with the
question's number and the options' labels in the page's language. Only the shapes studies use are
worded (and, or, not, comparisons with an answer, the four functions); anything else raises
:class:`Unworded` and the caller shows the expression as written. Pure Python: the phrases come
in ``words`` (the page translates them), so nothing here needs Flask.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

from ..engine import Question, Study

#: How a comparison is written between a thing and a number (the same in both languages).
SYMBOLS = {ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">", ast.GtE: "≥", ast.Eq: "=", ast.NotEq: "≠"}
#: The mirror of each comparison, for ``5 > age(dob)`` read as ``age(dob) < 5``.
MIRROR = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


#: A list of more options than this names each by the start of its label ("Methotrexate", not
#: "Methotrexate (MTX)"), so a count over ten medicines stays a few lines.
LONG_LIST = 3
#: An option label longer than this is named by its start too ("Another biologic").
LONG_LABEL = 30


def short(label: str) -> str:
    """The start of an option's label, up to its first bracket or comma (when that leaves a word)."""
    cut = min((i for i in (label.find(m) for m in (" (", "（", "(", ", ", "，", "、")) if i >= 4), default=len(label))
    return label[:cut]


class Unworded(ValueError):
    """An expression shape this module does not put in words (the caller shows it as written)."""


class RuleWords:
    """Words expressions of one study in one language.

    ``words`` holds the phrases (keys as in :data:`PHRASE_KEYS`), with ``{q}``, ``{value}``,
    ``{values}``, ``{op}``, ``{n}``, ``{a}`` and ``{b}`` to fill; ``number`` gives a question's
    number as the picture shows it (``Q2``).
    """

    def __init__(self, study: Study, lang: str, words: Mapping[str, str], number: Callable[[str], str]) -> None:
        self.study = study
        self.lang = lang
        self.words = words
        self.number = number

    def say(self, source: str) -> str:
        """``source`` in words, or :class:`Unworded` when its shape is not one this module knows."""
        try:
            tree = ast.parse(source, mode="eval").body
        except SyntaxError:
            raise Unworded(source) from None
        return self._say(tree, top=True)

    def disjuncts(self, source: str) -> list[ast.expr]:
        """The parts of ``a or b or c`` (the whole expression when it is not an ``or``)."""
        tree = ast.parse(source, mode="eval").body
        if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.Or):
            return list(tree.values)
        return [tree]

    def say_node(self, node: ast.expr) -> str:
        return self._say(node, top=True)

    # -- pieces -----------------------------------------------------------------------------
    def _say(self, node: ast.expr, top: bool = False) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = self.words["and"] if isinstance(node.op, ast.And) else self.words["or"]
            parts = [self._say(v) for v in node.values]
            text = joiner.join(parts)
            return text if top else self.words["group"].format(a=text)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.words["not"].format(a=self._say(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self._compare(node.left, node.ops[0], node.comparators[0])
        if isinstance(node, ast.Call):
            name, args = self._call(node)
            if name == "answered" and len(args) == 1:
                return self.words["answered"].format(q=self._question(args[0]))
        raise Unworded(ast.unparse(node))

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
        if isinstance(op, ast.In | ast.NotIn):
            negated = isinstance(op, ast.NotIn)
            if isinstance(right, ast.Tuple | ast.List):  # diagnosis in ('no', 'dm_only')
                qid = self._name(left)
                values = self._values(qid, [self._constant(e) for e in right.elts])
                key = "is_none_of" if negated else "is_one_of"
                return self.words[key].format(q=self._question(left), values=values)
            # 'none' in drugs: an option ticked (or not) on a tick-all question
            qid = self._name(right)
            value = self._values(qid, [self._constant(left)])
            return self.words["not_ticked" if negated else "ticked"].format(q=self._question(right), value=value)
        if isinstance(left, ast.Constant) and not isinstance(right, ast.Constant):
            left, right, op = right, left, MIRROR[type(op)]()
        if isinstance(op, ast.Eq | ast.NotEq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
            if isinstance(left, ast.Name) and left.id == "respondent":
                who = self.words[f"respondent_{right.value}"]
                return who if isinstance(op, ast.Eq) else self.words["not"].format(a=who)
            qid = self._name(left)
            value = self._values(qid, [right.value])
            return self.words["is" if isinstance(op, ast.Eq) else "is_not"].format(q=self._question(left), value=value)
        if type(op) in SYMBOLS and isinstance(right, ast.Constant) and isinstance(right.value, int):
            return self._measure(left).format(op=SYMBOLS[type(op)], n=right.value)
        raise Unworded(ast.unparse(left))

    def _measure(self, node: ast.expr) -> str:
        """A number-valued thing with ``{op}`` and ``{n}`` left to fill: age, months since, a count."""
        if isinstance(node, ast.Name):
            return self.words["number"].format(q=self._question(node), op="{op}", n="{n}")
        if isinstance(node, ast.Call):
            name, args = self._call(node)
            if name == "age" and len(args) == 1:
                return self.words["age"].format(q=self._question(args[0]), op="{op}", n="{n}")
            if name == "months_since" and len(args) == 1:
                return self.words["months_since"].format(q=self._question(args[0]), op="{op}", n="{n}")
            if name == "count" and args:
                qid = self._name(args[0])
                if len(args) == 1:
                    return self.words["count_all"].format(q=self._question(args[0]), op="{op}", n="{n}")
                counted = [self._constant(a) for a in args[1:]]
                plain = self.study.question(qid).plain_values
                left_out = [v for v in plain if v not in counted]
                if set(counted) == set(plain):
                    return self.words["count_all"].format(q=self._question(args[0]), op="{op}", n="{n}")
                if set(counted) <= set(plain) and len(left_out) < len(counted):  # "all but the steroid"
                    values = self._values(qid, left_out)
                    return self.words["count_except"].format(
                        q=self._question(args[0]), values=values, op="{op}", n="{n}"
                    )
                values = self._values(qid, counted)
                return self.words["count"].format(q=self._question(args[0]), values=values, op="{op}", n="{n}")
        raise Unworded(ast.unparse(node))

    @staticmethod
    def _call(node: ast.Call) -> tuple[str, list[ast.expr]]:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise Unworded(ast.unparse(node))
        return node.func.id, list(node.args)

    def _name(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name) and self.study.has_question(node.id):
            return node.id
        raise Unworded(ast.unparse(node))

    def _question(self, node: ast.expr) -> str:
        return self.number(self._name(node))

    @staticmethod
    def _constant(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        raise Unworded(ast.unparse(node))

    def label(self, question: Question, value: str) -> str:
        """An option's label, or the start of it when it is long (the full label is on the form)."""
        choice = question.choice(value)
        label = choice.label(self.lang) if choice else value
        return short(label) if len(label) > LONG_LABEL else label

    def _values(self, qid: str, values: list[str]) -> str:
        """Option labels in quotes, joined with "or" (the value itself when the list lacks it)."""
        question = self.study.question(qid)
        labels = []
        for value in values:
            choice = question.choice(value)
            label = choice.label(self.lang) if choice else value
            if len(values) > LONG_LIST or len(label) > LONG_LABEL:
                label = short(label)
            labels.append(self.words["quoted"].format(a=label))
        return self.words["or"].join(labels)


#: The phrases :class:`RuleWords` needs (the page gives each in its language).
PHRASE_KEYS = (
    "and",
    "or",
    "group",
    "not",
    "quoted",
    "is",
    "is_not",
    "is_one_of",
    "is_none_of",
    "ticked",
    "not_ticked",
    "answered",
    "respondent_guardian",
    "respondent_patient",
    "number",
    "age",
    "months_since",
    "count",
    "count_all",
    "count_except",
)

"""A study's branching as a picture a study nurse can follow: one box per question, top to bottom.

Each box holds the question's number and wording, then (when it has one) the condition that makes
the form ask it, then the answers that end in "not eligible" (with the listing's reason) or in
"needs review"; the three outcomes close the picture. :func:`steps` works out what each box says
(pure Python over the engine's model); :func:`layout` places it as in :mod:`.charts` (x and widths
in percent, heights in pixels, text wrapped here because SVG text does not wrap), so the same SVG
fills a phone or a desktop column with 14 px text. The phrases come in ``words`` from the page, so
nothing here needs Flask.

Which answers knock out is read from the rules, not guessed: a single-choice question's options
are each tried on the criterion's rules (with the other answers unknown, a "not met" is certain);
any other part of a ``not_met_if`` (a month, a tick-all list) is put in words and shown under the
last question it reads. "Needs review" is shown where one question alone decides it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..engine import Criterion, Flow, Month, Question, Study
from ..engine.expr import Env
from ..engine.vocab import NOT_MET, REVIEW
from .charts import wrap
from .rule_words import RuleWords, Unworded

#: A text line (px) and the room around a box's text.
LINE = 18
PAD = 8
#: The gap between two boxes, where the arrow is drawn.
GAP = 26
#: The question's wording is cut after this many lines (the text list beside the picture has it whole).
TITLE_LINES = 3
#: Characters per line (a CJK character counts 1) for a phone column and for a desktop one.
NARROW = 23.0
WIDE = 46.0
#: The tallest part of the picture drawn as one SVG (px): less than an A4 page's printable height.
PART = 880
#: How many more characters a 13 px line holds than a 14 px one.
SMALL = 14 / 13
#: Any screening month will do: the rules tried here read one choice question, never the date.
SOME_MONTH = Month.of(date(2000, 1, 1))


@dataclass
class Step:
    """What one question's box says (each text whole; :func:`layout` wraps them)."""

    number: int
    question: Question
    title: str
    condition: str = ""
    #: "Q3–Q38 are asked only if …": conditions shared by this question and the ones after it
    banners: list[str] = field(default_factory=list)
    knockouts: list[str] = field(default_factory=list)
    reviews: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ending:
    """One of the three outcomes at the foot of the picture."""

    status: str
    title: str
    text: str


def _single(question: Question) -> bool:
    return question.type == "single"


def _status(criterion: Criterion, values: Mapping[str, object], exclusive: Mapping[str, frozenset[str]]) -> str:
    """The criterion's status with only ``values`` answered (a "not met" then holds whatever comes after)."""
    env = Env(values=values, respondent="guardian", month=SOME_MONTH, exclusive=exclusive)
    return Flow.status(criterion, env)


def _names(node: ast.expr, study: Study) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and study.has_question(n.id)}


def _conjuncts(question: Question) -> list[ast.expr]:
    """The parts of a show-if ``a and b and c`` (the whole condition when it is not an ``and``)."""
    if question.show_if is None:
        return []
    tree = ast.parse(question.show_if.source, mode="eval").body
    return list(tree.values) if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]


def _equalities(parts: list[ast.expr]) -> dict[str, str]:
    """``name == 'value'`` parts of a condition: the answers a question's being asked implies."""
    out = {}
    for part in parts:
        if (
            isinstance(part, ast.Compare)
            and len(part.ops) == 1
            and isinstance(part.ops[0], ast.Eq)
            and isinstance(part.left, ast.Name)
            and isinstance(part.comparators[0], ast.Constant)
            and isinstance(part.comparators[0].value, str)
        ):
            out[part.left.id] = part.comparators[0].value
    return out


#: A run of at least this many questions sharing a condition gets it said once, above the first.
SHARED_RUN = 3


class _Reader:
    """Works out the steps of one study in one language."""

    def __init__(self, study: Study, lang: str, words: Mapping[str, str]) -> None:
        self.study = study
        self.lang = lang
        self.words = words
        self.position = {q.id: i + 1 for i, q in enumerate(study.questions)}
        self.rules = RuleWords(study, lang, words, lambda qid: words["q"].format(n=self.position[qid]))
        self.exclusive = {q.id: q.exclusive_values for q in study.questions}
        #: question id -> the answers that leave criteria open -> those criteria's labels
        self.reviews: dict[str, dict[str, list[str]]] = {}

    def say(self, parts: list[ast.expr]) -> str:
        """A condition's parts in words, joined with "and" (a part not worded is shown as written)."""
        said = []
        for part in parts:
            try:
                said.append(self.rules.say_node(part))
            except Unworded:
                said.append(ast.unparse(part))
        return self.words["and"].join(said)

    def conditions(self, steps: list[Step]) -> None:
        """Each step's condition; one shared by a run of questions is said once, above the run."""
        parts = [_conjuncts(step.question) for step in steps]
        keys = [[ast.dump(p) for p in these] for these in parts]
        covered: list[set[str]] = [set() for _ in steps]
        for i, step in enumerate(steps):
            for part, key in zip(parts[i], keys[i], strict=True):
                if key in covered[i]:
                    continue
                end = i
                while end + 1 < len(steps) and key in keys[end + 1]:
                    end += 1
                if end - i + 1 < SHARED_RUN:
                    continue
                for j in range(i, end + 1):
                    covered[j].add(key)
                first, last = self.words["q"].format(n=step.number), self.words["q"].format(n=steps[end].number)
                step.banners.append(self.words["shared_if"].format(first=first, last=last, condition=self.say([part])))
            rest = [p for p, k in zip(parts[i], keys[i], strict=True) if k not in covered[i]]
            if rest:
                step.condition = self.words["asked_if"].format(condition=self.say(rest))

    def answers(self, question: Question, values: list[str]) -> str:
        labels = [self.words["quoted"].format(a=self.rules.label(question, v)) for v in values]
        return self.words["answer_is"].format(values=self.words["or"].join(labels))

    def knockout(self, criterion: Criterion, when: str) -> str:
        key = "knockout_for_now" if criterion.waiting_period else "knockout"
        return self.words[key].format(when=when, reason=criterion.reason(self.lang))

    def criterion_lines(self, criterion: Criterion, steps: Mapping[str, Step]) -> None:
        """Add ``criterion``'s knock-outs and reviews to the steps of the questions that decide them."""
        read = [q for q in self.study.questions if q.id in criterion.names]
        for question in read:
            if not question.choices:
                continue
            # the other answers this criterion reads are unknown, unless asking this question implies them
            known = {k: v for k, v in _equalities(_conjuncts(question)).items() if k in criterion.names}
            alone = set(criterion.names) <= {question.id, *known}
            if _single(question):
                tried = {v: _status(criterion, {**known, question.id: v}, self.exclusive) for v in question.values}
            elif alone:  # a tick-all list, one option at a time; its knock-outs are worded below
                tried = {
                    v: _status(criterion, {**known, question.id: frozenset((v,))}, self.exclusive)
                    for v in question.values
                }
                tried = {v: s for v, s in tried.items() if s == REVIEW}
            else:
                continue
            out = [v for v, s in tried.items() if s == NOT_MET]
            if out:
                _add(steps[question.id].knockouts, self.knockout(criterion, self.answers(question, out)))
            unsure = [v for v, s in tried.items() if s == REVIEW]
            if unsure and alone:
                reviews = self.reviews.setdefault(question.id, {})
                reviews.setdefault(self.answers(question, unsure), []).append(criterion.label(self.lang))
        if criterion.not_met_if is None:
            return
        at: dict[str, list[str]] = {}
        for part in self.rules.disjuncts(criterion.not_met_if.source):
            names = _names(part, self.study)
            if not names or (len(names) == 1 and _single(self.study.question(next(iter(names))))):
                continue  # tried option by option above
            try:
                said = self.rules.say_node(part)
            except Unworded:
                said = ast.unparse(part)
            at.setdefault(max(names, key=self.position.__getitem__), []).append(said)
        for qid, said_all in at.items():
            _add(steps[qid].knockouts, self.knockout(criterion, self.words["or"].join(said_all)))

    def review_lines(self, steps: Mapping[str, Step]) -> None:
        """One "needs review" line per question and set of answers, naming every criterion it leaves open."""
        for qid, by_answers in self.reviews.items():
            for when, labels in by_answers.items():
                labels = list(dict.fromkeys(labels))
                steps[qid].reviews.append(self.words["review"].format(when=when, label=self.words["list"].join(labels)))


def steps(study: Study, lang: str, words: Mapping[str, str], voice: str = "guardian") -> list[Step]:
    """Every question of ``study`` in order, with its condition, knock-outs and reviews in ``lang``.

    The wording is a parent's (``voice``), or the young person's for a question only they are asked.
    """
    reader = _Reader(study, lang, words)
    out = {q.id: Step(i + 1, q, q.text(_voice(q, voice), lang)) for i, q in enumerate(study.questions)}
    reader.conditions(list(out.values()))
    for criterion in study.criteria:
        reader.criterion_lines(criterion, out)
    reader.review_lines(out)
    return list(out.values())


def _add(lines: list[str], line: str) -> None:
    """Add ``line`` unless it is there already (two criteria can share a reason and a rule)."""
    if line not in lines:
        lines.append(line)


def _voice(question: Question, default: str) -> str:
    """The voice the question is read in: the young person's when only they are asked it."""
    for part in _conjuncts(question):
        if ast.unparse(part) in ("respondent == 'patient'", "'patient' == respondent"):
            return "patient"
    return default


def endings(words: Mapping[str, str]) -> list[Ending]:
    """The three outcomes, in the order the rule applies them."""
    return [
        Ending(status, words[f"{status}_title"], words[f"{status}_rule"])
        for status in ("not_eligible", "needs_review", "likely_eligible")
    ]


def _lines(text: str, width: float, limit: int | None = None) -> list[str]:
    lines = wrap(text, width)
    if limit is not None and len(lines) > limit:
        lines = [*lines[: limit - 1], lines[limit - 1].rstrip(" .,;:。，；：") + "…"]
    return lines


def layout(study: Study, lang: str, words: Mapping[str, str], width: float = NARROW) -> dict[str, Any]:
    """The picture: ``parts`` (each with boxes, arrows and its ``height``), the whole ``height``.

    A box has ``y``, ``height``, ``status`` and ``lines`` of ``(text, y, kind)``.
    ``width`` is how many characters a line holds (:data:`NARROW` for a phone, :data:`WIDE` for a
    desktop column); ``kind`` is ``title``, ``condition``, ``knockout`` or ``review`` (the CSS
    class of the line). Endings are boxes too, with ``status``.
    """
    boxes: list[dict[str, Any]] = []
    arrows: list[tuple[int, int]] = []
    y = 0
    inner = width - 1  # the text starts a little in from the box's edge

    def box(texts: list[tuple[str, str, int | None]], status: str = "") -> None:
        nonlocal y
        lines, at = [], y + PAD
        for text, kind, limit in texts:
            # the smaller (13 px) lines hold a few more characters than the 14 px titles
            for line in _lines(text, inner if kind == "title" else inner * SMALL, limit):
                at += LINE
                lines.append((line, at - 5, kind))
        height = at - y + PAD
        boxes.append({"y": y, "height": height, "lines": lines, "status": status})
        y += height

    for step in steps(study, lang, words):
        for banner in step.banners:
            if boxes:
                arrows.append((y, y + GAP))
                y += GAP
            box([(banner, "banner", None)], "banner")
        if boxes:
            arrows.append((y, y + GAP))
            y += GAP
        texts: list[tuple[str, str, int | None]] = [
            (words["title"].format(n=step.number, text=step.title), "title", TITLE_LINES)
        ]
        if step.condition:
            texts.append((step.condition, "condition", None))
        texts += [(text, "knockout", None) for text in step.knockouts]
        texts += [(text, "review", None) for text in step.reviews]
        box(texts)
    arrows.append((y, y + GAP))
    y += GAP
    for ending in endings(words):
        box([(ending.title, "title", None), (ending.text, "rule", None)], ending.status)
        y += PAD
    return {"parts": _parts(boxes, arrows), "height": y, "questions": len(study.questions)}


def _parts(boxes: list[dict[str, Any]], arrows: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The picture cut between boxes into parts of at most :data:`PART` px, each drawn as its own SVG.

    On screen the parts stack into one picture; on paper each part stays whole on a page (a browser
    cuts one tall SVG anywhere, through a line of text). The arrow into a part's first box is drawn
    at the top of that part; y values are the part's own.
    """
    parts: list[dict[str, Any]] = []
    start, current = 0, []
    for box in boxes:
        end = box["y"] + box["height"]
        if current and end - start > PART:
            parts.append(_part(current, arrows, start))
            start = current[-1]["y"] + current[-1]["height"]
            current = []
        current.append(box)
    if current:
        parts.append(_part(current, arrows, start))
        parts[-1]["height"] += PAD  # room under the last box for its border
    return parts


def _part(boxes: list[dict[str, Any]], arrows: list[tuple[int, int]], start: int) -> dict[str, Any]:
    end = boxes[-1]["y"] + boxes[-1]["height"]
    moved = [{**b, "y": b["y"] - start, "lines": [(t, y - start, k) for t, y, k in b["lines"]]} for b in boxes]
    inside = [(top - start, bottom - start) for top, bottom in arrows if start <= top and bottom <= end]
    return {"boxes": moved, "arrows": inside, "height": end - start}

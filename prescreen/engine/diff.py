"""What changed between two versions of a study, item by item, for the ethics submission.

An ethics committee approves a questionnaire's wording and rules, so a new version is submitted
with the list of what changed since the approved one: questions added, removed or moved, each
wording that changed (per language and voice), answer options, when a question is asked, and the
criteria (rules, knock-out reasons, family wording). :func:`diff` gives that list as plain data;
the coordinator's partial ``_version_diff.html`` and ``prescreen questions diff`` show it.

Options belong to a choice list that several questions may share ("yes / no / not sure"), so an
option change is reported once, for its list, naming the questions that use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from .model import Choice, Criterion, Question, Study
from .vocab import FAMILY_TEXTS

#: Every kind of change, in the order a reader meets them (the partial translates each).
KINDS = (
    "study_changed",
    "question_added",
    "question_removed",
    "question_moved",
    "question_wording",
    "question_why",
    "question_type",
    "question_show_if",
    "question_criteria",
    "question_range",
    "question_choices",
    "option_added",
    "option_removed",
    "option_changed",
    "criterion_added",
    "criterion_removed",
    "criterion_rule",
    "criterion_reason",
    "criterion_wording",
    "criterion_changed",
)


@dataclass(frozen=True)
class Change:
    """One change: what kind, where (question, criterion, choice list and option), and the text before and after.

    ``subject`` is ``study``, ``question``, ``options`` (a choice list) or ``criterion``; ``id`` the
    study field, question id, choice list name or criterion id; ``option`` the option value of an
    option change; ``field`` which part changed (``text::guardian::zh``, ``not_met_if``,
    ``reason::en`` …); ``used_by`` the questions that show a changed choice list.
    """

    kind: str
    subject: str
    id: str
    field: str = ""
    before: str = ""
    after: str = ""
    option: str = ""
    used_by: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """Where the change is, as one line (``drugs``, ``yes_no_unsure: not_sure`` …)."""
        return f"{self.id}: {self.option}" if self.option else self.id


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _both(texts: Mapping[str, str]) -> str:
    """A bilingual text as one string, Chinese first (the committee reads both)."""
    return " / ".join(texts[lang] for lang in ("zh", "en") if texts.get(lang))


def _keyed(mapping: Mapping[object, str], name: str) -> dict[str, str]:
    """``{(voice, lang): text}`` style maps as ``{"name::voice::lang": text}`` (the sheet's column names)."""
    out = {}
    for key, value in mapping.items():
        parts = key if isinstance(key, tuple) else (key,)
        out["::".join((name, *parts))] = value
    return out


def _fields(kind: str, subject: str, id: str, old: Mapping[str, object], new: Mapping[str, object]) -> list[Change]:
    """One change of ``kind`` per field whose text differs (fields in ``old``'s order, then new ones)."""
    out = []
    for name in [*old, *(n for n in new if n not in old)]:
        before, after = _text(old.get(name)), _text(new.get(name))
        if before != after:
            out.append(Change(kind, subject, id, name, before, after))
    return out


def _expr(expression: object) -> str:
    return getattr(expression, "source", "") or ""


def _question_changes(old: Question, new: Question) -> list[Change]:
    qid = new.id
    changes = _fields("question_type", "question", qid, {"type": old.type}, {"type": new.type})
    changes += _fields("question_wording", "question", qid, _keyed(old.texts, "text"), _keyed(new.texts, "text"))
    changes += _fields("question_why", "question", qid, _keyed(old.whys, "why"), _keyed(new.whys, "why"))
    changes += _fields(
        "question_show_if", "question", qid, {"show_if": _expr(old.show_if)}, {"show_if": _expr(new.show_if)}
    )
    changes += _fields("question_criteria", "question", qid, {"criteria": old.criteria}, {"criteria": new.criteria})
    changes += _fields(
        "question_range",
        "question",
        qid,
        {"min": old.min, "max": old.max, **_keyed(old.units, "unit")},
        {"min": new.min, "max": new.max, **_keyed(new.units, "unit")},
    )
    changes += _fields("question_choices", "question", qid, {"choices": old.choice_list}, {"choices": new.choice_list})
    return changes


def _choice_lists(study: Study) -> dict[str, tuple[tuple[Choice, ...], list[str]]]:
    """Each choice list the study's questions use: its options and the questions using it."""
    lists: dict[str, tuple[tuple[Choice, ...], list[str]]] = {}
    for question in study.questions:
        if question.choice_list:
            lists.setdefault(question.choice_list, (question.choices, []))[1].append(question.id)
    return lists


def _option_fields(choice: Choice) -> dict[str, object]:
    return {**_keyed(choice.labels, "label"), "exclusive": choice.exclusive}


def _option_changes(old: Study, new: Study) -> list[Change]:
    before, after = _choice_lists(old), _choice_lists(new)
    changes: list[Change] = []
    for name, (choices, users) in after.items():
        if name not in before:
            continue  # a new list: its questions are reported as added or as using another list
        used_by = tuple(users)
        old_choices = {c.value: c for c in before[name][0]}
        new_values = {c.value for c in choices}
        for choice in before[name][0]:
            if choice.value not in new_values:
                changes.append(
                    Change("option_removed", "options", name, "", _both(choice.labels), "", choice.value, used_by)
                )
        for choice in choices:
            was = old_choices.get(choice.value)
            if was is None:
                changes.append(
                    Change("option_added", "options", name, "", "", _both(choice.labels), choice.value, used_by)
                )
                continue
            for change in _fields("option_changed", "options", name, _option_fields(was), _option_fields(choice)):
                changes.append(Change(**{**change.__dict__, "option": choice.value, "used_by": used_by}))
    return changes


def _criterion_fields(criterion: Criterion) -> dict[str, dict[str, object]]:
    """A criterion's parts, grouped by the kind of change each makes."""
    family = {
        f"{FAMILY_TEXTS[status]}::{voice}::{lang}": text
        for (status, voice, lang), text in criterion.family_texts.items()
    }
    return {
        "criterion_rule": {
            "not_met_if": _expr(criterion.not_met_if),
            "met_if": _expr(criterion.met_if),
            "confirm_if": _expr(criterion.confirm_if),
            "recheck": _expr(criterion.recheck),
            "waiting_period": criterion.waiting_period,
            "any_of": criterion.any_of,
            "home": criterion.home,
        },
        "criterion_reason": _keyed(criterion.reasons, "reason"),
        "criterion_wording": {**family, **_keyed(criterion.brings, "bring")},
        "criterion_changed": {
            "kind": criterion.kind,
            "wording": criterion.wording,
            **_keyed(criterion.labels, "label"),
        },
    }


def _moved(old_ids: list[str], new_ids: list[str]) -> set[str]:
    """The ids whose place among the others changed (the fewest that explain the new order)."""
    kept = SequenceMatcher(a=old_ids, b=new_ids, autojunk=False)
    stayed = {old_ids[block.a + i] for block in kept.get_matching_blocks() for i in range(block.size)}
    return {qid for qid in new_ids if qid not in stayed}


def _added_removed(kind: str, subject: str, ids: Iterable[str], texts: Mapping[str, str], added: bool) -> list[Change]:
    return [Change(kind, subject, i, "", "" if added else texts[i], texts[i] if added else "") for i in ids]


def diff(old: Study, new: Study) -> list[Change]:
    """Every change from ``old`` to ``new``: study fields, then questions, options, criteria.

    Identical studies give ``[]``. Questions and criteria are matched by id, so a renamed id is
    one removed and one added.
    """
    changes = _fields("study_changed", "study", "study", dict(old.meta), dict(new.meta))
    old_q = {q.id: q for q in old.questions}
    new_q = {q.id: q for q in new.questions}
    wording = {
        q.id: _both({lang: q.text("guardian", lang) for lang in ("zh", "en")}) for q in (*old.questions, *new.questions)
    }
    changes += _added_removed("question_added", "question", [i for i in new_q if i not in old_q], wording, True)
    changes += _added_removed("question_removed", "question", [i for i in old_q if i not in new_q], wording, False)
    old_order = [i for i in old_q if i in new_q]
    new_order = [i for i in new_q if i in old_q]
    moved = _moved(old_order, new_order)
    for qid in new_order:
        if qid in moved:
            before = f"{old_order.index(qid) + 1}"
            changes.append(Change("question_moved", "question", qid, "position", before, f"{new_order.index(qid) + 1}"))
    for qid in new_order:
        changes += _question_changes(old_q[qid], new_q[qid])
    changes += _option_changes(old, new)
    old_c = {c.id: c for c in old.criteria}
    new_c = {c.id: c for c in new.criteria}
    labels = {c.id: _both(c.labels) for c in (*old.criteria, *new.criteria)}
    changes += _added_removed("criterion_added", "criterion", [i for i in new_c if i not in old_c], labels, True)
    changes += _added_removed("criterion_removed", "criterion", [i for i in old_c if i not in new_c], labels, False)
    for cid in (i for i in new_c if i in old_c):
        before, after = _criterion_fields(old_c[cid]), _criterion_fields(new_c[cid])
        for kind, fields in before.items():
            changes += _fields(kind, "criterion", cid, fields, after[kind])
    return changes

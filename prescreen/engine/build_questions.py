"""Build the questions of ``questions.csv``: type, choices, range, wording and ``show_if``.

What each type needs (a choice list, a range) comes from the type table (:mod:`.types`); a
``show_if`` may read only earlier questions, which is what lets the flow resume a walk at the
question just answered.
"""

from __future__ import annotations

from .cells import ID_RE, expression_cell, int_cell, langs, need_text
from .errors import suggest
from .model import Choice, Question
from .sheets import COLUMNS, Collector, Sheet
from .types import QUESTION_TYPES
from .vocab import LANGS, VOICES


def questions_of(sheet: Sheet, lists: dict[str, list[Choice]], out: Collector) -> tuple[list[Question], dict[str, str]]:
    """Every question of the sheet (even broken ones, so later rows still check) and id -> type.

    The returned types hold only questions whose type could be read: expressions are compiled
    against them, and one naming a broken question is left to that question's own row.
    """
    questions: list[Question] = []
    types: dict[str, str] = {}
    earlier: dict[str, str] = {}
    broken: set[str] = set()
    all_ids = {row.get("id", "") for _, row in sheet.rows}
    text_columns = tuple(c for c in COLUMNS["questions"][0] if "::" in c)
    for number, row in sheet.rows:
        qid, kind = row.get("id", ""), row.get("type", "")
        need_text(sheet, number, row, ("id", "type", *text_columns), out)
        units = langs(row, "unit")
        if bool(units["en"]) != bool(units["zh"]):
            missing = "zh" if units["en"] else "en"
            out.add(
                sheet.path,
                number,
                f"unit::{missing}",
                f"empty {missing} cell: every wording needs both Chinese and English",
            )
        if not qid:
            continue
        if not ID_RE.match(qid):
            out.add(sheet.path, number, "id", f"'{qid}' must be lower-case letters, digits and '_'")
        if qid in types:
            out.add(sheet.path, number, "id", f"duplicate question id '{qid}'")
            continue
        if qid == "respondent":
            out.add(sheet.path, number, "id", "'respondent' is reserved for who is filling in")
        if kind and kind not in QUESTION_TYPES:
            out.add(sheet.path, number, "type", f"unknown type '{kind}'{suggest(kind, QUESTION_TYPES)}")
            kind = ""
            broken.add(qid)
        spec = QUESTION_TYPES.get(kind)
        ranged = spec is not None and spec.has_range
        choice_list = row.get("choices", "")
        choices: tuple[Choice, ...] = ()
        if spec is not None and spec.has_choices:
            if not choice_list:
                out.add(sheet.path, number, "choices", f"a {kind} question needs a choice list")
            elif choice_list not in lists:
                out.add(
                    sheet.path, number, "choices", f"unknown choice list '{choice_list}'{suggest(choice_list, lists)}"
                )
            else:
                choices = tuple(lists[choice_list])
        elif kind and choice_list:
            out.add(sheet.path, number, "choices", f"a {kind} question has no choice list")
        low = int_cell(sheet, number, row, "min", out)
        high = int_cell(sheet, number, row, "max", out)
        if ranged and (low is None or high is None):
            out.add(sheet.path, number, "min" if low is None else "max", f"a {kind} question needs min and max")
        elif low is not None and high is not None and low > high:
            out.add(sheet.path, number, "max", "must not be below min")
        if not ranged and (row.get("min") or row.get("max")):
            out.add(sheet.path, number, "min" if row.get("min") else "max", "only number questions have a range")
        show_if = None
        if row.get("show_if"):
            show_if = expression_cell(
                sheet,
                number,
                "show_if",
                row["show_if"],
                earlier,
                all_ids,
                out,
                questions,
                broken=frozenset(broken),
            )
        question = Question(
            id=qid,
            type=kind or "single",
            texts={(v, lang): row.get(f"text::{v}::{lang}", "") for v in VOICES for lang in LANGS},
            whys=langs(row, "why"),
            choices=choices,
            show_if=show_if,
            criteria=tuple(c.strip() for c in row.get("criteria", "").split(";") if c.strip()),
            min=low,
            max=high,
            units={k: v for k, v in units.items() if v},
            choice_list=choice_list,
            row=number,
        )
        questions.append(question)
        if kind:
            types[qid] = kind
            earlier[qid] = kind
    return questions, types

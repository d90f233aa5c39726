"""Build the criteria of ``criteria.csv``: kind, rules, waiting periods, ``any_of`` groups and family wording.

Rules may read any question (a criterion is decided as soon as what it reads is answered); a
waiting period needs a re-check month so a family can be told when to come back. A criterion's
family wording is needed for each status its rules can give: ``not_met::…`` when it has a
``not_met_if``, ``visit::…`` when it has a ``confirm_if`` (checked here, from the rules alone);
``review::…`` when a family can finish with it needing review, which only the walk of every route
can tell (checked in :mod:`.validate`).
"""

from __future__ import annotations

from typing import Any

from .cells import CRITERION_KINDS, HOME_VALUES, ID_RE, YES_NO, broken_ids, expression_cell, langs, need_text
from .errors import suggest
from .model import Criterion, Question
from .sheets import COLUMNS, FAMILY_COLUMNS, Collector, Sheet
from .vocab import CONFIRM, FAMILY_TEXTS, LANGS, NOT_MET, VOICES

#: the rule that can give each status, so makes its family wording necessary
RULE_OF = {NOT_MET: "not_met_if", CONFIRM: "confirm_if"}
#: why a family reads a status's wording (for messages)
SHOWN_WHEN = {
    NOT_MET: "families read it when this criterion rules a child out (it has a not_met_if)",
    CONFIRM: "families read it when this criterion is left for the first visit (it has a confirm_if)",
}


def criteria_of(sheet: Sheet, types: dict[str, str], questions: list[Question], out: Collector) -> list[Criterion]:
    criteria: list[Criterion] = []
    seen: set[str] = set()
    all_ids = set(types)
    for number, row in sheet.rows:
        cid = row.get("id", "")
        plain = tuple(c for c in COLUMNS["criteria"][0] if c not in FAMILY_COLUMNS)
        need_text(sheet, number, row, plain, out)
        if not cid:
            continue
        if not ID_RE.match(cid):
            out.add(sheet.path, number, "id", f"'{cid}' must be lower-case letters, digits and '_'")
        if cid in seen:
            out.add(sheet.path, number, "id", f"duplicate criterion id '{cid}'")
            continue
        seen.add(cid)
        checks: list[tuple[str, tuple[str, ...]]] = [
            ("kind", CRITERION_KINDS),
            ("home", HOME_VALUES),
            ("waiting_period", YES_NO),
        ]
        for column, allowed in checks:
            value = row.get(column, "")
            if value and value not in allowed:
                out.add(
                    sheet.path,
                    number,
                    column,
                    f"unknown value '{value}'{suggest(value, allowed)}; use one of {', '.join(allowed)}",
                )
        rules: dict[str, Any] = {}
        for column in ("not_met_if", "met_if", "confirm_if"):
            if row.get(column):
                rules[column] = expression_cell(
                    sheet,
                    number,
                    column,
                    row[column],
                    types,
                    all_ids,
                    out,
                    questions,
                    broken=broken_ids(questions, types),
                )
        if not any(row.get(c) for c in ("not_met_if", "met_if", "confirm_if")):
            out.add(
                sheet.path, number, "met_if", f"criterion '{cid}' has no rule: fill in not_met_if, met_if or confirm_if"
            )
        waiting = row.get("waiting_period") == "yes"
        recheck = None
        if row.get("recheck"):
            if not waiting:
                out.add(sheet.path, number, "recheck", "only a waiting period has a re-check month")
            recheck = expression_cell(
                sheet,
                number,
                "recheck",
                row["recheck"],
                types,
                all_ids,
                out,
                questions,
                want="month",
                broken=broken_ids(questions, types),
            )
        elif waiting:
            out.add(sheet.path, number, "recheck", "a waiting period needs a re-check month, e.g. last_dose + 6")
        criteria.append(
            Criterion(
                id=cid,
                kind=row.get("kind", ""),
                wording=row.get("wording", ""),
                labels=langs(row, "label"),
                reasons=langs(row, "reason"),
                home=row.get("home", ""),
                any_of=row.get("any_of", ""),
                waiting_period=waiting,
                not_met_if=rules.get("not_met_if"),
                met_if=rules.get("met_if"),
                confirm_if=rules.get("confirm_if"),
                recheck=recheck,
                row=number,
                family_texts=family_texts(sheet, number, row, out),
                brings=brings(sheet, number, row, out),
            )
        )
    groups: dict[str, list[Criterion]] = {}
    for criterion in criteria:
        if criterion.any_of:
            groups.setdefault(criterion.any_of, []).append(criterion)
    for name, arms in groups.items():
        if len(arms) < 2:
            out.add(
                sheet.path,
                arms[0].row,
                "any_of",
                f"group '{name}' has only one criterion; an any_of group needs two or more",
            )
        elif len({a.waiting_period for a in arms}) > 1:
            out.add(
                sheet.path,
                arms[0].row,
                "waiting_period",
                f"criteria of group '{name}' must all be waiting periods or none",
            )
    return criteria


def family_texts(sheet: Sheet, number: int, row: dict[str, str], out: Collector) -> dict[tuple[str, str, str], str]:
    """The row's family wording as (status, voice, lang) -> text, reporting what is missing or never shown.

    A status's wording is needed, in both voices and languages, when the row has the rule that
    gives it; wording for a status no rule can give is reported too (it would never be read, so it
    is probably in the wrong column). A column missing from the header is reported once, there.
    """
    texts: dict[tuple[str, str, str], str] = {}
    for status, prefix in FAMILY_TEXTS.items():
        rule = RULE_OF.get(status)
        for voice in VOICES:
            for lang in LANGS:
                column = f"{prefix}::{voice}::{lang}"
                text = row.get(column, "")
                if text:
                    texts[(status, voice, lang)] = text
                if rule is None or column not in row:
                    continue
                if row.get(rule) and not text:
                    out.add(sheet.path, number, column, f"empty {lang} cell: {SHOWN_WHEN[status]}")
                elif text and not row.get(rule):
                    out.add(sheet.path, number, column, f"never shown: this criterion has no {rule}")
    return texts


def brings(sheet: Sheet, number: int, row: dict[str, str], out: Collector) -> dict[str, str]:
    """What to bring to the first visit, in both languages or neither."""
    found = langs(row, "bring")
    if bool(found["en"]) != bool(found["zh"]):
        missing = "zh" if found["en"] else "en"
        out.add(sheet.path, number, f"bring::{missing}", f"empty {missing} cell: fill in both languages or neither")
    return {lang: text for lang, text in found.items() if text}

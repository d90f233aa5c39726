"""A call guide per family: what to ask about, what to bring, and a short script to read.

Everything study-specific comes from the study's sheets, never from prose written here about
one study: the questions the family was not sure about are the questions behind the criteria
that need review (their wording as the family read it), what the doctor checks at the visit
is each criterion's ``visit::`` text, what to bring its ``bring::`` text, and the hospital and
address come from ``study.csv``. Only the frame of the script (greeting, "please bring", the
closing) is a translated sentence. The script is in the family's own language.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from .. import studies, team
from ..engine import CONFIRM, REVIEW, Study
from ..engine.explain import shown
from ..public.page import answer_text


def family_language(row: dict[str, Any]) -> str:
    """The language the family asked to be contacted in (else the one they answered in)."""
    lang = row.get("contact_locale") or row.get("screening_locale") or "zh"
    return lang if lang in ("zh", "en") else "zh"


def guide(row: dict[str, Any], study: Study | None) -> dict[str, Any] | None:
    """The call guide of one family, or None when the answers or the sheets are gone."""
    answers = json.loads(row.get("answers") or "{}")
    statuses = json.loads(row["criteria"]) if row.get("criteria") else {}
    if study is None or not answers or not statuses:
        return None
    lang = family_language(row)
    voice = row.get("respondent") or "guardian"
    open_items = shown(studies.flow(study), statuses, "needs_review")
    ask: list[dict[str, str]] = []
    seen: set[str] = set()
    checks: list[str] = []
    bring: list[str] = []
    for criterion, status in open_items:
        if status == REVIEW:
            for question in study.questions:
                if criterion.id in question.criteria and question.id in answers and question.id not in seen:
                    seen.add(question.id)
                    ask.append(
                        {
                            "question": question.text(voice, lang),
                            "answer": answer_text(question, answers[question.id], lang),
                            "criterion": criterion.label(lang),
                        }
                    )
        if status in (REVIEW, CONFIRM):
            text = criterion.family(CONFIRM, voice, lang) or criterion.family(REVIEW, voice, lang)
            if text and text not in checks:
                checks.append(text)
        item = criterion.bring(lang)
        if item and item not in bring:
            bring.append(item)
    return {
        "lang": lang,
        "ask": ask,
        "checks": checks,
        "bring": bring,
        "script": script(row, study, lang, ask, bring),
    }


def script(row: dict[str, Any], study: Study, lang: str, ask: list[dict[str, str]], bring: list[str]) -> list[str]:
    """The short script, line by line, in *lang*: greeting, the open questions, documents, closing."""
    meta = study.meta
    place = " ".join(p for p in (meta.get(f"centre::{lang}", ""), meta.get(f"department::{lang}", "")) if p)
    contact = team.contact_of(study.id)
    sep = "、" if lang == "zh" else ", "
    with force_locale(lang):
        lines = [
            _(
                "Hello, this is the study team at %(place)s. You filled in our pre-screening form and left this "
                "number (reference %(ref)s). Is now a good time to talk for a few minutes?",
                place=place,
                ref=row["reference"],
            )
        ]
        if ask:
            lines.append(_("A few answers on the form were not sure. May I ask about them?"))
            lines += [f"{i}. {a['question']}" for i, a in enumerate(ask, 1)]
        if bring:
            lines.append(_("For the visit, please bring: %(items)s.", items=sep.join(bring)))
        if meta.get(f"address::{lang}"):
            lines.append(_("The address is: %(address)s.", address=meta[f"address::{lang}"]))
        if contact.phone:
            lines.append(_("If you need to change the time, call us at %(phone)s.", phone=contact.phone))
        lines.append(_("Thank you. Goodbye."))
    return lines

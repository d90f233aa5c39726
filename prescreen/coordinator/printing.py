"""Print views of one family: the whole page on one or two A4 sheets, and the eligibility sheet.

Neither page has the staff navigation or any form (defect 14: five pages of menus and empty
forms); a print stylesheet does the layout, no script is needed. Opening either is audited as a
view of the family's page (``referral.view``, detail ``view``: ``print`` or ``eligibility_sheet``).
The eligibility sheet is always in Chinese (it is filed at the site):
each criterion, the family's answer, the team's check and its source, and the PI's sign-off line.
"""

from __future__ import annotations

import json

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_login import current_user

from .. import clock, studies
from ..public.page import answer_text
from ..store import audit, checklist, get_db, queue
from ..web.i18n import current_locale
from . import call_guide, either_or, family
from .checklist import SOURCE_LABELS, VERDICT_LABELS
from .shared import CHANNEL_LABELS, CRITERION_LABELS, RESULT_LABELS, waiting


def print_family(referral_id: int) -> ResponseReturnValue:
    """The family's page for printing: facts, visit, checklist with checks, answers, call guide."""
    row = family.the_referral(referral_id)
    db = get_db()
    audit.record(db, current_user.actor, "referral.view", "referral", row["id"], {"view": "print"})
    study = studies.of_screening(row)
    lang = current_locale()
    statuses = json.loads(row["criteria"]) if row.get("criteria") else {}
    return render_template(
        "coordinator/print_family.html",
        r=row,
        study=study,
        view=family.screening_view(study, row, lang) if study else None,
        marks=checklist.marks(db, row["id"]),
        signoff=checklist.active_signoff(db, row["id"]),
        attempts=queue.attempts(db, row["id"]),
        notes=queue.notes(db, row["id"]),
        guide=call_guide.guide(row, study),
        groups=family.GROUPS,
        criterion_labels=CRITERION_LABELS,
        verdict_labels=VERDICT_LABELS,
        source_labels=SOURCE_LABELS,
        waiting=waiting(row["created_at"]),
        channel_labels=CHANNEL_LABELS,
        result_labels=RESULT_LABELS,
        printed=clock.now(),
        alternatives=either_or.notes(studies.flow(study), statuses, lang) if study else {},
    )


def eligibility_sheet(referral_id: int) -> ResponseReturnValue:
    """The eligibility sheet in Chinese, whatever the page language: one row per criterion."""
    row = family.the_referral(referral_id)
    db = get_db()
    audit.record(db, current_user.actor, "referral.view", "referral", row["id"], {"view": "eligibility_sheet"})
    study = studies.of_screening(row)
    answers = json.loads(row.get("answers") or "{}")
    statuses = json.loads(row["criteria"]) if row.get("criteria") else {}
    marks = checklist.marks(db, row["id"])
    voice = row.get("respondent") or "guardian"
    lines = []
    with force_locale("zh"):
        alternatives = either_or.notes(studies.flow(study), statuses, "zh") if study else {}
        for criterion in study.criteria if study else ():
            behind = [
                (q.text(voice, "zh"), answer_text(q, answers[q.id], "zh"))
                for q in study.questions
                if criterion.id in q.criteria and q.id in answers
            ]
            mark = marks.get(criterion.id)
            lines.append(
                {
                    "id": criterion.id,
                    "kind": criterion.kind,
                    "label": criterion.label("zh"),
                    "answers": behind,
                    "status": alternatives.get(criterion.id)
                    or str(CRITERION_LABELS.get(statuses.get(criterion.id, ""), "—")),
                    "mark": mark,
                    "verdict": str(VERDICT_LABELS[mark["verdict"]]) if mark else "",
                    "source": str(SOURCE_LABELS[mark["source"]]) if mark else "",
                }
            )
        body = render_template(
            "coordinator/eligibility_sheet.html",
            r=row,
            study=study,
            lines=lines,
            removed=not answers,
            sources=[str(label) for label in SOURCE_LABELS.values()],
            signoff=checklist.active_signoff(db, row["id"]),
            printed=clock.now(),
        )
    return body

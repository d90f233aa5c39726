"""One family's page: what they answered, what is left to confirm, and the follow-up actions.

The checklist and the answers are recomputed by the engine from the stored answers and the
study sheets, so the team reads the same wording the family saw; the screening's stored
questionnaire version tells us when the sheets have changed since.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import clock, studies
from ..engine import Study
from ..public.page import answer_text  # one way to show an answer, for the family and the team
from ..store import audit, get_db, queue
from ..web.i18n import current_locale
from .forms import forms_for
from .shared import (
    CHANNEL_LABELS,
    CRITERION_LABELS,
    RELATIONSHIP_LABELS,
    RESPONDENT_LABELS,
    RESULT_LABELS,
    STATUS_LABELS,
    waiting,
)

GROUPS = ("not_met", "needs_review", "confirm_at_visit", "met")


def the_referral(referral_id: int) -> dict[str, Any]:
    """The referral if this staff member may see it; another study's referral is a 404."""
    row = queue.referral(get_db(), referral_id, current_user.visible_studies)
    if row is None:
        abort(404)
    return row


def screening_view(study: Study, row: dict[str, Any], lang: str) -> dict[str, Any]:
    """The answers as asked (both languages) and the criteria checklist, grouped."""
    answers = json.loads(row["answers"] or "{}")
    if not answers:
        return {"answers": [], "groups": {}, "removed": True}
    family_lang = row["screening_locale"] or "zh"
    other_lang = "en" if family_lang == "zh" else "zh"
    voice = row["respondent"] or "guardian"
    taken = row["completed_at"] or row["screening_created_at"]
    flow = studies.flow(study)  # the cached one: its memo serves every page of this study
    state = flow.run(answers, respondent=voice, today=datetime.fromisoformat(taken).date())
    statuses = json.loads(row["criteria"]) if row["criteria"] else dict((state.outcome or state.provisional).criteria)
    asked = [study.question(q) for q in state.asked if study.has_question(q)]
    answer_rows = [
        {
            "id": q.id,
            "family": (family_lang, q.text(voice, family_lang), answer_text(q, answers.get(q.id), family_lang)),
            "other": (other_lang, q.text(voice, other_lang), answer_text(q, answers.get(q.id), other_lang)),
        }
        for q in asked
    ]
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUPS}
    for criterion in study.criteria:
        own = statuses.get(criterion.id, "needs_review")
        shown = own
        if criterion.any_of and criterion.id in flow.item_of:
            shown = flow.item_status(flow.item_of[criterion.id], statuses)
        behind = [
            (q.text(voice, lang), answer_text(q, answers.get(q.id), lang)) for q in asked if criterion.id in q.criteria
        ]
        groups.setdefault(shown, []).append(
            {
                "criterion": criterion,
                "label": criterion.label(lang),
                "own": own,
                "alternative": shown != own,
                "answers": behind,
            }
        )
    return {"answers": answer_rows, "groups": groups, "removed": False, "family_lang": family_lang}


def render_family(
    row: dict[str, Any], forms: dict[str, FlaskForm] | None = None, status: int = 200, *, show_contact: bool = False
) -> Any:
    """Render the family page (also after a form error, with the errors shown).

    The contact details are in the page only when *show_contact* is set, which only the
    audited, CSRF-checked POST of :func:`contact_details` does.
    """
    db = get_db()
    lang = current_locale()
    study = studies.get(row["study_id"])
    body = render_template(
        "coordinator/referral.html",
        r=row,
        study=study,
        view=screening_view(study, row, lang) if study else None,
        version_changed=bool(study and study.version != row["version"]),
        show_contact=show_contact,
        attempts=queue.attempts(db, row["id"]),
        notes=queue.notes(db, row["id"]),
        history=queue.history(db, row["id"]),
        forms=forms or forms_for(row, study, lang),
        waiting=waiting(row["created_at"]),
        labels={
            "channel": CHANNEL_LABELS,
            "result": RESULT_LABELS,
            "criterion": CRITERION_LABELS,
            "respondent": RESPONDENT_LABELS,
            "relationship": RELATIONSHIP_LABELS,
        },
        groups=GROUPS,
        decode=json.loads,
    )
    return body, status


def referral(referral_id: int) -> ResponseReturnValue:
    """One family's page (answers, checklist, notes), without contact details; every view is audited.

    Health answers are as sensitive as a phone number, so who opened which family's page is
    recorded too (one audit row, ids only). A ``?contact=`` in the URL is ignored: a link from
    another site must not be able to reveal contact details or write a "contacts viewed" row.
    """
    row = the_referral(referral_id)
    audit.record(get_db(), current_user.actor, "referral.view", "referral", row["id"])
    return render_family(row)


def contact_details(referral_id: int) -> ResponseReturnValue:
    """The family's page with their contact details: a POST with the CSRF token, audited.

    A POST (not a GET link) so that only a button on our own page can reveal the details;
    the global CSRF check refuses a cross-site form before this view runs.
    """
    row = the_referral(referral_id)
    audit.record(get_db(), current_user.actor, "referral.view_contact", "referral", row["id"])
    return render_family(row, show_contact=True)


def _back(referral_id: int) -> ResponseReturnValue:
    return redirect(url_for("coordinator.referral", referral_id=referral_id))


def add_attempt(referral_id: int) -> ResponseReturnValue:
    """Record a contact attempt; the status moves on by itself (attempt 1 → 2 → 3, or contacted)."""
    row = the_referral(referral_id)
    forms = forms_for(row, studies.get(row["study_id"]), current_locale())
    form = forms["attempt"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    at = clock.now()
    if form.at.data:
        if form.at.data.year < 2000:  # a typo (and before year 1 in UTC, which would overflow)
            form.at.errors = [_("Please check the date: it is too long ago.")]
            return render_family(row, forms, 400)
        at = form.at.data.replace(tzinfo=clock.TEAM_TZ).astimezone(UTC)
        if at > clock.now() + timedelta(minutes=5):
            form.at.errors = [_("An attempt cannot be in the future.")]
            return render_family(row, forms, 400)
    new = queue.add_attempt(
        get_db(), referral_id, current_user.id, form.channel.data, form.result.data, at, current_user.actor
    )
    flash(_("Attempt recorded. Status: %(status)s", status=STATUS_LABELS[new]), "info")
    return _back(referral_id)


def change_status(referral_id: int) -> ResponseReturnValue:
    """Change the status; a visit needs its date, a screen failure the criterion that failed."""
    row = the_referral(referral_id)
    forms = forms_for(row, studies.get(row["study_id"]), current_locale())
    form = forms["status"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    new = form.status.data
    visit: date | None = form.visit_date.data
    if new == "visit_scheduled" and visit is None:
        form.visit_date.errors = [_("Enter the date of the screening visit.")]
        return render_family(row, forms, 400)
    if new == "screen_failed" and not (form.criterion.data or "").strip():  # blank is not a criterion
        form.criterion.errors = [_("Choose the criterion that was not met.")]
        return render_family(row, forms, 400)
    try:
        queue.change_status(
            get_db(),
            referral_id,
            new,
            current_user.actor,
            visit_date=visit if new == "visit_scheduled" else None,
            criterion=form.criterion.data if new == "screen_failed" else None,
        )
    except queue.FlowError:
        form.status.errors = [_("This change is not possible from the current status.")]
        return render_family(row, forms, 400)
    flash(_("Status changed to %(status)s.", status=STATUS_LABELS[new]), "info")
    return _back(referral_id)


def add_note(referral_id: int) -> ResponseReturnValue:
    """Add a note for the team (audited without its text)."""
    row = the_referral(referral_id)
    forms = forms_for(row, studies.get(row["study_id"]), current_locale())
    form = forms["note"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    queue.add_note(get_db(), referral_id, current_user.id, form.body.data.strip(), current_user.actor)
    flash(_("Note added."), "info")
    return _back(referral_id)

"""One family's page: what they answered, what is left to confirm, and the follow-up actions.

The checklist and the answers are recomputed by the engine from the stored answers and the
study sheets, so the team reads the same wording the family saw; the screening's stored
questionnaire version tells us when the sheets have changed since.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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
    ERASE_REASON_LABELS,
    RELATIONSHIP_LABELS,
    RESPONDENT_LABELS,
    RESULT_LABELS,
    STATUS_LABELS,
    local_time,
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


#: How long revealed contact details stay shown on a family's page without another click (and
#: another audit row): long enough for a few calls and their saves, short enough that a page left
#: open or opened later hides them again.
CONTACT_SHOWN_MINUTES = 15
_SHOWN = "contact_shown"

#: What a refused status change, attempt or erase says (store.queue.FlowError codes).
FLOW_MESSAGES = {
    "final": _l("The family withdrew consent and their data was deleted: nothing more can be recorded."),
    "not_allowed": _l("This change is not possible from the current status."),
    "reason": _l("Give the reason for this correction."),
    "book": _l(
        "Book the screening visit under “Screening visit” below: its date and time queue the reminders. "
        "If the status is closed, first correct it to the step before the visit (such as “Contacted”)."
    ),
    "criterion": _l("Choose the criterion that was not met."),
    "consent_date": _l("Enter the date the consent form was signed."),
    "subject_id": _l("Enter the subject number."),
    "before_visit": _l("The screening visit is booked for a later day: enrol the child on or after the visit."),
    "before_referral": _l("This date is before the family's details came in. Please check it."),
    "future": _l("This date is in the future. Please check it."),
    "confirm": _l("The code you typed is not this family's reference code. Nothing was deleted."),
}


def _shown_until() -> dict[str, str]:
    value = session.get(_SHOWN)
    return value if isinstance(value, dict) else {}


def contact_shown(referral_id: int) -> bool:
    """Whether this browser revealed the family's contact details in the last few minutes."""
    until = _shown_until().get(str(referral_id))
    try:
        return bool(until) and clock.now() < datetime.fromisoformat(str(until))
    except ValueError:
        return False


def _stamp_shown(referral_id: int) -> None:
    """Keep the details shown for :data:`CONTACT_SHOWN_MINUTES` more (expired stamps are dropped)."""
    now = clock.now()
    kept = {k: v for k, v in _shown_until().items() if k != str(referral_id) and contact_shown(int(k))}
    kept[str(referral_id)] = clock.iso(now + timedelta(minutes=CONTACT_SHOWN_MINUTES))
    session[_SHOWN] = kept


def render_family(
    row: dict[str, Any], forms: dict[str, FlaskForm] | None = None, status: int = 200, *, show_contact: bool = False
) -> Any:
    """Render the family page (also after a form error, with the errors shown).

    The contact details are in the page when *show_contact* is set (the audited, CSRF-checked
    POST of :func:`contact_details`) or when this browser revealed them a few minutes ago
    (:func:`contact_shown`): the visit goes on across saves without another click or audit row.
    """
    db = get_db()
    lang = current_locale()
    study = studies.of_screening(row)
    closed = row["status"] in queue.CLOSED
    body = render_template(
        "coordinator/referral.html",
        r=row,
        study=study,
        view=screening_view(study, row, lang) if study else None,
        version_changed=bool(study and study.version != row["version"]),
        show_contact=show_contact or contact_shown(row["id"]),
        attempts=queue.attempts(db, row["id"]),
        notes=queue.notes(db, row["id"]),
        history=queue.history(db, row["id"]),
        forms=forms or forms_for(row, study, lang),
        final=row["status"] in queue.FINAL,
        closed=closed and bool(row["closed_at"]),
        waiting=waiting(row["created_at"], closed_at=row["closed_at"] if closed else None),
        labels={
            "channel": CHANNEL_LABELS,
            "result": RESULT_LABELS,
            "criterion": CRITERION_LABELS,
            "respondent": RESPONDENT_LABELS,
            "relationship": RELATIONSHIP_LABELS,
            "erase_reason": ERASE_REASON_LABELS,
        },
        criterion_label=_criterion_label(study, lang),
        groups=GROUPS,
        decode=json.loads,
    )
    return body, status


def _criterion_label(study: Study | None, lang: str) -> dict[str, str]:
    """A study's criterion ids → their wording in *lang* (a screen-fail reason shown as words)."""
    return {c.id: c.label(lang) for c in study.criteria} if study else {}


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
    the global CSRF check refuses a cross-site form before this view runs. They stay shown for
    the rest of this visit (saves included) without another audit row.
    """
    row = the_referral(referral_id)
    audit.record(get_db(), current_user.actor, "referral.view_contact", "referral", row["id"])
    _stamp_shown(row["id"])
    return render_family(row, show_contact=True)


#: Where a save returns to on the family's page (a phone page is many screens long): the
#: ``saved`` query value → the anchor of its section, where referral.html shows the saved message.
SAVED_ANCHORS = {"attempt": "attempt-h", "status": "status-h", "note": "notes-h", "assign": "assign"}


def back_to(referral_id: int, section: str) -> str:
    """The family's page at *section* (one of :data:`SAVED_ANCHORS`), saying there what was saved."""
    return url_for("coordinator.referral", referral_id=referral_id, saved=section, _anchor=SAVED_ANCHORS[section])


def _back(referral_id: int, section: str) -> ResponseReturnValue:
    if contact_shown(referral_id):
        _stamp_shown(referral_id)  # still working on this family: keep the details shown
    return redirect(back_to(referral_id, section))


def _refuse_if_final(row: dict[str, Any]) -> ResponseReturnValue | None:
    """An erased family takes no attempts, notes or status changes: the page again, saying so (400)."""
    if row["status"] in queue.FINAL:
        flash(str(FLOW_MESSAGES["final"]), "error")
        return render_family(row, status=400)
    return None


def add_attempt(referral_id: int) -> ResponseReturnValue:
    """Record a contact attempt; the status moves on by itself (attempt 1 → 2 → 3, or contacted)."""
    row = the_referral(referral_id)
    if refused := _refuse_if_final(row):
        return refused
    forms = forms_for(row, studies.of_screening(row), current_locale())
    form = forms["attempt"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    at = clock.now()
    if form.at.data:
        if form.at.data.year < 2000:  # a typo (and before year 1 in UTC, which would overflow)
            form.at.errors = [_("Please check the date: it is too long ago.")]
            return render_family(row, forms, 400)
        at = form.at.data.replace(tzinfo=clock.TEAM_TZ).astimezone(UTC)
    try:
        new = queue.add_attempt(
            get_db(),
            referral_id,
            current_user.id,
            form.channel.data,
            form.result.data,
            at,
            current_user.actor,
            note=form.note.data,
        )
    except queue.FlowError as error:
        code = str(error)
        if code == "future":
            form.at.errors = [_("An attempt cannot be in the future.")]
        elif code == "before_referral":
            form.at.errors = [
                _(
                    "An attempt cannot be before the family's details came in (%(when)s).",
                    when=local_time(row["created_at"]),
                )
            ]
        else:
            form.at.errors = [str(FLOW_MESSAGES.get(code, FLOW_MESSAGES["not_allowed"]))]
        return render_family(row, forms, 400)
    flash(_("Attempt recorded. Status: %(status)s", status=STATUS_LABELS[new]), "info")
    return _back(referral_id, "attempt")


#: Which field a refused status change's message belongs to.
_STATUS_FIELD = {
    "reason": "reason",
    "criterion": "criterion",
    "consent_date": "consent_date",
    "future": "consent_date",
    "before_referral": "consent_date",
    "subject_id": "subject_id",
}


def change_status(referral_id: int) -> ResponseReturnValue:
    """Change the status (a next step) or correct it (with a reason); the store checks the rules."""
    row = the_referral(referral_id)
    if refused := _refuse_if_final(row):
        return refused
    forms = forms_for(row, studies.of_screening(row), current_locale())
    form = forms["status"]
    if not form.validate_on_submit():
        if form.status.data == queue.BOOKED_ONLY:  # not in the menu: a page from before, or typed by hand
            form.status.errors = [str(FLOW_MESSAGES["book"])]
        return render_family(row, forms, 400)
    new = form.status.data
    try:
        correction = queue.change_status(
            get_db(),
            referral_id,
            new,
            current_user.actor,
            reason=form.reason.data,
            criterion=(form.criterion.data or "").strip() or None,
            consent_date=form.consent_date.data,
            subject_id=(form.subject_id.data or "").strip() or None,
        )
    except queue.FlowError as error:
        code = str(error)
        field = getattr(form, _STATUS_FIELD.get(code, "status"))
        field.errors = [str(FLOW_MESSAGES.get(code, FLOW_MESSAGES["not_allowed"]))]
        return render_family(row, forms, 400)
    if correction:
        flash(_("Status corrected to %(status)s. The reason is in the history.", status=STATUS_LABELS[new]), "info")
    else:
        flash(_("Status changed to %(status)s.", status=STATUS_LABELS[new]), "info")
    return _back(referral_id, "status")


def erase(referral_id: int) -> ResponseReturnValue:
    """The family withdrew consent: erase their personal data after the typed confirmation."""
    row = the_referral(referral_id)
    if refused := _refuse_if_final(row):
        return refused
    forms = forms_for(row, studies.of_screening(row), current_locale())
    form = forms["erase"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    try:
        queue.erase(
            get_db(), referral_id, current_user.actor, reason=form.reason.data, typed_reference=form.confirm.data
        )
    except queue.FlowError as error:
        form.confirm.errors = [str(FLOW_MESSAGES.get(str(error), FLOW_MESSAGES["not_allowed"]))]
        return render_family(row, forms, 400)
    session[_SHOWN] = {k: v for k, v in _shown_until().items() if k != str(referral_id)}
    flash(_("Consent withdrawn: the family's contact details, answers and notes were deleted."), "info")
    return redirect(url_for("coordinator.referral", referral_id=referral_id))


def add_note(referral_id: int) -> ResponseReturnValue:
    """Add a note for the team (audited without its text)."""
    row = the_referral(referral_id)
    if refused := _refuse_if_final(row):
        return refused
    forms = forms_for(row, studies.of_screening(row), current_locale())
    form = forms["note"]
    if not form.validate_on_submit():
        return render_family(row, forms, 400)
    queue.add_note(get_db(), referral_id, current_user.id, form.body.data.strip(), current_user.actor)
    flash(_("Note added."), "info")
    return _back(referral_id, "note")

"""Working the checklist on a family's page: a coordinator marks each criterion the form left
open ("confirm at the visit", "needs review") as confirmed or not met, with its source; a PI
signs the child's eligibility off, and may withdraw the sign-off with a reason.

A PI (role ``pi``) sees what a coordinator sees and may also sign off; nobody else may.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import studies
from ..engine.explain import shown
from ..store import checklist, get_db
from ..web.forms import TextForm
from ..web.i18n import current_locale
from . import family
from .shared import SOURCE_LABELS, VERDICT_LABELS


class MarkForm(TextForm):
    """One check of one criterion."""

    criterion = HiddenField(validators=[DataRequired()])
    verdict = RadioField(
        _l("Result of the check"),
        choices=[SelectChoice(k, v) for k, v in VERDICT_LABELS.items()],
        validators=[InputRequired(message=_l("Choose confirmed or not met."))],
    )
    source = SelectField(
        _l("Source"),
        choices=[SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in SOURCE_LABELS.items()],
        validators=[DataRequired(message=_l("Choose where this was checked."))],
    )
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])


class WithdrawForm(TextForm):
    """Withdrawing a sign-off needs a reason."""

    reason = TextAreaField(
        _l("Reason for withdrawing the sign-off"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=500)],
    )


def is_pi() -> bool:
    """Whether the signed-in staff member is a principal investigator."""
    return getattr(current_user, "role", None) == "pi"


def open_criteria(row: dict[str, Any]) -> list[str]:
    """Ids of the criteria the form left open for this family: those the family read as needing a
    closer look or a check at the visit (an arm of an "any of" group already met is not open)."""
    statuses = json.loads(row["criteria"]) if row.get("criteria") else {}
    study = studies.of_screening(row)
    if study is None or not statuses:
        return []
    return [criterion.id for criterion, _status in shown(studies.flow(study), statuses, "needs_review")]


def panel(row: dict[str, Any]) -> dict[str, Any]:
    """What the checklist blocks show: the latest checks, the sign-offs, and what sign-off needs."""
    db = get_db()
    marks = checklist.marks(db, row["id"])
    open_ids = open_criteria(row)
    statuses = json.loads(row["criteria"]) if row.get("criteria") else {}
    unchecked = [cid for cid in open_ids if cid not in marks]
    not_met = [cid for cid, m in marks.items() if m["verdict"] == "not_met" and cid in open_ids]
    if row.get("outcome") == "not_eligible":
        not_met.append("form")
    signs = checklist.signoffs(db, row["id"])
    active = next((s for s in signs if s["withdrawn_at"] is None), None)
    last_change = max((m["at"] for m in marks.values()), default=None)
    return {
        "marks": marks,
        "signoffs": signs,
        "active": active,
        "changed_since": bool(active and last_change and last_change > active["signed_at"]),
        "unchecked": unchecked,
        "not_met": not_met,
        "can_sign": is_pi() and not active and not unchecked and not not_met and bool(statuses),
        "is_pi": is_pi(),
        "failed": g.get("mark_form"),
        "withdraw_form": g.get("withdraw_form") or WithdrawForm(prefix="signoff", formdata=None),
        "verdict_labels": VERDICT_LABELS,
        "source_labels": SOURCE_LABELS,
        "open_ids": open_ids,
    }


def _back(referral_id: int, anchor: str = "checklist-h") -> ResponseReturnValue:
    return redirect(url_for("coordinator.referral", referral_id=referral_id) + "#" + anchor)


def mark_criterion(referral_id: int) -> ResponseReturnValue:
    """Record one check of an open criterion (audited: criterion, verdict and source)."""
    row = family.the_referral(referral_id)
    if row["status"] == "withdrawn" or not row.get("criteria"):
        abort(409)
    form = MarkForm(prefix="mark")
    if not form.validate_on_submit() or form.criterion.data not in open_criteria(row):
        if form.criterion.data not in open_criteria(row):
            abort(400)
        g.mark_form = form
        return family.render_family(row, status=400)
    checklist.mark(
        get_db(),
        referral_id,
        form.criterion.data,
        form.verdict.data,
        form.source.data,
        (form.note.data or "").strip() or None,
        current_user.id,
        current_user.actor,
    )
    study = studies.of_screening(row)
    label = study.criterion(form.criterion.data).label(current_locale()) if study else form.criterion.data
    flash(
        _("Check saved: %(criterion)s — %(verdict)s.", criterion=label, verdict=VERDICT_LABELS[form.verdict.data]),
        "info",
    )
    return _back(referral_id, f"crit-{form.criterion.data}")


def sign_off(referral_id: int) -> ResponseReturnValue:
    """A PI signs eligibility off (only when every open criterion is confirmed and none is not met)."""
    if not is_pi():
        abort(403)
    row = family.the_referral(referral_id)
    state = panel(row)
    if not state["can_sign"]:
        flash(_("Eligibility cannot be signed off yet: every item must be confirmed first."), "error")
        return _back(referral_id, "signoff-h")
    checklist.sign_off(get_db(), referral_id, current_user.id, current_user.actor)
    flash(_("Eligibility signed off."), "info")
    return _back(referral_id, "signoff-h")


def withdraw_signoff(referral_id: int) -> ResponseReturnValue:
    """A PI withdraws the sign-off in force, with a reason (kept; the audit row has ids only)."""
    if not is_pi():
        abort(403)
    row = family.the_referral(referral_id)
    form = WithdrawForm(prefix="signoff")
    if not form.validate_on_submit():
        g.withdraw_form = form
        return family.render_family(row, status=400)
    if checklist.withdraw_signoff(get_db(), referral_id, current_user.id, form.reason.data.strip(), current_user.actor):
        flash(_("The sign-off was withdrawn."), "info")
    return _back(referral_id, "signoff-h")

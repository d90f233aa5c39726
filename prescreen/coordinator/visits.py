"""Screening visits on a family's page (book, rebook, cancel) and the team's "visits this week".

The booking form sits in its own block of the family's page (``_visit.html``); a form with errors
comes back on that page through :data:`flask.g` so the family page's view needs no change.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, TimeField
from wtforms.validators import InputRequired

from .. import clock, studies
from ..store import get_db, visits
from ..web.forms import TextForm
from . import family, reminders

#: How many days "this week" shows, from the first day (today unless another is asked for).
DAYS = 7
REMINDER_STATE_LABELS = {
    "pending": _l("queued"),
    "sent": _l("sent"),
    "failed": _l("could not be sent"),
    "cancelled": _l("cancelled"),
}


class VisitForm(TextForm):
    """The screening visit's day and time (Beijing time)."""

    day = DateField(_l("Visit date"), validators=[InputRequired(message=_l("Enter the date of the visit."))])
    at = TimeField(_l("Time (Beijing)"), validators=[InputRequired(message=_l("Enter the time of the visit."))])


def panel(row: dict[str, Any]) -> dict[str, Any]:
    """What ``_visit.html`` shows: the form, the booking, its reminders and whether booking is possible."""
    form = g.get("visit_form") or VisitForm(prefix="visit", formdata=None)
    if g.get("visit_form") is None and row.get("visit_date"):
        form.day.data = date.fromisoformat(row["visit_date"])
        if row.get("visit_time"):
            form.at.data = time.fromisoformat(row["visit_time"])
    return {
        "form": form,
        "can_book": visits.can_book(row["kind"], row["status"]),
        "booked": row["status"] == "visit_scheduled" and bool(row.get("visit_date")),
        "reminders": visits.reminders(get_db(), row["id"]),
        "state_labels": REMINDER_STATE_LABELS,
        "phone_only": not (row.get("email") or "").strip(),
        "erased": bool(row.get("purged_at")) or row["status"] == "withdrawn",
    }


def book_visit(referral_id: int) -> ResponseReturnValue:
    """Book or rebook the visit and queue the day-before reminders (audited)."""
    row = family.the_referral(referral_id)
    form = VisitForm(prefix="visit")
    if not visits.can_book(row["kind"], row["status"]):
        flash(_("A visit can be booked once the family has been reached."), "error")
        return redirect(url_for("coordinator.referral", referral_id=referral_id))
    if not form.validate_on_submit():
        g.visit_form = form
        return family.render_family(row, status=400)
    day, hhmm = form.day.data, form.at.data.strftime("%H:%M")
    if day.year < 2000 or day > clock.today() + timedelta(days=366):
        form.day.errors = [_("Please check the date.")]
        g.visit_form = form
        return family.render_family(row, status=400)
    messages = []
    if reminders.visit_moment(day, hhmm) > clock.now():  # a visit already past gets no reminder
        url = current_app.config["PUBLIC_URL"].rstrip("/") + url_for("coordinator.referral", referral_id=referral_id)
        study = studies.get(row["study_id"])
        for message in (reminders.family_reminder(row, study, day, hhmm), reminders.team_reminder(row, day, hhmm, url)):
            if message is not None:
                messages.append(message)
    try:
        changed = visits.book(get_db(), referral_id, day, hhmm, current_user.actor, messages)
    except visits.VisitError:
        flash(_("A visit can be booked once the family has been reached."), "error")
        return redirect(url_for("coordinator.referral", referral_id=referral_id))
    if changed:
        flash(_("Visit booked for %(date)s %(time)s.", date=day.isoformat(), time=hhmm), "info")
    return redirect(url_for("coordinator.referral", referral_id=referral_id) + "#visit-h")


def cancel_visit(referral_id: int) -> ResponseReturnValue:
    """Cancel the booked visit and its reminders (the CSRF check is the global one)."""
    family.the_referral(referral_id)
    if visits.cancel(get_db(), referral_id, current_user.actor):
        flash(_("The visit was cancelled, and its reminders with it."), "info")
    return redirect(url_for("coordinator.referral", referral_id=referral_id) + "#visit-h")


def visits_week() -> ResponseReturnValue:
    """Visits in the seven days from today (or from ``?from=YYYY-MM-DD``), with their reminders."""
    start = clock.today()
    asked = request.args.get("from", "")
    if asked:
        try:
            start = date.fromisoformat(asked)
        except ValueError:
            abort(400)
    end = start + timedelta(days=DAYS - 1)
    rows = visits.week(get_db(), current_user.visible_studies, start, end)
    return render_template(
        "coordinator/visits.html",
        rows=rows,
        start=start,
        end=end,
        today=clock.today(),
        tomorrow=(clock.today() + timedelta(days=1)).isoformat(),
        previous=(start - timedelta(days=DAYS)).isoformat(),
        following=(end + timedelta(days=1)).isoformat(),
        state_labels=REMINDER_STATE_LABELS,
    )

"""Screening visits on a family's page (book, rebook, cancel) and the team's "visits this week".

The booking form sits in its own block of the family's page (``_visit.html``); a form with errors
comes back on that page through :data:`flask.g` so the family page's view needs no change.
A day already past is refused (a year typo turned families "overdue", walk of issue 18, finding 3);
a visit too soon for the day-before 09:00 reminder queues none and says so, and the panel lists
only what is really queued, for the current booking. "This week" is the calendar week (Monday to
Sunday, Beijing) a CRC means by 本周 (finding 11), not the seven days from today.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, TimeField
from wtforms.validators import InputRequired

from .. import clock, studies
from ..store import get_db, visits
from ..web.forms import TextForm
from . import family, reminders

#: How many days "this week" shows: Monday to Sunday.
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
    booked = row["status"] == "visit_scheduled" and bool(row.get("visit_date"))
    listed = visits.reminders(get_db(), row["id"])
    if booked:  # a booked visit's cancelled reminders are an earlier booking's: only what is really queued
        listed = [m for m in listed if m["state"] != "cancelled"]
    return {
        "form": form,
        "can_book": visits.can_book(row["kind"], row["status"]),
        "booked": booked,
        "reminders": listed,
        "none_queued": booked and not listed,
        "confirm_cancel": request.args.get("cancel") == "visit",
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
    if day < clock.today():
        form.day.errors = [_("This date has already passed. Enter today or a later date.")]
    elif day > clock.today() + timedelta(days=366):
        form.day.errors = [_("Please check the date.")]
    if form.day.errors:
        g.visit_form = form
        return family.render_family(row, status=400)
    messages = []
    too_soon = reminders.send_after(day) <= clock.now()
    if not too_soon:  # a reminder due before now would reach nobody in time: none is queued
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
        if too_soon:
            flash(
                _(
                    "The visit is too soon for the day-before reminder: no reminder e-mail will be sent. "
                    "Call the family to remind them."
                ),
                "error",
            )
    return redirect(url_for("coordinator.referral", referral_id=referral_id) + "#visit-h")


def cancel_visit(referral_id: int) -> ResponseReturnValue:
    """Cancel the booked visit and its reminders once confirmed (the CSRF check is the global one).

    A post without the confirmation's field (an old page, a stray click) only opens the question.
    """
    family.the_referral(referral_id)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("coordinator.referral", referral_id=referral_id, cancel="visit") + "#visit-h")
    if visits.cancel(get_db(), referral_id, current_user.actor):
        flash(_("The visit was cancelled, and its reminders with it."), "info")
    return redirect(url_for("coordinator.referral", referral_id=referral_id) + "#visit-h")


def week_of(day: date) -> tuple[date, date]:
    """The Monday and Sunday of the calendar week holding *day*."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=DAYS - 1)


def visits_week() -> ResponseReturnValue:
    """The visits of the calendar week holding today (or ``?from=YYYY-MM-DD``), day by day."""
    today = clock.today()
    asked = request.args.get("from", "")
    try:
        start, end = week_of(date.fromisoformat(asked) if asked else today)
    except ValueError:
        abort(400)
    rows = visits.week(get_db(), current_user.visible_studies, start, end)
    days = []
    for offset in range(DAYS):
        day = start + timedelta(days=offset)
        days.append(
            {
                "date": day,
                "weekday": format_date(day, "EEEE"),
                "today": day == today,
                "rows": [r for r in rows if r["visit_date"] == day.isoformat()],
            }
        )
    return render_template(
        "coordinator/visits.html",
        rows=rows,
        days=days,
        start=start,
        end=end,
        today=today,
        this_week=start <= today <= end,
        tomorrow=(today + timedelta(days=1)).isoformat(),
        previous=(start - timedelta(days=DAYS)).isoformat(),
        following=(end + timedelta(days=1)).isoformat(),
        state_labels=REMINDER_STATE_LABELS,
    )

"""Volunteer pages: sign up for study news, confirm, manage, unsubscribe, re-check reminder.

Nothing here reveals whether an address is known: every sign-up gets the same answer, and
the only e-mail goes to the address itself. Because anyone can type anyone's address into the
sign-up form, what the form may send is limited per mailbox (``VOLUNTEER_SIGNUP_MAILS_PER_WEEK``,
``+tags`` and Gmail dots counted as the one inbox they reach), and a mailbox whose owner
unsubscribed is never mailed because of it: its owner subscribes again through "Subscribe
again" on the page a link from one of our e-mails opens, which proves the mailbox is theirs.

Links from e-mails carry an unguessable token (stored hashed); the one-click unsubscribe
(RFC 8058) is the one POST without a CSRF token, because mail programs send it without cookies
and the token is its authentication.
"""

from __future__ import annotations

import hmac
from datetime import date, timedelta
from typing import Any

import sqlite_utils
from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_date

from .. import clock, studies
from ..extensions import csrf
from ..mail.render import queue_already_signed_up, queue_confirmation, reminder_message, study_code
from ..public.session import current_screening
from ..store import get_db, outbox, transaction, volunteers
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .forms import (
    REMINDER_CONSENT,
    SIGNUP_CONSENT,
    ButtonForm,
    PreferencesForm,
    ReminderForm,
    ResubscribeForm,
    SignupForm,
    consent_version,
)

#: The window ``VOLUNTEER_SIGNUP_MAILS_PER_WEEK`` counts in.
SIGNUP_MAIL_WINDOW = timedelta(days=7)


def category_groups(locale: str) -> list[dict[str, Any]]:
    """The taxonomy as groups (a top-level category, then its children) for the checkboxes."""
    groups: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for category in studies.categories():
        if not category.parent:
            by_id[category.id] = {"id": category.id, "label": category.label(locale), "children": []}
            groups.append(by_id[category.id])
        elif category.parent in by_id:
            by_id[category.parent]["children"].append({"id": category.id, "label": category.label(locale)})
    return groups


def _prepared(form: PreferencesForm) -> PreferencesForm:
    form.set_categories([(c.id, c.label(current_locale())) for c in studies.categories()])
    return form


def no_store(response: Response) -> Response:
    """Pages reached by a personal link must not stay in a shared computer's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def signup() -> Any:
    """Sign up: the same answer whether or not the address is known, and never a second row."""
    form = _prepared(SignupForm())
    if not form.is_submitted():
        form.language.data = current_locale()
    if form.validate_on_submit():
        db = get_db()
        with transaction(db):
            _take_sign_up(db, form)
        return redirect(url_for(".check_email"))
    return render_template("volunteer/signup.html", form=form, groups=category_groups(current_locale()))


def _take_sign_up(db: sqlite_utils.Database, form: SignupForm) -> None:
    """Record a sign-up and queue its one reply, unless this mailbox must not get one.

    Nothing is stored or sent for an address barred by a bounce, a mailbox whose owner
    unsubscribed (under any spelling), or a mailbox the form already wrote to
    ``VOLUNTEER_SIGNUP_MAILS_PER_WEEK`` times in the last 7 days. The page says the same
    "check your e-mail" in every case, so it tells nobody which applied.
    """
    email = form.email.data
    if volunteers.is_suppressed(db, email) or volunteers.mailbox_unsubscribed(db, email):
        return
    since = clock.iso(clock.now() - SIGNUP_MAIL_WINDOW)
    if volunteers.signup_mails_since(db, email, since) >= int(current_app.config["VOLUNTEER_SIGNUP_MAILS_PER_WEEK"]):
        return
    volunteer_id, before = volunteers.sign_up(
        db,
        email=email,
        locale=form.language.data,
        categories=form.categories.data,
        age_band=form.age_band_value(),
        consent_version=consent_version(SIGNUP_CONSENT),
        consent_locale=current_locale(),
    )
    if before == "unsubscribed":
        return
    volunteer = volunteers.get(db, volunteer_id)
    day = clock.utc_text()[:10]
    if before == "confirmed":
        kind, queued = "volunteer-already", queue_already_signed_up(db, volunteer, day)
    else:
        kind, queued = "volunteer-confirm", queue_confirmation(db, volunteer, day)
    if queued:
        volunteers.count_signup_mail(db, email, kind, since)


def check_email() -> str:
    """After sign-up: look in your inbox (said to everyone, known address or not)."""
    return render_template("volunteer/check_email.html")


def _link_problem(expired: bool = False) -> tuple[str, int]:
    return render_template("volunteer/link_problem.html", expired=expired), 410 if expired else 404


def _volunteer_locale(volunteer: dict[str, Any]) -> None:
    """Show a volunteer's own pages in their language unless they chose another with the switch."""
    g.screening_locale = volunteer["locale"]


def confirm(token: str) -> Any:
    """Double opt-in: a GET only shows a button (mail scanners follow links), the POST confirms."""
    db = get_db()
    volunteer, expired = volunteers.by_token(db, token, "confirm")
    if volunteer is None:
        return _link_problem()
    _volunteer_locale(volunteer)
    if expired:
        return _link_problem(expired=True)
    form = ButtonForm()
    if form.validate_on_submit():
        volunteers.confirm(db, volunteer["id"])
        return render_template("volunteer/confirmed.html")
    return render_template("volunteer/confirm.html", form=form)


def manage(token: str) -> Any:
    """Change categories, language and age band from the link in any of our e-mails."""
    db = get_db()
    volunteer, _ = volunteers.by_token(db, token, "manage")
    if volunteer is None:
        return _link_problem()
    _volunteer_locale(volunteer)
    if volunteer["status"] == "unsubscribed":
        return render_template("volunteer/unsubscribed.html", token=token)
    form = _prepared(PreferencesForm())
    saved = False
    if form.validate_on_submit():
        volunteers.update_preferences(
            db,
            volunteer["id"],
            locale=form.language.data,
            categories=form.categories.data,
            age_band=form.age_band_value(),
        )
        saved = True
    elif not form.is_submitted():
        form.language.data = volunteer["locale"]
        form.categories.data = volunteer["categories"]
        form.age_band.data = volunteer["age_band"] or ""
    return render_template(
        "volunteer/manage.html", form=form, token=token, saved=saved, groups=category_groups(current_locale())
    )


@csrf.exempt
def unsubscribe(token: str) -> Any:
    """RFC 8058: a cookieless ``List-Unsubscribe=One-Click`` POST unsubscribes (2xx, no redirect).

    Any other POST is the page's own button and must carry a CSRF token; a GET changes nothing.
    """
    db = get_db()
    volunteer, _ = volunteers.by_token(db, token, "manage")
    if request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click":
        if volunteer is None:
            return Response("unknown link\n", status=404, mimetype="text/plain")
        volunteers.unsubscribe(db, volunteer["id"])
        return Response("unsubscribed\n", status=200, mimetype="text/plain")
    if request.method == "POST":
        csrf.protect()
    if volunteer is None:
        return _link_problem()
    _volunteer_locale(volunteer)
    form = ButtonForm()
    if volunteer["status"] == "unsubscribed":
        return render_template("volunteer/unsubscribed.html", token=token)
    if form.validate_on_submit():
        volunteers.unsubscribe(db, volunteer["id"])
        return render_template("volunteer/unsubscribed.html", token=token)
    return render_template("volunteer/unsubscribe.html", form=form, token=token)


def resubscribe(token: str) -> Any:
    """Subscribe again after unsubscribing: only from a link we e-mailed to this address.

    The sign-up form never mails an unsubscribed mailbox (anyone can type anyone's address into
    it); a manage link reached only that mailbox, so it is the owner's way back, with a fresh
    consent and fresh choices, and needs no further confirmation e-mail.
    """
    db = get_db()
    volunteer, _ = volunteers.by_token(db, token, "manage")
    if volunteer is None:
        return _link_problem()
    _volunteer_locale(volunteer)
    if volunteer["status"] != "unsubscribed":
        return redirect(url_for(".manage", token=token))
    form = _prepared(ResubscribeForm())
    if form.validate_on_submit():
        volunteers.resubscribe(
            db,
            volunteer["id"],
            locale=form.language.data,
            categories=form.categories.data,
            age_band=form.age_band_value(),
            consent_version=consent_version(SIGNUP_CONSENT),
            consent_locale=current_locale(),
        )
        return render_template("volunteer/confirmed.html")
    if not form.is_submitted():
        form.language.data = volunteer["locale"]
    return render_template("volunteer/resubscribe.html", form=form, groups=category_groups(current_locale()))


def _recheck_date(screening: dict[str, Any] | None) -> date | None:
    try:
        return date.fromisoformat(str((screening or {}).get("recheck_after") or ""))
    except ValueError:
        return None


def reminder_row(channel: str, locale: str, study_id: str, address: str) -> dict[str, Any]:
    """The outbox columns of a re-check reminder: a text (template and the study's opaque code) or an e-mail."""
    if channel == "sms":
        return {"channel": "sms", **outbox.sms_row(address, "recheck-reminder", {"code": study_code(study_id)})}
    subject, text, html = reminder_message(locale, study_id)
    return {"channel": "email", "to_addr": address, "subject": subject, "body_text": text, "body_html": html}


def reminder() -> Any:
    """One text or e-mail on the family's re-check date with the link to screen again; no health data."""
    screening = current_screening()
    when = _recheck_date(screening)
    if screening is None or when is None:
        return render_template("volunteer/reminder_none.html")
    g.screening_locale = screening.get("locale")  # the page and the e-mail speak the chat's language
    form = ReminderForm()
    shown = format_date(when, format="long")
    if form.validate_on_submit():
        locale = current_locale()
        channel = form.channel.data
        address = form.phone.data if channel == "sms" else form.email.data
        message = reminder_row(channel, locale, screening["study_id"], address)
        key = volunteers.reminder_key(screening["id"])
        due = volunteers.reminder_due(when)
        db = get_db()
        with transaction(db):
            screening_store.add_consent(
                db,
                screening["id"],
                screening_store.RECHECK_REMINDER,
                consent_version(REMINDER_CONSENT),
                locale,
                screening.get("respondent") or "guardian",
            )
            if not outbox.enqueue(db, key=key, kind="recheck-reminder", locale=locale, **message):
                outbox.replace_pending(db, key, locale=locale, **message)  # asked again: the latest choice
            outbox.schedule(db, key, due)
        return render_template("volunteer/reminder_done.html", date=shown, channel=channel)
    return render_template("volunteer/reminder.html", form=form, date=shown)


def again(code: str) -> Any:
    """Where a re-check reminder's link leads: on to the study it stands for, or the home page.

    The link carries an opaque code (:func:`prescreen.mail.render.study_code`), so the e-mail
    names no illness; a code from before a change of secret key, or of a removed study, still
    lands somewhere useful.
    """
    for study_id in studies.all():
        if hmac.compare_digest(study_code(study_id), code):
            return redirect(url_for("public.study", study_id=study_id))
    return redirect(url_for("home.index"))

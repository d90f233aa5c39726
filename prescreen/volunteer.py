"""Volunteer pages: sign up for study news, confirm, manage, unsubscribe, re-check reminder.

Nothing here reveals whether an address is known: every sign-up gets the same answer, and
the only e-mail goes to the address itself. Links from e-mails carry an unguessable token
(stored hashed); the one-click unsubscribe (RFC 8058) is the one POST without a CSRF token,
because mail programs send it without cookies and the token is its authentication.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from flask_babel import format_date

from . import csrf
from .config import ConfigError
from .engine import StudyError, load_categories
from .i18n import current_locale
from .limits import limiter_for, public_post_limit
from .mail import mail_cli, queue_already_signed_up, queue_confirmation, reminder_message
from .notify import categories, studies_cli
from .store import get_db, outbox, utcnow, volunteers
from .volunteer_forms import (
    REMINDER_CONSENT,
    SIGNUP_CONSENT,
    ButtonForm,
    PreferencesForm,
    ReminderForm,
    SignupForm,
    consent_version,
)

bp = Blueprint("volunteer", __name__, url_prefix="/volunteer")
#: The hour (UTC) a reminder goes out on its day: 09:00 in Beijing.
REMINDER_HOUR_UTC = 1


def category_groups(locale: str) -> list[dict[str, Any]]:
    """The taxonomy as groups (a top-level category, then its children) for the checkboxes."""
    groups: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for category in categories():
        if not category.parent:
            by_id[category.id] = {"id": category.id, "label": category.label(locale), "children": []}
            groups.append(by_id[category.id])
        elif category.parent in by_id:
            by_id[category.parent]["children"].append({"id": category.id, "label": category.label(locale)})
    return groups


def _prepared(form: PreferencesForm) -> PreferencesForm:
    form.set_categories([(c.id, c.label(current_locale())) for c in categories()])
    return form


@bp.after_request
def no_store(response: Response) -> Response:
    """Pages reached by a personal link must not stay in a shared computer's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/", methods=["GET", "POST"])
def signup() -> Any:
    """Sign up: the same answer whether or not the address is known, and never a second row."""
    form = _prepared(SignupForm())
    if not form.is_submitted():
        form.language.data = current_locale()
    if form.validate_on_submit():
        db = get_db()
        with volunteers.joined(db):
            if not volunteers.is_suppressed(db, form.email.data):
                volunteer_id, before = volunteers.sign_up(
                    db,
                    email=form.email.data,
                    locale=form.language.data,
                    categories=form.categories.data,
                    age_band=form.age_band_value(),
                    consent_version=consent_version(SIGNUP_CONSENT),
                    consent_locale=current_locale(),
                )
                volunteer = volunteers.get(db, volunteer_id)
                day = utcnow()[:10]
                if before == "confirmed":
                    queue_already_signed_up(db, volunteer, day)
                else:
                    queue_confirmation(db, volunteer, day)
        return redirect(url_for(".check_email"))
    return render_template("volunteer/signup.html", form=form, groups=category_groups(current_locale()))


@bp.get("/check-email")
def check_email() -> str:
    """After sign-up: look in your inbox (said to everyone, known address or not)."""
    return render_template("volunteer/check_email.html")


def _link_problem(expired: bool = False) -> tuple[str, int]:
    return render_template("volunteer/link_problem.html", expired=expired), 410 if expired else 404


def _volunteer_locale(volunteer: dict[str, Any]) -> None:
    """Show a volunteer's own pages in their language unless they chose another with the switch."""
    g.screening_locale = volunteer["locale"]


@bp.route("/confirm/<token>", methods=["GET", "POST"])
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


@bp.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str) -> Any:
    """Change categories, language and age band from the link in any of our e-mails."""
    db = get_db()
    volunteer, _ = volunteers.by_token(db, token, "manage")
    if volunteer is None:
        return _link_problem()
    _volunteer_locale(volunteer)
    if volunteer["status"] == "unsubscribed":
        return render_template("volunteer/unsubscribed.html")
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


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
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
        return render_template("volunteer/unsubscribed.html")
    if form.validate_on_submit():
        volunteers.unsubscribe(db, volunteer["id"])
        return render_template("volunteer/unsubscribed.html")
    return render_template("volunteer/unsubscribe.html", form=form, token=token)


def _current_screening() -> dict[str, Any] | None:
    """This browser's screening (the chat's ``current_screening``), or None before there is one."""
    try:
        from .public import current_screening
    except ImportError:
        return None
    return current_screening()


def _recheck_date(screening: dict[str, Any] | None) -> date | None:
    try:
        return date.fromisoformat(str((screening or {}).get("recheck_after") or ""))
    except ValueError:
        return None


@bp.route("/reminder", methods=["GET", "POST"])
def reminder() -> Any:
    """One e-mail on the family's re-check date with the link to screen again; no health data."""
    screening = _current_screening()
    when = _recheck_date(screening)
    if screening is None or when is None:
        return render_template("volunteer/reminder_none.html")
    g.screening_locale = screening.get("locale")  # the page and the e-mail speak the chat's language
    form = ReminderForm()
    shown = format_date(when, format="long")
    if form.validate_on_submit():
        locale = current_locale()
        subject, text, html = reminder_message(locale, screening["study_id"])
        key = f"recheck-reminder:{screening['id']}"
        due = max(datetime.combine(when, time(REMINDER_HOUR_UTC), tzinfo=UTC), datetime.now(UTC))
        db = get_db()
        with volunteers.joined(db):
            volunteers.record_reminder_consent(
                db,
                screening["id"],
                consent_version(REMINDER_CONSENT),
                locale,
                screening.get("respondent") or "guardian",
            )
            mail = {"to_addr": form.email.data, "locale": locale, "subject": subject, "body_text": text}
            if not outbox.enqueue(db, key=key, kind="recheck-reminder", body_html=html, **mail):
                outbox.replace_pending(db, key, body_html=html, **mail)
            outbox.schedule(db, key, due)
        return render_template("volunteer/reminder_done.html", date=shown)
    return render_template("volunteer/reminder.html", form=form, date=shown)


def init_app(app: Flask) -> None:
    """Load the category taxonomy once, add ``prescreen mail`` and ``prescreen studies``, rate-limit posts."""
    path = Path(app.config["QUESTIONS_DIR"]) / "categories.csv"
    try:
        app.extensions["categories"] = load_categories(path) if path.exists() else []
    except StudyError as exc:
        raise ConfigError(f"questions/categories.csv has problems:\n{exc}") from None
    app.cli.add_command(mail_cli)
    app.cli.add_command(studies_cli)
    # Sign-ups and reminders count toward the same per-client allowance as the chat's posts. The
    # one-click unsubscribe does not: mail providers post it from a few shared servers.
    limiter_for(app).limit(
        public_post_limit,
        methods=["POST"],
        scope="public-post",
        exempt_when=lambda: request.endpoint == "volunteer.unsubscribe",
    )(bp)

"""Staff sign-in: Flask-Login over server-side sessions, a lockout kept in the database, the CLI.

There is no sign-up page: an operator creates accounts with ``prescreen users create``. The
session cookie carries only an opaque random id (Flask-Login's ``_user_id``); the row it names
in ``staff_sessions`` decides whether the session is alive, so logout, the 30-minute idle limit,
the 12-hour absolute limit and disabling an account all take effect even for a copied cookie.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.cli import AppGroup
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import passwords
from .forms import TextForm
from .store import audit, get_db, sessions, users

bp = Blueprint("auth", __name__, url_prefix="/staff")
login_manager = LoginManager()


def now() -> datetime:
    """The current time; one place, so the rules below read the same clock."""
    return datetime.now(UTC)


def for_log(text: str) -> str:
    """Make user input safe for a one-line log entry: CR, LF and other controls escaped."""
    return json.dumps(text[:254], ensure_ascii=False)[1:-1]


class StaffUser:
    """The signed-in staff member; ``get_id`` is the session id, never the account id."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, row: dict[str, Any], session_id: str) -> None:
        self.id = int(row["id"])
        self.email = row["email"]
        self.role = row["role"]
        self.studies: list[str] = json.loads(row["studies"] or "[]")
        self.is_active = bool(row["active"])
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def visible_studies(self) -> list[str] | None:
        """Studies this person may see; None means all (admins, or a coordinator with no limit)."""
        return None if self.is_admin or not self.studies else list(self.studies)

    @property
    def actor(self) -> str:
        """How the audit trail names this person."""
        return f"user:{self.id}"


def idle_limit() -> timedelta:
    return timedelta(minutes=int(current_app.config["STAFF_IDLE_MINUTES"]))


def absolute_limit() -> timedelta:
    return timedelta(hours=int(current_app.config["STAFF_MAX_HOURS"]))


@login_manager.user_loader
def load_user(session_id: str) -> StaffUser | None:
    """Find the live session named by the cookie (None sends the request to the login page)."""
    row = sessions.load(get_db(), session_id, now(), idle_limit(), absolute_limit())
    return StaffUser(row, session_id) if row else None


class LoginForm(TextForm):
    """E-mail and password; no "remember me": a shared ward computer must not stay signed in."""

    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Enter your e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=passwords.MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


def safe_next(target: str | None) -> str:
    """Only go back to one of our own coordinator pages after signing in (no open redirect)."""
    if target and target.startswith("/coordinator") and "//" not in target and "\\" not in target:
        return target
    return url_for("coordinator.queue")


def check_login(email: str, password: str) -> tuple[dict[str, Any] | None, str]:
    """Decide a login attempt; returns ``(user row or None, reason code)``. Counts failures."""
    db = get_db()
    config = current_app.config
    max_failures = int(config["LOGIN_MAX_FAILURES"])
    lock = timedelta(minutes=int(config["LOGIN_LOCK_MINUTES"]))
    user = users.by_email(db, email)
    if user is None or not user["active"]:
        passwords.verify(passwords.DUMMY_HASH, password)  # same time as a real check
        return None, "unknown_account" if user is None else "disabled"
    if not users.reserve_attempt(db, user["id"], now(), max_failures, lock):
        return user, "locked"
    if not passwords.verify(user["password_hash"], password):
        locked = users.record_failure(db, user["id"], now(), max_failures, lock)
        return user, "locked_now" if locked else "bad_password"
    users.record_success(db, user["id"])
    return user, "ok"


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in; every outcome is audited (never the password) and logged with the name escaped."""
    if current_user.is_authenticated:
        return redirect(url_for("coordinator.queue"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        email = form.email.data.strip()
        user, reason = check_login(email, form.password.data)
        db = get_db()
        if reason == "ok" and user is not None:
            target = safe_next(request.args.get("next"))
            session.clear()  # a new session (and CSRF token) at the privilege change
            session_id = sessions.create(db, user["id"], now())
            login_user(StaffUser(user, session_id))
            session.pop("_id", None)  # Flask-Login's hash of IP and browser: not needed server-side
            audit.record(db, f"user:{user['id']}", "login.success", "user", user["id"])
            current_app.logger.info("login success for %s", for_log(email))
            return redirect(target)
        failed = True
        actor = f"user:{user['id']}" if user else "anonymous"
        audit.record(db, actor, "login.failure", "user", user["id"] if user else None, {"reason": reason})
        current_app.logger.warning("login failure for %s (%s)", for_log(email), reason)
    status = 401 if failed else 200
    return render_template("coordinator/login.html", form=form, failed=failed), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End the session on the server (the row goes), then in the browser."""
    db = get_db()
    sessions.end(db, current_user.get_id())
    audit.record(db, current_user.actor, "logout", "user", current_user.id)
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.after_request
def no_store(response: Response) -> Response:
    """Sign-in pages are never cached (a shared computer's back button shows nothing)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response


@click.group("users", cls=AppGroup)
def users_cli() -> None:
    """Create and disable study-team accounts (there is no sign-up page)."""


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(users.ROLES), required=True, help="coordinator or admin")
@click.option("--study", "studies", multiple=True, help="limit a coordinator to this study (repeatable)")
def create_user_command(email: str, role: str, studies: tuple[str, ...]) -> None:
    """Create an account; the password is asked twice and never shown or stored in plain text."""
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise click.ClickException(f"{email!r} is not an e-mail address")
    known = current_app.extensions["studies"]
    for study in studies:
        if study not in known:
            raise click.ClickException(f"unknown study {study!r}; known: {', '.join(sorted(known))}")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    reason = passwords.problem(password, email)
    if reason:
        raise click.ClickException(reason)
    try:
        users.create(get_db(), email, passwords.hash_password(password), role, list(studies), "cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    limit = f" for {', '.join(studies)}" if studies else ""
    click.echo(f"created {role} {email}{limit}")


@users_cli.command("disable")
@click.argument("email")
def disable_user_command(email: str) -> None:
    """Disable an account and end its sessions at once."""
    if not users.disable(get_db(), email, "cli"):
        raise click.ClickException(f"no account for {email}")
    click.echo(f"disabled {email}")


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the ``users`` command."""
    # Flask-Login's own context processor looks the user up for every template, the public
    # chat's included (a tenth of its render time). The proxy as a global is resolved only by
    # the coordinator templates that read it.
    login_manager.init_app(app, add_context_processor=False)
    app.jinja_env.globals["current_user"] = current_user
    # Its remember-me hook reads the session on every response, so every response, static files
    # included, said "Vary: Cookie" and a phone's cached stylesheet stopped matching once the
    # session cookie changed. There is no "remember me" here (see LoginForm): nothing to update.
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # the flash goes into the cookie: a plain string, not a lazy one
    # The server-side session is the protection; Flask-Login's IP/browser hash would only add
    # derived personal data to the cookie.
    login_manager.session_protection = None
    app.cli.add_command(users_cli)

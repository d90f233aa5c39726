"""Staff sign-in: Flask-Login over server-side sessions, a lockout kept in the database, the CLI.

There is no sign-up page: an operator creates accounts with ``prescreen users create``. The
session cookie carries only an opaque random id (Flask-Login's ``_user_id``); the row it names
in ``staff_sessions`` decides whether the session is alive, so logout, the 30-minute idle limit,
the 12-hour absolute limit and disabling an account all take effect even for a copied cookie.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from .. import clock
from ..extensions import login_manager
from ..store import audit, get_db, sessions, users
from . import passwords
from .forms import LoginForm

_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def for_log(text: str) -> str:
    """Make user input safe for a one-line log entry: every character that is not printable escaped.

    Not only CR and LF: log viewers and Python's own ``str.splitlines`` also break lines at U+0085
    (NEL), U+2028 and U+2029, and other controls can rewrite a terminal. ``str.isprintable`` is
    False for all of them (categories Cc, Cf, Zl, Zp, and unassigned code points) and True for
    Chinese, so names stay readable.
    """
    out = []
    for char in text[:254]:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def client_address() -> str:
    """The client's address as the log and the audit trail name it (after ``TRUSTED_PROXIES``)."""
    return for_log(request.remote_addr or "-")


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
    row = sessions.load(get_db(), session_id, clock.now(), idle_limit(), absolute_limit())
    return StaffUser(row, session_id) if row else None


def safe_next(target: str | None) -> str:
    """Only go back to one of our own coordinator pages after signing in (no open redirect)."""
    if target and target.startswith("/coordinator") and "//" not in target and "\\" not in target:
        return target
    return url_for("coordinator.queue")


def check_login(email: str, password: str, code: str = "") -> tuple[dict[str, Any] | None, str]:
    """Decide a login attempt; returns ``(user row or None, reason code)``. Counts failures.

    Every way of being refused runs one scrypt check, so the answer takes as long for an unknown,
    disabled or locked account as for a wrong password: its timing tells nobody which accounts
    exist or which are locked. A wrong, missing or replayed authenticator code counts as a failure
    like a wrong password.
    """
    db = get_db()
    config = current_app.config
    max_failures = int(config["LOGIN_MAX_FAILURES"])
    lock = timedelta(minutes=int(config["LOGIN_LOCK_MINUTES"]))
    user = users.by_email(db, email)
    if user is None or not user["active"]:
        passwords.verify(passwords.DUMMY_HASH, password)
        return None, "unknown_account" if user is None else "disabled"
    if not users.reserve_attempt(db, user["id"], clock.now(), max_failures, lock):
        passwords.verify(passwords.DUMMY_HASH, password)
        return user, "locked"
    if not passwords.verify(user["password_hash"], password):
        locked = users.record_failure(db, user["id"], clock.now(), max_failures, lock)
        return user, "locked_now" if locked else "bad_password"
    if user["totp_secret"]:
        step = passwords.totp_step(user["totp_secret"], code, clock.now())
        if step is None or not users.use_totp_step(db, user["id"], step):
            locked = users.record_failure(db, user["id"], clock.now(), max_failures, lock)
            return user, "locked_now" if locked else ("bad_code" if step is None else "reused_code")
    elif user["role"] == "admin" and config["ADMIN_TOTP_REQUIRED"]:
        return user, "totp_required"
    users.record_success(db, user["id"])
    return user, "ok"


def login() -> ResponseReturnValue:
    """Sign in; every outcome is audited (never the password) and logged with the name escaped."""
    if current_user.is_authenticated:
        return redirect(url_for("coordinator.queue"))
    form = LoginForm()
    failed = False
    reason = None
    if form.validate_on_submit():
        email = form.email.data.strip()
        user, reason = check_login(email, form.password.data, form.code.data or "")
        db = get_db()
        address = client_address()
        if reason == "ok" and user is not None:
            target = safe_next(request.args.get("next"))
            session.clear()  # a new session (and CSRF token) at the privilege change
            session_id = sessions.create(db, user["id"], clock.now())
            login_user(StaffUser(user, session_id))
            session.pop("_id", None)  # Flask-Login's hash of IP and browser: not needed server-side
            audit.record(db, f"user:{user['id']}", "login.success", "user", user["id"], {"address": address})
            current_app.logger.info("login success for %s from %s", for_log(email), address)
            return redirect(target)
        failed = True
        actor = f"user:{user['id']}" if user else "anonymous"
        detail = {"reason": reason, "address": address}
        audit.record(db, actor, "login.failure", "user", user["id"] if user else None, detail)
        current_app.logger.warning("login failure for %s from %s (%s)", for_log(email), address, reason)
    status = 401 if failed else 200
    totp_required = reason == "totp_required"
    return render_template("coordinator/login.html", form=form, failed=failed, totp_required=totp_required), status


def login_limit_per_address() -> str:
    """Sign-in posts one client address may make (``LOGIN_LIMIT_PER_ADDRESS``)."""
    return str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"])


def login_limit_global() -> str:
    """Sign-in posts everyone together may make (``LOGIN_LIMIT_GLOBAL``)."""
    return str(current_app.config["LOGIN_LIMIT_GLOBAL"])


def everyone() -> str:
    """One rate-limit key for all clients: the global ceiling on sign-in posts."""
    return "all-clients"


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


def no_store(response: Response) -> Response:
    """Sign-in pages are never cached (a shared computer's back button shows nothing)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response

"""Staff sign-in: Flask-Login over server-side sessions, a lockout kept in the database, the CLI.

There is no sign-up page: an operator creates accounts with ``prescreen users create``. The
session cookie carries only an opaque random id (Flask-Login's ``_user_id``); the row it names
in ``staff_sessions`` decides whether the session is alive, so logout, the 30-minute idle limit,
the 12-hour absolute limit and disabling an account all take effect even for a copied cookie.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from .. import clock
from ..extensions import login_manager
from ..store import audit, get_db, sessions, users
from . import passwords, totp_seal
from .forms import PASSWORD_PROBLEMS, ChoosePasswordForm, LoginForm

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
    """``STAFF_IDLE_MINUTES`` (a fraction is allowed, so a test can make it a few seconds)."""
    return timedelta(minutes=float(current_app.config["STAFF_IDLE_MINUTES"]))


def idle_settings() -> dict[str, Any]:
    """What the staff pages' script needs: the idle limit, the warning lead (seconds), this page.

    ``here`` is where "sign in again" leads back to: this page for a GET, the page a form was
    posted from otherwise (both only when :func:`safe_next` allows them).
    """
    if request.method == "GET":
        here = request.full_path.rstrip("?")
        here = here if safe_next(here) == here else None
    else:
        here = referring_page()
    return {
        "idle": int(idle_limit().total_seconds()),
        "warn": int(idle_warning_lead().total_seconds()),
        "here": here,
    }


def idle_warning_lead() -> timedelta:
    """How long before the idle limit the page warns: two minutes, or half of a shorter limit."""
    return min(timedelta(minutes=2), idle_limit() / 2)


def absolute_limit() -> timedelta:
    return timedelta(hours=int(current_app.config["STAFF_MAX_HOURS"]))


@login_manager.user_loader
def load_user(session_id: str) -> StaffUser | None:
    """Find the live session named by the cookie (None sends the request to the login page)."""
    row = sessions.load(get_db(), session_id, clock.now(), idle_limit(), absolute_limit())
    return StaffUser(row, session_id) if row else None


#: Where signing in may lead back to: the study team's own pages, nothing else.
_NEXT_PREFIX = "/coordinator"


def safe_next(target: str | None) -> str:
    """Only go back to one of our own coordinator pages after signing in (no open redirect).

    A path on this site only: no scheme or host (``https://evil.example``, ``//evil.example``),
    no backslash (browsers read ``/\\evil.example`` as a host), no control character or space
    (browsers drop tabs and newlines, turning ``/\t/evil`` into ``//evil``), and under
    ``/coordinator``. Anything else goes to the queue.
    """
    fallback = url_for("coordinator.queue")
    if not target or len(target) > 1000:
        return fallback
    if "\\" in target or any(not char.isprintable() or char.isspace() for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return fallback
    if parts.path != _NEXT_PREFIX and not parts.path.startswith(_NEXT_PREFIX + "/"):
        return fallback
    if "//" in parts.path or "/../" in parts.path + "/" or "/./" in parts.path + "/":
        return fallback
    return target


def referring_page() -> str | None:
    """The coordinator page a form was posted from (the Referer, same site only), or None.

    A form posted after the session ended cannot be replayed after signing in, but the person
    should land back on the family's page they were working on (their draft waits there).
    """
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if safe_next(path) == path else None


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
    expires = user.get("password_expires_at")
    if user.get("must_change_password") and expires and clock.now() >= datetime.fromisoformat(expires):
        return user, "one_time_expired"
    if user["totp_secret"]:
        secret = totp_seal.unseal(user["totp_secret"], current_app.secret_key or "")
        if secret is None:
            current_app.logger.error(
                "the authenticator secret of user %s cannot be opened (was SECRET_KEY changed?): "
                "enrol again with `prescreen users totp`",
                user["id"],
            )
        step = passwords.totp_step(secret, code, clock.now()) if secret else None
        if step is None or not users.use_totp_step(db, user["id"], step):
            locked = users.record_failure(db, user["id"], clock.now(), max_failures, lock)
            return user, "locked_now" if locked else ("bad_code" if step is None else "reused_code")
        if secret and not totp_seal.is_sealed(user["totp_secret"]):  # enrolled before sealing
            users.reseal_totp(db, user["id"], user["totp_secret"], totp_seal.seal(secret, current_app.secret_key or ""))
    elif user["role"] == "admin" and config["ADMIN_TOTP_REQUIRED"]:
        return user, "totp_required"
    users.record_success(db, user["id"])
    return user, "ok"


#: How long after signing in with a one-time password the person has to choose their own.
CHOOSE_WITHIN = timedelta(minutes=10)


def start_session(user: dict[str, Any], target: str) -> Response:
    """Sign *user* in with a new server-side session and go to *target*. Audited and logged."""
    db = get_db()
    address = client_address()
    session.clear()  # a new session (and CSRF token) at the privilege change
    session_id = sessions.create(db, user["id"], clock.now())
    login_user(StaffUser(user, session_id))
    session.pop("_id", None)  # Flask-Login's hash of IP and browser: not needed server-side
    audit.record(db, f"user:{user['id']}", "login.success", "user", user["id"], {"address": address})
    current_app.logger.info("login success for %s from %s", for_log(user["email"]), address)
    return redirect(target)


def login() -> ResponseReturnValue:
    """Sign in; every outcome is audited (never the password) and logged with the name escaped.

    A one-time password (from an admin) does not start a session: it leads to choosing a new
    password first (:func:`choose_password`), and only that signs the person in.
    """
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    failed = False
    reason = None
    if form.validate_on_submit():
        email = form.email.data.strip()
        user, reason = check_login(email, form.password.data, form.code.data or "")
        if reason == "ok" and user is not None:
            if user.get("must_change_password"):
                session.clear()
                session["choose_password"] = {"user": user["id"], "at": clock.utc_text(), "next": target}
                return redirect(url_for("auth.choose_password"))
            return start_session(user, target)
        failed = True
        db = get_db()
        address = client_address()
        actor = f"user:{user['id']}" if user else "anonymous"
        detail = {"reason": reason, "address": address}
        audit.record(db, actor, "login.failure", "user", user["id"] if user else None, detail)
        current_app.logger.warning("login failure for %s from %s (%s)", for_log(email), address, reason)
    status = 401 if failed else 200
    context = {"totp_required": reason == "totp_required", "one_time_expired": reason == "one_time_expired"}
    return render_template("coordinator/login.html", form=form, failed=failed, **context), status


def pending_password_change() -> dict[str, Any] | None:
    """The account that just signed in with a one-time password (within :data:`CHOOSE_WITHIN`)."""
    pending = session.get("choose_password")
    if not isinstance(pending, dict):
        return None
    try:
        started = datetime.fromisoformat(str(pending["at"]))
    except (KeyError, ValueError):
        return None
    if clock.now() - started > CHOOSE_WITHIN:
        return None
    user = users.by_id(get_db(), int(pending["user"]))
    if user is None or not user["active"] or not user["must_change_password"]:
        return None
    return user


def choose_password() -> ResponseReturnValue:
    """After a one-time password: the person chooses their own (same rules as the CLI), then is in."""
    user = pending_password_change()
    if user is None:
        session.pop("choose_password", None)
        flash(_("Sign in with your one-time password first."), "info")
        return redirect(url_for("auth.login"))
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        code = passwords.problem_code(form.password.data, user["email"])
        if code:
            form.password.errors = [str(PASSWORD_PROBLEMS[code])]
        else:
            users.choose_password(get_db(), user["id"], passwords.hash_password(form.password.data))
            target = safe_next(session["choose_password"].get("next"))
            flash(_("Your new password is saved."), "info")
            return start_session(users.by_id(get_db(), user["id"]) or user, target)
    return render_template("coordinator/choose_password.html", form=form, email=user["email"])


@login_required
def keep_alive() -> Response:
    """ "Stay signed in": a small same-origin POST (CSRF header) that counts as activity.

    Loading the user already moved the session's last-seen time (at most once a minute, see
    ``store.sessions``); the answer tells the page how long it now has. Nothing is sent or logged
    but the session cookie.
    """
    seconds = int(idle_limit().total_seconds())
    response = jsonify({"idle_seconds": seconds})
    response.headers["Cache-Control"] = "no-store"
    return response


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

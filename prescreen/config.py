"""Configuration: defaults, then instance/config.py, then PRESCREEN_* variables.

Every key in :data:`DEFAULTS` is documented in README.md (a test checks it).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

#: Our settings and their defaults; ``PRESCREEN_<KEY>`` overrides each one.
DEFAULTS: dict[str, Any] = {
    # "production" (the default: a secret key is required, cookies are Secure)
    # or "development" (make run: secret generated into instance/, plain-http cookies).
    "ENV": "production",
    "SECRET_KEY": None,
    "DATABASE": None,  # default: <instance>/prescreen.sqlite3, set in apply_defaults
    "QUESTIONS_DIR": str(ROOT / "questions"),
    "TRANSLATIONS_DIR": str(ROOT / "translations"),
    "MIGRATE_ON_START": True,
    "RESUME_DAYS": 30,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "TRUSTED_PROXIES": 0,
    "HSTS_MAX_AGE": 31536000,
    "SESSION_COOKIE_HTTPONLY": True,
    "PUBLIC_IDLE_MINUTES": 60,  # a browser stops offering its screening after this long unused
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # None: True in production, False otherwise
    "SESSION_COOKIE_NAME": None,  # None: "__Host-prescreen" in production
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session; a slow family is not a reason to fail
    # Public chat (issue 4). Contacts are shown to families only when set; nothing is invented.
    "STUDY_CONTACT_PHONE": None,
    "STUDY_CONTACT_EMAIL": None,
    "STUDY_CONTACT_WECHAT": None,
    "PRIVACY_CONTACT": None,  # named in the privacy notice; unset: "the study team at PUMCH"
    "STUDY_TEAM_EMAIL": None,  # gets "a new referral is waiting"; unset: no alert is queued
    "PUBLIC_POST_LIMIT": "60 per minute",  # per client, across all workers (prescreen.limits)
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": None,  # None: prescreen+sqlite://<instance>/ratelimit.sqlite3
    # Study-team accounts and follow-up (issue 5).
    "STAFF_IDLE_MINUTES": 30,  # a staff session ends after this long without a request
    "REFERRAL_POST_LIMIT": "10 per hour",  # referrals made per client (each one mails the team)
    "STAFF_MAX_HOURS": 12,  # and this long after sign-in, whatever happens
    "LOGIN_MAX_FAILURES": 5,  # wrong passwords in a row before the account locks
    "LOGIN_LOCK_MINUTES": 15,
    "OVERDUE_WORKING_DAYS": 2,  # a new referral not contacted within this many working days stands out
    "RETENTION_INCOMPLETE_DAYS": 30,  # `prescreen purge`: unfinished anonymous screenings
    "RETENTION_CLOSED_REFERRAL_DAYS": 180,  # `prescreen purge`: referrals after they closed
    # Mail (issue 6): "file" writes .eml files into <instance>/mail/ (no server needed); "smtp" sends.
    "MAIL_BACKEND": "file",
    "MAIL_FROM": "Clinical trial pre-screening <noreply@localhost>",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 30,
    "PUBLIC_URL": "http://localhost:5000",  # absolute links in e-mails; https in production
    "MAIL_MAX_ATTEMPTS": 8,  # temporary failures (4xx, no connection) before a row is given up
    "MAIL_RETRY_SECONDS": 60,  # first retry delay; doubles on every further failure
    "MAIL_LEASE_SECONDS": 120,  # how long a sender holds a claimed row before another may take it
    "MAIL_POLL_SECONDS": 10,  # `mail send --loop`: pause between empty rounds
    "VOLUNTEER_CONFIRM_HOURS": 48,  # a sign-up confirmation link expires after this
    "MAIL_KEEP_DAYS": 30,  # after this, a sent e-mail's address and body are blanked (its key stays)
}


class ConfigError(RuntimeError):
    """A setting that stops the app from starting; its message is one line for the operator."""


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in order: defaults < instance/config.py < PRESCREEN_* < test_config."""
    app.config.from_mapping(DEFAULTS)
    app.config["DATABASE"] = os.path.join(app.instance_path, "prescreen.sqlite3")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PRESCREEN")
    if test_config:
        app.config.from_mapping(test_config)
    finish(app)


def is_development(app: Flask) -> bool:
    """True under ``make run`` (PRESCREEN_ENV=development) or in tests."""
    return app.config["ENV"] == "development" or bool(app.config.get("TESTING"))


def finish(app: Flask) -> None:
    """Derive the settings that depend on the environment, and check the secret key."""
    env = app.config["ENV"]
    if env not in ("production", "development"):
        raise ConfigError(f"PRESCREEN_ENV must be 'production' or 'development', not {env!r}")
    production = not is_development(app)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = production
    if app.config["SESSION_COOKIE_NAME"] is None:
        # __Host- makes the browser insist on Secure, Path=/ and no Domain.
        secure = app.config["SESSION_COOKIE_SECURE"]
        app.config["SESSION_COOKIE_NAME"] = "__Host-prescreen" if secure else "prescreen"
    if not app.config.get("SECRET_KEY"):
        if app.config.get("TESTING"):
            app.config["SECRET_KEY"] = "testing-only-" + secrets.token_hex(8)
        elif env == "development":
            app.config["SECRET_KEY"] = development_secret(Path(app.instance_path))
        else:
            raise ConfigError(
                "PRESCREEN_SECRET_KEY is not set: set it (e.g. python3 -c 'import secrets;"
                " print(secrets.token_hex(32))') or use PRESCREEN_ENV=development"
            )
    if production:
        # Never the Werkzeug debugger in production, whatever FLASK_DEBUG says.
        app.debug = False


def development_secret(instance: Path) -> str:
    """Read instance/secret_key, creating it (mode 0600) on first use."""
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        key = secrets.token_hex(32)
        fh.write(key + "\n")
    return key

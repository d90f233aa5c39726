"""Configuration: defaults, then instance/config.py, then PRESCREEN_* variables.

Every key in :data:`DEFAULTS` is documented in README.md (a test checks it).
"""

from __future__ import annotations

import logging
import os
import secrets
import string
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.helpers import get_debug_flag

ROOT = Path(__file__).resolve().parent.parent

#: Our settings and their defaults; ``PRESCREEN_<KEY>`` overrides each one.
DEFAULTS: dict[str, Any] = {
    # "production" (the default: a secret key is required, cookies are Secure)
    # or "development" (make run: secret generated into instance/, plain-http cookies).
    "ENV": "production",
    "SECRET_KEY": None,
    "DATABASE": None,  # default: <instance>/prescreen.sqlite3, set in apply_defaults
    # postgresql://user@host/db (PRESCREEN_DATABASE_URL): PostgreSQL instead of the SQLite file; it
    # then becomes DATABASE, which everything opens through prescreen.store.connect.
    "DATABASE_URL": None,
    "QUESTIONS_DIR": str(ROOT / "questions"),
    "TRANSLATIONS_DIR": str(ROOT / "translations"),
    "MIGRATE_ON_START": True,
    "RESUME_DAYS": 30,
    "PUBLIC_IDLE_MINUTES": 60,  # a browser stops offering its screening after this long unused
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "TRUSTED_PROXIES": 0,
    "HSTS_MAX_AGE": 31536000,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # None: True in production, False otherwise
    "SESSION_COOKIE_NAME": None,  # None: "__Host-prescreen" in production
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session; a slow family is not a reason to fail
    # How families reach a study's team (prescreen.team): shown only when set, never invented.
    # Production refuses to start while a recruiting study has none of them.
    "STUDY_CONTACT_PHONE": None,
    "STUDY_CONTACT_EMAIL": None,
    "STUDY_CONTACT_WECHAT": None,
    "STUDY_CONTACTS": {},  # {study id: {phone, email, wechat, reply_working_days}}: replaces the three above
    "STUDY_REPLY_WORKING_DAYS": None,  # "the team will call you within N working days"; unset: no promise
    "PRIVACY_CONTACT": None,  # named in the privacy notice; unset: "the study team at PUMCH"
    "STUDY_TEAM_EMAIL": None,  # gets "a new referral is waiting"; unset: no alert is queued
    "PUBLIC_POST_LIMIT": "60 per minute",  # per client, across all workers (prescreen.web.limits)
    "REFERRAL_POST_LIMIT": "10 per hour",  # referrals made per client (each one mails the team)
    "RESUME_CODE_LIMIT": "20 per hour",  # short resume code posts per client (/resume)
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": None,  # None: prescreen+sqlite://<instance>/ratelimit.sqlite3
    # Study-team accounts and follow-up.
    "STAFF_IDLE_MINUTES": 30,  # a staff session ends after this long without a request
    "STAFF_MAX_HOURS": 12,  # and this long after sign-in, whatever happens
    "LOGIN_MAX_FAILURES": 5,  # wrong passwords in a row before the account locks
    "LOGIN_LOCK_MINUTES": 15,
    # Sign-in posts counted across all workers: per client address, and from everyone together
    # (each check costs a scrypt hash; the ceiling keeps a flood from slowing the families' pages).
    # Under 20 an hour: 5 failures every 15 minutes would keep an account locked for good.
    "LOGIN_LIMIT_PER_ADDRESS": "10 per minute; 15 per hour",
    "LOGIN_LIMIT_GLOBAL": "30 per minute",
    "ADMIN_TOTP_REQUIRED": None,  # None: required in production; an admin without one cannot sign in
    "OVERDUE_WORKING_DAYS": 2,  # a new referral not contacted within this many working days stands out
    "RETENTION_INCOMPLETE_DAYS": 30,  # `prescreen purge`: unfinished anonymous screenings
    "RETENTION_CLOSED_REFERRAL_DAYS": 180,  # `prescreen purge`: referrals after they closed
    "RETENTION_SCREENING_DAYS": 90,  # `prescreen purge`: finished screenings never sent to the team
    "RETENTION_OPEN_REFERRAL_DAYS": 180,  # `prescreen purge`: open referrals with no activity this long
    "DATABASE_BUSY_TIMEOUT_MS": 5000,  # a write waits this long for the lock, then the page answers 503
    # Mail: "file" writes .eml files into <instance>/mail/ (no server needed); "smtp" sends.
    "MAIL_BACKEND": "file",
    "MAIL_FROM": "Clinical trial pre-screening <noreply@localhost>",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 30,
    "PUBLIC_URL": "http://localhost:5000",  # absolute links in e-mails; https in production
    "POSTER_FONT": None,  # a .ttf/.ttc with Chinese for the sources' posters; None: fontconfig's (WenQuanYi Micro Hei)
    "MAIL_MAX_ATTEMPTS": 8,  # temporary failures (4xx, no connection) before a row is given up
    "MAIL_RETRY_SECONDS": 60,  # first retry delay; doubles on every further failure
    "MAIL_LEASE_SECONDS": 120,  # how long a sender holds a claimed row before another may take it
    "MAIL_POLL_SECONDS": 10,  # `mail send --loop`: pause between empty rounds
    "VOLUNTEER_CONFIRM_HOURS": 48,  # a sign-up confirmation link expires after this
    "VOLUNTEER_SIGNUP_MAILS_PER_WEEK": 3,  # e-mails the sign-up form may cause to one mailbox in 7 days
    "MAIL_KEEP_DAYS": 30,  # after this, a sent e-mail's address and body are blanked (its key stays)
    # SMS (prescreen.mail.sms), sent by `prescreen mail send` with the e-mails: "file" writes
    # <instance>/sms/*.json (no provider needed); "tencent" sends through Tencent Cloud SMS.
    "SMS_BACKEND": "file",
    "SMS_SIGN_NAME": None,  # the approved signature (签名), without 【】
    "SMS_SDK_APP_ID": None,  # the SMS application's SdkAppId
    "SMS_SECRET_ID": None,  # an API key of a sub-account allowed only to send SMS
    "SMS_SECRET_KEY": None,
    "SMS_REGION": "ap-guangzhou",
    "SMS_ENDPOINT": None,  # None: the SDK's own; "http://127.0.0.1:PORT" points it at a test server
    "SMS_TIMEOUT": 10,  # seconds for one SendSms call
    "SMS_TEMPLATES": {},  # {"recheck-reminder": {"zh": id, "en": id}, "referral-receipt": {...}}; en optional
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
    if app.config.get("DATABASE_URL"):
        url = str(app.config["DATABASE_URL"])
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"PRESCREEN_DATABASE_URL must be a postgresql:// URL, not {url.split(':', 1)[0]!r}")
        app.config["DATABASE"] = url
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
    if app.config["ADMIN_TOTP_REQUIRED"] is None:
        app.config["ADMIN_TOTP_REQUIRED"] = production
    if production:
        check_production(app)
    # Flask's logger passes only WARNING and up unless someone configured logging, and gunicorn
    # configures only its own loggers: sign-ins (INFO) never reached its error log.
    if app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)


def check_production(app: Flask) -> None:
    """Refuse settings that are fine on a laptop but dangerous on the server.

    ``app.debug = False`` alone was not enough: ``flask run`` reads FLASK_DEBUG itself and starts
    the Werkzeug debugger (a Python console in the browser) whatever the app says.
    """
    if app.debug or get_debug_flag():
        raise ConfigError(
            "debug mode (FLASK_DEBUG=1 or --debug) is not allowed in production:"
            " unset it, or use PRESCREEN_ENV=development"
        )
    weakness = secret_key_problem(app.config["SECRET_KEY"])
    if weakness:
        raise ConfigError(
            f"PRESCREEN_SECRET_KEY is too weak for production ({weakness}): use 32 random bytes,"
            " e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    url = urlsplit(str(app.config["PUBLIC_URL"]))
    if url.scheme != "https" or not url.netloc:
        raise ConfigError(
            f"PRESCREEN_PUBLIC_URL must be the site's https:// address in production, not {app.config['PUBLIC_URL']!r}"
        )


def secret_key_problem(key: str | bytes) -> str | None:
    """Why *key* cannot be 32 random bytes' worth (never quoting it), or None when it can be.

    Hex carries 4 bits a character, so 64 of them; base64 or anything else at least 43 (32 bytes
    in base64). Short words, one character repeated or a pattern repeated (``changeme`` × 8) are
    refused even when long, by asking for 12 different characters and no repeating period.
    """
    text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
    if isinstance(key, bytes):
        need = 32
    elif all(c in string.hexdigits for c in text):
        need = 64
    else:
        need = 43
    if len(text) < need:
        return f"{len(text)} characters, at least {need} needed"
    if len(set(text)) < 12:
        return "too few different characters"
    for period in range(1, len(text) // 2 + 1):
        if text == (text[:period] * (len(text) // period + 1))[: len(text)]:
            return "a repeated pattern"
    return None


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

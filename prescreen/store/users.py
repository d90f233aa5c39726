"""Staff accounts: creation, lookup, disabling, and the login lockout counted in the database.

The lockout lives in the ``users`` row (``failed_logins``, ``locked_until``), not in a worker's
memory, so every gunicorn worker and every server on the same database file agrees on it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from .. import clock
from ..clock import iso
from . import audit, transaction

ROLES = ("coordinator", "admin", "pi")  # pi: sees what a coordinator sees, and signs eligibility off


def by_email(db: sqlite_utils.Database, email: str) -> dict[str, Any] | None:
    """The account with this e-mail (case-insensitive), or None."""
    rows = list(db.query("SELECT * FROM users WHERE email = ?", [email.strip()]))
    return rows[0] if rows else None


def by_id(db: sqlite_utils.Database, user_id: int) -> dict[str, Any] | None:
    """The account with this id, or None."""
    rows = list(db.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def create(db: sqlite_utils.Database, email: str, password_hash: str, role: str, studies: list[str], actor: str) -> int:
    """Create an account; raises ValueError when the e-mail is taken or the role unknown. Audited."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    with transaction(db):
        if by_email(db, email) is not None:
            raise ValueError(f"an account for {email} already exists")
        user_id = (
            db.table("users")
            .insert(
                {
                    "email": email.strip(),
                    "password_hash": password_hash,
                    "role": role,
                    "active": 1,
                    "studies": json.dumps(sorted(set(studies))),
                    "failed_logins": 0,
                    "locked_until": None,
                    "created_at": clock.utc_text(),
                }
            )
            .last_pk
        )
        audit.record(db, actor, "user.create", "user", user_id, {"role": role, "studies": sorted(set(studies))})
    return int(user_id)


def disable(db: sqlite_utils.Database, email: str, actor: str) -> bool:
    """Disable an account and end its sessions; returns False when there is no such account."""
    with transaction(db):
        user = by_email(db, email)
        if user is None:
            return False
        db.execute("UPDATE users SET active = 0 WHERE id = ?", [user["id"]])
        db.execute("DELETE FROM staff_sessions WHERE user_id = ?", [user["id"]])
        audit.record(db, actor, "user.disable", "user", user["id"])
    return True


def set_password(db: sqlite_utils.Database, email: str, password_hash: str, actor: str) -> bool:
    """Replace an account's password; False when there is no such account. Audited.

    The lockout is cleared (the operator who changes it vouches for the person) and every open
    session ends: a password is usually changed because the old one may be known to someone else.
    """
    with transaction(db):
        user = by_email(db, email)
        if user is None:
            return False
        db.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, attempt_at = NULL "
            "WHERE id = ?",
            [password_hash, user["id"]],
        )
        db.execute("DELETE FROM staff_sessions WHERE user_id = ?", [user["id"]])
        audit.record(db, actor, "user.password", "user", user["id"])
    return True


def set_totp(db: sqlite_utils.Database, email: str, secret: str, actor: str, used_step: int | None = None) -> bool:
    """Enrol (or replace) an account's TOTP secret; False when there is no such account. Audited.

    The audit row never holds the secret. Replacing it ends open sessions, as a new phone or a
    lost one is the usual reason. ``used_step`` is the step of the code that confirmed the
    enrolment: it was typed on the server, so it cannot sign anyone in afterwards.
    """
    with transaction(db):
        user = by_email(db, email)
        if user is None:
            return False
        db.execute("UPDATE users SET totp_secret = ?, totp_last_step = ? WHERE id = ?", [secret, used_step, user["id"]])
        db.execute("DELETE FROM staff_sessions WHERE user_id = ?", [user["id"]])
        audit.record(db, actor, "user.totp", "user", user["id"])
    return True


def use_totp_step(db: sqlite_utils.Database, user_id: int, step: int) -> bool:
    """Take the code of time step *step*; False when that step (or a later one) was already used.

    One conditional UPDATE, so two workers given the same code at once accept it only once.
    """
    with transaction(db):
        cursor = db.execute(
            "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
            [step, user_id, step],
        )
        return cursor.rowcount == 1


def reserve_attempt(db: sqlite_utils.Database, user_id: int, now: datetime, max_failures: int, lock: timedelta) -> bool:
    """Count a login attempt before the password is checked; False when the account is locked.

    Counting first (one atomic UPDATE) means concurrent attempts on several workers can never
    together exceed ``max_failures`` inside a lock window: the attempt that would be one too
    many finds the counter full and is refused without a password check. A full counter whose
    last attempt is older than the lock period (a worker died between the two steps) frees itself.
    """
    with transaction(db):
        cursor = db.execute(
            "UPDATE users SET failed_logins = CASE WHEN failed_logins >= :max THEN 1 "
            "ELSE failed_logins + 1 END, locked_until = NULL, attempt_at = :now "
            "WHERE id = :id AND (locked_until IS NULL OR locked_until <= :now) "
            "AND (failed_logins < :max OR attempt_at IS NULL OR attempt_at <= :stale)",
            {"id": user_id, "now": iso(now), "max": max_failures, "stale": iso(now - lock)},
        )
        return cursor.rowcount == 1


def record_failure(db: sqlite_utils.Database, user_id: int, now: datetime, max_failures: int, lock: timedelta) -> bool:
    """After a wrong password: lock the account once the counter is full; True when it locked."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE users SET locked_until = ?, failed_logins = 0 WHERE id = ? AND failed_logins >= ?",
            [iso(now + lock), user_id, max_failures],
        )
        return cursor.rowcount == 1


def record_success(db: sqlite_utils.Database, user_id: int) -> None:
    """A correct password clears the failure counter."""
    with transaction(db):
        db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [user_id])


def all_users(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every account (for the admin's view), without password hashes."""
    return list(db.query("SELECT id, email, role, active, studies, locked_until, created_at FROM users ORDER BY email"))

"""Staff accounts: creation, lookup, access changes, and the login lockout counted in the database.

The lockout lives in the ``users`` row (``failed_logins``, ``locked_until``), not in a worker's
memory, so every gunicorn worker and every server on the same database file agrees on it.
Admins manage accounts in the app (``prescreen.coordinator.accounts``) and from the shell
(``prescreen users``); no change may leave the team without an active admin.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from .. import clock
from ..clock import iso
from . import audit, insert, transaction

ROLES = ("coordinator", "admin", "pi")  # pi: sees what a coordinator sees, and signs eligibility off


def by_email(db: sqlite_utils.Database, email: str) -> dict[str, Any] | None:
    """The account with this e-mail (case-insensitive), or None."""
    rows = list(db.query("SELECT * FROM users WHERE email = ?", [email.strip()]))
    return rows[0] if rows else None


def by_id(db: sqlite_utils.Database, user_id: int) -> dict[str, Any] | None:
    """The account with this id, or None."""
    rows = list(db.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


class LastAdminError(ValueError):
    """The change would leave no active admin: nobody could manage accounts or open studies."""


def active_admins(db: sqlite_utils.Database) -> int:
    """How many enabled admin accounts there are."""
    return int(db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[0])


def _keep_an_admin(db: sqlite_utils.Database) -> None:
    """Inside a transaction, after a change: refuse it (rolled back) if no active admin is left."""
    if active_admins(db) == 0:
        raise LastAdminError("this would leave no active admin")


def create(
    db: sqlite_utils.Database,
    email: str,
    password_hash: str,
    role: str,
    studies: list[str],
    actor: str,
    *,
    one_time_until: str | None = None,
) -> int:
    """Create an account; raises ValueError when the e-mail is taken or the role unknown. Audited.

    A *disabled* account's address can be given again (a colleague who comes back, or a typo that
    was disabled): the same row is re-created with the new password, role and studies, its
    authenticator and lockout cleared, so its audit history stays in one place. With
    *one_time_until* (UTC text) the password is a one-time password that must be replaced at the
    first sign-in and stops working at that time.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    chosen = sorted(set(studies))
    with transaction(db):
        existing = by_email(db, email)
        if existing is not None and existing["active"]:
            raise ValueError(f"an account for {email} already exists")
        if existing is not None:
            db.execute(
                "UPDATE users SET password_hash = ?, role = ?, studies = ?, active = 1, failed_logins = 0, "
                "locked_until = NULL, attempt_at = NULL, totp_secret = NULL, totp_last_step = NULL, "
                "must_change_password = ?, password_expires_at = ? WHERE id = ?",
                [password_hash, role, json.dumps(chosen), int(bool(one_time_until)), one_time_until, existing["id"]],
            )
            audit.record(db, actor, "user.recreate", "user", existing["id"], {"role": role, "studies": chosen})
            return int(existing["id"])
        user_id = insert(
            db,
            "users",
            {
                "email": email.strip(),
                "password_hash": password_hash,
                "role": role,
                "active": 1,
                "studies": json.dumps(chosen),
                "failed_logins": 0,
                "locked_until": None,
                "created_at": clock.utc_text(),
                "must_change_password": int(bool(one_time_until)),
                "password_expires_at": one_time_until,
            },
        )
        audit.record(db, actor, "user.create", "user", user_id, {"role": role, "studies": chosen})
    return int(user_id)


def set_active(db: sqlite_utils.Database, user_id: int, active: bool, actor: str) -> bool:
    """Disable (ending its sessions) or enable an account; False when nothing changed. Audited.

    :raises LastAdminError: disabling the last active admin (nothing is changed).
    """
    with transaction(db):
        user = by_id(db, user_id)
        if user is None or bool(user["active"]) == active:
            return False
        db.execute("UPDATE users SET active = ? WHERE id = ?", [int(active), user_id])
        if not active:
            db.execute("DELETE FROM staff_sessions WHERE user_id = ?", [user_id])
            _keep_an_admin(db)
        audit.record(db, actor, "user.enable" if active else "user.disable", "user", user_id)
    return True


def set_access(db: sqlite_utils.Database, user_id: int, role: str, studies: list[str], actor: str) -> bool:
    """Change an account's role and the studies it is limited to; False when nothing changed. Audited.

    It takes effect on the person's next request (every request reads the row again); no session
    needs to end. :raises LastAdminError: demoting the last active admin (nothing is changed).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    chosen = sorted(set(studies))
    with transaction(db):
        user = by_id(db, user_id)
        if user is None:
            return False
        before = {"role": user["role"], "studies": json.loads(user["studies"] or "[]")}
        after = {"role": role, "studies": chosen}
        if before == after:
            return False
        db.execute("UPDATE users SET role = ?, studies = ? WHERE id = ?", [role, json.dumps(chosen), user_id])
        _keep_an_admin(db)
        audit.record(db, actor, "user.access", "user", user_id, {"before": before, "after": after})
    return True


def reset_password(db: sqlite_utils.Database, user_id: int, password_hash: str, until: str, actor: str) -> bool:
    """Give an account a one-time password (valid until *until*, UTC text); ends its sessions. Audited.

    The lockout is cleared too: the admin who hands the password over vouches for the person.
    """
    with transaction(db):
        if by_id(db, user_id) is None:
            return False
        db.execute(
            "UPDATE users SET password_hash = ?, must_change_password = 1, password_expires_at = ?, "
            "failed_logins = 0, locked_until = NULL, attempt_at = NULL WHERE id = ?",
            [password_hash, until, user_id],
        )
        db.execute("DELETE FROM staff_sessions WHERE user_id = ?", [user_id])
        audit.record(db, actor, "user.reset_password", "user", user_id)
    return True


def choose_password(db: sqlite_utils.Database, user_id: int, password_hash: str) -> None:
    """The person replaced their one-time password with their own (audited as themselves)."""
    with transaction(db):
        db.execute(
            "UPDATE users SET password_hash = ?, must_change_password = 0, password_expires_at = NULL WHERE id = ?",
            [password_hash, user_id],
        )
        audit.record(db, f"user:{user_id}", "user.password_chosen", "user", user_id)


def unlock(db: sqlite_utils.Database, user_id: int, actor: str) -> bool:
    """Clear a sign-in lockout before its time; False when there is no such account. Audited."""
    with transaction(db):
        if by_id(db, user_id) is None:
            return False
        db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, attempt_at = NULL WHERE id = ?", [user_id])
        audit.record(db, actor, "user.unlock", "user", user_id)
    return True


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
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, attempt_at = NULL, "
            "must_change_password = 0, password_expires_at = NULL WHERE id = ?",
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


def reseal_totp(db: sqlite_utils.Database, user_id: int, old: str, new: str) -> bool:
    """Store the sealed form *new* of an account's unchanged TOTP secret *old* (not a new phone).

    Only if the stored value is still *old*, so a concurrent re-enrolment is never overwritten.
    Not audited as an enrolment: the second factor is the same, only how it is kept changed.
    """
    with transaction(db):
        changed = db.execute(
            "UPDATE users SET totp_secret = ? WHERE id = ? AND totp_secret = ?", [new, user_id, old]
        ).rowcount
        return bool(changed)


def with_totp(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every account's id, e-mail and stored TOTP value (for sealing old ones)."""
    return list(db.query("SELECT id, email, totp_secret FROM users WHERE totp_secret IS NOT NULL ORDER BY id"))


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
    """Every account (for the admin's view), without password hashes or authenticator secrets."""
    return list(
        db.query(
            "SELECT id, email, role, active, studies, locked_until, created_at, must_change_password, "
            "password_expires_at, totp_secret IS NOT NULL AS has_totp FROM users ORDER BY active DESC, email"
        )
    )

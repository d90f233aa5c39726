"""Server-side staff sessions: the cookie holds an opaque random id, the database holds the rest.

Only the SHA-256 of the id is stored, so a copy of the database does not hand out live sessions.
Deleting the row (logout, idle or absolute expiry, a disabled account) ends the session at once,
even for someone replaying a copied cookie.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from ..clock import iso
from ..tokens import new_token, token_hash
from . import insert, transaction

#: How often (at most) a request refreshes ``last_seen_at``; saves a write on every click.
TOUCH_EVERY = timedelta(seconds=60)


def create(db: sqlite_utils.Database, user_id: int, now: datetime) -> str:
    """Start a session for *user_id* and return its new random id (for the cookie)."""
    session_id = new_token()
    with transaction(db):
        insert(
            db,
            "staff_sessions",
            {"id_hash": token_hash(session_id), "user_id": user_id, "created_at": iso(now), "last_seen_at": iso(now)},
            returning=None,
        )
    return session_id


def load(
    db: sqlite_utils.Database, session_id: str, now: datetime, idle: timedelta, absolute: timedelta
) -> dict[str, Any] | None:
    """The active user of a live session, or None (an expired session is deleted on the way)."""
    rows = list(
        db.query(
            # The session's times under names of their own: users has a created_at too, and which of
            # two same-named columns a driver keeps differs (SQLite's gave the first, psycopg the last).
            "SELECT u.*, s.id_hash, s.created_at AS session_created_at, s.last_seen_at AS session_seen_at "
            "FROM staff_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
            [token_hash(session_id)],
        )
    )
    if not rows:
        return None
    row = rows[0]
    created = datetime.fromisoformat(row["session_created_at"])
    seen = datetime.fromisoformat(row["session_seen_at"])
    if not row["active"] or now - seen > idle or now - created > absolute:
        end(db, session_id)
        return None
    # A short idle limit (a test's few seconds) must still be kept alive by each request.
    if now - seen >= min(TOUCH_EVERY, idle / 10):
        with transaction(db):
            db.execute("UPDATE staff_sessions SET last_seen_at = ? WHERE id_hash = ?", [iso(now), row["id_hash"]])
    return row


def end(db: sqlite_utils.Database, session_id: str) -> None:
    """Delete the session (logout); a replayed cookie then finds nothing."""
    with transaction(db):
        db.execute("DELETE FROM staff_sessions WHERE id_hash = ?", [token_hash(session_id)])

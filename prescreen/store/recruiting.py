"""Whether a study is recruiting: the sheet's status unless an admin has changed it in the app."""

from __future__ import annotations

import sqlite_utils

from .. import clock
from . import audit, transaction


def status(db: sqlite_utils.Database, study_id: str, sheet_status: str) -> str:
    """The study's current status (``recruiting`` or ``closed``)."""
    row = db.execute("SELECT status FROM study_states WHERE study_id = ?", [study_id]).fetchone()
    return row[0] if row else (sheet_status or "recruiting")


def statuses(db: sqlite_utils.Database, sheet_statuses: dict[str, str]) -> dict[str, str]:
    """Current status of every study, given each study's sheet status."""
    stored = dict(db.execute("SELECT study_id, status FROM study_states").fetchall())
    return {sid: stored.get(sid, sheet or "recruiting") for sid, sheet in sheet_statuses.items()}


def set_status(db: sqlite_utils.Database, study_id: str, new_status: str, actor: str) -> bool:
    """Open or close recruiting; returns whether anything changed. Audited.

    Joins the caller's transaction when there is one, so a caller that also queues volunteer
    notifications (publishing) commits both or neither.
    """
    if new_status not in ("recruiting", "closed"):
        raise ValueError(f"unknown study status {new_status!r}")

    with transaction(db):
        row = db.execute("SELECT status FROM study_states WHERE study_id = ?", [study_id]).fetchone()
        if row and row[0] == new_status:
            return False
        db.execute(
            "INSERT INTO study_states (study_id, status, updated_at, updated_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (study_id) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            [study_id, new_status, clock.utc_text(), actor],
        )
        audit.record(db, actor, f"study.{new_status}", "study", study_id)
        return True


def mark_published(db: sqlite_utils.Database, study_id: str) -> None:
    """Remember the first time volunteers were notified (inside the caller's transaction)."""
    db.execute(
        "UPDATE study_states SET published_at = COALESCE(published_at, ?) WHERE study_id = ?",
        [clock.utc_text(), study_id],
    )

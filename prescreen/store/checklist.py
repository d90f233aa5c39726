"""Working the checklist: a coordinator's checks of the criteria the form could not settle, and
the PI's eligibility sign-off.

A check (:func:`mark`) is added, never overwritten: the latest per criterion counts, and the
older ones stay as its history. A sign-off is withdrawn with a reason, never deleted. Every
change is audited with ids and codes only (the note and the reason are health data, kept in
their tables and erased with the answers by
:func:`prescreen.store.referrals.erase_personal_data`).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from .. import clock
from . import audit, transaction

VERDICTS = ("confirmed", "not_met")
SOURCES = ("lab_report", "records", "family", "other")


def mark(
    db: sqlite_utils.Database,
    referral_id: int,
    criterion_id: str,
    verdict: str,
    source: str,
    note: str | None,
    user_id: int,
    actor: str,
) -> None:
    """Record one check of one criterion (confirmed or not met, and where that came from)."""
    if verdict not in VERDICTS or source not in SOURCES:
        raise ValueError("unknown verdict or source")
    with transaction(db):
        db.execute(
            "INSERT INTO checklist_marks (referral_id, criterion_id, verdict, source, note, user_id, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [referral_id, criterion_id, verdict, source, note or None, user_id, clock.utc_text()],
        )
        detail = {"criterion": criterion_id, "verdict": verdict, "source": source}
        audit.record(db, actor, "referral.check", "referral", referral_id, detail)


def marks(db: sqlite_utils.Database, referral_id: int) -> dict[str, dict[str, Any]]:
    """The latest check of each criterion, by criterion id, with who made it."""
    rows = db.query(
        "SELECT m.*, u.email AS user_email FROM checklist_marks m LEFT JOIN users u ON u.id = m.user_id "
        "WHERE m.referral_id = ? ORDER BY m.id",
        [referral_id],
    )
    return {row["criterion_id"]: row for row in rows}


def signoffs(db: sqlite_utils.Database, referral_id: int) -> list[dict[str, Any]]:
    """Every sign-off of a referral, newest first, with who signed and who withdrew it."""
    return list(
        db.query(
            "SELECT e.*, u.email AS user_email, w.email AS withdrawn_email FROM eligibility_signoffs e "
            "LEFT JOIN users u ON u.id = e.user_id LEFT JOIN users w ON w.id = e.withdrawn_by "
            "WHERE e.referral_id = ? ORDER BY e.id DESC",
            [referral_id],
        )
    )


def active_signoff(db: sqlite_utils.Database, referral_id: int) -> dict[str, Any] | None:
    """The sign-off in force (signed and not withdrawn), or None."""
    return next((s for s in signoffs(db, referral_id) if s["withdrawn_at"] is None), None)


def sign_off(db: sqlite_utils.Database, referral_id: int, user_id: int, actor: str) -> bool:
    """The PI signs the child eligible; returns False when a sign-off is already in force."""
    with transaction(db):
        if active_signoff(db, referral_id) is not None:
            return False
        cursor = db.execute(
            "INSERT INTO eligibility_signoffs (referral_id, user_id, signed_at) VALUES (?, ?, ?) RETURNING id",
            [referral_id, user_id, clock.utc_text()],
        )
        audit.record(db, actor, "referral.signoff", "referral", referral_id, {"signoff": cursor.fetchone()[0]})
    return True


def withdraw_signoff(db: sqlite_utils.Database, referral_id: int, user_id: int, reason: str, actor: str) -> bool:
    """Withdraw the sign-off in force, with a reason; returns False when there is none."""
    with transaction(db):
        current = active_signoff(db, referral_id)
        if current is None:
            return False
        db.execute(
            "UPDATE eligibility_signoffs SET withdrawn_at = ?, withdrawn_by = ?, withdraw_reason = ? WHERE id = ?",
            [clock.utc_text(), user_id, reason, current["id"]],
        )
        audit.record(db, actor, "referral.signoff_withdraw", "referral", referral_id, {"signoff": current["id"]})
    return True

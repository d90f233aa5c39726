"""Personal data leaving the database, each time with an audit row saying who took what.

The reports (:mod:`prescreen.store.queue_reports`) only read; here a read of identified data and
the audit row that records it are one transaction, so the audit names exactly the referrals the
file held (ids only, never a value), and a failed audit write means no file either.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from . import audit, queue_reports, transaction


def identified(db: sqlite_utils.Database, study_id: str | None, actor: str) -> list[dict[str, Any]]:
    """The admins' export of referrals with contact details (the caller checks the role), audited.

    After a leaked file the team can tell from the audit trail exactly which families were in it.
    """
    with transaction(db):
        rows = queue_reports.identified(db, study_id)
        detail = {"rows": len(rows), "referrals": [row["id"] for row in rows]}
        audit.record(db, actor, "export.identified", "study", study_id or "*", detail)
    return rows


def subject_record(db: sqlite_utils.Database, referral_id: int, actor: str) -> dict[str, Any] | None:
    """Everything stored about one family (data-subject access, PIPL 45), audited; None if unknown."""
    with transaction(db):
        record = queue_reports.subject_record(db, referral_id)
        if record is None:
            return None
        audit.record(db, actor, "export.subject", "referral", referral_id)
    return record

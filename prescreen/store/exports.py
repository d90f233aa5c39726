"""Personal data leaving the database, each time with an audit row saying who took what.

The reports (:mod:`prescreen.store.queue_reports`) only read; here a read of identified data and
the audit row that records it are one transaction, so the audit names exactly the referrals the
file held (ids only, never a value), and a failed audit write means no file either.
"""

from __future__ import annotations

import json
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


_CALL_LIST = """
    SELECT r.id, r.reference, r.study_id, r.kind, r.status, COALESCE(r.outcome, s.outcome) AS outcome, r.age_band,
        r.guardian_name, r.relationship, r.phone, r.wechat, r.email, r.best_time,
        COALESCE(r.contact_locale, s.locale) AS locale, r.created_at, r.visit_date, u.email AS assigned_email,
        (SELECT count(*) FROM contact_attempts a WHERE a.referral_id = r.id) AS attempts,
        (SELECT max(at) FROM contact_attempts a WHERE a.referral_id = r.id) AS last_attempt_at
    FROM referrals r JOIN screenings s ON s.id = r.screening_id LEFT JOIN users u ON u.id = r.assigned_to
    WHERE r.id IN (SELECT value FROM json_each(:ids))
    AND (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
"""


def call_list(db: sqlite_utils.Database, studies: list[str] | None, ids: list[int], actor: str) -> list[dict[str, Any]]:
    """The CRC's call list: the families *ids* (in that order) with their contact details, audited.

    Any coordinator may take it for the studies they see; the audit row names every referral in
    the file (ids only), so after a lost laptop the team knows exactly whom to tell.
    """
    with transaction(db):
        found = {
            row["id"]: row for row in db.query(_CALL_LIST, {"ids": json.dumps(ids), "studies": _json_or_none(studies)})
        }
        rows = [found[i] for i in ids if i in found]
        detail = {"rows": len(rows), "referrals": [row["id"] for row in rows]}
        audit.record(db, actor, "export.call_list", "study", "*" if studies is None else ",".join(studies), detail)
    return rows


def _json_or_none(values: list[str] | None) -> str | None:
    return None if values is None else json.dumps(values)

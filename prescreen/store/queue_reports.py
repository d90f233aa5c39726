"""Reading the queue as a whole: the de-identified log, the funnel, exports, the audit trail.

The log and the funnel read ``screening_log`` only (see migration m0004): it holds codes and
days, never an answer or a contact detail, and it outlives the screenings it describes.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from .queue import _studies_param

#: The columns of the de-identified pre-screening log, in CSV order (ICH E6 8.3.20).
LOG_COLUMNS = (
    "log_id",
    "started_on",
    "completed_on",
    "study_id",
    "version",
    "locale",
    "respondent",
    "status",
    "outcome",
    "failed",
    "referral_status",
    "referral_kind",  # referral, or review: the family asked a person to check the result
    "told_early",  # 1: told during the questions that the child must wait (migration m0012)
    "early_choice",  # then: stopped (saw the result early), continued (answered the rest), or empty
)
#: Referral columns in the admins' identified export.
IDENTIFIED_COLUMNS = (
    "reference",
    "study_id",
    "kind",
    "status",
    "outcome",
    "age_band",
    "guardian_name",
    "relationship",
    "phone",
    "email",
    "wechat",
    "best_time",
    "contact_locale",
    "created_at",
    "first_contact_at",
    "visit_date",
    "screen_fail_criterion",
)


def log_rows(
    db: sqlite_utils.Database, studies: list[str] | None, study: str | None = None, limit: int = -1, offset: int = 0
) -> list[dict[str, Any]]:
    """Log rows, newest first; ``failed`` decoded to a list of criterion ids."""
    rows = list(
        db.query(
            "SELECT id AS log_id, started_on, completed_on, study_id, version, locale, respondent, status, "
            "outcome, failed, referral_status, referral_kind, told_early, early_choice FROM screening_log "
            "WHERE (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies))) "
            "AND (:study IS NULL OR study_id = :study) "
            "ORDER BY started_on DESC, id DESC LIMIT :limit OFFSET :offset",
            {"studies": _studies_param(studies), "study": study, "limit": limit, "offset": offset},
        )
    )
    for row in rows:
        row["failed"] = json.loads(row["failed"] or "[]")
    return rows


def log_count(db: sqlite_utils.Database, studies: list[str] | None, study: str | None = None) -> int:
    """How many log rows the reader may see."""
    return db.execute(
        "SELECT count(*) FROM screening_log "
        "WHERE (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies))) "
        "AND (:study IS NULL OR study_id = :study)",
        {"studies": _studies_param(studies), "study": study},
    ).fetchone()[0]


def funnel(db: sqlite_utils.Database, study_id: str) -> dict[str, Any]:
    """Counts per funnel stage for one study, and the most common reasons for *not eligible*."""
    row = db.execute(
        "SELECT count(*), sum(status = 'completed'), sum(outcome = 'likely_eligible' AND status = 'completed'), "
        "sum(outcome = 'needs_review' AND status = 'completed'), "
        "sum(outcome = 'not_eligible' AND status = 'completed'), "
        "sum(referred), sum(referral_kind = 'review'), sum(contacted), sum(visit_scheduled), sum(enrolled) "
        "FROM screening_log WHERE study_id = ?",
        [study_id],
    ).fetchone()
    names = (
        "started",
        "completed",
        "likely_eligible",
        "needs_review",
        "not_eligible",
        "referred",
        "review_requested",
        "contacted",
        "visit_scheduled",
        "enrolled",
    )
    counts = {name: int(value or 0) for name, value in zip(names, row, strict=True)}
    reasons = db.execute(
        "SELECT j.value, count(*) AS n FROM screening_log l, json_each(l.failed) j "
        "WHERE l.study_id = ? AND l.outcome = 'not_eligible' AND l.status = 'completed' "
        "GROUP BY j.value ORDER BY n DESC, j.value LIMIT 8",
        [study_id],
    ).fetchall()
    return {"counts": counts, "reasons": [(criterion, n) for criterion, n in reasons]}


def told_early(db: sqlite_utils.Database, study_id: str) -> dict[str, int]:
    """How many families were told early of a waiting period, and what they chose (counts only)."""
    row = db.execute(
        "SELECT sum(told_early), sum(told_early AND early_choice = 'stopped'), "
        "sum(told_early AND early_choice = 'continued') FROM screening_log WHERE study_id = ?",
        [study_id],
    ).fetchone()
    told, stopped, continued = (int(value or 0) for value in row)
    return {"told": told, "stopped": stopped, "continued": continued, "undecided": told - stopped - continued}


def identified(db: sqlite_utils.Database, study_id: str | None) -> list[dict[str, Any]]:
    """Referrals with contact details (admins only; the caller checks).

    Not audited here (reports only read): :func:`prescreen.store.exports.identified` reads this
    and records who took it, in one transaction. ``relationship`` is the stored code (mother /
    father / guardian / self); the view turns it into a label.
    """
    return list(
        db.query(
            "SELECT id, reference, study_id, kind, status, outcome, age_band, guardian_name, relationship, phone, "
            "email, wechat, best_time, contact_locale, created_at, first_contact_at, visit_date, "
            "screen_fail_criterion FROM referrals WHERE (:study IS NULL OR study_id = :study) "
            "ORDER BY created_at, id",
            {"study": study_id},
        )
    )


def subject_record(db: sqlite_utils.Database, referral_id: int) -> dict[str, Any] | None:
    """Everything stored about one family (data-subject access, PIPL 45).

    Not audited here (reports only read): :func:`prescreen.store.exports.subject_record` reads this
    and records who took it, in one transaction.
    """
    referral = db.execute("SELECT screening_id FROM referrals WHERE id = ?", [referral_id]).fetchone()
    if referral is None:
        return None
    screening_id = referral[0]

    def rows(sql: str, key: int) -> list[dict[str, Any]]:
        return list(db.query(sql, [key]))

    screening = rows("SELECT * FROM screenings WHERE id = ?", screening_id)[0]
    screening.pop("token_hash", None)  # a secret of the family's browser, not data about them
    ref = rows("SELECT * FROM referrals WHERE id = ?", referral_id)[0]
    ref.pop("withdraw_token_hash", None)
    record = {
        "screening": screening,
        "consents": rows("SELECT * FROM consents WHERE screening_id = ? ORDER BY id", screening_id),
        "referral": ref,
        "contact_attempts": rows(
            "SELECT id, channel, result, at FROM contact_attempts WHERE referral_id = ? ORDER BY id", referral_id
        ),
        "notes": rows("SELECT id, body, created_at FROM notes WHERE referral_id = ? ORDER BY id", referral_id),
        # The re-check reminder the family asked for: its address until it is sent or cancelled.
        "reminders": rows(
            "SELECT to_addr, status, next_attempt_at AS due, created_at, sent_at FROM outbox "
            "WHERE idempotency_key = 'recheck-reminder:' || ?",
            screening_id,
        ),
    }
    return record


def audit_rows(db: sqlite_utils.Database, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the audit trail, newest first, and the total."""
    total = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    rows = list(
        db.query(
            "SELECT a.*, u.email AS actor_email FROM audit a LEFT JOIN users u ON a.actor = 'user:' || u.id "
            "ORDER BY a.id DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
    )
    return rows, total

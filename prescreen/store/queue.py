"""The coordinators' queue: listing, the status flow, contact attempts, notes, log, funnel, exports.

Study limits are passed in as a JSON list and expanded by SQLite's ``json_each``, so every
statement here is a fixed string with parameters, whatever the filter.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlite_utils

from .. import clock
from ..clock import iso
from . import audit, referrals, transaction

STATUSES = (
    "new",
    "attempt_1",
    "attempt_2",
    "attempt_3",
    "unreachable",
    "contacted",
    "visit_scheduled",
    "enrolled",
    "screen_failed",
    "not_interested",
    "withdrawn",
    # A review request's own (see REVIEW_TRANSITIONS).
    "in_review",
    "result_explained",
    "invited_to_screening",
)
CLOSED = referrals.CLOSED
OPEN = tuple(s for s in STATUSES if s not in CLOSED)
CHANNELS = ("phone", "wechat", "email")
RESULTS = ("reached", "no_answer", "left_message", "wrong_details")
#: Where a status may go by hand; attempts move new → attempt_1 → 2 → 3 by themselves.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("contacted", "not_interested", "withdrawn"),
    "attempt_1": ("contacted", "unreachable", "not_interested", "withdrawn"),
    "attempt_2": ("contacted", "unreachable", "not_interested", "withdrawn"),
    "attempt_3": ("contacted", "unreachable", "not_interested", "withdrawn"),
    "unreachable": ("contacted",),
    "contacted": ("visit_scheduled", "screen_failed", "not_interested", "withdrawn"),
    "visit_scheduled": ("visit_scheduled", "enrolled", "screen_failed", "not_interested", "withdrawn"),
    "enrolled": ("withdrawn",),
    "screen_failed": (),
    "not_interested": (),
    "withdrawn": (),
}
#: A review request (a family asked a person to check the result) has its own way: a person looks
#: at it (``in_review``), then either the result stands and they explained it to the family
#: (``result_explained``, closed) or the child may qualify after all (``invited_to_screening``),
#: which goes on like any referral (visit, enrolled …). A contact attempt moves ``new`` on to
#: ``in_review`` (someone is on it) and one that reaches the family brings ``unreachable`` back.
REVIEW_TRANSITIONS: dict[str, tuple[str, ...]] = {
    **TRANSITIONS,
    "new": ("in_review", "result_explained", "invited_to_screening", "withdrawn"),
    "in_review": ("result_explained", "invited_to_screening", "unreachable", "not_interested", "withdrawn"),
    "unreachable": ("in_review",),
    "result_explained": (),
    "invited_to_screening": ("visit_scheduled", "screen_failed", "not_interested", "withdrawn"),
}
NEXT_ATTEMPT = {"new": "attempt_1", "attempt_1": "attempt_2", "attempt_2": "attempt_3"}
PAGE_SIZE = 25


class FlowError(ValueError):
    """A status change the flow does not allow (the view shows it as a form error)."""


def transitions(kind: str, status: str) -> tuple[str, ...]:
    """Where a referral of *kind* may go by hand from *status*."""
    flow = REVIEW_TRANSITIONS if kind == referrals.REVIEW else TRANSITIONS
    return flow.get(status, ())


def after_attempt(kind: str, status: str, reached: bool) -> str:
    """The status a contact attempt leaves behind (attempts 1 → 2 → 3, or reached)."""
    if kind == referrals.REVIEW:
        return "in_review" if status == "new" or (reached and status == "unreachable") else status
    if reached and (status in NEXT_ATTEMPT or status in ("attempt_3", "unreachable")):
        return "contacted"
    if not reached and status in NEXT_ATTEMPT:
        return NEXT_ATTEMPT[status]
    return status


def _studies_param(studies: list[str] | None) -> str | None:
    return None if studies is None else json.dumps(studies)


# Three whole statements (no string assembly), sharing one WHERE clause.
_LIST = """
    SELECT r.id, r.reference, r.study_id, r.status, r.kind, COALESCE(r.outcome, s.outcome) AS outcome, r.age_band,
        r.created_at, r.visit_date, r.closed_reason, COALESCE(r.contact_locale, s.locale) AS locale,
        (SELECT count(*) FROM contact_attempts a WHERE a.referral_id = r.id) AS attempts,
        (SELECT max(at) FROM contact_attempts a WHERE a.referral_id = r.id) AS last_attempt_at
    FROM referrals r JOIN screenings s ON s.id = r.screening_id
    WHERE (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR r.study_id = :study)
    AND (:outcome IS NULL OR COALESCE(r.outcome, s.outcome) = :outcome)
    AND (:locale IS NULL OR COALESCE(r.contact_locale, s.locale) = :locale)
    AND (:q IS NULL OR r.reference LIKE :q ESCAPE '\\')
    AND (:kind IS NULL OR r.kind = :kind)
    AND (:status IS NULL OR r.status = :status)
    AND (:open = 0 OR r.status NOT IN (SELECT value FROM json_each(:closed)))
    ORDER BY r.created_at, r.id LIMIT :limit OFFSET :offset
"""
_COUNT = """
    SELECT count(*) FROM referrals r JOIN screenings s ON s.id = r.screening_id
    WHERE (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR r.study_id = :study)
    AND (:outcome IS NULL OR COALESCE(r.outcome, s.outcome) = :outcome)
    AND (:locale IS NULL OR COALESCE(r.contact_locale, s.locale) = :locale)
    AND (:q IS NULL OR r.reference LIKE :q ESCAPE '\\')
    AND (:kind IS NULL OR r.kind = :kind)
    AND (:status IS NULL OR r.status = :status)
    AND (:open = 0 OR r.status NOT IN (SELECT value FROM json_each(:closed)))
"""
_COUNTS = """
    SELECT r.status, count(*) FROM referrals r JOIN screenings s ON s.id = r.screening_id
    WHERE (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR r.study_id = :study)
    AND (:outcome IS NULL OR COALESCE(r.outcome, s.outcome) = :outcome)
    AND (:locale IS NULL OR COALESCE(r.contact_locale, s.locale) = :locale)
    AND (:q IS NULL OR r.reference LIKE :q ESCAPE '\\')
    AND (:kind IS NULL OR r.kind = :kind)
    GROUP BY r.status
"""


def _params(studies: list[str] | None, filters: dict[str, Any]) -> dict[str, Any]:
    q = (filters.get("q") or "").strip()
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    status = filters.get("status") or "open"
    return {
        "studies": _studies_param(studies),
        "study": filters.get("study") or None,
        "outcome": filters.get("outcome") or None,
        "locale": filters.get("locale") or None,
        "q": f"%{escaped}%" if q else None,
        "kind": filters.get("kind") if filters.get("kind") in referrals.KINDS else None,
        "closed": json.dumps(sorted(CLOSED)),
        "status": status if status in STATUSES else None,
        "open": 1 if status == "open" else 0,
    }


def listing(
    db: sqlite_utils.Database, studies: list[str] | None, filters: dict[str, Any], page: int = 1
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """One page of referrals (oldest first), the number matching, and counts per status."""
    params = _params(studies, filters)
    total = db.execute(_COUNT, params).fetchone()[0]
    rows = list(db.query(_LIST, {**params, "limit": PAGE_SIZE, "offset": (max(page, 1) - 1) * PAGE_SIZE}))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(db.execute(_COUNTS, params).fetchall()))
    return rows, total, counts


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment *days* working days (Monday–Friday, Beijing time) after *start*."""
    local = start.astimezone(clock.TEAM_TZ)
    while local.weekday() >= 5:  # a referral at the weekend starts counting on Monday morning
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local.astimezone(UTC)


def is_overdue(row: dict[str, Any], now: datetime, working_days: int) -> bool:
    """No contact attempt yet and more than *working_days* working days since the referral."""
    if row["status"] != "new" or row.get("attempts"):
        return False
    return now > add_working_days(datetime.fromisoformat(row["created_at"]), working_days)


def referral(db: sqlite_utils.Database, referral_id: int, studies: list[str] | None) -> dict[str, Any] | None:
    """One referral with its screening, or None when missing or outside *studies*."""
    rows = list(
        db.query(
            "SELECT r.*, s.answers, s.version, s.locale AS screening_locale, s.respondent, s.criteria, "
            "s.outcome AS screening_outcome, s.failed, s.completed_at, s.created_at AS screening_created_at, "
            "s.early_choice "
            "FROM referrals r JOIN screenings s ON s.id = r.screening_id WHERE r.id = :id "
            "AND (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))",
            {"id": referral_id, "studies": _studies_param(studies)},
        )
    )
    return rows[0] if rows else None


def attempts(db: sqlite_utils.Database, referral_id: int) -> list[dict[str, Any]]:
    """Contact attempts of one referral, oldest first, with who made them."""
    return list(
        db.query(
            "SELECT a.*, u.email AS user_email FROM contact_attempts a LEFT JOIN users u ON u.id = a.user_id "
            "WHERE a.referral_id = ? ORDER BY a.at, a.id",
            [referral_id],
        )
    )


def notes(db: sqlite_utils.Database, referral_id: int) -> list[dict[str, Any]]:
    """Notes of one referral, oldest first."""
    return list(
        db.query(
            "SELECT n.*, u.email AS user_email FROM notes n LEFT JOIN users u ON u.id = n.user_id "
            "WHERE n.referral_id = ? ORDER BY n.created_at, n.id",
            [referral_id],
        )
    )


def history(db: sqlite_utils.Database, referral_id: int) -> list[dict[str, Any]]:
    """What happened to one referral, from the audit trail (codes only).

    Plain page views are left out: every opening of the page is audited, and listing them here
    would bury the changes; the admins' audit trail shows them.
    """
    return list(
        db.query(
            "SELECT a.at, a.actor, a.action, a.detail, u.email AS actor_email FROM audit a "
            "LEFT JOIN users u ON a.actor = 'user:' || u.id "
            "WHERE a.record_type = 'referral' AND a.record_id = ? AND a.action != 'referral.view' ORDER BY a.id",
            [str(referral_id)],
        )
    )


def change_status(
    db: sqlite_utils.Database,
    referral_id: int,
    new: str,
    actor: str,
    *,
    visit_date: date | None = None,
    criterion: str | None = None,
) -> None:
    """Move a referral along the flow; raises :class:`FlowError` for a step it does not allow."""
    with transaction(db):
        row = db.execute("SELECT id, status, kind FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if row is None:
            raise FlowError("missing")
        old = row[1]
        if new not in transitions(row[2], old):
            raise FlowError("not_allowed")
        if new == "visit_scheduled" and visit_date is None:
            raise FlowError("visit_date")
        if new == "screen_failed" and not criterion:
            raise FlowError("criterion")
        referrals.set_status(
            db, referral_id, new, visit_date=visit_date.isoformat() if visit_date else None, criterion=criterion
        )
        detail: dict[str, Any] = {"from": old, "to": new}
        if new == "withdrawn":
            referrals.erase_personal_data(db, referral_id, referrals.TEAM_TOLD)
            detail["erased"] = True
        if criterion:
            detail["criterion"] = criterion
        audit.record(db, actor, "referral.status", "referral", referral_id, detail)


def add_attempt(
    db: sqlite_utils.Database,
    referral_id: int,
    user_id: int,
    channel: str,
    result: str,
    at: datetime,
    actor: str,
) -> str:
    """Record one contact attempt and advance the status; returns the new status."""
    if channel not in CHANNELS or result not in RESULTS:
        raise FlowError("attempt")
    with transaction(db):
        row = db.execute("SELECT status, kind FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if row is None:
            raise FlowError("missing")
        old = row[0]
        db.table("contact_attempts").insert(
            {"referral_id": referral_id, "user_id": user_id, "channel": channel, "result": result, "at": iso(at)}
        )
        new = after_attempt(row[1], old, result == "reached")
        referrals.record_activity(db, referral_id, first_contact_at=iso(at))
        if new != old:
            referrals.set_status(db, referral_id, new)
        audit.record(
            db,
            actor,
            "referral.attempt",
            "referral",
            referral_id,
            {"channel": channel, "result": result, "from": old, "to": new},
        )
    return new


def add_note(db: sqlite_utils.Database, referral_id: int, user_id: int, body: str, actor: str) -> None:
    """Add a note; the audit row says a note was added, never what it says."""
    with transaction(db):
        note_id = (
            db.table("notes")
            .insert({"referral_id": referral_id, "user_id": user_id, "body": body, "created_at": clock.utc_text()})
            .last_pk
        )
        referrals.record_activity(db, referral_id)
        audit.record(db, actor, "referral.note", "referral", referral_id, {"note": note_id})

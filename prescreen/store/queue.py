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
from . import audit, insert, referrals, transaction

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
    # The family stopped taking part (before or after enrolment); everything is kept.
    "dropped_out",
    # The family withdrew consent: personal data erased. Only through :func:`erase`, never a status menu.
    "withdrawn",
    # A review request's own (see REVIEW_TRANSITIONS).
    "in_review",
    "result_explained",
    "invited_to_screening",
)
CLOSED = referrals.CLOSED
OPEN = tuple(s for s in STATUSES if s not in CLOSED)
#: Final: the personal data is gone, so nothing more can be done or corrected (no attempts, no notes).
FINAL = frozenset({referrals.ERASED_STATUS})
CHANNELS = ("phone", "wechat", "email")
RESULTS = ("reached", "no_answer", "left_message", "wrong_details")
#: The longest note on one contact attempt (the database checks it too).
ATTEMPT_NOTE_MAX = 500
#: The longest reason for a status change or correction (kept in the audit row).
REASON_MAX = 300
#: The longest subject id ("enrolled"); the database checks it too.
SUBJECT_ID_MAX = 40
#: How the family told the team they withdraw consent (the erase form's reason; a code, kept in the audit).
ERASE_REASONS = ("phone", "in_person", "message", "other")
#: Statuses that mean somebody reached the family: moving to one by hand sets first contact if empty.
REACHED = frozenset({"contacted", "visit_scheduled", "enrolled", "result_explained", "invited_to_screening"})
#: The next steps of the flow (the status menu's first group); attempts move new → attempt_1 → 2 → 3
#: by themselves. ``withdrawn`` is never here: erasing has its own confirmed form (:func:`erase`).
#: Any other status can still be reached by a correction with a reason (:func:`correctable`).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("contacted", "not_interested"),
    "attempt_1": ("contacted", "unreachable", "not_interested"),
    "attempt_2": ("contacted", "unreachable", "not_interested"),
    "attempt_3": ("contacted", "unreachable", "not_interested"),
    "unreachable": ("contacted",),
    "contacted": ("visit_scheduled", "screen_failed", "not_interested", "dropped_out"),
    "visit_scheduled": ("visit_scheduled", "enrolled", "screen_failed", "not_interested", "dropped_out"),
    "enrolled": ("dropped_out",),
    "screen_failed": (),
    "not_interested": (),
    "dropped_out": (),
    "withdrawn": (),
}
#: A review request (a family asked a person to check the result) has its own way: a person looks
#: at it (``in_review``), then either the result stands and they explained it to the family
#: (``result_explained``, closed) or the child may qualify after all (``invited_to_screening``),
#: which goes on like any referral (visit, enrolled …). A contact attempt moves ``new`` on to
#: ``in_review`` (someone is on it) and one that reaches the family brings ``unreachable`` back.
REVIEW_TRANSITIONS: dict[str, tuple[str, ...]] = {
    **TRANSITIONS,
    "new": ("in_review", "result_explained", "invited_to_screening"),
    "in_review": ("result_explained", "invited_to_screening", "unreachable", "not_interested"),
    "unreachable": ("in_review",),
    "result_explained": (),
    "invited_to_screening": ("visit_scheduled", "screen_failed", "not_interested", "dropped_out"),
}
#: The statuses each kind of referral can be in (what a correction may choose from).
KIND_STATUSES: dict[str, tuple[str, ...]] = {
    referrals.REFERRAL: tuple(
        s for s in STATUSES if s not in ("in_review", "result_explained", "invited_to_screening")
    ),
    referrals.REVIEW: tuple(s for s in STATUSES if s not in ("attempt_1", "attempt_2", "attempt_3", "contacted")),
}
NEXT_ATTEMPT = {"new": "attempt_1", "attempt_1": "attempt_2", "attempt_2": "attempt_3"}
PAGE_SIZE = 25


class FlowError(ValueError):
    """A status change the flow does not allow (the view shows it as a form error).

    ``str(error)`` is a code the view turns into words: ``missing``, ``final``, ``not_allowed``,
    ``reason``, ``book``, ``criterion``, ``consent_date``, ``subject_id``, ``before_visit``,
    ``before_referral``, ``future``, ``attempt``, ``confirm``.
    """


#: Set only by booking the visit (:mod:`prescreen.store.visits`: a day AND a time, so the
#: reminders are queued), never through :func:`change_status` (a day alone queued none).
BOOKED_ONLY = "visit_scheduled"


def status_menu(kind: str, status: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The status menu's (next steps, corrections): :func:`transitions` and :func:`correctable`
    without :data:`BOOKED_ONLY`, which the booking form sets."""
    return (
        tuple(s for s in transitions(kind, status) if s != BOOKED_ONLY),
        tuple(s for s in correctable(kind, status) if s != BOOKED_ONLY),
    )


def transitions(kind: str, status: str) -> tuple[str, ...]:
    """The next steps of the flow for a referral of *kind* in *status* (never ``withdrawn``)."""
    flow = REVIEW_TRANSITIONS if kind == referrals.REVIEW else TRANSITIONS
    return flow.get(status, ())


def correctable(kind: str, status: str) -> tuple[str, ...]:
    """Where a coordinator may correct a status to (with a reason): any other status of its kind.

    Not ``withdrawn`` (erasing has its own form) and nothing from ``withdrawn`` (the data is gone).
    This is how a family who said "not interested", a screen failure or an enrolment entered by
    mistake is reopened.
    """
    if status in FINAL:
        return ()
    steps = set(transitions(kind, status))
    return tuple(s for s in KIND_STATUSES.get(kind, STATUSES) if s != status and s not in FINAL and s not in steps)


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


def _team_date(stored: str) -> date:
    """The Beijing day of a stored UTC time."""
    return datetime.fromisoformat(stored).astimezone(clock.TEAM_TZ).date()


def _check_enrolment(row: dict[str, Any], consent_date: date | None, subject_id: str | None, today: date) -> None:
    """ "Enrolled" needs the consent date and the subject id, and the booked visit must have come."""
    if consent_date is None:
        raise FlowError("consent_date")
    if not subject_id or len(subject_id) > SUBJECT_ID_MAX:
        raise FlowError("subject_id")
    if consent_date > today:
        raise FlowError("future")
    if consent_date < _team_date(row["created_at"]):
        raise FlowError("before_referral")
    if row["visit_date"] and today < date.fromisoformat(row["visit_date"]):
        raise FlowError("before_visit")


def change_status(
    db: sqlite_utils.Database,
    referral_id: int,
    new: str,
    actor: str,
    *,
    reason: str | None = None,
    criterion: str | None = None,
    consent_date: date | None = None,
    subject_id: str | None = None,
) -> bool:
    """Move a referral on, or correct its status; returns whether it was a correction.

    A next step of the flow (:func:`transitions`) may carry a reason; any other status of the
    kind (:func:`correctable`) is a correction and needs one (a mistake fixed, a family reopened).
    Either way the audit row keeps from → to, the reason and whether it was a correction, like
    REDCap's data history. A status that means the family was reached sets first contact if it
    is still empty. Raises :class:`FlowError` (its code says why) for what the flow refuses.
    Never ``withdrawn``: erasing goes through :func:`erase`; never ``visit_scheduled``: booking
    the visit (:func:`prescreen.store.visits.book`) sets it with the visit's day, time and reminders.
    """
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise FlowError("reason")
    with transaction(db):
        rows = list(
            db.query("SELECT id, status, kind, created_at, visit_date FROM referrals WHERE id = ?", [referral_id])
        )
        if not rows:
            raise FlowError("missing")
        row = rows[0]
        old = row["status"]
        if old in FINAL:
            raise FlowError("final")
        if new == BOOKED_ONLY:
            raise FlowError("book")
        if new in transitions(row["kind"], old):
            correction = False
        elif new in correctable(row["kind"], old):
            correction = True
            if reason is None:
                raise FlowError("reason")
        else:
            raise FlowError("not_allowed")
        if new == "screen_failed" and not criterion:
            raise FlowError("criterion")
        if new == "enrolled":
            _check_enrolment(row, consent_date, subject_id, clock.today())
        now = clock.utc_text()
        referrals.set_status(
            db,
            referral_id,
            new,
            at=now,
            criterion=criterion if new == "screen_failed" else None,
            consent_date=consent_date.isoformat() if consent_date and new == "enrolled" else None,
            subject_id=subject_id if new == "enrolled" else None,
            corrected=correction,
        )
        if new in REACHED:
            referrals.record_activity(db, referral_id, first_contact_at=now)
        detail: dict[str, Any] = {"from": old, "to": new}
        if correction:
            detail["correction"] = True
        if reason:
            detail["reason"] = reason
        if new == "screen_failed":
            detail["criterion"] = criterion
        if new == "enrolled":
            detail.update(consent_date=consent_date.isoformat() if consent_date else None, subject_id=subject_id)
        audit.record(db, actor, "referral.status", "referral", referral_id, detail)
    return correction


def erase(db: sqlite_utils.Database, referral_id: int, actor: str, *, reason: str, typed_reference: str) -> None:
    """The family withdrew consent: erase their personal data (status ``withdrawn``, final).

    Its own form, never the status menu: the coordinator types the family's reference code to
    confirm (so a mis-click cannot erase) and says how the family told them (*reason*, one of
    :data:`ERASE_REASONS`; a code, kept in the audit row). Raises :class:`FlowError`.
    """
    if reason not in ERASE_REASONS:
        raise FlowError("reason")
    with transaction(db):
        found = db.execute("SELECT status, reference FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if found is None:
            raise FlowError("missing")
        old, reference = found
        if old in FINAL:
            raise FlowError("final")
        if typed_reference.strip().upper() != reference.upper():
            raise FlowError("confirm")
        referrals.set_status(db, referral_id, referrals.ERASED_STATUS)
        referrals.erase_personal_data(db, referral_id, referrals.TEAM_TOLD)
        audit.record(
            db,
            actor,
            "referral.status",
            "referral",
            referral_id,
            {"from": old, "to": referrals.ERASED_STATUS, "erased": True, "erase_reason": reason},
        )


def _open_for_work(db: sqlite_utils.Database, referral_id: int) -> tuple[str, str, str]:
    """The status, kind and referral time of a referral that still takes attempts and notes."""
    found = db.execute("SELECT status, kind, created_at FROM referrals WHERE id = ?", [referral_id]).fetchone()
    if found is None:
        raise FlowError("missing")
    if found[0] in FINAL:
        raise FlowError("final")
    return found[0], found[1], found[2]


def add_attempt(
    db: sqlite_utils.Database,
    referral_id: int,
    user_id: int,
    channel: str,
    result: str,
    at: datetime,
    actor: str,
    note: str | None = None,
) -> str:
    """Record one contact attempt and advance the status; returns the new status.

    Refused (:class:`FlowError`) for a family whose data was erased (``final``), a time before
    the referral came in (``before_referral``) or in the future (``future``). The *note* is the
    team's (never in the audit row or the de-identified log).
    """
    note = (note or "").strip() or None
    if channel not in CHANNELS or result not in RESULTS or (note and len(note) > ATTEMPT_NOTE_MAX):
        raise FlowError("attempt")
    with transaction(db):
        old, kind, created_at = _open_for_work(db, referral_id)
        if at < datetime.fromisoformat(created_at) - timedelta(minutes=1):
            raise FlowError("before_referral")
        if at > clock.now() + timedelta(minutes=5):
            raise FlowError("future")
        insert(
            db,
            "contact_attempts",
            {
                "referral_id": referral_id,
                "user_id": user_id,
                "channel": channel,
                "result": result,
                "at": iso(at),
                "note": note,
            },
        )
        new = after_attempt(kind, old, result == "reached")
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
    """Add a note; the audit row says a note was added, never what it says. Refused once erased."""
    with transaction(db):
        _open_for_work(db, referral_id)
        note_id = insert(
            db, "notes", {"referral_id": referral_id, "user_id": user_id, "body": body, "created_at": clock.utc_text()}
        )
        referrals.record_activity(db, referral_id)
        audit.record(db, actor, "referral.note", "referral", referral_id, {"note": note_id})

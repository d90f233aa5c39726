"""Screening visits: booking, cancelling, the day-before reminders and the week's list.

A booking writes the day (``referrals.visit_date``, the visit day every report reads), the time
(``visit_time``, ``HH:MM`` Beijing time), the status ``visit_scheduled`` and the reminders in ONE
transaction, so a reminder is never queued for a visit that was not stored. Reminders are plain
outbox rows keyed ``visit-reminder:<referral id>:<who>:<booking>``: rebooking cancels the pending
ones and queues new ones, cancelling the visit cancels them, and
:func:`prescreen.store.referrals.erase_personal_data` and every status change away from
``visit_scheduled`` cancel them too (:func:`prescreen.store.referrals.cancel_visit_reminders`).
The messages themselves are rendered by the caller (the store has no templates).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlite_utils

from . import audit, outbox, queue, referrals, transaction

FAMILY = "family"
TEAM = "team"
#: The outbox kind of each reminder.
KINDS = {FAMILY: "visit-reminder-family", TEAM: "visit-reminder-team"}
#: Where a cancelled visit leaves the referral: the status from which a visit can be booked.
BEFORE_VISIT = {referrals.REFERRAL: "contacted", referrals.REVIEW: "invited_to_screening"}


@dataclass(frozen=True)
class Reminder:
    """One rendered reminder: to whom, in which language, what it says and when it may go."""

    who: str  # FAMILY or TEAM
    to_addr: str
    locale: str
    subject: str
    body_text: str
    send_after: datetime


class VisitError(ValueError):
    """A booking the referral's status does not allow (the view says so on the form)."""


def can_book(kind: str, status: str) -> bool:
    """Whether a visit may be booked (or rebooked) from *status*, as the status flow has it."""
    return status == "visit_scheduled" or "visit_scheduled" in queue.transitions(kind, status)


def book(
    db: sqlite_utils.Database,
    referral_id: int,
    day: date,
    time: str,
    actor: str,
    reminders: list[Reminder],
) -> bool:
    """Book (or rebook) the screening visit and queue *reminders*; returns whether anything changed.

    The same day and time again (a double click) changes nothing. Rebooking cancels the
    reminders still pending and queues *reminders* for the new time.
    """
    with transaction(db):
        raw = db.execute(
            "SELECT status, kind, visit_date, visit_time FROM referrals WHERE id = ?", [referral_id]
        ).fetchone()
        if raw is None or not can_book(raw[1], raw[0]):
            raise VisitError("status")
        status, _kind, old_day, old_time = raw
        if status == "visit_scheduled" and old_day == day.isoformat() and old_time == time:
            return False
        referrals.cancel_visit_reminders(db, referral_id)
        if status != "visit_scheduled":
            referrals.set_status(db, referral_id, "visit_scheduled", visit_date=day.isoformat())
        referrals.set_visit(db, referral_id, day.isoformat(), time)
        booking = secrets.token_hex(4)
        queued = []
        for reminder in reminders:
            key = f"{referrals.visit_reminder_prefix(referral_id)}{reminder.who}:{booking}"
            outbox.enqueue(
                db,
                key=key,
                kind=KINDS[reminder.who],
                to_addr=reminder.to_addr,
                locale=reminder.locale,
                subject=reminder.subject,
                body_text=reminder.body_text,
            )
            outbox.schedule(db, key, reminder.send_after)
            queued.append(reminder.who)
        detail: dict[str, Any] = {"from": status, "to": "visit_scheduled", "date": day.isoformat(), "time": time}
        if old_day and status == "visit_scheduled":
            detail["rebooked"] = True
        detail["reminders"] = queued
        audit.record(db, actor, "referral.visit", "referral", referral_id, detail)
    return True


def cancel(db: sqlite_utils.Database, referral_id: int, actor: str) -> bool:
    """Cancel a booked visit: reminders cancelled, day and time cleared, back to the status before it."""
    with transaction(db):
        raw = db.execute("SELECT status, kind FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if raw is None or raw[0] != "visit_scheduled":
            return False
        back = BEFORE_VISIT.get(raw[1], "contacted")
        referrals.set_status(db, referral_id, back)  # cancels the pending reminders
        referrals.set_visit(db, referral_id, None, None)
        audit.record(db, actor, "referral.visit_cancel", "referral", referral_id, {"from": raw[0], "to": back})
    return True


def reminders(db: sqlite_utils.Database, referral_id: int) -> list[dict[str, Any]]:
    """The reminders of the referral's latest booking: who, state and times, never the text.

    Only the latest booking's: a rebooked visit listed every earlier booking's cancelled reminders
    too, each once per booking (walk of issue 18, finding 3). Nothing when none was ever queued.
    """
    prefix = referrals.visit_reminder_prefix(referral_id)
    rows = db.execute(
        "SELECT idempotency_key, kind, status, last_error, next_attempt_at, sent_at FROM outbox "
        "WHERE substr(idempotency_key, 1, ?) = ? ORDER BY id DESC",
        [len(prefix), prefix],
    ).fetchall()
    if not rows:
        return []
    latest = rows[0][0].rsplit(":", 1)[-1]  # the booking token ends every key of one booking
    who = {kind: name for name, kind in KINDS.items()}
    return [
        {
            "who": who.get(kind, kind),
            "state": "cancelled" if status == "suppressed" and error == "cancelled" else status,
            "send_after": due,
            "sent_at": sent,
        }
        for key, kind, status, error, due, sent in rows
        if key.rsplit(":", 1)[-1] == latest
    ]


_WEEK = """
    SELECT r.id, r.reference, r.study_id, r.status, r.kind, r.visit_date, r.visit_time,
        COALESCE(r.contact_locale, s.locale) AS locale,
        (r.email IS NOT NULL AND r.email != '') AS has_email,
        (r.phone IS NOT NULL AND r.phone != '') AS has_phone,
        (SELECT json_group_array(json_object('kind', o.kind, 'status', o.status, 'due', o.next_attempt_at))
         FROM outbox o WHERE substr(o.idempotency_key, 1, length('visit-reminder:' || r.id || ':'))
            = 'visit-reminder:' || r.id || ':' AND o.status IN ('pending', 'sent', 'failed')) AS reminders
    FROM referrals r JOIN screenings s ON s.id = r.screening_id
    WHERE r.visit_date BETWEEN :start AND :end AND r.status NOT IN ('withdrawn')
    AND (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
    ORDER BY r.visit_date, COALESCE(r.visit_time, '99:99'), r.id
"""


def week(db: sqlite_utils.Database, studies: list[str] | None, start: date, end: date) -> list[dict[str, Any]]:
    """Visits from *start* to *end* (Beijing days, inclusive), earliest first, with their reminders' states."""
    rows = list(
        db.query(
            _WEEK,
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "studies": None if studies is None else json.dumps(studies),
            },
        )
    )
    who = {kind: name for name, kind in KINDS.items()}
    for row in rows:
        found = json.loads(row.pop("reminders") or "[]")
        row["reminders"] = {who.get(r["kind"], r["kind"]): r for r in found}
    return rows

"""Retention: every deletion the retention periods call for, in one place (``prescreen purge``).

One policy, from the family's point of view: nothing that could identify a child or describe
their health is kept longer than its purpose needs, and the de-identified pre-screening log
(``screening_log``, see migration m0004) keeps counting everything that was ever screened.

- an unfinished or handed-off screening (no referral) is deleted ``incomplete_days`` after it
  was last touched (a handed-off one holds no answers already);
- a finished screening the family never sent to the study team is deleted ``screening_days``
  after it was last touched: longer than the resume link lives, so a family can come back to
  the result and decide to send their details. One whose family asked for a re-check reminder
  that is still waiting to go out is only emptied (answers gone) and deleted once it has gone,
  so the consent to that e-mail stays on record for as long as the e-mail is pending;
- an open referral nobody has worked on for ``open_days`` (no attempt, note or status change,
  and no visit date still ahead) is closed as "could not reach", with reason ``retention``, and
  erased at once like a closed one: the team can no longer use the details, so we keep none;
- a closed referral is erased ``closed_days`` after it closed;
- staff sessions end past their idle or absolute limit;
- mail (:func:`mail`, every sender round too): a sign-up never confirmed goes once its links
  expire, and a finished outbox row loses its address and body after ``MAIL_KEEP_DAYS``.

An erased referral keeps its row and its screening's row as empty shells (codes and dates
only), so SQLite never hands their ids to another family and the audit trail's record ids stay
unambiguous. Each erasure is audited by id and code, never by value.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import iso
from . import audit, transaction
from .referrals import CLOSED, RETENTION, erase_personal_data, set_status
from .volunteers import VOLUNTEER_KINDS

#: The closed status a stale open referral gets, and the reason recorded beside it.
STALE_STATUS = "unreachable"
STALE_REASON = "retention"


def purge(
    db: sqlite_utils.Database,
    now: datetime,
    *,
    incomplete_days: int,
    screening_days: int,
    open_days: int,
    closed_days: int,
    idle: timedelta,
    absolute: timedelta,
    actor: str = "system:purge",
) -> dict[str, int]:
    """Apply every retention period as of *now* in one transaction; returns counts (audited too)."""
    with transaction(db):
        incomplete = db.execute(
            "DELETE FROM screenings WHERE status != 'completed' AND updated_at < ? "
            "AND id NOT IN (SELECT screening_id FROM referrals)",
            [iso(now - timedelta(days=incomplete_days))],
        ).rowcount
        finished = _finished_screenings(db, iso(now - timedelta(days=screening_days)))
        stale = _stale_open_referrals(db, now, iso(now - timedelta(days=open_days)), actor)
        closed = _closed_referrals(db, now, iso(now - timedelta(days=closed_days)))
        sessions = _expired_sessions(db, now, idle, absolute)
        counts = {
            "incomplete_screenings": incomplete,
            "finished_screenings": finished,
            "stale_open_referrals": stale,
            "closed_referrals": closed,
            "staff_sessions": sessions,
        }
        audit.record(db, actor, "purge", "retention", None, counts)
    return counts


def _finished_screenings(db: sqlite_utils.Database, cutoff: str) -> int:
    """Delete finished, never-referred screenings last touched before *cutoff*; returns how many went.

    The re-check reminder's ``outbox`` row belongs to the volunteer area; this only reads its status.
    """
    emptied = db.execute(
        "UPDATE screenings AS s SET answers = '{}', criteria = NULL, failed = NULL, recheck_after = NULL, "
        "editing = NULL, notice = NULL WHERE s.status = 'completed' AND s.updated_at < ? AND s.answers != '{}' "
        "AND s.id NOT IN (SELECT screening_id FROM referrals) AND "
        "EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = 'recheck-reminder:' || s.id "
        "AND o.status = 'pending')",
        [cutoff],
    ).rowcount
    deleted = db.execute(
        "DELETE FROM screenings AS s WHERE s.status = 'completed' AND s.updated_at < ? "
        "AND s.id NOT IN (SELECT screening_id FROM referrals) AND NOT "
        "EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = 'recheck-reminder:' || s.id "
        "AND o.status = 'pending')",
        [cutoff],
    ).rowcount
    return emptied + deleted


def _stale_open_referrals(db: sqlite_utils.Database, now: datetime, cutoff: str, actor: str) -> int:
    """Close and erase open referrals (every status not closed) with no activity since *cutoff*.

    Returns how many. The test of activity is ``updated_at``, which every attempt, note and status
    change moves, or a visit date still to come.
    """
    stale = db.execute(
        "SELECT id, status FROM referrals WHERE purged_at IS NULL "
        "AND status NOT IN (SELECT value FROM json_each(?)) "
        "AND max(updated_at, COALESCE(visit_date, '')) < ?",
        [json.dumps(sorted(CLOSED)), cutoff],
    ).fetchall()
    for referral_id, old in stale:
        erase_personal_data(db, referral_id, RETENTION, iso(now))
        set_status(db, referral_id, STALE_STATUS, at=iso(now), closed_reason=STALE_REASON)
        detail = {"from": old, "to": STALE_STATUS, "reason": STALE_REASON, "erased": True}
        audit.record(db, actor, "referral.status", "referral", referral_id, detail)
    return len(stale)


def _closed_referrals(db: sqlite_utils.Database, now: datetime, cutoff: str) -> int:
    """Erase referrals that closed before *cutoff*; returns how many."""
    expired = db.execute(
        "SELECT id FROM referrals WHERE purged_at IS NULL AND status IN (SELECT value FROM json_each(?)) "
        "AND COALESCE(closed_at, updated_at) < ?",
        [json.dumps(sorted(CLOSED)), cutoff],
    ).fetchall()
    for (referral_id,) in expired:
        erase_personal_data(db, referral_id, RETENTION, iso(now))
    return len(expired)


def mail(db: sqlite_utils.Database, now: datetime, keep: timedelta) -> dict[str, int]:
    """The mail's retention, run by every sender round (``prescreen mail send``) and by ``prescreen purge``.

    Unconfirmed sign-ups go once their links expire; finished outbox rows lose their address and
    body *keep* after they finished (``MAIL_KEEP_DAYS``).
    """
    return {"unconfirmed": _unconfirmed_volunteers(db, iso(now)), "scrubbed": _finished_mail(db, iso(now - keep))}


def _unconfirmed_volunteers(db: sqlite_utils.Database, now: str) -> int:
    """Delete sign-ups never confirmed whose every confirmation link has expired; return how many.

    Their owner never agreed by confirming, so we keep nothing of theirs (PIPL: no longer than
    needed). Categories and tokens go with them (``ON DELETE CASCADE``).
    """
    with transaction(db):
        found = db.execute(
            "SELECT id, email FROM volunteers v WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM "
            "volunteer_tokens t WHERE t.volunteer_id = v.id AND t.purpose = 'confirm' AND t.expires_at > ?)",
            [now],
        ).fetchall()
        ids = [volunteer_id for volunteer_id, _ in found]
        for volunteer_id, email in found:
            db.execute("DELETE FROM volunteers WHERE id = ?", [volunteer_id])
            # A confirmation still queued (the sender was down) would only carry a dead link.
            db.execute(
                "UPDATE outbox SET status = 'suppressed', last_error = 'sign-up expired' WHERE status = 'pending' "
                "AND to_addr = ? COLLATE NOCASE AND kind IN (SELECT value FROM json_each(?))",
                [email, json.dumps(VOLUNTEER_KINDS)],
            )
            audit.record(db, "system", "volunteer.purge_unconfirmed", "volunteer", volunteer_id)
    return len(ids)


def _finished_mail(db: sqlite_utils.Database, before: str) -> int:
    """Blank the address, body and links of rows finished before *before*; return how many.

    The row itself stays: its idempotency key is what keeps a study notice from ever being sent
    twice. Only what identifies or reaches a person (address, manage tokens in the body) goes.
    """
    with transaction(db):
        return db.execute(
            "UPDATE outbox SET to_addr = 'deleted', body_text = '', body_html = NULL, headers = '{}' "
            "WHERE status IN ('sent', 'failed', 'suppressed') AND COALESCE(sent_at, created_at) < ? "
            "AND to_addr != 'deleted'",
            [before],
        ).rowcount


def _expired_sessions(db: sqlite_utils.Database, now: datetime, idle: timedelta, absolute: timedelta) -> int:
    """Delete every session past its idle or absolute limit."""
    cursor = db.execute(
        "DELETE FROM staff_sessions WHERE last_seen_at < ? OR created_at < ?",
        [iso(now - idle), iso(now - absolute)],
    )
    return cursor.rowcount

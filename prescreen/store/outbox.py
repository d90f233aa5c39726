"""The outbox: every e-mail is a row written in the same transaction as the change causing it.

A crash can then never lose a message or send one for a change that rolled back; the sender
(``prescreen mail send``) delivers rows later. The idempotency key, derived from the message's
meaning (kind + recipient + subject matter), makes a repeated action queue nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

import sqlite_utils

from .. import clock
from ..clock import iso
from . import pg, transaction, volunteers

#: Kinds of mail that go to the study team rather than to a family or volunteer.
TEAM_ALERT_KINDS = ("referral-alert",)
#: How a row reaches its person (migration m0020): an e-mail, or a text to a mainland mobile.
CHANNELS = ("email", "sms")


def sms_row(phone: str, template: str, params: dict[str, str]) -> dict[str, Any]:
    """The columns of an SMS row: the number, the template's key and its parameters, and no text.

    The text is the provider's approved template (:mod:`prescreen.mail.sms`), so a row can never
    carry free text; ``headers`` holds the parameters, so everything that blanks a finished or
    cancelled row's address, body and headers blanks the number and parameters too.
    """
    return {"to_addr": phone, "subject": template, "body_text": "", "body_html": None, "headers": params}


def enqueue_sms(
    db: sqlite_utils.Database, *, key: str, kind: str, phone: str, locale: str, template: str, params: dict[str, str]
) -> bool:
    """Queue one text under *key* unless a row with it exists; returns whether it was queued."""
    return enqueue(db, key=key, kind=kind, locale=locale, channel="sms", **sms_row(phone, template, params))


def enqueue(
    db: sqlite_utils.Database,
    *,
    key: str,
    kind: str,
    to_addr: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    headers: dict[str, Any] | None = None,
    channel: str = "email",
) -> bool:
    """Queue one e-mail (or, *channel* ``sms``, one text) unless a row with ``key`` exists; True if queued.

    Joins the caller's transaction when there is one (the normal case). Texts are queued
    through :func:`enqueue_sms`, which says what an SMS row holds.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    row = {
        "idempotency_key": key,
        "channel": channel,
        "kind": kind,
        "to_addr": to_addr,
        "locale": locale,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers": json.dumps(headers or {}, ensure_ascii=False, sort_keys=True),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": clock.utc_text(),
        "created_at": clock.utc_text(),
    }
    sql = (
        "INSERT INTO outbox (idempotency_key, channel, kind, to_addr, locale, subject, body_text, body_html, "
        "headers, status, attempts, next_attempt_at, created_at) VALUES "
        "(:idempotency_key, :channel, :kind, :to_addr, :locale, :subject, :body_text, :body_html, :headers, "
        ":status, :attempts, :next_attempt_at, :created_at) ON CONFLICT (idempotency_key) DO NOTHING"
    )
    with transaction(db):
        return db.execute(sql, row).rowcount == 1


def cancel_pending(db: sqlite_utils.Database, key_prefix: str) -> int:
    """Cancel every still-pending row whose key starts with *key_prefix*; returns how many.

    As a cancelled re-check reminder: the row stays (``suppressed``, reason ``cancelled``) with
    no address or text, so the sender never delivers it and nothing in it reaches anyone.
    """
    with transaction(db):
        return db.execute(
            "UPDATE outbox SET status = 'suppressed', last_error = 'cancelled', to_addr = 'deleted', "
            "body_text = '', body_html = NULL, headers = '{}' "
            "WHERE substr(idempotency_key, 1, ?) = ? AND status = 'pending'",
            [len(key_prefix), key_prefix],
        ).rowcount


def is_queued(db: sqlite_utils.Database, key: str) -> bool:
    """Whether a message with idempotency *key* is in the outbox already (in any state)."""
    return db.execute("SELECT 1 FROM outbox WHERE idempotency_key = ?", [key]).fetchone() is not None


# -- the sender's side (prescreen mail send) --------------------------------------------------
#
# A row is claimed (claimed_by, claimed_until) in its own short transaction before it is handed
# to SMTP, and marked sent right after. Two senders never hold the same row; a sender that dies
# holding one leaves it pending, and once its claim runs out another sender delivers it: a crash
# loses nothing and duplicates at most the one message that was in flight.


def _as_dict(cursor: Any, row: Any) -> dict[str, Any]:
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def schedule(db: sqlite_utils.Database, key: str, when: datetime) -> None:
    """Hold a queued row until *when* (a re-check reminder is due on the family's date, not now)."""
    db.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE idempotency_key = ? AND status = 'pending'",
        [iso(when), key],
    )


def replace_pending(
    db: sqlite_utils.Database,
    key: str,
    *,
    to_addr: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    headers: dict[str, Any] | None = None,
    channel: str = "email",
) -> bool:
    """Rewrite a still-pending row (a family asks again, perhaps with another address or by text instead)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return (
        db.execute(
            "UPDATE outbox SET channel = ?, to_addr = ?, locale = ?, subject = ?, body_text = ?, body_html = ?, "
            "headers = ? WHERE idempotency_key = ? AND status = 'pending'",
            [
                channel,
                to_addr,
                locale,
                subject,
                body_text,
                body_html,
                json.dumps(headers or {}, ensure_ascii=False, sort_keys=True),
                key,
            ],
        ).rowcount
        == 1
    )


def is_protected(to_addr: str, protected: Collection[str]) -> bool:
    """Whether *to_addr* (``addr`` or ``Name <addr>``) is one of the *protected* lower-cased addresses."""
    return to_addr.lower() in protected or parseaddr(to_addr)[1].lower() in protected


_CLAIM = (
    "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
    "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id LIMIT 1"
)
_CLAIM_PG = _CLAIM + " FOR UPDATE SKIP LOCKED"


def claim_next(
    db: sqlite_utils.Database,
    claimer: str,
    now: datetime,
    lease: timedelta,
    protected: Collection[str] = (),
) -> dict[str, Any] | None:
    """Claim the next due row for *claimer*, or return None when nothing is due.

    Rows to a suppressed address are marked ``suppressed`` on the way, never sent, except rows
    to a *protected* address (the study team's own, lower-cased): one bad day at the team's mail
    server must not silence every later referral alert.
    """
    stamp = iso(now)
    # PostgreSQL: each sender locks the row it takes and passes over rows another sender holds, so
    # any number of senders on any nodes share the outbox without waiting on each other.
    claim = _CLAIM_PG if isinstance(db, pg.PostgresDatabase) else _CLAIM
    while True:
        with transaction(db, row_locks=True):
            cursor = db.execute(claim, [stamp, stamp])
            found = cursor.fetchone()
            if found is None:
                return None
            row = _as_dict(cursor, found)
            barred = (
                row["channel"] == "email"  # the suppression list holds e-mail addresses only
                and not is_protected(row["to_addr"], protected)
                and db.execute("SELECT 1 FROM suppressions WHERE email = ?", [row["to_addr"]]).fetchone()
            )
            if barred:
                db.execute(
                    "UPDATE outbox SET status = 'suppressed', last_error = 'address suppressed' WHERE id = ?",
                    [row["id"]],
                )
                continue
            db.execute(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                [claimer, iso(now + lease), row["id"]],
            )
        row["headers"] = json.loads(row["headers"] or "{}")
        return row


def mark_sent(db: sqlite_utils.Database, row_id: int) -> None:
    """Record a hand-off the server accepted."""
    with transaction(db):
        db.execute(
            # A re-check reminder's address was kept only to send it: the family was told so.
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, "
            "claimed_by = NULL, claimed_until = NULL, "
            "to_addr = CASE WHEN kind = 'recheck-reminder' THEN 'deleted' ELSE to_addr END WHERE id = ?",
            [clock.utc_text(), row_id],
        )


def mark_retry(
    db: sqlite_utils.Database, row_id: int, error: str, now: datetime, base: timedelta, max_attempts: int
) -> str:
    """Record a temporary failure: retry after ``base * 2**(attempts-1)``, or give up; returns the status."""
    with transaction(db):
        attempts = db.execute("SELECT attempts FROM outbox WHERE id = ?", [row_id]).fetchone()[0] + 1
        status = "failed" if attempts >= max_attempts else "pending"
        db.execute(
            "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?, failed_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            [
                status,
                attempts,
                error[:500],
                iso(now + base * 2 ** (attempts - 1)),
                iso(now) if status == "failed" else None,
                row_id,
            ],
        )
    return status


def mark_bounced(db: sqlite_utils.Database, row_id: int, error: str, protected: Collection[str] = ()) -> None:
    """Record a permanent failure and suppress the address, so nothing more is sent to it.

    A *protected* address (the study team's own, lower-cased) is never suppressed: the row
    fails, the queue shows the failure, and the next alert is still tried. A text's number is
    never put on the (e-mail) suppression list: the row just fails.
    """
    with transaction(db):
        row = db.execute("SELECT to_addr, channel FROM outbox WHERE id = ?", [row_id]).fetchone()
        now = clock.utc_text()
        db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, failed_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            [error[:500], now, row_id],
        )
        if row[1] == "email" and not is_protected(row[0], protected):
            volunteers.suppress(db, row[0], f"bounce: {error[:180]}")


def undelivered_team_alert(db: sqlite_utils.Database) -> str | None:
    """When the latest study-team alert failed for good, unless a later one was delivered; else None.

    Finished rows are ordered by when they finished and then by id (a failure and a success in
    the same second are told apart by their order in the queue).
    """
    kinds = json.dumps(TEAM_ALERT_KINDS)
    failed = db.execute(
        "SELECT failed_at, id FROM outbox WHERE kind IN (SELECT value FROM json_each(?)) AND status = 'failed' "
        "AND failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT 1",
        [kinds],
    ).fetchone()
    if failed is None:
        return None
    sent = db.execute(
        "SELECT sent_at, id FROM outbox WHERE kind IN (SELECT value FROM json_each(?)) AND status = 'sent' "
        "AND sent_at IS NOT NULL ORDER BY sent_at DESC, id DESC LIMIT 1",
        [kinds],
    ).fetchone()
    if sent is not None and tuple(sent) > tuple(failed):
        return None
    return str(failed[0])


def status_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many rows are in each status (for the sender's summary line)."""
    return dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())

"""Volunteers: sign-up, confirmation, preferences, tokens, unsubscribe and suppression.

Every function joins the caller's transaction when there is one, so a sign-up, its token and its
confirmation e-mail (an outbox row) commit together or not at all. Tokens are kept only as
SHA-256 hashes: the raw token exists in the e-mail and nowhere else.

An address is stored as typed, but what a sign-up form may cause is judged per *mailbox*
(:func:`mailbox`): case, ``+tags`` and Gmail's dots are spellings of one inbox. A mailbox whose
owner unsubscribed is never written to again because of a form anybody can fill in; only its
owner can subscribe again, from a link in an e-mail they already received (:func:`resubscribe`).
The re-check reminders of a family's screening live here too: deleting the answers or
withdrawing cancels them (:func:`cancel_reminders`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

import sqlite_utils

from .. import clock
from ..tokens import token_hash
from . import audit, transaction

#: Age bands a family may give (the same bands referrals use); None means "any study".
AGE_BANDS: dict[str, tuple[int, int]] = {
    "under-5": (0, 4),
    "5-9": (5, 9),
    "10-13": (10, 13),
    "14-18": (14, 18),
    "over-18": (19, 200),
}
#: Outbox kinds that exist only because someone follows categories; unsubscribing cancels them.
VOLUNTEER_KINDS = ("volunteer-confirm", "volunteer-welcome", "volunteer-already", "study-posted")
#: Domains where dots in the local part mean nothing, and the name all of them deliver to.
GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox(email: str) -> str:
    """The inbox an address reaches, as one spelling: lower case, no ``+tag``, no dots at Gmail.

    Only for counting and for recognising an unsubscribed inbox; mail still goes to the address
    as typed. Over-matching (two people whose addresses differ only by a ``+tag``) costs at most
    a missing confirmation e-mail, never a message to the wrong person.
    """
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    domain = domain.rstrip(".")
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), GMAIL_DOMAINS[domain]
    return f"{local}@{domain}"


def mailbox_key(email: str) -> str:
    """What we store to recognise a mailbox: a SHA-256 of :func:`mailbox`, not another copy of the address."""
    return hashlib.sha256(mailbox(email).encode("utf-8")).hexdigest()


def _row(db: sqlite_utils.Database, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
    cursor = db.execute(sql, list(params))
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def get(db: sqlite_utils.Database, volunteer_id: int) -> dict[str, Any] | None:
    """The volunteer row with ``categories`` (a sorted list) added, or None."""
    row = _row(db, "SELECT * FROM volunteers WHERE id = ?", [volunteer_id])
    if row is not None:
        row["categories"] = categories_of(db, volunteer_id)
    return row


def by_email(db: sqlite_utils.Database, email: str) -> dict[str, Any] | None:
    """The volunteer with this address (case-insensitive), or None."""
    row = _row(db, "SELECT id FROM volunteers WHERE email = ?", [email])
    return get(db, row["id"]) if row else None


def categories_of(db: sqlite_utils.Database, volunteer_id: int) -> list[str]:
    """The category ids a volunteer follows."""
    rows = db.execute(
        "SELECT category_id FROM volunteer_categories WHERE volunteer_id = ? ORDER BY category_id", [volunteer_id]
    ).fetchall()
    return [r[0] for r in rows]


def _set_categories(db: sqlite_utils.Database, volunteer_id: int, categories: Iterable[str]) -> None:
    db.execute("DELETE FROM volunteer_categories WHERE volunteer_id = ?", [volunteer_id])
    for category in sorted(set(categories)):
        db.execute(
            "INSERT INTO volunteer_categories (volunteer_id, category_id) VALUES (?, ?)", [volunteer_id, category]
        )


def sign_up(
    db: sqlite_utils.Database,
    *,
    email: str,
    locale: str,
    categories: Iterable[str],
    age_band: str | None,
    consent_version: str,
    consent_locale: str,
) -> tuple[int, str]:
    """Record a sign-up; return ``(volunteer id, status before)`` (``new`` for a new address).

    A confirmed or unsubscribed volunteer's row is left alone: whoever typed the address may not
    be its owner, who changes their choices, or subscribes again, through the links in their
    e-mails. A pending one starts again with the new choices, and is sent nothing but a fresh
    confirmation.
    """
    now = clock.utc_text()
    with transaction(db):
        existing = _row(db, "SELECT id, status FROM volunteers WHERE email = ?", [email])
        if existing and existing["status"] in ("confirmed", "unsubscribed"):
            return existing["id"], existing["status"]
        fields = {
            "locale": locale,
            "age_band": age_band,
            "status": "pending",
            "consent_version": consent_version,
            "consent_locale": consent_locale,
            "consented_at": now,
            "updated_at": now,
            "mailbox_key": mailbox_key(email),
        }
        if existing:
            volunteer_id = existing["id"]
            db.execute(
                "UPDATE volunteers SET locale = :locale, age_band = :age_band, status = :status, "
                "consent_version = :consent_version, consent_locale = :consent_locale, "
                "consented_at = :consented_at, updated_at = :updated_at, mailbox_key = :mailbox_key WHERE id = :id",
                {**fields, "id": volunteer_id},
            )
            before = existing["status"]
        else:
            cursor = db.execute(
                "INSERT INTO volunteers (email, locale, age_band, status, consent_version, consent_locale, "
                "consented_at, created_at, updated_at, mailbox_key) VALUES (:email, :locale, :age_band, :status, "
                ":consent_version, :consent_locale, :consented_at, :created_at, :updated_at, :mailbox_key) "
                "RETURNING id",
                {**fields, "email": email, "created_at": now},
            )
            volunteer_id = int(cursor.fetchone()[0])
            before = "new"
        _set_categories(db, volunteer_id, categories)
        audit.record(db, "volunteer", "volunteer.sign_up", "volunteer", volunteer_id)
    return volunteer_id, before


def add_token(
    db: sqlite_utils.Database, volunteer_id: int, purpose: str, token: str, expires_at: str | None = None
) -> None:
    """Store a token's hash for *purpose* (``confirm`` or ``manage``)."""
    with transaction(db):
        db.execute(
            "INSERT INTO volunteer_tokens (token_hash, volunteer_id, purpose, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [token_hash(token), volunteer_id, purpose, clock.utc_text(), expires_at],
        )


def by_token(db: sqlite_utils.Database, token: str, purpose: str) -> tuple[dict[str, Any] | None, bool]:
    """Return ``(volunteer, expired)`` for a link's token; ``(None, False)`` if it is unknown."""
    if not token or len(token) > 200:
        return None, False
    row = _row(
        db,
        "SELECT volunteer_id, expires_at FROM volunteer_tokens WHERE token_hash = ? AND purpose = ?",
        [token_hash(token), purpose],
    )
    if row is None:
        return None, False
    expired = row["expires_at"] is not None and row["expires_at"] <= clock.utc_text()
    return get(db, row["volunteer_id"]), expired


def confirm(db: sqlite_utils.Database, volunteer_id: int) -> bool:
    """Mark a pending volunteer confirmed and spend their confirmation tokens; returns whether it changed."""
    now = clock.utc_text()
    with transaction(db):
        changed = db.execute(
            "UPDATE volunteers SET status = 'confirmed', confirmed_at = ?, updated_at = ? "
            "WHERE id = ? AND status = 'pending'",
            [now, now, volunteer_id],
        ).rowcount
        db.execute("DELETE FROM volunteer_tokens WHERE volunteer_id = ? AND purpose = 'confirm'", [volunteer_id])
        if changed:
            audit.record(db, "volunteer", "volunteer.confirm", "volunteer", volunteer_id)
    return bool(changed)


def update_preferences(
    db: sqlite_utils.Database, volunteer_id: int, *, locale: str, categories: Iterable[str], age_band: str | None
) -> None:
    """Change a volunteer's language, categories and age band (from their manage link)."""
    with transaction(db):
        db.execute(
            "UPDATE volunteers SET locale = ?, age_band = ?, updated_at = ? WHERE id = ?",
            [locale, age_band, clock.utc_text(), volunteer_id],
        )
        _set_categories(db, volunteer_id, categories)
        audit.record(db, "volunteer", "volunteer.preferences", "volunteer", volunteer_id)


def unsubscribe(db: sqlite_utils.Database, volunteer_id: int) -> bool:
    """Stop all volunteer mail to this person; returns whether it changed anything.

    Their categories and age band are deleted (nothing left to match on) and queued mails that
    exist only because they followed categories are cancelled. The address stays, marked
    unsubscribed, so nothing is ever sent to its mailbox again unless its owner subscribes again
    from a link they hold (:func:`resubscribe`); a sign-up form, which anyone can fill in with
    anyone's address, never mails it.
    """
    now = clock.utc_text()
    with transaction(db):
        row = _row(db, "SELECT email, status FROM volunteers WHERE id = ?", [volunteer_id])
        if row is None or row["status"] == "unsubscribed":
            return False
        db.execute(
            "UPDATE volunteers SET status = 'unsubscribed', unsubscribed_at = ?, updated_at = ?, age_band = NULL "
            "WHERE id = ?",
            [now, now, volunteer_id],
        )
        _set_categories(db, volunteer_id, [])
        db.execute("DELETE FROM volunteer_tokens WHERE volunteer_id = ? AND purpose = 'confirm'", [volunteer_id])
        db.execute(
            "UPDATE outbox SET status = 'suppressed', last_error = 'unsubscribed' WHERE status = 'pending' "
            "AND to_addr = ? COLLATE NOCASE AND kind IN (SELECT value FROM json_each(?))",
            [row["email"], json.dumps(VOLUNTEER_KINDS)],
        )
        audit.record(db, "volunteer", "volunteer.unsubscribe", "volunteer", volunteer_id)
    return True


def resubscribe(
    db: sqlite_utils.Database,
    volunteer_id: int,
    *,
    locale: str,
    categories: Iterable[str],
    age_band: str | None,
    consent_version: str,
    consent_locale: str,
) -> bool:
    """Subscribe an unsubscribed volunteer again, confirmed at once; returns whether it changed.

    Only reached through a manage link, which was sent to this address and nowhere else: whoever
    holds it has shown the mailbox is theirs, which is all a confirmation e-mail would prove.
    Their new consent replaces the old one.
    """
    now = clock.utc_text()
    with transaction(db):
        changed = db.execute(
            "UPDATE volunteers SET status = 'confirmed', confirmed_at = ?, unsubscribed_at = NULL, locale = ?, "
            "age_band = ?, consent_version = ?, consent_locale = ?, consented_at = ?, updated_at = ? "
            "WHERE id = ? AND status = 'unsubscribed'",
            [now, locale, age_band, consent_version, consent_locale, now, now, volunteer_id],
        ).rowcount
        if changed:
            _set_categories(db, volunteer_id, categories)
            audit.record(db, "volunteer", "volunteer.resubscribe", "volunteer", volunteer_id)
    return bool(changed)


def mailbox_unsubscribed(db: sqlite_utils.Database, email: str) -> bool:
    """Whether the owner of this address's mailbox, under any spelling of it, unsubscribed."""
    sql = "SELECT 1 FROM volunteers WHERE mailbox_key = ? AND status = 'unsubscribed'"
    return db.execute(sql, [mailbox_key(email)]).fetchone() is not None


def signup_mails_since(db: sqlite_utils.Database, email: str, since: str) -> int:
    """How many e-mails sign-up forms caused to this address's mailbox since *since* (UTC text)."""
    sql = "SELECT count(*) FROM mailbox_sends WHERE mailbox_key = ? AND sent_at >= ?"
    return int(db.execute(sql, [mailbox_key(email), since]).fetchone()[0])


def count_signup_mail(db: sqlite_utils.Database, email: str, kind: str, forget_before: str) -> None:
    """Count one e-mail a sign-up form caused to this mailbox; forget counts older than *forget_before*."""
    with transaction(db):
        db.execute("DELETE FROM mailbox_sends WHERE sent_at < ?", [forget_before])
        db.execute(
            "INSERT INTO mailbox_sends (mailbox_key, kind, sent_at) VALUES (?, ?, ?)",
            [mailbox_key(email), kind, clock.utc_text()],
        )


def is_suppressed(db: sqlite_utils.Database, email: str) -> bool:
    """Whether a permanent bounce (or an operator) barred this address."""
    return db.execute("SELECT 1 FROM suppressions WHERE email = ?", [email]).fetchone() is not None


def suppress(db: sqlite_utils.Database, email: str, reason: str) -> None:
    """Bar an address from all later sends (idempotent); the one writer of ``suppressions``.

    Today a permanent bounce (:func:`prescreen.store.outbox.mark_bounced`) is what calls it.
    """
    with transaction(db):
        db.execute(
            "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING",
            [email, reason[:200], clock.utc_text()],
        )


def band_fits(band: str | None, min_age: int | None, max_age: int | None) -> bool:
    """Whether an age band overlaps a study's age range (no band, or no range: it fits)."""
    if band is None or band not in AGE_BANDS:
        return True
    low, high = AGE_BANDS[band]
    return (min_age is None or high >= min_age) and (max_age is None or low <= max_age)


def matching(
    db: sqlite_utils.Database, categories: Iterable[str], min_age: int | None, max_age: int | None
) -> list[dict[str, Any]]:
    """Confirmed, not suppressed volunteers following any of *categories* whose age band fits."""
    wanted = sorted(set(categories))
    if not wanted:
        return []
    rows = db.execute(
        "SELECT DISTINCT v.id, v.email, v.locale, v.age_band FROM volunteers v "
        "JOIN volunteer_categories c ON c.volunteer_id = v.id "
        "WHERE v.status = 'confirmed' AND c.category_id IN (SELECT value FROM json_each(?)) "
        "AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = v.email) ORDER BY v.id",
        [json.dumps(wanted)],
    ).fetchall()
    found = [dict(zip(("id", "email", "locale", "age_band"), r, strict=True)) for r in rows]
    return [v for v in found if band_fits(v["age_band"], min_age, max_age)]


def reminder_key(screening_id: int) -> str:
    """The outbox idempotency key of a screening's re-check reminder (one per screening)."""
    return f"recheck-reminder:{screening_id}"


#: The hour (UTC) a re-check reminder goes out on its day: 09:00 in Beijing.
REMINDER_HOUR_UTC = 1


def reminder_due(day: date) -> datetime:
    """When the reminder for the re-check date *day* is sent: that morning, or now if it has passed."""
    return max(datetime.combine(day, time(REMINDER_HOUR_UTC), tzinfo=UTC), clock.now())


def follow_recheck(db: sqlite_utils.Database, screening_id: int, recheck_after: str | None) -> None:
    """Keep a pending re-check reminder on the screening's re-check date as it is now.

    A family may change an answer, or come back to the questions they left after stopping
    early, once the reminder is set: the date can move, or go (now likely eligible, or ruled
    out for good). A new date moves the reminder; no date cancels it and blanks its address,
    which was given only for that one e-mail. Called in the transaction that stores the outcome.
    """
    key = reminder_key(screening_id)
    if not db.execute("SELECT 1 FROM outbox WHERE idempotency_key = ? AND status = 'pending'", [key]).fetchone():
        return
    if recheck_after:
        db.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE idempotency_key = ? AND status = 'pending'",
            [clock.iso(reminder_due(date.fromisoformat(recheck_after))), key],
        )
    else:
        cancel_reminders(db, screening_id)


def cancel_reminders(db: sqlite_utils.Database, screening_id: int) -> int:
    """Cancel a screening's re-check reminder and blank its address; returns how many rows changed.

    Called when the family deletes their answers or withdraws: the reminder's address was given
    for that screening, so it goes with it. The row stays (``suppressed``, reason ``cancelled``)
    with no address, subject matter or link, like a sent reminder, so the sender never delivers
    it and nothing left in it reaches the family.
    """
    with transaction(db):
        return db.execute(
            "UPDATE outbox SET status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END, "
            "last_error = CASE WHEN status = 'pending' THEN 'cancelled' ELSE last_error END, "
            "to_addr = 'deleted', body_text = '', body_html = NULL, headers = '{}' "
            "WHERE idempotency_key = ? AND (status = 'pending' OR to_addr != 'deleted')",
            [reminder_key(screening_id)],
        ).rowcount

"""Referrals: a family's contact details for the study team, only with their explicit consent.

:func:`create` writes the referral, the share consent (and a guardian's consent for a child under
14), an audit row and the study team's alert e-mail in ONE transaction, so the team is never
alerted about a referral that was not stored, nor a referral stored without its consent.
:func:`erase_personal_data` is the one eraser of a referral's personal data, whoever asks (the family,
the team, retention); the audit row names the action and the record id only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .. import clock
from ..tokens import token_hash
from . import INTEGRITY_ERRORS, audit, outbox, transaction, volunteers
from .screenings import add_consent

#: What a family sends: their details after a hopeful result, or a request that a person check the result.
REFERRAL = "referral"
REVIEW = "review"  # PIPL art. 24: a person, not the form, looks again at an automated result
KINDS = (REFERRAL, REVIEW)
#: The longest "why do you think your child may qualify?" the store keeps (the form says so first).
WORDS_MAX = 1000
SHARE = "share"  # "yes, share this with the study team"
SMS_RECEIPT = "sms_receipt"  # "yes, text me my reference number" (the receipt, issue 19)
GUARDIAN_SHARE = "guardian_share"  # a parent or guardian agrees for a child under 14 (PIPL art. 31)
#: Easy to read aloud on the phone: no 0/O or 1/I.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Contact:
    """What the family typed on the referral form (already validated and normalised)."""

    name: str
    relationship: str
    phone: str
    email: str | None
    wechat: str | None
    best_time: str
    locale: str


@dataclass(frozen=True)
class Receipt:
    """The family's SMS receipt: the team's number and call-back days (the reference is added here)."""

    phone: str
    days: str
    consent_version: str


def receipt_key(referral_id: int) -> str:
    """The outbox key of a referral's SMS receipt (its own trailing colon: a prefix of no other key)."""
    return f"referral-receipt:{referral_id}:"


@dataclass(frozen=True)
class Alert:
    """The study team's "a new referral is waiting" e-mail (no name, no health data)."""

    to_addr: str
    subject: str
    body: str  # may contain "{id}" and "{url}" placeholders, filled in once the id is known
    base_url: str


def new_reference() -> str:
    """A short reference a family can quote on the phone, e.g. ``PS-7KQ2M9``."""
    return "PS-" + "".join(secrets.choice(ALPHABET) for _ in range(6))


def create(
    db: sqlite_utils.Database,
    *,
    screening: dict[str, Any],
    contact: Contact,
    age_band: str,
    consent_version: str,
    guardian_consent: bool,
    alert: Alert | None,
    withdraw_token: str,
    kind: str = REFERRAL,
    family_words: str | None = None,
    sms_receipt: Receipt | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a referral with its consents, audit row and alert; idempotent per screening.

    *kind* is :data:`REFERRAL` or :data:`REVIEW`; *family_words* (a review request's "why do you
    think your child may qualify?", at most :data:`WORDS_MAX` characters) is health data: the
    audit row and the alert never carry it.

    Returns ``(referral row, created)``; ``created`` is False when the screening already had a
    referral (a double POST), and the existing row is returned. *withdraw_token* is a fresh random
    secret of the referral's own (never derived from the screening token, which moves from device
    to device); only its hash is stored. *sms_receipt*, when the family ticked it, queues the text
    with their reference (and records that consent) in the same transaction.
    """
    if kind not in KINDS or (family_words is not None and len(family_words) > WORDS_MAX):
        raise ValueError("unknown kind or words too long")
    token = withdraw_token
    existing = by_screening(db, screening["id"])
    if existing:
        return existing, False
    now = clock.utc_text()
    role = screening["respondent"] or "guardian"
    for _attempt in range(5):
        reference = new_reference()
        try:
            with transaction(db):
                if by_screening(db, screening["id"]):
                    break
                cursor = db.execute(
                    "INSERT INTO referrals (screening_id, study_id, reference, withdraw_token_hash, guardian_name, "
                    "relationship, phone, email, wechat, best_time, contact_locale, status, outcome, age_band, "
                    "created_at, updated_at, kind, family_words) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?) RETURNING id",
                    [
                        screening["id"],
                        screening["study_id"],
                        reference,
                        token_hash(token),
                        contact.name,
                        contact.relationship,
                        contact.phone,
                        contact.email,
                        contact.wechat,
                        contact.best_time,
                        contact.locale,
                        screening["outcome"],
                        age_band,
                        now,
                        now,
                        kind,
                        family_words or None,
                    ],
                )
                referral_id = int(cursor.fetchone()[0])
                add_consent(db, screening["id"], SHARE, consent_version, contact.locale, role)
                if guardian_consent:
                    add_consent(db, screening["id"], GUARDIAN_SHARE, consent_version, contact.locale, "guardian")
                detail = {"outcome": screening["outcome"], **({"kind": kind} if kind == REVIEW else {})}
                audit.record(db, "family", "referral.create", "referral", referral_id, detail)
                if alert is not None:
                    url = f"{alert.base_url.rstrip('/')}/coordinator/referrals/{referral_id}"
                    outbox.enqueue(
                        db,
                        key=f"referral-alert:{referral_id}",
                        kind="referral-alert",
                        to_addr=alert.to_addr,
                        locale="zh",
                        subject=alert.subject,
                        body_text=alert.body.replace("{url}", url).replace("{id}", str(referral_id)),
                    )
                if sms_receipt is not None:
                    add_consent(db, screening["id"], SMS_RECEIPT, sms_receipt.consent_version, contact.locale, role)
                    outbox.enqueue_sms(
                        db,
                        key=receipt_key(referral_id),
                        kind="referral-receipt",
                        phone=contact.phone,
                        locale=contact.locale,
                        template="referral-receipt",
                        params={"reference": reference, "days": sms_receipt.days, "phone": sms_receipt.phone},
                    )
        except INTEGRITY_ERRORS as exc:
            if "reference" in str(exc):
                continue  # a reference collision: draw another one
            break  # the screening got its referral from a concurrent request
        else:
            row = by_screening(db, screening["id"])
            if row and row["id"] == referral_id:
                return row, True
            break
    row = by_screening(db, screening["id"])
    if row is None:
        raise RuntimeError("could not create a referral")
    return row, False


_COLUMNS = ("id", "screening_id", "study_id", "reference", "status", "outcome", "age_band", "created_at", "kind")
_SELECT = "SELECT id, screening_id, study_id, reference, status, outcome, age_band, created_at, kind FROM referrals "
_CONTACT = ("guardian_name", "relationship", "phone", "email", "wechat", "best_time", "contact_locale")


def by_screening(db: sqlite_utils.Database, screening_id: int) -> dict[str, Any] | None:
    """The referral made from a screening, if any (without contact details or the family's words)."""
    raw = db.execute(_SELECT + "WHERE screening_id = ?", [screening_id]).fetchone()
    return dict(zip(_COLUMNS, raw, strict=True)) if raw else None


def by_withdraw_token(db: sqlite_utils.Database, token: str | None) -> dict[str, Any] | None:
    """The referral a withdraw link points at, if the token is right."""
    if not token or len(token) > 100:
        return None
    raw = db.execute(_SELECT + "WHERE withdraw_token_hash = ?", [token_hash(token)]).fetchone()
    return dict(zip(_COLUMNS, raw, strict=True)) if raw else None


def contact_of(db: sqlite_utils.Database, referral_id: int) -> dict[str, Any] | None:
    """The stored contact details (for tests and the data-subject export), or None."""
    raw = db.execute(
        "SELECT guardian_name, relationship, phone, email, wechat, best_time, contact_locale "
        "FROM referrals WHERE id = ?",
        [referral_id],
    ).fetchone()
    return dict(zip(_CONTACT, raw, strict=True)) if raw else None


def withdraw(db: sqlite_utils.Database, token: str) -> bool:
    """Withdraw the referral a withdraw link points at; returns whether it did (see :func:`withdraw_referral`)."""
    referral = by_withdraw_token(db, token)
    return referral is not None and withdraw_referral(db, referral["id"])


def withdraw_referral(db: sqlite_utils.Database, referral_id: int) -> bool:
    """The family withdraws (their withdraw link, or the browser that holds the screening).

    Returns whether it did. The referral row stays (status ``withdrawn``) so the team sees not to
    call; everything personal goes (:func:`erase_personal_data`, reason ``family``).
    """
    now = clock.utc_text()
    with transaction(db):
        raw = db.execute("SELECT status FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if raw is None or raw[0] == "withdrawn":
            return False
        set_status(db, referral_id, "withdrawn", at=now)
        erase_personal_data(db, referral_id, FAMILY_WITHDREW)
        audit.record(db, "family", "referral.withdraw", "referral", referral_id)
    return True


#: Why a referral's personal data is erased (:func:`erase_personal_data`).
FAMILY_WITHDREW = "family"  # from the withdraw link or the screening's browser
TEAM_TOLD = "team"  # the family told the study team, who set the status to withdrawn
RETENTION = "retention"  # the retention period ran out (prescreen purge)
ERASE_REASONS = (FAMILY_WITHDREW, TEAM_TOLD, RETENTION)


#: Statuses after which nobody works on a referral any more (``closed_at`` is set on entering one).
#: ``result_explained`` closes a review request: a person checked the result, it stands, and they
#: explained it to the family.
#: ``dropped_out``: the family stopped taking part; unlike ``withdrawn`` everything is kept.
CLOSED = frozenset(
    {"enrolled", "screen_failed", "not_interested", "dropped_out", "withdrawn", "unreachable", "result_explained"}
)
#: The status of a referral whose personal data was erased because the family withdrew consent.
ERASED_STATUS = "withdrawn"


def visit_reminder_prefix(referral_id: int) -> str:
    """The start of every outbox key of this referral's visit reminders (see :mod:`.visits`)."""
    return f"visit-reminder:{referral_id}:"


def cancel_visit_reminders(db: sqlite_utils.Database, referral_id: int) -> int:
    """Cancel the visit reminders not sent yet (rebooked, cancelled, status changed, erased)."""
    return outbox.cancel_pending(db, visit_reminder_prefix(referral_id))


def set_status(
    db: sqlite_utils.Database,
    referral_id: int,
    status: str,
    *,
    at: str | None = None,
    visit_date: str | None = None,
    criterion: str | None = None,
    closed_reason: str | None = None,
    consent_date: str | None = None,
    subject_id: str | None = None,
    corrected: bool = False,
) -> None:
    """Move a referral to *status* (the one writer of a referral's status; the caller audits).

    ``closed_at`` is set on entering a closed status and cleared on leaving one; a visit date, a
    screen-fail criterion, a closing reason, a consent date or a subject id is kept until another
    is given. *corrected* stamps ``status_corrected_at`` (a coordinator corrected the status; the
    de-identified log then takes back milestones the correction undoes, see m0013). *at* is the
    time to record (the purge's clock, which may be set by ``--now``); default now.
    """
    now = at or clock.utc_text()
    with transaction(db):
        db.execute(
            "UPDATE referrals SET status = :status, updated_at = :now, closed_at = :closed_at, "
            "visit_date = COALESCE(:visit_date, visit_date), "
            "screen_fail_criterion = COALESCE(:criterion, screen_fail_criterion), "
            "closed_reason = COALESCE(:reason, closed_reason), consent_date = COALESCE(:consent, consent_date), "
            "subject_id = COALESCE(:subject, subject_id), "
            "status_corrected_at = CASE WHEN :corrected THEN :now ELSE status_corrected_at END WHERE id = :id",
            {
                "status": status,
                "now": now,
                "closed_at": now if status in CLOSED else None,
                "visit_date": visit_date,
                "criterion": criterion,
                "reason": closed_reason,
                "consent": consent_date,
                "subject": subject_id,
                "corrected": corrected,
                "id": referral_id,
            },
        )
        if status != "visit_scheduled":  # no visit is booked any more: its reminders must not go
            cancel_visit_reminders(db, referral_id)


def record_activity(db: sqlite_utils.Database, referral_id: int, *, first_contact_at: str | None = None) -> None:
    """Note that someone worked on a referral now (a note, a contact attempt: its time, if given).

    First contact is the earliest time given (an attempt logged late, dated earlier, moves it
    back). The retention period for open referrals counts from the last activity.
    """
    with transaction(db):
        db.execute(
            "UPDATE referrals SET first_contact_at = CASE WHEN :first IS NOT NULL "
            "AND (first_contact_at IS NULL OR :first < first_contact_at) THEN :first ELSE first_contact_at END, "
            "updated_at = :now WHERE id = :id",
            {"first": first_contact_at, "now": clock.utc_text(), "id": referral_id},
        )


def set_visit(db: sqlite_utils.Database, referral_id: int, day: str | None, time: str | None) -> None:
    """Keep the booked screening visit's day and time (both None: no visit booked).

    Only the column values; the status and the reminders are the booking's (store/visits.py),
    in the same transaction as this.
    """
    db.execute("UPDATE referrals SET visit_date = ?, visit_time = ? WHERE id = ?", [day, time, referral_id])


def assign(db: sqlite_utils.Database, referral_id: int, user_id: int | None) -> None:
    """Give a family to one coordinator (None: nobody); the caller audits from whom to whom."""
    db.execute("UPDATE referrals SET assigned_to = ? WHERE id = ?", [user_id, referral_id])


def erase_personal_data(db: sqlite_utils.Database, referral_id: int, reason: str, at: str | None = None) -> None:
    """Erase one referral's contact details, the family's words, the answers and the team's notes (PIPL 15, 47).

    The team's notes include the notes on contact attempts (blanked; the attempts stay for the counts).

    The one place a referral's personal data leaves the database; the referral and screening rows
    stay as de-identified shells (status, outcome, dates) for the counts. What differs by *reason*:

    Whatever the reason, the screening's resume link expires at once and a re-check reminder not
    yet sent is cancelled and its address blanked (a family that told the team on the phone is as
    withdrawn as one that used the link). What differs by *reason*:

    - ``family``: the withdraw link keeps working (it says "withdrawn");
    - ``team``: the withdraw link stops working;
    - ``retention``: the withdraw link stops working, the contact attempts go as well, and the
      referral is marked purged at *at* (the purge's clock, which may be set by ``--now``).

    The status change and the audit row are the caller's (each path words them differently); this
    joins the caller's transaction.
    """
    if reason not in ERASE_REASONS:
        raise ValueError(f"unknown erase reason {reason!r}")
    now = at or clock.utc_text()
    family = reason == FAMILY_WITHDREW
    with transaction(db):
        row = db.execute("SELECT screening_id FROM referrals WHERE id = ?", [referral_id]).fetchone()
        if row is None:
            return
        screening_id = row[0]
        db.execute(
            "UPDATE referrals SET guardian_name = NULL, relationship = NULL, phone = NULL, email = NULL, "
            "wechat = NULL, best_time = NULL, family_words = NULL, "
            "withdraw_token_hash = CASE WHEN :family THEN withdraw_token_hash ELSE NULL END WHERE id = :id",
            {"family": family, "id": referral_id},
        )
        db.execute(
            "UPDATE screenings SET answers = '{}', criteria = NULL, failed = NULL, recheck_after = NULL, "
            "editing = NULL, notice = NULL, expires_at = ?, updated_at = ? WHERE id = ?",
            [now, now, screening_id],
        )
        db.execute("DELETE FROM notes WHERE referral_id = ?", [referral_id])
        # The team's checks and the PI's sign-offs are about the child's health; reminders carry an address.
        db.execute("DELETE FROM checklist_marks WHERE referral_id = ?", [referral_id])
        db.execute("DELETE FROM eligibility_signoffs WHERE referral_id = ?", [referral_id])
        cancel_visit_reminders(db, referral_id)
        outbox.cancel_pending(db, receipt_key(referral_id))  # a receipt not sent yet holds their number
        db.execute("UPDATE contact_attempts SET note = NULL WHERE referral_id = ?", [referral_id])
        volunteers.cancel_reminders(db, screening_id)
        if reason == RETENTION:
            db.execute("DELETE FROM contact_attempts WHERE referral_id = ?", [referral_id])
            db.execute("UPDATE referrals SET purged_at = ? WHERE id = ?", [now, referral_id])

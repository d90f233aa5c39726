"""Anonymous screenings: one row per family's walk through a study, keyed by a hash of its token.

The token (random, in the session cookie and the resume link) is never stored; only its SHA-256
is. Answers are option values / ``YYYY-MM`` / integers in a JSON object, with the questionnaire
version beside them, so a row reads the same in either language and against the exact wording
that was shown. ``step`` counts accepted writes: a form carries the step it was rendered at, and
a replayed or double-tapped POST (same step) changes nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import sqlite_utils

from .. import clock
from ..tokens import SHORT, new_token, token_hash
from . import audit, transaction, volunteers

#: Consent kinds written by the chat (consents.kind).
HEALTH_DATA = "health_data"  # before any health question (PIPL art. 28-30)
GUARDIAN_TAKEOVER = "guardian_takeover"  # a parent continues for a child under 14 (art. 31)
RECHECK_REMINDER = "recheck_reminder"  # an e-mail when the family may try again (the volunteer area)

#: What one saved answer does to the told-early choice (migration m0012): ``told`` the family is
#: told of a waiting period now (the choice is open again); ``continued`` they answered on after
#: being told; ``cleared`` a changed answer ended the waiting period they had stopped for; None:
#: nothing.
EARLY_STEPS = (None, "told", "continued", "cleared")

_NAMES = (
    "id", "study_id", "version", "locale", "respondent", "answers", "status", "outcome", "criteria", "failed",
    "recheck_after", "step", "created_at", "updated_at", "completed_at", "expires_at", "editing", "notice",
    "early_told_at", "early_choice", "early_choice_at",
)  # fmt: skip
#: Literal SQL (no string building, so bandit and reviewers can see every statement whole); the
#: column list is also written out in every ``RETURNING`` below.
_SELECT = (
    "SELECT id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
    "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
    "early_told_at, early_choice, early_choice_at FROM screenings "
)


def expiry(days: int) -> str:
    """ISO UTC time *days* from now: when an untouched screening's resume link stops working."""
    return clock.iso(clock.now() + timedelta(days=int(days)))


def _row(raw: tuple[Any, ...] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    row = dict(zip(_NAMES, raw, strict=True))
    row["answers"] = json.loads(row["answers"] or "{}")
    return row


def create(
    db: sqlite_utils.Database,
    *,
    study_id: str,
    version: str,
    locale: str,
    respondent: str,
    consent_version: str,
    resume_days: int,
    token: str | None = None,
    source_id: int | None = None,
) -> tuple[int, str]:
    """Start a screening and record its health-data consent, in one transaction.

    Returns ``(screening id, token)``; the token goes to the session and the resume link. A caller
    that derives *token* from the consent form's one-time nonce makes a double-tapped or
    replayed "Agree" idempotent: the same token finds the row already made, and nothing new is
    written. *source_id* is the source whose ``/q/`` link this browser opened (or None).
    """
    token = token or new_token(SHORT)
    now = clock.utc_text()
    with transaction(db):
        # An explicit id: SQLite would hand a deleted screening's id to the next family when the
        # deleted row was the newest, and the audit trail's "screening N deleted" would then seem
        # to be about someone else. The write lock (BEGIN IMMEDIATE) makes the max() race-free.
        cursor = db.execute(
            "INSERT INTO screenings (id, token_hash, study_id, version, locale, respondent, answers, status, "
            "step, created_at, updated_at, expires_at, source_id) VALUES ("
            "1 + max((SELECT COALESCE(max(id), 0) FROM screenings), "
            "(SELECT COALESCE(max(CAST(record_id AS INTEGER)), 0) FROM audit WHERE record_type = 'screening')), "
            "?, ?, ?, ?, ?, '{}', 'in_progress', 0, ?, ?, ?, ?) "
            "ON CONFLICT (token_hash) DO NOTHING RETURNING id",
            [token_hash(token), study_id, version, locale, respondent, now, now, expiry(resume_days), source_id],
        )
        inserted = cursor.fetchone()
        if inserted is not None:
            screening_id = int(inserted[0])
            add_consent(db, screening_id, HEALTH_DATA, consent_version, locale, respondent)
        else:
            row = db.execute("SELECT id FROM screenings WHERE token_hash = ?", [token_hash(token)]).fetchone()
            screening_id = int(row[0])
    return screening_id, token


def add_consent(
    db: sqlite_utils.Database, screening_id: int, kind: str, text_version: str, locale: str, role: str
) -> int:
    """Record what was agreed; the one writer of ``consents``, whose rows are never updated.

    Joins the caller's transaction, so a consent commits with the act it allows, or not at all.
    """
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO consents (screening_id, kind, text_version, locale, role, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [screening_id, kind, text_version, locale, role, clock.utc_text()],
        )
        return int(cursor.fetchone()[0])


def by_token(db: sqlite_utils.Database, token: str | None) -> dict[str, Any] | None:
    """The screening for *token*, or None if unknown or past its expiry."""
    if not token:
        return None
    raw = db.execute(
        _SELECT + "WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)",
        [token_hash(token), clock.utc_text()],
    ).fetchone()
    return _row(raw)


def move_to_new_token(
    db: sqlite_utils.Database, token: str, *, consent_version: str | None, locale: str
) -> tuple[dict[str, Any], str] | None:
    """Move a screening to the browser that opened its resume link: a new token, the old one dead.

    Whoever held the old token (the link's sender, the cookie of the device it was made on) sees
    nothing of the screening from now on, so a link posted in a group chat cannot be used to
    watch the answers of whoever continues it. The new holder's consent is recorded in the same
    transaction (*consent_version* None: nothing to consent to yet, e.g. a handed-off screening
    whose guardian consents on the next page). Returns ``(row, new token)``, or None when the
    token is unknown, expired or was already used (two browsers racing: one wins).
    """
    return _move(db, token_hash(token), None, consent_version=consent_version, locale=locale)


def move_by_id(
    db: sqlite_utils.Database, screening_id: int, *, consent_version: str | None, locale: str
) -> tuple[dict[str, Any], str] | None:
    """Move a screening to a new token found by its id (a checked resume code): as :func:`move_to_new_token`."""
    return _move(db, None, screening_id, consent_version=consent_version, locale=locale)


def _move(
    db: sqlite_utils.Database,
    old_hash: str | None,
    screening_id: int | None,
    *,
    consent_version: str | None,
    locale: str,
) -> tuple[dict[str, Any], str] | None:
    """The one move to a new token (found by its old token's hash or by id): old token and short code both die."""
    new = new_token(SHORT)
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET token_hash = ?, updated_at = ? "
            "WHERE (token_hash = ? OR id = ?) AND (expires_at IS NULL OR expires_at > ?) "
            "RETURNING id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
            "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
            "early_told_at, early_choice, early_choice_at",
            [token_hash(new), clock.utc_text(), old_hash, screening_id, clock.utc_text()],
        )
        rows = cursor.fetchall()  # all of them: the statement must be finished before COMMIT
        if not rows:
            return None
        row = cast(dict[str, Any], _row(rows[0]))  # a row was returned, so never None
        db.execute("DELETE FROM resume_codes WHERE screening_id = ?", [row["id"]])  # single use, like the link
        if consent_version is not None:
            add_consent(db, row["id"], HEALTH_DATA, consent_version, locale, row["respondent"] or "guardian")
        audit.record(db, "family", "screening.resume", "screening", row["id"])
    return row, new


def consents(db: sqlite_utils.Database, screening_id: int) -> list[dict[str, Any]]:
    """Every consent recorded for a screening, oldest first."""
    rows = db.execute(
        "SELECT id, kind, text_version, locale, role, created_at FROM consents WHERE screening_id = ? ORDER BY id",
        [screening_id],
    ).fetchall()
    return [dict(zip(("id", "kind", "text_version", "locale", "role", "created_at"), r, strict=True)) for r in rows]


def save_step(
    db: sqlite_utils.Database,
    screening_id: int,
    expected_step: int,
    *,
    answers: dict[str, Any],
    version: str,
    locale: str,
    outcome: dict[str, Any] | None,
    notice: str | None,
    resume_days: int,
    early: str | None = None,
) -> dict[str, Any] | None:
    """Store the answers after one accepted answer, and the outcome if the walk is finished.

    Writes only if the row is still at ``expected_step`` (the step the form was rendered at),
    so a replayed or double POST records nothing. Returns the row as written (``RETURNING``:
    the chat shows the next question from it without reading the row again), or None.
    ``early`` is what this answer did to the told-early choice (see :data:`EARLY_STEPS`).
    """
    now = clock.utc_text()
    finished = outcome is not None
    if early not in EARLY_STEPS:
        raise ValueError(f"unknown early step {early!r}")
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET answers = ?, version = ?, locale = ?, step = step + 1, editing = NULL, notice = ?, "
            "status = ?, outcome = ?, criteria = ?, failed = ?, recheck_after = ?, "
            "completed_at = CASE WHEN ? THEN COALESCE(completed_at, ?) ELSE NULL END, "
            "early_told_at = CASE WHEN ? = 'told' THEN COALESCE(early_told_at, ?) ELSE early_told_at END, "
            "early_choice = CASE ? WHEN 'continued' THEN 'continued' WHEN 'told' THEN NULL "
            "WHEN 'cleared' THEN NULL ELSE early_choice END, "
            "early_choice_at = CASE ? WHEN 'continued' THEN ? WHEN 'told' THEN NULL "
            "WHEN 'cleared' THEN NULL ELSE early_choice_at END, "
            "updated_at = ?, expires_at = ? WHERE id = ? AND step = ? AND status != 'handoff' "
            "RETURNING id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
            "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
            "early_told_at, early_choice, early_choice_at",
            [
                json.dumps(answers, ensure_ascii=False, sort_keys=True),
                version,
                locale,
                notice,
                "completed" if finished else "in_progress",
                outcome["status"] if finished else None,
                json.dumps(outcome["criteria"], sort_keys=True) if finished else None,
                json.dumps(outcome["failed"]) if finished else None,
                outcome["recheck_after"] if finished else None,
                finished,
                now,
                early,
                now,
                early,
                early,
                now,
                now,
                expiry(resume_days),
                screening_id,
                expected_step,
            ],
        )
        rows = cursor.fetchall()  # all of them: the statement must be finished before COMMIT
        if rows and finished:
            volunteers.follow_recheck(db, screening_id, outcome["recheck_after"])
    return _row(rows[0]) if rows else None


def stop_early(
    db: sqlite_utils.Database, screening_id: int, expected_step: int, outcome: dict[str, Any]
) -> dict[str, Any] | None:
    """The family chose to see the result now: store the outcome of the answers given, as finished.

    The answers stay as they are (the family may come back to the rest). Only a screening still
    in progress and not sent to the team can stop; returns the row as written, or None.
    """
    now = clock.utc_text()
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET status = 'completed', outcome = ?, criteria = ?, failed = ?, recheck_after = ?, "
            "completed_at = ?, early_choice = 'stopped', early_choice_at = ?, step = step + 1, editing = NULL, "
            "notice = NULL, updated_at = ? WHERE id = ? AND step = ? AND status = 'in_progress' "
            "AND id NOT IN (SELECT screening_id FROM referrals) "
            "RETURNING id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
            "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
            "early_told_at, early_choice, early_choice_at",
            [
                outcome["status"],
                json.dumps(outcome["criteria"], sort_keys=True),
                json.dumps(outcome["failed"]),
                outcome["recheck_after"],
                now,
                now,
                now,
                screening_id,
                expected_step,
            ],
        )
        rows = cursor.fetchall()  # all of them: the statement must be finished before COMMIT
        if rows:
            volunteers.follow_recheck(db, screening_id, outcome["recheck_after"])
    return _row(rows[0]) if rows else None


def answer_the_rest(db: sqlite_utils.Database, screening_id: int, expected_step: int) -> dict[str, Any] | None:
    """A family that stopped early comes back to the questions they left: in progress again.

    Nothing they answered is touched; the outcome is worked out again when they finish. Only a
    stopped screening not sent to the team reopens; returns the row as written, or None.
    """
    now = clock.utc_text()
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET status = 'in_progress', outcome = NULL, criteria = NULL, failed = NULL, "
            "recheck_after = NULL, completed_at = NULL, early_choice = 'continued', early_choice_at = ?, "
            "step = step + 1, editing = NULL, notice = NULL, updated_at = ? "
            "WHERE id = ? AND step = ? AND status = 'completed' AND early_choice = 'stopped' "
            "AND id NOT IN (SELECT screening_id FROM referrals) "
            "RETURNING id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
            "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
            "early_told_at, early_choice, early_choice_at",
            [now, now, screening_id, expected_step],
        )
        rows = cursor.fetchall()  # all of them: the statement must be finished before COMMIT
    return _row(rows[0]) if rows else None


def set_editing(
    db: sqlite_utils.Database, screening_id: int, expected_step: int, question_id: str | None
) -> dict[str, Any] | None:
    """Mark which earlier answer the family is changing (None: stop changing).

    Returns the row as written, or None when the row was no longer at ``expected_step``.
    """
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET editing = ?, step = step + 1, updated_at = ? WHERE id = ? AND step = ? "
            "RETURNING id, study_id, version, locale, respondent, answers, status, outcome, criteria, failed, "
            "recheck_after, step, created_at, updated_at, completed_at, expires_at, editing, notice, "
            "early_told_at, early_choice, early_choice_at",
            [question_id, clock.utc_text(), screening_id, expected_step],
        )
        rows = cursor.fetchall()  # all of them: the statement must be finished before COMMIT
    return _row(rows[0]) if rows else None


def clear_notice(db: sqlite_utils.Database, screening_id: int) -> None:
    """Forget a one-off notice once it has been shown."""
    with transaction(db):
        db.execute("UPDATE screenings SET notice = NULL WHERE id = ? AND notice IS NOT NULL", [screening_id])


def set_locale(db: sqlite_utils.Database, screening_id: int, locale: str) -> None:
    """Remember the language the family chose (for the result page, e-mails and the team)."""
    with transaction(db):
        db.execute("UPDATE screenings SET locale = ? WHERE id = ? AND locale != ?", [locale, screening_id, locale])


def hand_off(db: sqlite_utils.Database, screening_id: int, expected_step: int) -> bool:
    """A patient under 14 stops: their answers are erased (no guardian consent yet, PIPL art. 31)."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET status = 'handoff', answers = '{}', editing = NULL, step = step + 1, "
            "updated_at = ? WHERE id = ? AND step = ?",
            [clock.utc_text(), screening_id, expected_step],
        )
        return cursor.rowcount == 1


def guardian_takes_over(
    db: sqlite_utils.Database, screening_id: int, expected_step: int, consent_version: str, locale: str
) -> bool:
    """A parent or guardian continues a handed-off screening, with their own consent recorded."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE screenings SET status = 'in_progress', respondent = 'guardian', answers = '{}', "
            "step = step + 1, locale = ?, updated_at = ? WHERE id = ? AND step = ? AND status = 'handoff'",
            [locale, clock.utc_text(), screening_id, expected_step],
        )
        if cursor.rowcount != 1:
            return False
        add_consent(db, screening_id, GUARDIAN_TAKEOVER, consent_version, locale, "guardian")
        return True


def delete(db: sqlite_utils.Database, screening_id: int) -> None:
    """Delete a screening the family asked us to forget (consents go with it); audited without values."""
    with transaction(db):
        db.execute("DELETE FROM screenings WHERE id = ?", [screening_id])
        volunteers.cancel_reminders(db, screening_id)
        audit.record(db, "family", "screening.delete", "screening", screening_id)

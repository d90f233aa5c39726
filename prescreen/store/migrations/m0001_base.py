"""Base schema: screenings, consents, referrals, contact attempts, notes, users, audit, outbox.

Timestamps are ISO-8601 UTC text. JSON columns hold ids and codes (answers are
stored as option ids, never as display text), so a record reads the same in
either language.

Deletion policy:
- ``audit`` refuses UPDATE and DELETE outright (triggers): the trail is append-only.
- ``consents`` refuse UPDATE (a consent is a fact at a moment; a new decision is a
  new row). DELETE is allowed, but only happens through the store's deletion
  path: a data-subject deletion request or the retention purge deletes the
  screening, and its consents, referral, contact attempts and notes go with it
  by ``ON DELETE CASCADE``. The audit row for that deletion names the action
  and the record id, never personal data.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    # users first: PostgreSQL needs a table to exist before another refers to it.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT UNIQUE NOT NULL COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        studies TEXT NOT NULL DEFAULT '[]',
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE screenings (
        id INTEGER PRIMARY KEY,
        token_hash TEXT UNIQUE NOT NULL,
        study_id TEXT NOT NULL,
        version TEXT NOT NULL,
        locale TEXT NOT NULL CHECK (locale IN ('en', 'zh')),
        respondent TEXT CHECK (respondent IN ('guardian', 'patient')),
        answers TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'in_progress'
            CHECK (status IN ('in_progress', 'completed', 'handoff')),
        outcome TEXT CHECK (outcome IN ('likely_eligible', 'needs_review', 'not_eligible')),
        criteria TEXT,
        failed TEXT,
        recheck_after TEXT,
        step INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT,
        expires_at TEXT
    )
    """,
    "CREATE INDEX screenings_study_status ON screenings (study_id, status, outcome)",
    "CREATE INDEX screenings_expires_at ON screenings (expires_at)",
    """
    CREATE TABLE consents (
        id INTEGER PRIMARY KEY,
        screening_id INTEGER REFERENCES screenings (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        text_version TEXT NOT NULL,
        locale TEXT NOT NULL CHECK (locale IN ('en', 'zh')),
        role TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX consents_screening ON consents (screening_id)",
    """
    CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
    BEGIN SELECT RAISE(ABORT, 'consents are never updated; record a new consent'); END
    """,
    """
    CREATE TABLE referrals (
        id INTEGER PRIMARY KEY,
        screening_id INTEGER UNIQUE NOT NULL REFERENCES screenings (id) ON DELETE CASCADE,
        study_id TEXT NOT NULL,
        reference TEXT UNIQUE NOT NULL,
        withdraw_token_hash TEXT UNIQUE,
        guardian_name TEXT,
        phone TEXT,
        email TEXT,
        wechat TEXT,
        best_time TEXT,
        contact_locale TEXT CHECK (contact_locale IN ('en', 'zh')),
        status TEXT NOT NULL DEFAULT 'new',
        outcome TEXT,
        age_band TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        first_contact_at TEXT,
        visit_date TEXT,
        screen_fail_criterion TEXT
    )
    """,
    "CREATE INDEX referrals_study_status ON referrals (study_id, status)",
    """
    CREATE TABLE contact_attempts (
        id INTEGER PRIMARY KEY,
        referral_id INTEGER NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
        user_id INTEGER REFERENCES users (id),
        channel TEXT NOT NULL,
        result TEXT NOT NULL,
        at TEXT NOT NULL
    )
    """,
    "CREATE INDEX contact_attempts_referral ON contact_attempts (referral_id)",
    """
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        referral_id INTEGER NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
        user_id INTEGER REFERENCES users (id),
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX notes_referral ON notes (referral_id)",
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        record_type TEXT NOT NULL,
        record_id TEXT,
        detail TEXT
    )
    """,
    "CREATE INDEX audit_record ON audit (record_type, record_id)",
    """
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
    """,
    """
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
    """,
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT UNIQUE NOT NULL,
        kind TEXT NOT NULL,
        to_addr TEXT NOT NULL,
        locale TEXT NOT NULL CHECK (locale IN ('en', 'zh')),
        subject TEXT NOT NULL,
        body_text TEXT NOT NULL,
        body_html TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    )
    """,
    "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
]


def up(db: sqlite_utils.Database) -> None:
    """Create the base tables; runs inside the migration runner's transaction."""
    for statement in STATEMENTS:
        db.execute(statement)

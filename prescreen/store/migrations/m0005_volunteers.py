"""Volunteers: sign-ups, their categories, single-use tokens, suppressed addresses; outbox claims.

A volunteer row holds only what sending the right e-mail needs: the address, the language, the
categories, an optional age band (never a date of birth) and which consent text they agreed to.
Tokens are stored as SHA-256 hashes, so a copy of the database cannot be used to confirm,
manage or unsubscribe anybody. ``outbox`` gains a claim (who is sending a row, until when) so
two senders never take the same row and a crashed sender's row is picked up again later.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    """
    CREATE TABLE volunteers (
        id INTEGER PRIMARY KEY,
        email TEXT UNIQUE NOT NULL COLLATE NOCASE,
        locale TEXT NOT NULL CHECK (locale IN ('en', 'zh')),
        age_band TEXT CHECK (age_band IN ('under-5', '5-9', '10-13', '14-18', 'over-18')),
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
        consent_version TEXT NOT NULL,
        consent_locale TEXT NOT NULL CHECK (consent_locale IN ('en', 'zh')),
        consented_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        confirmed_at TEXT,
        unsubscribed_at TEXT
    )
    """,
    """
    CREATE TABLE volunteer_categories (
        volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
        category_id TEXT NOT NULL,
        PRIMARY KEY (volunteer_id, category_id)
    )
    """,
    """
    CREATE TABLE volunteer_tokens (
        token_hash TEXT PRIMARY KEY,
        volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'manage')),
        created_at TEXT NOT NULL,
        expires_at TEXT
    )
    """,
    "CREATE INDEX volunteer_tokens_volunteer ON volunteer_tokens (volunteer_id, purpose)",
    """
    CREATE TABLE suppressions (
        email TEXT PRIMARY KEY COLLATE NOCASE,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
    "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
]


def up(db: sqlite_utils.Database) -> None:
    """Create the volunteer tables and the outbox claim columns."""
    for statement in STATEMENTS:
        db.execute(statement)

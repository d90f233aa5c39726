"""When an outbox row was given up (``outbox.failed_at``), so a lost study-team alert can be shown.

A referral alert that the server refused for good, or that ran out of retries, must not fail
silently: the coordinator queue warns until a later alert is delivered. That needs the moment the
row failed (``next_attempt_at`` means something else, and ``sent_at`` stays empty). The index
keeps the queue's "is there a lost alert?" question cheap however many volunteer mails the
outbox holds.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE outbox ADD COLUMN failed_at TEXT",
    "CREATE INDEX outbox_kind_status ON outbox (kind, status)",
]


def up(db: sqlite_utils.Database) -> None:
    """Add ``outbox.failed_at`` and an index by kind and status."""
    for statement in STATEMENTS:
        db.execute(statement)

"""Sources: one row per place a study's link is handed out (a clinic poster, a parents' WeChat group).

- ``sources``: a short ``code`` (the ``/q/<code>`` link and its QR code), the team's own ``label``
  and who made it. ``active`` = 0 stops the link counting (it then goes to the home page); a row is
  never deleted while screenings point at it.
- ``screenings.source_id``: which source's link the screening started from, or NULL (a typed
  link). An id only: nothing about the family.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL,
        code TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1
    )
    """,
    "CREATE INDEX sources_study ON sources (study_id)",
    "ALTER TABLE screenings ADD COLUMN source_id INTEGER REFERENCES sources (id)",
]


def up(db: sqlite_utils.Database) -> None:
    """Create ``sources`` and add ``screenings.source_id``."""
    for statement in STATEMENTS:
        db.execute(statement)

"""Study versions uploaded in the coordinator area (issue 20): a study changes without a developer.

Each row is one uploaded workbook or CSV zip, kept byte for byte so every worker (and every node
sharing the database) parses the same study from it. ``version`` is the engine's content hash,
the fingerprint screenings already store; ``label`` and ``approved_on`` are what the ethics
committee approved ("V1.1", 2026-11-20), typed in by the team and shown instead of the hash.
At most one version of a study is ``live`` at a time (the partial unique index): it replaces the
folder's study for new screenings.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    """
    CREATE TABLE study_versions (
        id INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL,
        version TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('xlsx', 'csv-zip')),
        content BLOB NOT NULL,
        label TEXT NOT NULL,
        approved_on TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'live', 'retired')),
        uploaded_by TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        published_by TEXT,
        published_at TEXT,
        retired_at TEXT,
        UNIQUE (study_id, version)
    )
    """,
    "CREATE UNIQUE INDEX study_versions_one_live ON study_versions (study_id) WHERE state = 'live'",
]


def up(db: sqlite_utils.Database) -> None:
    """Create ``study_versions``."""
    for statement in STATEMENTS:
        db.execute(statement)

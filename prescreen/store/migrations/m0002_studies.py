"""Study recruiting status and publication, kept in the database.

A study's sheet says whether it starts out recruiting; an admin opens or closes recruiting from the
coordinator pages (or ``prescreen studies publish``) without editing the sheet the ethics committee
approved. ``published_at`` marks the first time volunteers were told about it.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    """Create ``study_states``: one row per study whose status was set in the app."""
    db.execute(
        """
        CREATE TABLE study_states (
            study_id TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('recruiting', 'closed')),
            updated_at TEXT NOT NULL,
            updated_by TEXT,
            published_at TEXT
        )
        """
    )

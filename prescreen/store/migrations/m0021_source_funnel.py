"""The funnel per source (issue 19): which poster or group brought families, and how far they got.

- ``screening_log.source_id``: the source a screening started from, copied by the insert trigger.
  The log outlives the screening (purged after the retention period), so the funnel per source
  keeps counting as the whole funnel does.
- ``source_opens``: how many browsers opened each source's ``/q/`` link on each Beijing day. A
  count per day and nothing else: no address, no cookie, no time of day.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE screening_log ADD COLUMN source_id INTEGER",
    """
    UPDATE screening_log SET source_id = (SELECT source_id FROM screenings WHERE id = screening_log.screening_id)
    WHERE screening_id IS NOT NULL
    """,
    "DROP TRIGGER screening_log_insert",
    # As m0017's, plus the source id.
    """
    CREATE TRIGGER screening_log_insert AFTER INSERT ON screenings
    BEGIN
        UPDATE screening_log SET screening_id = NULL WHERE screening_id = NEW.id;
        INSERT INTO screening_log (screening_id, study_id, version, locale, respondent,
            status, outcome, failed, started_on, completed_on, source_id)
        VALUES (NEW.id, NEW.study_id, NEW.version, NEW.locale, NEW.respondent, NEW.status,
            NEW.outcome, COALESCE(NEW.failed, '[]'),
            COALESCE(date(NEW.created_at, '+8 hours'), substr(NEW.created_at, 1, 10)),
            COALESCE(date(NEW.completed_at, '+8 hours'), substr(NEW.completed_at, 1, 10)),
            NEW.source_id);
    END
    """,
    """
    CREATE TABLE source_opens (
        source_id INTEGER NOT NULL REFERENCES sources (id),
        day TEXT NOT NULL,
        opened INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (source_id, day)
    )
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Add the log's source column (filled for screenings still stored) and the daily open counts."""
    for statement in STATEMENTS:
        db.execute(statement)

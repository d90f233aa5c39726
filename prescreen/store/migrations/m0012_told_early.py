"""Told early: a family hears of a waiting period when it happens, and chooses how to go on.

When an answer makes the child not eligible for now (a waiting period with a date it may end),
the chat says so on the next screen, and the family chooses: see the result now, or answer the
rest so the team has the whole picture (STUDY-NOTES §4.2). ``screenings`` gains:

- ``early_told_at``: when the family was first told (UTC text; NULL: never);
- ``early_choice``: what they chose since they were last told: ``stopped`` (saw the result
  before the last questions: the screening is ``completed`` with the outcome of the answers
  given), ``continued`` (answered on, or came back to the rest after stopping), NULL (not chosen
  yet, or a changed answer ended the waiting period the choice was about);
- ``early_choice_at``: when they chose.

The de-identified log counts it either way, without any answer: ``screening_log.told_early``
(0 or 1, once told it stays) and ``early_choice`` (the latest choice made; a later NULL on the
screening never wipes it), kept in step by a trigger like the other log columns (m0004).
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE screenings ADD COLUMN early_told_at TEXT",
    "ALTER TABLE screenings ADD COLUMN early_choice TEXT CHECK (early_choice IN ('stopped', 'continued'))",
    "ALTER TABLE screenings ADD COLUMN early_choice_at TEXT",
    "ALTER TABLE screening_log ADD COLUMN told_early INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE screening_log ADD COLUMN early_choice TEXT",
    """
    CREATE TRIGGER screening_log_early AFTER UPDATE OF early_told_at, early_choice ON screenings
    BEGIN
        UPDATE screening_log SET
            told_early = MAX(told_early, NEW.early_told_at IS NOT NULL),
            early_choice = COALESCE(NEW.early_choice, early_choice)
        WHERE screening_id = NEW.id;
    END
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Add the told-early columns to screenings and the log, and the trigger that counts them."""
    for statement in STATEMENTS:
        db.execute(statement)

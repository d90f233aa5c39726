"""Visits and the checklist: the screening visit's time, the team's checks, the PI's sign-off.

- ``referrals.visit_time``: the time of the screening visit, ``HH:MM`` Beijing time, beside the
  existing ``visit_date`` (which stays the visit day, so every report reading it is unchanged).
  The day-before reminders are outbox rows (keys ``visit-reminder:<referral id>:...``), not
  columns: the outbox already sends, retries and cancels.
- ``checklist_marks``: a coordinator's check of one criterion the form could not settle
  ("confirm at the visit" or "needs review"): ``confirmed`` or ``not_met``, with its source
  (lab report, medical records, the family's report, other) and an optional short note. Rows are
  only added; the latest per criterion counts, the earlier ones are the history.
- ``eligibility_signoffs``: a PI's eligibility sign-off (who, when), withdrawn with a reason
  (who, when, why) rather than deleted, so the sheet and the audit agree.

Both tables are about one child's health: :func:`prescreen.store.referrals.erase_personal_data`
deletes their rows with the answers.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE referrals ADD COLUMN visit_time TEXT CHECK (visit_time IS NULL OR length(visit_time) = 5)",
    """
    CREATE TABLE checklist_marks (
        id INTEGER PRIMARY KEY,
        referral_id INTEGER NOT NULL REFERENCES referrals (id),
        criterion_id TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'not_met')),
        source TEXT NOT NULL CHECK (source IN ('lab_report', 'records', 'family', 'other')),
        note TEXT CHECK (note IS NULL OR length(note) <= 200),
        user_id INTEGER REFERENCES users (id),
        at TEXT NOT NULL
    )
    """,
    "CREATE INDEX checklist_marks_referral ON checklist_marks (referral_id, criterion_id, id)",
    """
    CREATE TABLE eligibility_signoffs (
        id INTEGER PRIMARY KEY,
        referral_id INTEGER NOT NULL REFERENCES referrals (id),
        user_id INTEGER REFERENCES users (id),
        signed_at TEXT NOT NULL,
        withdrawn_at TEXT,
        withdrawn_by INTEGER REFERENCES users (id),
        withdraw_reason TEXT CHECK (withdraw_reason IS NULL OR length(withdraw_reason) <= 500)
    )
    """,
    "CREATE INDEX eligibility_signoffs_referral ON eligibility_signoffs (referral_id, id)",
]


def up(db: sqlite_utils.Database) -> None:
    """Add the visit time, the checklist marks and the eligibility sign-offs."""
    for statement in STATEMENTS:
        db.execute(statement)

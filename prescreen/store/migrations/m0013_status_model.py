"""The referral status model a CRC can trust: drop-out kept apart from erasure, corrections with a reason.

- ``dropped_out`` is a new (closed) status: the family stopped taking part; everything is kept.
  ``withdrawn`` stays what it was: the family withdrew consent and their personal data is erased
  (only through its own confirmed form, never the status menu).
- ``referrals.consent_date`` (``YYYY-MM-DD``) and ``referrals.subject_id`` (the trial's own
  subject number, at most 40 characters): "enrolled" needs both.
- ``referrals.status_corrected_at``: when a coordinator last corrected the status by hand (a
  mistake fixed, a family reopened). The reason is in the audit row of that correction.
- ``contact_attempts.note``: a short free-text note on one attempt (at most 500 characters),
  team-only: never copied into the de-identified log, blanked when personal data is erased.

The de-identified log (m0004, m0011) counts milestones with ``MAX``: once "enrolled", always
enrolled. A correction must be able to take a mistaken milestone back, so a separate trigger
runs only when ``status_corrected_at`` changes and sets each milestone from the corrected status:
a step back to before the milestone clears it; a step sideways to a closed status keeps what was
reached. (It gives the same result whichever of the two status triggers SQLite runs first.)
The delete trigger learns that ``dropped_out`` is closed.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE referrals ADD COLUMN consent_date TEXT",
    "ALTER TABLE referrals ADD COLUMN subject_id TEXT CHECK (length(subject_id) <= 40)",
    "ALTER TABLE referrals ADD COLUMN status_corrected_at TEXT",
    "ALTER TABLE contact_attempts ADD COLUMN note TEXT CHECK (length(note) <= 500)",
    # CASE … THEN 1 ELSE 0: the 0/1 SQLite gives a comparison, written so PostgreSQL stores it too.
    """
    CREATE TRIGGER screening_log_referral_correction AFTER UPDATE OF status ON referrals
    WHEN NEW.status_corrected_at IS NOT OLD.status_corrected_at
    BEGIN
        UPDATE screening_log SET
            contacted = CASE WHEN NEW.status IN ('contacted', 'visit_scheduled', 'enrolled', 'result_explained',
                    'invited_to_screening')
                OR (contacted = 1 AND NEW.status NOT IN ('new', 'attempt_1', 'attempt_2', 'attempt_3',
                    'unreachable', 'in_review')) THEN 1 ELSE 0 END,
            visit_scheduled = CASE WHEN NEW.status IN ('visit_scheduled', 'enrolled')
                OR (visit_scheduled = 1 AND NEW.status IN ('screen_failed', 'not_interested', 'dropped_out',
                    'withdrawn')) THEN 1 ELSE 0 END,
            enrolled = CASE WHEN NEW.status = 'enrolled'
                OR (enrolled = 1 AND NEW.status IN ('dropped_out', 'withdrawn')) THEN 1 ELSE 0 END
        WHERE screening_id = NEW.screening_id;
    END
    """,
    "DROP TRIGGER screening_log_referral_delete",
    """
    CREATE TRIGGER screening_log_referral_delete AFTER DELETE ON referrals
    BEGIN
        UPDATE screening_log SET referral_status = 'withdrawn'
        WHERE screening_id = OLD.screening_id AND OLD.status NOT IN
            ('enrolled', 'screen_failed', 'not_interested', 'withdrawn', 'unreachable', 'result_explained',
             'dropped_out');
    END
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Add the enrolment, correction and attempt-note columns and the log's correction trigger."""
    for statement in STATEMENTS:
        db.execute(statement)

"""The de-identified log keeps Beijing days and the screen-fail criterion itself.

Why: the log (m0004) stored ``started_on``/``completed_on`` as the UTC date, cut from the stored
UTC text. The team works in Beijing time (China has no daylight saving, so Beijing is always UTC+8):
a family who screened at 01:30 Beijing time counted on the day before. The reports read the
Beijing day through the screening the row points at, but that link is gone once the retention
purge deletes a never-referred screening, and then the family moved back a day. Likewise the
screen-fail criterion the team chose after the visit was read from the referral, so it vanished
from the log if the referral row went.

This migration:

- recreates the two screening triggers of m0004 so they store Beijing days
  (``date(x, '+8 hours')``; a stored time that does not parse keeps its first ten characters, as
  before);
- back-fills the days from ``screenings.created_at``/``completed_at`` for every log row whose
  screening still exists (every referred family keeps its screening row, even erased);
- adds ``screening_log.screen_fail_criterion`` (a criterion code, not personal data: no eraser
  touches it), filled now from the referrals and kept by triggers whenever a referral gets one.

What cannot be recovered: a log row whose screening is already gone (deleted by the purge before
this migration) holds only its UTC days and no time of day, so nothing tells whether it happened
between 00:00 and 08:00 Beijing time (one day later in Beijing) or not. Those rows keep their UTC
day, which may be one day early; they are old (past the retention period) and few. Their
``screen_fail_criterion`` stays empty only if the referral itself was deleted before this
migration, which a closed screen-fail referral never is (the withdraw link deletes open ones only).
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE screening_log ADD COLUMN screen_fail_criterion TEXT",
    # Back-fill: Beijing days wherever the screening row still exists.
    """
    UPDATE screening_log SET
        started_on = COALESCE(
            (SELECT date(s.created_at, '+8 hours') FROM screenings s WHERE s.id = screening_log.screening_id),
            started_on),
        completed_on = COALESCE(
            (SELECT date(s.completed_at, '+8 hours') FROM screenings s WHERE s.id = screening_log.screening_id),
            completed_on)
    WHERE screening_id IN (SELECT id FROM screenings)
    """,
    """
    UPDATE screening_log SET screen_fail_criterion = (
        SELECT r.screen_fail_criterion FROM referrals r WHERE r.screening_id = screening_log.screening_id)
    WHERE screening_id IN (SELECT screening_id FROM referrals WHERE screen_fail_criterion IS NOT NULL)
    """,
    "DROP TRIGGER screening_log_insert",
    # A stored UTC text as its Beijing day; text that is not a time keeps its date part.
    """
    CREATE TRIGGER screening_log_insert AFTER INSERT ON screenings
    BEGIN
        UPDATE screening_log SET screening_id = NULL WHERE screening_id = NEW.id;
        INSERT INTO screening_log (screening_id, study_id, version, locale, respondent,
            status, outcome, failed, started_on, completed_on)
        VALUES (NEW.id, NEW.study_id, NEW.version, NEW.locale, NEW.respondent, NEW.status,
            NEW.outcome, COALESCE(NEW.failed, '[]'),
            COALESCE(date(NEW.created_at, '+8 hours'), substr(NEW.created_at, 1, 10)),
            COALESCE(date(NEW.completed_at, '+8 hours'), substr(NEW.completed_at, 1, 10)));
    END
    """,
    # As in m0004: a withdrawal blanks the answers but the outcome stays; never copy NULLs over.
    "DROP TRIGGER screening_log_update",
    """
    CREATE TRIGGER screening_log_update AFTER UPDATE ON screenings
    BEGIN
        UPDATE screening_log SET
            version = NEW.version,
            locale = NEW.locale,
            respondent = COALESCE(NEW.respondent, respondent),
            status = NEW.status,
            outcome = COALESCE(NEW.outcome, outcome),
            failed = COALESCE(NEW.failed, failed),
            completed_on = COALESCE(date(NEW.completed_at, '+8 hours'), substr(NEW.completed_at, 1, 10),
                completed_on)
        WHERE screening_id = NEW.id;
    END
    """,
    # The criterion is kept once chosen (the referral keeps it too; a NULL never wipes it here).
    """
    CREATE TRIGGER screening_log_screen_fail_insert AFTER INSERT ON referrals
    WHEN NEW.screen_fail_criterion IS NOT NULL
    BEGIN
        UPDATE screening_log SET screen_fail_criterion = NEW.screen_fail_criterion
        WHERE screening_id = NEW.screening_id;
    END
    """,
    """
    CREATE TRIGGER screening_log_screen_fail AFTER UPDATE OF screen_fail_criterion ON referrals
    WHEN NEW.screen_fail_criterion IS NOT NULL
    BEGIN
        UPDATE screening_log SET screen_fail_criterion = NEW.screen_fail_criterion
        WHERE screening_id = NEW.screening_id;
    END
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Store Beijing days in the log, back-fill them, and keep the screen-fail criterion in it."""
    for statement in STATEMENTS:
        db.execute(statement)

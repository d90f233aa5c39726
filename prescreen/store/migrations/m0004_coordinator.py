"""Coordinator area: server-side staff sessions, the de-identified pre-screening log, closed dates.

Why a separate ``screening_log`` table, filled by triggers:
the pre-screening log (ICH E6 8.3.20) and the funnel must keep counting a screening after its
answers and contact details are gone (a family's withdrawal, the retention purge). So every
screening gets one log row holding only codes and dates — study, questionnaire version, language,
respondent role, outcome, failed criterion ids, referral status and the funnel milestones — and
no answer, name, phone, e-mail, WeChat id or free text. The row points at its screening by id but
has no foreign key, so deleting the screening leaves it in place (only the link is cleared).
Triggers (not application code) keep it in step, so it stays right whichever area writes
screenings and referrals, and no write path can forget it. Dates are days, not timestamps, to
make re-identification harder.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    """
    CREATE TABLE staff_sessions (
        id_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX staff_sessions_user ON staff_sessions (user_id)",
    "ALTER TABLE referrals ADD COLUMN closed_at TEXT",
    # When `prescreen purge` erased a closed referral's personal data (the row itself stays).
    "ALTER TABLE referrals ADD COLUMN purged_at TEXT",
    # When the last login attempt was counted (see store.users.reserve_attempt).
    "ALTER TABLE users ADD COLUMN attempt_at TEXT",
    "CREATE INDEX referrals_created ON referrals (created_at)",
    """
    CREATE TABLE screening_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        screening_id INTEGER UNIQUE,
        study_id TEXT NOT NULL,
        version TEXT NOT NULL,
        locale TEXT NOT NULL,
        respondent TEXT,
        status TEXT NOT NULL,
        outcome TEXT,
        failed TEXT NOT NULL DEFAULT '[]',
        started_on TEXT NOT NULL,
        completed_on TEXT,
        referred INTEGER NOT NULL DEFAULT 0,
        referral_status TEXT,
        contacted INTEGER NOT NULL DEFAULT 0,
        visit_scheduled INTEGER NOT NULL DEFAULT 0,
        enrolled INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX screening_log_study ON screening_log (study_id, started_on)",
    # Existing screenings (a database created before this migration) get their rows now.
    """
    INSERT INTO screening_log (screening_id, study_id, version, locale, respondent, status, outcome,
        failed, started_on, completed_on)
    SELECT id, study_id, version, locale, respondent, status, outcome, COALESCE(failed, '[]'),
        substr(created_at, 1, 10), substr(completed_at, 1, 10)
    FROM screenings
    """,
    """
    CREATE TRIGGER screening_log_insert AFTER INSERT ON screenings
    BEGIN
        UPDATE screening_log SET screening_id = NULL WHERE screening_id = NEW.id;
        INSERT INTO screening_log (screening_id, study_id, version, locale, respondent,
            status, outcome, failed, started_on, completed_on)
        VALUES (NEW.id, NEW.study_id, NEW.version, NEW.locale, NEW.respondent, NEW.status,
            NEW.outcome, COALESCE(NEW.failed, '[]'), substr(NEW.created_at, 1, 10),
            substr(NEW.completed_at, 1, 10));
    END
    """,
    # A withdrawal blanks the answers but the outcome stays what it was; never copy NULLs over.
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
            completed_on = COALESCE(substr(NEW.completed_at, 1, 10), completed_on)
        WHERE screening_id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER screening_log_referral_insert AFTER INSERT ON referrals
    BEGIN
        UPDATE screening_log SET referred = 1, referral_status = NEW.status
        WHERE screening_id = NEW.screening_id;
    END
    """,
    """
    CREATE TRIGGER screening_log_referral_status AFTER UPDATE OF status ON referrals
    BEGIN
        UPDATE screening_log SET
            referral_status = NEW.status,
            contacted = MAX(contacted, NEW.status IN ('contacted', 'visit_scheduled', 'enrolled')),
            visit_scheduled = MAX(visit_scheduled, NEW.status IN ('visit_scheduled', 'enrolled')),
            enrolled = MAX(enrolled, NEW.status = 'enrolled')
        WHERE screening_id = NEW.screening_id;
    END
    """,
    # A deleted screening's row stays but loses its link: SQLite may hand the same id to the next
    # screening (no AUTOINCREMENT on screenings), which must get a row of its own.
    """
    CREATE TRIGGER screening_log_screening_delete AFTER DELETE ON screenings
    BEGIN
        UPDATE screening_log SET screening_id = NULL WHERE screening_id = OLD.id;
    END
    """,
    # Deleted by the family's withdraw link while still open: the log says "withdrawn".
    """
    CREATE TRIGGER screening_log_referral_delete AFTER DELETE ON referrals
    BEGIN
        UPDATE screening_log SET referral_status = 'withdrawn'
        WHERE screening_id = OLD.screening_id AND OLD.status NOT IN
            ('enrolled', 'screen_failed', 'not_interested', 'withdrawn', 'unreachable');
    END
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Create the coordinator tables and triggers; runs inside the runner's transaction."""
    for statement in STATEMENTS:
        db.execute(statement)

"""Review requests: a family asks a person on the study team to check an automated result.

Under PIPL art. 24 a person may refuse a decision made solely by automated means and ask for an
explanation, and the study team wants to hear from families the form turned away. A review
request is a referral of another ``kind`` (same consents, contact details, queue and eraser), so
``referrals`` gains:

- ``kind``: ``referral`` (the family sent their details after a hopeful result) or ``review``
  (they asked a person to check the result, whatever it was);
- ``family_words``: why the family thinks the child may qualify, in their own words (optional,
  at most 1000 characters). It is health data: erased with the contact details, never logged,
  never in an e-mail.

The de-identified log gains ``referral_kind`` (a code, never the words), so the log and the
funnel can count review requests after the referral itself is erased. The referral triggers of
m0004 are replaced: the insert one copies the kind, and the status ones learn the review
statuses (``result_explained`` and ``invited_to_screening`` mean a person reached the family;
``result_explained`` is a closed status).
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE referrals ADD COLUMN kind TEXT NOT NULL DEFAULT 'referral' CHECK (kind IN ('referral', 'review'))",
    "ALTER TABLE referrals ADD COLUMN family_words TEXT CHECK (length(family_words) <= 1000)",
    "ALTER TABLE screening_log ADD COLUMN referral_kind TEXT",
    "UPDATE screening_log SET referral_kind = 'referral' WHERE referred = 1",
    "DROP TRIGGER screening_log_referral_insert",
    """
    CREATE TRIGGER screening_log_referral_insert AFTER INSERT ON referrals
    BEGIN
        UPDATE screening_log SET referred = 1, referral_status = NEW.status, referral_kind = NEW.kind
        WHERE screening_id = NEW.screening_id;
    END
    """,
    "DROP TRIGGER screening_log_referral_status",
    """
    CREATE TRIGGER screening_log_referral_status AFTER UPDATE OF status ON referrals
    BEGIN
        UPDATE screening_log SET
            referral_status = NEW.status,
            contacted = MAX(contacted, NEW.status IN
                ('contacted', 'visit_scheduled', 'enrolled', 'result_explained', 'invited_to_screening')),
            visit_scheduled = MAX(visit_scheduled, NEW.status IN ('visit_scheduled', 'enrolled')),
            enrolled = MAX(enrolled, NEW.status = 'enrolled')
        WHERE screening_id = NEW.screening_id;
    END
    """,
    "DROP TRIGGER screening_log_referral_delete",
    # The closed statuses as ``store.referrals.CLOSED`` has them now (a migration never changes).
    """
    CREATE TRIGGER screening_log_referral_delete AFTER DELETE ON referrals
    BEGIN
        UPDATE screening_log SET referral_status = 'withdrawn'
        WHERE screening_id = OLD.screening_id AND OLD.status NOT IN
            ('enrolled', 'screen_failed', 'not_interested', 'withdrawn', 'unreachable', 'result_explained');
    END
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Add the kind and the family's words to referrals, the kind to the log; renew the referral triggers."""
    for statement in STATEMENTS:
        db.execute(statement)

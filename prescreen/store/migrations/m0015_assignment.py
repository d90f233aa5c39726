"""Assignment: which coordinator is working a family on the 待联系名单.

``referrals.assigned_to`` is a staff account's id, or NULL for nobody yet. A family is never
owned by one person only (every coordinator of the study still sees it); the column lets a CRC
filter "assigned to me" and split a long queue between colleagues. Every change is audited
(``referral.assign``) with the old and new account ids, never an e-mail address.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE referrals ADD COLUMN assigned_to INTEGER REFERENCES users(id)",
    "CREATE INDEX referrals_assigned_to ON referrals(assigned_to)",
]


def up(db: sqlite_utils.Database) -> None:
    """Add the assignment column and its index."""
    for statement in STATEMENTS:
        db.execute(statement)

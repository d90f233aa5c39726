"""The chat's own state on a screening: which earlier answer is being changed, and a one-off notice.

Both live in the database rather than in a URL or the session cookie, so neither a question id
(which can reveal an earlier answer, e.g. "last rituximab dose") nor a result ever appears in a
URL, a log line or a decoded cookie.

``referrals.relationship`` (mother / father / guardian / self) is the "guardian identity" the
referral form asks for: for a child under 14 only a parent or guardian may send details
(PIPL art. 31).
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    """Add ``screenings.editing``, ``screenings.notice`` and ``referrals.relationship``."""
    db.execute("ALTER TABLE screenings ADD COLUMN editing TEXT")
    db.execute("ALTER TABLE screenings ADD COLUMN notice TEXT")
    db.execute("ALTER TABLE referrals ADD COLUMN relationship TEXT")

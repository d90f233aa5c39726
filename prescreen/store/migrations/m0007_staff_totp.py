"""Second factor for staff: a TOTP secret per account and the last time step used.

``totp_secret`` is the base32 secret an authenticator app was given at ``prescreen users totp``;
NULL means none is enrolled. ``totp_last_step`` is the 30-second step of the last code accepted:
a code is taken only for a later step, so a code read over a shoulder (or from a proxy log) cannot
be used again, not even within its own 30 seconds.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE users ADD COLUMN totp_secret TEXT",
    "ALTER TABLE users ADD COLUMN totp_last_step INTEGER",
]


def up(db: sqlite_utils.Database) -> None:
    """Add the TOTP columns to ``users``."""
    for statement in STATEMENTS:
        db.execute(statement)

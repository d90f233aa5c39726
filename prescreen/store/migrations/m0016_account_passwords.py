"""Accounts managed in the web UI: a one-time password the person must replace at first sign-in.

An admin who creates an account or resets a password in the app never chooses the password: the
app makes a random one, shows it once to hand over in person or by phone (never by e-mail), and
stores only its hash. ``users`` gains:

- ``must_change_password``: 1 while the password is such a one-time password; signing in with it
  leads straight to choosing a new one (the session starts only after that);
- ``password_expires_at``: when a one-time password stops working (UTC text; NULL: never).
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE users ADD COLUMN password_expires_at TEXT",
]


def up(db: sqlite_utils.Database) -> None:
    """Add the one-time password columns to ``users``."""
    for statement in STATEMENTS:
        db.execute(statement)

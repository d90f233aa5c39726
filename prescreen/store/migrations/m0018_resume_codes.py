"""Short resume codes: a family carries 8 characters and a birth month instead of a long link.

Families move between WeChat and a browser, and a long link is hard to carry across. Each
screening (once its birth month is answered) can show a short code; typing it at ``/resume``
with the birth month continues the screening on the new device, like the resume link.

- ``resume_codes``: one row per screening. ``code_hash`` is a keyed hash of the code (never the
  code: 8 characters are only 40 bits, so an unkeyed hash in a copied database could be reversed
  by trying them all). ``wrong_months`` counts wrong birth months; at 5 the code is dead. The row
  goes when the screening moves (link or code) or is deleted (``ON DELETE CASCADE``); it expires
  with the screening (``screenings.expires_at``).
- ``resume_code_refusals``: how many attempts were refused, per Beijing day and reason (unknown
  code, expired, wrong month, dead code): counts only, no code and no answer.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    """
    CREATE TABLE resume_codes (
        screening_id INTEGER PRIMARY KEY REFERENCES screenings (id) ON DELETE CASCADE,
        code_hash TEXT NOT NULL UNIQUE,
        wrong_months INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE resume_code_refusals (
        day TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, reason)
    )
    """,
]


def up(db: sqlite_utils.Database) -> None:
    """Create the resume-code and refusal-count tables."""
    for statement in STATEMENTS:
        db.execute(statement)

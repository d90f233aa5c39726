"""Count sign-up e-mails per mailbox, not per spelling of an address.

``Parent@Example.com``, ``parent+1@example.com`` and, at Gmail, ``p.arent@googlemail.com`` all
reach one inbox; a stranger typing a dozen spellings into the sign-up form must not be able to
send it a dozen e-mails, nor mail again an inbox whose owner unsubscribed under another spelling.
``volunteers.mailbox_key`` is a SHA-256 of the normalised mailbox (see
:func:`prescreen.store.volunteers.mailbox`); the address itself stays as typed in ``email``.
``mailbox_sends`` records when a sign-up form caused an e-mail to a mailbox, by that hash only,
and is swept as its rows leave the counting window.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE volunteers ADD COLUMN mailbox_key TEXT",
    "CREATE INDEX volunteers_mailbox_key ON volunteers (mailbox_key, status)",
    """
    CREATE TABLE mailbox_sends (
        id INTEGER PRIMARY KEY,
        mailbox_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        sent_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX mailbox_sends_key ON mailbox_sends (mailbox_key, sent_at)",
]


def up(db: sqlite_utils.Database) -> None:
    """Add ``volunteers.mailbox_key`` (filled in for existing rows) and the ``mailbox_sends`` table."""
    from ..volunteers import mailbox_key  # the one definition of a mailbox, also used for new rows

    for statement in STATEMENTS:
        db.execute(statement)
    for volunteer_id, email in db.execute("SELECT id, email FROM volunteers").fetchall():
        db.execute("UPDATE volunteers SET mailbox_key = ? WHERE id = ?", [mailbox_key(email), volunteer_id])

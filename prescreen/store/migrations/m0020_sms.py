"""The outbox gains a channel: ``email`` (every row so far) or ``sms`` (issue 19: SMS, phone first).

An SMS row goes through the same claim, retry, idempotency and retention as an e-mail; only
what it holds differs: ``to_addr`` is a mainland mobile in E.164 (+8613800138000), ``subject``
the template's key (``recheck-reminder``, ``referral-receipt``), ``headers`` the template's
parameters as JSON, and ``body_text`` stays empty: the text is the provider's approved template,
never free text (see :mod:`prescreen.mail.sms`). Every place that blanks a finished or cancelled
row's address, body and headers therefore blanks an SMS's number and parameters too.
"""

from __future__ import annotations

import sqlite_utils

STATEMENTS = [
    "ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms'))",
]


def up(db: sqlite_utils.Database) -> None:
    """Add ``outbox.channel`` (existing rows are e-mails)."""
    for statement in STATEMENTS:
        db.execute(statement)

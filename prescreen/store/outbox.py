"""The outbox: every e-mail is a row written in the same transaction as the change causing it.

A crash can then never lose a message or send one for a change that rolled back; the sender
(``prescreen mail send``) delivers rows later. The idempotency key, derived from the message's
meaning (kind + recipient + subject matter), makes a repeated action queue nothing new.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from . import transaction, utcnow


def enqueue(
    db: sqlite_utils.Database,
    *,
    key: str,
    kind: str,
    to_addr: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    headers: dict[str, Any] | None = None,
) -> bool:
    """Queue one e-mail unless a row with ``key`` exists; returns whether it was queued.

    Joins the caller's transaction when there is one (the normal case).
    """
    row = {
        "idempotency_key": key,
        "kind": kind,
        "to_addr": to_addr,
        "locale": locale,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers": json.dumps(headers or {}, ensure_ascii=False, sort_keys=True),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    }
    sql = (
        "INSERT INTO outbox (idempotency_key, kind, to_addr, locale, subject, body_text, body_html, "
        "headers, status, attempts, next_attempt_at, created_at) VALUES "
        "(:idempotency_key, :kind, :to_addr, :locale, :subject, :body_text, :body_html, :headers, "
        ":status, :attempts, :next_attempt_at, :created_at) ON CONFLICT (idempotency_key) DO NOTHING"
    )
    if db.conn.in_transaction:
        return db.execute(sql, row).rowcount == 1
    with transaction(db):
        return db.execute(sql, row).rowcount == 1

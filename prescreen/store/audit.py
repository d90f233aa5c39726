"""Append-only audit trail: who did what to which record, never the personal values."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from . import transaction, utcnow


def record(
    db: sqlite_utils.Database,
    actor: str,
    action: str,
    record_type: str,
    record_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one audit row and return its id.

    Callers already inside :func:`prescreen.store.transaction` join that
    transaction (so the audit row commits or rolls back with the change it
    describes); otherwise the row gets its own. *detail* must hold ids and
    codes only, never a name, phone number or answer.
    """
    row = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "record_type": record_type,
        "record_id": None if record_id is None else str(record_id),
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
    }
    if db.conn.in_transaction:
        return db.table("audit").insert(row).last_pk
    with transaction(db):
        return db.table("audit").insert(row).last_pk

"""Append-only audit trail: who did what to which record, never the personal values.

Triggers refuse UPDATE and DELETE, but whoever holds the database file can drop a trigger. So
every row is also chained to the one before it: ``hash`` is the SHA-256 of the previous row's
hash and this row's own fields (:func:`row_hash`), computed inside the writer's transaction. An
edited, removed or slipped-in row breaks the chain at that point, and ``prescreen audit verify``
names the first row where it breaks. What the chain cannot show on its own is a trail rewritten
consistently from some row to the end (hashes recomputed); the head hash that ``verify`` prints,
kept somewhere the database's holder cannot change, catches that (``verify --head``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import click
import sqlite_utils
from flask import current_app
from flask.cli import AppGroup

from .. import clock
from . import connect, transaction

#: The ``prev_hash`` of the very first row.
GENESIS = "0" * 64
#: The fields a row's hash covers, in order (``prev_hash`` is hashed in front of them).
FIELDS = ("id", "at", "actor", "action", "record_type", "record_id", "detail")
#: Actions that erase personal data (as does any with ``"erased": true`` in its detail): the
#: transaction they commit with is followed by a WAL checkpoint (see store.transaction).
ERASURES = frozenset({"referral.withdraw", "screening.delete", "purge", "volunteer.purge_unconfirmed"})


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """SHA-256 (hex) of *prev_hash* and the row's :data:`FIELDS` as compact JSON.

    JSON makes the encoding unambiguous (no field can run into the next), and the row's id is
    included, so a row cannot be moved to another place in the trail either.
    """
    fields = json.dumps([row[name] for name in FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{fields}".encode()).hexdigest()


def record(
    db: sqlite_utils.Database,
    actor: str,
    action: str,
    record_type: str,
    record_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one audit row, chained to the last one, and return its id.

    Callers already inside :func:`prescreen.store.transaction` join that
    transaction (so the audit row commits or rolls back with the change it
    describes); otherwise the row gets its own. *detail* must hold ids and
    codes only, never a name, phone number or answer.
    """
    row = {
        "at": clock.utc_text(),
        "actor": actor,
        "action": action,
        "record_type": record_type,
        "record_id": None if record_id is None else str(record_id),
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
    }
    if action in ERASURES or (detail or {}).get("erased"):
        db.checkpoint_due = True  # type: ignore[attr-defined]
    with transaction(db):
        return _append(db, row)


def _append(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """Insert *row* after the last one; the caller's ``BEGIN IMMEDIATE`` holds the write lock, so
    nobody else can append between reading the last hash and inserting."""
    last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    row["id"] = last[0] + 1 if last else 1
    row["prev_hash"] = (last[1] or "") if last else GENESIS
    row["hash"] = row_hash(row["prev_hash"], row)
    db.execute(
        "INSERT INTO audit (id, at, actor, action, record_type, record_id, detail, prev_hash, hash) "
        "VALUES (:id, :at, :actor, :action, :record_type, :record_id, :detail, :prev_hash, :hash)",
        row,
    )
    return int(row["id"])


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: rows checked, the head, and the first broken row (if any)."""

    rows: int
    head_id: int | None
    head_hash: str
    broken_id: int | None = None
    reason: str = ""
    head_seen: bool | None = None  # whether an expected head hash was found in the chain


def verify(db: sqlite_utils.Database, expected_head: str | None = None) -> Verdict:
    """Walk the trail from the first row and stop at the first row whose chain is broken.

    A row is broken when its ``prev_hash`` is not the previous row's hash (a row was removed or
    slipped in before it, or the previous row's hash was rewritten), or when its own hash does not
    match its fields (the row was edited, or forged without knowing the chain). *expected_head*,
    a head hash printed by an earlier run and kept elsewhere, must appear on some row.
    """
    prev = GENESIS
    count = 0
    head_id: int | None = None
    seen = None if expected_head is None else False
    cursor = db.execute(
        "SELECT id, at, actor, action, record_type, record_id, detail, prev_hash, hash FROM audit ORDER BY id"
    )
    for raw in cursor:
        row = dict(zip((*FIELDS, "prev_hash", "hash"), raw, strict=True))
        if row["prev_hash"] != prev:
            where = f"row {head_id}" if head_id is not None else "the start of the trail"
            return Verdict(count, head_id, prev, row["id"], f"prev_hash does not match {where}")
        if row["hash"] != row_hash(prev, row):
            return Verdict(count, head_id, prev, row["id"], "hash does not match the row's contents")
        prev, head_id, count = row["hash"], row["id"], count + 1
        if expected_head is not None and prev == expected_head:
            seen = True
    return Verdict(count, head_id, prev, head_seen=seen)


@click.group("audit", cls=AppGroup)
def audit_cli() -> None:
    """Check the audit trail."""


@audit_cli.command("verify")
@click.option(
    "--head", "expected_head", metavar="HASH", help="a head hash printed by an earlier run: it must still be there"
)
def verify_command(expected_head: str | None) -> None:
    """Check every audit row's hash chain; print the head hash, or the first broken row (exit 1).

    Keep the printed head hash somewhere the database's holder cannot change it (a ticket, an
    e-mail to the data protection officer): a trail rewritten from some row on, with fresh
    hashes, no longer contains it.
    """
    db = connect(current_app.config["DATABASE"])
    try:
        verdict = verify(db, expected_head)
    finally:
        db.close()
    if verdict.broken_id is not None:
        click.echo(f"broken at row {verdict.broken_id}: {verdict.reason} ({verdict.rows} rows before it are intact)")
        raise SystemExit(1)
    if verdict.head_seen is False:
        click.echo(f"broken: no row has the head hash {expected_head} (the trail was rewritten after it)")
        raise SystemExit(1)
    click.echo(f"ok: {verdict.rows} rows")
    if verdict.head_id is not None:
        click.echo(f"head: row {verdict.head_id} {verdict.head_hash}")

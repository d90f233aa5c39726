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
from . import NO_LIMIT, connect, transaction

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


# -- reading the trail (the audit trail page and its CSV) ------------------------------------
#
# One whole statement with optional filters: the actor (``user:3``, ``family`` …), a referral by
# its reference code (its own rows, and the exports that held it), and Beijing days given as UTC
# bounds by the caller. Every row comes with the actor's e-mail and the referral's reference.
_TRAIL = """
    SELECT a.id, a.at, a.actor, a.action, a.record_type, a.record_id, a.detail, u.email AS actor_email,
        r.reference, ru.email AS record_email
    FROM audit a
    LEFT JOIN users u ON a.actor = 'user:' || u.id
    LEFT JOIN users ru ON a.record_type = 'user' AND a.record_id = CAST(ru.id AS TEXT)
    LEFT JOIN referrals r ON a.record_type = 'referral' AND a.record_id = CAST(r.id AS TEXT)
    WHERE (:actor IS NULL OR a.actor = :actor)
    AND (:since IS NULL OR a.at >= :since) AND (:until IS NULL OR a.at < :until)
    AND (:actions IS NULL OR a.action IN (SELECT value FROM json_each(:actions)))
    AND (:skip IS NULL OR a.action NOT IN (SELECT value FROM json_each(:skip)))
    AND (:reference IS NULL OR (a.record_type = 'referral' AND a.record_id IN
            (SELECT CAST(id AS TEXT) FROM referrals WHERE reference = :reference))
        OR (a.action = 'export.identified' AND json_valid(a.detail) AND EXISTS (
            SELECT 1 FROM json_each(a.detail, '$.referrals') j
            WHERE CAST(j.value AS TEXT) IN (SELECT CAST(id AS TEXT) FROM referrals WHERE reference = :reference))))
    ORDER BY a.id DESC LIMIT :limit OFFSET :offset
"""
_TRAIL_COUNT = """
    SELECT count(*) FROM audit a
    WHERE (:actor IS NULL OR a.actor = :actor)
    AND (:since IS NULL OR a.at >= :since) AND (:until IS NULL OR a.at < :until)
    AND (:actions IS NULL OR a.action IN (SELECT value FROM json_each(:actions)))
    AND (:skip IS NULL OR a.action NOT IN (SELECT value FROM json_each(:skip)))
    AND (:reference IS NULL OR (a.record_type = 'referral' AND a.record_id IN
            (SELECT CAST(id AS TEXT) FROM referrals WHERE reference = :reference))
        OR (a.action = 'export.identified' AND json_valid(a.detail) AND EXISTS (
            SELECT 1 FROM json_each(a.detail, '$.referrals') j
            WHERE CAST(j.value AS TEXT) IN (SELECT CAST(id AS TEXT) FROM referrals WHERE reference = :reference))))
"""


def trail(
    db: sqlite_utils.Database,
    *,
    actor: str | None = None,
    reference: str | None = None,
    since: str | None = None,
    until: str | None = None,
    actions: list[str] | None = None,
    skip: list[str] | None = None,
    limit: int = -1,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the trail, newest first, and how many rows match (*since*/*until*: stored UTC text;
    *actions*: only these actions; *skip*: all but these, so the many "viewed" rows can be hidden)."""
    params = {
        "actor": actor,
        "reference": reference,
        "since": since,
        "until": until,
        "actions": None if actions is None else json.dumps(actions),
        "skip": None if skip is None else json.dumps(skip),
    }
    total = db.execute(_TRAIL_COUNT, params).fetchone()[0]
    rows = list(db.query(_TRAIL, {**params, "limit": limit if limit >= 0 else NO_LIMIT, "offset": offset}))
    for row in rows:
        try:
            row["detail"] = json.loads(row["detail"]) if row["detail"] else {}
        except ValueError:
            row["detail"] = {}
    return rows, total


def actors(db: sqlite_utils.Database) -> list[tuple[str, str | None]]:
    """Everyone who appears in the trail, as (actor, the account's e-mail or None), for the filter."""
    return [
        (actor, email)
        for actor, email in db.execute(
            "SELECT actor, email FROM (SELECT DISTINCT a.actor, u.email FROM audit a "
            "LEFT JOIN users u ON a.actor = 'user:' || u.id) AS seen ORDER BY email IS NULL, email, actor"
        ).fetchall()
    ]


def references_of(db: sqlite_utils.Database, referral_ids: list[int]) -> dict[int, str]:
    """Reference codes of *referral_ids* (for an export row that lists the families it held)."""
    return {
        int(rid): ref
        for rid, ref in db.execute(
            "SELECT id, reference FROM referrals WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([int(i) for i in referral_ids])],
        ).fetchall()
    }


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


def emails_of(db: sqlite_utils.Database, user_ids: list[int]) -> dict[int, str]:
    """Staff e-mails of *user_ids* (an assignment's audit row names accounts by id)."""
    return {
        int(uid): email
        for uid, email in db.execute(
            "SELECT id, email FROM users WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(user_ids)]
        ).fetchall()
    }

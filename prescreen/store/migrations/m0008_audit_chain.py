"""Audit hash chain, and the reason a referral was closed.

``audit.prev_hash`` / ``audit.hash`` chain every audit row to the one before it (see
:mod:`prescreen.store.audit`). Rows written before this migration are chained here, in id order,
so ``prescreen audit verify`` checks the whole trail from its first row.

Why in place, not in a side table: the chain has to live in the rows it protects, so that
whoever copies or restores the table copies the chain with it, and one query reads both. The
trigger that refuses UPDATE is dropped for the length of this migration and created again,
unchanged, before it ends; the migration runs inside one ``BEGIN IMMEDIATE`` transaction, so no
other connection ever sees the table without its trigger, and a failure leaves everything as it
was.

``referrals.closed_reason``: ``retention`` when ``prescreen purge`` closed an open referral that
had no activity for ``RETENTION_OPEN_REFERRAL_DAYS`` and erased its contact details; the family's
page shows why it was closed.
"""

from __future__ import annotations

import sqlite_utils

from ..audit import FIELDS, GENESIS, row_hash

NO_UPDATE = """
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
"""


def up(db: sqlite_utils.Database) -> None:
    """Add the chain columns, chain the existing rows, add ``referrals.closed_reason``."""
    db.execute("ALTER TABLE audit ADD COLUMN prev_hash TEXT")
    db.execute("ALTER TABLE audit ADD COLUMN hash TEXT")
    db.execute("ALTER TABLE referrals ADD COLUMN closed_reason TEXT")
    db.execute("DROP TRIGGER audit_no_update")
    prev = GENESIS
    rows = db.execute("SELECT id, at, actor, action, record_type, record_id, detail FROM audit ORDER BY id").fetchall()
    for raw in rows:
        row = dict(zip(FIELDS, raw, strict=True))
        digest = row_hash(prev, row)
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev, digest, row["id"]])
        prev = digest
    db.execute(NO_UPDATE)

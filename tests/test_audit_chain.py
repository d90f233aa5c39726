"""The audit trail's hash chain: ``prescreen audit verify`` finds the first row someone tampered with.

The attacker here holds the database file and uses plain sqlite3: drops the triggers that
forbid UPDATE and DELETE, then edits, deletes or slips in rows.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask

from prescreen.store import INTEGRITY_ERRORS, audit, connect, migrate, migration_modules, transaction
from tests.helpers.public import raw_connection


def fill(app: Flask, n: int = 5) -> None:
    db = connect(app.config["DATABASE"])
    try:
        for i in range(n):
            audit.record(db, f"user:{i}", "referral.status", "referral", i, {"from": "new", "to": "contacted"})
    finally:
        db.close()


def tamper(app: Flask, *statements: str) -> None:
    """What someone holding the file can do without the app: drop the triggers, then write."""
    raw = raw_connection(app, autocommit=True)
    try:
        raw.execute("DROP TRIGGER IF EXISTS audit_no_update")
        raw.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for sql in statements:
            raw.execute(sql)
    finally:
        raw.close()


def verify(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify", *args])
    return result.exit_code, result.output


def test_an_untouched_trail_verifies_and_prints_its_head(app: Flask) -> None:
    fill(app)
    code, output = verify(app)
    assert code == 0, output
    assert "ok: 5 rows" in output
    db = connect(app.config["DATABASE"])
    head = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()[0]
    db.close()
    assert f"head: row 5 {head}" in output
    assert verify(app, "--head", head)[0] == 0


def test_an_empty_trail_verifies(app: Flask) -> None:
    code, output = verify(app)
    assert (code, output) == (0, "ok: 0 rows\n")


def test_a_forged_row_inserted_by_hand_is_reported_at_its_row(app: Flask) -> None:
    fill(app)
    tamper(
        app,
        "INSERT INTO audit (id, at, actor, action, record_type, record_id, prev_hash, hash) "
        "VALUES (6, '2026-01-01T00:00:00Z', 'user:9', 'referral.view_contact', 'referral', '3', "
        "(SELECT hash FROM audit WHERE id = 5), (SELECT hash FROM audit WHERE id = 5))",
    )
    code, output = verify(app)
    assert code == 1
    assert "broken at row 6" in output and "5 rows before it are intact" in output


def test_an_edited_row_is_reported_at_that_row(app: Flask) -> None:
    fill(app)
    tamper(app, "UPDATE audit SET actor = 'user:4' WHERE id = 3")
    code, output = verify(app)
    assert code == 1
    assert "broken at row 3" in output and "contents" in output


def test_a_row_deleted_from_the_middle_is_reported_at_the_row_after_it(app: Flask) -> None:
    fill(app)
    tamper(app, "DELETE FROM audit WHERE id = 3")
    code, output = verify(app)
    assert code == 1
    assert "broken at row 4" in output and "row 2" in output


def test_a_trail_rewritten_from_some_row_on_misses_the_head_kept_elsewhere(app: Flask) -> None:
    """A consistent rewrite passes the chain check; the exported head hash catches it."""
    fill(app)
    _, output = verify(app)
    kept = output.split()[-1]  # the head hash, e.g. mailed to the data protection officer
    db = connect(app.config["DATABASE"])
    rows = list(db.query("SELECT * FROM audit WHERE id >= 4 ORDER BY id"))
    prev = db.execute("SELECT hash FROM audit WHERE id = 3").fetchone()[0]
    db.close()
    statements = []
    for row in rows:
        row["actor"] = "user:0"
        row["prev_hash"], row["hash"] = prev, audit.row_hash(prev, row)
        prev = row["hash"]
        statements.append(
            f"UPDATE audit SET actor = 'user:0', prev_hash = '{row['prev_hash']}', hash = '{row['hash']}' "  # noqa: S608
            f"WHERE id = {int(row['id'])}"
        )
    tamper(app, *statements)
    assert verify(app)[0] == 0
    code, output = verify(app, "--head", kept)
    assert code == 1 and kept in output


def test_rows_written_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.sqlite3")
    db.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, module in migration_modules():
        if version >= "m0008":
            break
        with transaction(db):
            module.up(db)  # type: ignore[attr-defined]
            db.execute("INSERT INTO schema_migrations VALUES (?, 'x')", [version])
    with transaction(db):
        for i in range(3):
            db.execute(
                "INSERT INTO audit (at, actor, action, record_type, record_id) VALUES ('x', 'system', 'purge', 'r', ?)",
                [str(i)],
            )
    assert "m0008_audit_chain" in migrate(db)
    verdict = audit.verify(db)
    assert (verdict.rows, verdict.broken_id) == (3, None)
    # the trigger is back: the migration's own UPDATEs were the last ones
    with pytest.raises(INTEGRITY_ERRORS):
        db.execute("UPDATE audit SET actor = 'x' WHERE id = 1")
    audit.record(db, "system", "purge", "retention", None)
    assert audit.verify(db).rows == 4
    db.close()


def test_writers_appending_at_once_keep_one_unbroken_chain(app: Flask) -> None:
    def writer(n: int) -> None:
        db = connect(app.config["DATABASE"])
        try:
            for i in range(25):
                audit.record(db, f"user:{n}", "referral.note", "referral", i)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code, output = verify(app)
    assert code == 0 and "ok: 100 rows" in output

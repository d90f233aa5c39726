"""One schema on both engines, and what only several PostgreSQL nodes need (issue 21).

The migrations run on a fresh SQLite file and on a fresh database on a real PostgreSQL server
(started by the test setup), and must end with the same tables and the same columns in the same
order. The outbox claim lets a second sender pass over a row that a first sender holds, rather
than wait for it or take it twice.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prescreen import clock
from prescreen.store import connect, migrate, outbox, pg
from tests.helpers.public import column_names, table_names


def schema(db: Any) -> dict[str, list[str]]:
    conn = db.conn
    return {t: column_names(conn, t) for t in sorted(table_names(conn)) if not t.startswith("sqlite_")}


def test_both_engines_end_with_the_same_tables_and_columns(tmp_path: Path, postgres_server: Any) -> None:
    lite = connect(tmp_path / "fresh.sqlite3")
    big = connect(postgres_server.create_database("fresh"))
    try:
        assert migrate(lite) == migrate(big), "the same migrations, in the same order"
        on_sqlite, on_postgres = schema(lite), schema(big)
    finally:
        lite.close()
        big.close()
    assert len(on_sqlite) >= 24
    assert on_postgres == on_sqlite


def test_a_second_sender_passes_over_the_row_the_first_one_holds(postgres_server: Any) -> None:
    url = postgres_server.create_database("outbox")
    first, second = pg.connect(url), pg.connect(url)
    try:
        migrate(first)
        now = clock.now()
        for n in (1, 2):
            outbox.enqueue(
                first, key=f"k{n}", kind="t", to_addr=f"p{n}@example.org", locale="en", subject="s", body_text="b"
            )
        holder = first.conn.raw
        holder.execute("BEGIN")
        held = holder.execute(pg.translate(outbox._CLAIM_PG), [clock.utc_text(), clock.utc_text()]).fetchone()  # noqa: SLF001
        assert held is not None
        claimed = outbox.claim_next(second, "node-b", now + timedelta(seconds=1), timedelta(minutes=5))
        assert claimed is not None and claimed["id"] != held[0], "the held row is skipped, not waited for"
        holder.execute("ROLLBACK")
        again = outbox.claim_next(second, "node-b", now + timedelta(seconds=1), timedelta(minutes=5))
        assert again is not None and again["id"] == held[0], "released, it is the next one taken"
    finally:
        first.close()
        second.close()

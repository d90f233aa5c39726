"""Move an existing SQLite instance to PostgreSQL: ``prescreen db copy SQLITE_PATH POSTGRES_URL``.

The target is migrated first (the same migrations), must hold no rows yet, and receives every
row of every table in one transaction, parents before children (the foreign keys decide the
order). The target's own triggers are switched off for the copy and on again before it commits:
they would otherwise write a second screening-log row for every screening copied, and the audit
trail's rows arrive with their hash chain as it was, which ``prescreen audit verify`` then checks on
the target. Identity columns continue after the highest id copied, so no id is ever handed out
twice. Nothing is deleted from the SQLite file: it stays as the fallback until the operator is
satisfied.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from typing import Any

import sqlite_utils
from psycopg import sql

from . import pg

#: Rows sent to PostgreSQL per INSERT.
BATCH = 500


class CopyError(RuntimeError):
    """The copy cannot start (its message says why); nothing was written."""


def _tables_in_order(target: pg.PostgresDatabase) -> list[str]:
    """The target's tables, each after the tables it refers to."""
    names = [row[0] for row in target.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    ).fetchall()]  # fmt: skip
    graph: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in target.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = 'public'"
    ).fetchall():
        if child != parent:
            graph.setdefault(child, set()).add(parent)
    return [name for name in graphlib.TopologicalSorter(graph).static_order() if name != "schema_migrations"]


def _columns(target: pg.PostgresDatabase, table: str) -> list[str]:
    return [row[0] for row in target.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? "
        "ORDER BY ordinal_position", [table],
    ).fetchall()]  # fmt: skip


def copy_database(
    source: sqlite_utils.Database,
    target: pg.PostgresDatabase,
    versions: list[str],
    migrate: Callable[[pg.PostgresDatabase], object],
) -> dict[str, int]:
    """Copy every row of *source* (SQLite) into *target* (PostgreSQL); returns rows copied per table.

    *versions* are every migration's name and *migrate* the store's migration runner (passed in,
    so this module needs nothing from the store's package and the package imports it freely).
    """
    done = [row[0] for row in source.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    if done != versions:
        raise CopyError("the SQLite file is not on the latest schema: run `prescreen db init` on it first")
    migrate(target)
    tables = _tables_in_order(target)
    for table in tables:
        if target.conn.raw.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table))).fetchone():
            raise CopyError(f"the PostgreSQL database already holds rows (table {table}): copy into an empty one")
    copied: dict[str, int] = {}
    raw = target.conn.raw
    with raw.transaction():
        for table in tables:
            raw.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)))
        for table in tables:
            copied[table] = _copy_table(source, raw, table, _columns(target, table))
        for table in tables:
            raw.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table)))
            if "id" in _columns(target, table):
                # The next id follows the highest copied (is_called false on an empty table: 1 comes next).
                raw.execute(
                    sql.SQL(
                        "SELECT setval(seq, GREATEST((SELECT max(id) FROM {t}), 1), (SELECT count(*) > 0 FROM {t})) "
                        "FROM (SELECT pg_get_serial_sequence({name}, 'id') AS seq) s WHERE seq IS NOT NULL"
                    ).format(t=sql.Identifier(table), name=sql.Literal(f'"{table}"'))
                )
    return copied


def _copy_table(source: sqlite_utils.Database, raw: Any, table: str, columns: list[str]) -> int:
    """Copy one table's rows (the columns both sides have, which is all of them on one schema)."""
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = source.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')  # noqa: S608  # nosec B608 — schema names
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    count = 0
    with raw.cursor() as out:
        while batch := cursor.fetchmany(BATCH):
            out.executemany(insert, batch)
            count += len(batch)
    return count

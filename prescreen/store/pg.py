"""PostgreSQL behind the store's one interface: the same SQL text, the same migrations.

The store speaks one SQL, written for SQLite (the embedded default) and kept plain enough that a
few mechanical rewrites make it PostgreSQL: placeholders (``?`` and ``:name`` become ``%s`` and
``%(name)s``), a handful of SQLite functions (``json_each``, ``date(x, '+8 hours')``,
two-argument ``MAX``), column types in DDL (``INTEGER PRIMARY KEY`` becomes an
identity column, so ids are never reused), and triggers (SQLite's ``BEGIN … END`` body becomes a
PL/pgSQL function, ``RAISE(ABORT, …)`` becomes ``RAISE EXCEPTION``). One migration history serves
both engines, and a test checks both end with the same tables and columns.

Why rewrite rather than keep two copies of every query: two copies drift, and the one nobody runs
on a laptop rots. The rewrites are small, cached per statement, and covered by the whole test suite
running on both engines. Plain PostgreSQL SQL is what comes out, so PostgreSQL-compatible
databases (KingbaseES, openGauss) stay within reach.

:class:`PostgresDatabase` offers what the store uses of ``sqlite_utils.Database``: ``execute``,
``query``, ``conn.in_transaction`` and ``close``. Values are bound client-side
(psycopg's ``ClientCursor``, which quotes them safely) because SQLite's loose typing lets the store
write ``:studies IS NULL`` with a ``None``, which the server-side binding cannot type.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import ClientCursor
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

SCHEMES = ("postgresql://", "postgres://")
#: The advisory lock the migrations take, so nodes starting together migrate one after another.
MIGRATION_LOCK = 7_302_022
#: The advisory lock every write transaction takes (as SQLite's one write lock); any constant will do.
WRITER_LOCK = 7_302_021
#: Between the statements that one SQLite statement becomes (a trigger: its function, then itself).
STATEMENT_BREAK = "\x00"

#: Functions the rewritten SQL calls, created before the first migration (idempotent).
BOOTSTRAP = [
    # SQLite's COLLATE NOCASE (users' e-mail addresses, unique whatever their case): ICU's
    # case-insensitive comparison, under the same name, so the DDL and queries need no rewrite.
    "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    # SQLite's date(x, '+8 hours'): the Beijing day of a stored UTC time, NULL for text that is no time.
    """
    CREATE OR REPLACE FUNCTION prescreen_beijing_day(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        IF value IS NULL THEN RETURN NULL; END IF;
        RETURN to_char((value::timestamptz AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD');
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$
    """,
    # SQLite's json_valid(x).
    """
    CREATE OR REPLACE FUNCTION prescreen_json_valid(value text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        PERFORM value::json;
        RETURN value IS NOT NULL;
    EXCEPTION WHEN others THEN
        RETURN false;
    END $$
    """,
]


def is_postgres(target: object) -> bool:
    """Whether *target* (a path or a URL) names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def _balanced(sql: str, start: int) -> int:
    """Index just past the parenthesis that closes the one opened at ``sql[start - 1]``."""
    depth, i, quote = 1, start, ""
    while i < len(sql):
        c = sql[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced parentheses in {sql[:80]!r}")


def _split_args(inner: str) -> list[str]:
    """Split a function's argument text at its top-level commas."""
    args, depth, quote, last = [], 0, "", 0
    for i, c in enumerate(inner):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(inner[last:i].strip())
            last = i + 1
    args.append(inner[last:].strip())
    return args


def _rewrite_calls(sql: str, name: str, rewrite: Any) -> str:
    """Replace every call ``name(args…)`` (case-insensitive) by ``rewrite(args)``, innermost first."""
    pattern = re.compile(rf"\b{name}\s*\(", re.IGNORECASE)
    while True:
        matches = list(pattern.finditer(sql))
        if not matches:
            return sql
        for match in reversed(matches):
            end = _balanced(sql, match.end())
            replaced = rewrite(_split_args(sql[match.end() : end - 1]))
            if replaced is None:
                continue
            sql = sql[: match.start()] + replaced + sql[end:]
            break
        else:
            return sql


def _date(args: list[str]) -> str | None:
    if len(args) == 2 and args[1].replace(" ", "") == "'+8hours'":
        return f"prescreen_beijing_day({args[0]})"
    return None


def _top_level(expression: str) -> str:
    """*expression* without anything inside parentheses."""
    while True:
        shorter = re.sub(r"\([^()]*\)", "", expression)
        if shorter == expression:
            return expression
        expression = shorter


def _max(args: list[str]) -> str | None:
    """SQLite's two-argument ``max``: ``GREATEST``; a comparison (a 0/1 truth value) becomes an integer."""
    if len(args) != 2:
        return None  # the aggregate
    second = args[1]
    if re.search(r"\bIN\b|\bIS\b|[=<>]", _top_level(second), re.IGNORECASE):
        second = f"CAST(({second}) AS INTEGER)"
    return f"GREATEST({args[0]}, {second})"


def _json_path(path: str) -> str:
    """``'$.a.b'`` as PostgreSQL's ``'{a,b}'`` path."""
    parts = path.strip("'")[2:].split(".")
    return "'{" + ",".join(parts) + "}'"


def _json_extract(args: list[str]) -> str:
    return f"(CAST({args[0]} AS json) #>> {_json_path(args[1])})"


def _json_valid(args: list[str]) -> str:
    return f"prescreen_json_valid({args[0]})"


def _json_group_array(args: list[str]) -> str:
    return f"COALESCE(json_agg({args[0]}), '[]'::json)::text"


def _json_object(args: list[str]) -> str:
    return f"json_build_object({', '.join(args)})"


_IN_JSON = re.compile(r"([\w.]+)\s+(NOT\s+)?IN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(", re.IGNORECASE)
_JSON_EACH = re.compile(r"\bjson_each\s*\(", re.IGNORECASE)


def _json_each(sql: str) -> str:
    """``json_each(x)`` / ``json_each(x, '$.a') alias`` as a set of text values named ``value``."""
    while True:
        match = _JSON_EACH.search(sql)
        if not match:
            return sql
        end = _balanced(sql, match.end())
        args = _split_args(sql[match.end() : end - 1])
        source = f"CAST({args[0]} AS json)"
        if len(args) == 2:
            source = f"({source} #> {_json_path(args[1])})"
        alias = re.match(r"\s+(?:AS\s+)?([a-z_]\w*)\b", sql[end:], re.IGNORECASE)
        if alias and alias.group(1).upper() not in ("WHERE", "AND", "OR", "ORDER", "GROUP", "LIMIT", "ON"):
            name = alias.group(1)
            sql = f"{sql[: match.start()]}json_array_elements_text({source}) AS {name}(value){sql[end + alias.end() :]}"
        else:
            sql = f"{sql[: match.start()]}json_array_elements_text({source}) AS each_(value){sql[end:]}"


_INTEGER_PK = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE)
_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?P<name>\w+)\s+(?P<when>BEFORE|AFTER)\s+(?P<event>INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)"
    r"\s+ON\s+(?P<table>\w+)\s+(?:WHEN\s+(?P<cond>.+?)\s+)?BEGIN\s+(?P<body>.*)\bEND\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RAISE = re.compile(r"SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*('(?:[^']|'')*')\s*\)\s*;", re.IGNORECASE)


def _trigger(sql: str) -> str | None:
    """A SQLite ``CREATE TRIGGER`` as a PL/pgSQL function and a trigger that runs it per row."""
    match = _TRIGGER.match(sql)
    if not match:
        return None
    name, when, event, table = match["name"], match["when"].upper(), " ".join(match["event"].split()), match["table"]
    # An integrity violation (SQLSTATE 23000), as SQLite's RAISE(ABORT) is: callers catch one kind.
    body = _RAISE.sub(
        lambda m: f"RAISE EXCEPTION {m.group(1)} USING ERRCODE = 'integrity_constraint_violation';",
        match["body"].strip(),
    )
    body = _functions(body)
    returns = "RETURN NULL;" if when == "AFTER" else ("RETURN OLD;" if event.upper() == "DELETE" else "RETURN NEW;")
    condition = f" WHEN ({_functions(match['cond'])})" if match["cond"] else ""
    return (
        f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"BEGIN\n{body}\n{returns}\nEND $fn$"
        f"{STATEMENT_BREAK}CREATE TRIGGER {name} {when} {event} ON {table}"
        f" FOR EACH ROW{condition} EXECUTE FUNCTION {name}_fn()"
    )


_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.IGNORECASE)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.IGNORECASE)


def _operators(sql: str) -> str:
    """SQLite's operators that PostgreSQL spells otherwise (outside string literals only).

    ``a IS NOT b`` / ``a IS b`` between two values are ``IS DISTINCT FROM`` / ``IS NOT DISTINCT
    FROM``; SQLite's ``LIKE`` ignores the case of ASCII letters, which is PostgreSQL's ``ILIKE``.
    """
    sql = _IS.sub("IS NOT DISTINCT FROM ", _IS_NOT.sub("IS DISTINCT FROM ", sql))
    return re.sub(r"\bLIKE\b", "ILIKE", sql, flags=re.IGNORECASE)


def _outside_quotes(sql: str, rewrite: Any) -> str:
    """Apply *rewrite* to the parts of *sql* outside string literals."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    return "".join(part if i % 2 else rewrite(part) for i, part in enumerate(parts))


def _functions(sql: str) -> str:
    """SQLite's functions and operators in *sql* as PostgreSQL's (some are ours, from :data:`BOOTSTRAP`)."""
    sql = _outside_quotes(sql, _operators)
    # json_each's values are typed in SQLite (an id list gives integers); PostgreSQL's set of
    # values is text, so the value compared with it is compared as text.
    sql = _IN_JSON.sub(r"CAST(\1 AS TEXT) \2IN (SELECT value FROM json_each(", sql)
    sql = _json_each(sql)
    sql = _rewrite_calls(sql, "date", _date)
    sql = _rewrite_calls(sql, "max", _max)
    sql = _rewrite_calls(sql, "json_extract", _json_extract)
    sql = _rewrite_calls(sql, "json_valid", _json_valid)
    sql = _rewrite_calls(sql, "json_object", _json_object)
    sql = _rewrite_calls(sql, "json_group_array", _json_group_array)
    return sql


def _placeholders(sql: str, bound: bool) -> str:
    """``?`` → ``%s``, ``:name`` → ``%(name)s`` outside quotes and ``::`` casts; ``%`` → ``%%`` when *bound*.

    psycopg reads ``%`` as a placeholder only when the statement has parameters.
    """
    percent = "%%" if bound else "%"
    out: list[str] = []
    i, quote = 0, ""
    while i < len(sql):
        c = sql[i]
        if quote:
            out.append(percent if c == "%" else c)
            if c == quote:
                quote = ""
            i += 1
            continue
        if c in "'\"":
            quote = c
        elif c == "$" and sql.startswith("$fn$", i):  # a function body: keep as written
            end = sql.index("$fn$", i + 4) + 4
            out.append(sql[i:end].replace("%", percent))
            i = end
            continue
        elif c == "?":
            out.append("%s")
            i += 1
            continue
        elif c == "%":
            out.append(percent)
            i += 1
            continue
        elif c == ":" and i + 1 < len(sql) and (sql[i + 1].isalpha() or sql[i + 1] == "_") and sql[i - 1 : i] != ":":
            name = re.match(r":(\w+)", sql[i:]).group(1)  # type: ignore[union-attr]  # a letter follows
            out.append(f"%({name})s")
            i += 1 + len(name)
            continue
        out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def translate(sql: str, bound: bool = True) -> str:
    """The PostgreSQL text of one statement of the store's SQL (cached: the store reuses its statements).

    *bound*: whether the statement is run with parameters (``%`` is then written ``%%``).
    """
    stripped = sql.strip()
    head = stripped[:40].upper()
    if head.startswith("BEGIN IMMEDIATE"):
        # SQLite's BEGIN IMMEDIATE: one writer at a time, taken before the first read, so a
        # read-then-write (the audit chain's last hash, a reference code's uniqueness) sees no other
        # writer in between. The same lock for every node, released at COMMIT or ROLLBACK.
        return f"BEGIN{STATEMENT_BREAK}SELECT pg_advisory_xact_lock({WRITER_LOCK})"
    trigger = _trigger(stripped) if head.startswith("CREATE TRIGGER") else None
    if trigger is not None:
        return _placeholders(trigger, bound)
    if head.startswith(("CREATE TABLE", "ALTER TABLE")):
        stripped = _INTEGER_PK.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", stripped)
        stripped = re.sub(r"\bREAL\b", "DOUBLE PRECISION", stripped)
        stripped = re.sub(r"\bBLOB\b", "BYTEA", stripped)
    return _placeholders(_functions(stripped), bound)


class Cursor:
    """What the store reads off a cursor: rows as tuples, ``rowcount``, ``description``."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def lastrowid(self) -> None:
        """PostgreSQL has none: the store asks with ``RETURNING id``."""
        return None


class Connection:
    """The part of ``sqlite3.Connection`` the store uses, over a psycopg connection in autocommit mode."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._triggers_lock = threading.Lock()

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        stripped = sql.strip()
        drop = re.fullmatch(r"DROP\s+TRIGGER\s+(IF\s+EXISTS\s+)?(\w+)", stripped, re.IGNORECASE)
        if drop:
            return self._drop_trigger(drop.group(2), bool(drop.group(1)))
        cursor = self.raw.cursor()
        bound = params is not None and len(params) > 0
        for statement in translate(sql, bound).split(STATEMENT_BREAK):
            cursor.execute(statement, params if bound else None)  # type: ignore[arg-type]
        return Cursor(cursor)

    def _drop_trigger(self, name: str, if_exists: bool) -> Cursor:
        """SQLite names a trigger alone; PostgreSQL needs its table too (and drops its function)."""
        cursor = self.raw.cursor()
        cursor.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [name])
        row = cursor.fetchone()
        if row is None:
            if if_exists:
                return Cursor(cursor)
            raise psycopg.errors.UndefinedObject(f"no such trigger: {name}")
        cursor.execute(f'DROP TRIGGER "{name}" ON "{row[0]}"')
        cursor.execute(f'DROP FUNCTION IF EXISTS "{name}_fn"()')
        return Cursor(cursor)

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


class PostgresDatabase:
    """A PostgreSQL connection with the interface the store uses of ``sqlite_utils.Database``."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.conn = Connection(raw)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))

    def commit(self) -> None:
        self.conn.commit()

    def __enter__(self) -> PostgresDatabase:
        """``with db:`` commits the block's writes, or rolls them back on an error (as sqlite3's does)."""
        if not self.conn.in_transaction:
            self.conn.raw.execute("BEGIN")
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def __del__(self) -> None:
        # As an sqlite3 connection does: a connection dropped without close() closes itself
        # (psycopg would only warn, and keep a server backend until the process ends).
        raw = self.__dict__.get("conn")
        if raw is not None and not isinstance(self, Pooled) and not raw.raw.closed:
            raw.raw.close()


#: Connection settings: autocommit (transactions are the store's explicit ones), values bound client-side.
CONNECTION = {"autocommit": True, "cursor_factory": ClientCursor}


def connect(url: str) -> PostgresDatabase:
    """Open a connection of its own to the PostgreSQL database at *url* (the CLI, the mail sender)."""
    return PostgresDatabase(psycopg.connect(url, **CONNECTION))  # type: ignore[arg-type]


class Pooled(PostgresDatabase):
    """A connection borrowed from psycopg's pool; :func:`give` hands it back."""

    def __init__(self, raw: psycopg.Connection[Any], pool: ConnectionPool) -> None:
        super().__init__(raw)
        self.pool = pool

    def close(self) -> None:
        give(self)


_pools: dict[tuple[int, str], ConnectionPool] = {}
_pools_lock = threading.Lock()
#: Connections per pool (per app process): gunicorn's threads per worker, with room to spare.
POOL_SIZE = 16


def pool_for(url: str) -> ConnectionPool:
    """This process's pool for *url* (a forked worker makes its own: connections never cross a fork)."""
    key = (os.getpid(), url)
    with _pools_lock:
        found = _pools.get(key)
        if found is None:
            found = _pools[key] = ConnectionPool(
                url, kwargs=CONNECTION, min_size=1, max_size=POOL_SIZE, open=True, name="prescreen"
            )
        return found


def take(url: str) -> Pooled:
    """A pooled connection to *url* for one request."""
    pool = pool_for(url)
    return Pooled(pool.getconn(), pool)


def give(db: PostgresDatabase, broken: bool = False) -> None:
    """Hand a pooled connection back: rolled back if left in a transaction, dropped if *broken*."""
    if not isinstance(db, Pooled):
        db.conn.close()
        return
    raw = db.conn.raw
    if broken and not raw.closed:
        raw.close()  # the pool replaces a closed connection
    db.pool.putconn(raw)


def close_pools() -> None:
    """Close this process's pools (tests that drop their database; the end of a CLI command)."""
    with _pools_lock:
        mine = [key for key in _pools if key[0] == os.getpid()]
        pools = [_pools.pop(key) for key in mine]
    for each in pools:
        each.close()


def bootstrap(db: PostgresDatabase) -> None:
    """Create the functions the rewritten SQL calls (before the first migration, idempotent)."""
    for statement in BOOTSTRAP:
        db.conn.raw.execute(statement)  # type: ignore[arg-type]


@contextmanager
def migration_lock(db: PostgresDatabase) -> Iterator[None]:
    """Hold the migrations' advisory lock (a session lock: migrations commit one by one inside it)."""
    db.conn.raw.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        bootstrap(db)
        yield
    finally:
        db.conn.raw.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


class DumpError(RuntimeError):
    """pg_dump or pg_restore failed; the message says how (never the password)."""


def dump(url: str, target: str) -> None:
    """Write ``pg_dump``'s custom-format copy of *url* to *target* (mode 0600), then read it back.

    The password, if the URL has one, goes to pg_dump in ``PGPASSWORD``, never on its command line.
    """
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    plain = display(url)
    old = os.umask(0o077)
    try:
        done = subprocess.run(  # noqa: S603
            ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", plain],  # noqa: S607
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as error:
        raise DumpError("pg_dump is not installed (Debian package postgresql-client)") from error
    finally:
        os.umask(old)
    if done.returncode != 0:
        raise DumpError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
    listed = subprocess.run(["pg_restore", "--list", target], capture_output=True, text=True, check=False)  # noqa: S603,S607
    if listed.returncode != 0 or "TABLE DATA" not in listed.stdout:
        raise DumpError(f"{target}: pg_restore cannot read it back: {listed.stderr.strip()[-500:]}")


def display(url: str) -> str:
    """*url* without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))

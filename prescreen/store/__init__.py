"""The store: the only place that talks SQL (through sqlite-utils, or psycopg on PostgreSQL: store.pg).

Every connection gets the same pragmas, every write goes through
:func:`transaction` (``BEGIN IMMEDIATE``, or a savepoint inside one), and the schema is created and
migrated by code, so a fresh checkout, a test and a production server all
run against exactly the same schema.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import pkgutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click
import psycopg
import sqlite_utils
from flask import Flask, current_app, g
from flask.cli import AppGroup

from .. import clock
from . import migrations as _migrations_pkg
from . import pg
from .copy import CopyError, copy_database

#: Milliseconds a connection waits for another writer before "database is locked" (the app's
#: connections take ``DATABASE_BUSY_TIMEOUT_MS`` from the configuration, this by default).
BUSY_TIMEOUT_MS = 5000
#: ``LIMIT`` for "every row": SQLite reads -1 so, PostgreSQL refuses a negative limit; both take this.
NO_LIMIT = 2**62
#: "The schema is not there yet" (a database not migrated, MIGRATE_ON_START off), on either engine.
MISSING_SCHEMA: tuple[type[Exception], ...] = (sqlite3.OperationalError, psycopg.errors.UndefinedTable)
#: A constraint refused a write (a unique reference drawn twice, a row a concurrent request added).
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.errors.IntegrityError)
#: The database, its WAL and shared-memory index, backups: readable by the app's own user only.
PRIVATE_FILE_MODE = 0o600


def private_file(path: str | os.PathLike[str]) -> None:
    """Take group and world access off a database file and its ``-wal`` and ``-shm`` companions.

    SQLite creates a new database with the process umask (usually 0644: anyone on the server
    could read the families' answers) and gives ``-wal`` and ``-shm`` the database file's own mode,
    so once the database file is 0600 its companions are made 0600 too. Called right after SQLite
    opened (and so created) the file, before anything is written to it.

    Only ``stat`` and ``chmod``, never ``open``: closing any descriptor of a database file drops
    every POSIX lock this process holds on it, the other threads' connections' included, and a
    connection that loses its lock mid-write corrupts the database ("How To Corrupt An SQLite
    Database File", 2.2.1). A file owned by someone else is left as it is (the operator's call).
    """
    name = os.fspath(path)
    if name == ":memory:" or name.startswith("file:"):
        return
    for each in (name, f"{name}-wal", f"{name}-shm"):
        try:
            mode = os.stat(each).st_mode & 0o777
            if mode & 0o077:
                os.chmod(each, mode & 0o700)
        except OSError:
            pass  # missing, or not ours to change


def connect(
    path: str | os.PathLike[str], *, pooled: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite_utils.Database:
    """Open the SQLite file at *path* with the pragmas every connection needs (or PostgreSQL, for a URL).

    ``DATABASE`` holds a ``postgresql://`` URL when ``PRESCREEN_DATABASE_URL`` is set: then a
    :class:`prescreen.store.pg.PostgresDatabase` comes back, which the store uses the same way.

    ``pooled`` connections may move between a worker's threads (one at a time; see
    :class:`ConnectionPool`), so the driver's same-thread check is off for them. The file is
    made mode 0600 as soon as SQLite has created it (:func:`private_file`).

    ``busy_timeout`` is set first, and a file not yet in WAL mode is switched under the
    :class:`WriterLock`: switching needs a lock, and a second process starting at the same
    moment otherwise fails at once with "database is locked". The connection is in autocommit
    mode (``isolation_level=None``) so transactions are only the explicit ones.
    """
    if pg.is_postgres(path):
        return pg.connect(str(path))  # type: ignore[return-value]
    conn = sqlite3.connect(
        os.fspath(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=not pooled
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    writer = WriterLock.for_path(os.fspath(path))
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal":
        # Switching a new file to WAL needs SQLite's exclusive lock, and two connections that race
        # for it get "database is locked" at once, busy_timeout or not (SQLite refuses to wait
        # where waiting could deadlock): gunicorn's workers starting together on a new database
        # did, and a worker that fails to boot stops gunicorn. The writer lock queues them.
        with writer:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal" and os.fspath(path) != ":memory:":
        conn.close()
        raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode!r})")
    private_file(path)  # SQLite has created the file (and in WAL mode its companions) by now
    # FULL: an acknowledged submission survives power loss, not just a crash.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted and overwritten values are zeroed in the file rather than left in free space, so an
    # erased phone number or answer cannot be read back from the pages (builds differ in their
    # default; say it outright). See also :func:`checkpoint` for the copy the WAL holds.
    conn.execute("PRAGMA secure_delete = ON")
    db = sqlite_utils.Database(conn)
    db.writer = writer  # type: ignore[attr-defined]
    return db


class WriterLock:
    """Queue this database's writers in the kernel, not in SQLite's busy handler.

    Under load, writers that find the write lock taken wait in SQLite's busy handler, which
    sleeps in steps of up to 100 ms whatever happens meanwhile: a write that holds the lock for
    2 ms (one fsync) made others sleep 25-100 ms, the long tail of the load benchmark. Here a
    writer first takes a thread lock, then ``flock`` on ``<database>.writelock``; both wake the
    next writer as soon as the lock is free, across threads and gunicorn workers alike.
    SQLite's own locking is unchanged underneath (the CLI and other tools need not take this).
    """

    _made: dict[tuple[int, str], WriterLock] = {}
    _made_lock = threading.Lock()

    def __init__(self, path: str, *, memory: bool = False) -> None:
        self.path = path
        self.memory = memory  # ":memory:" has no file to lock, nor other processes
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @classmethod
    def for_path(cls, path: str) -> WriterLock:
        """The one lock for *path* in this process (a forked child makes its own)."""
        key = (os.getpid(), os.path.abspath(path))
        with cls._made_lock:
            lock = cls._made.get(key)
            if lock is None:
                lock = cls._made[key] = cls(key[1], memory=path == ":memory:")
            return lock

    def __enter__(self) -> WriterLock:
        self._thread.acquire()
        self._depth += 1
        if self._depth == 1 and not self.memory:
            # Opened per transaction (about 20 us against a 1.5 ms fsync): no descriptor stays
            # open for every database a long test run has written to.
            try:
                self._fd = os.open(f"{self.path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError:
                pass  # no lock file (read-only folder): SQLite's busy timeout still serialises writers
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None
        self._thread.release()


@contextmanager
def transaction(db: sqlite_utils.Database, *, row_locks: bool = False) -> Iterator[sqlite_utils.Database]:
    """Run a block of writes as one transaction, joining the caller's if there is one.

    On PostgreSQL an outermost transaction takes the one writer lock as SQLite's ``BEGIN
    IMMEDIATE`` does (see :func:`prescreen.store.pg.translate`), unless *row_locks*: a block that
    locks the rows it changes itself (``FOR UPDATE SKIP LOCKED``, the outbox claim) runs beside
    other writers, so senders on several nodes share the outbox. SQLite has one lock whatever.

    Outermost: ``BEGIN IMMEDIATE``, which takes the write lock up front, so two workers never both
    read, then both fail to upgrade to a write lock (SQLITE_BUSY cannot be waited out in that case).
    Writers queue on the database's :class:`WriterLock` first. A transaction that erased personal
    data (``db.checkpoint_due``, set by :func:`prescreen.store.audit.record` for an erasure) is
    followed by a :func:`checkpoint`, still under the lock, so the erased values leave the WAL as
    soon as they leave the tables.

    Inside another transaction: a ``SAVEPOINT`` (as sqlite-utils' ``atomic()`` does), so a store
    function that writes several rows is atomic on its own and, called from a caller's
    transaction, commits or rolls back with the caller's other writes. A nested block that raises
    undoes only its own writes (``ROLLBACK TO``) and lets the exception go on to the caller.
    """
    if db.conn.in_transaction:
        depth = getattr(db, "savepoint_depth", 0) + 1
        name = f"prescreen_{depth}"
        db.savepoint_depth = depth  # type: ignore[attr-defined]
        db.conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute(f"ROLLBACK TO {name}")
                db.conn.execute(f"RELEASE {name}")
            raise
        else:
            db.conn.execute(f"RELEASE {name}")
        finally:
            db.savepoint_depth = depth - 1  # type: ignore[attr-defined]
        return
    writer: WriterLock | None = getattr(db, "writer", None)
    with writer or nullcontext():
        db.conn.execute("BEGIN" if row_locks and isinstance(db, pg.PostgresDatabase) else "BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.checkpoint_due = False  # type: ignore[attr-defined]
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")
            if getattr(db, "checkpoint_due", False):
                db.checkpoint_due = False  # type: ignore[attr-defined]
                checkpoint(db)


def insert(db: sqlite_utils.Database, table: str, row: dict[str, object], *, returning: str | None = "id") -> int:
    """Insert *row* into *table* (a name from our own code) and return its new *returning* column.

    Plain ``INSERT … RETURNING``, which both engines speak, rather than sqlite-utils' table API:
    PostgreSQL has no ``lastrowid``.
    """
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    tail = f" RETURNING {returning}" if returning else ""
    sql = f"INSERT INTO {table} ({columns}) VALUES ({values}){tail}"  # noqa: S608  # nosec B608 — our own names
    cursor = db.execute(sql, row)
    return int(cursor.fetchone()[0]) if returning else 0


def checkpoint(db: sqlite_utils.Database) -> bool:
    """Copy the WAL into the database file and truncate the WAL to zero bytes; returns whether it did.

    Called after an erasure: the erased values' old page images stay in the ``-wal`` file until
    a checkpoint overwrites or truncates it, so "deleted" would otherwise still be on the disk.
    Taken under the :class:`WriterLock`, so writers queue behind it in the kernel; it cannot
    truncate while another connection is still reading an older snapshot (returns False then,
    and the next checkpoint, automatic or explicit, finishes the job).
    """
    if isinstance(db, pg.PostgresDatabase):
        return True  # no WAL file of ours to empty (PostgreSQL's own is its business)
    writer: WriterLock | None = getattr(db, "writer", None)
    with writer or nullcontext():
        busy, _log, _done = db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def check_writable(db: sqlite_utils.Database) -> None:
    """Take and release the write lock, as a write would, without writing anything.

    ``BEGIN IMMEDIATE`` needs the file to be writable and the write lock free within the busy
    timeout; it fails exactly when a real write would (a read-only file or filesystem, a lock held
    too long), yet changes nothing and costs no fsync. Raises :class:`sqlite3.Error` then.
    """
    writer: WriterLock | None = getattr(db, "writer", None)
    with writer or nullcontext():
        db.conn.execute("BEGIN IMMEDIATE")
        db.conn.execute("ROLLBACK")


def applied_migrations(db: sqlite_utils.Database) -> int:
    """How many migrations the database has recorded; raises :class:`sqlite3.Error` if it has no schema yet."""
    return int(db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0])


def migration_modules() -> list[tuple[str, object]]:
    """Return ``(version, module)`` for every ``mNNNN_*.py`` migration, oldest first."""
    found = []
    for info in pkgutil.iter_modules(_migrations_pkg.__path__):
        if info.name.startswith("m") and info.name[1:5].isdigit():
            module = importlib.import_module(f"{_migrations_pkg.__name__}.{info.name}")
            found.append((info.name, module))
    return sorted(found)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded in ``schema_migrations``; return those applied.

    Each migration runs in its own IMMEDIATE transaction and re-checks what is
    applied inside the lock, so several gunicorn workers starting together
    apply each migration exactly once.
    """
    if isinstance(db, pg.PostgresDatabase):
        with pg.migration_lock(db):  # nodes starting together on PostgreSQL migrate one at a time
            return _migrate(db)
    return _migrate(db)


def _migrate(db: sqlite_utils.Database) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied: list[str] = []
    for version, module in migration_modules():
        with transaction(db):
            done = db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", [version]).fetchone()
            if done:
                continue
            module.up(db)  # type: ignore[attr-defined]
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                [version, clock.utc_text()],
            )
        applied.append(version)
    return applied


class ConnectionPool:
    """Open connections to the app's database, reused from one request to the next.

    Opening SQLite and setting its four pragmas took about 0.6 ms, half of a whole ``/healthz``
    request. A connection is taken by one request at a time and handed back at teardown, so each
    is only ever used by one thread at once. Connections are tied to the file's identity (process,
    path, inode): a database replaced on disk (a restore) or a new path (another app in the same
    test process) gets fresh connections, and connections inherited across ``fork`` are dropped,
    never used or closed in the child (SQLite forbids both).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._idle: list[sqlite_utils.Database] = []

    @staticmethod
    def identity(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> tuple[object, ...]:
        """What must match for an idle connection to be reused: process, path, inode and busy timeout."""
        try:
            found = os.stat(path)
        except OSError:
            return (os.getpid(), path, None, busy_timeout_ms)
        return (os.getpid(), path, found.st_dev, found.st_ino, busy_timeout_ms)

    def take(
        self, path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> tuple[sqlite_utils.Database, tuple[object, ...]]:
        """A connection to *path* (an idle one if the file is the same), and the key to return it.

        For a PostgreSQL URL the connection comes from psycopg's pool for that URL (one per process).
        """
        if pg.is_postgres(path):
            return pg.take(path), ("postgresql", path)  # type: ignore[return-value]
        key = self.identity(path, busy_timeout_ms)
        stale: list[sqlite_utils.Database] = []
        with self._lock:
            if key != self._key:
                inherited = self._key is not None and self._key[0] != key[0]
                stale = [] if inherited else self._idle
                self._idle, self._key = [], key
            db = self._idle.pop() if self._idle else None
        for old in stale:
            old.close()
        if db is None:
            db = connect(path, pooled=True, busy_timeout_ms=busy_timeout_ms)
            key = self.identity(path, busy_timeout_ms)  # connect may have created the file
        return db, key

    def give(self, db: sqlite_utils.Database, key: tuple[object, ...], broken: bool = False) -> None:
        """Hand *db* back; a connection left mid-transaction or after an error is closed instead."""
        if isinstance(db, pg.PostgresDatabase):
            pg.give(db, broken=broken)
            return
        if not broken and db.conn.in_transaction:
            try:
                db.conn.execute("ROLLBACK")
            except sqlite3.Error:
                broken = True
        with self._lock:
            if not broken and key == self._key and len(self._idle) < self.size:
                self._idle.append(db)
                return
        db.close()


#: One pool per process: the app's requests share it across threads.
pool = ConnectionPool()


def get_db() -> sqlite_utils.Database:
    """Return this request's connection, taking it from the pool on first use."""
    if "db" not in g:
        config = current_app.config
        g.db, g.db_key = pool.take(config["DATABASE"], int(config.get("DATABASE_BUSY_TIMEOUT_MS") or BUSY_TIMEOUT_MS))
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    """Give the request's connection back to the pool, if one was taken."""
    db = g.pop("db", None)
    if db is not None:
        pool.give(db, g.pop("db_key", ()), broken=exc is not None)


def backup(db: sqlite_utils.Database, target: str | os.PathLike[str]) -> str:
    """Copy the live database to *target* with SQLite's online backup API.

    Safe while other workers write; returns the copy's ``integrity_check`` result. The copy holds
    everything the live file does, so it is created mode 0600 like the live file.
    """
    dest = sqlite3.connect(os.fspath(target))
    private_file(target)
    try:
        db.conn.backup(dest)
        return dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()


@click.group("db", cls=AppGroup)
def db_cli() -> None:
    """Create, migrate, back up and copy the database (SQLite, or PostgreSQL by PRESCREEN_DATABASE_URL)."""


@db_cli.command("init")
def init_command() -> None:
    """Create the instance folder and database, or migrate it to the latest schema."""
    target = current_app.config["DATABASE"]
    path = pg.display(target) if pg.is_postgres(target) else Path(target)
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(target)
    try:
        applied = migrate(db)
    finally:
        db.close()
    if applied:
        click.echo(f"{path}: applied {', '.join(applied)}")
    else:
        click.echo(f"{path}: schema up to date (latest {migration_modules()[-1][0]})")


@db_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup_command(target: str) -> None:
    """Write a consistent copy of the live database to TARGET and check it.

    On PostgreSQL: ``pg_dump`` in its custom format (one consistent snapshot while the app keeps
    writing), then ``pg_restore --list`` reads it back; restore it with ``pg_restore`` (README).
    """
    if Path(target).exists():
        raise click.ClickException(f"{target} already exists; choose a new file name")
    if pg.is_postgres(current_app.config["DATABASE"]):
        try:
            pg.dump(current_app.config["DATABASE"], target)
        except pg.DumpError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"{target}: pg_dump written, pg_restore can read it")
        return
    db = connect(current_app.config["DATABASE"])
    try:
        result = backup(db, target)
    finally:
        db.close()
    if result != "ok":
        raise click.ClickException(f"{target}: integrity_check says {result}")
    click.echo(f"{target}: backup written, integrity_check ok")


@db_cli.command("copy")
@click.argument("sqlite_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("postgres_url")
def copy_command(sqlite_path: str, postgres_url: str) -> None:
    """Copy an existing SQLite instance (SQLITE_PATH) into an empty PostgreSQL database (POSTGRES_URL).

    Stop the app first: rows written to the SQLite file after the copy began are not carried.
    """
    if not pg.is_postgres(postgres_url):
        raise click.ClickException("POSTGRES_URL must be a postgresql:// URL")
    source = connect(sqlite_path)
    target = pg.connect(postgres_url)
    try:
        copied = copy_database(source, target, [version for version, _ in migration_modules()], migrate)
    except CopyError as error:
        raise click.ClickException(str(error)) from error
    finally:
        source.close()
        target.close()
    for table, count in copied.items():
        click.echo(f"{table}: {count}")
    click.echo(f"copied {sum(copied.values())} rows from {sqlite_path} to {pg.display(postgres_url)}")


def init_app(app: Flask) -> None:
    """Wire the store into *app*: teardown, and migrate at start-up."""
    app.teardown_appcontext(close_db)
    if app.config.get("MIGRATE_ON_START", True):
        target = app.config["DATABASE"]
        if not pg.is_postgres(target):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        db = connect(target)
        try:
            migrate(db)
        finally:
            db.close()

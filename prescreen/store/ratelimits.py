"""Rate-limit counters in a small SQLite file of their own, shared by every gunicorn worker.

Flask-Limiter's memory storage counts per process, so with four workers a client would get four
times its allowance; Redis or memcached would mean running a new server. A separate file (not
the main database) keeps these frequent, throw-away writes from queueing behind submissions, and
lets it run with ``synchronous=NORMAL``: losing a minute of counters on power loss is harmless.
Keys arrive already hashed (see :mod:`prescreen.web.limits`), so no IP address is stored.

A connection that hits any SQLite error is closed and forgotten, and the next call opens a new
one. SQLite opens a file it cannot write read-only without saying so, and such a connection stays
read-only for its whole life: cached per thread, one moment of an unwritable file used to break
that worker thread's counting until a restart. Deciding what a failed count means for the request
is the caller's business (:class:`prescreen.web.limits.SQLiteStorage` lets it through).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from . import WriterLock, private_file

SCHEMA = "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"


class Counters:
    """Fixed-window counters: ``incr`` returns the count within the key's current window."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            private_file(self.path)  # it holds the families' IP addresses: the app's user only
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                # Every worker's first rate-limited request opens this file; on a new file their
                # switches to WAL raced and one got "database is locked" at once (see store.connect).
                with WriterLock.for_path(self.path):
                    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute(SCHEMA)
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
        return conn

    def forget(self) -> None:
        """Close this thread's connection; the next call opens a fresh one."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass  # it is being dropped because it failed; closing it may fail the same way

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, dropped if anything done with it raises an SQLite error."""
        try:
            yield self.conn()
        except sqlite3.Error:
            self.forget()
            raise

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add *amount* to *key*, starting a new window of *expiry* seconds if the old one ended."""
        now = time.time()
        with self._using() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO counters (key, count, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET "
                    "count = CASE WHEN expires_at <= ? THEN excluded.count ELSE count + excluded.count END, "
                    "expires_at = CASE WHEN expires_at <= ? THEN excluded.expires_at ELSE expires_at END",
                    [key, amount, now + expiry, now, now],
                )
                count = conn.execute("SELECT count FROM counters WHERE key = ?", [key]).fetchone()[0]
                # Old windows are never read again; sweep them now and then, not on every hit.
                if count == amount:
                    conn.execute("DELETE FROM counters WHERE expires_at <= ?", [now])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return int(count)

    def get(self, key: str) -> int:
        """The count in *key*'s current window (0 if none)."""
        with self._using() as conn:
            sql = "SELECT count FROM counters WHERE key = ? AND expires_at > ?"
            row = conn.execute(sql, [key, time.time()]).fetchone()
        return int(row[0]) if row else 0

    def expiry(self, key: str) -> float:
        """When *key*'s window ends (epoch seconds; now if there is none)."""
        with self._using() as conn:
            row = conn.execute("SELECT expires_at FROM counters WHERE key = ?", [key]).fetchone()
        return float(row[0]) if row else time.time()

    def clear(self, key: str) -> None:
        """Forget *key*."""
        with self._using() as conn:
            conn.execute("DELETE FROM counters WHERE key = ?", [key])

    def reset(self) -> int:
        """Forget every counter; returns how many there were."""
        with self._using() as conn:
            return conn.execute("DELETE FROM counters").rowcount

    def check(self) -> bool:
        """Whether the file can be read."""
        try:
            with self._using() as conn:
                conn.execute("SELECT 1").fetchone()
        except (sqlite3.Error, OSError):
            return False
        return True

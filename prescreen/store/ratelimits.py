"""Rate-limit counters in a small SQLite file of their own, shared by every gunicorn worker.

Flask-Limiter's memory storage counts per process, so with four workers a client would get four
times its allowance; Redis or memcached would mean running a new server. A separate file (not
the main database) keeps these frequent, throw-away writes from queueing behind submissions, and
lets it run with ``synchronous=NORMAL``: losing a minute of counters on power loss is harmless.
Keys arrive already hashed (see :mod:`prescreen.limits`), so no IP address is stored.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from . import WriterLock

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
            conn.execute("PRAGMA busy_timeout = 5000")
            # Every worker's first rate-limited request opens this file; on a new file their
            # switches to WAL raced and one got "database is locked" at once (see store.connect).
            with WriterLock.for_path(self.path):
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(SCHEMA)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add *amount* to *key*, starting a new window of *expiry* seconds if the old one ended."""
        now = time.time()
        conn = self.conn()
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
            conn.execute("ROLLBACK")
            raise
        return int(count)

    def get(self, key: str) -> int:
        """The count in *key*'s current window (0 if none)."""
        row = (
            self.conn()
            .execute("SELECT count FROM counters WHERE key = ? AND expires_at > ?", [key, time.time()])
            .fetchone()
        )
        return int(row[0]) if row else 0

    def expiry(self, key: str) -> float:
        """When *key*'s window ends (epoch seconds; now if there is none)."""
        row = self.conn().execute("SELECT expires_at FROM counters WHERE key = ?", [key]).fetchone()
        return float(row[0]) if row else time.time()

    def clear(self, key: str) -> None:
        """Forget *key*."""
        self.conn().execute("DELETE FROM counters WHERE key = ?", [key])

    def reset(self) -> int:
        """Forget every counter; returns how many there were."""
        return self.conn().execute("DELETE FROM counters").rowcount

    def check(self) -> bool:
        """Whether the file can be read."""
        try:
            self.conn().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

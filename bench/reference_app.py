"""The bare Flask app the load benchmark measures beside prescreen, as a yardstick.

The owner's speed targets give two reference points measured on a 2-core machine with wrk and 50 clients: a
minimal Flask GET under gunicorn gthread (about 3,000 req/s) and a POST doing one insert and one
select in SQLite with WAL and ``synchronous=FULL`` (about 1,100 req/s, p99 150-160 ms). This app
is exactly those two requests, with nothing of ours in them (no session, CSRF, templates, engine
or security headers), so ``make bench`` can print what this machine does with them in the same
run, under the same gunicorn command, instead of quoting figures from another day.

    gunicorn -w 4 -k gthread --threads 4 'reference_app:create_app()'   # from bench/
    GET  /ping             -> "ok"
    POST /write  value=... -> the new row's id (one INSERT in BEGIN IMMEDIATE, one SELECT)

The database is ``$PRESCREEN_REFERENCE_DB``. Writers rely on SQLite's own busy timeout, as a
plain Flask app would (prescreen queues them on its own lock; see prescreen.store.WriterLock).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from flask import Flask, request


def switch_to_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, tried again for a moment when another worker is switching the new file too.

    Workers booting together race for the switch, and SQLite answers the loser "database is
    locked" at once, busy_timeout or not (prescreen queues them on its writer lock instead; a
    yardstick keeps to plain sqlite3).
    """
    for attempt in range(100):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == 99:
                raise
            time.sleep(0.01)


def create_app() -> Flask:
    """The two yardstick routes over one SQLite file (a connection per thread)."""
    app = Flask(__name__)
    path = os.environ["PRESCREEN_REFERENCE_DB"]
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")  # before WAL: switching can itself wait
            switch_to_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            local.conn = conn
        return conn

    connection().execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")

    @app.get("/ping")
    def ping() -> str:
        return "ok"

    @app.post("/write")
    def write() -> str:
        conn = connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute("INSERT INTO items (value) VALUES (?)", [request.form.get("value", "")])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        row = conn.execute("SELECT id, value FROM items WHERE id = ?", [cursor.lastrowid]).fetchone()
        return str(row[0])

    return app

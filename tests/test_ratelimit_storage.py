"""A broken rate-limit file never costs a family their answer, and counting comes back by itself.

The storage is broken for real: the counter file replaced by a directory, or made unwritable
(``chmod``; as root, whom file modes do not stop, the immutable attribute), then restored. The
posts go through the real Flask-Limiter and the real SQLite counter file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.store import connect
from prescreen.store.ratelimits import SCHEMA, Counters
from tests.helpers.public import answer, current, likely_answers, start

LIMIT = "50 per minute"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_POST_LIMIT=LIMIT)


def counter_file(app: Flask) -> Path:
    return Path(app.instance_path) / "ratelimit.sqlite3"


def counted(path: Path) -> int:
    """Every hit the counter file holds, read on a connection of the test's own."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COALESCE(sum(count), 0) FROM counters").fetchone()[0])
    finally:
        conn.close()


def make_counter_file(path: Path) -> None:
    """Create the counter file as a worker would (WAL, the table), and close that connection again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(SCHEMA)
    finally:
        conn.close()


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make *path* unwritable for this process, and writable again afterwards."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system where the immutable attribute cannot be set")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def answers_saved(app: Flask) -> dict[str, object]:
    db = connect(app.config["DATABASE"])
    try:
        ((answers,),) = db.execute("SELECT answers FROM screenings").fetchall()
    finally:
        db.close()
    return json.loads(answers)


def answer_next(client: FlaskClient) -> str:
    """Answer the question on the chat page as the family would; returns its id."""
    asked = current(client)
    assert asked is not None
    response = answer(client, likely_answers()[asked[0]])
    assert response.status_code == 303, response.status_code
    return asked[0]


def warnings_from_limits(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "prescreen.web.limits" and r.levelno == logging.WARNING]


def test_a_directory_in_place_of_the_counter_file_lets_the_family_answer(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    path = counter_file(app)
    path.mkdir(parents=True)
    caplog.set_level(logging.INFO)
    start(client)  # the consent POST, through the limiter
    first = answer_next(client)
    assert first in answers_saved(app), "the answer was saved although nothing could be counted"
    (warning,) = warnings_from_limits(caplog)  # once, not once per request
    assert "uncounted" in warning and "127.0.0.1" not in caplog.text and first not in caplog.text

    path.rmdir()
    second = answer_next(client)
    assert second in answers_saved(app)
    assert counted(path) == 1, "counting resumed in this worker once the file could be made again"
    assert "rate-limit counters are working again" in caplog.text


def test_an_unwritable_counter_file_lets_the_family_answer_and_counting_comes_back(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    path = counter_file(app)
    make_counter_file(path)
    caplog.set_level(logging.WARNING)
    with unwritable(path):
        start(client)
        first = answer_next(client)
        assert first in answers_saved(app)
        assert counted(path) == 0
    assert warnings_from_limits(caplog), "the failure was logged"
    assert "127.0.0.1" not in caplog.text

    # The connection this thread opened while the file was unwritable was read-only for good;
    # it was dropped, so the next post opens a writable one and is counted.
    answer_next(client)
    assert counted(path) == 1


def test_the_limit_still_bites_after_the_storage_recovers(make_app: Callable[..., Flask]) -> None:
    app = make_app(PUBLIC_POST_LIMIT="2 per minute")
    client = app.test_client()
    path = counter_file(app)
    path.mkdir(parents=True)
    start(client)
    assert answer(client, likely_answers()[current(client)[0]]).status_code == 303  # uncounted
    path.rmdir()
    codes = [answer(client, likely_answers()[current(client)[0]]).status_code for _ in range(3)]
    assert codes == [303, 303, 429]


def test_counters_reopen_their_connection_after_an_sqlite_error(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.sqlite3"
    make_counter_file(path)
    counters = Counters(path)
    with unwritable(path):
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            counters.incr("k", 60)
    assert counters.incr("k", 60) == 1, "the same thread counts again without a restart"
    assert counters.incr("k", 60) == 2


def test_the_counter_file_is_readable_by_the_app_alone(app: Flask) -> None:
    """The counters hold families' IP addresses: mode 0600, like the database, WAL and all."""
    old = os.umask(0o022)  # the usual umask, which would leave a new file readable by everyone
    try:
        client = app.test_client()
        start(client)
        assert answer(client, likely_answers()[current(client)[0]]).status_code == 303
    finally:
        os.umask(old)
    path = counter_file(app)
    assert counted(path) >= 1
    for each in (path, Path(f"{path}-wal")):
        assert each.stat().st_mode & 0o777 == 0o600, (each, oct(each.stat().st_mode))

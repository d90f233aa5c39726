"""``/healthz`` says ok only when a write would succeed; a locked database is a 503, never a 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask

from tests.helpers.staff import add_user, csrf

#: Short enough to keep the tests quick, long enough that an unlocked write never times out.
BUSY_MS = 300


@contextmanager
def write_lock_held(app: Flask) -> Iterator[None]:
    """Hold SQLite's write lock from another connection, as a stuck process or the sqlite3 shell would."""
    other = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_healthz_is_ok_when_the_database_takes_writes(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(DATABASE_BUSY_TIMEOUT_MS=BUSY_MS).test_client()
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")


@pytest.mark.sqlite_only
def test_healthz_is_503_with_retry_after_while_the_write_lock_is_held(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(DATABASE_BUSY_TIMEOUT_MS=BUSY_MS)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    with write_lock_held(app):
        response = client.get("/healthz")  # reads still work: only a write check can tell
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").status_code == 200  # and recovers once the lock is free


@pytest.mark.sqlite_only
def test_healthz_is_503_when_the_database_cannot_be_written(make_app) -> None:  # type: ignore[no-untyped-def]
    """SQLite's ``query_only`` stands in for a read-only file system (root ignores file modes)."""
    app = make_app(DATABASE_BUSY_TIMEOUT_MS=BUSY_MS)
    client = app.test_client()
    with app.test_request_context():
        from prescreen.store import get_db

        get_db().execute("PRAGMA query_only = ON")  # the pooled connection the next request gets
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_data(as_text=True) == "unavailable"


@pytest.mark.sqlite_only
def test_a_page_whose_write_finds_the_database_locked_gets_a_translated_503(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(DATABASE_BUSY_TIMEOUT_MS=BUSY_MS)
    add_user(app)
    client = app.test_client()
    token = csrf(client, "/staff/login")
    with write_lock_held(app):
        response = client.post(
            "/staff/login",
            data={"csrf_token": token, "email": "coord@pumch.example", "password": "wrong password, long enough"},
            headers={"Accept-Language": "zh-CN"},
        )
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert "服务繁忙" in body and "Traceback" not in body and "locked" not in body

"""Shared fixtures: every test gets a fresh app on its own temporary SQLite file.

With ``PRESCREEN_TEST_ENGINE=postgresql`` (``make test`` runs the suite both ways) every test gets
its own fresh PostgreSQL database instead, copied from a migrated template on a real server that
this test process started (:mod:`tests.helpers.servers`); tests of what only SQLite has (its file,
its WAL, its online backup) are marked ``sqlite_only`` and skipped there.

Besides the app and its clients: ``db`` (a connection to the app's database), ``staff`` (team
accounts and logins), ``family`` (a family's browser on the real study) and ``eligible_family``
(one whose screening already ended *likely eligible*). Helpers they build on live in
``tests/helpers/``.

CSRF stays ON in the ``app`` fixture, as in production. A test that posts a
form either fetches a real token with the ``csrf_token`` fixture or builds its own
app with ``make_app(WTF_CSRF_ENABLED=False)`` when CSRF is beside its point.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlite_utils import Database

from prescreen import clock, create_app
from prescreen.store import connect
from tests.helpers.public import Family, likely_answers
from tests.helpers.staff import Staff

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: The engine the suite runs on this time: "sqlite" (the default) or "postgresql".
ENGINE = os.environ.get("PRESCREEN_TEST_ENGINE", "sqlite")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: tests what only the SQLite engine has (skipped on PostgreSQL)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, run only the tests that use the app's database.

    A test that never asks for the ``database`` fixture (the engine, the study's sheets, the
    translations, tests that start their own servers) behaves the same whatever the engine and has
    run on the SQLite pass already; running it again would only double the suite's time.
    """
    if ENGINE != "postgresql":
        return
    sqlite_only = pytest.mark.skip(reason="SQLite's own file, WAL or backup: not on PostgreSQL")
    no_database = pytest.mark.skip(reason="uses no database: ran on the SQLite pass")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(sqlite_only)
        elif "database" not in getattr(item, "fixturenames", ()):
            item.add_marker(no_database)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL server for this test process (started on first use, stopped at the end)."""
    from tests.helpers import servers

    with servers.postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> tuple[Any, str] | None:
    """On PostgreSQL runs: this process's server, and a template database with every migration applied."""
    if ENGINE != "postgresql":
        return None
    from prescreen.store import migrate, pg

    server = request.getfixturevalue("postgres_server")
    url = server.create_database("prescreen_template")
    db = pg.connect(url)
    try:
        migrate(db)
    finally:
        db.close()
    return server, "prescreen_template"


@pytest.fixture
def database(tmp_path: Path, postgres_template: tuple[Any, str] | None) -> Iterator[str]:
    """This test's database: a file in its temp folder, or a fresh PostgreSQL database (dropped after)."""
    if postgres_template is None:
        yield str(tmp_path / "prescreen.sqlite3")
        return
    import psycopg

    from prescreen.store import pg

    server, template = postgres_template
    name = f"t_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield server.url(name)
    finally:
        pg.close_pools()
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_numbers = itertools.count(1)


@pytest.fixture
def frozen_clock() -> Iterator[Callable[[datetime], datetime]]:
    """Stop :mod:`prescreen.clock` at a moment the test picks: ``frozen_clock(datetime(...))``.

    Call it again to move the clock; the real clock is back after the test.
    """
    stack = ExitStack()

    def freeze(at: datetime) -> datetime:
        return stack.enter_context(clock.frozen(at))

    with stack:
        yield freeze


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's PRESCREEN_* variables and FLASK_DEBUG out of every test."""
    for key in list(os.environ):
        if key.startswith("PRESCREEN_") or key in ("FLASK_DEBUG", "FLASK_APP"):
            monkeypatch.delenv(key)


@pytest.fixture
def make_app(tmp_path: Path, database: str) -> Callable[..., Flask]:
    """Return a factory for test apps on this test's temp instance folder and database."""

    def factory(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE": database,
        }
        config.update(overrides)
        return create_app(config)

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """A testing app with CSRF protection on."""
    yield make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for :func:`app`."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for :func:`app`'s commands (``prescreen db init`` …)."""
    return app.test_cli_runner()


def read_csrf_token(client: FlaskClient, path: str, **kwargs: Any) -> str:
    """GET *path* and return the CSRF token from its form, as a browser would post it."""
    response = client.get(path, **kwargs)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token field on {path} ({response.status_code})"
    return match.group(1)


@pytest.fixture
def csrf_token() -> Callable[..., str]:
    """``csrf_token(client, "/s/x/")``: the token of the form on that page, for a real POST."""
    return read_csrf_token


@pytest.fixture
def db(app: Flask) -> Iterator[Database]:
    """A sqlite-utils connection to :func:`app`'s database, closed after the test."""
    connection = connect(app.config["DATABASE"])
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def staff(app: Flask) -> Staff:
    """The study team of :func:`app`: ``staff.add(role=...)``, ``staff.login(client)``, ``staff.logout(client)``."""
    return Staff(app)


@pytest.fixture
def family(client: FlaskClient) -> Family:
    """A family's browser (:func:`client`) on the real study: ``family.start()``, ``.answer()``, ``.walk()``."""
    return Family(client)


@pytest.fixture
def eligible_family(family: Family) -> Family:
    """A family that agreed and answered everything: the result page says *likely eligible*."""
    family.start()
    family.walk(likely_answers())
    return family

"""Moving a SQLite instance to PostgreSQL, and backing PostgreSQL up (issue 21).

A real instance on SQLite (families through the public pages, a referral, a coordinator who looked
at the family's details) is copied with ``prescreen db copy`` into an empty database on a real
PostgreSQL server. The app then runs on PostgreSQL and shows the same families; the audit trail's
hash chain verifies there; a new family gets an id after the copied ones; a second copy, or a copy
of a SQLite file not on the latest schema, is refused and writes nothing. ``prescreen db backup`` on
PostgreSQL writes a pg_dump file that restores into an empty database with every row.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from prescreen.store import connect
from tests.helpers.public import BASE, likely_answers, referral_form, rows, start, walk
from tests.helpers.staff import add_user, csrf, login, show_contacts

COORDINATOR = "crc@pumch.example"


def counts(target: str) -> dict[str, int]:
    """Rows per table of the database at *target* (a SQLite path or a PostgreSQL URL)."""
    db = connect(target)
    try:
        if target.startswith("postgresql://"):
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        names = [row[0] for row in db.execute(sql).fetchall()]
        return {name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}  # noqa: S608
    finally:
        db.close()


def family_refers(app: Flask) -> None:
    client = app.test_client()
    start(client)
    walk(client, likely_answers())
    token = csrf(client, f"{BASE}/refer")
    assert client.post(f"{BASE}/refer", data={**referral_form(), "csrf_token": token}).status_code == 303


@pytest.fixture
def sqlite_instance(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    app = make_app(DATABASE=str(tmp_path / "old.sqlite3"), RATELIMIT_ENABLED=False)
    family_refers(app)
    family_refers(app)
    add_user(app, COORDINATOR)
    coordinator = app.test_client()
    login(coordinator, COORDINATOR)
    assert show_contacts(coordinator, 1).status_code in (200, 302, 303)
    return app


def test_db_copy_moves_every_row_and_the_app_runs_on_postgresql(
    sqlite_instance: Flask, make_app: Callable[..., Flask], postgres_server: Any, tmp_path: Path
) -> None:
    source = sqlite_instance.config["DATABASE"]
    url = postgres_server.create_database("copied")
    result = sqlite_instance.test_cli_runner().invoke(args=["db", "copy", source, url])
    assert result.exit_code == 0, result.output
    assert "copied" in result.output and "password" not in result.output

    before, after = counts(source), counts(url)
    assert {t: n for t, n in after.items() if n} == {t: n for t, n in before.items() if n}
    assert before["screenings"] == 2 and before["referrals"] == 2 and before["audit"] >= 4
    assert before["screening_log"] == 2, "the copy wrote no second log row per screening"

    moved = make_app(DATABASE_URL=url, INSTANCE_PATH=str(tmp_path / "pg-node"), RATELIMIT_ENABLED=False)
    coordinator = moved.test_client()
    assert login(coordinator, COORDINATOR).status_code == 302, "the same account and password"
    queue = coordinator.get("/coordinator/").get_data(as_text=True)
    references = [row[0] for row in rows(sqlite_instance, "SELECT reference FROM referrals")]
    assert all(reference in queue for reference in references)
    verified = moved.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output

    family_refers(moved)
    ids = [row[0] for row in rows(moved, "SELECT id FROM screenings ORDER BY id")]
    assert ids == [1, 2, 3], "a new family's id follows the copied ones"

    again = sqlite_instance.test_cli_runner().invoke(args=["db", "copy", source, url])
    assert again.exit_code != 0 and "already holds rows" in again.output
    assert counts(url)["screenings"] == 3


def test_db_copy_refuses_a_sqlite_file_not_on_the_latest_schema(
    sqlite_instance: Flask, postgres_server: Any, tmp_path: Path
) -> None:
    source = sqlite_instance.config["DATABASE"]
    db = connect(source)
    db.execute("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)")
    db.close()
    url = postgres_server.create_database("refused")
    result = sqlite_instance.test_cli_runner().invoke(args=["db", "copy", source, url])
    assert result.exit_code != 0 and "prescreen db init" in result.output
    assert counts(url) == {}, "nothing was created or copied"


def test_db_backup_on_postgresql_restores_every_row(
    make_app: Callable[..., Flask], postgres_server: Any, tmp_path: Path
) -> None:
    url = postgres_server.create_database("live")
    app = make_app(DATABASE_URL=url, RATELIMIT_ENABLED=False)
    family_refers(app)
    target = tmp_path / "backup.dump"
    result = app.test_cli_runner().invoke(args=["db", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600, "the dump holds families' data: owner only"

    restored = postgres_server.create_database("restored")
    subprocess.run(["pg_restore", "--no-owner", "-d", restored, str(target)], check=True, capture_output=True)  # noqa: S603,S607
    assert counts(restored) == counts(url)
    again = app.test_cli_runner().invoke(args=["db", "backup", str(target)])
    assert again.exit_code != 0 and "already exists" in again.output

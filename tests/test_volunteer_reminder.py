"""The re-check reminder: one e-mail on the family's date, its own consent, no health data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.clock import utc_text
from prescreen.mail.send import deliver_due, make_backend
from prescreen.store import connect, exports, queue, referrals
from prescreen.volunteer import views as volunteer
from tests.helpers.public import BASE, csrf, start, waiting_answers, walk
from tests.helpers.staff import add_referral

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RECHECK = date.today() + timedelta(days=90)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_URL="https://prescreen.test")


@pytest.fixture
def screening(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A real not-eligible-until screening row, handed to the page as the chat's session would."""
    db = connect(app.config["DATABASE"])
    now = utc_text()
    cursor = db.execute(
        "INSERT INTO screenings (token_hash, study_id, version, locale, respondent, status, outcome, "
        "recheck_after, created_at, updated_at) VALUES ('h', 'pumch-pediatric-sjogren', 'v', 'zh', 'guardian', "
        "'completed', 'not_eligible', ?, ?, ?) RETURNING id",
        [RECHECK.isoformat(), now, now],
    )
    row = {
        "id": cursor.fetchone()[0],
        "study_id": "pumch-pediatric-sjogren",
        "locale": "zh",
        "outcome": "not_eligible",
        "recheck_after": RECHECK.isoformat(),
        "status": "completed",
    }
    db.close()
    monkeypatch.setattr(volunteer, "current_screening", lambda: row)
    return row


def post(client: FlaskClient, **data: str) -> Any:
    match = CSRF.search(client.get("/volunteer/reminder?lang=zh").get_data(as_text=True))
    assert match
    return client.post("/volunteer/reminder", data={**data, "csrf_token": match.group(1)})


def test_without_a_screening_the_page_explains_kindly(client: FlaskClient) -> None:
    response = client.get("/volunteer/reminder?lang=zh")
    assert response.status_code == 200 and "没有需要提醒的日期" in response.get_data(as_text=True)


def test_reminder_page_and_mail_follow_the_screening_language(client: FlaskClient, screening: dict[str, Any]) -> None:
    page = client.get("/volunteer/reminder").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "到时提醒我再测一次" in page


def test_reminder_needs_its_own_consent(client: FlaskClient, app: Flask, screening: dict[str, Any]) -> None:
    page = client.get("/volunteer/reminder?lang=zh").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" name="consent"[^>]*>', page)
    assert box and "checked" not in box.group(0)
    response = post(client, email="family@example.com")
    assert response.status_code == 200
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    db.close()


def test_reminder_is_due_only_on_the_date_and_says_nothing_about_health(
    client: FlaskClient, app: Flask, screening: dict[str, Any]
) -> None:
    response = post(client, email="family@example.com", consent="y")
    assert response.status_code == 200 and "我们会按时提醒您" in response.get_data(as_text=True)
    post(client, email="other@example.com", consent="y")  # asked again: still one reminder, new address
    db = connect(app.config["DATABASE"])
    ((key, to, due, subject, text, html),) = db.execute(
        "SELECT idempotency_key, to_addr, next_attempt_at, subject, body_text, body_html FROM outbox"
    ).fetchall()
    assert (key, to, due) == (f"recheck-reminder:{screening['id']}", "other@example.com", f"{RECHECK}T01:00:00Z")
    assert subject == "北京协和医院提醒您：可以再做一次研究初筛了"  # the hospital, never the study
    assert re.search(r"https://prescreen\.test/volunteer/again/[0-9a-f]{20}\s", text)
    for word in ("不符合", "干燥", "利妥昔", "not eligible", "eligible", "sjogren", "pumch", "/s/"):
        assert word not in subject + text + html
    consents = db.execute("SELECT kind, locale, role FROM consents WHERE screening_id = ?", [screening["id"]])
    assert consents.fetchall() == [("recheck_reminder", "zh", "guardian")] * 2

    backend = make_backend(app)
    assert dict(deliver_due(app, db, backend, now=datetime.now(UTC))) == {}, "not before the date"
    on_the_day = datetime(RECHECK.year, RECHECK.month, RECHECK.day, 1, 0, 1, tzinfo=UTC)
    assert dict(deliver_due(app, db, backend, now=on_the_day)) == {"sent": 1}
    assert db.execute("SELECT status, to_addr FROM outbox").fetchall() == [("sent", "deleted")]
    db.close()


def test_after_a_real_chat_ending_not_eligible_until_a_date(make_app: Callable[..., Flask]) -> None:
    """The whole path: the chat's result offers the reminder, which finds the session's screening."""
    app = make_app(PUBLIC_URL="https://prescreen.test", RATELIMIT_ENABLED=False)
    client = app.test_client()
    start(client, "guardian", "zh")
    walk(client, waiting_answers())
    result = client.get("/s/pumch-pediatric-sjogren/result").get_data(as_text=True)
    assert "/volunteer/reminder" in result
    page = client.get("/volunteer/reminder").get_data(as_text=True)
    assert "到时提醒我再测一次" in page
    token = CSRF.search(page)
    assert token
    response = client.post(
        "/volunteer/reminder", data={"email": "mama@example.com", "consent": "y", "csrf_token": token.group(1)}
    )
    assert "我们会按时提醒您" in response.get_data(as_text=True)
    db = connect(app.config["DATABASE"])
    ((recheck,),) = db.execute("SELECT recheck_after FROM screenings").fetchall()
    ((due, locale),) = db.execute("SELECT next_attempt_at, locale FROM outbox").fetchall()
    db.close()
    assert (due, locale) == (f"{recheck}T01:00:00Z", "zh")


def reminder_rows(app: Flask) -> list[tuple[Any, ...]]:
    db = connect(app.config["DATABASE"])
    try:
        return db.execute(
            "SELECT status, to_addr, body_text, body_html, last_error FROM outbox WHERE kind = 'recheck-reminder'"
        ).fetchall()
    finally:
        db.close()


CANCELLED = [("suppressed", "deleted", "", None, "cancelled")]


def test_the_reminder_link_names_no_study_and_leads_on_to_it(
    client: FlaskClient, app: Flask, screening: dict[str, Any]
) -> None:
    post(client, email="family@example.com", consent="y")
    ((_, _, text, html, _),) = reminder_rows(app)
    link = re.search(r"https://prescreen\.test(/volunteer/again/\w+)", text)
    assert link and link.group(0) in html
    response = client.get(link.group(1))
    assert response.status_code == 302 and response.headers["Location"] == "/s/pumch-pediatric-sjogren/"
    unknown = client.get("/volunteer/again/0123456789abcdef0123")
    assert unknown.status_code == 302 and unknown.headers["Location"] == "/", "an old or made-up code: the home page"


def test_deleting_my_answers_cancels_the_reminder_and_forgets_its_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(PUBLIC_URL="https://prescreen.test", RATELIMIT_ENABLED=False)
    client = app.test_client()
    start(client, "guardian", "zh")
    walk(client, waiting_answers())
    token = CSRF.search(client.get("/volunteer/reminder").get_data(as_text=True))
    assert token
    client.post("/volunteer/reminder", data={"email": "mama@example.com", "consent": "y", "csrf_token": token.group(1)})
    assert [row[:2] for row in reminder_rows(app)] == [("pending", "mama@example.com")]

    response = client.post(f"{BASE}/forget", data={"csrf_token": csrf(client, f"{BASE}/forget")})
    assert response.status_code == 303
    assert reminder_rows(app) == CANCELLED
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT count(*) FROM screenings").fetchone() == (0,)
    later = datetime.now(UTC) + timedelta(days=400)
    assert dict(deliver_due(app, db, make_backend(app), now=later)) == {}, "never sent"
    db.close()


def test_withdrawing_cancels_the_reminder_and_forgets_its_address(
    client: FlaskClient, app: Flask, screening: dict[str, Any]
) -> None:
    post(client, email="family@example.com", consent="y")
    db = connect(app.config["DATABASE"])
    contact = referrals.Contact("李妈妈", "mother", "+8613800138000", None, None, "evenings", "zh")
    withdraw = "withdraw-token-for-this-test"
    referrals.create(
        db, screening={**screening, "respondent": "guardian"}, contact=contact, age_band="10-13",
        consent_version="t", guardian_consent=True, alert=None, withdraw_token=withdraw,
    )  # fmt: skip
    db.close()
    path = f"/withdraw/{withdraw}"
    assert client.post(path, data={"csrf_token": csrf(client, path)}).status_code == 303
    assert reminder_rows(app) == CANCELLED


def test_the_team_recording_a_withdrawal_cancels_the_reminder_too(
    client: FlaskClient, app: Flask, screening: dict[str, Any]
) -> None:
    """A family that says "stop" on the phone is as withdrawn as one that used the link."""
    post(client, email="family@example.com", consent="y")
    db = connect(app.config["DATABASE"])
    contact = referrals.Contact("李妈妈", "mother", "+8613800138000", None, None, "evenings", "zh")
    referral, _created = referrals.create(
        db, screening={**screening, "respondent": "guardian"}, contact=contact, age_band="10-13",
        consent_version="t", guardian_consent=True, alert=None, withdraw_token="team-withdraw-test",
    )  # fmt: skip
    # The team's erase form: the family's reference typed in, how they told the team.
    queue.erase(db, referral["id"], "user:1", reason="phone", typed_reference=referral["reference"])
    db.close()
    assert reminder_rows(app) == CANCELLED


def test_the_subject_export_holds_the_reminder_address(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    family = add_referral(app)
    screening = {**family["screening"], "recheck_after": RECHECK.isoformat()}
    monkeypatch.setattr(volunteer, "current_screening", lambda: screening)
    post(app.test_client(), email="remind-me@example.com", consent="y")
    other = add_referral(app, phone="+8613000000002")
    db = connect(app.config["DATABASE"])
    try:
        # What the coordinators' "export everything about this family" button serialises.
        record = exports.subject_record(db, family["id"], "user:1")
        someone_else = exports.subject_record(db, other["id"], "user:1")
    finally:
        db.close()
    assert record is not None and someone_else is not None
    (reminder,) = record["reminders"]
    assert (reminder["to_addr"], reminder["status"], reminder["due"]) == (
        "remind-me@example.com", "pending", f"{RECHECK}T01:00:00Z",
    )  # fmt: skip
    assert someone_else["reminders"] == []

"""The re-check reminder: one e-mail on the family's date, its own consent, no health data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from publickit import start, waiting_answers, walk

from prescreen import volunteer
from prescreen.mail import deliver_due, make_backend
from prescreen.store import connect, utcnow

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RECHECK = date.today() + timedelta(days=90)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_URL="https://prescreen.test")


@pytest.fixture
def screening(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A real not-eligible-until screening row, handed to the page as the chat's session would."""
    db = connect(app.config["DATABASE"])
    now = utcnow()
    cursor = db.execute(
        "INSERT INTO screenings (token_hash, study_id, version, locale, respondent, status, outcome, "
        "recheck_after, created_at, updated_at) VALUES ('h', 'pumch-pediatric-sjogren', 'v', 'zh', 'guardian', "
        "'completed', 'not_eligible', ?, ?, ?)",
        [RECHECK.isoformat(), now, now],
    )
    row = {
        "id": cursor.lastrowid,
        "study_id": "pumch-pediatric-sjogren",
        "locale": "zh",
        "outcome": "not_eligible",
        "recheck_after": RECHECK.isoformat(),
        "status": "completed",
    }
    db.close()
    monkeypatch.setattr(volunteer, "_current_screening", lambda: row)
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
    assert subject == "提醒：可以再次自测了"
    assert "https://prescreen.test/s/pumch-pediatric-sjogren/" in text
    for word in ("不符合", "干燥", "利妥昔", "not eligible", "eligible"):
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

"""The family page's status model as a CRC uses it (issue 18: defects 1, 2, 4, 7, 13, 15).

Real app, real SQLite file, real sign-in, real forms through the Flask client: erasing is apart
from dropping out, menus start blank, mistakes are corrected with a reason that shows in the
history, dates are checked, revealed contact details stay for the visit, an erased family takes
nothing more, and waiting times read sensibly.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.coordinator.shared import waiting
from prescreen.store import transaction
from tests.helpers.staff import add_referral, add_user, csrf, db_of, login, show_contacts

BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def coord(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app)
    assert login(client).status_code == 302
    return client


def page_of(ref: dict) -> str:
    return f"/coordinator/referrals/{ref['id']}"


def post(client: FlaskClient, ref: dict, action: str, prefix: str, data: dict):  # type: ignore[no-untyped-def]
    page = page_of(ref)
    token = csrf(client, page, prefix)
    return client.post(f"{page}/{action}", data={f"{prefix}csrf_token": token, **data})


def status(client: FlaskClient, ref: dict, data: dict):  # type: ignore[no-untyped-def]
    return post(client, ref, "status", "status-", {f"status-{k}": v for k, v in data.items()})


def attempt(client: FlaskClient, ref: dict, data: dict):  # type: ignore[no-untyped-def]
    return post(client, ref, "attempts", "attempt-", {f"attempt-{k}": v for k, v in data.items()})


def erase(client: FlaskClient, ref: dict, data: dict):  # type: ignore[no-untyped-def]
    return post(client, ref, "erase", "erase-", {f"erase-{k}": v for k, v in data.items()})


def one(app: Flask, sql: str, params: list | None = None):  # type: ignore[no-untyped-def]
    db = db_of(app)
    try:
        return db.execute(sql, params or []).fetchone()
    finally:
        db.close()


def set_status(app: Flask, ref: dict, value: str, **columns: str) -> None:
    """Put a referral in a status directly (the flow to get there is tested elsewhere)."""
    db = db_of(app)
    try:
        values = {"status": value, **columns}
        sets = ", ".join(f"{name} = :{name}" for name in values)
        with transaction(db):
            db.execute(f"UPDATE referrals SET {sets} WHERE id = :id", {**values, "id": ref["id"]})  # noqa: S608
    finally:
        db.close()


def audit_details(app: Flask, action: str) -> list[dict]:
    db = db_of(app)
    try:
        return [json.loads(r[0] or "{}") for r in db.execute("SELECT detail FROM audit WHERE action = ?", [action])]
    finally:
        db.close()


def select_html(html: str, name: str) -> str:
    found = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert found, name
    return found.group(0)


def test_every_menu_starts_blank_and_a_blank_save_says_choose_one(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    coord.set_cookie("lang", "zh")
    html = coord.get(page_of(ref)).get_data(as_text=True)
    for name in ("attempt-channel", "attempt-result", "status-status", "erase-reason"):
        menu = select_html(html, name)
        first = re.search(r"<option[^>]*>", menu).group(0)  # type: ignore[union-attr]
        assert 'value=""' in first, name
        assert "selected" not in menu, name  # nothing is chosen for the coordinator
    response = attempt(coord, ref, {"channel": "", "result": ""})
    assert response.status_code == 400 and response.get_data(as_text=True).count("请选择一项") >= 2
    assert one(app, "SELECT count(*) FROM contact_attempts")[0] == 0
    response = status(coord, ref, {"status": ""})
    assert response.status_code == 400 and "请选择一项" in response.get_data(as_text=True)
    assert one(app, "SELECT status FROM referrals")[0] == "new"


@pytest.mark.parametrize(
    "current", ["new", "attempt_2", "contacted", "visit_scheduled", "enrolled", "not_interested", "dropped_out"]
)
def test_the_status_menu_never_offers_erasing(coord: FlaskClient, app: Flask, current: str) -> None:
    ref = add_referral(app)
    set_status(app, ref, current)
    menu = select_html(coord.get(page_of(ref)).get_data(as_text=True), "status-status")
    assert 'value="withdrawn"' not in menu and "delete" not in menu.lower()


def test_erasing_needs_the_typed_reference_and_a_reason(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613400001234")
    set_status(app, ref, "enrolled")
    coord.set_cookie("lang", "zh")
    html = coord.get(page_of(ref)).get_data(as_text=True)
    assert "撤回同意并删除数据" in html
    for data, message in (
        ({"reason": "phone", "confirm": ""}, "请输入该家庭的登记编号以确认"),
        ({"reason": "phone", "confirm": "PS-WRONG1"}, "不是这个家庭的登记编号"),
        ({"reason": "", "confirm": ref["reference"]}, "请选择一项"),
    ):
        response = erase(coord, ref, data)
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
        assert one(app, "SELECT phone, status FROM referrals") == ("+8613400001234", "enrolled")
    assert erase(coord, ref, {"reason": "in_person", "confirm": f" {ref['reference'].lower()} "}).status_code == 302
    assert one(app, "SELECT phone, status FROM referrals") == (None, "withdrawn")
    assert audit_details(app, "referral.status") == [
        {"from": "enrolled", "to": "withdrawn", "erased": True, "erase_reason": "in_person"}
    ]
    history = coord.get(page_of(ref)).get_data(as_text=True)
    assert "已撤回同意（数据已删除）" in history and "家属当面告知" in history


def test_dropping_out_keeps_everything(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613400005678")
    set_status(app, ref, "enrolled", subject_id="SJ-007", consent_date="2026-11-01")
    post(coord, ref, "notes", "note-", {"note-body": "mother will call back"})
    assert status(coord, ref, {"status": "dropped_out", "reason": "family moved away"}).status_code == 302
    row = one(app, "SELECT status, phone, closed_at, subject_id FROM referrals")
    assert row[0] == "dropped_out" and row[1] == "+8613400005678" and row[2] and row[3] == "SJ-007"
    assert one(app, "SELECT answers FROM screenings")[0] != "{}"
    assert one(app, "SELECT count(*) FROM notes")[0] == 1
    assert audit_details(app, "referral.status") == [
        {"from": "enrolled", "to": "dropped_out", "reason": "family moved away"}
    ]


@pytest.mark.parametrize(
    ("closed", "reopened"),
    [("not_interested", "contacted"), ("screen_failed", "contacted"), ("unreachable", "attempt_3")],
)
def test_a_closed_status_is_reopened_by_a_correction_with_a_reason(
    coord: FlaskClient, app: Flask, closed: str, reopened: str
) -> None:
    ref = add_referral(app)
    set_status(app, ref, closed, closed_at="2026-11-20T00:00:00Z", visit_date="2026-11-19")
    response = status(coord, ref, {"status": reopened})
    assert response.status_code == 400 and "Give the reason for this correction." in response.get_data(as_text=True)
    assert one(app, "SELECT status FROM referrals")[0] == closed
    reason = "Mother called back: she had misheard"
    assert status(coord, ref, {"status": reopened, "reason": reason}).status_code == 302
    assert one(app, "SELECT status, closed_at, status_corrected_at IS NOT NULL FROM referrals") == (reopened, None, 1)
    [detail] = audit_details(app, "referral.status")
    assert detail["correction"] is True and detail["reason"] == reason
    assert (detail["from"], detail["to"]) == (closed, reopened)


def test_a_correction_shows_in_the_history_with_who_when_and_why(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    set_status(app, ref, "not_interested")
    coord.set_cookie("lang", "zh")
    before = datetime.now(UTC)
    assert status(coord, ref, {"status": "contacted", "reason": "家长回电，愿意了解"}).status_code == 302
    html = coord.get(page_of(ref)).get_data(as_text=True)
    history = html[html.index('id="history-h"') :]
    item = re.search(r'<li class="correction">(.*?)</li>', history, re.S)
    assert item, "the correction is marked in the history"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item.group(1)))
    assert before.astimezone(BEIJING).strftime("%Y-%m-%d") in text
    assert "状态更正" in text and "不感兴趣 → 已联系上" in text
    assert "家长回电，愿意了解" in text and "coord@pumch.example" in text
    # first contact was empty: setting "contacted" by hand sets it
    assert one(app, "SELECT first_contact_at IS NOT NULL FROM referrals")[0] == 1


def test_correcting_a_mistaken_enrolment_takes_it_back_from_the_log(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, at=datetime.now(UTC) - timedelta(days=10))
    today = datetime.now(BEIJING).date()  # the team's day, as the store counts it
    set_status(app, ref, "visit_scheduled", visit_date=(today - timedelta(days=1)).isoformat())
    data = {"status": "enrolled", "consent_date": today.isoformat(), "subject_id": "SJ-001"}
    assert status(coord, ref, data).status_code == 302
    assert one(app, "SELECT enrolled, visit_scheduled FROM screening_log")[0] == 1
    fix = {"status": "contacted", "reason": "wrong family"}
    assert status(coord, ref, fix).status_code == 302
    assert one(app, "SELECT enrolled, visit_scheduled, referral_status FROM screening_log") == (0, 0, "contacted")


def test_a_visit_is_booked_in_the_booking_form_never_through_the_status_menu(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    set_status(app, ref, "screen_failed", closed_at="2026-11-20T00:00:00Z", visit_date="2026-11-19")
    coord.set_cookie("lang", "zh")
    html = coord.get(page_of(ref)).get_data(as_text=True)
    menu = select_html(html, "status-status")
    assert 'value="visit_scheduled"' not in menu and 'name="status-visit_date"' not in html
    assert 'href="#visit-h"' in html  # the status form points to the booking form
    # a page from before (or a hand-made request) is told where to book, in the page's language
    response = status(coord, ref, {"status": "visit_scheduled", "reason": "看错了"})
    assert response.status_code == 400 and "请在下方" in response.get_data(as_text=True)
    assert one(app, "SELECT status FROM referrals")[0] == "screen_failed"
    # reopened to "contacted" (a correction), the visit is booked again with its time: reminders go
    assert status(coord, ref, {"status": "contacted", "reason": "看错了"}).status_code == 302
    day = (datetime.now(BEIJING) + timedelta(days=3)).date().isoformat()
    assert post(coord, ref, "visit", "visit-", {"visit-day": day, "visit-at": "09:30"}).status_code == 302
    assert one(app, "SELECT status, visit_date, visit_time FROM referrals") == ("visit_scheduled", day, "09:30")
    assert one(app, "SELECT count(*) FROM outbox WHERE idempotency_key LIKE 'visit-reminder:%'")[0] >= 1


def test_enrolled_needs_consent_date_subject_number_and_the_visit_day(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, at=datetime.now(UTC) - timedelta(days=5))
    today = datetime.now(BEIJING).date()  # the team's day, as the store counts it
    set_status(app, ref, "visit_scheduled", visit_date=(today + timedelta(days=2)).isoformat())
    cases = [
        ({"status": "enrolled", "subject_id": "SJ-002"}, "Enter the date the consent form was signed."),
        ({"status": "enrolled", "consent_date": today.isoformat()}, "Enter the subject number."),
        (
            {"status": "enrolled", "consent_date": today.isoformat(), "subject_id": "SJ-002"},
            "enrol the child on or after the visit",
        ),
    ]
    for data, message in cases:
        response = status(coord, ref, data)
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
    set_status(app, ref, "visit_scheduled", visit_date=today.isoformat())
    for consent, message in (
        (today + timedelta(days=1), "This date is in the future."),
        (today - timedelta(days=30), "before the family&#39;s details came in"),
    ):
        response = status(coord, ref, {"status": "enrolled", "consent_date": consent.isoformat(), "subject_id": "X"})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert one(app, "SELECT status FROM referrals")[0] == "visit_scheduled"
    good = {"status": "enrolled", "consent_date": today.isoformat(), "subject_id": "SJ-002"}
    assert status(coord, ref, good).status_code == 302
    assert one(app, "SELECT status, consent_date, subject_id FROM referrals") == (
        "enrolled",
        today.isoformat(),
        "SJ-002",
    )
    assert "subject SJ-002" in coord.get(page_of(ref)).get_data(as_text=True)


def test_an_attempt_before_the_referral_or_in_the_future_is_refused(coord: FlaskClient, app: Flask) -> None:
    referred = datetime.now(UTC) - timedelta(days=2)
    ref = add_referral(app, at=referred)
    for when, message in (
        (referred - timedelta(days=1), "cannot be before the family&#39;s details came in"),
        (datetime.now(UTC) + timedelta(days=1), "cannot be in the future"),
    ):
        at = when.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
        response = attempt(coord, ref, {"channel": "phone", "result": "no_answer", "at": at})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert one(app, "SELECT count(*) FROM contact_attempts")[0] == 0
    ok = (referred + timedelta(hours=1)).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    assert attempt(coord, ref, {"channel": "phone", "result": "no_answer", "at": ok}).status_code == 302
    assert one(app, "SELECT status, first_contact_at IS NOT NULL FROM referrals") == ("attempt_1", 1)


def test_an_attempt_note_is_kept_for_the_team_only(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    assert attempt(coord, ref, {"channel": "phone", "result": "no_answer", "note": "x" * 501}).status_code == 400
    note = "打了两次，忙音，下午再试"
    assert attempt(coord, ref, {"channel": "phone", "result": "no_answer", "note": note}).status_code == 302
    assert one(app, "SELECT note FROM contact_attempts")[0] == note
    assert note in coord.get(page_of(ref)).get_data(as_text=True)
    db = db_of(app)
    try:
        logged = json.dumps(list(db.query("SELECT * FROM screening_log")), ensure_ascii=False)
        audited = json.dumps(list(db.query("SELECT * FROM audit")), ensure_ascii=False)
    finally:
        db.close()
    assert note not in logged and note not in audited


def test_revealed_contact_details_stay_for_the_visit_and_are_audited_once(
    coord: FlaskClient, app: Flask, frozen_clock
) -> None:  # type: ignore[no-untyped-def]
    ref = add_referral(app, phone="+8613900001111")
    start = datetime.now(UTC)
    frozen_clock(start)
    assert "+8613900001111" not in coord.get(page_of(ref)).get_data(as_text=True)
    assert "+8613900001111" in show_contacts(coord, ref["id"]).get_data(as_text=True)
    for result in ("no_answer", "left_message", "reached"):
        response = attempt(coord, ref, {"channel": "phone", "result": result})
        assert response.status_code == 302
        assert "+8613900001111" in coord.get(response.headers["Location"]).get_data(as_text=True)
    assert len(audit_details(app, "referral.view_contact")) == 1
    frozen_clock(start + timedelta(minutes=40))  # 15 minutes after the last save have long passed
    login(coord)  # past the staff idle limit too: sign in again
    assert "+8613900001111" not in coord.get(page_of(ref)).get_data(as_text=True)


def test_an_erased_family_takes_no_attempts_notes_or_status_changes(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    assert erase(coord, ref, {"reason": "phone", "confirm": ref["reference"]}).status_code == 302
    html = coord.get(page_of(ref)).get_data(as_text=True)
    for form in ("attempt-channel", "note-body", "status-status", "erase-confirm"):
        assert f'name="{form}"' not in html
    token = csrf(coord, "/coordinator/")
    for action, data in (
        ("attempts", {"attempt-channel": "phone", "attempt-result": "reached"}),
        ("notes", {"note-body": "called again"}),
        ("status", {"status-status": "contacted", "status-reason": "x"}),
        ("erase", {"erase-reason": "phone", "erase-confirm": ref["reference"]}),
    ):
        prefix = {"attempts": "attempt-", "notes": "note-", "status": "status-", "erase": "erase-"}[action]
        response = coord.post(f"{page_of(ref)}/{action}", data={f"{prefix}csrf_token": token, **data})
        assert response.status_code == 400, action
        assert "nothing more can be recorded" in response.get_data(as_text=True), action
    assert one(app, "SELECT count(*) FROM contact_attempts")[0] == 0
    assert one(app, "SELECT count(*) FROM notes")[0] == 0
    assert one(app, "SELECT status FROM referrals")[0] == "withdrawn"


def test_waiting_reads_sensibly_and_stops_when_closed(app: Flask) -> None:
    start = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    with app.test_request_context("/?lang=zh"):
        assert str(waiting("2026-12-01T01:00:00Z", start + timedelta(seconds=20))) == "不到1分钟"
        assert "0" not in str(waiting("2026-12-01T01:00:00Z", start + timedelta(minutes=25)))
        assert "25" in str(waiting("2026-12-01T01:00:00Z", start + timedelta(minutes=25)))
        closed = waiting("2026-12-01T01:00:00Z", start + timedelta(days=30), closed_at="2026-12-03T02:00:00Z")
        assert "2" in str(closed) and "30" not in str(closed)


def test_a_closed_family_page_says_closed_after_and_labels_are_a_crcs(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, at=datetime.now(UTC) - timedelta(days=20))
    set_status(app, ref, "attempt_1")
    coord.set_cookie("lang", "zh")
    assert "已尝试联系1次（未联系上）" in coord.get(page_of(ref)).get_data(as_text=True)
    closed_at = (datetime.now(UTC) - timedelta(days=17)).isoformat(timespec="seconds").replace("+00:00", "Z")
    set_status(app, ref, "not_interested", closed_at=closed_at, visit_date="2026-12-24")
    html = coord.get(page_of(ref)).get_data(as_text=True)
    assert "（3天后关闭）" in html and "20天" not in html  # Chinese brackets on a Chinese page
    assert '<span class="nowrap">访视日期 2026-12-24</span>' in html

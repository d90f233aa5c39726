"""Visits, the checklist's checks, the PI sign-off, the call guide and the print views, through the
real Flask client on a real SQLite file and the real Sjögren's study."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.staff import REVIEW, add_referral, add_user, csrf, db_of, login

TEAM = "team@pumch.example"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Beijing


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app(STUDY_TEAM_EMAIL=TEAM, STUDY_CONTACT_PHONE="010-69150000", STUDY_CONTACT_EMAIL="ss@pumch.example")


@pytest.fixture
def coord(app: Flask, client: FlaskClient, frozen_clock) -> FlaskClient:  # type: ignore[no-untyped-def]
    frozen_clock(NOW)
    add_user(app)
    assert login(client).status_code == 302
    return client


def page(referral_id: int) -> str:
    return f"/coordinator/referrals/{referral_id}"


def set_status(app: Flask, referral_id: int, status: str) -> None:
    db = db_of(app)
    try:
        db.execute("UPDATE referrals SET status = ? WHERE id = ?", [status, referral_id])
        db.conn.commit()
    finally:
        db.close()


def book(client: FlaskClient, referral_id: int, day: str, at: str):  # type: ignore[no-untyped-def]
    token = csrf(client, page(referral_id))  # any form's token on the page (the booking form may be absent)
    return client.post(f"{page(referral_id)}/visit", data={"visit-csrf_token": token, "visit-day": day, "visit-at": at})


def outbox_rows(app: Flask, referral_id: int) -> list[dict]:
    db = db_of(app)
    try:
        return list(
            db.query(
                "SELECT * FROM outbox WHERE idempotency_key LIKE ? ORDER BY id", [f"visit-reminder:{referral_id}:%"]
            )
        )
    finally:
        db.close()


def referral_row(app: Flask, referral_id: int) -> dict:
    db = db_of(app)
    try:
        return next(db.query("SELECT * FROM referrals WHERE id = ?", [referral_id]))
    finally:
        db.close()


def test_booking_sets_the_visit_and_queues_both_reminders_for_the_day_before(app, coord):
    ref = add_referral(app, REVIEW, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    assert book(coord, ref["id"], "2026-12-09", "09:30").status_code == 302
    row = referral_row(app, ref["id"])
    assert (row["status"], row["visit_date"], row["visit_time"]) == ("visit_scheduled", "2026-12-09", "09:30")
    rows = outbox_rows(app, ref["id"])
    assert {r["kind"] for r in rows} == {"visit-reminder-family", "visit-reminder-team"}
    assert all(r["status"] == "pending" for r in rows)
    # the day before at 09:00 Beijing = 01:00 UTC
    assert {r["next_attempt_at"] for r in rows} == {"2026-12-08T01:00:00Z"}
    family = next(r for r in rows if r["kind"] == "visit-reminder-family")
    team = next(r for r in rows if r["kind"] == "visit-reminder-team")
    assert family["to_addr"] == "mum@example.cn" and family["locale"] == "zh"
    assert "09:30" in family["body_text"] and "北京协和医院" in family["body_text"]
    assert "帅府园" in family["body_text"] and "010-69150000" in family["body_text"]
    assert team["to_addr"] == TEAM and ref["reference"] in team["body_text"]
    for r in rows:  # no health data, no study name, no name
        text = r["subject"] + r["body_text"]
        for word in ("干燥", "Sjögren", "乙肝", "贝利尤", "利妥昔", "王小明", "13800138000", "研究"):
            assert word not in r["subject"], word
        for word in ("干燥", "Sjögren", "乙肝", "贝利尤", "利妥昔", "王小明", "13800138000"):
            assert word not in text, word
    html = coord.get(page(ref["id"])).get_data(as_text=True)
    assert "2026-12-09 09:30" in html


def test_rebooking_cancels_the_old_reminders_and_queues_new_ones(app, coord):
    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    book(coord, ref["id"], "2026-12-09", "09:30")  # a double click changes nothing
    assert len(outbox_rows(app, ref["id"])) == 2
    book(coord, ref["id"], "2026-12-11", "14:00")
    rows = outbox_rows(app, ref["id"])
    old, new = rows[:2], rows[2:]
    assert all(r["status"] == "suppressed" and r["to_addr"] == "deleted" and r["body_text"] == "" for r in old)
    assert [r["status"] for r in new] == ["pending", "pending"]
    assert {r["next_attempt_at"] for r in new} == {"2026-12-10T01:00:00Z"}
    assert "14:00" in new[0]["body_text"]
    # cancelling the visit cancels them too and goes back to "contacted"
    token = csrf(coord, page(ref["id"]))
    coord.post(f"{page(ref['id'])}/visit/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert all(r["status"] == "suppressed" for r in outbox_rows(app, ref["id"]))
    row = referral_row(app, ref["id"])
    assert (row["status"], row["visit_date"], row["visit_time"]) == ("contacted", None, None)


def test_erasing_the_family_cancels_the_reminders(app, coord):
    from prescreen.store import referrals

    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    db = db_of(app)
    try:
        referrals.withdraw_referral(db, ref["id"])
    finally:
        db.close()
    rows = outbox_rows(app, ref["id"])
    assert rows and all(r["status"] == "suppressed" and r["to_addr"] == "deleted" for r in rows)


def test_a_phone_only_family_gets_no_e_mail_and_shows_as_call_to_remind(app, coord):
    ref = add_referral(app, email="")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-04", "10:00")
    assert [r["kind"] for r in outbox_rows(app, ref["id"])] == ["visit-reminder-team"]
    assert "电话" in outbox_rows(app, ref["id"])[0]["body_text"]
    week = coord.get("/coordinator/visits").get_data(as_text=True)
    assert ref["reference"] in week and "2026-12-04 10:00" in week
    assert "电话提醒" in week or "Call to remind" in week


def test_a_visit_cannot_be_booked_before_the_family_was_reached(app, coord):
    ref = add_referral(app)
    book(coord, ref["id"], "2026-12-09", "09:30")
    assert referral_row(app, ref["id"])["status"] == "new"
    assert outbox_rows(app, ref["id"]) == []


def mark(client: FlaskClient, referral_id: int, criterion: str, verdict: str, source: str):  # type: ignore[no-untyped-def]
    token = csrf(client, page(referral_id), "mark-")
    return client.post(
        f"{page(referral_id)}/checks",
        data={"mark-csrf_token": token, "mark-criterion": criterion, "mark-verdict": verdict, "mark-source": source},
    )


def open_ids(client: FlaskClient, referral_id: int) -> list[str]:
    """The criteria the page offers a check for (those left open by the form)."""
    html = client.get(page(referral_id)).get_data(as_text=True)
    return re.findall(r'name="mark-criterion" value="([^"]+)"', html)


def test_checklist_items_are_confirmed_with_their_source_and_a_pi_signs_off(app, coord, client):
    ref = add_referral(app, REVIEW)
    ids = open_ids(coord, ref["id"])
    assert ids
    assert mark(coord, ref["id"], ids[0], "confirmed", "").status_code == 400  # a source is needed
    for cid in ids:
        assert mark(coord, ref["id"], cid, "confirmed", "lab_report").status_code == 302
    html = coord.get(page(ref["id"])).get_data(as_text=True)
    assert "化验单" in html or "Lab report" in html
    # a coordinator may not sign off
    token = csrf(coord, page(ref["id"]))
    assert coord.post(f"{page(ref['id'])}/signoff", data={"csrf_token": token}).status_code == 403
    client.post("/staff/logout", data={"csrf_token": token})
    add_user(app, "pi@pumch.example", "pi")
    assert login(client, "pi@pumch.example").status_code == 302
    token = csrf(client, page(ref["id"]))
    assert client.post(f"{page(ref['id'])}/signoff", data={"csrf_token": token}).status_code == 302
    html = client.get(page(ref["id"])).get_data(as_text=True)
    assert "pi@pumch.example" in html
    # withdrawing needs a reason, and keeps it
    token = csrf(client, page(ref["id"]), "signoff-")
    assert client.post(f"{page(ref['id'])}/signoff/withdraw", data={"signoff-csrf_token": token}).status_code == 400
    client.post(
        f"{page(ref['id'])}/signoff/withdraw",
        data={"signoff-csrf_token": token, "signoff-reason": "化验单日期超过3个月，需复查"},
    )
    db = db_of(app)
    try:
        (row,) = db.query("SELECT * FROM eligibility_signoffs")
        actions = [r["action"] for r in db.query("SELECT action FROM audit WHERE record_id = ?", [str(ref["id"])])]
    finally:
        db.close()
    assert row["withdrawn_at"] and row["withdraw_reason"] == "化验单日期超过3个月，需复查"
    assert "referral.signoff" in actions and "referral.signoff_withdraw" in actions and "referral.check" in actions


def test_the_print_view_has_no_forms_or_navigation_and_the_sheet_is_chinese(app, coord):
    ref = add_referral(app, REVIEW)
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    html = coord.get(f"{page(ref['id'])}/print").get_data(as_text=True)
    assert "<form" not in html and "<nav" not in html and "<select" not in html
    assert ref["reference"] in html and "2026-12-09 09:30" in html
    sheet = coord.get(f"{page(ref['id'])}/eligibility", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<form" not in sheet and "<nav" not in sheet
    assert 'lang="zh-CN"' in sheet and "签字" in sheet
    assert "年龄5–18岁" in sheet
    assert not re.search(r"\b(inc|exc|chk)_[a-z_]+\b", sheet)  # labels, not codes
    db = db_of(app)
    try:
        views = [r["detail"] for r in db.query("SELECT detail FROM audit WHERE action = 'referral.view'")]
    finally:
        db.close()
    assert '{"view": "print"}' in views and '{"view": "eligibility_sheet"}' in views


def test_the_call_guide_lists_the_not_sure_answers_and_documents_from_the_sheets(app, coord):
    ref = add_referral(app, REVIEW)
    html = coord.get(page(ref["id"])).get_data(as_text=True)
    assert 'id="guide-h"' in html
    assert "乙肝" in html or "乙型肝炎" in html  # the question the parent was not sure about
    assert ref["reference"] in html.split('id="guide-h"')[1]  # the script quotes the reference


def test_reminders_wait_for_the_day_before_then_the_sender_delivers_them(app, coord, tmp_path):
    from prescreen.mail import send

    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    db = db_of(app)
    try:
        backend = send.make_backend(app)
        assert send.deliver_due(app, db, backend, now=datetime(2026, 12, 8, 0, 59, tzinfo=UTC))["sent"] == 0
        assert send.deliver_due(app, db, backend, now=datetime(2026, 12, 8, 1, 0, tzinfo=UTC))["sent"] == 2
    finally:
        db.close()
    mails = sorted((tmp_path / "instance" / "mail").glob("*.eml"))
    assert len(mails) == 2
    assert any("mum@example.cn" in m.read_text() for m in mails)


def test_a_status_change_away_from_the_visit_cancels_its_reminders(app, coord):
    from prescreen.store import referrals

    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    db = db_of(app)
    try:
        referrals.set_status(db, ref["id"], "not_interested")
    finally:
        db.close()
    assert {r["status"] for r in outbox_rows(app, ref["id"])} == {"suppressed"}


ZH = {"Accept-Language": "zh-CN"}


def sheet_row(html: str, label: str) -> str:
    """The sheet's table row (or print view's) whose criterion cell holds *label*."""
    rows = [row for row in html.split("<tr")[1:] if label in row.split("</td>")[0]]
    assert len(rows) == 1, label
    return rows[0]


def test_an_either_or_arm_not_needed_is_never_printed_as_not_met(app, coord):
    """Walk of issue 18, finding 1: steroid plus one immunosuppressant meets the resistance
    criterion though the "two immunosuppressants" arm does not; the PI's sheet must not say 不符合."""
    ref = add_referral(app)  # likely eligible: a steroid plus one immunosuppressant
    db = db_of(app)
    try:
        (criteria,) = db.execute(
            "SELECT s.criteria FROM referrals r JOIN screenings s ON s.id = r.screening_id WHERE r.id = ?", [ref["id"]]
        ).fetchone()
    finally:
        db.close()
    statuses = json.loads(criteria)
    assert (statuses["inc_res_tx_2is"], statuses["inc_res_tx_pred_is"]) == ("not_met", "met")
    sheet = coord.get(f"{page(ref['id'])}/eligibility", headers=ZH).get_data(as_text=True)
    row = sheet_row(sheet, "用过2种或以上免疫抑制剂")
    assert "不符合" not in row and "另一项已满足（用过激素加免疫抑制剂），本项不需要" in row
    assert (
        "不符合" not in sheet.split("<tbody>")[1].split("</tbody>")[0]
    )  # no criterion of a likely-eligible family reads 不符合
    printed = coord.get(f"{page(ref['id'])}/print", headers=ZH).get_data(as_text=True)
    row = sheet_row(printed, "用过2种或以上免疫抑制剂")
    assert "符合" in row and "不符合" not in row and "另一项已满足" in row
    checklist = coord.get(page(ref["id"]), headers=ZH).get_data(as_text=True)
    met = checklist.split('class="group-met"')[1].split('class="group-')[0]
    assert "用过2种或以上免疫抑制剂" in met  # the checklist files it under 符合 too
    assert "不符合 (0)" in checklist


def test_a_past_date_is_refused_and_a_visit_too_soon_says_no_reminder_goes(app, coord):
    """Walk of issue 18, finding 3 (now: Wednesday 2026-12-02 11:00 Beijing)."""
    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    for day in ("2025-12-05", "2026-12-01"):
        response = book(coord, ref["id"], day, "09:30")
        assert response.status_code == 400 and "This date has already passed" in response.get_data(as_text=True)
    assert referral_row(app, ref["id"])["status"] == "contacted" and outbox_rows(app, ref["id"]) == []
    # tomorrow 10:00: its reminder was due today 09:00, already gone by: none queued, and it says so
    response = book(coord, ref["id"], "2026-12-03", "10:00")
    assert response.status_code == 302 and outbox_rows(app, ref["id"]) == []
    html = coord.get(page(ref["id"]), headers=ZH).get_data(as_text=True)
    assert "too soon for the day-before reminder" in html  # the flash (in the booking's language)
    panel = html.split('id="visit-h"')[1].split("</section>")[0]
    assert "没有待发送的提醒邮件" in panel and "待发送" not in panel.replace("没有待发送的", "")
    week = coord.get("/coordinator/visits", headers=ZH).get_data(as_text=True)
    card = week.split(ref["reference"])[0].rsplit('<li class="visit-card', 1)[1] + week.split(ref["reference"])[1]
    assert "电话提醒" in card.split("</li>")[0] or "Call to remind" in card.split("</li>")[0]
    # later today is still allowed (the visit was moved up), and also queues nothing
    assert book(coord, ref["id"], "2026-12-02", "16:00").status_code == 302
    assert referral_row(app, ref["id"])["visit_date"] == "2026-12-02" and outbox_rows(app, ref["id"]) == []


def test_rebooked_reminders_are_listed_once_and_cancelling_asks_first(app, coord):
    """Walk of issue 18, findings 3 and 9."""
    ref = add_referral(app, email="mum@example.cn")
    set_status(app, ref["id"], "contacted")
    book(coord, ref["id"], "2026-12-09", "09:30")
    book(coord, ref["id"], "2026-12-10", "09:30")
    book(coord, ref["id"], "2026-12-11", "09:30")
    assert len(outbox_rows(app, ref["id"])) == 6
    panel = coord.get(page(ref["id"]), headers=ZH).get_data(as_text=True).split('id="visit-h"')[1]
    panel = panel.split("</section>")[0]
    assert panel.count("<li>") == 2 and "已取消" not in panel and panel.count("待发送") == 2
    # the cancel button opens a question (no script needed); a post without the answer cancels nothing
    assert '<details class="confirm-cancel">' in panel and "提醒邮件也会一起取消" in panel
    token = csrf(coord, page(ref["id"]))
    response = coord.post(f"{page(ref['id'])}/visit/cancel", data={"csrf_token": token})
    assert response.status_code == 302 and "cancel=visit" in response.location
    assert referral_row(app, ref["id"])["status"] == "visit_scheduled"
    asked = coord.get(response.location, headers=ZH).get_data(as_text=True)
    assert '<details class="confirm-cancel" open>' in asked
    coord.post(f"{page(ref['id'])}/visit/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert referral_row(app, ref["id"])["status"] == "contacted"
    panel = coord.get(page(ref["id"]), headers=ZH).get_data(as_text=True).split('id="visit-h"')[1]
    panel = panel.split("</section>")[0]
    assert panel.count("<li>") == 2 and panel.count("已取消") == 2  # the last booking's two, once each


def test_visits_this_week_is_monday_to_sunday_with_today_marked(app, coord):
    """Walk of issue 18, finding 11: Wednesday 2026-12-02 shows 11-30 to 12-06."""
    refs = {}
    for day in ("2026-12-02", "2026-12-06", "2026-12-07"):
        ref = add_referral(app, email="mum@example.cn")
        set_status(app, ref["id"], "contacted")
        book(coord, ref["id"], day, "10:00")
        refs[day] = ref["reference"]
    week = coord.get("/coordinator/visits", headers=ZH).get_data(as_text=True)
    assert "2026-11-30 至 2026-12-06" in week or "2026-11-30 to 2026-12-06" in week
    assert refs["2026-12-02"] in week and refs["2026-12-06"] in week and refs["2026-12-07"] not in week
    assert week.count('class="visit-day') == 7 and "星期一 2026-11-30" in week
    today = week.split('class="visit-day is-today"')[1].split("</section>")[0]
    assert "2026-12-02" in today and "今天" in today and refs["2026-12-02"] in today
    assert 'href="/coordinator/visits?from=2026-11-23">上一周' in week
    assert 'href="/coordinator/visits?from=2026-12-07">下一周' in week
    following = coord.get("/coordinator/visits?from=2026-12-07", headers=ZH).get_data(as_text=True)
    assert refs["2026-12-07"] in following and refs["2026-12-06"] not in following
    assert "is-today" not in following and "回到本周" in following
    # any day asks for its whole week
    assert refs["2026-12-06"] in coord.get("/coordinator/visits?from=2026-12-01").get_data(as_text=True)

"""A coordinator books a screening visit on a family's page (zh-CN, desktop and phone): the visit
shows in 本周就诊 and both day-before reminders (family and team) wait in the outbox.
Screenshots go to /tmp/shots-H2 for a human to look at."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from prescreen import clock
from tests.browser.test_coordinator_browser import sign_in
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import REVIEW, add_referral, add_user, db_of

SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-H2")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TEAM = "team@pumch.example"


@pytest.fixture
def live_app_config(live_app_config: dict[str, Any]) -> dict[str, Any]:
    return {**live_app_config, "STUDY_TEAM_EMAIL": TEAM, "STUDY_CONTACT_PHONE": "010-69150000"}


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_booked_visit_shows_this_week_and_queues_both_reminders(live_server, new_context, device) -> None:
    app = live_server.app
    add_user(app, "crc@pumch.example", "coordinator")
    family = add_referral(app, REVIEW, reference="PS-VISIT7", email="mum@example.cn")
    db = db_of(app)
    try:
        db.execute("UPDATE referrals SET status = 'contacted' WHERE id = ?", [family["id"]])
        db.conn.commit()
    finally:
        db.close()
    SHOTS.mkdir(exist_ok=True)
    page = new_context(locale="zh-CN", viewport=VIEWPORTS[device]).new_page()
    sign_in(page, live_server.url, "crc@pumch.example")
    page.goto(live_server.url + f"/coordinator/referrals/{family['id']}")
    day = (clock.today() + timedelta(days=2)).isoformat()
    page.locator("#visit-day").fill(day)
    page.locator("#visit-at").fill("09:30")
    page.get_by_role("button", name="预约就诊").click()
    expect(page.locator(".flash")).to_contain_text("已预约就诊", use_inner_text=True)
    panel = page.locator("section.visit-panel")
    assert f"{day} 09:30" in panel.inner_text()
    assert "给家属的提醒：待发送" in panel.inner_text() and "给团队的提醒：待发送" in panel.inner_text()
    assert_no_axe_violations(page)
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"visit-booked-{device}.png"))
    page.locator("#guide-h").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"call-guide-{device}.png"))

    page.get_by_role("link", name="本周就诊").click()
    if clock.today().weekday() >= 5:  # Saturday or Sunday: in two days is next week (Monday to Sunday)
        page.get_by_role("link", name="下一周").click()
    card = page.locator("li.visit-card", has_text="PS-VISIT7")
    assert f"{day} 09:30" in card.inner_text() and "家属提醒邮件：待发送" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[device]["width"]
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / f"visits-week-{device}.png"), full_page=True)

    db = db_of(app)
    try:
        rows = list(db.query("SELECT kind, to_addr, status FROM outbox WHERE kind LIKE 'visit-reminder-%'"))
    finally:
        db.close()
    assert sorted((r["kind"], r["to_addr"], r["status"]) for r in rows) == [
        ("visit-reminder-family", "mum@example.cn", "pending"),
        ("visit-reminder-team", TEAM, "pending"),
    ]

    page.goto(live_server.url + f"/coordinator/referrals/{family['id']}/eligibility")
    assert page.locator("form, nav").count() == 0 and re.search("PI签字", page.inner_text("body"))
    page.screenshot(path=str(SHOTS / f"eligibility-sheet-{device}.png"), full_page=True)
    page.goto(live_server.url + f"/coordinator/referrals/{family['id']}/print")
    expect(page.locator("form, nav")).to_have_count(0)
    page.emulate_media(media="print")
    page.screenshot(path=str(SHOTS / f"print-family-{device}.png"), full_page=True)

"""A coordinator's morning in a real browser: sign in, open the oldest family, call, book a visit."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import PASSWORD, REVIEW, add_referral, add_screening, add_user, days_ago

#: Screenshots for a human to look at (default /tmp/shots).
SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots")
DESKTOP = {"width": 1280, "height": 800}


def funnel_count(page, stage: str) -> int:  # type: ignore[no-untyped-def]
    page.goto(page.url.split("/coordinator")[0] + "/coordinator/funnel")
    return int(page.locator(f'td[data-stage="{stage}"]').inner_text())


def sign_in(page, url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/coordinator/")
    assert "/staff/login" in page.url
    page.get_by_label(re.compile("E-mail|电子邮箱")).fill(email)
    page.get_by_label(re.compile("^(Password|密码)$")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(Sign in|登录)$")).click()
    page.wait_for_url(re.compile(r"/coordinator/$"))


def test_coordinator_walk_logs_attempts_books_a_visit_and_the_funnel_moves(live_server, new_context) -> None:
    app = live_server.app
    add_user(app, "admin@pumch.example", "admin")
    oldest = add_referral(app, at=days_ago(6), reference="PS-OLD777", locale="zh")
    add_referral(app, REVIEW, at=days_ago(0.2), reference="PS-NEW888", locale="en")
    add_screening(app, {"dob": "2015-03", "diagnosis": "no"})
    SHOTS.mkdir(exist_ok=True)
    page = new_context(viewport=DESKTOP).new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))

    page.goto(live_server.url + "/staff/login")
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "coord-login-en.png"), full_page=True)
    sign_in(page, live_server.url, "admin@pumch.example")
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "coord-queue-en.png"), full_page=True)
    rows = page.locator("table.queue tbody tr")
    assert "PS-NEW888" in rows.first.inner_text()  # newest first
    old = rows.filter(has_text="PS-OLD777")
    assert "overdue" in (old.get_attribute("class") or "")
    before = funnel_count(page, "visit_scheduled")
    assert before == 0 and funnel_count(page, "referred") == 2

    page.goto(live_server.url + "/coordinator/")
    page.get_by_role("link", name="PS-OLD777").click()
    assert page.url.endswith(f"/coordinator/referrals/{oldest['id']}")
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Show contact details").click()
    expect(page.locator('a[href="tel:+8613800138000"]')).to_be_visible()

    # two attempts: no answer, then reached on WeChat
    page.get_by_label("Channel").select_option("phone")
    page.get_by_label("Outcome of the attempt").select_option("no_answer")
    page.get_by_role("button", name="Save attempt").click()
    expect(page.locator(".flash")).to_contain_text("Tried once, not reached", use_inner_text=True)
    page.get_by_label("Channel").select_option("wechat")
    page.get_by_label("Outcome of the attempt").select_option("reached")
    page.get_by_role("button", name="Save attempt").click()
    expect(page.locator(".flash")).to_contain_text("Contacted", use_inner_text=True)
    # book the screening visit: in the booking form (the status menu points there, it never books)
    expect(page.locator('#status-status option[value="visit_scheduled"]')).to_have_count(0)
    page.locator(".book-visit-hint a").click()
    page.get_by_label("Visit date").fill((date.today() + timedelta(days=1)).isoformat())
    page.get_by_label("Time (Beijing)").fill("09:30")
    page.get_by_role("button", name="Book the visit").click()
    expect(page.locator(".flash")).to_contain_text("Visit booked for", use_inner_text=True)
    assert page.locator("ol.log-list li").count() >= 2
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "coord-referral-en.png"))
    page.locator("#checklist-h").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "coord-checklist-en.png"))
    page.locator("#answers-h").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "coord-answers-en.png"))

    assert funnel_count(page, "visit_scheduled") == 1
    assert funnel_count(page, "contacted") == 1
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "coord-funnel-en.png"), full_page=True)
    for path in ("/coordinator/log", "/coordinator/studies", "/coordinator/audit"):
        page.goto(live_server.url + path)
        assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "coord-audit-en.png"), full_page=True)
    assert hosts == {urlsplit(live_server.url).netloc}

    # The same pages in Chinese, as most of the team reads them.
    zh = new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    sign_in(zh, live_server.url, "admin@pumch.example")
    assert zh.locator("html").get_attribute("lang") == "zh-CN"
    expect(zh.locator("body")).to_contain_text("待联系名单")
    assert_no_axe_violations(zh)
    zh.screenshot(path=str(SHOTS / "coord-queue-zh.png"), full_page=True)
    zh.goto(live_server.url + f"/coordinator/referrals/{oldest['id']}")
    expect(zh.locator("body")).to_contain_text("入排标准核对表")
    assert_no_axe_violations(zh)
    zh.screenshot(path=str(SHOTS / "coord-referral-zh.png"))
    zh.locator("#checklist-h").scroll_into_view_if_needed()
    zh.screenshot(path=str(SHOTS / "coord-checklist-zh.png"))
    zh.goto(live_server.url + "/coordinator/funnel")
    assert_no_axe_violations(zh)
    zh.screenshot(path=str(SHOTS / "coord-funnel-zh.png"), full_page=True)
    # phone-sized: the queue still works
    phone = new_context(locale="zh-CN").new_page()
    sign_in(phone, live_server.url, "admin@pumch.example")
    phone.screenshot(path=str(SHOTS / "coord-queue-zh-phone.png"), full_page=True)

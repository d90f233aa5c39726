"""An admin reads the funnel, the reports page and the audit trail in Chinese (desktop and phone):
the reasons chart speaks the sheets' reason wording, never a criterion's positive label or code,
and nothing is wider than the screen. Screenshots go to /tmp/shots-H4 for a human to look at."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prescreen.store import audit, referrals, sources
from tests.browser.test_coordinator_browser import sign_in
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import NOT_ELIGIBLE, add_referral, add_screening, add_user, db_of

SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-H4")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
BELIMUMAB_REASON = "以前用过贝利尤单抗（无论多久以前）的孩子不能参加。"
HBV_REASON = "乙肝表面抗原阳性不能参加，因为利妥昔单抗可能让乙肝病毒重新活动。"


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_reasons_chart_uses_reason_wording_on_every_screen(live_server, new_context, device) -> None:
    app = live_server.app
    add_user(app, "pi@pumch.example", "admin")
    db = db_of(app)
    try:
        poster = sources.add(db, "pumch-pediatric-sjogren", "儿科门诊候诊区海报（三楼）", "cli")
    finally:
        db.close()
    for _ in range(3):
        add_screening(app, NOT_ELIGIBLE, source_id=poster.id)
    for answers in ({}, {"dob": "2015-03"}, {"dob": "2015-03"}):  # left unfinished two days ago
        add_screening(app, answers, at=datetime.now(UTC) - timedelta(days=2), complete=False)
    family = add_referral(app, reference="PS-FAIL22")
    db = db_of(app)
    try:
        referrals.set_status(db, family["id"], "screen_failed", criterion="exc_hbv_sag")
        detail = {"from": "visit_scheduled", "to": "screen_failed", "criterion": "exc_hbv_sag"}
        audit.record(db, "user:1", "referral.status", "referral", family["id"], detail)
    finally:
        db.close()
    SHOTS.mkdir(exist_ok=True)
    width = VIEWPORTS[device]["width"]
    page = new_context(locale="zh-CN", viewport=VIEWPORTS[device]).new_page()
    sign_in(page, live_server.url, "pi@pumch.example")

    page.goto(live_server.url + "/coordinator/funnel")
    chart = page.locator("svg.reasons").first
    assert BELIMUMAB_REASON in chart.text_content()
    assert "从未用过贝利尤单抗" not in chart.text_content() and "exc_" not in page.inner_text("main")
    assert "第一个" in page.inner_text("main")  # only the first reason counts, and the page says so
    assert HBV_REASON in page.locator("svg.reasons").nth(1).text_content()
    assert "孩子是哪年哪月出生的？" in page.locator("svg.stopped").text_content()  # where families stopped
    assert "儿科门诊候诊区海报（三楼）" in page.locator("svg.sources").text_content()  # where families came from
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / f"funnel-{device}.png"), full_page=True)

    page.get_by_role("link", name="统计报表").click()
    assert HBV_REASON in page.locator("svg.reasons").text_content()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / f"reports-{device}.png"), full_page=True)

    page.get_by_role("link", name="稽查轨迹").click()
    page.get_by_label("家庭编号").fill("PS-FAIL22")
    page.get_by_role("button", name="显示").click()
    main = page.inner_text("main")
    assert "PS-FAIL22" in main and HBV_REASON in main and "referral.status" not in main and "{" not in main
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto(live_server.url + "/coordinator/log")
    assert HBV_REASON in page.inner_text("main") and page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SHOTS / f"log-{device}.png"), full_page=True)
    page.goto(live_server.url + "/coordinator/audit?record=PS-FAIL22")
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / f"audit-{device}.png"), full_page=True)

"""A CRC corrects a status and a family withdraws consent, in a real browser (zh-CN, desktop and phone).

Erasing is never preselected and needs the family's reference code typed in; a correction with
its reason shows in the history with who, when and from → to. Screenshots go to /tmp/shots-H1
for a human to look at.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_coordinator_browser import sign_in
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import add_referral, add_user, db_of

SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots-H1")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_correction_shows_in_the_history_and_erasing_needs_the_typed_code(live_server, new_context, device) -> None:  # type: ignore[no-untyped-def]
    app = live_server.app
    add_user(app, "crc@pumch.example", "coordinator")
    family = add_referral(app, reference="PS-STAT7K", phone="+8613700002222")
    db = db_of(app)
    try:
        db.execute("UPDATE referrals SET status = 'not_interested' WHERE id = ?", [family["id"]])
        db.conn.commit()
    finally:
        db.close()
    SHOTS.mkdir(exist_ok=True)
    page = new_context(locale="zh-CN", viewport=VIEWPORTS[device]).new_page()
    sign_in(page, live_server.url, "crc@pumch.example")
    page.goto(live_server.url + f"/coordinator/referrals/{family['id']}")

    # every menu starts blank; the status menu has no way to erase
    for menu in ("#attempt-channel", "#attempt-result", "#status-status", "#erase-reason"):
        assert page.locator(menu).input_value() == "", menu
    expect(page.locator('#status-status option[value="withdrawn"]')).to_have_count(0)

    # reopen "not interested" by a correction: refused without a reason, kept with one
    page.locator("#status-status").select_option("contacted")
    page.get_by_role("button", name="保存状态").click()
    expect(page.locator("#status-reason-errors")).to_contain_text("请填写更正原因", use_inner_text=True)
    page.locator("#status-status").select_option("contacted")
    page.locator("#status-reason").fill("家长回电，之前是误会")
    page.get_by_role("button", name="保存状态").click()
    expect(page.locator(".flash")).to_contain_text("状态已更正为", use_inner_text=True)
    entry = page.locator("ol.history li.correction")
    assert entry.count() == 1
    text = entry.inner_text()
    assert "状态更正" in text and "不感兴趣 → 已联系上" in text
    assert "家长回电，之前是误会" in text and "crc@pumch.example" in text
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text)
    assert_no_axe_violations(page)
    entry.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"status-correction-{device}.png"))

    # the visit is booked in its own form: the status menu points there; screen-fail reasons read as reasons
    expect(page.locator('#status-status option[value="visit_scheduled"]')).to_have_count(0)
    expect(page.locator("#status-visit_date")).to_have_count(0)
    expect(page.locator(".book-visit-hint a")).to_contain_text("筛选访视", use_inner_text=True)
    reasons = page.locator("#status-criterion option").all_inner_texts()
    assert any("不能参加" in r for r in reasons) and "无活动性结核" not in reasons
    page.locator("#status-h").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"status-form-{device}.png"))

    # withdrew consent: a wrong code deletes nothing; the right code typed in deletes
    page.locator("#erase > summary").click()
    page.locator("#erase-reason").select_option("phone")
    page.locator("#erase-confirm").fill("PS-WRONG1")
    page.get_by_role("button", name="删除该家庭的数据").click()
    expect(page.locator("#erase-confirm-errors")).to_contain_text("没有删除任何数据", use_inner_text=True)
    assert page.locator("#erase").get_attribute("open") is not None  # the form stays open with its error
    assert page.locator("#erase-reason").input_value() == "phone"
    page.locator("#erase").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"erase-refused-{device}.png"))
    page.locator("#erase-confirm").fill("ps-stat7k")
    page.get_by_role("button", name="删除该家庭的数据").click()
    expect(page.locator(".flash")).to_contain_text("已撤回同意", use_inner_text=True)
    expect(page.locator("dl.facts").first).to_contain_text("已撤回同意（数据已删除）", use_inner_text=True)
    expect(page.locator("#attempt-channel")).to_have_count(0)
    expect(page.locator("#note-body")).to_have_count(0)
    assert "+8613700002222" not in page.content()
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / f"erased-{device}.png"), full_page=device == "desktop")

"""Ask a person to check a "not eligible" result, on a phone in Debian's Chromium, zh and en, then
find the request in the study team's queue marked as a review request. Screenshots go to
/tmp/shots for a human to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_coordinator_browser import sign_in
from tests.browser.test_public_chat import Family
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, likely_answers
from tests.helpers.staff import add_user

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots for a human to look at, not secrets
ACCEPT = {"zh": "zh-CN", "en": "en-US"}
TEXT = {
    "zh": {
        "ask": "觉得结果不对？请研究团队的医护人员帮您看看",
        "decides": "最后由研究团队的医护人员来决定，不是由问卷决定",
        "sent": "您的申请已提交",
        "badge": "复核申请",
        "words": "孩子只打过一次贝利尤单抗，是在外院打的，想请医生再看看。",
    },
    "en": {
        "ask": "Think this result is wrong? Ask a person to check it",
        "decides": "A person on the study team, not this form, makes the decision",
        "sent": "Your request has been sent",
        "badge": "Review request",
        "words": "She had only one belimumab dose, in another hospital. Please look again.",
    },
}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"review-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_family_told_not_eligible_asks_a_person_and_the_team_sees_a_review_request(live_server, new_context, lang):
    page = new_context(locale=ACCEPT[lang]).new_page()
    family = Family(page, live_server.url)
    family.begin()
    family.walk({**likely_answers(), "biologics": ["belimumab"]})
    expect(page.locator(".result-not_eligible")).to_be_visible()
    block = page.locator("section.ask-review")
    assert TEXT[lang]["ask"] in block.inner_text() and TEXT[lang]["decides"] in block.inner_text()
    shot(page, f"{lang}-result")
    assert_no_axe_violations(page)
    taps = family.taps

    family.tap(f'a[href="{BASE}/refer?kind=review"]')
    page.wait_for_selector("textarea#words")
    assert TEXT[lang]["decides"] in page.inner_text("main")
    assert_no_axe_violations(page)
    page.fill("#words", TEXT[lang]["words"])
    page.fill("#name", "王芳" if lang == "zh" else "Jane Li")
    page.check("#relationship-mother")
    page.fill("#phone", "13812345678" if lang == "zh" else "+1 416 555 0142")
    page.check("#share")
    page.check("#guardian")
    shot(page, f"{lang}-form")
    page.click("form button[type=submit]")
    page.wait_for_selector(".reference")
    assert TEXT[lang]["sent"] in page.locator("h1").inner_text()
    reference = page.locator(".reference").inner_text()
    shot(page, f"{lang}-sent")
    assert_no_axe_violations(page)
    assert "?" not in page.url  # nothing about the child in any address
    print(f"{lang}: {taps} taps to the result, then 1 tap to the review form")

    add_user(live_server.app, "nurse@pumch.example", "coordinator")
    staff = new_context(locale=ACCEPT[lang]).new_page()
    sign_in(staff, live_server.url, "nurse@pumch.example")
    row = staff.locator("table.queue tbody tr", has_text=reference)
    assert TEXT[lang]["badge"] in row.locator(".badge-review").inner_text()
    shot(staff, f"{lang}-queue")
    assert_no_axe_violations(staff)
    row.get_by_role("link", name=reference).click()
    assert TEXT[lang]["words"] in staff.locator(".family-words").inner_text()
    assert TEXT[lang]["badge"] in staff.locator("h1").inner_text()
    shot(staff, f"{lang}-referral")
    assert_no_axe_violations(staff)

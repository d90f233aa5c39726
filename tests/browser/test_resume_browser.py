"""A resume link in Debian's Chromium on a phone: it asks first, moves the screening, and the
device it came from sees nothing any more. Screenshots go to /tmp/shots for a human to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, born_years_ago

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots for a human to look at, not secrets
ACCEPT = {"zh": "zh-CN", "en": "en-US"}
TEXT = {
    "zh": {"ask": "要在这台设备上继续填写已保存的答案吗？", "tick": "请勾选方框", "done": "我在这台设备上填完了"},
    "en": {"ask": "Continue saved answers on this device?", "tick": "Please tick the box", "done": "finished on this"},
}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"resume-{name}.png"), full_page=True)


def begin_and_answer_birth_month(page: Any, base: str) -> None:
    page.goto(f"{base}{BASE}/consent?as=guardian")
    page.click("#agree")
    page.click(".consent-form button[type=submit]")
    page.wait_for_selector("form.ask")
    page.fill("#answer-value", born_years_ago(10))
    page.click("form.ask p > button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('form.ask button[name=value]').length > 0")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_shared_link_asks_first_then_moves_the_answers_to_the_new_phone(live_server, new_context, lang):
    sender = new_context(locale=ACCEPT[lang]).new_page()
    begin_and_answer_birth_month(sender, live_server.url)
    link = sender.locator("#resume-url").input_value()
    assert "/r/" in link

    parent = new_context(locale=ACCEPT[lang]).new_page()
    parent.goto(link)
    assert TEXT[lang]["ask"] in parent.locator("h1").inner_text()
    assert not parent.locator("#agree").is_checked()
    assert parent.locator("form.ask").count() == 0  # no earlier question or answer on this page
    shot(parent, f"{lang}-ask")
    assert_no_axe_violations(parent)
    parent.click("form button[type=submit]")  # without the tick: a clear message, nothing moves
    assert TEXT[lang]["tick"] in parent.locator(".field-errors").inner_text()
    parent.click("#agree")
    parent.click("form button[type=submit]")
    parent.wait_for_selector("form.ask")
    assert parent.url.endswith(f"{BASE}/chat")
    shot(parent, f"{lang}-continued")

    sender.reload()  # the sender's own phone: the answers are gone from it
    sender.wait_for_selector("h1")
    expect(sender.locator("form.ask")).to_have_count(0)
    assert "/chat" not in sender.url
    sender.goto(link)  # and the old link no longer works for anyone
    assert sender.locator("form.ask").count() == 0 and "/r/" in sender.url
    shot(sender, f"{lang}-old-link")


def test_finished_on_this_device_works_without_javascript(live_server, new_context):
    page = new_context(locale="zh-CN", java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}{BASE}/consent?as=guardian")
    page.click("#agree")
    page.click(".consent-form button[type=submit]")
    page.wait_for_selector("form.ask")
    page.click("details.resume summary")
    assert TEXT["zh"]["done"] in page.locator("form.leave button").inner_text()
    shot(page, "zh-panel")
    page.click("form.leave button")
    page.wait_for_selector("h1")
    assert page.url.endswith(f"{BASE}/?left=1")
    expect(page.locator("a", has_text="接着上次继续")).to_have_count(0)
    shot(page, "zh-left")
    checked = new_context(locale="zh-CN").new_page()  # axe runs in the page: it needs JavaScript
    checked.goto(page.url)
    assert_no_axe_violations(checked)


def test_a_continue_code_read_on_one_phone_continues_on_another(live_server, new_context):
    phone = {"locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    wechat = new_context(**phone).new_page()
    begin_and_answer_birth_month(wechat, live_server.url)
    wechat.click("details.resume summary")
    code = wechat.locator(".resume-code .code").inner_text()
    assert len(code.replace(" ", "")) == 8
    shot(wechat, "zh-code-panel")

    browser_page = new_context(**phone).new_page()
    browser_page.goto(f"{live_server.url}{BASE}/")
    browser_page.click("a:has-text('有继续码？')")
    browser_page.fill("#code", code)
    browser_page.fill("#month", born_years_ago(10))
    shot(browser_page, "zh-code-entry")
    assert_no_axe_violations(browser_page)
    browser_page.click("form button[type=submit]")
    assert TEXT["zh"]["ask"] in browser_page.locator("h1").inner_text()
    browser_page.click("#agree")
    browser_page.click("form button[type=submit]")
    browser_page.wait_for_selector("form.ask")
    assert browser_page.url.endswith(f"{BASE}/chat")

    wechat.reload()  # the phone the code came from: the answers are gone from it
    wechat.wait_for_selector("h1")
    expect(wechat.locator("form.ask")).to_have_count(0)

"""A family in WeChat's in-app browser on an Android phone, in Chinese, walks to a result.

WeChat blocks ``window.print``, downloads, pop-ups and ``mailto:``: no visible control on the
way may need one. The page records any call to ``window.print`` or ``window.open`` and any
download or new window; the summary says "open in the browser" instead of offering to print.
Screenshots for a human: /tmp/shots-wechat/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_public_chat import Family
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, likely_answers

SHOTS = Path("/tmp/shots-wechat")  # noqa: S108 — screenshots for a human to look at, not secrets
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2244A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202"
    " MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
#: Record what WeChat would block instead of doing it.
BLOCKED = (
    "window.__blocked = []; window.print = () => __blocked.push('print'); window.open = () => __blocked.push('open');"
)
#: Visible controls that would print, download, open a window or a mail app.
FORBIDDEN = "a[target=_blank], a[download], a[href^='mailto:'], form[target=_blank], [data-print], [onclick]"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_blocked_control(page: Any) -> None:
    """No visible control on this page needs what WeChat blocks."""
    visible = [el.evaluate("e => e.outerHTML") for el in page.locator(FORBIDDEN).all() if el.is_visible()]
    assert visible == [], page.url


def test_wechat_family_walks_to_a_result_with_nothing_wechat_blocks(live_server, new_context):
    live_server.app.config["STUDY_CONTACT_EMAIL"] = "team@example.org"
    context = new_context(
        locale="zh-CN",
        user_agent=WECHAT_ANDROID,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.add_init_script(BLOCKED)
    page = context.new_page()
    events: list[str] = []
    page.on("download", lambda _download: events.append("download"))
    page.on("popup", lambda _popup: events.append("popup"))
    family = Family(page, live_server.url)
    family.begin()
    no_blocked_control(page)
    family.walk(likely_answers())
    expect(page.locator(".result-likely_eligible")).to_be_visible()
    shot(page, "result")
    no_blocked_control(page)
    assert_no_axe_violations(page)
    assert page.locator("a[href^='mailto:']").count() == 0 and "team@example.org" in page.inner_text("main")

    page.locator("details.resume summary").click()
    page.locator("[data-copy=resume-url]").click()  # copying works in WeChat: no window, no download
    family.tap(f'a[href="{BASE}/summary"]')
    page.wait_for_selector(".wechat-hint")
    hint = page.inner_text(".wechat-hint")
    assert "在微信里无法打印" in hint and "「在浏览器打开」" in hint and "截图" in hint
    assert page.locator("section.summary").first.is_visible()  # readable, for a screenshot
    shot(page, "summary")
    no_blocked_control(page)
    assert_no_axe_violations(page)

    assert page.evaluate("window.__blocked") == [] and events == []

"""A family signs up for study e-mails, confirms, manages and stops them, in a real browser, in zh and en."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from prescreen.store import connect
from tests.helpers.browser import assert_no_axe_violations

#: Screenshots for people to look at (phone size, zh and en); SHOTS_DIR overrides.
SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots")
TEXT = {
    "zh": {
        "signup": "订阅新研究通知",
        "error": "请填写您的邮箱地址",
        "check": "请查收邮件",
        "confirm": "确认，给我发通知",
        "signed_up": "订阅成功",
        "save": "保存设置",
        "saved": "已保存",
        "stop": "退订全部邮件",
        "yes_stop": "确定，全部退订",
        "stopped": "已退订",
        "sjogren": "干燥综合征",
        "lupus": "系统性红斑狼疮",
        "band": "10–13岁",
        "lang": "中文",
        "consent": "我同意本服务保存我的邮箱地址",
        "submit": "订阅",
    },
    "en": {
        "signup": "Get e-mails about new studies",
        "error": "Enter your e-mail address.",
        "check": "Please check your e-mail",
        "confirm": "Yes, send me these e-mails",
        "signed_up": "You are signed up",
        "save": "Save my choices",
        "saved": "Saved.",
        "stop": "Stop all e-mails",
        "yes_stop": "Yes, stop all e-mails",
        "stopped": "You will not get any more e-mails",
        "sjogren": "Sjögren's syndrome",
        "lupus": "Lupus (SLE)",
        "band": "10 to 13",
        "lang": "English",
        "consent": "I agree that this service keeps my e-mail address",
        "submit": "Sign up",
    },
}


def newest_link(database: str, address: str, kind: str) -> str:
    """The path of a confirm/manage/unsubscribe link in the newest e-mail queued for *address*."""
    conn = connect(database)
    try:
        (body,) = conn.execute(
            "SELECT body_text FROM outbox WHERE to_addr = ? ORDER BY id DESC LIMIT 1", [address]
        ).fetchone()
    finally:
        conn.close()
    match = re.search(rf"https?://[^/\s]+(/volunteer/{kind}/[\w-]+)", body)
    assert match, f"no {kind} link for {address}"
    return match.group(1)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"vol-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sign_up_confirm_manage_and_stop_in_a_real_browser(live_server: Any, new_context: Any, lang: str) -> None:
    words = TEXT[lang]
    page = new_context(locale="zh-CN" if lang == "zh" else "en-US").new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    database = live_server.app.config["DATABASE"]
    address = f"family-{lang}@example.com"

    page.goto(live_server.url + "/volunteer/")
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
    assert page.locator("h1").inner_text() == words["signup"]
    assert not page.get_by_label(words["consent"]).is_checked()
    assert_no_axe_violations(page)
    shot(page, f"signup-{lang}")

    page.get_by_role("button", name=words["submit"], exact=True).click()
    assert words["error"] in page.locator(".field-errors").first.inner_text()
    assert_no_axe_violations(page)
    shot(page, f"signup-errors-{lang}")

    page.get_by_role("textbox", name="E-mail address" if lang == "en" else "邮箱地址").fill(address)
    page.get_by_label(words["sjogren"]).check()
    page.get_by_label(words["band"]).check()
    page.get_by_label(words["lang"], exact=True).check()
    page.get_by_label(words["consent"]).check()
    page.get_by_role("button", name=words["submit"], exact=True).click()
    assert page.locator("h1").inner_text() == words["check"]
    assert_no_axe_violations(page)

    page.goto(live_server.url + newest_link(database, address, "confirm"))
    assert_no_axe_violations(page)
    page.get_by_role("button", name=words["confirm"]).click()
    assert page.locator("h1").inner_text() == words["signed_up"]

    page.goto(live_server.url + newest_link(database, address, "manage"))
    assert page.get_by_label(words["sjogren"]).is_checked()
    assert_no_axe_violations(page)
    shot(page, f"manage-{lang}")
    page.get_by_label(words["lupus"]).check()
    page.get_by_role("button", name=words["save"]).click()
    assert words["saved"] in page.locator(".saved").inner_text()
    assert page.get_by_label(words["lupus"]).is_checked()
    assert_no_axe_violations(page)

    page.get_by_role("link", name=words["stop"]).click()
    assert_no_axe_violations(page)
    shot(page, f"unsubscribe-{lang}")
    page.get_by_role("button", name=words["yes_stop"]).click()
    assert page.locator("h1").inner_text() == words["stopped"]
    assert_no_axe_violations(page)

    conn = connect(database)
    try:
        assert conn.execute("SELECT status, locale FROM volunteers").fetchall() == [("unsubscribed", lang)]
    finally:
        conn.close()
    assert hosts == {urlsplit(live_server.url).netloc}, "no third-party requests"


def test_reminder_page_without_a_screening_is_kind_and_accessible(live_server: Any, new_context: Any) -> None:
    page = new_context(locale="zh-CN").new_page()
    page.goto(live_server.url + "/volunteer/reminder")
    assert page.locator("h1").inner_text() == "没有需要提醒的日期"
    assert_no_axe_violations(page)
    shot(page, "reminder-none-zh")

"""An admin in Chinese, in Debian's Chromium: accounts in the web UI, and a note that outlives the session.

Desktop (1280×800): create a coordinator's account (the one-time password is shown once), then
disable it; opening recruiting asks first. Phone (390×844), with a 12-second idle limit: the idle
warning appears and "stay signed in" keeps the session; then the session ends while a note is
being typed, saving it leads to sign-in, and signing in again returns to the family's page with
the note put back; once saved, the draft is gone from the browser.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_coordinator_browser import DESKTOP, SHOTS
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import PASSWORD, add_referral, add_user, db_of

ADMIN = "admin@pumch.example"
NOTE = "电话里妈妈说周六上午方便，孩子上周查过血常规，会带化验单来。"


def sign_in(page: Any, url: str, path: str = "/coordinator/") -> None:
    page.goto(url + path)
    page.get_by_label("电子邮箱").fill(ADMIN)
    page.get_by_label(re.compile("^密码$")).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_admin_creates_and_disables_an_account_and_confirms_recruiting(live_server: Any, new_context: Any) -> None:
    add_user(live_server.app, ADMIN, "admin")
    SHOTS.mkdir(exist_ok=True)
    page = new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    sign_in(page, live_server.url)
    page.get_by_role("link", name="账号管理").click()
    page.get_by_role("link", name="新建账号").click()
    page.get_by_label("电子邮箱").fill("new.crc@pumch.example")
    page.get_by_label("研究协调员（CRC）").check()
    page.get_by_label(re.compile("儿童干燥综合征|干燥")).first.check()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="创建账号").click()
    one_time = page.get_by_test_id("one-time-password").inner_text()
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", one_time)
    expect(page.locator("body")).to_contain_text("只显示这一次")
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "accounts-password-zh.png"), full_page=True)
    page.get_by_role("link", name="完成").click()
    page.get_by_role("button", name="停用账号").click()
    expect(page.locator(".flash")).to_contain_text("账号已停用", use_inner_text=True)
    expect(page.get_by_role("button", name="启用账号")).to_be_visible()
    page.screenshot(path=str(SHOTS / "accounts-edit-zh.png"), full_page=True)
    page.get_by_role("link", name="全部账号").click()
    card = page.locator(".account-card", has_text="new.crc@pumch.example")
    assert "已停用" in card.inner_text() and "研究协调员" in card.inner_text()
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "accounts-list-zh.png"), full_page=True)

    # Stopping recruiting asks first and says what happens; nothing changes until "yes".
    page.get_by_role("link", name="研究项目", exact=True).click()
    page.get_by_role("link", name="停止招募…").click()
    expect(page.locator("body")).to_contain_text("确定停止招募吗？")
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "studies-confirm-zh.png"), full_page=True)
    page.get_by_role("link", name="取消").click()
    expect(page.get_by_role("link", name="停止招募…")).to_be_visible()
    page.get_by_role("link", name="停止招募…").click()
    page.get_by_role("button", name="确定，停止招募").click()
    expect(page.get_by_role("link", name="开放招募…")).to_be_visible()


def test_idle_warning_and_a_note_kept_through_signing_in_again(
    live_app_config: dict[str, Any], new_context: Any, request: Any
) -> None:
    live_app_config["STAFF_IDLE_MINUTES"] = 0.2  # 12 seconds: the warning shows after 6
    live_server = request.getfixturevalue("live_server")
    app = live_server.app
    add_user(app, ADMIN, "admin")
    family = add_referral(app, reference="PS-CALL42")
    family_path = f"/coordinator/referrals/{family['id']}"
    page = new_context(locale="zh-CN").new_page()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    sign_in(page, live_server.url, family_path)
    page.wait_for_url(re.compile(re.escape(family_path) + "$"))
    note = page.locator("textarea[name='note-body']")

    # Nothing typed for 6 seconds: the warning (typing would have kept the session alive quietly).
    warning = page.locator(".idle-warning")
    warning.wait_for(state="visible", timeout=9_000)
    assert "很快会自动退出登录" in warning.inner_text()
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "idle-warning-zh-phone.png"))
    with page.expect_response(re.compile(r"/staff/session$")) as kept:
        page.get_by_role("button", name="保持登录").click()
    assert kept.value.status == 200
    warning.wait_for(state="hidden")
    note.fill(NOTE)

    # The session ends on the server (as after the idle limit) while the note is still being typed.
    db = db_of(app)
    db.execute("DELETE FROM staff_sessions")
    db.conn.commit()
    db.close()
    page.locator("form", has=note).get_by_role("button").click()
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    page.get_by_label("电子邮箱").fill(ADMIN)
    page.get_by_label(re.compile("^密码$")).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(family_path) + "$"))
    assert note.input_value() == NOTE
    expect(page.locator(".draft-restored")).to_be_visible()
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "draft-restored-zh-phone.png"))
    page.locator("form", has=note).get_by_role("button").click()
    page.wait_for_load_state()
    assert NOTE in page.locator(".note").first.inner_text() or NOTE in page.content()
    assert note.input_value() == "" and drafts(page) == []
    page.goto(live_server.url + "/coordinator/accounts")
    page.screenshot(path=str(SHOTS / "accounts-list-zh-phone.png"), full_page=True)
    assert hosts == {live_server.url.split("/")[2]}


def drafts(page: Any) -> list[str]:
    """The drafts this browser keeps (localStorage keys)."""
    return page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('prescreen.draft:'))")

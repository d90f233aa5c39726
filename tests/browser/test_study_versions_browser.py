"""An admin on a phone uploads a new questionnaire version, publishes it, and families see it without a restart.

One walk, in Chinese at a phone's size: a workbook with two seeded mistakes is refused with each
problem named by sheet, row and column; the corrected one is kept as a draft and previewed as a
family would see it (中文 and English, a parent and the child themself); the confirm page says what
changes; after publishing, a new family reads the new wording of the first question
while a family who had already started still reads the old one. Screenshots in /tmp/shots-versions/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_coordinator_browser import sign_in
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE
from tests.helpers.staff import add_user
from tests.test_study_versions import NEW_DOB, NEW_DOB_ZH, set_cell, version_two, workbook

SHOTS = Path(os.environ.get("SHOTS_DIR") or "/tmp/shots-versions")  # noqa: S108 — screenshots for a person to look at
OLD_DOB_ZH = "孩子是哪年哪月出生的？"


def start_screening(page: Any, url: str) -> None:
    """A parent agrees and gets the first question (chat.js shows it in place)."""
    page.goto(url + f"{BASE}/consent?as=guardian")
    page.locator("#agree").check()
    page.locator(".consent-form button[type=submit]").click()
    page.wait_for_selector("form.ask")


def upload(page: Any, path: Path, label: str) -> None:
    page.set_input_files("#upload", str(path))
    page.fill("#label", label)
    page.fill("#approved_on", "2026-11-20")
    page.get_by_role("button", name="检查并存为草稿").click()
    page.wait_for_load_state()


def test_upload_check_publish_and_families_see_the_new_wording_without_restart(
    live_server, new_context, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    add_user(live_server.app, "admin@pumch.example", "admin")
    mistakes = tmp_path / "V2 有错.xlsx"
    mistakes.write_bytes(
        workbook(
            tmp_path,
            "m.xlsx",
            lambda book: (
                set_cell(book["questions"], "diagnosis", "type", "singel"),
                set_cell(book["criteria"], "exc_hiv", "not_met_if", "hcv_hiv == ("),
            ),
        )
    )
    good = tmp_path / "V2.0.xlsx"
    good.write_bytes(workbook(tmp_path, "g.xlsx", version_two))

    early = new_context(locale="zh-CN").new_page()
    start_screening(early, live_server.url)
    assert OLD_DOB_ZH in early.locator("form.ask").inner_text()

    admin = new_context(locale="zh-CN").new_page()
    sign_in(admin, live_server.url, "admin@pumch.example")
    admin.goto(live_server.url + "/coordinator/studies")
    admin.get_by_role("link", name="问卷版本").click()
    upload(admin, mistakes, "V2.0")
    problems = admin.locator("#problems li")
    assert problems.count() == 2
    assert "V2 有错.xlsx:questions:3: column 'type'" in problems.nth(0).inner_text() + problems.nth(1).inner_text()
    assert_no_axe_violations(admin)
    admin.screenshot(path=str(SHOTS / "1-problems-zh.png"), full_page=True)

    upload(admin, good, "V2.0")
    expect(admin.locator("body")).to_contain_text("检查通过，已存为草稿")
    expect(admin.locator("tr.version-draft")).to_have_count(1)
    assert_no_axe_violations(admin)
    admin.screenshot(path=str(SHOTS / "2-draft-zh.png"), full_page=True)

    # Before publishing: the draft as a family would see it, in both languages and both voices.
    admin.locator("tr.version-draft").get_by_role("link", name="预览", exact=True).click()
    expect(admin.locator(".preview-banner")).to_contain_text("不会保存", use_inner_text=True)
    assert NEW_DOB_ZH in admin.locator("form.ask").inner_text()
    admin.locator(".preview-banner").get_by_role("link", name="English").click()
    assert NEW_DOB in admin.locator("form.ask").inner_text()
    admin.locator(".preview-banner").get_by_role("link", name="孩子本人").click()
    assert "In what month and year were you born?" in admin.locator("form.ask").inner_text()  # the teen's voice
    assert_no_axe_violations(admin)
    admin.screenshot(path=str(SHOTS / "2b-preview-en-teen.png"), full_page=True)
    admin.locator(".preview-banner").get_by_role("link", name="中文").click()
    expect(admin.locator("form.ask")).to_contain_text("你是哪年哪月出生的？", use_inner_text=True)
    admin.locator(".preview-banner").get_by_role("link").last.click()  # back to the study's versions
    admin.get_by_role("link", name="发布…").click()
    assert NEW_DOB_ZH in admin.content()  # what changed, for the ethics submission
    assert_no_axe_violations(admin)
    admin.screenshot(path=str(SHOTS / "3-confirm-zh.png"), full_page=True)
    admin.get_by_role("button", name="确定发布").click()
    admin.wait_for_load_state()
    expect(admin.locator("tr.version-live")).to_have_count(1)
    admin.screenshot(path=str(SHOTS / "4-published-zh.png"), full_page=True)

    fresh = new_context(locale="zh-CN").new_page()
    start_screening(fresh, live_server.url)
    assert NEW_DOB_ZH in fresh.locator("form.ask").inner_text()
    fresh.screenshot(path=str(SHOTS / "5-new-family-zh.png"), full_page=True)

    early.reload()
    assert OLD_DOB_ZH in early.locator("form.ask").inner_text()  # finishes on the version it started with
    assert NEW_DOB_ZH not in early.content()
    early.screenshot(path=str(SHOTS / "6-early-family-zh.png"), full_page=True)

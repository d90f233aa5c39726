"""An admin on a phone previews the live questionnaire as a parent would, then as the child: nothing is stored.

From the studies page's link: the banner says 预览 · 不会保存 on every page, each question is
answered by tapping as a family would, the result shows; switching to English and to the
child's voice keeps the answers (a 10-year-old answering alone is asked to fetch a parent);
"start again" goes back to the first question. Screenshots in /tmp/shots-preview/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

from prescreen.store import connect
from tests.browser.test_coordinator_browser import sign_in
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import review_answers
from tests.helpers.staff import add_user

SHOTS = Path(os.environ.get("SHOTS_DIR") or "/tmp/shots-preview")  # noqa: S108 — screenshots for a person to look at
BANNER = "预览 · 不会保存"


def answer_in_page(page: Any, answers: dict[str, Any]) -> int:
    """Tap through the preview's questions with *answers* until the result; returns how many were asked."""
    for asked in range(60):
        form = page.locator("form.ask")
        if form.count() == 0:
            return asked
        assert BANNER in page.locator(".preview-banner").inner_text()
        qid = form.locator('input[name="q"]').get_attribute("value")
        value = answers[qid]
        if isinstance(value, list):
            for v in value:
                form.locator(f'input[type="checkbox"][value="{v}"]').check()
            form.get_by_role("button", name="下一步").click()
        elif form.locator(f'button[name="value"][value="{value}"]').count():
            form.locator(f'button[name="value"][value="{value}"]').click()
        else:
            form.locator("#answer-value").fill(str(value))
            form.get_by_role("button", name="下一步").click()
        page.wait_for_load_state()
    raise AssertionError("the preview did not end")


def test_an_admin_previews_the_live_questionnaire_on_a_phone(live_server, new_context) -> None:
    app = live_server.app
    add_user(app, "admin@pumch.example", "admin")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = new_context(locale="zh-CN").new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    sign_in(page, live_server.url, "admin@pumch.example")

    page.goto(live_server.url + "/coordinator/studies")
    page.get_by_role("link", name="预览家长看到的问卷").click()
    assert "/preview/" in page.url
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "preview-first-question-zh.png"), full_page=True)

    asked = answer_in_page(page, review_answers())
    assert asked > 10
    result = page.locator(".result")
    assert "研究团队需要和您核实几个问题" in result.inner_text()
    assert_no_axe_violations(page)
    page.screenshot(path=str(SHOTS / "preview-result-zh.png"), full_page=True)

    banner = page.locator(".preview-banner")
    banner.get_by_role("link", name="English").click()
    expect(page.locator(".result")).to_contain_text(
        "The study team needs to check a few things with you", use_inner_text=True
    )
    banner.get_by_role("link", name="孩子本人").click()
    expect(page.locator(".preview-family")).to_contain_text(
        "Please ask a parent or guardian to join you", use_inner_text=True
    )
    page.screenshot(path=str(SHOTS / "preview-handoff-en-patient.png"), full_page=True)

    page.get_by_role("button", name="重新开始").click()
    assert page.locator('form.ask input[name="q"]').get_attribute("value") == "dob"
    assert BANNER in page.locator(".preview-banner").inner_text()

    conn = connect(app.config["DATABASE"])
    try:
        for table in ("screenings", "consents", "screening_log", "outbox"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table  # noqa: S608
    finally:
        conn.close()
    assert hosts == {urlsplit(live_server.url).netloc}

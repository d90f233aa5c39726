"""Told early in Debian's Chromium on a phone, with and without JavaScript, in zh and en.

A guardian answers "rituximab 5 months ago": the next screen says the child cannot join yet,
why, and from when it may change, and offers to see the result now or answer the rest.
Screenshots go to /tmp/shots for a human to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from prescreen import clock
from prescreen import studies as study_registry
from prescreen.engine import Flow
from prescreen.public.text import long_date
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, likely_answers, months_ago

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots for a human to look at, not secrets
ACCEPT = {"zh": "zh-CN", "en": "en-US"}
RITUXIMAB_5M = {**likely_answers(), "rituximab": "yes", "rituximab_last": months_ago(5)}
TEXT = {
    "en": {
        "title": "Your child cannot join this study yet",
        "reason": "rituximab",
        "again": "You may be able to check again from {date}.",
        "stop": "See the result now",
        "rest": "Answer the rest",
        "stopped": "You chose to see your result before the last questions.",
        "remaining": "Answer the remaining questions",
        "reminder": "Remind me on that date by text message or e-mail",
    },
    "zh": {
        "title": "孩子暂时还不能参加这项研究",
        "reason": "利妥昔单抗",
        "again": "从{date}起，可以再来做一次初筛。",
        "stop": "现在查看结果",
        "rest": "继续回答剩下的问题",
        "stopped": "您选择了先看结果",
        "remaining": "接着回答剩下的问题",
        "reminder": "到时用短信或邮件提醒我",
    },
}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"early-{name}.png"), full_page=True)


def recheck(live_server: Any, lang: str) -> str:
    study = study_registry.of(live_server.app).studies["pumch-pediatric-sjogren"]
    state = Flow(study).run(RITUXIMAB_5M, respondent="guardian", today=clock.today())
    return long_date(state.provisional.recheck_after, lang)


def step_of(page: Any) -> str:
    return page.locator("form.ask input[name=step]").get_attribute("value")


def answer(page: Any, value: Any, js: bool) -> None:
    """Answer the question on the page, as a thumb would, and wait for the next screen."""
    step = step_of(page)
    form = page.locator("form.ask")
    if form.locator("button[name=value]").count():
        form.locator(f'button[name=value][value="{value}"]').click()
    elif form.locator("input[type=checkbox]").count():
        for item in value:
            form.locator(f'input[value="{item}"]').check()
        form.locator("p > button[type=submit]").click()
    else:
        page.fill("#answer-value", str(value))
        form.locator("p > button[type=submit]").click()
    if js:
        page.wait_for_function(
            "s => !document.querySelector('form.ask')"
            " || document.querySelector('form.ask input[name=step]').value !== s",
            arg=step,
        )
    else:
        page.wait_for_load_state()


def begin(page: Any, base: str) -> None:
    page.goto(f"{base}{BASE}/consent?as=guardian")
    page.click("#agree")
    page.click(".consent-form button[type=submit]")
    page.wait_for_selector("form.ask")


def to_notice(page: Any, base: str, js: bool) -> int:
    """Answer until the notice shows; returns how many questions were answered."""
    begin(page, base)
    answered = 0
    while page.locator("#early").count() == 0:
        qid = page.locator("form.ask input[name=q]").get_attribute("value")
        answer(page, RITUXIMAB_5M[qid], js)
        answered += 1
    return answered


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_told_early_then_see_the_result_now_then_answer_the_remaining_questions(live_server, new_context, lang, js):
    page = new_context(locale=ACCEPT[lang], java_script_enabled=js).new_page()
    text = TEXT[lang]
    answered = to_notice(page, live_server.url, js)
    assert answered == 5  # born, diagnosed, agrees, had rituximab, in which month
    notice = page.locator("#early").inner_text()
    assert text["title"] in notice and text["reason"] in notice
    assert text["again"].format(date=recheck(live_server, lang)) in notice
    if js:  # focus moves to the notice, so it is what a screen reader reads first
        assert page.evaluate("document.activeElement.id") == "early"
    assert page.locator("form.ask input[name=q]").get_attribute("value") == "biologics"  # still below
    shot(page, f"{lang}-{'js' if js else 'nojs'}-notice")
    if js:  # axe-core runs as a script: the same HTML is checked in the JavaScript run
        assert_no_axe_violations(page)

    page.get_by_role("button", name=text["stop"]).click()
    page.wait_for_selector(".result-not_eligible")
    assert page.url.endswith(f"{BASE}/result")
    main = page.locator("main").inner_text()
    assert text["stopped"] in main and text["again"].format(date=recheck(live_server, lang)) in main
    expect(page.get_by_role("link", name=text["reminder"])).to_have_count(1)
    shot(page, f"{lang}-{'js' if js else 'nojs'}-stopped")
    if js:
        assert_no_axe_violations(page)
    print(f"{lang} {'js' if js else 'no-js'}: {answered + 1} taps from the first question to the result")

    page.get_by_role("button", name=text["remaining"]).click()
    page.wait_for_selector("form.ask input[name=q][value=biologics]", state="attached")
    assert page.url.split("#")[0].endswith(f"{BASE}/chat")  # without JavaScript: #current, the question in view
    assert page.locator("#early").count() == 0  # told once: not again
    assert page.locator("ol.chat li.msg.me").count() == 5  # nothing the family answered is lost


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_answer_the_rest_goes_on_and_ends_with_the_same_date(live_server, new_context, lang):
    page = new_context(locale=ACCEPT[lang]).new_page()
    to_notice(page, live_server.url, js=True)
    page.get_by_role("link", name=TEXT[lang]["rest"]).click()
    assert page.evaluate("location.hash") == "#current"
    asked = 0
    while page.locator("form.ask").count():
        assert page.locator("#early").count() == 0 or asked == 0
        answer(page, RITUXIMAB_5M[page.locator("form.ask input[name=q]").get_attribute("value")], js=True)
        asked += 1
    page.wait_for_selector(".result-not_eligible")
    main = page.locator("main").inner_text()
    assert TEXT[lang]["again"].format(date=recheck(live_server, lang)) in main
    assert TEXT[lang]["stopped"] not in main
    shot(page, f"{lang}-answered-the-rest")
    print(f"{lang}: {5 + asked} questions when answering everything")

"""On a 390×844 phone in Chinese: the current question and its first options are in view after every
step (JavaScript on and off), the told-early notice first when it shows; Back steps to the previous
question and never loses an answer, and agreeing again on the consent page continues the screening.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_chat import Family, shot
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import likely_answers, waiting_answers

SHOWS = "q => (document.querySelector('form.ask input[name=q]') || {}).value === q"
PHONE = {"width": 390, "height": 844}
#: The first answer control of the current question: an option button, a tick box or the field.
FIRST_OPTION = "form.ask [data-option], form.ask #answer-value"
IN_VIEW = """sel => {
  const el = document.querySelector(sel);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}"""


def assert_in_view(page: Any, selector: str, js: bool) -> None:
    if js:  # chat.js scrolls (smoothly unless reduced motion is asked for)
        page.wait_for_function(IN_VIEW, arg=selector)
    assert page.evaluate(IN_VIEW, selector), f"{selector} is out of view at scroll {page.evaluate('scrollY')}"


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_question_and_its_first_option_stay_in_view_after_every_answer(live_server, new_context, js):
    page = new_context(locale="zh-CN", viewport=PHONE, java_script_enabled=js).new_page()
    family = Family(page, live_server.url, js=js)
    family.begin()
    answers, seen, lists = likely_answers(), 0, []
    while (now := family.question()) is not None:
        assert_in_view(page, FIRST_OPTION, js)
        assert_in_view(page, "#q-text", js)
        if page.locator("form.ask .next-row").count():  # a tick-box list: 下一步 without a second scroll
            assert_in_view(page, "form.ask .next-row button", js)
            lists.append((now[0], page.locator("form.ask [data-option]").count()))
            if now[0] == "drugs":
                shot(page, f"zh-long-list-{'js' if js else 'nojs'}")
        assert page.evaluate("document.activeElement && document.activeElement.id") == "current"
        if seen == 5:
            shot(page, f"zh-in-view-{'js' if js else 'nojs'}")
        family.answer(answers[now[0]])
        seen += 1
    assert seen >= 8
    assert ("drugs", 13) in lists, lists  # the 13-medicine list was among them
    page.wait_for_selector(".result")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_told_early_notice_is_in_view_first(live_server, new_context, js):
    page = new_context(locale="zh-CN", viewport=PHONE, java_script_enabled=js).new_page()
    family = Family(page, live_server.url, js=js)
    family.begin()
    answers = waiting_answers()
    while (now := family.question()) is not None and page.locator("#early").count() == 0:
        family.answer(answers[now[0]])
    expect(page.locator("#early")).to_have_count(1)
    if js:
        page.wait_for_function("() => Math.abs(document.getElementById('early').getBoundingClientRect().top - 8) < 2")
    top = page.evaluate("document.getElementById('early').getBoundingClientRect().top")
    assert 0 <= top < 844 / 2
    assert page.evaluate("document.activeElement.id") == "early"


def test_back_steps_through_the_questions_and_re_agreeing_keeps_every_answer(live_server, new_context):
    page = new_context(locale="zh-CN", viewport=PHONE).new_page()
    family = Family(page, live_server.url)
    family.begin()
    answers, asked = likely_answers(), []
    for _ in range(4):
        qid, _step = family.question()
        asked.append(qid)
        family.answer(answers[qid])
    current, _step = family.question()
    for n in range(3, -1, -1):  # Back: the previous question, to change, the later answers kept
        page.go_back()
        page.wait_for_function(SHOWS, arg=asked[n])
        assert page.url.endswith("/chat")
        assert_in_view(page, FIRST_OPTION, True)
    page.go_back()  # past the first question: the consent page, which offers to continue
    page.wait_for_selector("#underway")
    assert_no_axe_violations(page)
    shot(page, "zh-consent-underway")
    assert not page.locator("#agree").is_checked()
    page.locator("#agree").click()
    page.locator(".consent-form button[type=submit]").click()
    page.wait_for_selector("form.ask")
    expect(page.locator("ol.chat li.msg.me")).to_have_count(4)
    assert family.question()[0] == current
    page.go_back()  # and back once more: the consent page again, its "continue" does the same
    page.locator("#underway a.button").click()
    page.wait_for_selector("form.ask")
    assert page.locator("ol.chat li.msg.me").count() == 4 and family.question()[0] == current


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_after_a_language_switch_the_question_is_in_view(live_server, new_context, js):
    page = new_context(locale="zh-CN", viewport=PHONE, java_script_enabled=js).new_page()
    family = Family(page, live_server.url, js=js)
    family.begin()
    answers = likely_answers()
    for _ in range(6):
        family.answer(answers[family.question()[0]])
    qid, _step = family.question()
    page.locator(".site-lang a[hreflang=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert family.question()[0] == qid and page.locator("ol.chat li.msg.me").count() == 6
    page.wait_for_function(IN_VIEW, arg=FIRST_OPTION)


def test_back_from_the_result_shows_the_last_question_with_every_answer_kept(live_server, new_context):
    page = new_context(locale="zh-CN", viewport=PHONE).new_page()
    family = Family(page, live_server.url)
    family.begin()
    asked = family.walk(likely_answers())
    page.go_back()
    page.wait_for_function(SHOWS, arg=asked[-1])
    assert page.locator("ol.chat li.msg.me").count() == len(asked) - 1  # the ones before it, all kept
    assert_in_view(page, FIRST_OPTION, True)

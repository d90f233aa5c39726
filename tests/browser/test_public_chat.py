"""The chat in Debian's Chromium: a family's real walk, with and without JavaScript, by keyboard too.

Every page is checked with axe-core; screenshots of the main screens (phone-sized, zh and en) are
written to /tmp/shots for a human to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, born_years_ago, likely_answers, months_ago, waiting_answers

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots for a human to look at, not secrets
ACCEPT = {"zh": "zh-CN", "en": "en-US"}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"public-{name}.png"), full_page=True)


class Family:
    """Drives one browser page through the questionnaire and counts the taps it takes."""

    def __init__(self, page: Any, base: str, js: bool = True, axe: bool = False) -> None:
        self.page, self.base, self.js, self.axe, self.taps = page, base, js, axe, 0

    def tap(self, selector: str) -> None:
        self.taps += 1
        self.page.locator(selector).first.click()

    def begin(self, respondent: str = "guardian") -> None:
        page = self.page
        page.goto(self.base + "/")
        self.tap(f'a[href="{BASE}/"]')
        self.tap(f'a[href="{BASE}/start"]')
        self.tap(f'a[href*="as={respondent}"]')
        assert not page.locator("#agree").is_checked()
        self.tap("#agree")
        self.tap(".consent-form button[type=submit]")
        page.wait_for_selector("form.ask")

    def question(self) -> tuple[str, str] | None:
        form = self.page.locator("form.ask")
        if form.count() == 0:
            return None
        return form.locator("input[name=q]").get_attribute("value"), form.locator("input[name=step]").get_attribute(
            "value"
        )

    def wait_after(self, step: str) -> None:
        if self.js:
            self.page.wait_for_function(
                "s => !document.querySelector('form.ask')"
                " || document.querySelector('form.ask input[name=step]').value !== s",
                arg=step,
            )
        else:
            self.page.wait_for_load_state()

    def answer(self, value: Any) -> None:
        qid, step = self.question()
        form = "form.ask"
        kind = self.kind()
        if kind == "single":
            self.tap(f'{form} button[name=value][value="{value}"]')
        elif kind == "multiple":
            for item in value:
                self.tap(f'{form} input[value="{item}"]')
            self.tap(f"{form} p > button[type=submit]")
        else:
            self.taps += 1  # one tap on the field, then typing
            self.page.fill("#answer-value", str(value))
            self.tap(f"{form} p > button[type=submit]")
        self.wait_after(step)

    def kind(self) -> str:
        form = self.page.locator("form.ask")
        if form.locator("button[name=value]").count():
            return "single"
        if form.locator("input[type=checkbox]").count():
            return "multiple"
        return "input"

    def walk(self, answers: dict[str, Any], shots: str = "") -> list[str]:
        asked = []
        while (now := self.question()) is not None:
            asked.append(now[0])
            if shots and len(asked) == 2:
                shot(self.page, f"{shots}-chat")
            if self.axe and len(asked) in (1, 5):  # a month, a single and a multiple question
                assert_no_axe_violations(self.page)
            self.answer(answers[now[0]])
        self.page.wait_for_selector(".result")
        return asked


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_guardian_walks_to_likely_eligible_and_sends_a_referral(live_server, new_context, lang):
    context = new_context(locale=ACCEPT[lang])
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    family = Family(page, live_server.url, axe=True)
    page.goto(live_server.url + "/")
    assert_no_axe_violations(page)
    page.goto(live_server.url + f"{BASE}/")
    shot(page, f"{lang}-study")
    assert_no_axe_violations(page)
    family.begin()
    asked = family.walk(likely_answers(), shots=lang)
    shot(page, f"{lang}-result")
    assert_no_axe_violations(page)
    expect(page.locator(".result-likely_eligible")).to_be_visible()
    taps_to_result = family.taps
    family.tap(f'a[href="{BASE}/refer"]')
    assert_no_axe_violations(page)
    page.fill("#name", "王芳" if lang == "zh" else "Jane Li")
    page.check("#relationship-mother")
    page.fill("#phone", "13812345678" if lang == "zh" else "+1 416 555 0142")
    page.check("#best_time-evening")
    page.check("#share")
    page.check("#guardian")
    shot(page, f"{lang}-refer")
    page.click("form button[type=submit]")
    page.wait_for_selector(".reference")
    shot(page, f"{lang}-sent")
    assert_no_axe_violations(page)
    reference = page.locator(".reference").inner_text()
    assert reference.startswith("PS-")
    page.goto(live_server.url + f"{BASE}/summary")
    shot(page, f"{lang}-summary")
    assert_no_axe_violations(page)
    assert hosts == {urlsplit(live_server.url).netloc}
    print(f"{lang}: {len(asked)} questions, {taps_to_result} taps from the home page to the result")


def test_teen_in_english_reaches_not_eligible_with_a_recheck_date(live_server, new_context):
    page = new_context(locale="en-GB").new_page()
    family = Family(page, live_server.url)
    family.begin("patient")
    assert "In what month and year were you born?" in page.inner_text("form.ask")
    family.walk({**waiting_answers(), "dob": born_years_ago(15), "consent_teen": "yes_parent"})
    text = page.inner_text("main")
    assert "not a fit right now" in text and "You may be able to check again from" in text
    shot(page, "en-not-eligible")
    assert_no_axe_violations(page)
    expect(page.locator(f'a[href="{BASE}/refer"]')).to_have_count(0)


def test_changing_an_earlier_answer_flips_the_result(live_server, new_context):
    page = new_context(locale="zh-CN").new_page()
    family = Family(page, live_server.url)
    family.begin()
    family.walk(likely_answers())
    page.click("details.answers summary")
    page.locator("details.answers button.change[value=rituximab]").click()
    page.wait_for_selector("form.ask input[name=q][value=rituximab]", state="attached")
    shot(page, "zh-change")
    assert_no_axe_violations(page)
    family.answer("yes")
    family.answer(months_ago(1))
    page.wait_for_selector(".result-not_eligible")
    assert "您修改的回答改变了结果" in page.inner_text("main")


def test_switching_language_mid_chat_keeps_every_answer(live_server, new_context):
    page = new_context(locale="en-US").new_page()
    family = Family(page, live_server.url)
    family.begin()
    answers = likely_answers()
    for _ in range(5):
        family.answer(answers[family.question()[0]])
    before = page.locator("ol.chat li.msg.me").count()
    page.click(".lang-switch a[lang=zh-CN]")
    page.wait_for_selector("html[lang=zh-CN]")
    assert page.locator("ol.chat li.msg.me").count() == before == 5
    assert "孩子是哪年哪月出生的？" in page.inner_text("ol.chat")
    shot(page, "zh-switched")
    assert_no_axe_violations(page)
    family.walk(answers)
    expect(page.locator(".result-likely_eligible")).to_be_visible()


def test_the_whole_walk_with_javascript_disabled(live_server, new_context):
    page = new_context(locale="zh-CN", java_script_enabled=False).new_page()
    family = Family(page, live_server.url, js=False)
    family.begin()
    family.walk(likely_answers())
    expect(page.locator(".result-likely_eligible")).to_be_visible()
    assert page.locator("[data-copy]").first.is_hidden()  # the copy button needs the script


def test_resume_link_opens_in_a_fresh_browser(live_server, new_context):
    page = new_context(locale="en-US").new_page()
    family = Family(page, live_server.url)
    family.begin()
    answers = likely_answers()
    for _ in range(3):
        family.answer(answers[family.question()[0]])
    page.click("details.resume summary")
    page.click("[data-copy=resume-url]")
    link = page.input_value("#resume-url")
    shot(page, "en-resume")
    fresh = new_context(locale="en-US").new_page()
    fresh.goto(link)
    assert fresh.locator("ol.chat li.msg.me").count() == 0  # it asks first, with its own consent
    fresh.click("#agree")
    fresh.click("form button[type=submit]")
    fresh.wait_for_selector("form.ask")
    expect(fresh.locator("ol.chat li.msg.me")).to_have_count(3)
    assert Family(fresh, live_server.url).question()[0] == "rituximab"


def test_keyboard_only_walk(live_server, new_context):
    page = new_context(locale="en-US").new_page()
    page.goto(live_server.url + f"{BASE}/consent?as=guardian")
    page.focus("#agree")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("form.ask")
    page.focus("#answer-value")
    year, month = born_years_ago(10).split("-")
    page.keyboard.type(month)  # Chromium's en-US month field: month, Tab, year
    page.keyboard.press("Tab")
    page.keyboard.type(year)
    page.keyboard.press("Enter")
    page.wait_for_selector("form.ask input[name=q][value=diagnosis]", state="attached")
    assert page.evaluate("document.activeElement.id") == "current"  # focus moved to the new question
    page.wait_for_function(  # and the new question was announced to screen readers
        "() => document.querySelector('[aria-live]').textContent.includes('Has a doctor said your child has')"
    )
    page.keyboard.press("1")  # number keys pick an option
    page.wait_for_selector("form.ask input[name=q][value=consent_guardian]", state="attached")
    page.keyboard.press("1")
    page.wait_for_selector("form.ask input[name=q][value=rituximab]", state="attached")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('data-option') !== null")
    assert focused
    page.keyboard.press("Enter")
    page.wait_for_selector("form.ask input[name=q][value=biologics]", state="attached")
    page.keyboard.press("5")  # "None of these" is the 5th box
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("form.ask input[name=q][value=other_autoimmune]", state="attached")
    expect(page.locator("ol.chat li.msg.me")).to_have_count(5)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_handoff_consent_and_closed_pages_have_no_axe_violations(live_server, new_context, lang):
    page = new_context(locale=ACCEPT[lang]).new_page()
    page.goto(live_server.url + f"{BASE}/start")
    assert_no_axe_violations(page)
    page.goto(live_server.url + f"{BASE}/consent?as=patient")
    shot(page, f"{lang}-consent")
    assert_no_axe_violations(page)
    page.click(".consent-form button[type=submit]")  # without the box: a form error
    page.wait_for_selector("#agree-errors")  # shown in place by chat.js: no navigation to wait for
    expect(page.locator("#agree-errors")).to_be_visible()
    assert_no_axe_violations(page)
    page.check("#agree")
    page.click(".consent-form button[type=submit]")
    page.fill("#answer-value", born_years_ago(11))
    page.click("form.ask p > button[type=submit]")
    page.wait_for_selector("#agree")
    shot(page, f"{lang}-handoff")
    assert_no_axe_violations(page)
    page.goto(live_server.url + f"{BASE}/forget")
    assert_no_axe_violations(page)
    page.click("form button[type=submit]")
    page.wait_for_selector("h1")
    assert page.url.endswith(f"{BASE}/?deleted=1")
    page.goto(live_server.url + "/r/expired-or-unknown-token-000000000")
    assert_no_axe_violations(page)


def test_with_javascript_each_answer_is_one_request_and_reload_shows_the_same_question(live_server, new_context):
    """On a slow mobile network every round trip costs about 0.8 s: an answer must be one POST
    answered with the next question, never POST + redirect + GET."""
    page = new_context(locale="zh-CN").new_page()
    family = Family(page, live_server.url)
    family.begin()
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append((request.method, urlsplit(request.url).path)))
    answers = likely_answers()
    for _ in range(4):
        family.answer(answers[family.question()[0]])
    assert sent == [("POST", f"{BASE}/answer")] * 4
    assert urlsplit(page.url).path == f"{BASE}/chat"
    shown = family.question()
    listed = page.locator("ol.chat > li").all_inner_texts()
    assert len(listed) == 8  # four questions, four answers, in order
    assert_no_axe_violations(page)
    page.reload()
    assert family.question() == shown
    assert page.locator("ol.chat > li").all_inner_texts() == listed
    # one more step in place, then "change" the 2nd answer: its step must have moved on with it
    family.answer(answers[family.question()[0]])
    expect(page.locator("ol.chat > li")).to_have_count(10)
    following = family.question()[0]
    sent.clear()
    page.locator("button.change").nth(1).click()
    page.wait_for_selector("form.ask input[name=q][value=diagnosis]", state="attached")
    assert "正在修改回答" in page.inner_text("form.ask")  # zh-CN: "Changing your answer:"
    # "change" and "keep my earlier answer" are one round trip each too
    assert sent == [("POST", f"{BASE}/change")] and urlsplit(page.url).path == f"{BASE}/chat"
    sent.clear()
    page.locator("form.change button.secondary").click()
    page.wait_for_selector(f"form.ask input[name=q][value={following}]", state="attached")
    assert sent == [("POST", f"{BASE}/change")] and "正在修改回答" not in page.inner_text("main")


def test_with_javascript_agree_is_one_request_and_shows_the_first_question(live_server, new_context):
    """ "Agree and start" used to be POST, 303 and GET: three trips to the first question on a
    slow mobile network. chat.js sends it and shows the first question from the response."""
    page = new_context(locale="zh-CN").new_page()
    page.goto(live_server.url + f"{BASE}/consent?as=guardian")
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append((request.method, urlsplit(request.url).path)))
    page.click(".consent-form button[type=submit]")  # the box not ticked: the error, in place
    page.wait_for_selector("#agree-errors")
    assert sent == [("POST", f"{BASE}/consent")] and not page.locator("#agree").is_checked()
    sent.clear()
    page.check("#agree")
    page.click(".consent-form button[type=submit]")
    page.wait_for_selector("form.ask input[name=q][value=dob]", state="attached")
    assert sent == [("POST", f"{BASE}/consent")]
    assert urlsplit(page.url).path == f"{BASE}/chat" and page.title().startswith("问题")
    assert "孩子是哪年哪月出生的？" in page.inner_text("#q-text")
    assert page.evaluate("document.activeElement.id") == "current"  # focus is on the question
    page.reload()  # the address bar is right: a reload shows the same first question
    assert Family(page, live_server.url).question()[0] == "dob"


def test_the_stylesheet_and_script_come_over_the_network_once(live_server, new_context):
    """Each page used to ask again whether app.css had changed (a 304 costs a whole round trip,
    about 0.4 s on a slow mobile network); versioned URLs are cached for a year, even after the
    session cookie changes and on a reload."""
    fetched: list[str] = []
    app = live_server.app
    inner = app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].startswith("/static/"):
            fetched.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    app.wsgi_app = counting  # type: ignore[method-assign]
    try:
        page = new_context(locale="zh-CN").new_page()
        family = Family(page, live_server.url)
        family.begin()  # home, study, who, consent, agree: the session cookie is set on the way
        family.answer(born_years_ago(9))
        page.reload()
        page.wait_for_selector("form.ask")
        page.goto(f"{live_server.url}{BASE}/")
        page.wait_for_selector("h1")
    finally:
        app.wsgi_app = inner  # type: ignore[method-assign]
    assert sorted(fetched) == ["/static/app.css", "/static/chat.js"]

"""Grandparents (适老化) on a zh-CN phone in Debian's Chromium: large text, read-aloud, nothing that needs JavaScript.

Large text is measured as the browser draws it (getComputedStyle of every piece of text on the
page): 20 px and up, line height 1.3 and up, every button 44 px and up, no sideways scrolling,
axe-clean. It is switched on by a plain form, so it must work with JavaScript off too, and be
remembered on the next page and in a new tab. Read-aloud shows only where the browser can speak
the page's language; headless Chromium has speech synthesis but no voices, like many phones.
Screenshots go to /tmp/shots for a human to look at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_chat import Family
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, born_years_ago, likely_answers

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots for a human to look at, not secrets
PHONE = {"locale": "zh-CN", "has_touch": True, "is_mobile": True}

#: Every visible piece of text, input and button that is smaller than large mode promises.
MEASURE = """() => {
  const small = [];
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && el.getClientRects().length > 0;
  };
  const check = (el, what) => {
    const cs = getComputedStyle(el);
    const size = parseFloat(cs.fontSize);
    const line = cs.lineHeight === 'normal' ? 1.2 * size : parseFloat(cs.lineHeight);
    if (size < 20 || line / size < 1.3 - 1e-6) small.push(`${what} ${size}px/${line}px: ${el.outerHTML.slice(0, 80)}`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (walker.currentNode.textContent.trim() && shown(el)) check(el, 'text');
  }
  const fields = 'input:not([type=hidden]):not([type=submit]):not([type=checkbox]):not([type=radio]), select, textarea';
  for (const el of document.querySelectorAll(fields)) if (shown(el)) check(el, 'field');
  const targets = 'button, .button, input[type=submit], label.choice, summary';
  for (const el of document.querySelectorAll(targets)) {
    const height = el.getBoundingClientRect().height;
    if (shown(el) && height < 44) small.push(`target ${height}px: ${el.outerHTML.slice(0, 80)}`);
  }
  const wide = document.documentElement.scrollWidth;
  if (wide > window.innerWidth) small.push(`scrolls sideways: ${wide}px`);
  return small;
}"""


def shot(page: Any, name: str) -> None:
    """The whole page, and what the phone's screen shows (a full-page shot of a touch phone is
    drawn without its touch media queries: the number badges reappear there, not on the phone)."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"large-{name}.png"), full_page=True)
    page.screenshot(path=str(SHOTS / f"large-{name}-screen.png"))


LARGE = re.compile(r"(^|\s)large(\s|$)")


def is_large(page: Any) -> bool:
    return page.evaluate("document.documentElement.classList.contains('large')")


def switch_on(page: Any) -> None:
    button = page.locator("form.text-size input[type=submit]")
    assert button.input_value() == "大字" and button.get_attribute("aria-pressed") == "false"
    button.click()
    expect(page.locator("html")).to_have_class(LARGE)
    assert page.locator("form.text-size input[type=submit]").get_attribute("aria-pressed") == "true"


def assert_large_page(page: Any, name: str, axe: bool = True) -> None:
    """Large text as drawn, a screenshot, and axe (which needs the page's JavaScript: its timers)."""
    assert is_large(page), page.url
    assert page.evaluate(MEASURE) == [], page.url
    body = page.evaluate("parseFloat(getComputedStyle(document.querySelector('main p, main li, main label')).fontSize)")
    assert body >= 20
    shot(page, name)
    if axe:
        assert_no_axe_violations(page)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_large_text_is_20px_remembered_and_axe_clean_from_home_to_the_summary(live_server, new_context, js):
    mode = "js" if js else "nojs"
    context = new_context(java_script_enabled=js, **PHONE)
    page = context.new_page()
    page.goto(live_server.url + "/")
    assert not is_large(page)
    switch_on(page)
    assert page.url == live_server.url + "/"  # back on the page it was switched on
    assert_large_page(page, f"home-{mode}", axe=js)
    page.goto(live_server.url + f"{BASE}/")
    assert_large_page(page, f"study-{mode}", axe=js)
    family = Family(page, live_server.url, js=js)
    family.begin()
    answers = likely_answers()
    for _ in range(4):  # a month, then single and multiple choices
        family.answer(answers[family.question()[0]])
    assert_large_page(page, f"chat-{mode}", axe=js)
    family.walk(answers)
    assert_large_page(page, f"result-{mode}", axe=js)
    page.click(f'a[href="{BASE}/refer"]')
    page.wait_for_selector("#name")
    assert_large_page(page, f"refer-{mode}", axe=js)
    page.fill("#name", "王芳")
    page.check("#relationship-mother")
    page.fill("#phone", "13812345678")
    page.check("#share")
    page.check("#guardian")
    page.click("main form button[type=submit] >> nth=-1")
    page.wait_for_selector(".reference")
    assert_large_page(page, f"sent-{mode}", axe=js)
    page.goto(live_server.url + f"{BASE}/summary")
    assert_large_page(page, f"summary-{mode}", axe=js)
    # A new tab (a new page load in the same browser) opens in large text too.
    fresh = context.new_page()
    fresh.goto(live_server.url + f"{BASE}/result")
    assert is_large(fresh)
    # And it switches off again.
    fresh.locator("form.text-size input[type=submit]").click()
    # A web-first assertion: it retries while the switch's POST and redirect replace the document
    # (a bare evaluate can run in the gap where there is no <html> yet).
    expect(fresh.locator("html")).not_to_have_class(LARGE)
    assert fresh.url == live_server.url + f"{BASE}/result"


def test_after_the_chat_changed_in_place_the_switch_comes_back_to_the_question(live_server, new_context):
    page = new_context(**PHONE).new_page()
    family = Family(page, live_server.url)
    family.begin()  # "Agree and start" and each answer change the page without a reload
    answers = likely_answers()
    for _ in range(2):
        family.answer(answers[family.question()[0]])
    asked = family.question()
    switch_on(page)
    assert page.url == live_server.url + f"{BASE}/chat"
    assert family.question() == asked


#: A browser with speech synthesis whose voices arrive late (as in Chrome), recording what it says.
SPEECH_STUB = """(() => {
  const voices = [];
  const listeners = [];
  window.__spoken = [];
  const synth = {
    speaking: false,
    getVoices: () => voices.slice(),
    speak: (u) => window.__spoken.push({ text: u.text, lang: u.lang, voice: u.voice && u.voice.name }),
    cancel: () => {},
    addEventListener: (name, fn) => { if (name === 'voiceschanged') listeners.push(fn); },
  };
  Object.defineProperty(window, 'speechSynthesis', { value: synth, configurable: true });
  window.SpeechSynthesisUtterance = function (text) { this.text = text; };
  setTimeout(() => {
    voices.push({ lang: '%s', name: 'Test voice', default: true, localService: true, voiceURI: 'test' });
    listeners.forEach((fn) => fn());
  }, 300);
})();"""


def test_read_aloud_is_absent_where_the_browser_cannot_speak(live_server, new_context):
    plain = new_context(**PHONE).new_page()  # headless Chromium: speech synthesis, no voices
    family = Family(plain, live_server.url)
    family.begin()
    plain.wait_for_timeout(500)
    voices = plain.evaluate("speechSynthesis.getVoices().filter(v => v.lang.toLowerCase().startsWith('zh')).length")
    assert plain.locator("[data-speak]").is_visible() == bool(voices)
    assert_no_axe_violations(plain)
    none = new_context(**PHONE)  # Android's WebView (WeChat): no speech synthesis at all
    none.add_init_script("Object.defineProperty(window, 'speechSynthesis', { value: undefined });")
    page = none.new_page()
    Family(page, live_server.url).begin()
    page.wait_for_timeout(500)
    expect(page.locator("[data-speak]")).to_have_count(1)
    expect(page.locator("[data-speak]")).to_be_hidden()
    english_only = new_context(**PHONE)  # a voice, but not for Chinese
    english_only.add_init_script(SPEECH_STUB % "en-US")
    page = english_only.new_page()
    Family(page, live_server.url).begin()
    page.wait_for_timeout(800)
    expect(page.locator("[data-speak]")).to_be_hidden()


def test_read_aloud_reads_the_question_and_its_options_in_chinese(live_server, new_context):
    context = new_context(**PHONE)
    context.add_init_script(SPEECH_STUB % "zh-CN")
    page = context.new_page()
    family = Family(page, live_server.url)
    family.begin()
    button = page.locator("form.ask [data-speak]")
    button.wait_for(state="visible")  # once the voices arrive
    assert button.inner_text() == "朗读"
    assert button.bounding_box()["height"] >= 44
    family.answer(born_years_ago(10))  # the next question arrives in place: its button shows too
    button = page.locator("form.ask [data-speak]")
    button.wait_for(state="visible")
    shot(page, "read-aloud")
    assert_no_axe_violations(page)
    button.click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "zh-CN" and spoken[0]["voice"] == "Test voice"
    question = page.inner_text("#q-text")
    options = [
        t.strip() for t in page.locator("form.ask .choices .option span:not(.key)").all_inner_texts() if t.strip()
    ]
    assert spoken[0]["text"].startswith(question) and all(o in spoken[0]["text"] for o in options)
    assert "1" not in spoken[0]["text"].replace(question, "")  # not the number badges


def test_with_javascript_off_no_control_shows_that_needs_it(live_server, new_context):
    page = new_context(java_script_enabled=False, **PHONE).new_page()
    family = Family(page, live_server.url, js=False)
    family.begin()
    expect(page.locator("[data-speak]")).to_be_hidden()
    family.walk(likely_answers())
    page.click("details.answers summary")  # every panel open: nothing inside may need the script
    page.click("details.resume summary")
    for path in ("result", "refer", "sent", "summary"):
        if path == "sent":
            page.fill("#name", "王芳")
            page.check("#relationship-mother")
            page.fill("#phone", "13812345678")
            page.check("#share")
            page.check("#guardian")
            page.click("main form button[type=submit] >> nth=-1")
            page.wait_for_selector(".reference")
        elif path != "result":
            page.goto(live_server.url + f"{BASE}/{path}")
        needs_js = page.locator("[data-copy], [data-print], [data-speak]")
        assert needs_js.count() > 0 or path == "refer"
        assert all(not needs_js.nth(i).is_visible() for i in range(needs_js.count())), path
        shot(page, f"nojs-{path}")


def test_number_key_badges_show_on_a_keyboard_but_not_on_a_touch_phone(live_server, new_context):
    for options, badges in (({"locale": "zh-CN"}, True), (PHONE, False)):
        page = new_context(**options).new_page()
        Family(page, live_server.url).begin()
        Family(page, live_server.url).answer(born_years_ago(10))
        assert page.locator("form.ask .key:not(:empty)").first.is_visible() == badges


def test_the_referral_form_keeps_both_ticks_after_an_error_and_names_the_11_digits(live_server, new_context):
    page = new_context(**PHONE).new_page()
    family = Family(page, live_server.url)
    family.begin()
    family.walk(likely_answers())
    page.click(f'a[href="{BASE}/refer"]')
    page.fill("#name", "王芳")
    page.check("#relationship-mother")
    page.fill("#phone", "138 1234 567")
    page.check("#share")
    page.check("#guardian")
    page.click("main form button[type=submit] >> nth=-1")
    page.wait_for_selector("#phone-errors")
    assert "大陆手机号是11位数字，这里填了10位" in page.inner_text("#phone-errors")
    assert page.is_checked("#share") and page.is_checked("#guardian")
    shot(page, "refer-error")
    assert_no_axe_violations(page)

"""A teen answering alone is spoken to as themselves on every page after saying so.

A 15-year-old may consent for themselves (PIPL art. 31: 14 and over). In English that means no
"your child"; in Chinese also 你, never 您 (the parent's), and no 孩子. The pages: the chat (also
when told early), the result, the referral form and its errors, the sent page, the summary, the
withdraw page, in both languages. Also here: the under-14 hand-off shows its link in plain sight.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from prescreen.public.text import consent_version, notice_context, render_in
from prescreen.public.voice import TEEN_PLURALS, TEEN_TEXTS
from tests.helpers.public import ASK_RE, BASE, answer, born_years_ago, csrf, likely_answers, start, waiting_answers

ROOT = Path(__file__).resolve().parent.parent
#: What a teen must never read, per language: the parent's words.
PARENT_WORDS = {"zh": ("您", "孩子"), "en": ("your child", "the child", "Your child", "The child")}
#: On the chat pages, the study's own "why we ask" may speak of children in general (研究只招5到18岁的孩子).
CHAT_PARENT_WORDS = {"zh": ("您", "你的孩子", "您的孩子"), "en": ("your child", "Your child")}
TEEN = {"dob": born_years_ago(15), "consent_teen": "yes_parent"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False, STUDY_CONTACT_PHONE="+86 10 5555 0100")


def text(client: FlaskClient, path: str, **kwargs: Any) -> str:
    """What the reader sees of *path* (the whole body, tags removed)."""
    response = client.get(path, **kwargs)
    assert response.status_code in (200, 404), (path, response.status_code)
    body = response.get_data(as_text=True)
    body = re.sub(r"<head>.*?</head>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def assert_teen_voice(page: str, lang: str, where: str, words: dict[str, tuple[str, ...]] = PARENT_WORDS) -> None:
    found = [w for w in words[lang] if w in page]
    assert not found, f"{where} ({lang}) says {found}: …{page[max(0, page.find(found[0]) - 60) :][:160]}…"


def walk_recording(client: FlaskClient, answers: dict[str, Any]) -> list[str]:
    """Answer every question, keeping the text of each chat page seen on the way."""
    pages = []
    for _ in range(60):
        response = client.get(f"{BASE}/chat")
        if response.status_code == 303:
            return pages
        body = response.get_data(as_text=True)
        pages.append(text(client, f"{BASE}/chat"))
        qid = html.unescape(ASK_RE.search(body).group(2))
        assert answer(client, answers[qid]).status_code == 303
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_15_year_old_is_spoken_to_as_themselves_from_chat_to_withdraw(app, lang):
    client = app.test_client()
    start(client, "patient", lang)
    for i, page in enumerate(walk_recording(client, {**likely_answers(), **TEEN})):
        assert_teen_voice(page, lang, f"chat page {i + 1}", CHAT_PARENT_WORDS)
    for path in ("result", "refer", "summary"):
        assert_teen_voice(text(client, f"{BASE}/{path}"), lang, path)
    # Errors on the referral form speak to the teen too.
    token = csrf(client, f"{BASE}/refer")
    form = {"csrf_token": token, "name": "李明", "phone": "138 1234 567", "best_time": "any", "language": lang}
    response = client.post(f"{BASE}/refer", data=form)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert_teen_voice(re.sub(r"<[^>]+>", " ", page.split("<body>")[1]), lang, "refer with errors")
    assert ("请选择这个人是谁" if lang == "zh" else "Please say who this person is") in page
    assert ("我们才能把你的信息" if lang == "zh" else "Please tick the box so we may send your details") in page
    # The teen sends their own details (no parent's tick asked of a 15-year-old).
    form.update(phone="138 1234 5678", relationship="self", share="y")
    assert client.post(f"{BASE}/refer", data=form).status_code == 303
    sent = text(client, f"{BASE}/sent")
    assert_teen_voice(sent, lang, "sent")
    withdraw_link = re.search(r'id="withdraw-url" value="([^"]+)"', client.get(f"{BASE}/sent").get_data(as_text=True))
    path = withdraw_link.group(1).split("localhost", 1)[1]
    assert_teen_voice(text(client, path), lang, "withdraw")
    # The link opened on another phone still speaks to the teen who sent it.
    assert_teen_voice(text(app.test_client(), path), lang, "withdraw elsewhere")
    assert_teen_voice(text(client, f"{BASE}/forget"), lang, "forget")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_teen_told_early_and_not_eligible_is_spoken_to_as_themselves(app, lang):
    client = app.test_client()
    start(client, "patient", lang)
    for i, page in enumerate(walk_recording(client, {**waiting_answers(), **TEEN})):
        assert_teen_voice(page, lang, f"chat page {i + 1}", CHAT_PARENT_WORDS)
    result = text(client, f"{BASE}/result")
    assert_teen_voice(result, lang, "not eligible result")
    assert ("请研究团队的医护人员帮你看看" if lang == "zh" else "Ask a person to check") in result
    assert_teen_voice(text(client, f"{BASE}/refer?kind=review"), lang, "review request")


def test_the_teens_referral_form_asks_whose_details_these_are(app):
    client = app.test_client()
    start(client, "patient", "en")
    walk_recording(client, {**likely_answers(), **TEEN})
    body = client.get(f"{BASE}/refer").get_data(as_text=True)
    assert "Name of the person the team should call" in body and "Parent or guardian&#39;s name" not in body
    assert "Who is this person?" in body and "Me (the patient)" in body and "My mother" in body
    assert re.search(r'id="relationship-self" name="relationship" value="self" checked', body)
    assert 'name="guardian"' not in body  # 14 and over: their own consent


def test_a_parent_still_reads_the_parents_words(app):
    client = app.test_client()
    start(client, "guardian", "zh")
    walk_recording(client, likely_answers())
    refer = text(client, f"{BASE}/refer")
    assert "父母或监护人姓名" in refer and "您和孩子的关系" in refer and "连同您的回答" in refer
    assert "这个初筛不能决定孩子能不能参加研究" in text(client, f"{BASE}/result")


def test_both_notices_are_versioned_in_both_voices(app):
    """A teen agrees to a notice in their own words, and the consent version names that text too."""
    with app.test_request_context("/"):
        patient = render_in("zh", "public/_share_notice.html", voice="patient", **notice_context())
        guardian = render_in("zh", "public/_share_notice.html", **notice_context())
        assert "你的回答" in patient and "您" not in patient and "您的回答" in guardian
        for lang in ("zh", "en"):
            health = render_in(lang, "public/_notice.html", **notice_context())
            teen = render_in(lang, "public/_notice.html", voice="patient", **notice_context())
            assert_teen_voice(html.unescape(re.sub(r"<[^>]+>", " ", teen)), lang, "privacy notice")
            assert teen != health
        assert "关于孩子健康状况" in render_in("zh", "public/_notice.html", **notice_context())
        assert consent_version("share").startswith("share-") and consent_version("health").startswith("health-")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_teen_reads_the_consent_page_in_their_own_voice(app, lang):
    """Before the first question a 15-year-old reads "your health", 你, never 您 or 孩子."""
    page = text(app.test_client(), f"{BASE}/consent?as=patient&lang={lang}")
    assert ("你的健康" in page or "你自己健康" in page) if lang == "zh" else "about your health" in page
    assert_teen_voice(page, lang, "consent page")
    parent = text(app.test_client(), f"{BASE}/consent?as=guardian&lang={lang}")
    assert ("孩子" in parent) if lang == "zh" else ("your child's health" in parent)


def test_every_teen_text_is_a_text_the_pages_use_and_none_is_in_a_notice(app):
    """A text listed in prescreen.public.voice is said to a teen only if a page still says it."""
    with (ROOT / "translations/zh/LC_MESSAGES/public.po").open("rb") as po:
        catalog = read_po(po)
    plain = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and not m.context}
    teen = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.context == "patient"}
    listed = {t._args[1] for t in TEEN_TEXTS} | {t._args[1] for t in TEEN_PLURALS}
    assert listed <= plain, sorted(listed - plain)
    for msgid, msgstr in teen.items():
        said = msgstr if isinstance(msgstr, str) else "".join(msgstr)
        assert "您" not in said and "孩子" not in said, msgid


def test_the_under_14_handoff_shows_the_link_to_send(app):
    client = app.test_client()
    start(client, "patient", "zh")
    assert answer(client, born_years_ago(12)).status_code == 303
    body = client.get(f"{BASE}/handoff").get_data(as_text=True)
    link = re.search(r'<input type="text" id="resume-url" value="([^"]+)" readonly>', body)
    assert link and "/r/" in link.group(1)
    before_link = body.split('id="resume-url"')[0]
    assert before_link.count("<details") == before_link.count("</details>")  # not inside a folded panel

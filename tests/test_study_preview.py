"""An admin walks a questionnaire version as a family would, and nothing of it is stored.

The preview must say exactly what the family pages say (each question, the result and its
reasons, the re-check date), in both languages and both voices, so these tests walk the public
chat with the same answers and compare; and it must never leave a screening, consent, log or
outbox row behind: only one audit row per preview started, as a staff action.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen import studies
from prescreen.store import connect
from tests.helpers.public import (
    BASE,
    born_years_ago,
    likely_answers,
    raw_connection,
    review_answers,
    rows,
    start,
    table_names,
    waiting_answers,
)
from tests.helpers.public import answer as public_answer
from tests.helpers.public import current as public_current
from tests.helpers.staff import STUDY_ID, add_user, csrf, login

ADMIN = "admin@pumch.example"
PREVIEW_ASK = re.compile(
    r'<form method="post" action="([^"]*/preview/[^"]*)" class="ask".*?name="q" value="([^"]+)"', re.S
)
QUESTION_TEXT = re.compile(r'<p id="q-text">(.*?)</p>', re.S)
#: A 15-year-old may answer alone (a younger patient is asked to fetch a parent).
TEEN = {"dob": born_years_ago(15), "consent_teen": "yes_parent"}
OUTCOMES = {
    "likely_eligible": likely_answers,
    "needs_review": review_answers,
    "not_eligible": waiting_answers,
}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False, STUDY_CONTACT_PHONE="+86 10 5555 0100")


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    add_user(app, ADMIN, role="admin")
    client = app.test_client()
    assert login(client, ADMIN).status_code in (302, 303)
    return client


def live_version(app: Flask) -> str:
    return studies.of(app).studies[STUDY_ID].version


def preview_path(app: Flask, language: str = "zh", voice: str = "guardian", version: str | None = None) -> str:
    return f"/coordinator/studies/{STUDY_ID}/preview/{version or live_version(app)}?language={language}&voice={voice}"


def words(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags removed, spaces collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def outcome_words(page: str) -> str:
    """The result block (heading, sentence, reasons, re-check date) as the reader sees it."""
    start_at = page.index('<div class="result result-')
    end_at = page.find("</p>", page.find('class="recheck"', start_at)) if 'class="recheck"' in page else None
    block = page[start_at:end_at] if end_at else page[start_at : page.index("</div>", start_at)]
    return words(block)


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def walk_preview(client: FlaskClient, path: str, answers: dict[str, Any]) -> tuple[list[str], str]:
    """Answer each question the preview asks from *answers*; returns the question texts and the last page."""
    texts = []
    for _ in range(60):
        page = client.get(path)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        ask = PREVIEW_ASK.search(body)
        if ask is None:
            return texts, body
        texts.append(words(QUESTION_TEXT.search(body).group(1)))
        action, qid = html.unescape(ask.group(1)), html.unescape(ask.group(2))
        form = {"csrf_token": token_of(body), "action": "answer", "q": qid, "value": answers[qid]}
        assert client.post(action, data=form).status_code == 303
    raise AssertionError("the preview did not end")


def walk_public(client: FlaskClient, answers: dict[str, Any], voice: str, lang: str) -> tuple[list[str], str]:
    """The same walk on the family's chat: the question texts and the result page."""
    start(client, voice, lang)
    texts = []
    for _ in range(60):
        now = public_current(client)
        if now is None:
            return texts, client.get(f"{BASE}/result").get_data(as_text=True)
        body = client.get(f"{BASE}/chat").get_data(as_text=True)
        texts.append(words(QUESTION_TEXT.search(body).group(1)))
        assert public_answer(client, answers[now[0]]).status_code == 303
    raise AssertionError("the walk did not end")


def row_counts(app: Flask) -> dict[str, int]:
    """How many rows every table holds (sessions aside: signing in writes one)."""
    conn = raw_connection(app)
    try:
        tables = table_names(conn)
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
    finally:
        conn.close()


def audit_rows(app: Flask, action: str) -> list[dict[str, Any]]:
    db = connect(app.config["DATABASE"])
    try:
        return list(db.query("SELECT * FROM audit WHERE action = ? ORDER BY id", [action]))
    finally:
        db.close()


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize(("lang", "voice"), [("zh", "guardian"), ("en", "patient"), ("zh", "patient")])
def test_the_preview_asks_and_concludes_in_the_familys_own_words_and_stores_nothing(
    app: Flask, admin: FlaskClient, outcome: str, lang: str, voice: str
) -> None:
    answers = {**OUTCOMES[outcome](), **(TEEN if voice == "patient" else {})}
    before = row_counts(app)
    asked, page = walk_preview(admin, preview_path(app, lang, voice), answers)
    after = row_counts(app)
    assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {"audit": 1}  # study.preview
    assert f'class="result result-{outcome}"' in page
    assert "Preview · nothing is saved" in page

    family_texts, result = walk_public(app.test_client(), answers, voice, lang)
    assert asked == family_texts  # every question, in order, worded as the family reads it
    assert outcome_words(page) == outcome_words(result)  # the heading, reasons and re-check date
    assert ('class="recheck"' in page) == (outcome == "not_eligible")


def test_a_preview_walk_writes_nothing_but_its_one_audit_row(app: Flask, admin: FlaskClient) -> None:
    before = row_counts(app)
    _asked, page = walk_preview(admin, preview_path(app, "en", "guardian"), waiting_answers())
    assert 'class="result result-not_eligible"' in page
    after = row_counts(app)
    assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {"audit": 1}
    for table in ("screenings", "consents", "screening_log", "outbox", "referrals"):
        assert after[table] == 0, table
    (row,) = audit_rows(app, "study.preview")
    assert row["record_type"] == "study" and row["record_id"] == STUDY_ID
    assert json.loads(row["detail"]) == {"version": live_version(app)}
    assert row["actor"].startswith("user:")


def test_the_teen_voice_and_the_language_switch_keep_the_answers(app: Flask, admin: FlaskClient) -> None:
    answers = {**likely_answers(), **TEEN}
    walk_preview(admin, preview_path(app, "zh", "patient"), answers)
    for lang, says, never in (("zh", "你", "您"), ("en", "You may be able to join this study", "your child")):
        page = admin.get(preview_path(app, lang, "patient")).get_data(as_text=True)
        assert 'class="result result-likely_eligible"' in page, lang
        assert says in outcome_words(page) and never not in outcome_words(page), lang
    # A parent is asked what only a parent is asked; the answers given so far are kept.
    asked, page = walk_preview(admin, preview_path(app, "en", "guardian"), answers)
    assert 0 < len(asked) < 5
    assert "Your child may be able to join this study" in outcome_words(page)
    assert len(audit_rows(app, "study.preview")) == 1  # switching is not a new preview


def test_a_patient_under_14_is_asked_to_fetch_a_parent(app: Flask, admin: FlaskClient) -> None:
    path = preview_path(app, "en", "patient")
    body = admin.get(path).get_data(as_text=True)
    ask = PREVIEW_ASK.search(body)
    form = {"csrf_token": token_of(body), "action": "answer", "q": ask.group(2), "value": born_years_ago(10)}
    assert admin.post(html.unescape(ask.group(1)), data=form).status_code == 303
    page = admin.get(path).get_data(as_text=True)
    assert "Please ask a parent or guardian to join you" in page
    assert PREVIEW_ASK.search(page) is None
    # The same answers in a parent's voice go on to the next question.
    assert PREVIEW_ASK.search(admin.get(preview_path(app, "en", "guardian")).get_data(as_text=True))


def test_changing_an_earlier_answer_rebranches_and_start_again_forgets(app: Flask, admin: FlaskClient) -> None:
    path = preview_path(app, "en", "guardian")
    _asked, page = walk_preview(admin, path, likely_answers())
    assert 'class="result result-likely_eligible"' in page
    token = token_of(page)
    assert admin.post(path, data={"csrf_token": token, "action": "change", "q": "tb"}).status_code == 303
    page = admin.get(path).get_data(as_text=True)
    assert "Keep my earlier answer" in page and PREVIEW_ASK.search(page).group(2) == "tb"
    assert (
        admin.post(path, data={"csrf_token": token, "action": "answer", "q": "tb", "value": "not_sure"}).status_code
        == 303
    )
    assert 'class="result result-needs_review"' in admin.get(path).get_data(as_text=True)

    assert admin.post(path, data={"csrf_token": token, "action": "restart"}).status_code == 303
    page = admin.get(path).get_data(as_text=True)
    assert PREVIEW_ASK.search(page).group(2) == "dob" and "Your answer:" not in page
    assert len(audit_rows(app, "study.preview")) == 2  # the first preview and the new start


def test_a_wrong_answer_is_refused_in_the_previewed_language(app: Flask, admin: FlaskClient) -> None:
    path = preview_path(app, "zh", "guardian")
    body = admin.get(path).get_data(as_text=True)
    response = admin.post(path, data={"csrf_token": token_of(body), "action": "answer", "q": "dob", "value": "soon"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and re.search(r'id="answer-error">[^<]*[\u4e00-\u9fff]', page)
    assert PREVIEW_ASK.search(admin.get(path).get_data(as_text=True)).group(2) == "dob"


def test_only_signed_in_admins_may_preview_and_only_with_a_csrf_token(app: Flask, admin: FlaskClient) -> None:
    path = preview_path(app)
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 302 and "/staff/login" in response.location
    assert anonymous.post(path, data={"action": "restart"}).status_code == 400  # no CSRF token: refused first
    assert audit_rows(app, "study.preview") == []

    add_user(app, "coord@pumch.example")
    coordinator = app.test_client()
    login(coordinator, "coord@pumch.example")
    assert coordinator.get(path).status_code == 403
    token = csrf(coordinator, "/coordinator/")
    assert coordinator.post(path, data={"csrf_token": token, "action": "restart"}).status_code == 403
    assert "Preview the questionnaire families see" not in coordinator.get("/coordinator/studies").get_data(
        as_text=True
    )

    body = admin.get(path).get_data(as_text=True)
    no_token = admin.post(path, data={"action": "answer", "q": "dob", "value": born_years_ago(10)})
    assert no_token.status_code == 400
    assert "Your answer:" not in admin.get(path).get_data(as_text=True)  # nothing was taken
    assert token_of(body)
    assert audit_rows(app, "study.preview") and all(r["actor"] != "anonymous" for r in audit_rows(app, "study.preview"))


def test_an_unknown_version_or_study_is_not_found(app: Flask, admin: FlaskClient) -> None:
    assert admin.get(preview_path(app, version="0000000000000000")).status_code == 404
    assert admin.get(f"/coordinator/studies/no-such-study/preview/{live_version(app)}").status_code == 404
    assert audit_rows(app, "study.preview") == []


def test_the_studies_page_links_each_live_version_to_its_preview(app: Flask, admin: FlaskClient) -> None:
    page = admin.get("/coordinator/studies").get_data(as_text=True)
    link = re.search(r'href="([^"]*/preview/[^"]+)">Preview the questionnaire families see<', page)
    assert link and link.group(1).endswith(f"/studies/{STUDY_ID}/preview/{live_version(app)}")
    response = admin.get(html.unescape(link.group(1)))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex' in response.get_data(as_text=True)


def test_the_preview_keeps_the_session_cookie_small(app: Flask, admin: FlaskClient) -> None:
    walk_preview(admin, preview_path(app, "en", "guardian"), waiting_answers())
    cookie = admin.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and len(cookie.value) < 2000


def test_a_draft_is_previewed_with_its_own_words_and_rules_before_it_is_published(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    from tests.test_study_versions import NEW_DOB, NEW_DOB_ZH, OLD_DOB, VERSIONS, upload, version_two, workbook

    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    [(draft,)] = rows(app, "SELECT version FROM study_versions WHERE state = 'draft'")
    versions_page = admin.get(VERSIONS).get_data(as_text=True)
    assert f"/preview/{draft}" in versions_page  # the versions page links each draft here
    first = admin.get(preview_path(app, "en", "guardian", version=draft)).get_data(as_text=True)
    assert NEW_DOB in first and OLD_DOB not in first
    assert NEW_DOB_ZH in admin.get(preview_path(app, "zh", "guardian", version=draft)).get_data(as_text=True)
    # The draft's age rule (12 and over) already decides: the same 10-year-old, two results.
    _asked, page = walk_preview(admin, preview_path(app, "en", "guardian", version=draft), likely_answers())
    assert 'class="result result-not_eligible"' in page and 'class="recheck"' in page
    _asked, page = walk_preview(admin, preview_path(app, "en", "guardian"), likely_answers())
    assert 'class="result result-likely_eligible"' in page
    assert f'href="{VERSIONS}"' in page  # back to the study's versions
    assert rows(app, "SELECT count(*) FROM screenings") == [(0,)]
    assert [json.loads(r["detail"])["version"] for r in audit_rows(app, "study.preview")] == [draft, live_version(app)]

"""The families' chat questionnaire through the real Flask test client and a real SQLite file.

JavaScript is irrelevant here: every step is a plain form POST answered by a redirect, exactly what
a phone with scripts off does. Walks use the real study (questions/pumch-pediatric-sjogren).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.store import INTEGRITY_ERRORS, connect, recruiting
from tests.helpers.public import (
    ASK_RE,
    BASE,
    STUDY,
    answer,
    born_years_ago,
    csrf,
    current,
    likely_answers,
    months_ago,
    raw_connection,
    resume,
    review_answers,
    rows,
    start,
    waiting_answers,
    walk,
)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """CSRF on (as in production); rate limiting off except in its own tests."""
    return make_app(RATELIMIT_ENABLED=False)


def count(app: Flask, table: str) -> int:
    return rows(app, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 — test helper, fixed names


def screening(app: Flask) -> dict[str, Any]:
    (raw,) = rows(app, "SELECT answers, version, locale, respondent, status, outcome, step FROM screenings")
    keys = ("answers", "version", "locale", "respondent", "status", "outcome", "step")
    row = dict(zip(keys, raw, strict=True))
    row["answers"] = json.loads(row["answers"])
    return row


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


# -- study page, home, who is filling in -----------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("zh-CN", "北京协和医院"),
        ("zh-TW,en;q=0.5", "北京协和医院"),
        ("zh-Hans-CN", "北京协和医院"),
        ("en", "Peking Union"),
    ],
)
def test_study_page_follows_accept_language_and_names_the_centre(client, accept, expected):
    body = client.get(f"{BASE}/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert expected in body
    assert 'class="lang-switch"' in body
    assert "100730" in body


def test_home_lists_studies_by_area_and_a_closed_one_says_so_without_a_link(app, client):
    home = page(client, "/?lang=zh")
    area = home.split('class="area-title">')[1]
    assert area.startswith("风湿免疫病</h2>")  # sjogren's parent in questions/categories.csv
    assert f'href="{BASE}/"' in area.split("</section>")[0]
    assert "暂停招募的研究" not in home
    db = connect(app.config["DATABASE"])
    recruiting.set_status(db, STUDY, "closed", "test")
    db.close()
    home = page(client, "/?lang=zh")
    assert f'href="{BASE}/"' not in home  # nothing to start
    closed = home.split('id="area-closed"')[1].split("</section>")[0]
    assert "暂停招募的研究" in closed and "这项研究目前暂停招募新的小朋友" in closed
    assert "北京协和医院" in closed and "NCT06410833" in closed  # still there to check


@pytest.mark.parametrize(
    ("lang", "hospital", "registry", "elsewhere"),
    [
        ("zh", "北京协和医院", "临床试验注册号 NCT06410833", "这项研究不适合您的孩子？"),
        ("en", "Peking Union Medical College Hospital", "Registry number NCT06410833", "Not the study for you?"),
    ],
)
def test_home_names_the_hospital_and_registry_and_offers_other_studies(client, lang, hospital, registry, elsewhere):
    body = page(client, f"/?lang={lang}")
    assert hospital in body and registry in body  # a wary parent can check the study is real
    assert elsewhere in body and 'href="/volunteer/"' in body


def test_closed_study_says_so_kindly_and_accepts_no_new_screening(app, client):
    token = csrf(client, f"{BASE}/consent?as=guardian")
    db = connect(app.config["DATABASE"])
    recruiting.set_status(db, STUDY, "closed", "test")
    db.close()
    body = page(client, f"{BASE}/?lang=zh")
    assert "这项研究目前暂停招募新的参加者" in body
    assert "/volunteer/" in body
    assert "开始答题" not in body
    response = client.post(f"{BASE}/consent", data={"csrf_token": token, "respondent": "guardian", "agree": "y"})
    assert response.status_code == 303
    assert count(app, "screenings") == 0
    assert client.get(f"{BASE}/start").status_code == 303


def test_unknown_study_is_404(client):
    assert client.get("/s/no-such-study/").status_code == 404


def test_who_is_filling_in_offers_both_roles(client):
    body = page(client, f"{BASE}/start?lang=zh")
    assert "as=guardian" in body and "as=patient" in body
    assert "未满 14 岁" in body


# -- consent ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_consent_box_renders_unticked(client, lang):
    body = page(client, f"{BASE}/consent?as=guardian&lang={lang}")
    assert 'type="checkbox" id="agree" name="agree" value="y">' in body
    assert "checked" not in body


NOTICE = {
    "en": [
        "Purpose:",
        "Why it is needed:",
        "What it could mean for you:",
        "How long:",
        "Where it is kept:",
        "mainland China",
        "Withdraw or delete:",
        "Questions or complaints:",
        "You can say no:",
        "Peking Union Medical College Hospital",
    ],
    "zh": [
        "目的",
        "为什么需要",
        "影响",
        "保存期限",
        "保存地点",
        "中国境内",
        "撤回或删除",
        "投诉",
        "可以不同意",
        "北京协和医院",
    ],
}


@pytest.mark.parametrize("respondent", ["guardian", "patient"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_notice_names_purpose_necessity_impact_retention_place_withdrawal_complaints_refusal(client, lang, respondent):
    body = page(client, f"{BASE}/consent?as={respondent}&lang={lang}")
    missing = [item for item in NOTICE[lang] if item not in body]
    assert missing == []


def test_privacy_contact_comes_from_config_and_nothing_is_invented(make_app):
    app = make_app(RATELIMIT_ENABLED=False, PRIVACY_CONTACT="PUMCH privacy office")
    body = page(app.test_client(), f"{BASE}/consent?as=guardian")
    assert "contact PUMCH privacy office." in body
    plain = page(make_app(RATELIMIT_ENABLED=False).test_client(), f"{BASE}/consent?as=guardian&lang=zh")
    assert "请联系北京协和医院的研究团队" in plain


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_consent_without_the_box_is_a_form_error_and_writes_no_row(app, client, lang):
    token = csrf(client, f"{BASE}/consent?as=guardian&lang={lang}")
    response = client.post(f"{BASE}/consent", data={"csrf_token": token, "respondent": "guardian"})
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert count(app, "screenings") == 0 and count(app, "consents") == 0


def test_consent_with_a_made_up_role_starts_nothing(app, client):
    token = csrf(client, f"{BASE}/consent?as=guardian")
    response = client.post(f"{BASE}/consent", data={"csrf_token": token, "respondent": "doctor", "agree": "y"})
    assert response.status_code == 303
    assert count(app, "screenings") == 0


def test_post_without_csrf_token_is_400_and_stores_nothing(app, client):
    response = client.post(f"{BASE}/consent", data={"respondent": "guardian", "agree": "y"})
    assert response.status_code == 400
    assert count(app, "screenings") == 0
    start(client)
    qid, step, _token = current(client)
    response = client.post(f"{BASE}/answer", data={"step": step, "q": qid, "value": born_years_ago(9)})
    assert response.status_code == 400
    assert screening(app)["answers"] == {}


def test_csrf_token_from_another_session_is_refused(app, client):
    other = app.test_client()
    foreign = csrf(other, f"{BASE}/consent?as=guardian")
    csrf(client, f"{BASE}/consent?as=guardian")
    response = client.post(f"{BASE}/consent", data={"csrf_token": foreign, "respondent": "guardian", "agree": "y"})
    assert response.status_code == 400
    assert count(app, "screenings") == 0


def test_consent_row_records_version_locale_role_and_time_and_cannot_be_updated(app, client):
    start(client, "guardian", "zh")
    ((kind, version, locale, role, created),) = rows(
        app, "SELECT kind, text_version, locale, role, created_at FROM consents"
    )
    assert (kind, locale, role) == ("health_data", "zh", "guardian")
    assert version.startswith("health-") and len(version) == len("health-") + 16
    assert created.endswith("Z")
    conn = raw_connection(app)
    with pytest.raises(INTEGRITY_ERRORS, match="never updated"):
        conn.execute("UPDATE consents SET locale = 'en'")
    conn.close()


def test_consent_version_changes_when_the_notice_changes(make_app):
    one = make_app(RATELIMIT_ENABLED=False)
    two = make_app(RATELIMIT_ENABLED=False, PRIVACY_CONTACT="someone else")
    versions = []
    for app in (one, two):
        with app.test_request_context():
            from prescreen.public.text import consent_version

            versions.append(consent_version("health"))
    assert versions[0] != versions[1]


# -- the chat ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("respondent", "lang", "first_question"),
    [
        ("guardian", "en", "In what month and year was your child born?"),
        ("patient", "en", "In what month and year were you born?"),
        ("guardian", "zh", "孩子是哪年哪月出生的？"),
        ("patient", "zh", "你是哪年哪月出生的？"),
    ],
)
def test_first_question_speaks_in_the_respondents_voice_and_language(client, respondent, lang, first_question):
    start(client, respondent, lang)
    body = page(client, f"{BASE}/chat")
    assert first_question in body
    assert '<details class="why">' in body
    assert 'name="q" value="dob"' in body


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_guardian_walks_to_likely_eligible_with_js_off(app, client, family, lang):
    family.start("guardian", lang)
    asked = family.walk(likely_answers())
    body = page(client, f"{BASE}/result")
    assert ("Your child may be able to join this study" if lang == "en" else "孩子初步符合这项研究的条件") in body
    assert f"{BASE}/refer" in body
    row = screening(app)
    assert row["outcome"] == "likely_eligible" and row["status"] == "completed"
    expected = {q: sorted(v) if isinstance(v, list) else v for q, v in likely_answers().items() if q in asked}
    assert row["answers"] == expected  # option values, never display text
    assert row["step"] == len(asked)
    assert len(row["version"]) == 16


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_needs_review_is_framed_as_the_team_checking(app, client, lang):
    start(client, "guardian", lang)
    walk(client, review_answers())
    body = page(client, f"{BASE}/result")
    assert (
        "The study team needs to check a few things with you" if lang == "en" else "研究团队需要和您核实几个问题"
    ) in body
    assert f"{BASE}/refer" in body
    assert screening(app)["outcome"] == "needs_review"


def test_teen_in_english_reaches_not_eligible_with_a_recheck_date(app, client):
    start(client, "patient", "en")
    answers = {**waiting_answers(), "dob": born_years_ago(15)}
    walk(client, answers)
    body = page(client, f"{BASE}/result")
    assert "This study is not a fit right now" in body
    assert "The last rituximab dose must be more than 6 months ago" in body or "rituximab" in body.lower()
    recheck = rows(app, "SELECT recheck_after FROM screenings")[0][0]
    day = date.fromisoformat(recheck)
    assert f"{day.day} {day.strftime('%B')} {day.year}" in body
    assert f'href="{BASE}/refer"' not in body  # no "send my details" for a family that does not qualify
    assert "why you think you may qualify" in body  # but a person may check the result (in the teen's voice)


def test_recheck_date_is_written_the_chinese_way(app, client):
    start(client, "guardian", "zh")
    walk(client, waiting_answers())
    body = page(client, f"{BASE}/result")
    day = date.fromisoformat(rows(app, "SELECT recheck_after FROM screenings")[0][0])
    assert f"{day.year}年{day.month}月{day.day}日" in body


def test_progress_hint_counts_down(client):
    start(client)
    assert "questions left" in page(client, f"{BASE}/chat")
    start(client, "guardian", "zh")
    assert "大约还剩" in page(client, f"{BASE}/chat")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Please fill this in."),
        ("2015-13", "Please give the year and month"),
        ("2999-01", "That month is in the future"),
        ("<script>alert(1)</script>", "Please give the year and month"),
    ],
)
def test_a_bad_month_gets_a_translated_message_and_stores_nothing(app, client, value, message):
    start(client)
    response = answer(client, value)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and "<script>alert" not in body
    assert screening(app)["answers"] == {} and screening(app)["step"] == 0


def test_tampered_option_value_is_refused_and_stores_nothing(app, client):
    start(client, "guardian", "zh")
    answer(client, born_years_ago(9))
    response = answer(client, "definitely")
    assert response.status_code == 400
    assert "这个答案不在选项中" in response.get_data(as_text=True)
    assert screening(app)["answers"] == {"dob": born_years_ago(9)}


def test_tampered_question_id_is_refused(app, client):
    start(client)
    response = answer(client, "yes", q="hbv")
    assert response.status_code == 400
    assert screening(app)["answers"] == {}


def test_exclusive_and_other_options_together_are_refused(app, client):
    start(client)
    walk_to = likely_answers()
    for qid in ("dob", "diagnosis", "consent_guardian", "rituximab"):
        assert answer(client, walk_to[qid]).status_code == 303
    response = answer(client, ["none", "belimumab"])
    assert response.status_code == 400
    assert "biologics" not in screening(app)["answers"]


def test_double_post_records_the_answer_once(app, client):
    start(client)
    qid, step, token = current(client)
    data = {"csrf_token": token, "step": step, "q": qid, "value": born_years_ago(9)}
    first = client.post(f"{BASE}/answer", data=data)
    second = client.post(f"{BASE}/answer", data={**data, "value": born_years_ago(12)})
    assert first.status_code == second.status_code == 303
    row = screening(app)
    assert row["step"] == 1 and row["answers"] == {"dob": born_years_ago(9)}


def test_changing_an_earlier_answer_rebranches_and_says_the_result_changed(app, client, eligible_family):
    assert screening(app)["outcome"] == "likely_eligible"
    token = csrf(client, f"{BASE}/result")
    step = str(screening(app)["step"])
    response = client.post(f"{BASE}/change", data={"csrf_token": token, "step": step, "q": "rituximab"})
    assert response.status_code == 303 and "rituximab" not in response.headers["Location"]
    body = page(client, f"{BASE}/chat")
    assert "Changing your answer" in body and 'name="q" value="rituximab"' in body
    assert answer(client, "yes").status_code == 303
    assert "flow_changed" not in page(client, f"{BASE}/chat")  # the notice is a sentence, not a code
    assert answer(client, months_ago(1)).status_code == 303
    body = page(client, f"{BASE}/result")
    assert "Your change has altered the result." in body
    assert screening(app)["outcome"] == "not_eligible"
    # the notice is shown once
    assert "Your change has altered the result." not in page(client, f"{BASE}/result")


def test_keeping_the_earlier_answer_cancels_the_change(app, client, eligible_family):
    token = csrf(client, f"{BASE}/result")
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": str(screening(app)["step"]), "q": "dob"})
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": str(screening(app)["step"]), "q": ""})
    assert client.get(f"{BASE}/chat").status_code == 303


def test_switching_language_mid_chat_keeps_every_answer(app, client):
    start(client, "guardian", "en")
    answers = likely_answers()
    for qid in ("dob", "diagnosis", "consent_guardian", "rituximab", "biologics"):
        assert answer(client, answers[qid]).status_code == 303
    before = screening(app)["answers"]
    body = page(client, f"{BASE}/chat?lang=zh")
    assert "孩子是哪年哪月出生的？" in body and "都没用过" in body and "没用过" in body
    assert screening(app)["answers"] == before
    assert screening(app)["locale"] == "zh"


def test_patient_under_14_is_handed_to_a_guardian_and_their_answer_is_not_kept(app, client):
    start(client, "patient", "en")
    response = answer(client, born_years_ago(12))
    assert response.status_code == 303 and response.headers["Location"].endswith("/handoff")
    body = page(client, f"{BASE}/handoff")
    assert "under 14" in body
    row = screening(app)
    assert row["status"] == "handoff" and row["answers"] == {}
    assert client.get(f"{BASE}/chat").headers["Location"].endswith("/handoff")
    token = csrf(client, f"{BASE}/handoff")
    assert client.post(f"{BASE}/handoff", data={"csrf_token": token}).status_code == 400
    assert client.post(f"{BASE}/handoff", data={"csrf_token": token, "agree": "y"}).status_code == 303
    assert "In what month and year was your child born?" in page(client, f"{BASE}/chat")
    kinds = rows(app, "SELECT kind, role FROM consents ORDER BY id")
    assert kinds == [("health_data", "patient"), ("guardian_takeover", "guardian")]


def test_patient_of_15_answers_in_their_own_voice(client):
    start(client, "patient", "zh")
    answer(client, born_years_ago(15))
    body = page(client, f"{BASE}/chat")
    assert "医生有没有诊断过你是干燥综合征" in body


# -- resume -----------------------------------------------------------------------------------
def resume_link(client: FlaskClient) -> str:
    body = page(client, f"{BASE}/chat")
    marker = 'id="resume-url" value="'
    return body[body.index(marker) + len(marker) :].split('"', 1)[0]


def test_resume_link_opens_the_same_screening_in_a_fresh_browser(app, client):
    start(client)
    answer(client, born_years_ago(9))
    link = resume_link(client)
    path = link.split("localhost", 1)[1]
    assert path.startswith("/r/") and len(path) > 30
    fresh = app.test_client()
    response = resume(fresh, path)
    assert response.status_code == 303
    assert "Has a doctor said your child has" in page(fresh, f"{BASE}/chat")


def test_expired_or_unknown_resume_link_says_so(app, client):
    start(client)
    link = resume_link(client).split("localhost", 1)[1]
    conn = raw_connection(app)
    conn.execute("UPDATE screenings SET expires_at = '2000-01-01T00:00:00Z'")
    conn.commit()
    conn.close()
    response = app.test_client().get(link)
    assert response.status_code == 404
    assert "This link no longer works" in response.get_data(as_text=True)
    assert app.test_client().get("/r/not-a-real-token-at-all").status_code == 404


def test_delete_my_answers_removes_the_screening(app, client):
    start(client)
    answer(client, born_years_ago(9))
    assert 'action="/s/pumch-pediatric-sjogren/forget"' not in page(client, f"{BASE}/chat")  # a link, then confirm
    token = csrf(client, f"{BASE}/forget")
    response = client.post(f"{BASE}/forget", data={"csrf_token": token})
    assert response.status_code == 303
    assert count(app, "screenings") == 0 and count(app, "consents") == 0
    assert rows(app, "SELECT action, detail FROM audit WHERE action = 'screening.delete'") == [
        ("screening.delete", None)
    ]


# -- the printed summary ----------------------------------------------------------------------
def test_summary_shows_answers_and_result_in_both_languages(client):
    start(client, "guardian", "zh")
    walk(client, likely_answers())
    body = page(client, f"{BASE}/summary")
    assert body.index("预筛查小结") < body.index("Pre-screening summary")
    assert "孩子是哪年哪月出生的？" in body and "In what month and year was your child born?" in body
    assert 'lang="en"' in body and 'lang="zh-CN"' in body


def test_public_strings_mean_the_same_in_every_domain():
    """Flask-Babel merges the four catalogues: a msgid shared with another domain must not differ."""
    from babel.messages.pofile import read_po

    from prescreen.web.i18n import translations_dir

    folder = translations_dir() / "zh" / "LC_MESSAGES"
    with open(folder / "public.po", "rb") as fh:
        public = {m.id: m.string for m in read_po(fh) if m.id}
    clashes = []
    for other in ("messages", "coordinator", "volunteer"):
        path = folder / f"{other}.po"
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for m in read_po(fh):
                if m.id in public and m.string != public[m.id]:
                    clashes.append((other, m.id, public[m.id], m.string))
    assert clashes == []


def test_study_contacts_come_from_config_or_the_page_says_they_are_not_configured(make_app):
    plain = make_app(RATELIMIT_ENABLED=False)
    client = plain.test_client()
    start(client)
    walk(client, likely_answers())
    body = page(client, f"{BASE}/result")
    assert "Contact not configured" in body and "tel:" not in body
    configured = make_app(
        RATELIMIT_ENABLED=False,
        STUDY_CONTACT_PHONE="+86 10 0000 0000",
        STUDY_CONTACT_EMAIL="team@example.org",
        STUDY_CONTACT_WECHAT="pumch_team",
    )
    client = configured.test_client()
    start(client)
    walk(client, likely_answers())
    body = page(client, f"{BASE}/result")
    assert 'href="tel:+861000000000"' in body and "mailto:team@example.org" in body and "pumch_team" in body


def test_chat_pages_never_go_through_flask_babels_slow_lookup(app, client, monkeypatch):
    """Measured: flask_babel.gettext ~13 µs a call here, our catalogue lookup ~0.2 µs."""
    import flask_babel

    calls = []
    original = flask_babel.Domain.gettext
    monkeypatch.setattr(flask_babel.Domain, "gettext", lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    start(client, "guardian", "zh")
    answer(client, born_years_ago(9))
    calls.clear()
    body = page(client, f"{BASE}/chat")
    assert "大约还剩" in body and "为什么问这个？" in body
    assert calls == []


def test_double_tap_on_agree_starts_one_screening(app, client):
    from tests.helpers.public import consent_form

    token, nonce = consent_form(client, f"{BASE}/consent?as=guardian")
    data = {"csrf_token": token, "nonce": nonce, "respondent": "guardian", "agree": "y"}
    first = client.post(f"{BASE}/consent", data=data)
    second = client.post(f"{BASE}/consent", data=data)
    assert first.status_code == second.status_code == 303
    assert count(app, "screenings") == 1 and count(app, "consents") == 1
    fresh = consent_form(client, f"{BASE}/consent?as=guardian")[1]
    assert fresh != nonce  # every rendered form has its own
    bad = client.post(f"{BASE}/consent", data={**data, "nonce": "x' OR 1=1 --"})
    assert bad.status_code == 400 and "out of date" in bad.get_data(as_text=True)
    assert count(app, "screenings") == 1


def test_two_simultaneous_posts_of_the_same_step_record_once(app, client):
    """A double tap that reaches two server threads at once: the step check is inside the write lock."""
    import threading

    start(client)
    qid, step, token = current(client)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def tap(value: str) -> None:
        twin = app.test_client()
        twin.set_cookie(cookie.key, cookie.value)
        barrier.wait()
        response = twin.post(f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": value})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=tap, args=(born_years_ago(9 + i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 4
    row = screening(app)
    assert row["step"] == 1 and len(row["answers"]) == 1


# -- chat.js: the next question as the answer's own response ---------------------------------
def test_an_answer_sent_by_chat_js_comes_back_with_the_next_question_in_one_round_trip(app, client):
    start(client)
    qid, step, token = current(client)
    response = client.post(
        f"{BASE}/answer",
        data={"csrf_token": token, "step": step, "q": qid, "value": born_years_ago(9)},
        headers={"X-Prescreen-Chat": "1"},
    )
    assert response.status_code == 200
    assert response.headers["X-Prescreen-Location"] == f"{BASE}/chat"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    following = ASK_RE.search(body)
    assert following and following.group(2) == "diagnosis" and following.group(1) == "1"
    assert screening(app)["answers"] == {"dob": born_years_ago(9)} and screening(app)["step"] == 1
    # the page it got is the one a reload shows
    assert ASK_RE.search(page(client, f"{BASE}/chat")).groups() == following.groups()


def test_chat_js_still_gets_redirects_for_the_result_a_stale_step_and_errors(app, client):
    start(client)
    answers = likely_answers()
    headers = {"X-Prescreen-Chat": "1"}
    while (now := current(client)) is not None:
        qid, step, token = now
        response = client.post(
            f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": answers[qid]}, headers=headers
        )
        if response.status_code == 303:
            assert response.headers["Location"].endswith(f"{BASE}/result")
            break
        assert response.status_code == 200, (qid, response.status_code)
    assert screening(app)["outcome"] == "likely_eligible"
    token = csrf(client, f"{BASE}/result")
    stale = client.post(
        f"{BASE}/answer",
        data={"csrf_token": token, "step": "0", "q": "dob", "value": born_years_ago(3)},
        headers=headers,
    )
    assert stale.status_code == 303 and "X-Prescreen-Location" not in stale.headers
    assert screening(app)["outcome"] == "likely_eligible"


def test_a_wrong_answer_from_chat_js_is_a_400_page_and_stores_nothing(app, client):
    start(client)
    qid, step, token = current(client)
    response = client.post(
        f"{BASE}/answer",
        data={"csrf_token": token, "step": step, "q": qid, "value": "not a month"},
        headers={"X-Prescreen-Chat": "1"},
    )
    assert response.status_code == 400 and "X-Prescreen-Location" not in response.headers
    assert "like 2015-06" in response.get_data(as_text=True)
    assert screening(app)["answers"] == {} and screening(app)["step"] == 0


def test_the_language_link_on_a_page_shown_by_an_answer_post_leads_to_the_chat(app, client):
    """A POST to /answer can show a page (the next question, or a wrong answer); /answer has no
    GET, so the 中文/English link must lead to the chat page, never to a 405."""
    headers = {"X-Prescreen-Chat": "1"}
    start(client)
    qid, step, token = current(client)
    data = {"csrf_token": token, "step": step, "q": qid}
    wrong = client.post(f"{BASE}/answer", data={**data, "value": "not a month"})
    forward = client.post(f"{BASE}/answer", data={**data, "value": born_years_ago(9)}, headers=headers)
    assert "site-lang" not in forward.get_data(as_text=True)  # a step update: the page keeps its header
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": "1", "q": qid})
    changed = {"csrf_token": token, "step": "2", "q": qid, "value": born_years_ago(10)}
    moved = client.post(f"{BASE}/answer", data=changed, headers=headers)  # a changed answer: the whole page
    assert moved.status_code == 200 and "<html" in moved.get_data(as_text=True).lower()
    for response in (wrong, moved):
        body = response.get_data(as_text=True)
        assert f'href="{BASE}/chat?lang=zh"' in body
        assert "/answer?lang" not in body
    assert client.get(f"{BASE}/chat?lang=zh").status_code == 200


def test_each_answer_has_a_change_button_for_one_shared_form_that_works_without_javascript(app, client):
    """The transcript sends the token and step once; each answer's button names the shared form."""
    start(client)
    walk(client, likely_answers())
    body = page(client, f"{BASE}/result")
    form = re.search(r'<form method="post" action="([^"]+)" class="change" id="change-answer">(.*?)</form>', body, re.S)
    assert form and form.group(1) == f"{BASE}/change"
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', form.group(2)))
    assert set(fields) == {"csrf_token", "step"} and fields["step"] == str(screening(app)["step"])
    buttons = re.findall(r'<button type="submit" form="change-answer" name="q" value="([a-z_]+)"', body)
    assert "dob" in buttons and "rituximab" in buttons and len(buttons) == len(set(buttons))
    assert body.count('name="csrf_token"') <= 3  # not one per answer
    # what a browser sends when the rituximab button is pressed: the form's fields and the button
    response = client.post(form.group(1), data={**fields, "q": "rituximab"})
    assert response.status_code == 303
    assert 'name="q" value="rituximab"' in page(client, f"{BASE}/chat")


def test_a_step_forward_from_chat_js_gets_only_what_changed(app, client):
    """A plain step forward returns the newest answer, the new step and the next question (a few
    KB), not the whole page; chat.js puts them in place. The first answer's update also brings the
    list of answers and the "change" form, which the page does not have yet."""
    start(client)
    answers = likely_answers()
    headers = {"X-Prescreen-Chat": "1"}
    qid, step, token = current(client)
    first = client.post(
        f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": answers[qid]}, headers=headers
    )
    first_body = first.get_data(as_text=True)
    assert first.status_code == 200 and first.headers["X-Prescreen-Fragment"] == "step"
    assert "<html" not in first_body.lower() and '<div id="step-update" data-step="1">' in first_body
    change_form = re.search(r'<form method="post" action="([^"]+)" class="change" id="change-answer">', first_body)
    assert change_form and change_form.group(1) == f"{BASE}/change" and 'name="step" value="1"' in first_body
    assert re.search(r'<ol class="chat" aria-label="Your answers so far">\s*<li class="msg bot">', first_body)
    assert first_body.count('class="msg bot"') == 1 and f'form="change-answer" name="q" value="{qid}"' in first_body
    following = ASK_RE.search(first_body)
    step, qid = following.groups()
    second = client.post(
        f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": answers[qid]}, headers=headers
    )
    body = second.get_data(as_text=True)
    assert second.status_code == 200 and second.headers["X-Prescreen-Fragment"] == "step"
    assert second.headers["X-Prescreen-Location"] == f"{BASE}/chat"
    assert len(second.data) < len(first.data)  # the list and form came once, with the first
    assert re.search(r'<div id="step-update" data-step="2">', body)
    assert body.count('class="msg bot"') == 1 and f'form="change-answer" name="q" value="{qid}"' in body
    assert 'id="change-answer"' not in body and '<ol class="chat">' in body  # later: only the new pair
    nxt = ASK_RE.search(body)
    assert nxt and nxt.group(1) == "2" and nxt.group(2) != qid
    assert "<html" not in body.lower()
    # the update's form carries the very token the answer came with (no new signature needed),
    # and an answer sent with it is taken
    assert f'name="csrf_token" value="{token}"' in body
    nqid = nxt.group(2)
    third = client.post(
        f"{BASE}/answer", data={"csrf_token": token, "step": "2", "q": nqid, "value": answers[nqid]}, headers=headers
    )
    assert third.status_code == 200 and third.headers["X-Prescreen-Fragment"] == "step"
    nxt = ASK_RE.search(third.get_data(as_text=True))
    # the whole page a reload shows agrees with the update
    full = page(client, f"{BASE}/chat")
    assert ASK_RE.search(full).groups() == nxt.groups()
    assert screening(app)["step"] == 3


def test_a_changed_earlier_answer_from_chat_js_gets_the_whole_page(app, client):
    start(client)
    walk(client, {**likely_answers()})
    token = csrf(client, f"{BASE}/result")
    step = str(screening(app)["step"])
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": step, "q": "rituximab"})
    qid, step, token = current(client)
    assert qid == "rituximab"
    response = client.post(
        f"{BASE}/answer",
        data={"csrf_token": token, "step": step, "q": qid, "value": "yes"},
        headers={"X-Prescreen-Chat": "1"},
    )
    assert response.status_code == 200 and "X-Prescreen-Fragment" not in response.headers
    assert "<html" in response.get_data(as_text=True).lower()


def test_change_from_chat_js_gets_the_question_being_changed_in_one_round_trip(app, client):
    """ "Change" (and "Keep my earlier answer") answered with the chat page itself for chat.js, as an
    answer is; without JavaScript they stay a 303 to the chat."""
    headers = {"X-Prescreen-Chat": "1"}
    start(client)
    given = born_years_ago(9)
    assert answer(client, given).status_code == 303
    qid, step, token = current(client)
    response = client.post(f"{BASE}/change", data={"csrf_token": token, "step": step, "q": "dob"}, headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["X-Prescreen-Location"] == f"{BASE}/chat"
    assert "Changing your answer" in body and f'value="{given}"' in body
    assert ASK_RE.search(body).groups() == (str(int(step) + 1), "dob")
    keep = re.search(r'<form method="post" action="([^"]+)" class="change">', body)
    assert keep and keep.group(1) == f"{BASE}/change"  # "Keep my earlier answer" goes through chat.js too
    reloaded = page(client, f"{BASE}/chat")  # a reload shows the same question, being changed
    assert ASK_RE.search(reloaded).groups() == ASK_RE.search(body).groups() and "Changing your answer" in reloaded
    keep_form = {"csrf_token": token, "step": str(int(step) + 1), "q": ""}
    kept = client.post(f"{BASE}/change", data=keep_form, headers=headers)
    assert kept.status_code == 200 and ASK_RE.search(kept.get_data(as_text=True)).group(2) == qid
    assert "Changing your answer" not in kept.get_data(as_text=True)
    plain = client.post(f"{BASE}/change", data={"csrf_token": token, "step": str(int(step) + 2), "q": "dob"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"{BASE}/chat#current")
    assert screening(app)["answers"] == {"dob": given}


def test_agree_from_chat_js_gets_the_first_question_in_one_round_trip(app, client):
    """ "Agree and start" sent by chat.js is answered with the first question itself (no 303 and
    GET); a refused consent is the consent page with its error; without JavaScript, a 303."""
    from tests.helpers.public import consent_form

    headers = {"X-Prescreen-Chat": "1"}
    token, nonce = consent_form(client, f"{BASE}/consent?as=guardian&lang=en")
    consent_page = page(client, f"{BASE}/consent?as=guardian")
    assert re.search(r'<form [^>]*class="consent-form" data-chat', consent_page)
    assert re.search(r'<script src="/static/chat\.js\?v=[0-9a-f]{12}" defer>', consent_page)
    refused = client.post(
        f"{BASE}/consent", data={"csrf_token": token, "nonce": nonce, "respondent": "guardian"}, headers=headers
    )
    assert refused.status_code == 400 and "X-Prescreen-Location" not in refused.headers
    assert 'id="agree-errors"' in refused.get_data(as_text=True) and count(app, "screenings") == 0
    data = {"csrf_token": token, "nonce": nonce, "respondent": "guardian", "agree": "y"}
    response = client.post(f"{BASE}/consent", data=data, headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["X-Prescreen-Location"] == f"{BASE}/chat"
    assert ASK_RE.search(body).group(2) == "dob" and "In what month and year was your child born?" in body
    assert f'href="{BASE}/chat?lang=zh"' in body  # the language link chat.js swaps in leads to the chat
    assert current(client)[0] == "dob"  # the session holds the new screening: a reload shows it too
    again = client.post(f"{BASE}/consent", data=data, headers=headers)  # a double tap: the same screening
    assert again.status_code == 200 and count(app, "screenings") == 1 and count(app, "consents") == 1
    token, nonce = consent_form(client, f"{BASE}/consent?as=patient")
    plain = client.post(
        f"{BASE}/consent", data={"csrf_token": token, "nonce": nonce, "respondent": "patient", "agree": "y"}
    )
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"{BASE}/chat")


def test_a_kept_question_block_never_hides_an_error_an_earlier_answer_or_the_language(app):
    """A blank question's HTML is kept per process (question_block); what belongs to one family
    (an error, the answer being changed, their language and voice) must still be shown."""

    def question_text(body: str) -> str:
        return re.search(r'<p id="q-text">(.*?)</p>', body, re.S).group(1)

    first, second, chinese, teen = (app.test_client() for _ in range(4))
    start(first)
    blank = page(first, f"{BASE}/chat")
    assert app.extensions["question_blocks"], "the blank first question is kept"
    start(second)
    qid, step, token = current(second)
    wrong = second.post(f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": "soon"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and 'id="answer-error"' in body and 'aria-invalid="true"' in body
    assert 'id="answer-error"' not in page(second, f"{BASE}/chat")  # and gone once shown
    given = born_years_ago(9)
    assert answer(first, given).status_code == 303
    token = csrf(first, f"{BASE}/chat")
    first.post(f"{BASE}/change", data={"csrf_token": token, "step": "1", "q": qid})
    changing = page(first, f"{BASE}/chat")
    assert "Changing your answer" in changing and f'value="{given}"' in changing
    assert f'value="{given}"' not in blank
    start(chinese, lang="zh")
    start(teen, respondent="patient")
    texts = {question_text(blank), *(question_text(page(c, f"{BASE}/chat")) for c in (chinese, teen))}
    assert len(texts) == 3, texts

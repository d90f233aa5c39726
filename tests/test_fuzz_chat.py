"""Fuzz the chat's forms (answer, change an answer, consent, guardian hand-over) on the real study.

The oracle for an answer is the engine itself: what ``Question.parse`` refuses must come back as a
400 with a translated sentence and leave the screening row untouched; what it accepts must be
stored exactly as the engine's value (and the step moves on by one). Stale steps, forged question
ids, several values where one is expected and hand-made option values are all in the mix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st

import prescreen.public.study  # noqa: F401 — imports the chat views in their own order (no import cycle)
from prescreen import studies as study_registry
from prescreen.clock import today
from prescreen.engine import AnswerError, Flow, Question
from prescreen.public.chat import error_text
from prescreen.store import connect
from prescreen.store import screenings as screening_store
from tests.helpers.fuzz import (
    NASTY,
    ONE_OR_MANY,
    TEXT,
    assert_sane,
    counts,
    form_data,
    fuzz_settings,
    mostly,
    query,
    ram_app,
    translated,
    visible,
)
from tests.helpers.public import BASE, STUDY, born_years_ago, csrf, months_ago
from tests.helpers.study import CRITERIA, QUESTIONS, write_study

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Where a fuzzed screening stands before the post: (respondent, answers so far).
POINTS: list[tuple[str, dict[str, Any]]] = [
    ("guardian", {}),  # dob (month)
    ("patient", {}),  # dob, answered by the patient (under 14: hand over to a parent)
    ("guardian", {"dob": born_years_ago(10)}),  # diagnosis (single)
    ("guardian", {"dob": born_years_ago(10), "diagnosis": "yes", "consent_guardian": "yes"}),  # rituximab
    (
        "guardian",
        {"dob": born_years_ago(10), "diagnosis": "yes", "consent_guardian": "yes", "rituximab": "yes"},
    ),  # rituximab_last (month)
    (
        "guardian",
        {"dob": born_years_ago(10), "diagnosis": "yes", "consent_guardian": "yes", "rituximab": "no"},
    ),  # biologics (multiple)
    (
        "guardian",
        {
            "dob": born_years_ago(10),
            "diagnosis": "yes",
            "consent_guardian": "yes",
            "rituximab": "no",
            "biologics": ["none"],
            "other_autoimmune": "no",
        },
    ),  # drugs (multiple, 13 options)
]
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@pytest.fixture
def app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Flask:
    return ram_app(make_app, request, RATELIMIT_ENABLED=False)


@pytest.fixture
def browser(app: Flask) -> tuple[FlaskClient, str]:
    """One browser (cookie jar and CSRF token) for all of a test's examples: cheap, and realistic."""
    client = app.test_client()
    return client, csrf(client, f"{BASE}/consent?as=guardian")


def place(app: Flask, client: FlaskClient, respondent: str, answers: dict[str, Any], study_id: str = STUDY) -> int:
    """A screening at this point of the walk, stored through the store, in *client*'s session."""
    study = study_registry.of(app).studies[study_id]
    db = connect(app.config["DATABASE"])
    try:
        sid, token = screening_store.create(
            db,
            study_id=study.id,
            version=study.version,
            locale="zh",
            respondent=respondent,
            consent_version="fuzz",
            resume_days=30,
        )
        if answers:
            screening_store.save_step(
                db,
                sid,
                0,
                answers=answers,
                version=study.version,
                locale="zh",
                outcome=None,
                notice=None,
                resume_days=30,
            )
    finally:
        db.close()
    with client.session_transaction() as session:
        session["screening"] = token
    return sid


def row_of(app: Flask, sid: int) -> dict[str, Any]:
    (raw,) = query(app, "SELECT answers, step, status, editing, respondent FROM screenings WHERE id = ?", sid)
    return {"answers": json.loads(raw[0]), "step": raw[1], "status": raw[2], "editing": raw[3], "respondent": raw[4]}


def month_values() -> st.SearchStrategy[Any]:
    good = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)).map(lambda d: d.strftime("%Y-%m"))
    realistic = st.sampled_from([months_ago(2), months_ago(130), born_years_ago(10), born_years_ago(16)])
    return mostly(
        realistic | good,
        st.one_of(
            good.map(lambda s: s.translate(FULLWIDTH)),
            good.map(lambda s: s.replace("-", "/")),
            good.map(lambda s: s.replace("-0", "-")),
            good.map(lambda s: f" {s} "),
            st.sampled_from(["0000-00", "9999-12", "2015-13", "2015-00", "-2015-06", "2015-06-01", "201506", "1e3-01"]),
            st.lists(good, min_size=2, max_size=3),
            ONE_OR_MANY,
        ),
        5,
    )


def choice_values(question: Question) -> st.SearchStrategy[Any]:
    options = [c.value for c in question.choices]
    valid = st.sampled_from(options)
    if question.type == "single":
        return mostly(
            valid,
            st.one_of(
                valid.map(str.upper),
                valid.map(lambda v: f" {v}"),
                st.lists(valid, min_size=2, max_size=3),
                ONE_OR_MANY,
            ),
            5,
        )
    return mostly(
        st.lists(valid, min_size=1, max_size=4, unique=True),
        st.one_of(
            st.lists(valid, min_size=1, max_size=6),  # duplicates
            st.lists(st.one_of(valid, TEXT), max_size=6),  # forged options among real ones
            st.lists(valid, min_size=50, max_size=1500),  # a huge list
            valid,  # one string where a list is expected
            ONE_OR_MANY,
        ),
        5,
    )


def values_for(question: Question) -> st.SearchStrategy[Any]:
    return month_values() if question.type == "month" else choice_values(question)


def expected_parse(question: Question, form: dict[str, Any]) -> tuple[Any, AnswerError | None]:
    """What the engine makes of the posted value(s), read the way Werkzeug hands them over."""
    posted = form.get("value")
    values = [] if posted is None else posted if isinstance(posted, list) else [posted]
    raw: Any = values[:50] if question.type == "multiple" else (values[0] if values else "")
    try:
        return question.parse(raw, today()), None
    except AnswerError as error:
        return None, error


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value if not isinstance(value, list) else None


@fuzz_settings(60)
@given(data=st.data())
def test_any_answer_post_is_stored_exactly_or_refused_with_a_message(
    app: Flask, browser: tuple[FlaskClient, str], data: st.DataObject
) -> None:
    client, token = browser
    study = study_registry.of(app).studies[STUDY]
    respondent, answers = data.draw(st.sampled_from(POINTS), label="point")
    sid = place(app, client, respondent, answers)
    before = row_of(app, sid)
    state = Flow(study).run(before["answers"], respondent=respondent, today=today())
    assert state.question is not None
    target = data.draw(
        mostly(
            st.just(state.question.id),
            st.one_of(
                st.sampled_from(state.asked or [state.question.id]),
                st.sampled_from([q.id for q in study.questions]),
                TEXT,
                st.none(),
            ),
        ),
        label="q",
    )
    question = study.question(target) if isinstance(target, str) and study.has_question(target) else state.question
    lang = data.draw(st.sampled_from(["zh", "en"]), label="lang")
    form = {
        "csrf_token": token,
        "step": data.draw(mostly(st.just(str(before["step"])), st.just(str(before["step"] - 1)) | ONE_OR_MANY, 9)),
        "q": target,
        "value": data.draw(values_for(question), label="value"),
        data.draw(st.sampled_from(["extra", "answers", "outcome", "step2"])): data.draw(TEXT),
    }
    response = client.post(f"{BASE}/answer?lang={lang}", data=form_data(form))
    body = assert_sane(response, (303, 400))
    after = row_of(app, sid)
    step_ok = first(form["step"]) == str(before["step"])
    qid = first(form["q"]) or ""
    if not step_ok:
        event("answer: stale step")
        assert response.status_code == 303 and response.headers["Location"].split("#")[0].endswith(f"{BASE}/chat")
        assert after == before
        return
    if qid != state.question.id and qid not in state.asked:
        event("answer: forged question id")
        assert response.status_code == 400
        assert translated(app, "Something went wrong with that answer. Please answer again.", lang) in visible(body)
        assert after["answers"] == before["answers"] and after["step"] == before["step"]
        return
    asked = study.question(qid)
    value, error = expected_parse(asked, form)
    if error is not None:
        event(f"answer: refused ({error.code})")
        assert response.status_code == 400, (form, body[-1500:])
        with app.test_request_context(f"/?lang={lang}"):
            message = error_text(error, asked, lang)
        assert message in visible(body)
        assert lang != "zh" or CJK.search(message), message
        assert after["answers"] == before["answers"] and after["step"] == before["step"]
        return
    assert response.status_code == 303, (form, body[-1500:])
    assert after["step"] == before["step"] + 1
    if after["status"] == "handoff":
        event("answer: handed over to a parent")
        # a patient under 14 stops here, and nothing they typed is kept (PIPL art. 31)
        assert respondent == "patient" and asked.id == "dob" and after["answers"] == {}
        assert response.headers["Location"].endswith(f"{BASE}/handoff")
        return
    event(f"answer: stored ({asked.type})")
    assert after["answers"] == {**before["answers"], qid: asked.stored(value)}


@fuzz_settings(40)
@given(data=st.data())
def test_change_answer_posts_only_ever_mark_an_asked_question(
    app: Flask, browser: tuple[FlaskClient, str], data: st.DataObject
) -> None:
    client, token = browser
    study = study_registry.of(app).studies[STUDY]
    respondent, answers = data.draw(st.sampled_from(POINTS[2:]), label="point")
    sid = place(app, client, respondent, answers)
    before = row_of(app, sid)
    state = Flow(study).run(before["answers"], respondent=respondent, today=today())
    form = {
        "csrf_token": token,
        "step": data.draw(mostly(st.just(str(before["step"])), ONE_OR_MANY)),
        "q": data.draw(
            st.one_of(st.sampled_from(state.asked), st.sampled_from([q.id for q in study.questions]), ONE_OR_MANY)
        ),
        "value": data.draw(ONE_OR_MANY),
    }
    response = client.post(f"{BASE}/change", data=form_data(form))
    assert_sane(response, (303,))
    after = row_of(app, sid)
    assert after["answers"] == before["answers"], "changing never touches an answer by itself"
    if first(form["step"]) == str(before["step"]):
        qid = first(form["q"])
        assert after["editing"] == (qid if qid in state.asked else None)
        assert after["step"] == before["step"] + 1
    else:
        assert after == before
    page = client.get(f"{BASE}/chat")
    assert_sane(page, (200, 303))


#: Nonces this test's browser has already posted with a valid consent (a replay starts nothing new).
USED_NONCES: dict[int, set[str]] = {}
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@fuzz_settings(40)
@given(
    respondent=mostly(st.sampled_from(["guardian", "patient"]), ONE_OR_MANY, 7),
    agree=mostly(st.sampled_from(["y", "y", "on", "true", "false", "0", "off", "n"]), ONE_OR_MANY, 7),
    nonce=st.one_of(
        st.none(),
        st.from_regex(r"[A-Za-z0-9_-]{16,64}", fullmatch=True),
        st.sampled_from(["replayed-nonce-0001", "replayed-nonce-0002"]),
        TEXT,
    ),
    extra=TEXT,
    lang=st.sampled_from(["zh", "en"]),
)
def test_consent_starts_one_screening_only_with_a_real_role_and_the_box_ticked(
    app: Flask, browser: tuple[FlaskClient, str], respondent: Any, agree: Any, nonce: Any, extra: str, lang: str
) -> None:
    client, token = browser
    used = USED_NONCES.setdefault(id(app), set())
    before = counts(app, ["screenings", "consents"])
    fields = {"csrf_token": token, "respondent": respondent, "agree": agree, "nonce": nonce, "answers": extra}
    response = client.post(f"{BASE}/consent?lang={lang}", data=form_data(fields))
    body = assert_sane(response, (303, 400))
    after = counts(app, ["screenings", "consents"])
    role, ticked, given_nonce = first(respondent), first(agree), first(nonce)
    valid_role = role in ("guardian", "patient")
    # a consent box counts only with the value the page sends ("y"): "off", "0" or "n" is no tick
    nonce_ok = not (given_nonce and given_nonce.strip()) or NONCE_RE.match(given_nonce)
    if valid_role and ticked == "y" and nonce_ok:
        assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/chat")
        # this browser now holds it, and agreeing again would continue it: let it go, so the
        # next example starts from a browser with no screening under way
        client.post(f"{BASE}/leave", data={"csrf_token": token})
        key = given_nonce.strip() if given_nonce else ""  # the app trims it; blank means "no nonce"
        if key and key in used:
            event("consent: replayed, nothing new")
            assert after == before, "a replayed consent (same nonce) starts no second screening"
            return
        event("consent: started")
        used.add(key)
        assert after == {"screenings": before["screenings"] + 1, "consents": before["consents"] + 1}
        (stored,) = query(app, "SELECT respondent, locale FROM screenings ORDER BY id DESC LIMIT 1")
        assert stored == (role, lang)
        return
    event("consent: refused")
    assert after == before
    if not valid_role:
        assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/start")
    else:
        assert response.status_code == 400
        if ticked in (None, "", "false"):
            assert translated(app, "Please tick the box to agree, or leave this page.", lang) in visible(body)


NONCE_FIELD = re.compile(r'name="nonce"[^>]*value="([^"]+)"')


def consent_in(client: FlaskClient, nonce: str | None = None) -> str | None:
    """Agree on a fresh consent page in *client* (its own nonce, or *nonce*); the session's token."""
    page = client.get(f"{BASE}/consent?as=guardian").get_data(as_text=True)
    match = NONCE_FIELD.search(page)
    assert match, "the consent form carries a nonce"
    fields = {
        "csrf_token": csrf_of_page(page),
        "respondent": "guardian",
        "agree": "y",
        "nonce": nonce or match.group(1),
    }
    assert client.post(f"{BASE}/consent", data=fields).status_code == 303
    with client.session_transaction() as session:
        return session.get("screening")


def csrf_of_page(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match
    return match.group(1)


@pytest.mark.parametrize("nonce", ["the-family-nonce-0001", " ", "\u3000"])
def test_a_consent_nonce_posted_from_another_browser_never_opens_the_same_screening(app: Flask, nonce: str) -> None:
    """The nonce sits in the family's page; whoever posts it again must get a screening of their own."""
    own = consent_in(app.test_client(), nonce)
    assert consent_in(app.test_client(), nonce) != own


@fuzz_settings(30)
@given(agree=mostly(st.just("y"), ONE_OR_MANY, 5), extra=TEXT, lang=st.sampled_from(["zh", "en"]))
def test_guardian_takes_over_only_with_the_box_ticked(
    app: Flask, browser: tuple[FlaskClient, str], agree: Any, extra: str, lang: str
) -> None:
    client, token = browser
    sid = place(app, client, "patient", {})
    response = client.post(
        f"{BASE}/answer", data={"csrf_token": token, "step": "0", "q": "dob", "value": born_years_ago(10)}
    )
    assert response.headers["Location"].endswith(f"{BASE}/handoff")
    before = row_of(app, sid)
    consents = counts(app, ["consents"])
    response = client.post(
        f"{BASE}/handoff?lang={lang}", data=form_data({"csrf_token": token, "agree": agree, "x": extra})
    )
    body = assert_sane(response, (303, 400))
    after = row_of(app, sid)
    if first(agree) == "y":
        assert response.status_code == 303
        assert after["status"] == "in_progress" and after["respondent"] == "guardian"
        assert counts(app, ["consents"])["consents"] == consents["consents"] + 1
    else:
        assert response.status_code == 400 and after == before and counts(app, ["consents"]) == consents
        msg = "Please tick the box to confirm you are the parent or guardian and agree."
        assert translated(app, msg, lang) in visible(body)


def test_the_nasty_list_reaches_every_question_kind() -> None:
    """The fixed list covers markup, bidi, controls and CJK (so the short default run meets them)."""
    joined = "".join(NASTY)
    assert "<script>" in joined and "\u202e" in joined and "\x00" in joined and CJK.search(joined)


#: The real study has no number question; this small one does (weight, 10-150 kg).
NUMBER_QUESTION = (
    "weight,number,,,inc_weight,How much does your child weigh?,孩子体重多少？,How much do you weigh?,你体重多少？,"
    "Dosing.,用于计算剂量。,10,150,kg,公斤"
)
NUMBER_CRITERION = (
    "inc_weight,inclusion,Weight 20+,Weight,体重,Too light.,体重偏轻。,yes,no,,weight < 20,weight >= 20,,"
    ",Too light.,体重偏轻。,Too light.,体重偏轻。"  # the family's wording of "not met", both voices
)


@pytest.fixture
def number_app(make_app: Callable[..., Flask], request: pytest.FixtureRequest, tmp_path: Path) -> Flask:
    """The app with only a small study whose last question is a number."""
    lines = QUESTIONS.replace("why::zh\n", "why::zh,min,max,unit::en,unit::zh\n", 1).splitlines()
    questions = "\n".join([lines[0]] + [line + ",,,," for line in lines[1:]] + [NUMBER_QUESTION]) + "\n"
    write_study(tmp_path, questions=questions, criteria=CRITERIA + NUMBER_CRITERION + "\n")
    return ram_app(make_app, request, QUESTIONS_DIR=str(tmp_path / "questions"))


NUMBERS = mostly(
    st.integers(10, 150).map(str),
    st.one_of(
        st.integers().map(str),
        st.sampled_from([" 42 ", "042", "+42", "４２", "42.0", "1e2", "-0", "9", "151", "0x20", "4_2", "9" * 5000]),
        ONE_OR_MANY,
    ),
    5,
)


@fuzz_settings(40)
@given(value=NUMBERS, lang=st.sampled_from(["zh", "en"]))
def test_a_number_answer_is_stored_as_the_engine_reads_it_or_refused(number_app: Flask, value: Any, lang: str) -> None:
    app = number_app
    client = app.test_client()
    token = csrf(client, "/s/demo/consent?as=guardian")
    study = study_registry.of(app).studies["demo"]
    sid = place(app, client, "guardian", {"dob": born_years_ago(10), "dx": "yes", "drugs": ["none"]}, "demo")
    before = row_of(app, sid)
    form = {"csrf_token": token, "step": str(before["step"]), "q": "weight", "value": value}
    response = client.post(f"/s/demo/answer?lang={lang}", data=form_data(form))
    body = assert_sane(response, (303, 400))
    parsed, error = expected_parse(study.question("weight"), form)
    after = row_of(app, sid)
    if error is not None:
        event(f"number: refused ({error.code})")
        assert response.status_code == 400 and after["answers"] == before["answers"]
        with app.test_request_context(f"/?lang={lang}"):
            assert error_text(error, study.question("weight"), lang) in visible(body)
        return
    event("number: stored")
    assert response.status_code == 303 and after["answers"]["weight"] == parsed

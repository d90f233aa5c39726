"""Told early: "rituximab 5 months ago" is said on the next screen, and the family chooses (no JavaScript).

Real Flask client, real SQLite file, the real study. STUDY-NOTES §4.2: for a waiting period,
say so on the next screen with the reason and the re-check date, and let the family see the
result now (with a reminder) or answer the rest; the log counts the choice either way.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen import clock
from prescreen import studies as study_registry
from prescreen.engine import Flow
from prescreen.public.text import long_date
from prescreen.store import connect, retention
from tests.helpers.public import BASE, CSRF_RE, Family, answer, current, likely_answers, months_ago, referral_form, walk

#: A guardian whose child had rituximab 5 months ago: not eligible for now.
RITUXIMAB_5M = {**likely_answers(), "rituximab": "yes", "rituximab_last": months_ago(5)}
#: The questions before the notice, in order.
BEFORE = ["dob", "diagnosis", "consent_guardian", "rituximab", "rituximab_last"]
TEXT = {
    "en": {
        "title": "Your child cannot join this study yet",
        "reason": "The last rituximab dose must be more than 6 months before the study.",
        "again": "You may be able to check again from {date}.",
        "stop": "See the result now",
        "rest": "Answer the rest",
        "stopped": "You chose to see your result before the last questions.",
        "headline": "This study is not a fit right now",
        "reminder": "Remind me on that date by text message or e-mail",
    },
    "zh": {
        "title": "孩子暂时还不能参加这项研究",
        "reason": "最后一次用利妥昔单抗后要满6个月才能参加",
        "again": "从{date}起，可以再来做一次初筛。",
        "stop": "现在查看结果",
        "rest": "继续回答剩下的问题",
        "stopped": "您选择了先看结果",
        "headline": "现在还不能参加这项研究",
        "reminder": "到时用短信或邮件提醒我",
    },
}


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def one(app: Flask, sql: str) -> dict[str, Any]:
    db = connect(app.config["DATABASE"])
    try:
        rows = list(db.query(sql))
    finally:
        db.close()
    assert len(rows) == 1, rows
    return rows[0]


def recheck_of(app: Flask, answers: dict[str, Any]) -> date:
    """The re-check date the engine gives these answers (the page must show exactly this)."""
    study = study_registry.of(app).studies["pumch-pediatric-sjogren"]
    day = clock.today()
    outcome = Flow(study).run(answers, respondent="guardian", today=day).provisional
    assert outcome.waiting
    return outcome.recheck_after


def to_notice(family: Family, lang: str = "en") -> str:
    """Start, answer up to the rituximab month, and return the chat page that follows."""
    family.start("guardian", lang)
    for qid in BEFORE:
        assert family.current()[0] == qid
        assert family.answer(RITUXIMAB_5M[qid]).status_code == 303
    return page(family.client, f"{BASE}/chat")


def post_choice(client: FlaskClient, from_page: str, choice: str, **headers: str):
    token = CSRF_RE.search(from_page).group(1)
    step = re.search(r'class="early-stop".*?name="step" value="(\d+)"', from_page, re.S) or re.search(
        r'action="[^"]*/early".*?name="step" value="(\d+)"', from_page, re.S
    )
    data = {"csrf_token": token, "step": step.group(1), "choice": choice}
    return client.post(f"{BASE}/early", data=data, headers=headers)


def notice_of(body: str) -> str:
    """The told-early notice's text (empty when there is none)."""
    match = re.search(r'<section class="notice early".*?</section>', body, re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))) if match else ""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rituximab_five_months_ago_is_said_on_the_next_screen_with_reason_and_date(app, family, lang):
    body = to_notice(family, lang)
    text = TEXT[lang]
    notice = notice_of(body)
    assert text["title"] in notice and text["reason"] in notice
    assert text["again"].format(date=long_date(recheck_of(app, RITUXIMAB_5M), lang)) in notice
    assert text["stop"] in notice and text["rest"] in notice
    assert body.index('id="early"') < body.index('class="ask"')  # before the next question
    assert family.current()[0] == "biologics"  # which is still there: answering it is answering on
    row = one(app, "SELECT status, early_told_at, early_choice FROM screenings")
    assert row["status"] == "in_progress" and row["early_told_at"] and row["early_choice"] is None


def test_the_notice_waits_for_the_choice_then_is_not_repeated(app, family):
    to_notice(family)
    assert notice_of(page(family.client, f"{BASE}/chat"))  # a reload (or coming back) still shows it
    family.answer(RITUXIMAB_5M["biologics"])
    for _ in range(5):
        assert notice_of(page(family.client, f"{BASE}/chat")) == ""
        family.answer(RITUXIMAB_5M[family.current()[0]])
    assert one(app, "SELECT early_choice FROM screenings")["early_choice"] == "continued"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_see_the_result_now_ends_early_with_the_date_and_the_reminder(app, client, family, lang):
    body = to_notice(family, lang)
    response = post_choice(client, body, "stop")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/result")
    result = page(client, f"{BASE}/result")
    text = TEXT[lang]
    recheck = recheck_of(app, RITUXIMAB_5M)
    for words in (text["headline"], text["reason"], text["stopped"], text["reminder"]):
        assert words in result
    assert text["again"].format(date=long_date(recheck, lang)) in result
    assert 'href="/volunteer/reminder"' in result or "/reminder" in result
    row = one(app, "SELECT status, outcome, recheck_after, failed, completed_at, early_choice FROM screenings")
    assert (row["status"], row["outcome"], row["recheck_after"]) == ("completed", "not_eligible", recheck.isoformat())
    assert row["failed"] == '["exc_rituximab_6m"]' and row["completed_at"] and row["early_choice"] == "stopped"
    assert client.get(f"{BASE}/chat").headers["Location"].endswith(f"{BASE}/result")  # the chat is over for now


def test_stopping_early_takes_far_fewer_taps_than_the_full_walk(app, make_app):
    early = make_app().test_client()
    Family(early).start()
    asked_early = walk_until_notice(early)
    post_choice(early, page(early, f"{BASE}/chat"), "stop")
    taps_early = len(asked_early) + 1  # one answer per question, and "See the result now"

    full = make_app().test_client()
    Family(full).start()
    asked_full = walk(full, RITUXIMAB_5M)
    assert "Your child cannot join this study yet" not in page(full, f"{BASE}/result")
    print(f"taps to the result: {taps_early} when stopping early, {len(asked_full)} answering everything")
    assert taps_early == 6 and len(asked_full) >= 4 * taps_early


def walk_until_notice(client: FlaskClient) -> list[str]:
    asked = []
    while not notice_of(page(client, f"{BASE}/chat")):
        qid = current(client)[0]
        asked.append(qid)
        answer(client, RITUXIMAB_5M[qid])
    return asked


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_answering_the_rest_reaches_the_same_result_and_date(app, client, family, lang):
    to_notice(family, lang)
    rest = walk(client, RITUXIMAB_5M)
    assert rest[0] == "biologics" and len(rest) > 15
    result = page(client, f"{BASE}/result")
    recheck = recheck_of(app, RITUXIMAB_5M)
    assert TEXT[lang]["headline"] in result and TEXT[lang]["stopped"] not in result
    assert TEXT[lang]["again"].format(date=long_date(recheck, lang)) in result
    row = one(app, "SELECT outcome, recheck_after, early_choice FROM screenings")
    assert (row["outcome"], row["recheck_after"], row["early_choice"]) == (
        "not_eligible",
        recheck.isoformat(),
        "continued",
    )


def test_answer_the_remaining_questions_after_stopping_keeps_every_answer(app, client, family):
    post_choice(client, to_notice(family), "stop")
    result = page(client, f"{BASE}/result")
    assert "Answer the remaining questions" in result
    response = post_choice(client, result, "rest")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/chat#current")
    chat = page(client, f"{BASE}/chat")
    assert family.current()[0] == "biologics" and notice_of(chat) == ""  # where they stopped, no notice again
    assert chat.count('class="msg me"') == len(BEFORE)  # every earlier answer is still there
    row = one(app, "SELECT status, outcome, answers, early_choice FROM screenings")
    assert (row["status"], row["outcome"], row["early_choice"]) == ("in_progress", None, "continued")
    assert '"rituximab_last"' in row["answers"]
    walk(client, RITUXIMAB_5M)
    final = page(client, f"{BASE}/result")
    assert "This study is not a fit right now" in final and "Answer the remaining questions" not in final
    recheck = recheck_of(app, RITUXIMAB_5M).isoformat()
    assert one(app, "SELECT recheck_after FROM screenings")["recheck_after"] == recheck


def test_with_javascript_the_choice_answers_with_the_page_itself(client, family):
    """chat.js posts with X-Prescreen-Chat: "stop" leads to the result, "rest" gets the chat in place."""
    body = to_notice(family)
    stop = post_choice(client, body, "stop", **{"X-Prescreen-Chat": "1"})
    assert stop.status_code == 303 and stop.headers["Location"].endswith(f"{BASE}/result")  # fetch follows it
    rest = post_choice(client, page(client, f"{BASE}/result"), "rest", **{"X-Prescreen-Chat": "1"})
    assert rest.status_code == 200 and rest.headers["X-Prescreen-Location"].endswith(f"{BASE}/chat")
    assert 'name="q" value="biologics"' in rest.get_data(as_text=True)


def test_the_answer_that_tells_early_gets_the_whole_page_with_javascript(client, family):
    family.start()
    for qid in BEFORE[:-1]:
        family.answer(RITUXIMAB_5M[qid])
    qid, step, token = current(client)
    data = {"csrf_token": token, "step": step, "q": qid, "value": RITUXIMAB_5M[qid]}
    response = client.post(f"{BASE}/answer", data=data, headers={"X-Prescreen-Chat": "1"})
    assert response.status_code == 200 and "X-Prescreen-Fragment" not in response.headers
    assert notice_of(response.get_data(as_text=True))
    qid, step, token = current(client)
    data = {"csrf_token": token, "step": step, "q": qid, "value": RITUXIMAB_5M[qid]}
    response = client.post(f"{BASE}/answer", data=data, headers={"X-Prescreen-Chat": "1"})
    assert "X-Prescreen-Fragment" not in response.headers and notice_of(response.get_data(as_text=True)) == ""


def test_a_stale_or_forged_stop_changes_nothing(app, client, family):
    family.start()
    family.answer(RITUXIMAB_5M["dob"])
    chat = page(client, f"{BASE}/chat")
    token = CSRF_RE.search(chat).group(1)
    step = re.search(r'name="step" value="(\d+)"', chat).group(1)
    response = client.post(f"{BASE}/early", data={"csrf_token": token, "step": step, "choice": "stop"})
    assert response.status_code == 303  # nothing says "not eligible" yet: no stop
    assert one(app, "SELECT status, early_choice FROM screenings") == {"status": "in_progress", "early_choice": None}
    client.post(f"{BASE}/leave", data={"csrf_token": token})  # agreeing again here would continue that one
    body = to_notice(Family(client))
    family.answer(RITUXIMAB_5M["biologics"])  # the page with the notice is now stale
    post_choice(client, body, "stop")
    assert one(app, "SELECT status FROM screenings ORDER BY id DESC LIMIT 1")["status"] == "in_progress"


def test_a_changed_answer_that_ends_the_wait_reopens_the_questions(app, client, family):
    post_choice(client, to_notice(family), "stop")
    result = page(client, f"{BASE}/result")
    token = CSRF_RE.search(result).group(1)
    step = str(one(app, "SELECT step FROM screenings")["step"])
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": step, "q": "rituximab_last"})
    assert answer(client, months_ago(9)).status_code == 303
    chat = page(client, f"{BASE}/chat")
    assert "Your change affects the result, so we have some more questions." in chat
    assert family.current()[0] == "biologics" and notice_of(chat) == ""
    row = one(app, "SELECT status, early_choice FROM screenings")
    assert row == {"status": "in_progress", "early_choice": None}


def test_a_changed_month_that_keeps_the_wait_stays_stopped(app, client, family):
    post_choice(client, to_notice(family), "stop")
    token = CSRF_RE.search(page(client, f"{BASE}/result")).group(1)
    step = str(one(app, "SELECT step FROM screenings")["step"])
    client.post(f"{BASE}/change", data={"csrf_token": token, "step": step, "q": "rituximab_last"})
    response = answer(client, months_ago(3))
    assert response.headers["Location"].endswith(f"{BASE}/result")
    row = one(app, "SELECT status, outcome, recheck_after, early_choice FROM screenings")
    later = {**RITUXIMAB_5M, "rituximab_last": months_ago(3)}
    assert row == {
        "status": "completed",
        "outcome": "not_eligible",
        "recheck_after": recheck_of(app, later).isoformat(),
        "early_choice": "stopped",
    }


def test_a_final_knock_out_still_ends_the_form_with_the_reason_first(app, client, family):
    family.start()
    asked = walk(client, {**likely_answers(), "biologics": ["belimumab"]})
    assert asked[-1] == "biologics"
    result = page(client, f"{BASE}/result")
    main = result.split('id="main"', 1)[1]
    reason = re.search(r'<ul class="reasons">\s*<li>([^<]+)', main)
    assert reason and "belimumab" in reason.group(1).lower()
    assert main.index('class="result ') < main.index(reason.group(1)) < main.index("Tell me about other studies")
    assert one(app, "SELECT early_told_at FROM screenings")["early_told_at"] is None  # no early notice


def test_summary_and_refer_treat_a_stopped_screening_as_finished(app, client, family):
    post_choice(client, to_notice(family), "stop")
    summary = page(client, f"{BASE}/summary")
    assert "The last rituximab dose must be more than 6 months before the study." in summary
    assert long_date(recheck_of(app, RITUXIMAB_5M), "en") in summary
    # The family's own doctor reads, in both languages, that the last questions were never answered.
    assert "this result was shown before the last questions, as the person filling in asked" in summary
    assert "应填写人的要求，在最后几个问题之前先给出了这个结果" in summary
    assert client.get(f"{BASE}/refer").status_code in (200, 303)  # never a crash or a 500


def test_the_log_and_the_funnel_count_both_choices_without_answers(app, staff):
    stopper = app.test_client()
    post_choice(stopper, to_notice(Family(stopper)), "stop")
    answerer = app.test_client()
    to_notice(Family(answerer))
    walk(answerer, RITUXIMAB_5M)
    waiting = app.test_client()
    to_notice(Family(waiting))  # told, has not chosen yet
    Family(app.test_client()).start()  # never told

    staff.add()
    coord = app.test_client()
    staff.login(coord)
    funnel = page(coord, "/coordinator/funnel")
    counts = dict(re.findall(r'data-early="(\w+)">(\d+)<', funnel))
    assert counts == {"told": "3", "stopped": "1", "continued": "1", "undecided": "1"}
    log = page(coord, "/coordinator/log")
    for label in ("Saw the result early", "Answered the rest", "No choice yet"):
        assert label in log
    token = CSRF_RE.search(log).group(1)
    csv = coord.post("/coordinator/log.csv", data={"csrf_token": token}).get_data(as_text=True)
    header, *lines = csv.lstrip("\ufeff").splitlines()
    assert header.endswith(",told_early,early_choice")
    early = sorted(line.split(",")[-2:] for line in lines)
    assert early == [["0", ""], ["1", ""], ["1", "continued"], ["1", "stopped"]]
    assert months_ago(5) not in csv and "rituximab_last" not in csv


def test_a_stopped_screening_is_kept_like_a_finished_one(app, client, family):
    post_choice(client, to_notice(family), "stop")
    db = connect(app.config["DATABASE"])
    try:
        soon = datetime.now(UTC) + timedelta(days=10)
        periods = {"open_days": 60, "closed_days": 30, "idle": timedelta(hours=1), "absolute": timedelta(hours=8)}
        retention.purge(db, soon, incomplete_days=7, screening_days=90, **periods)
        assert db.execute("SELECT count(*) FROM screenings").fetchone()[0] == 1  # not an unfinished one
        retention.purge(db, soon + timedelta(days=90), incomplete_days=7, screening_days=90, **periods)
        assert db.execute("SELECT count(*) FROM screenings").fetchone()[0] == 0
        assert db.execute("SELECT told_early, early_choice FROM screening_log").fetchone() == (1, "stopped")
    finally:
        db.close()


def test_a_stopped_family_may_ask_a_person_to_check_and_the_team_sees_it_stopped_early(app, client, family, staff):
    post_choice(client, to_notice(family), "stop")
    result = page(client, f"{BASE}/result")
    assert f'href="{BASE}/refer?kind=review"' in result  # a stopped result is a result like any other
    token = CSRF_RE.search(page(client, f"{BASE}/refer?kind=review")).group(1)
    data = {**referral_form(words=""), "csrf_token": token}
    response = client.post(f"{BASE}/refer?kind=review", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    result = page(client, f"{BASE}/result")
    assert "Answer the remaining questions" not in result  # sent to the team: the answers stay as sent
    step = str(one(app, "SELECT step FROM screenings")["step"])
    data = {"csrf_token": CSRF_RE.search(result).group(1), "step": step, "choice": "rest"}
    assert client.post(f"{BASE}/early", data=data).headers["Location"].endswith(f"{BASE}/result")  # refused
    assert one(app, "SELECT status, early_choice FROM screenings") == {"status": "completed", "early_choice": "stopped"}

    staff.add()
    coord = app.test_client()
    staff.login(coord)
    referral_id = one(app, "SELECT id FROM referrals")["id"]
    body = page(coord, f"/coordinator/referrals/{referral_id}")
    assert "The family stopped early" in body


@pytest.mark.parametrize(
    ("changes", "last", "criterion"),
    [
        ({"dob": months_ago(3 * 12 + 2)}, "dob", "inc_age_5_18"),
        ({"tx_duration": "up_to_3m", "tx_start": months_ago(1)}, "tx_start", "inc_res_tx_gt3m"),
        ({"other_trial": "yes", "trial_end": months_ago(2)}, "trial_end", "exc_other_trial_6m"),
        ({"hospital": "yes", "hospital_month": months_ago(0)}, "hospital_month", "exc_hosp_infection_60d"),
        ({"iv_drugs": "yes", "iv_month": months_ago(0)}, "iv_month", "exc_parenteral_antimicrobial_30d"),
        ({"vaccine": "live", "vaccine_month": months_ago(1)}, "vaccine_month", "exc_live_vaccine_3m"),
    ],
)
def test_every_waiting_period_is_said_right_after_the_answer_that_starts_it(
    app, client, family, changes, last, criterion
):
    """STUDY-NOTES §4.2: age under 5, Q7b, Q11, Q19–Q21 (and Q4, above)."""
    answers = {**likely_answers(), **changes}
    family.start()
    while True:
        qid = family.current()[0]
        family.answer(answers[qid])
        if qid == last:
            break
        assert notice_of(page(client, f"{BASE}/chat")) == "", qid
    notice = notice_of(page(client, f"{BASE}/chat"))
    study = study_registry.of(app).studies["pumch-pediatric-sjogren"]
    assert study.criterion(criterion).family("not_met", "guardian", "en") in notice
    assert long_date(recheck_of(app, answers), "en") in notice
    assert family.current() is not None  # the questions go on below it


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_teen_answering_for_themself_is_told_in_their_own_voice(app, client, family, lang):
    answers = {**RITUXIMAB_5M, "dob": months_ago(15 * 12 + 3), "consent_teen": "yes_parent"}
    family.start("patient", lang)
    while not notice_of(page(client, f"{BASE}/chat")):
        family.answer(answers[family.current()[0]])
    notice = notice_of(page(client, f"{BASE}/chat"))
    study = study_registry.of(app).studies["pumch-pediatric-sjogren"]
    assert {"en": "You cannot join this study yet", "zh": "你暂时还不能参加这项研究"}[lang] in notice
    assert study.criterion("exc_rituximab_6m").family("not_met", "patient", lang) in notice


def ask_for_reminder(client: FlaskClient, email: str) -> None:
    body = page(client, "/volunteer/reminder")
    data = {"email": email, "consent": "y", "csrf_token": CSRF_RE.search(body).group(1)}
    assert client.post("/volunteer/reminder", data=data).status_code == 200


def reminder_row(app: Flask) -> dict[str, Any]:
    return one(app, "SELECT status, to_addr, next_attempt_at FROM outbox WHERE kind = 'recheck-reminder'")


@pytest.mark.parametrize(
    ("rest", "moves"),
    [
        ({"vaccine": "live", "vaccine_month": months_ago(1)}, True),  # a later wait: the reminder follows it
        ({"biologics": ["belimumab"]}, False),  # ruled out for good: no date, no reminder, no address
    ],
    ids=["later-date", "no-date"],
)
def test_a_reminder_follows_the_date_when_the_family_answers_the_rest(app, client, family, rest, moves):
    """Stopped early, asked for a reminder, then came back to the rest: the e-mail keeps to the new date."""
    post_choice(client, to_notice(family), "stop")
    ask_for_reminder(client, "parent@example.com")
    first = reminder_row(app)
    assert first["status"] == "pending" and first["next_attempt_at"].startswith(
        recheck_of(app, RITUXIMAB_5M).isoformat()
    )
    post_choice(client, page(client, f"{BASE}/result"), "rest")
    walk(client, {**RITUXIMAB_5M, **rest})
    recheck = one(app, "SELECT recheck_after FROM screenings")["recheck_after"]
    row = reminder_row(app)
    if moves:
        assert recheck > first["next_attempt_at"][:10]
        assert row["status"] == "pending" and row["next_attempt_at"].startswith(recheck)
        assert row["to_addr"] == "parent@example.com"
    else:
        assert recheck is None
        assert row["status"] == "suppressed" and row["to_addr"] == "deleted"

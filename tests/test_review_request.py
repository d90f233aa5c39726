"""Ask a person to check my result (PIPL art. 24), on every outcome — real client, real SQLite file.

A family the form turned away asks for a review through the referral form's review variant
(``/s/<study>/refer?kind=review``): same consents and contact details, plus their own words. The
request reaches the coordinator queue marked as a review request, with its own statuses; the
words are erased with the contact details and never reach an e-mail, a log or a URL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.store import INTEGRITY_ERRORS, connect, migrate, migration_modules, recruiting, transaction
from tests.helpers.public import (
    BASE,
    column_names,
    csrf,
    likely_answers,
    raw_connection,
    referral_form,
    rows,
    start,
    walk,
)
from tests.helpers.staff import STUDY_ID, add_referral, add_user, download, login

WORDS = {
    "zh": "孩子上个月在外院做了复查，医生说贝利尤单抗只打过一次，\n想请医生再看看。",
    "en": "She had only one belimumab dose, in another hospital.\nPlease look again.",
}
TEXT = {
    "zh": {
        "ask": "觉得结果不对？请研究团队的医护人员帮您看看",
        "button": "请医护人员帮我看看结果",
        "label": "您为什么觉得孩子可能符合条件？",
        "sent": "您的申请已提交",
        "asked": "您已请医护人员帮您看这个结果",
        "tick": "请勾选方框，我们才能把您的信息发给研究团队",
        "long": "请不要超过1000个字",
    },
    "en": {
        "ask": "Think this result is wrong? Ask a person to check it",
        "button": "Ask a person to check my result",
        "label": "Why do you think your child may qualify?",
        "sent": "Your request has been sent",
        "asked": "You asked a person to check this result",
        "tick": "Please tick the box so we may send your details",
        "long": "Please keep this under 1000 characters",
    },
}
REVIEW_URL = f"{BASE}/refer?kind=review"
CONTACT = referral_form()


def not_eligible_answers() -> dict[str, Any]:
    """Belimumab before: the form ends at once, *not eligible* for good."""
    return {**likely_answers(), "biologics": ["belimumab"]}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False, STUDY_TEAM_EMAIL="team@pumch.example", PUBLIC_URL="https://ps.example")


def turned_away(app: Flask, lang: str = "en") -> FlaskClient:
    """A parent's browser that walked the real questionnaire to *not eligible*."""
    client = app.test_client()
    start(client, "guardian", lang)
    walk(client, not_eligible_answers())
    return client


def ask_review(client: FlaskClient, token: str | None = None, **fields: Any):  # type: ignore[no-untyped-def]
    """Post the review form (fields left as None are not sent)."""
    data = {**CONTACT, "words": WORDS["zh"], **fields, "csrf_token": token or csrf(client, REVIEW_URL)}
    return client.post(REVIEW_URL, data={k: v for k, v in data.items() if v is not None})


def main_text(client: FlaskClient, path: str) -> str:
    return client.get(path).get_data(as_text=True).split("<main", 1)[1]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_family_told_not_eligible_asks_a_person_to_check_and_it_is_stored_as_a_review(app, lang):
    client = turned_away(app, lang)
    result = main_text(client, f"{BASE}/result")
    assert "result-not_eligible" in result
    assert TEXT[lang]["ask"] in result and TEXT[lang]["button"] in result
    assert f'href="{REVIEW_URL}"' in result  # the only flag in the address; nothing about the child
    form = main_text(client, REVIEW_URL)
    assert TEXT[lang]["label"] in form and "<textarea" in form and 'maxlength="1000"' in form
    assert f'action="{REVIEW_URL}"' in form and 'method="post"' in form

    token = csrf(client, REVIEW_URL)
    response = ask_review(client, token, words=WORDS[lang], language=lang)
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/sent"
    sent = main_text(client, f"{BASE}/sent")
    ((reference, kind, words, outcome, status),) = rows(
        app, "SELECT reference, kind, family_words, outcome, status FROM referrals"
    )
    assert (kind, words, outcome, status) == ("review", WORDS[lang], "not_eligible", "new")
    assert TEXT[lang]["sent"] in sent and reference in sent and "/withdraw/" in sent
    consents = rows(app, "SELECT kind FROM consents ORDER BY id")
    assert consents == [("health_data",), ("share",), ("guardian_share",)]
    ((detail,),) = rows(app, "SELECT detail FROM audit WHERE action = 'referral.create'")
    assert json.loads(detail) == {"outcome": "not_eligible", "kind": "review"}

    # Back on the result: what they sent, not a second offer.
    result = main_text(client, f"{BASE}/result")
    assert TEXT[lang]["asked"] in result and reference in result
    assert TEXT[lang]["button"] not in result
    assert client.get(REVIEW_URL).headers["Location"].endswith(f"{BASE}/sent")
    assert ask_review(client, token).status_code == 303  # a second post: still one request
    assert rows(app, "SELECT count(*) FROM referrals") == [(1,)]


def test_the_words_are_optional_and_a_family_that_cannot_explain_can_still_ask(app):
    client = turned_away(app)
    assert ask_review(client, words="   ").status_code == 303
    assert rows(app, "SELECT kind, family_words FROM referrals") == [("review", None)]


def test_the_team_alert_says_a_review_request_is_waiting_and_carries_no_words(app):
    ask_review(turned_away(app), words="秘密的话 belimumab once", email="li@example.com")
    ((rid,),) = rows(app, "SELECT id FROM referrals")
    ((key, subject, body),) = rows(app, "SELECT idempotency_key, subject, body_text FROM outbox")
    assert key == f"referral-alert:{rid}"
    assert "A review request is waiting" in subject and "有一份复核申请待处理" in subject
    assert f"https://ps.example/coordinator/referrals/{rid}" in body
    for private in ("秘密", "belimumab", "王芳", "li@example.com", "138", "not_eligible", "eligible"):
        assert private not in subject + body, private


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"share": None}, "tick"),
        ({"words": "x" * 1001}, "long"),
        ({"words": "第" * 1001}, "long"),
    ],
)
def test_missing_consent_or_too_long_words_get_a_translated_message_and_store_nothing(app, lang, fields, message):
    client = turned_away(app, lang)
    response = ask_review(client, **fields)
    assert response.status_code == 400
    assert TEXT[lang][message] in response.get_data(as_text=True)
    assert rows(app, "SELECT count(*) FROM referrals") == [(0,)]
    assert rows(app, "SELECT count(*) FROM consents WHERE kind != 'health_data'") == [(0,)]
    assert rows(app, "SELECT count(*) FROM outbox") == [(0,)]


def test_a_thousand_characters_with_line_breaks_fit_and_control_characters_do_not(app):
    client = turned_away(app)
    response = ask_review(client, words="a\x1bb")
    assert response.status_code == 400 and "Please write in plain text" in response.get_data(as_text=True)
    words = "\r\n".join(["九个字的一行话而已"] * 100)  # 999 characters once a line break is one
    assert ask_review(client, words=words + "\u202e").status_code == 303  # a bidi override is dropped
    ((stored,),) = rows(app, "SELECT family_words FROM referrals")
    assert stored == words.replace("\r\n", "\n") and len(stored) == 999


def test_no_address_a_family_meets_carries_their_words_or_answers(app):
    client = turned_away(app)
    seen = [REVIEW_URL]
    response = ask_review(client)
    seen.append(response.headers["Location"])
    for path in (f"{BASE}/result", f"{BASE}/sent"):
        seen += re.findall(r'(?:href|action)="([^"]+)"', client.get(path).get_data(as_text=True))
    query = " ".join(s.split("?", 1)[1] for s in seen if "?" in s)
    assert "kind=review" in query
    for private in ("贝利尤单抗", "belimumab", "王芳", "138", "not_eligible", "words"):
        assert private not in " ".join(seen), private
    # Words offered in the address are never read: the form takes the posted body only.
    other = turned_away(app)
    token = csrf(other, REVIEW_URL)
    data = {**CONTACT, "csrf_token": token}
    assert other.post(REVIEW_URL + "&words=from-the-url", data=data).status_code == 303
    assert ("from-the-url",) not in rows(app, "SELECT family_words FROM referrals")


def test_not_eligible_families_still_cannot_send_an_ordinary_referral(app):
    client = turned_away(app)
    assert client.get(f"{BASE}/refer").headers["Location"].endswith(f"{BASE}/result")
    token = csrf(client, REVIEW_URL)
    assert client.post(f"{BASE}/refer", data={**CONTACT, "csrf_token": token}).status_code == 303
    assert rows(app, "SELECT count(*) FROM referrals") == [(0,)]


def test_a_likely_eligible_family_sends_details_first_and_reads_that_a_person_decides(app):
    client = app.test_client()
    start(client, "guardian", "en")
    walk(client, likely_answers())
    result = main_text(client, f"{BASE}/result")
    assert f'href="{BASE}/refer"' in result and "Send my details to the study team" in result
    assert "A person on the study team, not this form, decides whether your child can join" in result
    assert REVIEW_URL not in result  # sending the details already puts a person on it


def test_while_the_study_is_closed_a_person_can_still_check_the_result(app):
    client = app.test_client()
    start(client, "guardian", "en")
    walk(client, likely_answers())
    db = connect(app.config["DATABASE"])
    recruiting.set_status(db, STUDY_ID, "closed", "test")
    db.close()
    result = main_text(client, f"{BASE}/result")
    assert "not looking for new participants" in result and f'href="{BASE}/refer"' not in result
    assert "A person can still look at your answers and explain your result" in result
    assert client.get(f"{BASE}/refer").headers["Location"].endswith(f"{BASE}/result")
    assert ask_review(client).status_code == 303
    assert rows(app, "SELECT kind, outcome FROM referrals") == [("review", "likely_eligible")]


def test_withdrawing_erases_the_words_with_the_contact_details(app):
    client = turned_away(app)
    ask_review(client)
    body = client.get(f"{BASE}/sent").get_data(as_text=True)
    path = body.split('id="withdraw-url" value="', 1)[1].split('"', 1)[0].split("localhost", 1)[1]
    assert client.post(path, data={"csrf_token": csrf(client, path)}).status_code == 303
    assert rows(app, "SELECT family_words, phone, status FROM referrals") == [(None, None, "withdrawn")]


def purge_at(app: Flask, days: float) -> str:
    moment = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    result = app.test_cli_runner().invoke(args=["purge", "--now", moment])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_purge_erases_the_words_of_a_closed_review_and_of_a_forgotten_one(app):
    ask_review(turned_away(app))
    ask_review(turned_away(app))
    (first,), (second,) = rows(app, "SELECT id FROM referrals ORDER BY id")
    db = connect(app.config["DATABASE"])
    from prescreen.store import queue

    queue.change_status(db, first, "result_explained", "user:1")
    db.close()
    assert rows(app, "SELECT count(*) FROM referrals WHERE family_words IS NOT NULL") == [(2,)]
    purge_at(app, 181)  # closed 181 days ago; the other untouched as long
    assert rows(app, "SELECT id, family_words, phone, status FROM referrals ORDER BY id") == [
        (first, None, None, "result_explained"),
        (second, None, None, "unreachable"),
    ]
    assert rows(app, "SELECT referral_kind, referral_status FROM screening_log WHERE referred = 1 ORDER BY id") == [
        ("review", "result_explained"),
        ("review", "unreachable"),
    ]


# The study team's side.


@pytest.fixture
def coordinator(app: Flask) -> FlaskClient:
    add_user(app, "admin@pumch.example", "admin")
    client = app.test_client()
    assert login(client, "admin@pumch.example").status_code == 302
    return client


def review_id(app: Flask, lang: str = "zh") -> int:
    ask_review(turned_away(app, lang), words=WORDS[lang])
    ((rid,),) = rows(app, "SELECT id FROM referrals WHERE kind = 'review'")
    return rid


def status_choices(client: FlaskClient, rid: int) -> list[str]:
    """The next steps the status menu offers (its first group; corrections with a reason follow)."""
    html = client.get(f"/coordinator/referrals/{rid}").get_data(as_text=True)
    if 'label="Next step"' not in html:
        return []  # a closed review: no next step (only a correction)
    group = html.split('label="Next step"', 1)[1].split("</optgroup>", 1)[0]
    return re.findall(r'value="([a-z_0-9]+)"', group)


def post_status(client: FlaskClient, rid: int, status: str, **extra: str):  # type: ignore[no-untyped-def]
    page = f"/coordinator/referrals/{rid}"
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="status-csrf_token"[^>]*value="([^"]+)"', html).group(1)
    data = {"status-csrf_token": token, "status-status": status, **extra}
    return client.post(f"{page}/status", data=data)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_review_request_is_marked_in_the_queue_and_shows_the_familys_words(app, coordinator, lang):
    rid = review_id(app, lang)
    ordinary = add_referral(app, reference="PS-ORDIN1")
    queue_page = coordinator.get("/coordinator/").get_data(as_text=True)
    row = queue_page.split(f'/coordinator/referrals/{rid}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="badge badge-review">Review request<' in row
    assert "badge-review" not in queue_page.split("PS-ORDIN1", 1)[1].split("</tr>", 1)[0]
    only = coordinator.get("/coordinator/?kind=review").get_data(as_text=True)
    assert f"/coordinator/referrals/{rid}" in only and "PS-ORDIN1" not in only
    assert "PS-ORDIN1" in coordinator.get("/coordinator/?kind=referral").get_data(as_text=True)
    assert f"/coordinator/referrals/{ordinary['id']}" in coordinator.get("/coordinator/?kind=nonsense").get_data(
        as_text=True
    )
    page = coordinator.get(f"/coordinator/referrals/{rid}").get_data(as_text=True)
    assert "In the family's words" in page and WORDS[lang] in page
    zh = coordinator.get(f"/coordinator/referrals/{rid}?lang=zh").get_data(as_text=True)
    assert "复核申请" in zh and "家属自述" in zh


def test_a_review_follows_its_own_statuses_and_every_change_is_audited(app, coordinator):
    rid = review_id(app)
    assert status_choices(coordinator, rid) == ["in_review", "result_explained", "invited_to_screening"]
    assert post_status(coordinator, rid, "contacted").status_code == 400  # not a review's status
    assert post_status(coordinator, rid, "in_review").status_code == 302
    assert "unreachable" in status_choices(coordinator, rid)
    assert post_status(coordinator, rid, "invited_to_screening").status_code == 302
    # the visit is booked in its own form (day and time), never from the status menu
    assert status_choices(coordinator, rid) == ["screen_failed", "not_interested", "dropped_out"]
    page = f"/coordinator/referrals/{rid}"
    token = re.search(r'name="visit-csrf_token"[^>]*value="([^"]+)"', coordinator.get(page).get_data(as_text=True))
    booked = {"visit-csrf_token": token.group(1), "visit-day": "2026-12-03", "visit-at": "10:00"}
    assert coordinator.post(f"{page}/visit", data=booked).status_code == 302
    details = [json.loads(d) for (d,) in rows(app, "SELECT detail FROM audit WHERE action = 'referral.status'")]
    assert [(d["from"], d["to"]) for d in details] == [("new", "in_review"), ("in_review", "invited_to_screening")]
    for detail in details:
        assert set(detail) <= {"from", "to"}  # codes only, never the words
    assert rows(app, "SELECT contacted, visit_scheduled FROM screening_log WHERE referred = 1") == [(1, 1)]


def test_explaining_the_result_closes_the_review_and_a_first_attempt_puts_it_in_review(app, coordinator):
    rid = review_id(app)
    page = f"/coordinator/referrals/{rid}"
    html = coordinator.get(page).get_data(as_text=True)
    token = re.search(r'name="attempt-csrf_token"[^>]*value="([^"]+)"', html).group(1)
    data = {"attempt-csrf_token": token, "attempt-channel": "phone", "attempt-result": "no_answer"}
    assert coordinator.post(f"{page}/attempts", data=data).status_code == 302
    assert rows(app, "SELECT status FROM referrals") == [("in_review",)]
    assert post_status(coordinator, rid, "result_explained").status_code == 302
    ((status, closed_at),) = rows(app, "SELECT status, closed_at FROM referrals")
    assert status == "result_explained" and closed_at
    assert status_choices(coordinator, rid) == []
    assert "Result stands, explained" in coordinator.get("/coordinator/?status=all").get_data(as_text=True)
    assert f"/coordinator/referrals/{rid}" not in coordinator.get("/coordinator/").get_data(as_text=True)  # closed


def test_the_log_and_funnel_count_review_requests_without_the_words(app, coordinator):
    rid = review_id(app)
    add_referral(app)
    funnel = coordinator.get("/coordinator/funnel").get_data(as_text=True)
    assert re.search(r'data-stage="review_requested">1<', funnel)
    assert re.search(r'data-stage="referred">2<', funnel)
    assert "Asked a person to check the result" in funnel
    text = download(coordinator, "/coordinator/log.csv").get_data(as_text=True)
    log = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert sorted(r["referral_kind"] for r in log) == ["referral", "review"]
    assert "Review request" in coordinator.get("/coordinator/log").get_data(as_text=True)
    for private in ("复查", "贝利尤单抗", "王芳"):
        assert private not in text
    conn = raw_connection(app)
    columns = column_names(conn, "screening_log")
    conn.close()
    assert "family_words" not in columns and "referral_kind" in columns
    # The admin's exports: the kind in the identified list, the words in that family's record.
    identified = download(coordinator, "/coordinator/export/referrals.csv").get_data(as_text=True)
    listing = list(csv.DictReader(io.StringIO(identified.lstrip("\ufeff"))))
    assert sorted(r["Request"] for r in listing) == ["Referral", "Review request"]
    assert "复查" not in identified
    page = f"/coordinator/referrals/{rid}"
    record = download(coordinator, f"{page}/export.json", form_page=page).get_json()
    assert record["referral"]["family_words"] == WORDS["zh"] and record["referral"]["kind"] == "review"


def test_referrals_sent_before_the_migration_are_ordinary_referrals_and_keep_counting(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.sqlite3")
    db.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, module in migration_modules():
        if version >= "m0011":
            break
        with transaction(db):
            module.up(db)  # type: ignore[attr-defined]
            db.execute("INSERT INTO schema_migrations VALUES (?, 'x')", [version])
    with transaction(db):
        db.execute(
            "INSERT INTO screenings (id, token_hash, study_id, version, locale, created_at, updated_at) "
            "VALUES (1, 'h', 's', 'v', 'zh', 'x', 'x')"
        )
        db.execute(
            "INSERT INTO referrals (screening_id, study_id, reference, status, created_at, updated_at) "
            "VALUES (1, 's', 'PS-OLD001', 'unreachable', 'x', 'x')"
        )
    assert "m0011_review_requests" in migrate(db)
    assert db.execute("SELECT kind, family_words FROM referrals").fetchall() == [("referral", None)]
    assert db.execute("SELECT referral_kind FROM screening_log").fetchall() == [("referral",)]
    with pytest.raises(INTEGRITY_ERRORS):  # neither an unknown kind nor a novel fits
        db.execute("UPDATE referrals SET kind = 'other'")
    with pytest.raises(INTEGRITY_ERRORS):
        db.execute("UPDATE referrals SET family_words = ?", ["x" * 1001])
    db.execute("UPDATE referrals SET status = 'result_explained'")  # the renewed trigger: a person reached them
    assert db.execute("SELECT contacted, referral_status FROM screening_log").fetchall() == [(1, "result_explained")]
    db.close()

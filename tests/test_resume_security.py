"""A screening belongs to one browser: resume links, shared devices and consent boxes.

The attack these guard against: someone copies their resume link into a patients' group chat; a
parent opens it and answers; the link's creator reloads their own pages and reads the parent's
answers, reference and withdraw link. Now a link only shows a "continue?" page, continuing is a
deliberate POST with the new browser's own consent, and it moves the screening to a new token so
every earlier holder sees nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.public import (
    BASE,
    answer,
    body,
    born_years_ago,
    consent_form,
    csrf,
    likely_answers,
    referral_form,
    resume,
    rows,
    start,
    walk,
)

GOOD = referral_form()
FIRST_HEALTH_QUESTION = "Has a doctor said your child has"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False)


def resume_path(client: FlaskClient) -> str:
    page = body(client, f"{BASE}/chat")
    match = re.search(r'id="resume-url" value="[^"]*?(/r/[^"]+)"', page)
    assert match, "no resume link on the chat page"
    return match.group(1)


def sender_with_link(app: Flask) -> tuple[FlaskClient, str]:
    """Someone who starts a screening, answers one question and copies the resume link."""
    sender = app.test_client()
    start(sender)
    answer(sender, born_years_ago(10))
    return sender, resume_path(sender)


def test_opening_a_resume_link_only_asks_and_moves_nothing(app):
    sender, link = sender_with_link(app)
    parent = app.test_client()
    response = parent.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Continue saved answers on this device?" in page
    assert 'name="agree"' in page and "checked" not in page  # the notice and an unticked consent box
    assert FIRST_HEALTH_QUESTION not in page and "Your answers" not in page  # not a single answer shown
    # The GET swapped nothing: the parent's browser holds no screening, the sender's still does.
    assert parent.get(f"{BASE}/chat").status_code == 303
    assert FIRST_HEALTH_QUESTION in body(sender, f"{BASE}/chat")


def test_continuing_needs_this_browsers_own_consent_and_a_csrf_token(app):
    sender, link = sender_with_link(app)
    parent = app.test_client()
    consents_before = rows(app, "SELECT count(*) FROM consents")[0][0]
    no_tick = resume(parent, link, agree=False)
    assert no_tick.status_code == 400 and "Please tick the box to agree" in no_tick.get_data(as_text=True)
    assert parent.post(link, data={"agree": "y"}).status_code == 400  # no CSRF token: a hostile page's POST
    assert rows(app, "SELECT count(*) FROM consents")[0][0] == consents_before
    assert FIRST_HEALTH_QUESTION in body(sender, f"{BASE}/chat")  # still the sender's

    assert resume(parent, link).status_code == 303
    kinds = rows(app, "SELECT kind, role FROM consents ORDER BY id")
    assert kinds == [("health_data", "guardian"), ("health_data", "guardian")]  # the parent's own, recorded
    assert rows(app, "SELECT action FROM audit WHERE action = 'screening.resume'") == [("screening.resume",)]


@pytest.mark.parametrize("value", ["off", "0", "n", "false", "no", "on", "Y", "yes"])
def test_a_consent_box_counts_only_with_the_value_the_form_sends(app, value):
    sender, link = sender_with_link(app)
    parent = app.test_client()
    token = csrf(parent, link)
    assert parent.post(link, data={"csrf_token": token, "agree": value}).status_code == 400
    assert FIRST_HEALTH_QUESTION in body(sender, f"{BASE}/chat")


def test_after_another_browser_continues_the_old_cookie_and_link_see_nothing(app):
    sender, link = sender_with_link(app)
    parent = app.test_client()
    assert resume(parent, link).status_code == 303
    new_link = resume_path(parent)
    assert new_link != link

    for path in ("chat", "summary", "result", "sent", "refer", "forget", "withdraw"):
        response = sender.get(f"{BASE}/{path}")
        assert response.status_code == 303, path
        assert response.headers["Location"].split("?")[0].endswith(f"{BASE}/"), path
    again = app.test_client().get(link)
    assert again.status_code == 404 and "This link no longer works" in again.get_data(as_text=True)
    # The parent goes on, and none of it reaches the sender.
    walk(parent, likely_answers())
    assert "Your child may be able to join this study" in body(parent, f"{BASE}/result")
    assert "Your answers" not in body(sender, f"{BASE}/result")


def test_a_link_creator_cannot_read_or_withdraw_the_referral_of_the_family_who_continued(app):
    sender, link = sender_with_link(app)
    parent = app.test_client()
    resume(parent, link)
    walk(parent, likely_answers())
    token = csrf(parent, f"{BASE}/refer")
    assert parent.post(f"{BASE}/refer", data={**GOOD, "csrf_token": token}).status_code == 303
    sent = body(parent, f"{BASE}/sent")
    (reference,) = rows(app, "SELECT reference FROM referrals")[0]
    assert reference in sent and "/withdraw/" in sent

    sender_pages = body(sender, f"{BASE}/sent") + body(sender, f"{BASE}/summary") + body(sender, f"{BASE}/result")
    assert reference not in sender_pages and "/withdraw/" not in sender_pages
    # Posting the session withdraw form with the sender's own cookie erases nothing.
    token = csrf(sender, f"{BASE}/consent?as=guardian")
    sender.post(f"{BASE}/withdraw", data={"csrf_token": token})
    assert rows(app, "SELECT status, phone FROM referrals") == [("new", "+8613812345678")]


def test_the_withdraw_link_is_its_own_secret_and_survives_a_move_to_another_device(app):
    family = app.test_client()
    start(family)
    walk(family, likely_answers())
    cookie_token = family.get_cookie("prescreen")
    token = csrf(family, f"{BASE}/refer")
    family.post(f"{BASE}/refer", data={**GOOD, "csrf_token": token})
    withdraw_path = re.search(r'id="withdraw-url" value="[^"]*?(/withdraw/[^"]+)"', body(family, f"{BASE}/sent"))
    assert withdraw_path, "the sending browser shows its withdraw link"
    secret = withdraw_path.group(1).rsplit("/", 1)[1]
    # Not derived from the screening token (which moves from device to device).
    link = resume_path(family)
    screening_token = link.rsplit("/", 1)[1]
    assert secret not in (screening_token, cookie_token)
    (stored,) = rows(app, "SELECT withdraw_token_hash FROM referrals")[0]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()

    # The family continues on another phone: that phone can withdraw from the session, and the
    # link saved on the first phone still works.
    other = app.test_client()
    resume(other, link)
    other_sent = body(other, f"{BASE}/sent")
    assert "/withdraw/" not in other_sent and f"{BASE}/withdraw" in other_sent
    page = body(family, withdraw_path.group(1))
    assert "Withdraw your details?" in page
    token = csrf(family, withdraw_path.group(1))
    assert family.post(withdraw_path.group(1), data={"csrf_token": token}).status_code == 303
    assert rows(app, "SELECT status, phone FROM referrals") == [("withdrawn", None)]


def test_the_browser_holding_the_screening_can_withdraw_without_the_link(app):
    family = app.test_client()
    start(family)
    walk(family, likely_answers())
    token = csrf(family, f"{BASE}/refer")
    family.post(f"{BASE}/refer", data={**GOOD, "csrf_token": token})
    other = app.test_client()
    resume(other, resume_path(family))
    confirm = body(other, f"{BASE}/withdraw")
    assert "Withdraw your details?" in confirm
    token = csrf(other, f"{BASE}/withdraw")
    response = other.post(f"{BASE}/withdraw", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("withdrawn=1")
    assert "You have withdrawn" in body(other, response.headers["Location"])
    assert rows(app, "SELECT status, guardian_name FROM referrals") == [("withdrawn", None)]


def test_a_handed_off_screening_moves_to_the_parent_who_then_consents_on_the_handoff_page(app):
    child = app.test_client()
    start(child, "patient")
    answer(child, born_years_ago(10))
    page = body(child, f"{BASE}/handoff")
    link = re.search(r'id="resume-url" value="[^"]*?(/r/[^"]+)"', page).group(1)
    parent = app.test_client()
    assert 'name="agree"' not in parent.get(link).get_data(as_text=True)  # the next page asks the guardian
    response = resume(parent, link, agree=False)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/chat")
    assert "For the parent or guardian" in body(parent, f"{BASE}/chat")
    assert child.get(f"{BASE}/handoff").status_code == 303  # the child's phone no longer holds it


def test_the_same_browser_opening_its_own_link_just_continues(app):
    family = app.test_client()
    start(family)
    answer(family, born_years_ago(10))
    link = resume_path(family)
    response = family.get(link)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/chat")
    assert resume_path(family) == link  # nothing moved


def test_finished_on_this_device_closes_it_here_and_the_link_still_works(app):
    family = app.test_client()
    start(family)
    answer(family, born_years_ago(10))
    link = resume_path(family)
    assert "finished on this device" in body(family, f"{BASE}/chat")
    token = csrf(family, f"{BASE}/chat")
    response = family.post(f"{BASE}/leave", data={"csrf_token": token})
    assert response.status_code == 303
    study_page = body(family, response.headers["Location"])
    assert "Your answers are closed on this device" in study_page and "Continue where you left off" not in study_page
    assert family.get(f"{BASE}/chat").status_code == 303
    assert resume(app.test_client(), link).status_code == 303  # the saved link still works


def test_an_idle_screening_is_no_longer_offered_on_this_device(app, monkeypatch):
    family = app.test_client()
    start(family)
    answer(family, born_years_ago(10))
    link = resume_path(family)
    assert "Continue where you left off" in body(family, f"{BASE}/")
    later = time.time() + 61 * 60  # the default: 60 minutes
    monkeypatch.setattr(time, "time", lambda: later)
    study_page = body(family, f"{BASE}/")
    assert "Continue where you left off" not in study_page and "Start the questions" in study_page
    response = family.get(f"{BASE}/chat")
    assert response.status_code == 303 and response.headers["Location"].endswith("missing=1")
    monkeypatch.undo()
    assert resume(family, link).status_code == 303  # the link works, with consent asked again
    assert answer(family, "yes").status_code in (200, 303)


def test_the_idle_time_is_a_setting(make_app, monkeypatch):
    app = make_app(RATELIMIT_ENABLED=False, PUBLIC_IDLE_MINUTES=240)
    family = app.test_client()
    start(family)
    later = time.time() + 61 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert "Continue where you left off" in body(family, f"{BASE}/")


def test_the_idle_notice_explains_why(app, monkeypatch):
    family = app.test_client()
    start(family)
    later = time.time() + 61 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = family.get(f"{BASE}/chat")
    assert response.headers["Location"].endswith("closed=1")
    assert "this device stopped showing them" in body(family, response.headers["Location"])


def test_referrals_from_one_client_are_limited_apart_from_other_posts(make_app):
    """Each referral mails the team: a script cannot make dozens, but a family's typos do not count."""
    app = make_app(
        REFERRAL_POST_LIMIT="2 per hour", PUBLIC_POST_LIMIT="500 per minute", STUDY_TEAM_EMAIL="t@pumch.example"
    )
    families = []
    for _ in range(3):
        family = app.test_client()
        start(family)
        walk(family, likely_answers())
        families.append(family)
    first, second, third = families
    for _ in range(3):  # a form sent back with an error is not a referral
        token = csrf(first, f"{BASE}/refer")
        assert first.post(f"{BASE}/refer", data={**GOOD, "phone": "12", "csrf_token": token}).status_code == 400
    for family in (first, second):
        token = csrf(family, f"{BASE}/refer")
        assert family.post(f"{BASE}/refer", data={**GOOD, "csrf_token": token}).status_code == 303
    token = csrf(third, f"{BASE}/refer")
    assert third.post(f"{BASE}/refer", data={**GOOD, "csrf_token": token}).status_code == 429
    assert rows(app, "SELECT count(*) FROM referrals") == [(2,)]
    assert rows(app, "SELECT count(*) FROM outbox WHERE kind = 'referral-alert'") == [(2,)]
    # The same client's other posts still go through (the general allowance is separate).
    assert answer(third, "yes", q="dob").status_code in (200, 303)


@pytest.mark.parametrize("value", ["off", "0", "n", "false", "no"])
def test_the_consent_and_share_boxes_are_not_ticked_by_a_made_up_value(app, value):
    """Only the value our checkbox sends ("y") is a tick: a hand-made post records no consent."""
    client = app.test_client()
    token, nonce = consent_form(client, f"{BASE}/consent?as=guardian")
    data = {"csrf_token": token, "nonce": nonce, "respondent": "guardian", "agree": value}
    assert client.post(f"{BASE}/consent", data=data).status_code == 400
    assert rows(app, "SELECT count(*) FROM screenings") == [(0,)]
    start(client)
    walk(client, likely_answers())
    token = csrf(client, f"{BASE}/refer")
    assert client.post(f"{BASE}/refer", data={**GOOD, "share": value, "csrf_token": token}).status_code == 400
    assert client.post(f"{BASE}/refer", data={**GOOD, "guardian": value, "csrf_token": token}).status_code == 400
    assert rows(app, "SELECT count(*) FROM referrals") == [(0,)]

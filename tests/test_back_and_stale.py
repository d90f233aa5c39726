"""Back never loses answers, and an answer from an out-of-date page is not dropped without a word.

The consent and "who is filling in" pages, on a browser that already holds a screening of the
study, say so and continue it; agreeing again keeps every answer (chat.js and plain forms). A
stale step from another tab is told plainly, once; a double tap (the same answer again) is not.
"""

from __future__ import annotations

from flask import Flask

from tests.helpers.public import BASE, Family, born_years_ago, consent_form, likely_answers, raw_connection

STALE = "This page was out of date"


def body(family: Family, path: str) -> str:
    return family.client.get(path).get_data(as_text=True)


def stored_answers(app: Flask) -> list[str]:
    with raw_connection(app) as conn:
        return [row[0] for row in conn.execute("SELECT answers FROM screenings")]


def answer_three(family: Family) -> list[str]:
    family.start()
    given = likely_answers()
    asked = []
    for _ in range(3):
        qid = family.current()[0]
        asked.append(qid)
        assert family.answer(given[qid]).status_code == 303
    return asked


def test_who_and_consent_pages_offer_to_continue_answers_under_way(app, family):
    assert 'id="underway"' not in body(family, f"{BASE}/start")
    answer_three(family)
    for path in (f"{BASE}/start", f"{BASE}/consent?as=guardian"):
        page = body(family, path)
        assert "You have answers saved on this device" in page
        assert f'href="{BASE}/chat"' in page and "Continue my answers" in page
        assert f'href="{BASE}/forget"' in page  # starting again is a separate, confirmed step
    assert "Agree and continue" in body(family, f"{BASE}/consent?as=guardian")


def test_agreeing_again_continues_the_screening_with_every_answer(app, family):
    asked = answer_three(family)
    before = stored_answers(app)
    for headers in ({}, {"X-Prescreen-Chat": "1"}):  # a plain form, then chat.js
        token, nonce = consent_form(family.client, f"{BASE}/consent?as=guardian")
        data = {"csrf_token": token, "nonce": nonce, "respondent": "guardian", "agree": "y"}
        response = family.client.post(f"{BASE}/consent", data=data, headers=headers)
        assert response.status_code in (200, 303)
        assert stored_answers(app) == before  # no new, empty screening; nothing changed
    chat = body(family, f"{BASE}/chat")
    assert chat.count('class="msg me"') == 3 and family.current()[0] not in asked


def test_the_same_browser_may_still_start_again_after_deleting(app, family):
    answer_three(family)
    family.client.post(f"{BASE}/forget", data={"csrf_token": family.current()[2]})
    assert "You have answers saved" not in body(family, f"{BASE}/start")
    family.start()
    assert len(stored_answers(app)) == 1 and 'class="msg me"' not in body(family, f"{BASE}/chat")


def test_an_answer_from_an_out_of_date_tab_is_told_and_nothing_is_lost(app, family):
    family.start()
    qid, old_step, _token = family.current()
    assert family.answer(likely_answers()[qid]).status_code == 303  # answered in one tab
    before = stored_answers(app)
    other = family.answer(born_years_ago(9), q=qid, step=old_step)  # the old tab answers differently
    assert other.status_code == 303 and other.headers["Location"].endswith(f"{BASE}/chat#current")
    page = body(family, f"{BASE}/chat")
    assert STALE in page and 'id="stale"' in page and 'id="current"' in page
    assert stored_answers(app) == before
    assert STALE not in body(family, f"{BASE}/chat")  # said once


def test_the_stale_notice_is_in_the_familys_language(app, family):
    family.start(lang="zh")
    qid, old_step, _token = family.current()
    family.answer(likely_answers()[qid])
    family.answer(born_years_ago(9), q=qid, step=old_step)
    page = body(family, f"{BASE}/chat")
    assert 'id="stale"' in page and STALE not in page


def test_a_double_tap_is_not_called_out_of_date(app, family):
    family.start()
    qid, old_step, _token = family.current()
    value = likely_answers()[qid]
    family.answer(value)
    family.answer(value, q=qid, step=old_step)  # the same tap again
    assert STALE not in body(family, f"{BASE}/chat")

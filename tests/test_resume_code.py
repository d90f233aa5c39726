"""The short continue code: 8 characters and the birth month move a screening to a new device.

A family copies the code off the resume panel (WeChat's browser), opens ``/resume`` in another
browser and types it with the child's birth month. What must hold: the answers move and the old
device sees nothing; a wrong month is refused and counted, and five kill the code; the code works
once; an expired code opens nothing; the code is in no log line, URL or database row; a wrong code
and a wrong month read the same.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.public import (
    BASE,
    answer,
    body,
    born_years_ago,
    csrf,
    dump_text,
    likely_answers,
    raw_connection,
    resume,
    rows,
    start,
    walk,
)
from tests.helpers.staff import add_user, login

DOB = born_years_ago(10)
FIRST_HEALTH_QUESTION = "Has a doctor said your child has"
REFUSED = "The code or the birth month is not right"
DEAD = "This code no longer works"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False)


def family_with_code(app: Flask) -> tuple[FlaskClient, str]:
    """A family who agreed, gave the birth month, and reads the code off the resume panel."""
    family = app.test_client()
    start(family)
    answer(family, DOB)
    match = re.search(r'<p class="code"[^>]*>([A-Z0-9 ]+)</p>', body(family, f"{BASE}/chat"))
    assert match, "no continue code on the chat page"
    return family, match.group(1)


def enter(client: FlaskClient, code: str, month: str):
    """Type the code and month at /resume (first step)."""
    token = csrf(client, "/resume")
    return client.post("/resume", data={"csrf_token": token, "step": "code", "code": code, "month": month})


def continue_with(client: FlaskClient, code: str, month: str, *, agree: bool = True):
    """Type the code and month, then agree on the page that follows."""
    first = enter(client, code, month)
    assert first.status_code == 200, first.get_data(as_text=True)[-1500:]
    page = first.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "step": "continue", "code": code, "month": month, **({"agree": "y"} if agree else {})}
    return client.post("/resume", data=data)


def refusals(app: Flask) -> dict[str, int]:
    return dict(rows(app, "SELECT reason, SUM(count) FROM resume_code_refusals GROUP BY reason"))


def test_the_code_and_month_move_the_answers_to_a_new_device(app):
    family, code = family_with_code(app)
    assert len(code.replace(" ", "")) == 8 and not set(code) & set("01IO")
    other = app.test_client()
    asked = enter(other, code.lower().replace(" ", "-"), DOB)  # typed loosely: still the code
    page = asked.get_data(as_text=True)
    assert "Continue saved answers on this device?" in page and 'name="agree"' in page
    assert FIRST_HEALTH_QUESTION not in page  # no answer before this device's own consent
    no_tick = continue_with(other, code, DOB, agree=False)
    assert no_tick.status_code == 400 and "Please tick the box" in no_tick.get_data(as_text=True)

    moved = continue_with(other, code, DOB)
    assert moved.status_code == 303 and moved.headers["Location"].endswith(f"{BASE}/chat")
    assert FIRST_HEALTH_QUESTION in body(other, f"{BASE}/chat")
    assert [k for (k,) in rows(app, "SELECT kind FROM consents")] == ["health_data", "health_data"]
    # The old device sees nothing; the new one shows a new code, and goes on to a result.
    assert family.get(f"{BASE}/chat").status_code == 303
    assert FIRST_HEALTH_QUESTION not in body(family, f"{BASE}/chat")
    assert code not in body(other, f"{BASE}/chat")
    walk(other, likely_answers())
    assert "Your child may be able to join this study" in body(other, f"{BASE}/result")


def test_the_code_works_once_and_kills_the_old_link(app):
    family, code = family_with_code(app)
    link = re.search(r'id="resume-url" value="[^"]*?(/r/[^"]+)"', body(family, f"{BASE}/chat")).group(1)
    assert continue_with(app.test_client(), code, DOB).status_code == 303
    again = enter(app.test_client(), code, DOB)
    assert again.status_code == 400 and REFUSED in again.get_data(as_text=True)
    assert app.test_client().get(link).status_code == 404  # the link moved with it


def test_the_link_kills_the_code(app):
    family, code = family_with_code(app)
    link = re.search(r'id="resume-url" value="[^"]*?(/r/[^"]+)"', body(family, f"{BASE}/chat")).group(1)
    assert resume(app.test_client(), link).status_code == 303
    assert REFUSED in enter(app.test_client(), code, DOB).get_data(as_text=True)


def test_wrong_months_are_refused_counted_and_five_kill_the_code(app):
    family, code = family_with_code(app)
    wrong = born_years_ago(9)
    for n in range(1, 5):
        response = enter(app.test_client(), code, wrong)
        assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)
        assert refusals(app) == {"wrong_month": n}
    fifth = enter(app.test_client(), code, wrong).get_data(as_text=True)
    assert DEAD in fifth and "Open the link you saved instead, or start again" in fifth
    right = enter(app.test_client(), code, DOB).get_data(as_text=True)  # dead, even with the right month
    assert DEAD in right and "Continue saved answers" not in right
    assert refusals(app) == {"wrong_month": 5, "dead": 1}
    assert "no longer works" in body(family, f"{BASE}/chat")  # the panel says so instead of the code
    assert FIRST_HEALTH_QUESTION in body(family, f"{BASE}/chat")  # the family itself keeps its answers


def test_a_wrong_code_and_a_wrong_month_read_the_same(app):
    _family, code = family_with_code(app)
    wrong_month = enter(app.test_client(), code, born_years_ago(9))
    wrong_code = enter(app.test_client(), "ABCD2345" if code != "ABCD 2345" else "ABCD2346", DOB)
    nonsense = enter(app.test_client(), "x", "not a month")
    texts = [re.sub(r'value="[^"]*"', "", r.get_data(as_text=True)) for r in (wrong_month, wrong_code, nonsense)]
    assert {r.status_code for r in (wrong_month, wrong_code, nonsense)} == {400}
    assert texts[0] == texts[1] == texts[2]  # not one character tells them apart
    assert refusals(app) == {"wrong_month": 1, "unknown": 2}


def test_an_expired_code_opens_nothing(app):
    _family, code = family_with_code(app)
    rows(app, "SELECT 1")  # the file exists
    conn = raw_connection(app)
    conn.execute("UPDATE screenings SET expires_at = '2000-01-01T00:00:00Z'")
    conn.commit()
    conn.close()
    response = enter(app.test_client(), code, DOB)
    assert response.status_code == 400 and REFUSED in response.get_data(as_text=True)
    assert refusals(app) == {"expired": 1}


def test_the_code_is_in_no_log_url_or_database_row(app, caplog):
    caplog.set_level(logging.DEBUG)
    family, code = family_with_code(app)
    plain = code.replace(" ", "")
    other = app.test_client()
    enter(other, plain, born_years_ago(9))
    response = continue_with(other, plain, DOB)
    assert response.status_code == 303 and plain not in response.headers["Location"]
    assert other.get(f"/resume?code={plain}").status_code == 200  # a GET takes nothing from the URL
    assert refusals(app) == {"wrong_month": 1}
    for record in caplog.records:
        assert plain not in record.getMessage() and DOB not in record.getMessage()
    if app.config["DATABASE"].startswith("postgresql://"):
        assert plain not in dump_text(app)
    else:
        with open(app.config["DATABASE"], "rb") as db:
            assert plain.encode() not in db.read()  # the file itself, free pages included
    assert not rows(app, "SELECT * FROM audit WHERE detail LIKE ?", f"%{plain}%")


def test_a_code_opens_nothing_before_the_birth_month_and_the_pages_link_to_resume(app):
    family = app.test_client()
    start(family)
    code = re.search(r'<p class="code"[^>]*>([A-Z0-9 ]+)</p>', body(family, f"{BASE}/chat")).group(1)
    assert REFUSED in enter(app.test_client(), code, DOB).get_data(as_text=True)
    answer(family, DOB)  # the same code, once the birth month is answered
    assert enter(app.test_client(), code, DOB).status_code == 200
    assert 'href="/resume"' in body(family, f"{BASE}/") and 'href="/resume"' in body(family, "/")
    zh = app.test_client().get("/resume?lang=zh").get_data(as_text=True)
    assert "继续码" in zh


def test_posts_are_limited_per_address(make_app):
    app = make_app(RESUME_CODE_LIMIT="3 per hour")
    client = app.test_client()
    codes = [enter(client, "ABCD2345", DOB).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_the_team_sees_refused_codes_by_reason_on_the_reports_page(app):
    _family, code = family_with_code(app)
    for _ in range(2):
        enter(app.test_client(), code, born_years_ago(9))
    enter(app.test_client(), "ABCD EFGH", DOB)
    add_user(app, "admin@pumch.example", "admin")
    team = app.test_client()
    assert login(team, "admin@pumch.example").status_code == 302
    page = team.get("/coordinator/reports?range=all", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    counted = dict(re.findall(r'<th scope="row">([^<]+)</th><td data-refused="\w+">(\d+)<', page))
    assert counted == {"出生年月不对": "2", "没有这个继续码": "1"}
    assert code.replace(" ", "") not in page.replace(" ", "")  # counts only, never the code

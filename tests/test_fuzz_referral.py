"""Fuzz the referral form and the withdraw link, and read what was stored back from SQLite.

The oracle is written from the form's published rules (ASVS 5.1): a name of at most 80
characters with no control characters (runs of spaces become one), a mobile number
``phonenumbers`` calls valid (stored as E.164), an optional e-mail ``email_validator`` accepts
(stored normalised), an optional WeChat ID of 6-20 letters, digits, _ or - starting with a letter
(or a number), one of the offered choices for the radio buttons, and the share box (plus the
guardian box for a child under 14). Valid input is stored exactly and shown escaped on the study
team's page; anything else is a 400 with a translated message and no row anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from markupsafe import escape

from tests.helpers.fuzz import (
    NASTY,
    ONE_OR_MANY,
    SCRIPT,
    TEXT,
    assert_sane,
    counts,
    csrf_of,
    finished_screening,
    form_data,
    fuzz_settings,
    mostly,
    query,
    ram_app,
    snapshot,
    translated,
    visible,
)
from tests.helpers.public import BASE, csrf

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
WECHAT = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_-]{5,19}|\+?[0-9]{6,20})$")
TABLES = ("referrals", "consents", "outbox", "audit", "screenings")
#: Every team alert seen, with its referral number masked (one text: it names no one).
ALERT_TEXTS: set[str] = set()
ADMIN = "admin@pumch.example"
PASSWORD = "宫殿 lantern 2026 correct horse"

PRINTABLE = st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=70)
ODD_NAMES = [SCRIPT, "王\u202e芳", "👩‍👧 妈妈", "Ａ𠮷", "李 \t 娜", "O'Brien & <b>Sons</b>", "ﷺ\u200f"]
NAMES = mostly(
    PRINTABLE | st.sampled_from(ODD_NAMES),
    TEXT | st.text(min_size=81, max_size=200),
)
PHONES = mostly(
    st.sampled_from(["138 1234 5678", "13800138000", "+86 139-0000-1111", "+44 7911 123456", "+1 650-253-0000"]),
    st.sampled_from(["123", "1380013800", "+999 1", "1" * 40, "１３８００１３８０００", "138\x0012345678"])
    | TEXT
    | st.from_regex(r"\+?[0-9 -]{5,20}", fullmatch=True),
)
EMAILS = mostly(
    st.sampled_from(["", "parent@example.com", "Wang.Fang@Example.CN", "  mum@example.org  ", "王芳@例子.cn"]),
    st.sampled_from(["a@", "@b.cn", "a@@b.cn", f"{SCRIPT}@x.cn", "a" * 250 + "@x.cn", "a b@c.cn", "x@\x00.cn"]) | TEXT,
)
WECHATS = mostly(
    st.just("") | st.sampled_from(["wxid_parent01", "Fang-2015", "+8613800138000", " wang_fang "]),
    st.sampled_from(["ab", "1abcdef", "wang fang", "微信号码", "a" * 41, "abc\x00def"]) | TEXT,
)


def choice(options: list[str]) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(options), ONE_OR_MANY, 9)


FIELDS = st.fixed_dictionaries(
    {
        "name": NAMES,
        "relationship": choice(["mother", "father", "guardian", "self"]),
        "phone": PHONES,
        "email": EMAILS,
        "wechat": WECHATS,
        "best_time": choice(["morning", "afternoon", "evening", "any"]),
        "language": choice(["zh", "en"]),
        "share": mostly(st.just("y"), ONE_OR_MANY, 9),
        "guardian": mostly(st.just("y"), ONE_OR_MANY, 9),
    },
    optional={"reference": TEXT, "status": TEXT, "id": TEXT, "outcome": TEXT},
)


@pytest.fixture
def app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Flask:
    return ram_app(
        make_app,
        request,
        RATELIMIT_ENABLED=False,
        STUDY_TEAM_EMAIL="team@pumch.example",
        PUBLIC_URL="https://ps.example",
    )


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    """The study team's browser, signed in to an account made with ``prescreen users create``."""
    result = app.test_cli_runner().invoke(
        args=["users", "create", ADMIN, "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"csrf_token": token, "email": ADMIN, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def expected_contact(fields: dict[str, Any], under_14: bool) -> dict[str, Any] | None:
    """What the referral row must hold for these fields, or None when the form must refuse them."""
    name = first(fields.get("name"))
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        return None
    name = " ".join("".join(ch for ch in name if unicodedata.category(ch) != "Cf").split())
    if CONTROL.search(name) or not name:  # invisible format characters are dropped; C0/C1 refused
        return None
    relationship = first(fields.get("relationship"))
    if relationship not in ("mother", "father", "guardian", "self") or (under_14 and relationship == "self"):
        return None
    phone = first(fields.get("phone"))
    if not isinstance(phone, str) or not phone.strip() or len(phone) > 32:
        return None
    try:
        number = phonenumbers.parse(phone.strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    email = first(fields.get("email")) or ""
    if email.strip():
        if len(email) > 254:
            return None
        try:
            email = validate_email(email.strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            return None
    wechat = first(fields.get("wechat")) or ""
    if wechat.strip():
        if len(wechat) > 40 or not WECHAT.match(wechat.strip()):
            return None
        wechat = wechat.strip()
    best_time, language = first(fields.get("best_time")), first(fields.get("language"))
    if best_time not in ("morning", "afternoon", "evening", "any") or language not in ("zh", "en"):
        return None
    ticked = {k: first(fields.get(k)) == "y" for k in ("share", "guardian")}
    if not ticked["share"] or (under_14 and not ticked["guardian"]):
        return None
    return {
        "guardian_name": name,
        "relationship": relationship,
        "phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        "email": email.strip() and email or None,
        "wechat": wechat.strip() and wechat or None,
        "best_time": best_time,
        "contact_locale": language,
    }


@pytest.fixture
def family(app: Flask) -> tuple[FlaskClient, str]:
    """One family's browser for all examples (each example gives it a new finished screening)."""
    client = app.test_client()
    finished_screening(app, client, 10)
    return client, csrf(client, f"{BASE}/refer")


@fuzz_settings(60)
@given(fields=FIELDS, age=st.sampled_from([10, 15]), lang=st.sampled_from(["zh", "en"]))
def test_referral_stores_exactly_what_is_valid_and_nothing_else(
    app: Flask, staff: FlaskClient, family: tuple[FlaskClient, str], fields: dict[str, Any], age: int, lang: str
) -> None:
    client, token = family
    sid = finished_screening(app, client, age)
    before = counts(app, TABLES)
    response = client.post(f"{BASE}/refer?lang={lang}", data=form_data({**fields, "csrf_token": token}))
    body = assert_sane(response, (303, 400))
    expected = expected_contact(fields, under_14=age < 14)
    if expected is None:
        event("referral: refused")
        assert response.status_code == 400, (fields, body[-1500:])
        assert counts(app, TABLES) == before
        assert translated(app, "Please check the items marked below.", lang) in visible(body)
        return
    event("referral: stored")
    assert response.status_code == 303, (fields, expected, body[-2000:])
    assert response.headers["Location"].endswith(f"{BASE}/sent")
    columns = ", ".join(expected)
    (row,) = query(app, f"SELECT id, {columns} FROM referrals WHERE screening_id = ?", sid)  # noqa: S608
    assert dict(zip(expected, row[1:], strict=True)) == expected
    after = counts(app, TABLES)
    assert after["referrals"] == before["referrals"] + 1
    assert after["consents"] == before["consents"] + (2 if age < 14 else 1)
    assert after["outbox"] == before["outbox"] + 1  # the team's alert, in the same transaction
    (alert,) = query(app, "SELECT subject || body_text FROM outbox ORDER BY id DESC LIMIT 1")
    assert expected["phone"] not in alert[0], "the alert names no one"
    # The alert is the same text for every family but the referral number in its link, so no
    # name can be in it. (Searching it for the name failed on a guardian called "detail": the
    # fixed text says "their details".)
    ALERT_TEXTS.add(re.sub(r"/referrals/\d+", "/referrals/N", alert[0]))
    assert len(ALERT_TEXTS) == 1, ALERT_TEXTS
    # a second tap of the same button stores nothing more (checklist 40)
    again = client.post(f"{BASE}/refer", data=form_data({**fields, "csrf_token": token}))
    assert again.status_code == 303 and counts(app, ["referrals"])["referrals"] == after["referrals"]
    # the family's own confirmation and the team's page show the name escaped, never as markup
    assert_sane(client.get(f"{BASE}/sent"), (200,))
    token = csrf_of(staff.get("/coordinator/").get_data(as_text=True))  # contacts show only on a POST
    page = assert_sane(staff.post(f"/coordinator/referrals/{row[0]}/contact", data={"csrf_token": token}), (200,))
    assert str(escape(expected["guardian_name"])) in page
    for value in (expected["email"], expected["wechat"]):
        if value:
            assert str(escape(value)) in page
    if sid % 20 == 0:
        assert_sane(staff.get("/coordinator/"), (200,))


@fuzz_settings(30)
@given(
    token=st.one_of(
        TEXT,
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=32, max_size=32),
    ),
    csrf_field=ONE_OR_MANY,
)
def test_withdraw_with_a_made_up_token_is_404_and_changes_nothing(app: Flask, token: str, csrf_field: Any) -> None:
    client = app.test_client()
    before = snapshot(app, TABLES)
    path = f"/withdraw/{quote(token, safe='')}"
    assert_sane(client.get(path), (404, 308))
    response = client.post(path, data=form_data({"csrf_token": csrf_field}))
    assert_sane(response, (400, 404, 405, 308))
    assert snapshot(app, TABLES) == before


def test_withdraw_needs_the_csrf_token_and_a_replay_changes_nothing_more(app: Flask) -> None:
    client = app.test_client()
    sid = finished_screening(app, client, 10)
    token = csrf(client, f"{BASE}/refer")
    fields = {"name": SCRIPT, "relationship": "mother", "phone": "138 1234 5678", "best_time": "any"}
    fields |= {"language": "zh", "share": "y", "guardian": "y", "csrf_token": token}
    assert client.post(f"{BASE}/refer", data=fields).status_code == 303
    link = re.search(r"/withdraw/[\w-]+", client.get(f"{BASE}/sent").get_data(as_text=True))
    assert link
    before = snapshot(app, TABLES)
    for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": NASTY[0]}):
        assert_sane(client.post(link.group(0), data=bad), (400,))
    assert snapshot(app, TABLES) == before
    assert client.post(link.group(0), data={"csrf_token": token}).status_code == 303
    assert query(app, "SELECT guardian_name, phone FROM referrals WHERE screening_id = ?", sid) == [(None, None)]
    audits = counts(app, ["audit"])
    assert_sane(client.post(link.group(0), data={"csrf_token": token}), (303, 200, 404))
    assert counts(app, ["audit"]) == audits, "a replayed withdrawal records nothing more"


@pytest.mark.parametrize("blank", [" ", "\u3000", "\t"])
def test_a_blank_email_or_wechat_is_stored_as_not_given(
    app: Flask, family: tuple[FlaskClient, str], blank: str
) -> None:
    client, token = family
    sid = finished_screening(app, client, 15)
    fields = {"name": "王芳", "relationship": "mother", "phone": "138 1234 5678", "best_time": "any", "language": "zh"}
    fields |= {"share": "y", "email": blank, "wechat": blank, "csrf_token": token}
    assert client.post(f"{BASE}/refer", data=fields).status_code == 303
    assert query(app, "SELECT email, wechat FROM referrals WHERE screening_id = ?", sid) == [(None, None)]

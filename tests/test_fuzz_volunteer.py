"""Fuzz the volunteer forms: sign-up, manage, unsubscribe (button and RFC 8058 one-click), reminder.

The oracle follows the forms' rules: an address ``email_validator`` accepts for plain SMTP (stored
normalised), one of the offered languages, age bands and categories (every posted category must be
offered, at least one), and the consent box. Valid posts change exactly the volunteer's row; any
other post changes no row in any volunteer or mail table and says why, in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from email_validator import EmailNotValidError, validate_email
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st

from prescreen.store import connect
from tests.helpers.fuzz import (
    ONE_OR_MANY,
    SCRIPT,
    TEXT,
    assert_sane,
    counts,
    csrf_of,
    form_data,
    fuzz_settings,
    mostly,
    new_volunteer,
    query,
    ram_app,
    snapshot,
    translated,
    visible,
)
from tests.helpers.fuzz import connect as connect_db

TABLES = (
    "volunteers",
    "volunteer_categories",
    "volunteer_tokens",
    "outbox",
    "suppressions",
    "consents",
    "mailbox_sends",
)
SHEET = Path(__file__).resolve().parents[1] / "questions" / "categories.csv"
CATEGORIES = [line.split(",", 1)[0] for line in SHEET.read_text(encoding="utf-8").splitlines()[1:] if line]
BANDS = ["", "under-5", "5-9", "10-13", "14-18", "over-18"]
MESSAGES = [
    "Enter your e-mail address.",
    "This e-mail address is too long.",
    "Enter an e-mail address like name@example.com.",
    "Choose a language.",
    "Choose from the options shown.",
    "Choose at least one kind of study.",
    "Tick the box to agree.",
]
LOCAL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._+-]{0,20}[A-Za-z0-9])?", fullmatch=True).filter(lambda s: ".." not in s)
GOOD_EMAILS = st.builds(
    lambda local, host: f"{local}@{host}", LOCAL, st.sampled_from(["example.com", "Example.CN", "mail.pumch.example"])
)
EMAILS = mostly(
    GOOD_EMAILS,
    st.sampled_from(["名字@example.com", "a@b", "a@@b.cn", f"{SCRIPT}@x.cn", "x" * 250 + "@example.com", " a@b.cn"])
    | TEXT
    | st.lists(GOOD_EMAILS, min_size=2, max_size=3),
    7,
)


def options(values: list[str]) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(values), ONE_OR_MANY, 9)


CHOICES = st.fixed_dictionaries(
    {
        "language": options(["zh", "en"]),
        "categories": mostly(
            st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4)
            | st.lists(st.sampled_from(CATEGORIES), min_size=100, max_size=600),
            st.lists(st.one_of(st.sampled_from(CATEGORIES), TEXT), max_size=5) | ONE_OR_MANY,
        ),
        "age_band": st.one_of(options(BANDS), st.none()),
    },
    optional={"status": TEXT, "email_confirmed": TEXT, "id": TEXT},
)


@pytest.fixture
def app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Flask:
    return ram_app(make_app, request, RATELIMIT_ENABLED=False, PUBLIC_URL="https://prescreen.test")


@pytest.fixture
def browser(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, csrf_of(client.get("/volunteer/").get_data(as_text=True))


def first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def expected_choices(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Language, categories and age band as stored, or None if the form must refuse them."""
    language, band = first(fields.get("language")), first(fields.get("age_band"))
    categories = [c for c in as_list(fields.get("categories"))]
    if language not in ("zh", "en") or not categories or any(c not in CATEGORIES for c in categories):
        return None
    if band is not None and band not in BANDS:
        return None
    return {"locale": language, "categories": sorted(set(categories)), "age_band": band or None}


def expected_email(value: Any) -> str | None:
    email = first(value)
    if not email or len(email) > 254:
        return None
    try:
        return validate_email(email, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError:
        return None


def volunteer_state(app: Flask, volunteer_id: int) -> dict[str, Any]:
    (row,) = query(app, "SELECT locale, age_band, status FROM volunteers WHERE id = ?", volunteer_id)
    cats = [
        c
        for (c,) in query(
            app, "SELECT category_id FROM volunteer_categories WHERE volunteer_id = ? ORDER BY 1", volunteer_id
        )
    ]
    return {"locale": row[0], "categories": cats, "age_band": row[1], "status": row[2]}


def wipe(app: Flask) -> None:
    """Start an example from empty volunteer and mail tables: comparing whole tables stays cheap.

    (Left to grow over 10,000 examples, every "nothing changed" check would read them all.)
    """
    conn = connect_db(app)
    try:
        for table in (
            "volunteer_categories",
            "volunteer_tokens",
            "volunteers",
            "outbox",
            "suppressions",
            "mailbox_sends",
        ):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 — fixed names
        conn.execute("DELETE FROM consents WHERE kind = 'recheck_reminder'")
        conn.commit()
    finally:
        conn.close()


def assert_refused(app: Flask, body: str, lang: str) -> None:
    """A form error: at least one of the forms' own messages, in the page's language."""
    page = visible(body)
    assert any(translated(app, m, lang) in page for m in MESSAGES), page[-1500:]


@fuzz_settings(20)
@given(email=EMAILS, fields=CHOICES, consent=options(["y"]), lang=st.sampled_from(["zh", "en"]))
def test_signup_stores_exactly_what_is_valid_and_nothing_else(
    app: Flask, browser: tuple[FlaskClient, str], email: Any, fields: dict[str, Any], consent: Any, lang: str
) -> None:
    client, token = browser
    wipe(app)
    before = snapshot(app, TABLES)
    address = expected_email(email)
    known = address is not None and query(app, "SELECT 1 FROM volunteers WHERE email = ?", address)
    data = form_data({**fields, "email": email, "consent": consent, "csrf_token": token})
    response = client.post(f"/volunteer/?lang={lang}", data=data)
    body = assert_sane(response, (200, 302))
    choices = expected_choices(fields)
    ticked = first(consent) == "y"
    if address is None or choices is None or not ticked:
        event("signup: refused")
        assert response.status_code == 200, (email, fields, consent)
        assert snapshot(app, TABLES) == before
        assert_refused(app, body, lang)
        return
    event("signup: accepted")
    assert response.status_code == 302 and response.headers["Location"].endswith("/volunteer/check-email")
    if known:
        return  # the same answer for a known address; test_volunteer.py checks what it sends
    (row,) = query(app, "SELECT id, email, status FROM volunteers WHERE email = ?", address)
    assert row[1:] == (address, "pending")
    state = volunteer_state(app, row[0])
    assert {k: state[k] for k in choices} == choices
    assert counts(app, ["outbox"])["outbox"] == len(before["outbox"]) + 1
    (to_addr,) = query(app, "SELECT to_addr FROM outbox ORDER BY id DESC LIMIT 1")
    assert to_addr == (address,)


@fuzz_settings(20)
@given(fields=CHOICES, lang=st.sampled_from(["zh", "en"]))
def test_manage_changes_exactly_the_valid_choices(
    app: Flask, browser: tuple[FlaskClient, str], fields: dict[str, Any], lang: str
) -> None:
    client, token = browser
    wipe(app)
    volunteer_id, link = new_volunteer(app)
    before_state = volunteer_state(app, volunteer_id)
    before = snapshot(app, ("volunteer_tokens", "outbox", "suppressions"))
    response = client.post(f"/volunteer/manage/{link}?lang={lang}", data=form_data({**fields, "csrf_token": token}))
    body = assert_sane(response, (200,))
    choices = expected_choices(fields)
    state = volunteer_state(app, volunteer_id)
    assert snapshot(app, ("volunteer_tokens", "outbox", "suppressions")) == before
    if choices is None:
        event("manage: refused")
        assert state == before_state
        assert_refused(app, body, lang)
        return
    assert {k: state[k] for k in choices} == choices and state["status"] == "confirmed"
    assert translated(app, "Saved. We will use your new choices from the next e-mail.", lang) in visible(body)


@fuzz_settings(20)
@given(
    one_click=st.one_of(
        st.just("One-Click"), ONE_OR_MANY, st.sampled_from(["one-click", "One-Click ", "One-Click\x00"])
    ),
    csrf=st.sampled_from(["valid", "missing", "forged", "other"]),
    cookies=st.booleans(),
    extra=TEXT,
)
def test_unsubscribe_only_by_one_click_or_the_protected_button(
    app: Flask, browser: tuple[FlaskClient, str], make_app: Callable[..., Flask], one_click: Any, csrf: str,
    cookies: bool, extra: str,
) -> None:  # fmt: skip
    client, token = browser
    wipe(app)
    volunteer_id, link = new_volunteer(app)
    sender = client if cookies else app.test_client()
    data: dict[str, Any] = {"List-Unsubscribe": one_click, "note": extra}
    if csrf == "valid":
        data["csrf_token"] = (
            token if cookies else csrf_of(sender.get(f"/volunteer/unsubscribe/{link}").get_data(as_text=True))
        )
    elif csrf == "forged":
        data["csrf_token"] = token[:-4] + "AAAA"
    elif csrf == "other":
        other = app.test_client()
        data["csrf_token"] = csrf_of(other.get("/volunteer/").get_data(as_text=True))
    before = volunteer_state(app, volunteer_id)
    response = sender.post(f"/volunteer/unsubscribe/{link}", data=form_data(data))
    assert_sane(response, (200, 400))
    after = volunteer_state(app, volunteer_id)
    if first(one_click) == "One-Click":
        assert response.status_code == 200 and "Location" not in response.headers
        assert after["status"] == "unsubscribed" and after["categories"] == []
    elif csrf == "valid":
        assert response.status_code == 200 and after["status"] == "unsubscribed"
    else:
        assert response.status_code == 400 and after == before


@fuzz_settings(20)
@given(
    token=TEXT,
    one_click=st.one_of(st.just("One-Click"), ONE_OR_MANY),
    page=st.sampled_from(["unsubscribe", "manage", "confirm"]),
)
def test_made_up_links_are_404_and_change_nothing(app: Flask, token: str, one_click: Any, page: str) -> None:
    wipe(app)
    new_volunteer(app)
    before = snapshot(app, TABLES)
    client = app.test_client()
    path = f"/volunteer/{page}/{quote(token, safe='')}"
    assert_sane(client.get(path), (404, 308, 405))
    assert_sane(client.post(path, data=form_data({"List-Unsubscribe": one_click})), (400, 404, 405, 308))
    assert snapshot(app, TABLES) == before


@pytest.fixture
def waiting(app: Flask, browser: tuple[FlaskClient, str]) -> int:
    """A not-eligible-until screening with a re-check date, in the browser's session."""
    from prescreen.store import screenings as screening_store

    db = connect(app.config["DATABASE"])
    try:
        sid, token = screening_store.create(
            db, study_id="pumch-pediatric-sjogren", version="v", locale="zh", respondent="guardian",
            consent_version="t", resume_days=30,
        )  # fmt: skip
        outcome = {"status": "not_eligible", "criteria": {}, "failed": [], "recheck_after": "2027-03-01"}
        screening_store.save_step(
            db, sid, 0, answers={}, version="v", locale="zh", outcome=outcome, notice=None, resume_days=30
        )
    finally:
        db.close()
    with browser[0].session_transaction() as session:
        session["screening"] = token
    return sid


@fuzz_settings(20)
@given(email=EMAILS, consent=options(["y"]), extra=TEXT, lang=st.sampled_from(["zh", "en"]))
def test_reminder_queues_one_mail_to_exactly_the_valid_address(
    app: Flask, browser: tuple[FlaskClient, str], waiting: int, email: Any, consent: Any, extra: str, lang: str
) -> None:
    client, token = browser
    wipe(app)
    before = snapshot(app, TABLES)
    response = client.post(
        f"/volunteer/reminder?lang={lang}",
        data=form_data({"email": email, "consent": consent, "csrf_token": token, "study_id": extra}),
    )
    body = assert_sane(response, (200,))
    address = expected_email(email)
    if address is None or first(consent) != "y":
        event("reminder: refused")
        assert snapshot(app, TABLES) == before
        page = visible(body)
        assert any(translated(app, m, lang) in page for m in MESSAGES), page[-1500:]
        return
    event("reminder: queued")
    rows = query(app, "SELECT to_addr, status FROM outbox WHERE idempotency_key = ?", f"recheck-reminder:{waiting}")
    assert rows == [(address, "pending")], "one reminder, to the last address given"
    assert counts(app, ["consents"])["consents"] == len(before["consents"]) + 1
    assert counts(app, ["volunteers"])["volunteers"] == len(before["volunteers"])

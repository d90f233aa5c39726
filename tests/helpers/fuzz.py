"""Shared pieces of the form fuzzers (tests/test_fuzz_*.py): strategies, settings, DB snapshots.

A bored teenager can paste anything into a form, and a script can post what no form offers. The
fuzzers post through the real Flask test client into a real SQLite file and check three things:
never a 500 or a traceback, nothing stored for invalid input, and valid input stored exactly and
shown escaped. ``HYPOTHESIS_PROFILE=fuzz`` (``make fuzz``) runs 10,000 examples per property;
the default keeps ``make test`` fast (a few dozen per property).
"""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from prescreen import studies as study_registry
from prescreen import tokens
from prescreen.engine import Flow
from prescreen.store import connect as store_connect
from prescreen.store import screenings as screening_store
from prescreen.store import volunteers
from tests.helpers.public import STUDY, born_years_ago, likely_answers, raw_connection

#: ``make fuzz`` sets HYPOTHESIS_PROFILE=fuzz: the long run (>= 10,000 examples per property).
LONG_RUN = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
FUZZ_EXAMPLES = 10_000
CSRF_RE = re.compile(r'name="([a-z]*-?csrf_token)"[^>]*value="([^"]+)"')
SCRIPT = "<script>alert(1)</script>"
#: Inputs people (and scripts) really send: markup, bidi overrides, controls, emoji, CJK, SQL.
NASTY = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "王\u202e芳",
    "\u202eabc\u202c",
    "\u200f\u200e\u061c",
    "👩‍👧 妈妈",
    "Ａ𠮷",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\r\n",
    "\ufeff",
    "' OR 1=1 --",
    "{{ 7*7 }}",
    "%s%n%x",
    "../../etc/passwd",
    "null",
    "[]",
    "{}",
    "0",
    "-1",
    "1e309",
    "NaN",
    "",
    " ",
    "\u3000",
    "𝕏\U0010ffff",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Lo", "So", "Cf", "Mn"]), max_size=20),
    st.text(alphabet=st.characters(categories=["Cc"]), min_size=1, max_size=5),
    st.builds(lambda a, b: a + SCRIPT + b, st.text(max_size=5), st.text(max_size=5)),
)
#: A value where a form expects one string: a string, several strings, or nothing at all.
ONE_OR_MANY = st.one_of(TEXT, st.lists(TEXT, max_size=4), st.none())


def ram_app(make_app: Callable[..., Flask], request: pytest.FixtureRequest, **overrides: Any) -> Flask:
    """``make_app(**overrides)`` with the SQLite file in RAM (/dev/shm) when there is one.

    Still the real SQLite engine, schema and store; only fsync (synchronous=FULL) becomes free,
    which was most of an example's cost. Durability has its own tests (test_faults.py).
    """
    shm = "/dev/shm"  # noqa: S108 — a private mkdtemp folder inside it, removed after the test
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="prescreen-fuzz-", dir=base))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    overrides.setdefault("DATABASE", str(folder / "prescreen.sqlite3"))
    overrides.setdefault("INSTANCE_PATH", str(folder / "instance"))
    overrides.setdefault("RATELIMIT_ENABLED", False)
    return make_app(**overrides)


def mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any], tenths: int = 8) -> st.SearchStrategy[Any]:
    """*valid* about tenths/10 of the time, else *invalid*: so whole forms are often valid too.

    (``st.one_of`` alone leans to whichever branch is simplest, which left most examples refused.)
    """
    return st.integers(0, 9).flatmap(lambda i: valid if i < tenths else invalid)


def fuzz_settings(examples: int) -> settings:
    """*examples* in ``make test``; 10,000 under ``make fuzz``. One app per test, reused by examples."""
    return settings(
        max_examples=FUZZ_EXAMPLES if LONG_RUN else examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def form_data(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` (a missing field); lists stay lists (the same name posted several times)."""
    return {k: v for k, v in fields.items() if v is not None}


def body_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def assert_sane(response: TestResponse, allowed: Iterable[int] | None = None) -> str:
    """Never a 500, a traceback, a debugger or our own raw markup; returns the body."""
    body = body_of(response)
    assert response.status_code != 500, body[-2000:]
    if allowed is not None:
        assert response.status_code in allowed, (response.status_code, body[-2000:])
    assert "Traceback" not in body and "Werkzeug Debugger" not in body, body[-2000:]
    assert "<script>alert" not in body, "user input rendered unescaped"
    assert "<img src=x" not in body, "user input rendered unescaped"
    return body


def visible(body: str) -> str:
    """The page's text as a reader sees it (entities decoded), to look for messages."""
    return html.unescape(body)


@cache
def _translated(app_id: int, app: Flask, msgid: str, lang: str) -> str:
    with app.test_request_context("/"), force_locale(lang):
        return str(gettext(msgid))


def translated(app: Flask, msgid: str, lang: str) -> str:
    """*msgid* in *lang*, through the app's own catalogues (zh must differ from the English)."""
    text = _translated(id(app), app, msgid, lang)
    if lang == "zh":
        assert text != msgid, f"no zh translation for {msgid!r}"
    return text


def connect(app: Flask) -> sqlite3.Connection:
    return raw_connection(app)


def counts(app: Flask, tables: Iterable[str]) -> dict[str, int]:
    """Row counts of *tables* in the app's real SQLite file."""
    conn = connect(app)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 — fixed names
    finally:
        conn.close()


def query(app: Flask, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = connect(app)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


#: Bookkeeping left out of "nothing stored": rendering any page (even a 400 or 413 error page)
#: loads the signed-in staff member, and that moves their session's idle clock on at most once a
#: minute (prescreen.store.sessions). It holds no input; a cross-site forgery cannot move it,
#: because the SameSite=Lax staff cookie is not sent with a cross-site POST.
COLUMNS = {"staff_sessions": "id_hash, user_id, created_at"}


def snapshot(app: Flask, tables: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of *tables*: "nothing stored" means nothing changed, not only the counts."""
    conn = connect(app)
    try:
        return {
            t: conn.execute(f"SELECT {COLUMNS.get(t, '*')} FROM {t} ORDER BY rowid").fetchall()  # noqa: S608
            for t in tables
        }
    finally:
        conn.close()


ALL_TABLES = (
    "screenings",
    "consents",
    "referrals",
    "contact_attempts",
    "notes",
    "users",
    "audit",
    "outbox",
    "staff_sessions",
    "screening_log",
    "volunteers",
    "volunteer_categories",
    "volunteer_tokens",
    "suppressions",
)


def csrf_of(body: str, name: str = "csrf_token") -> str:
    """The CSRF token named *name* in a page's form."""
    for field, value in CSRF_RE.findall(body):
        if field == name:
            return value
    raise AssertionError(f"no {name} in the page")


def finished_screening(app: Flask, client: FlaskClient, age: int) -> int:
    """A completed *likely eligible* screening of a child of *age*, put in *client*'s session."""
    study = study_registry.of(app).studies[STUDY]
    answers = {**likely_answers(), "dob": born_years_ago(age)}
    state = Flow(study).run(answers, respondent="guardian", today=date.today())
    assert state.outcome is not None and state.outcome.status == "likely_eligible"
    stored = {q: sorted(v) if isinstance(v, list) else v for q, v in answers.items() if q in state.asked}
    outcome = {"status": "likely_eligible", "criteria": state.outcome.criteria, "failed": [], "recheck_after": None}
    db = store_connect(app.config["DATABASE"])
    try:
        sid, token = screening_store.create(
            db, study_id=study.id, version=study.version, locale="zh", respondent="guardian", consent_version="t",
            resume_days=30,
        )  # fmt: skip
        screening_store.save_step(
            db, sid, 0, answers=stored, version=study.version, locale="zh", outcome=outcome, notice=None, resume_days=30
        )
    finally:
        db.close()
    with client.session_transaction() as session:
        session["screening"] = token
    return sid


def new_volunteer(app: Flask) -> tuple[int, str]:
    """A confirmed volunteer with a manage link, made through the store as the pages do."""
    db = store_connect(app.config["DATABASE"])
    try:
        volunteer_id, _ = volunteers.sign_up(
            db,
            email=f"v{secrets.token_hex(8)}@example.com",
            locale="zh",
            categories=["sjogren"],
            age_band="10-13",
            consent_version="t",
            consent_locale="zh",
        )
        volunteers.confirm(db, volunteer_id)
        token = tokens.new_token()
        volunteers.add_token(db, volunteer_id, "manage", token)
    finally:
        db.close()
    return volunteer_id, token

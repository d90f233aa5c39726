"""Walk the real study through the Flask test client, the way a family's browser would (JS off)."""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from prescreen.store import pg
from tests.helpers.study import ELIGIBLE

STUDY = "pumch-pediatric-sjogren"
BASE = f"/s/{STUDY}"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ASK_RE = re.compile(
    r'<form method="post" action="[^"]*/answer" class="ask".*?name="step" value="(\d+)">'
    r'<input type="hidden" name="q" value="([^"]+)">',
    re.S,
)


def months_ago(n: int, today: date | None = None) -> str:
    """``YYYY-MM`` of *n* months before today (Beijing dates are within a day of this)."""
    day = today or date.today()
    ordinal = day.year * 12 + day.month - 1 - n
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


def born_years_ago(years: int) -> str:
    """A birth month making the child *years* old (plus a few months) today."""
    return months_ago(years * 12 + 3)


def likely_answers() -> dict[str, Any]:
    """A 10-year-old whose answers rule nothing out: *likely eligible*."""
    return {**ELIGIBLE, "dob": born_years_ago(10), "consent_teen": "yes_parent", "markers": ["igg_high"]}


def review_answers() -> dict[str, Any]:
    """Nothing fails but nobody knows about tuberculosis: *needs review*."""
    return {**likely_answers(), "tb": "not_sure"}


def waiting_answers() -> dict[str, Any]:
    """Rituximab two months ago: *not eligible* until 6 months have passed (a re-check date)."""
    return {**likely_answers(), "rituximab": "yes", "rituximab_last": months_ago(2)}


def csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on *path*."""
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no form on {path}"
    return match.group(1)


def consent_form(client: FlaskClient, path: str) -> tuple[str, str]:
    """The CSRF token and the one-time nonce of the consent form on *path*."""
    body = client.get(path).get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', body)
    assert nonce, "no consent form"
    return CSRF_RE.search(body).group(1), nonce.group(1)


def start(client: FlaskClient, respondent: str = "guardian", lang: str = "en") -> None:
    """Choose who is filling in and agree to the consent (both plain GET/POST)."""
    token, nonce = consent_form(client, f"{BASE}/consent?as={respondent}&lang={lang}")
    data = {"csrf_token": token, "nonce": nonce, "respondent": respondent, "agree": "y"}
    response = client.post(f"{BASE}/consent", data=data)
    assert response.status_code == 303, response.status_code
    assert response.headers["Location"].endswith(f"{BASE}/chat")


def resume(client: FlaskClient, path: str, *, agree: bool = True):
    """Open a resume link (*path*: ``/r/<token>``) and continue on this browser, agreeing as asked."""
    token = csrf(client, path)
    return client.post(path, data={"csrf_token": token, **({"agree": "y"} if agree else {})})


def current(client: FlaskClient) -> tuple[str, str, str] | None:
    """``(question id, step, csrf)`` of the question on the chat page, or None at the result."""
    page = client.get(f"{BASE}/chat")
    if page.status_code == 303:
        return None
    body = page.get_data(as_text=True)
    match = ASK_RE.search(body)
    assert match, body[-2000:]
    return html.unescape(match.group(2)), match.group(1), CSRF_RE.search(body).group(1)


def answer(client: FlaskClient, value: Any, *, q: str | None = None, step: str | None = None, **extra: Any):
    """Post *value* for the current question (or the given one); returns the response."""
    qid, cur_step, token = current(client) or ("", "0", csrf(client, f"{BASE}/result"))
    data: dict[str, Any] = {"csrf_token": token, "step": step or cur_step, "q": q or qid, "value": value}
    data.update(extra)
    return client.post(f"{BASE}/answer", data=data)


def walk(client: FlaskClient, answers: dict[str, Any], limit: int = 60) -> list[str]:
    """Answer every question asked from *answers* until the result; returns the ids asked."""
    asked = []
    for _ in range(limit):
        now = current(client)
        if now is None:
            return asked
        qid = now[0]
        asked.append(qid)
        response = answer(client, answers[qid])
        assert response.status_code == 303, (qid, response.status_code, response.get_data(as_text=True)[-1500:])
    raise AssertionError("the walk did not end")


def expect_date(days: int = 0) -> date:
    return date.today() + timedelta(days=days)


class Family:
    """One family's browser (a test client) on the real study: ``family.start()``, ``.answer()``, ``.walk()``.

    The ``family`` fixture hands one out on the test's ``client``; the functions above do the work,
    so a test can mix the two.
    """

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def start(self, respondent: str = "guardian", lang: str = "en") -> None:
        """Choose who fills in and agree to the consent."""
        start(self.client, respondent, lang)

    def current(self) -> tuple[str, str, str] | None:
        """``(question id, step, csrf)`` of the question asked now, or None at the result."""
        return current(self.client)

    def answer(self, value: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        """Post *value* for the current question; returns the response."""
        return answer(self.client, value, **kwargs)

    def walk(self, answers: dict[str, Any]) -> list[str]:
        """Answer every question from *answers* until the result; returns the ids asked."""
        return walk(self.client, answers)

    def result(self) -> str:
        """The result page's text."""
        return self.client.get(f"{BASE}/result").get_data(as_text=True)


#: What a parent of a 10-year-old types on the referral form (each test changes what it needs).
REFERRAL_FORM: dict[str, str] = {
    "name": "王芳",
    "relationship": "mother",
    "phone": "138 1234 5678",
    "email": "",
    "wechat": "",
    "best_time": "evening",
    "language": "zh",
    "share": "y",
    "guardian": "y",  # the child is 10: a parent confirms (PIPL art. 31)
}


def referral_form(**changes: str) -> dict[str, str]:
    """A copy of :data:`REFERRAL_FORM` with *changes* (a fresh dict, safe to alter)."""
    return {**REFERRAL_FORM, **changes}


def raw_connection(app: Flask, *, autocommit: bool = False) -> Any:
    """A connection of the test's own to the app's database: SQLite's own driver on a file, or a
    PostgreSQL connection (always autocommit) speaking the store's SQL. Both have execute/commit/close."""
    target = app.config["DATABASE"]
    if pg.is_postgres(target):
        return pg.connect(target)
    return sqlite3.connect(target, isolation_level=None) if autocommit else sqlite3.connect(target)


def table_names(conn: Any) -> list[str]:
    """The tables of the database *conn* is connected to (either engine)."""
    if isinstance(conn, sqlite3.Connection):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    return [row[0] for row in conn.execute(sql).fetchall()]


def dump_text(app: Flask) -> str:
    """Every value the app's database holds, as text (SQLite's dump; every row of every table on PostgreSQL)."""
    conn = raw_connection(app)
    try:
        if isinstance(conn, sqlite3.Connection):
            return "\n".join(conn.iterdump())
        every = [conn.execute(f'SELECT "{t}"::text FROM "{t}"').fetchall() for t in table_names(conn)]  # noqa: S608
        return "\n".join(str(row[0]) for table in every for row in table)
    finally:
        conn.close()


def column_names(conn: Any, table: str) -> list[str]:
    """The columns of *table*, in order (either engine)."""
    if isinstance(conn, sqlite3.Connection):
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position"
    return [row[0] for row in conn.execute(sql, [table]).fetchall()]


def rows(app: Flask, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """What the app's real database holds, read on a connection of the test's own."""
    conn = raw_connection(app)
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def body(client: FlaskClient, path: str) -> str:
    """The page at *path* after any redirects, as HTML text."""
    return client.get(path, follow_redirects=True).get_data(as_text=True)

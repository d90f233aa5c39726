"""Test helpers for the coordinator pages: real study, real engine, real schema, real logins.

Screenings are walked through the real engine on the real Sjögren's study; the rows are written
with sqlite-utils into the real schema (so a test can place a referral in the past), exactly as
the chat area stores them: answers as option ids, the outcome's criteria and failed ids as JSON.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from prescreen import studies as study_registry
from prescreen.auth import passwords
from prescreen.engine import Flow
from prescreen.store import connect, insert, users
from tests.helpers.study import ELIGIBLE

STUDY_ID = "pumch-pediatric-sjogren"
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="([a-z]*-?csrf_token)"[^>]*value="([^"]+)"')

#: A 11-year-old with everything in order: likely eligible.
LIKELY = {**ELIGIBLE, "markers": ["igg_high"], "ss_tests": ["antibodies"], "ss_results": ["antibodies"]}
#: The same child, but a parent is not sure about hepatitis B: needs review.
REVIEW = {**LIKELY, "hbv": "cab_only"}
#: Belimumab before: not eligible (the form ends there).
NOT_ELIGIBLE = {**LIKELY, "biologics": ["belimumab"]}


def count_rows(db, table: str) -> int:  # type: ignore[no-untyped-def]
    """How many rows *table* holds (plain SQL: the same on SQLite and PostgreSQL)."""
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 — our table names


def db_of(app: Flask):  # type: ignore[no-untyped-def]
    """A fresh connection to the app's database (closed by the caller or at exit)."""
    return connect(app.config["DATABASE"])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add_screening(
    app: Flask,
    answers: dict[str, Any] | None = None,
    *,
    locale: str = "zh",
    respondent: str = "guardian",
    at: datetime | None = None,
    complete: bool = True,
    study_id: str = STUDY_ID,
    source_id: int | None = None,
) -> dict[str, Any]:
    """Walk *answers* through the real engine and store the screening; returns the row."""
    study = study_registry.of(app).studies[STUDY_ID]
    at = at or datetime.now(UTC)
    answers = dict(LIKELY if answers is None else answers)
    state = Flow(study).run(answers, respondent=respondent, today=at.date())
    used = {q: answers[q] for q in state.asked}
    outcome = state.outcome if complete else None
    row = {
        "token_hash": secrets.token_hex(32),
        "study_id": study_id,
        "version": study.version,
        "locale": locale,
        "respondent": respondent,
        "answers": json.dumps(used, ensure_ascii=False),
        "status": "completed" if outcome else "in_progress",
        "outcome": outcome.status if outcome else None,
        "criteria": json.dumps(outcome.criteria) if outcome else None,
        "failed": json.dumps(outcome.failed) if outcome else None,
        "step": len(used),
        "created_at": iso(at),
        "updated_at": iso(at),
        "completed_at": iso(at) if outcome else None,
        "source_id": source_id,
    }
    db = db_of(app)
    try:
        # The next id as the app gives it (screenings always get theirs explicitly: ids are never reused).
        row["id"] = int(db.execute("SELECT COALESCE(max(id), 0) + 1 FROM screenings").fetchone()[0])
        insert(db, "screenings", row)
    finally:
        db.close()
    return row


def add_referral(
    app: Flask,
    answers: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    locale: str = "zh",
    study_id: str = STUDY_ID,
    name: str = "王小明家长",
    phone: str = "+8613800138000",
    email: str = "parent@example.cn",
    wechat: str = "wxid_parent01",
    reference: str | None = None,
    source_id: int | None = None,
) -> dict[str, Any]:
    """A referred family: a completed screening plus its referral row (status ``new``)."""
    at = at or datetime.now(UTC)
    screening = add_screening(app, answers, locale=locale, at=at, study_id=study_id, source_id=source_id)
    age = Flow(study_registry.of(app).studies[STUDY_ID]).age(json.loads(screening["answers"]), date.today())
    band = "5-9" if age is not None and age < 10 else "10-13" if age is not None and age < 14 else "14-18"
    row = {
        "screening_id": screening["id"],
        "study_id": study_id,
        "reference": reference or "PS-" + secrets.token_hex(3).upper(),
        "withdraw_token_hash": secrets.token_hex(32),
        "guardian_name": name,
        "phone": phone,
        "email": email,
        "wechat": wechat,
        "best_time": "工作日晚上 evenings",
        "contact_locale": locale,
        "status": "new",
        "outcome": screening["outcome"],
        "age_band": band,
        "created_at": iso(at),
        "updated_at": iso(at),
    }
    db = db_of(app)
    try:
        row["id"] = insert(db, "referrals", row)
    finally:
        db.close()
    row["screening"] = screening
    return row


def add_user(app: Flask, email: str = "coord@pumch.example", role: str = "coordinator", studies=()) -> int:  # type: ignore[no-untyped-def]
    """An account with :data:`PASSWORD` (through the store, as the CLI does)."""
    db = db_of(app)
    try:
        return users.create(db, email, passwords.hash_password(PASSWORD), role, list(studies), "test")
    finally:
        db.close()


def csrf(client: FlaskClient, path: str, prefix: str = "") -> str:
    """The CSRF token of the form on *path* (``prefix`` picks e.g. ``status-csrf_token``)."""
    html = client.get(path).get_data(as_text=True)
    for name, value in CSRF_RE.findall(html):
        if name == f"{prefix}csrf_token":
            return value
    raise AssertionError(f"no {prefix}csrf_token on {path}")


def login(client: FlaskClient, email: str = "coord@pumch.example", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Sign in through the real form (CSRF and all)."""
    token = csrf(client, "/staff/login")
    return client.post("/staff/login", data={"csrf_token": token, "email": email, "password": password})


def days_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)


def show_contacts(client: FlaskClient, referral_id: int):  # type: ignore[no-untyped-def]
    """Press "Show contact details" on a family's page: a POST with the page's CSRF token."""
    page = f"/coordinator/referrals/{referral_id}"
    return client.post(f"{page}/contact", data={"csrf_token": csrf(client, page)})


def download(client: FlaskClient, path: str, form_page: str = "/coordinator/log", **fields: str):  # type: ignore[no-untyped-def]
    """Press an export button: a POST to *path* with the CSRF token of *form_page* (and *fields*)."""
    return client.post(path, data={"csrf_token": csrf(client, form_page), **fields})


class Staff:
    """The study team of one test app: create accounts, sign a client in and out through the real forms.

    The ``staff`` fixture hands one out: ``staff.add(role="admin")``, ``staff.login(client)``,
    ``staff.logout(client)``. Every account has :data:`PASSWORD`.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def add(self, email: str = "coord@pumch.example", role: str = "coordinator", studies=()) -> int:  # type: ignore[no-untyped-def]
        """Create an account (as ``prescreen users add`` does); returns its id."""
        return add_user(self.app, email, role, studies)

    def login(self, client: FlaskClient, email: str = "coord@pumch.example", password: str = PASSWORD):  # type: ignore[no-untyped-def]
        """Sign *client* in through the login form; returns the response (a redirect on success)."""
        return login(client, email, password)

    def logout(self, client: FlaskClient):  # type: ignore[no-untyped-def]
        """Press "Sign out" (a POST with the coordinator page's CSRF token)."""
        return client.post("/staff/logout", data={"csrf_token": csrf(client, "/coordinator/")})

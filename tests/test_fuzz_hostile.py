"""Every form a user can post, attacked: missing, forged or other-session CSRF tokens, huge bodies.

Checklist 12: a POST without a CSRF token, or with a token from another session (or signed with
another key), gets 400 and writes nothing. A body over MAX_CONTENT_LENGTH (64 KB) gets 413 and
writes nothing. Either way the page is our own calm error page, in the visitor's language, never a
traceback. "Writes nothing" is checked on every table of the real SQLite file, row by row.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from prescreen import studies as study_registry
from prescreen.store import connect
from prescreen.store import screenings as screening_store
from tests.helpers.fuzz import (
    ALL_TABLES,
    NASTY,
    TEXT,
    assert_sane,
    csrf_of,
    finished_screening,
    fuzz_settings,
    new_volunteer,
    ram_app,
    snapshot,
    translated,
    visible,
)
from tests.helpers.public import BASE, STUDY, born_years_ago, likely_answers
from tests.helpers.staff import add_referral
from tests.test_fuzz_staff import PASSWORD


class Site:
    """One family, one volunteer and one signed-in coordinator, and the forms each of them posts."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.family = app.test_client()
        finished_screening(app, self.family, 10)
        self.family_token = csrf_of(self.family.get(f"{BASE}/refer").get_data(as_text=True))
        self.referral = add_referral(app)
        _, self.manage = new_volunteer(app)
        email = "admin@pumch.example"
        result = app.test_cli_runner().invoke(
            args=["users", "create", email, "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
        )
        assert result.exit_code == 0, result.output
        self.staff = app.test_client()
        token = csrf_of(self.staff.get("/staff/login").get_data(as_text=True))
        login = {"csrf_token": token, "email": email, "password": PASSWORD}
        assert self.staff.post("/staff/login", data=login).status_code == 302
        page = self.staff.get(f"/coordinator/referrals/{self.referral['id']}").get_data(as_text=True)
        self.staff_token = csrf_of(page, "note-csrf_token")
        self.stranger = app.test_client()
        self.stranger_token = csrf_of(self.stranger.get("/volunteer/").get_data(as_text=True))
        self.handed_off = self._handed_off()
        self.handed_off_token = csrf_of(self.handed_off.get(f"{BASE}/handoff").get_data(as_text=True))

    def _handed_off(self) -> FlaskClient:
        """A browser whose patient (under 14) was asked to fetch a parent."""
        client = self.app.test_client()
        study = study_registry.of(self.app).studies[STUDY]
        db = connect(self.app.config["DATABASE"])
        try:
            sid, token = screening_store.create(
                db, study_id=study.id, version=study.version, locale="zh", respondent="patient",
                consent_version="t", resume_days=30,
            )  # fmt: skip
            screening_store.hand_off(db, sid, 0)
        finally:
            db.close()
        with client.session_transaction() as session:
            session["screening"] = token
        return client

    def forms(self) -> dict[str, tuple[str, str, dict[str, Any], str]]:
        """name -> (who, path, fields that would be accepted with a valid token, CSRF field name)."""
        rid = self.referral["id"]
        good = {**likely_answers(), "dob": born_years_ago(10)}
        return {
            "consent": ("family", f"{BASE}/consent", {"respondent": "guardian", "agree": "y"}, "csrf_token"),
            "answer": ("family", f"{BASE}/answer", {"step": "1", "q": "tb", "value": good["tb"]}, "csrf_token"),
            "change": ("family", f"{BASE}/change", {"step": "1", "q": "dob"}, "csrf_token"),
            "forget": ("family", f"{BASE}/forget", {}, "csrf_token"),
            "handoff": ("handed_off", f"{BASE}/handoff", {"agree": "y"}, "csrf_token"),
            "refer": (
                "family",
                f"{BASE}/refer",
                {
                    "name": "王芳",
                    "relationship": "mother",
                    "phone": "138 1234 5678",
                    "best_time": "any",
                    "language": "zh",
                    "share": "y",
                    "guardian": "y",
                },
                "csrf_token",
            ),  # fmt: skip
            "signup": (
                "stranger",
                "/volunteer/",
                {"email": "new@example.com", "language": "zh", "categories": ["sjogren"], "consent": "y"},
                "csrf_token",
            ),
            "manage": (
                "stranger",
                f"/volunteer/manage/{self.manage}",
                {"language": "en", "categories": ["lupus"]},
                "csrf_token",
            ),
            "unsubscribe": ("stranger", f"/volunteer/unsubscribe/{self.manage}", {}, "csrf_token"),
            "reminder": ("family", "/volunteer/reminder", {"email": "a@example.com", "consent": "y"}, "csrf_token"),
            "login": ("stranger", "/staff/login", {"email": "admin@pumch.example", "password": PASSWORD}, "csrf_token"),
            "note": ("staff", f"/coordinator/referrals/{rid}/notes", {"note-body": "请回电"}, "note-csrf_token"),
            "attempt": (
                "staff",
                f"/coordinator/referrals/{rid}/attempts",
                {"attempt-channel": "phone", "attempt-result": "no_answer"},
                "attempt-csrf_token",
            ),
            "status": (
                "staff",
                f"/coordinator/referrals/{rid}/status",
                {"status-status": "not_interested"},
                "status-csrf_token",
            ),
            "logout": ("staff", "/staff/logout", {}, "csrf_token"),
        }

    def client(self, who: str) -> FlaskClient:
        return getattr(self, who)

    def own_token(self, who: str) -> str:
        return {"staff": self.staff_token, "stranger": self.stranger_token, "handed_off": self.handed_off_token}.get(
            who, self.family_token
        )


@pytest.fixture
def site(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Site:
    app = ram_app(
        make_app,
        request,
        RATELIMIT_ENABLED=False,
        STUDY_TEAM_EMAIL="team@pumch.example",
        PUBLIC_URL="https://ps.example",
    )
    return Site(app)


def forged(site: Site, who: str, how: str, garbage: str) -> str | None:
    """A CSRF value that must not pass: absent, empty, junk, another session's, or signed elsewhere."""
    if how == "missing":
        return None
    if how == "empty":
        return ""
    if how == "garbage":
        return garbage
    if how == "other session":
        others = [w for w in ("family", "stranger", "staff", "handed_off") if w != who]
        return site.own_token(others[len(garbage) % len(others)])
    if how == "truncated":
        return site.own_token(who)[:-3]
    with site.client(who).session_transaction() as session:
        raw = session.get("csrf_token", "x" * 40)
    return URLSafeTimedSerializer("not-our-secret", salt="wtf-csrf-token").dumps(raw)


FORM_NAMES = [
    "consent", "answer", "change", "forget", "handoff", "refer", "signup", "manage", "unsubscribe", "reminder",
    "login", "note", "attempt", "status", "logout",
]  # fmt: skip


@fuzz_settings(60)
@given(
    name=st.sampled_from(FORM_NAMES),
    how=st.sampled_from(["missing", "empty", "garbage", "other session", "truncated", "other key"]),
    garbage=TEXT,
    lang=st.sampled_from(["zh", "en"]),
)
def test_a_post_without_its_own_sessions_csrf_token_is_400_and_writes_nothing(
    site: Site, name: str, how: str, garbage: str, lang: str
) -> None:
    who, path, fields, field = site.forms()[name]
    data = {**fields}
    value = forged(site, who, how, garbage)
    if value is not None:
        data[field] = value
    before = snapshot(site.app, ALL_TABLES)
    response = site.client(who).post(f"{path}?lang={lang}", data=data)
    body = assert_sane(response, (400,))
    event(f"refused: {how}")
    assert snapshot(site.app, ALL_TABLES) == before
    assert translated(site.app, "Something was not right with that request", lang) in visible(body)


@fuzz_settings(40)
@given(
    name=st.sampled_from(FORM_NAMES),
    filler=st.sampled_from(NASTY[:8] + ["x", "王", "👩‍👧"]),
    size=st.integers(66 * 1024, 140 * 1024),
    lang=st.sampled_from(["zh", "en"]),
)
def test_a_body_over_the_limit_is_413_and_writes_nothing(
    site: Site, name: str, filler: str, size: int, lang: str
) -> None:
    who, path, fields, field = site.forms()[name]
    big = (filler * (size // max(1, len(filler.encode())) + 1))[: size // 2]
    target = next((k for k in fields if k not in ("step",)), "pad")
    data = {**fields, field: site.own_token(who), target: big + big}
    before = snapshot(site.app, ALL_TABLES)
    response = site.client(who).post(f"{path}?lang={lang}", data=data)
    body = assert_sane(response, (413,))
    assert snapshot(site.app, ALL_TABLES) == before
    assert translated(site.app, "That was too much to send at once", lang) in visible(body)


def test_every_listed_form_accepts_its_own_token(site: Site) -> None:
    """The 400s above are the token's doing: with the session's own token no form answers 400."""
    for name in FORM_NAMES:
        who, path, fields, field = site.forms()[name]
        if name == "logout":
            continue  # would end the session the other forms need; test_auth.py covers it
        response = site.client(who).post(path, data={**fields, field: site.own_token(who)})
        assert_sane(response)
        assert response.status_code != 400 or name in ("answer", "handoff"), (name, response.status_code)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
#: Forms with no required field (a bare valid POST acts): not for the "nothing stored" checks below.
ACTS_WHEN_EMPTY = {"forget", "unsubscribe", "logout"}
#: Forms fed from request.form only (prescreen.web.forms.TextForm, or views reading request.form).
TEXT_ONLY = [n for n in FORM_NAMES if n not in ACTS_WHEN_EMPTY]


def post_odd_body(site: Site, name: str, how: str, values: Any) -> Any:
    """POST *name* with the session's own token but a JSON body, or a file in its first field."""
    who, path, fields, field = site.forms()[name]
    token = site.own_token(who)
    if how == "json":
        body = {k: values for k in fields} if not isinstance(values, list) else values
        return site.client(who).post(path, json=body, headers={"X-CSRFToken": token})
    target = next(iter(fields))
    data = {**fields, field: token, target: (io.BytesIO(str(values).encode()), "answers.txt")}
    return site.client(who).post(path, data=data, content_type="multipart/form-data")


@fuzz_settings(40)
@given(name=st.sampled_from(TEXT_ONLY), how=st.sampled_from(["json", "file"]), values=JSON)
def test_json_bodies_and_uploaded_files_are_never_a_500_and_store_nothing(
    site: Site, name: str, how: str, values: Any
) -> None:
    before = snapshot(site.app, ALL_TABLES)
    response = post_odd_body(site, name, how, values)
    assert_sane(response, (200, 302, 303, 400, 401))
    assert snapshot(site.app, ALL_TABLES) == before


#: Found by this file: a JSON number or an uploaded file in a text field crashed the referral,
#: sign-in and note forms (500) or ticked the guardian's box; fixed in 1627b4f (TextForm). A form
#: that regresses shows up here by name.
KNOWN_BAD: set[str] = set()


def test_each_form_survives_a_json_number_or_an_uploaded_file(site: Site) -> None:
    site.app.testing = False  # a crash must show as the 500 a family would get, not as a test error
    bad = set()
    for name in FORM_NAMES:
        if name in ACTS_WHEN_EMPTY:
            continue
        for how in ("json", "file"):
            before = snapshot(site.app, ALL_TABLES)
            response = post_odd_body(site, name, how, 5)
            body = response.get_data(as_text=True)
            if response.status_code == 500 or "Traceback" in body or snapshot(site.app, ALL_TABLES) != before:
                bad.add(name)
    assert bad == KNOWN_BAD, f"crashed or stored something: {sorted(bad)}; known: {sorted(KNOWN_BAD)}"

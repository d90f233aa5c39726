"""Privacy and security of the public pages: URLs, logs, cookies, headers, limits, page weight."""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.helpers.public import (
    BASE,
    born_years_ago,
    column_names,
    csrf,
    current,
    likely_answers,
    raw_connection,
    start,
    walk,
)

PAGES = "start|consent|chat|answer|change|result|refer|sent|summary|handoff|forget|leave|withdraw"
ALLOWED_PATH = re.compile(rf"^(/|{BASE}/({PAGES})?)$")


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False)


def test_no_answer_ever_appears_in_a_url_or_a_log_line(app, caplog):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    seen_paths: list[str] = []
    original_open = client.open

    def recording_open(*args, **kwargs):
        response = original_open(*args, **kwargs)
        if "Location" in response.headers:
            seen_paths.append(
                urlsplit(response.headers["Location"]).path + "?" + urlsplit(response.headers["Location"]).query
            )
        return response

    client.open = recording_open  # type: ignore[method-assign]
    start(client)
    answers = likely_answers()
    walk(client, answers)
    body = client.get(f"{BASE}/result").get_data(as_text=True)
    links = re.findall(r'(?:href|action)="([^"]+)"', body)
    values = {str(v) for v in answers.values() if isinstance(v, str) and len(v) > 2}
    values |= {v for vs in answers.values() if isinstance(vs, list) for v in vs if len(v) > 2}
    values |= set(answers) - {"dob"}  # question ids reveal answers too (e.g. "rituximab_last")
    for url in seen_paths + links:
        path, _, query = url.partition("?")
        assert not any(v in url for v in values), url
        if path.startswith(BASE):
            assert ALLOWED_PATH.match(path) or path.startswith("/r/"), path
        if path.startswith("/static/"):  # a hash of the file's content (prescreen.web.assets), nothing else
            assert re.fullmatch(r"v=[0-9a-f]{12}", query), url
        else:
            assert query in ("", "lang=zh", "lang=en"), url
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(v in logged for v in values | {born_years_ago(10)})


def test_session_cookie_holds_only_an_opaque_token(app):
    client = app.test_client()
    start(client)
    walk(client, likely_answers())
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert set(data) <= {"screening", "csrf_token", "consent_key", "seen", "withdraw"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", data["screening"])
    assert isinstance(data["seen"], int)  # when this browser last used it (a shared phone lets go)
    # binds a consent form to this browser (see public.token_from_nonce): random, nothing else
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", data.get("consent_key", "x" * 22))
    rows = raw_connection(app).execute("SELECT token_hash FROM screenings").fetchall()
    assert data["screening"] not in str(rows)  # only the hash is stored


def test_session_cookie_flags_in_development_and_production(make_app, tmp_path: Path):
    dev = make_app(RATELIMIT_ENABLED=False)
    client = dev.test_client()
    token = csrf(client, f"{BASE}/consent?as=guardian")
    response = client.post(f"{BASE}/consent", data={"csrf_token": token, "respondent": "guardian", "agree": "y"})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("prescreen="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    prod = make_app(
        TESTING=False,
        ENV="production",
        SECRET_KEY="b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f",
        PUBLIC_URL="https://localhost",
        RATELIMIT_ENABLED=False,
        STUDY_CONTACT_PHONE="+86 10 5555 0100",
    )
    pclient = prod.test_client()
    token = csrf(pclient, f"https://localhost{BASE}/consent?as=guardian")
    response = pclient.post(
        f"https://localhost{BASE}/consent",
        data={"csrf_token": token, "respondent": "guardian", "agree": "y"},
        headers={"Referer": f"https://localhost{BASE}/consent"},  # Flask-WTF checks it over https
    )
    assert response.status_code == 303
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if "prescreen=" in h)
    assert cookie.startswith("__Host-prescreen=") and "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("path", ["/", f"{BASE}/", f"{BASE}/start", f"{BASE}/consent?as=guardian", f"{BASE}/chat"])
def test_every_public_page_carries_the_security_headers(app, path):
    client = app.test_client()
    start(client)
    response = client.get(path)
    headers = response.headers
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] and "max-age" in headers["Strict-Transport-Security"]
    assert "charset=utf-8" in headers["Content-Type"]
    if path.endswith("/chat"):
        assert headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script anywhere


def test_an_oversized_post_gets_413_and_stores_nothing(app):
    client = app.test_client()
    start(client)
    qid, step, token = current(client)
    response = client.post(f"{BASE}/answer", data={"csrf_token": token, "step": step, "q": qid, "value": "x" * 70_000})
    assert response.status_code == 413
    assert raw_connection(app).execute("SELECT answers FROM screenings").fetchone() == ("{}",)


def test_rate_limit_counts_posts_across_workers(make_app, tmp_path: Path):
    """Two app instances on the same instance folder stand for two gunicorn workers."""
    one = make_app(PUBLIC_POST_LIMIT="4 per minute")
    two = make_app(PUBLIC_POST_LIMIT="4 per minute")
    statuses = []
    for app in (one, two, one, two, one, two):
        client = app.test_client()
        token = csrf(client, f"{BASE}/consent?as=guardian")
        response = client.post(f"{BASE}/consent", data={"csrf_token": token, "respondent": "guardian"})
        statuses.append(response.status_code)
    assert statuses == [400, 400, 400, 400, 429, 429]
    assert "Too many" in response.get_data(as_text=True)
    assert (tmp_path / "instance" / "ratelimit.sqlite3").exists()
    content = (tmp_path / "instance" / "ratelimit.sqlite3").read_bytes()
    assert b"127.0.0.1" not in content


def test_database_columns_match_the_approved_field_lists(app):
    conn = raw_connection(app)
    columns = {t: column_names(conn, t) for t in ("screenings", "consents")}
    assert columns["screenings"] == [
        "id", "token_hash", "study_id", "version", "locale", "respondent", "answers", "status", "outcome",
        "criteria", "failed", "recheck_after", "step", "created_at", "updated_at", "completed_at", "expires_at",
        "editing", "notice", "early_told_at", "early_choice", "early_choice_at",
        "source_id",  # which poster or group the link came from (issue 19): an id, nothing personal
    ]  # fmt: skip
    assert columns["consents"] == ["id", "screening_id", "kind", "text_version", "locale", "role", "created_at"]


def test_first_question_page_weighs_under_15_kb_gzip_in_3_requests_from_our_host_only(app):
    client = app.test_client()
    start(client, "guardian", "zh")
    html = client.get(f"{BASE}/chat")
    assert html.status_code == 200
    body = html.get_data()
    refs = re.findall(rb'<(?:link|script|img)[^>]+(?:href|src)="([^"]+)"', body)
    refs = [r.decode() for r in refs if not r.startswith(b"data:")]
    assert all(urlsplit(r).netloc in ("", "localhost") for r in refs), refs
    total_raw, total_gzip = len(body), len(gzip.compress(body))
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        data = asset.get_data()
        asset.close()  # static files are streamed from disk
        total_raw += len(data)
        total_gzip += len(gzip.compress(data))
    requests = 1 + len(refs)
    print(f"first question page: {requests} requests, {total_raw} bytes raw, {total_gzip} bytes gzip")
    assert requests <= 3
    assert total_gzip <= 15 * 1024


def test_rate_limit_counters_start_a_new_window_when_the_old_one_ends(tmp_path: Path):
    import time

    from prescreen.store.ratelimits import Counters

    one, two = Counters(tmp_path / "rl.sqlite3"), Counters(tmp_path / "rl.sqlite3")  # two workers
    assert [one.incr("k", 0.3), two.incr("k", 0.3), one.incr("k", 0.3)] == [1, 2, 3]
    assert two.get("k") == 3 and two.expiry("k") > time.time()
    time.sleep(0.35)
    assert one.get("k") == 0
    assert two.incr("k", 0.3) == 1
    one.clear("k")
    assert two.get("k") == 0 and one.check()

"""Crawl every route the app has and check the headers and error pages a browser relies on.

The crawler reads ``app.url_map``, so a route added later is covered without touching this file.
Logged-in coordinator routes are crawled too when the coordinator area provides its user command.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

SAMPLE = {
    "study_id": "pumch-pediatric-sjogren",
    "id": "1",
    "referral_id": "1",
    "int": "1",
    "token": "A" * 43,
    "reference": "ABCD2345",
    "filename": "app.css",
}
LEAKS = re.compile(r"Traceback|Werkzeug|File \"/|jinja2\.|sqlite3\.")


def urls(app: Flask) -> list[tuple[str, Rule]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        values = {}
        for arg in rule.arguments:
            converter = type(rule._converters[arg]).__name__  # noqa: SLF001 - reading the map
            values[arg] = SAMPLE.get(arg) or ("1" if converter in ("IntegerConverter", "RecordIdConverter") else "x")
        found.append((rule.build(values, append_unknown=False)[1], rule))
    return sorted(found, key=lambda item: item[0])


def check_headers(path: str, response) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    script_src = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    assert script_src and "unsafe-inline" not in script_src, (path, csp)
    assert "frame-ancestors 'none'" in csp, path
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), path
    if response.mimetype.startswith("text/"):
        assert "charset=utf-8" in response.content_type.lower(), path


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_route_sends_security_headers_and_no_stack_trace(app, lang):
    client = app.test_client()
    crawled = urls(app)
    assert len(crawled) >= 30  # public, volunteer, staff and coordinator pages
    for path, rule in crawled:
        response = client.get(path, headers={"Accept-Language": lang})
        assert response.status_code != 500, path
        check_headers(path, response)
        assert not LEAKS.search(response.get_data(as_text=True)), path
        response.close()
        if rule.rule.startswith(("/coordinator", "/export")) and not rule.rule.startswith(
            ("/coordinator/login", "/coordinator/static")
        ):
            assert response.status_code in (302, 303, 401, 403, 404), path
            if response.status_code in (302, 303):
                assert "login" in response.headers["Location"], path


def test_debug_is_off_and_a_crash_shows_an_incident_id_only(make_app):
    app = make_app(
        TESTING=False,
        PROPAGATE_EXCEPTIONS=False,
        # production refuses a weak key and a plain-http address
        SECRET_KEY="b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f",
        PUBLIC_URL="https://prescreen.test",
        STUDY_CONTACT_PHONE="+86 10 5555 0100",
    )
    assert app.debug is False

    @app.get("/__boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/__boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in body and not LEAKS.search(body)
    assert re.search(r"[A-HJ-NP-Z2-9]{8}", body)
    check_headers("/__boom", response)


def test_static_assets_are_ours_and_sniff_proof(app):
    client = app.test_client()
    for path, _ in urls(app):
        response = client.get(path)
        body = response.get_data(as_text=True)
        response.close()
        for url in re.findall(r'(?:src|href)="(https?:)?//([^"/]+)', body):
            pytest.fail(f"{path} references another host: {url}")
    response = client.get("/static/app.css")
    assert response.status_code == 200 and response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_every_staff_page_logged_in_is_no_store_with_the_same_headers(app, role):
    from tests.helpers.staff import add_referral, add_user, login

    add_user(app, role=role)
    referral = add_referral(app)
    client = app.test_client()
    assert login(client).status_code in (302, 303)
    SAMPLE["referral_id"] = SAMPLE["id"] = str(referral["id"])
    crawled = 0
    try:
        for path, rule in urls(app):
            if not rule.rule.startswith(("/coordinator", "/staff", "/export")) or "logout" in rule.rule:
                continue
            response = client.get(path, headers={"Accept-Language": "zh-CN"})
            crawled += 1
            assert response.status_code in (200, 302, 303, 403, 404), path
            check_headers(path, response)
            assert "no-store" in response.headers.get("Cache-Control", ""), path
            assert not LEAKS.search(response.get_data(as_text=True)), path
            response.close()
    finally:
        SAMPLE["referral_id"] = SAMPLE["id"] = "1"
    assert crawled >= 7  # downloads and showing contact details are POST-only, so not crawled here


def test_after_another_browser_resumes_the_old_cookie_and_link_see_nothing(app):
    """Crawl every page with the cookie of a resume link's sender after someone else continued it."""
    from tests.helpers.public import BASE, born_years_ago, csrf, likely_answers, referral_form, resume, start, walk

    app.config["RATELIMIT_ENABLED"] = False
    sender = app.test_client()
    start(sender)
    link = re.search(r'id="resume-url" value="[^"]*?(/r/[^"]+)"', sender.get(f"{BASE}/chat").get_data(as_text=True))
    parent = app.test_client()
    assert resume(parent, link.group(1)).status_code == 303
    walk(parent, {**likely_answers(), "dob": born_years_ago(10)})
    token = csrf(parent, f"{BASE}/refer")
    form = {**referral_form(), "csrf_token": token}
    assert parent.post(f"{BASE}/refer", data=form).status_code == 303
    sent = parent.get(f"{BASE}/sent").get_data(as_text=True)
    reference = re.search(r"PS-[A-Z0-9]{6}", sent).group(0)
    withdraw = re.search(r"/withdraw/([A-Za-z0-9_-]{20,})", sent).group(1)
    secrets_of_the_family = (reference, "王芳", withdraw, "Your answers", "Your child may be able to join")
    for path, _rule in [*urls(app), (link.group(1), None)]:
        for client in (sender, app.test_client()):  # the sender's cookie, and a stranger with the old link
            response = client.get(path, follow_redirects=True)
            page = response.get_data(as_text=True)
            response.close()
            leaked = [s for s in secrets_of_the_family if s in page]
            assert not leaked, (path, leaked)

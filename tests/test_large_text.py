"""Large text (大字) without JavaScript: a header form on every family page, one cookie, back to the page.

The switch must never become a way to send someone to another site (an open redirect), must
not work from another site's form (CSRF), and its cookie holds nothing but the preference.
What it looks like (20 px text, axe-clean) is in tests/browser/test_large_text_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.web.display import COOKIE
from tests.helpers.public import BASE, start

SWITCH_RE = re.compile(r'<form class="text-size" method="post" action="/text-size">.*?</form>', re.S)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False)


def switch(client: FlaskClient, page: str, size: str = "large", next_path: str | None = None):
    """Tap the switch on *page* as a browser would post it (its own token and return address)."""
    body = client.get(page).get_data(as_text=True)
    form = SWITCH_RE.search(body)
    assert form, f"no large-text switch on {page}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0)).group(1)
    here = re.search(r'name="next" value="([^"]*)"', form.group(0)).group(1).replace("&amp;", "&")
    data = {"csrf_token": token, "to": size, "next": here if next_path is None else next_path}
    return client.post("/text-size", data=data)


def is_large(client: FlaskClient, page: str) -> bool:
    head = client.get(page).get_data(as_text=True)[:200]
    return '<html lang="' in head and 'class="large"' in head


@pytest.mark.parametrize(
    "page", ["/", f"{BASE}/", f"{BASE}/start", f"{BASE}/consent?as=patient", "/volunteer/", "/no-such-page"]
)
def test_every_family_page_has_the_switch_and_it_brings_the_family_back(app, page):
    client = app.test_client()
    response = switch(client, page)
    assert response.status_code == 303
    # The same page, its query too (who is filling in); from a page that is not there, the home page.
    back = "/" if page == "/no-such-page" else page
    assert response.headers["Location"] == back
    assert is_large(client, back)


def test_the_cookie_holds_only_the_preference_and_off_removes_it(app):
    client = app.test_client()
    response = switch(client, "/")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    assert cookie.startswith(f"{COOKIE}=large;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie  # remembered for a year, not just this visit
    body = client.get("/").get_data(as_text=True)
    assert 'aria-pressed="true"' in SWITCH_RE.search(body).group(0)  # says it is on
    assert switch(client, "/", size="normal").status_code == 303
    assert client.get_cookie(COOKIE) is None
    assert not is_large(client, "/")


def test_the_chat_comes_back_to_the_chat_in_large_text(app):
    client = app.test_client()
    start(client, "guardian", "zh")
    response = switch(client, f"{BASE}/chat")
    assert response.headers["Location"] == f"{BASE}/chat"
    assert is_large(client, f"{BASE}/chat") and is_large(client, f"{BASE}/")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aLocation:%20https://evil.example",
        f"{BASE}/answer",  # POST only: would answer 405
        "/text-size",
        "",
        "x" * 3000,
    ],
)
def test_the_switch_only_ever_goes_back_to_a_page_of_this_site(app, target):
    client = app.test_client()
    response = switch(client, "/", next_path=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_another_sites_form_cannot_switch_it(app):
    client = app.test_client()
    client.get("/")  # the family's session exists; the other site has no token
    response = client.post("/text-size", data={"to": "large", "next": "/"})
    assert response.status_code == 400
    assert client.get_cookie(COOKIE) is None


def test_staff_pages_have_no_switch_and_ignore_the_cookie(app):
    client = app.test_client()
    switch(client, "/")
    body = client.get("/staff/login").get_data(as_text=True)
    assert "text-size" not in body and 'class="large"' not in body[:200]


@pytest.mark.parametrize("secure", [True, False])
def test_the_language_and_text_size_cookies_follow_the_same_rules(make_app, secure):
    """Both preferences last a year, no script reads them, and both are Secure where the session is."""
    app = make_app(RATELIMIT_ENABLED=False, SESSION_COOKIE_SECURE=secure)
    client = app.test_client()
    lang = client.get("/?lang=en").headers.getlist("Set-Cookie")
    large = switch(client, "/").headers.getlist("Set-Cookie")
    for name, headers in (("lang", lang), (COOKIE, large)):
        cookie = next(h for h in headers if h.startswith(f"{name}="))
        assert "Max-Age=31536000" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
        assert ("Secure" in cookie) is secure, cookie
    off = switch(client, "/", size="normal").headers.getlist("Set-Cookie")
    gone = next(h for h in off if h.startswith(f"{COOKIE}="))
    assert "Max-Age=0" in gone or "Expires=Thu, 01 Jan 1970" in gone

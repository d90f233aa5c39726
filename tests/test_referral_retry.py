"""Small things that cost a parent a retry on the referral form (issue 17, item 7).

A form sent back with an error keeps both consent ticks the parent gave; a mainland mobile with
a digit missing is told so, not asked for a country code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.public import BASE, csrf, likely_answers, start, walk

FORM = {"name": "王芳", "relationship": "mother", "best_time": "evening", "share": "y", "guardian": "y"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False)


def at_referral(app: Flask, lang: str) -> FlaskClient:
    client = app.test_client()
    start(client, "guardian", lang)
    walk(client, likely_answers())  # a 10-year-old: a parent confirms too (two ticks)
    return client


def post(client: FlaskClient, lang: str, **fields: str):
    data = {**FORM, "language": lang, "csrf_token": csrf(client, f"{BASE}/refer"), **fields}
    return client.post(f"{BASE}/refer", data={k: v for k, v in data.items() if v})


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [({"phone": "138 1234 567"}, "phone"), ({"phone": "13812345678", "name": ""}, "name"), ({"phone": ""}, "phone")],
)
def test_both_consent_ticks_are_kept_after_any_error(app, fields, wrong):
    client = at_referral(app, "en")
    response = post(client, "en", **fields)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f'id="{wrong}-errors"' in body
    for box in ("share", "guardian"):
        tag = re.search(rf'<input type="checkbox" name="{box}"[^>]*>', body).group(0)
        assert " checked" in tag, tag


@pytest.mark.parametrize(
    ("lang", "phone", "message"),
    [
        ("en", "138 1234 567", "A mainland mobile number has 11 digits, and this one has 10."),
        ("en", "1381234567890", "A mainland mobile number has 11 digits, and this one has 13."),
        ("zh", "138-1234-567", "大陆手机号是11位数字，这里填了10位"),
        ("zh", "１３８ １２３４ ５６７", "大陆手机号是11位数字，这里填了10位"),  # a full-width keyboard
    ],
)
def test_a_mainland_mobile_with_a_digit_missing_is_told_it_needs_11(app, lang, phone, message):
    client = at_referral(app, lang)
    body = post(client, lang, phone=phone).get_data(as_text=True)
    assert message in body


@pytest.mark.parametrize("phone", ["13812345678", "138 1234 5678", "+44 20 7946 0958", "+1 416 555 0142"])
def test_good_numbers_still_pass(app, phone):
    client = at_referral(app, "en")
    assert post(client, "en", phone=phone).status_code == 303


def test_copy_and_print_buttons_are_hidden_until_javascript_shows_them(app):
    """With JavaScript off they would do nothing (app.css makes [hidden] win over button styles)."""
    client = at_referral(app, "zh")
    assert post(client, "zh", phone="13812345678").status_code == 303
    pages = [f"{BASE}/sent", f"{BASE}/summary", f"{BASE}/result"]
    buttons = [b for p in pages for b in re.findall(r"<button[^>]*data-(?:copy|print)[^>]*>", client.get(p).text)]
    assert len(buttons) >= 2
    assert all(" hidden" in b for b in buttons), buttons

"""Volunteer sign-up, double opt-in, manage and unsubscribe, through the real app and SQLite."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prescreen.mail.send import tidy
from prescreen.store import connect, volunteers

SIGNUP = {"language": "zh", "categories": ["sjogren"], "age_band": "10-13", "consent": "y"}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LINK = re.compile(r"https://prescreen\.test(/volunteer/(confirm|manage|unsubscribe)/[\w-]+)")


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_URL="https://prescreen.test")


def csrf_token(client: FlaskClient, path: str) -> str:
    """GET *path* and read its form's CSRF token, as a browser would post it."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def rows(app: Flask, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    db = connect(app.config["DATABASE"])
    try:
        return db.execute(sql, params or []).fetchall()
    finally:
        db.close()


def sign_up(client: FlaskClient, email: str, **fields: Any) -> Any:
    data = {**SIGNUP, **fields, "email": email, "csrf_token": csrf_token(client, "/volunteer/")}
    return client.post("/volunteer/", data=data)


def links(app: Flask, email: str) -> dict[str, str]:
    """The paths in the newest e-mail queued for *email* (confirm / manage / unsubscribe)."""
    (body,) = rows(app, "SELECT body_text FROM outbox WHERE to_addr = ? ORDER BY id DESC LIMIT 1", [email])[0]
    return {kind: path for path, kind in LINK.findall(body)}


def confirm(client: FlaskClient, app: Flask, email: str) -> dict[str, str]:
    found = links(app, email)
    token = csrf_token(client, found["confirm"])
    assert client.post(found["confirm"], data={"csrf_token": token}).status_code == 200
    return found


@pytest.mark.parametrize(("lang", "heading"), [("zh", "订阅新研究通知"), ("en", "Get e-mails about new studies")])
def test_signup_page_in_both_languages_with_consent_unticked(client: FlaskClient, lang: str, heading: str) -> None:
    html = client.get(f"/volunteer/?lang={lang}").get_data(as_text=True)
    assert heading in html
    consent = re.search(r'<input type="checkbox" name="consent"[^>]*>', html)
    assert consent and "checked" not in consent.group(0)
    assert not re.search(r'(src|href)="(https?:)?//', html), "no third-party origin"


def test_signup_sends_exactly_one_confirmation_and_nothing_else(client: FlaskClient, app: Flask) -> None:
    response = sign_up(client, "parent@example.com")
    assert response.status_code == 302 and response.headers["Location"].endswith("/volunteer/check-email")
    assert rows(app, "SELECT kind, to_addr, status FROM outbox") == [
        ("volunteer-confirm", "parent@example.com", "pending")
    ]
    assert rows(app, "SELECT email, status, locale, age_band FROM volunteers") == [
        ("parent@example.com", "pending", "zh", "10-13")
    ]
    hashes = ",".join(row[0] for row in rows(app, "SELECT token_hash FROM volunteer_tokens"))
    assert all(token not in hashes for token in links(app, "parent@example.com").values())


def test_same_response_and_no_duplicate_whether_or_not_the_address_is_known(client: FlaskClient, app: Flask) -> None:
    first = sign_up(client, "known@example.com")
    confirm(client, app, "known@example.com")
    again = sign_up(client, "Known@Example.com", categories=["asthma"], language="en")
    unknown = sign_up(client, "unknown@example.com")
    assert first.status_code == again.status_code == unknown.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == unknown.headers["Location"]
    assert rows(app, "SELECT count(*) FROM volunteers WHERE email = 'known@example.com'") == [(1,)]
    # The owner keeps their choices; a stranger typing their address cannot change them.
    assert rows(app, "SELECT category_id FROM volunteer_categories JOIN volunteers v ON v.id = volunteer_id "
                "WHERE v.email = 'known@example.com'") == [("sjogren",)]  # fmt: skip
    kinds = rows(app, "SELECT kind FROM outbox WHERE to_addr = 'known@example.com' ORDER BY id")
    assert kinds == [("volunteer-confirm",), ("volunteer-already",)]


def test_signing_up_twice_while_pending_queues_one_confirmation_a_day(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "twice@example.com")
    sign_up(client, "twice@example.com", categories=["lupus"])
    assert rows(app, "SELECT count(*) FROM outbox") == [(1,)]
    assert rows(app, "SELECT count(*) FROM volunteers") == [(1,)]


def test_signup_without_consent_is_a_form_error_and_writes_nothing(client: FlaskClient, app: Flask) -> None:
    response = sign_up(client, "a@example.com", consent="")
    assert response.status_code == 200 and "Tick the box to agree." in response.get_data(as_text=True)
    assert rows(app, "SELECT count(*) FROM volunteers") == [(0,)]
    assert rows(app, "SELECT count(*) FROM outbox") == [(0,)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"categories": ["no_such_category"]}, "Choose from the options shown."),
        ({"categories": []}, "Choose at least one kind of study."),
        ({"age_band": "7-8"}, "Choose from the options shown."),
        ({"language": "fr"}, "Choose from the options shown."),
    ],
)
def test_unknown_choices_are_form_errors(client: FlaskClient, app: Flask, fields: dict[str, Any], message: str) -> None:
    response = sign_up(client, "a@example.com", **fields)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert rows(app, "SELECT count(*) FROM volunteers") == [(0,)]


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "x" * 250 + "@example.com", "名字@例子.中国", ""])
def test_malformed_or_overlong_addresses_are_refused(client: FlaskClient, app: Flask, email: str) -> None:
    response = sign_up(client, email, unknown_extra_field="ignored")
    assert response.status_code == 200
    assert 'class="field-errors"' in response.get_data(as_text=True)
    assert rows(app, "SELECT count(*) FROM volunteers") == [(0,)]


def test_post_without_csrf_token_is_refused(client: FlaskClient, app: Flask) -> None:
    response = client.post("/volunteer/", data={**SIGNUP, "email": "a@example.com"})
    assert response.status_code == 400
    assert rows(app, "SELECT count(*) FROM volunteers") == [(0,)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=80))
def test_any_unicode_in_the_address_is_escaped_never_a_crash(client: FlaskClient, text: str) -> None:
    response = sign_up(client, text + "<script>alert(1)</script>")
    assert response.status_code in (200, 302)
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_confirm_get_changes_nothing_and_post_confirms(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "c@example.com")
    path = links(app, "c@example.com")["confirm"]
    assert client.get(path).status_code == 200
    assert rows(app, "SELECT status FROM volunteers") == [("pending",)]
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 200
    assert rows(app, "SELECT status FROM volunteers") == [("confirmed",)]
    assert client.get(path).status_code == 404, "a confirmation link works once"


def test_expired_confirmation_token_does_not_confirm(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "late@example.com")
    path = links(app, "late@example.com")["confirm"]
    token = csrf_token(client, path)
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE volunteer_tokens SET expires_at = '2020-01-01T00:00:00Z' WHERE purpose = 'confirm'")
    db.close()
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 410 and "链接已过期" in response.get_data(as_text=True)
    assert rows(app, "SELECT status FROM volunteers") == [("pending",)]


def test_unknown_token_links_are_404(client: FlaskClient) -> None:
    for kind in ("confirm", "manage", "unsubscribe"):
        assert client.get(f"/volunteer/{kind}/not-a-real-token").status_code == 404


def test_manage_link_changes_categories_and_language(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "m@example.com")
    path = confirm(client, app, "m@example.com")["manage"]
    page = client.get(path)
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'value="sjogren" checked', page.get_data(as_text=True))
    data = {"language": "en", "categories": ["lupus", "jia"], "age_band": "", "csrf_token": csrf_token(client, path)}
    assert client.post(path, data=data).status_code == 200
    assert rows(app, "SELECT locale, age_band, status FROM volunteers") == [("en", None, "confirmed")]
    assert rows(app, "SELECT category_id FROM volunteer_categories ORDER BY 1") == [("jia",), ("lupus",)]


def test_one_click_unsubscribe_without_cookies_is_2xx_without_redirect(app: Flask) -> None:
    client = app.test_client()
    sign_up(client, "u@example.com")
    path = confirm(client, app, "u@example.com")["unsubscribe"]
    cookieless = app.test_client(use_cookies=False)
    response = cookieless.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert 200 <= response.status_code < 300 and "Location" not in response.headers
    assert rows(app, "SELECT status, age_band FROM volunteers") == [("unsubscribed", None)]
    assert rows(app, "SELECT count(*) FROM volunteer_categories") == [(0,)]
    again = cookieless.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200, "repeating it is harmless"


def test_unsubscribe_get_changes_nothing_until_the_button_is_pressed(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "g@example.com")
    path = confirm(client, app, "g@example.com")["unsubscribe"]
    assert client.get(path).status_code == 200
    assert client.post(path, data={}).status_code == 400, "the page's own POST needs its CSRF token"
    assert rows(app, "SELECT status FROM volunteers") == [("confirmed",)]
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 200 and "已退订" in response.get_data(as_text=True)
    assert rows(app, "SELECT status FROM volunteers") == [("unsubscribed",)]


def test_unsubscribing_cancels_queued_volunteer_mail(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "q@example.com")
    path = links(app, "q@example.com")["unsubscribe"]
    app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert rows(app, "SELECT status FROM outbox") == [("suppressed",)]


def test_a_strangers_sign_up_never_mails_an_unsubscribed_mailbox(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "back@example.com")
    path = confirm(client, app, "back@example.com")["unsubscribe"]
    app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    mails = rows(app, "SELECT count(*) FROM outbox")
    stranger = app.test_client()
    answers = [sign_up(stranger, email, categories=["lupus"]) for email in ("back@example.com", "Back+x@Example.com")]
    assert {(a.status_code, a.headers["Location"]) for a in answers} == {(302, "/volunteer/check-email")}
    assert rows(app, "SELECT count(*) FROM outbox") == mails, "no new e-mail to the mailbox"
    assert rows(app, "SELECT email, status FROM volunteers") == [("back@example.com", "unsubscribed")]
    assert rows(app, "SELECT count(*) FROM volunteer_categories") == [(0,)], "the stranger's choices are not kept"


def test_the_owner_subscribes_again_from_a_link_in_an_earlier_e_mail(client: FlaskClient, app: Flask) -> None:
    sign_up(client, "again@example.com")
    found = confirm(client, app, "again@example.com")
    client.post(found["unsubscribe"], data={"csrf_token": csrf_token(client, found["unsubscribe"])})
    page = client.get(found["manage"]).get_data(as_text=True)
    link = re.search(r'href="(/volunteer/resubscribe/[\w-]+)"', page)
    assert link and "重新订阅" in page
    form = client.get(link.group(1)).get_data(as_text=True)
    box = re.search(r'<input type="checkbox" name="consent"[^>]*>', form)
    assert box and "checked" not in box.group(0)
    token = csrf_token(client, link.group(1))
    data = {"language": "en", "categories": ["jia"], "age_band": "5-9", "csrf_token": token}
    refused = client.post(link.group(1), data=data)
    assert refused.status_code == 200 and rows(app, "SELECT status FROM volunteers") == [("unsubscribed",)]
    done = client.post(link.group(1), data={**data, "consent": "y"})
    assert done.status_code == 200 and "订阅成功" in done.get_data(as_text=True)
    assert rows(app, "SELECT status, locale, age_band, unsubscribed_at FROM volunteers") == [
        ("confirmed", "en", "5-9", None)
    ]
    assert rows(app, "SELECT category_id FROM volunteer_categories") == [("jia",)]
    assert client.get(link.group(1)).status_code == 302, "a subscribed volunteer is sent to their choices"
    assert client.get("/volunteer/resubscribe/made-up").status_code == 404


@pytest.mark.parametrize(
    ("typed", "mailbox"),
    [
        ("Jane.Doe@Example.com", "jane.doe@example.com"),
        ("jane.doe+news@example.com", "jane.doe@example.com"),
        ("J.a.n.e.Doe+x@GoogleMail.com", "janedoe@gmail.com"),
        ("janedoe@gmail.com.", "janedoe@gmail.com"),
    ],
)
def test_spellings_of_one_inbox_count_as_one_mailbox(typed: str, mailbox: str) -> None:
    assert volunteers.mailbox(typed) == mailbox


SPELLINGS = [
    "Jane.Doe@gmail.com", "jane.doe@gmail.com", "JANE.DOE@gmail.com", "janedoe@gmail.com", "j.a.n.e.doe@gmail.com",
    "jane.doe+1@gmail.com", "jane.doe+news@gmail.com", "janedoe+x@googlemail.com", "Jane.Doe@googlemail.com",
    "ja.ne.doe@gmail.com", "janedoe+a+b@gmail.com", "JaneDoe@GoogleMail.com", "j.anedoe+zz@gmail.com",
]  # fmt: skip


def test_thirteen_spellings_of_one_mailbox_get_at_most_the_weekly_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app(PUBLIC_URL="https://prescreen.test", RATELIMIT_ENABLED=False)
    client = app.test_client()
    answers = {(r.status_code, r.headers["Location"]) for r in (sign_up(client, email) for email in SPELLINGS)}
    assert answers == {(302, "/volunteer/check-email")}, "the same page whatever happened"
    limit = app.config["VOLUNTEER_SIGNUP_MAILS_PER_WEEK"]
    assert rows(app, "SELECT count(*) FROM outbox") == [(limit,)]
    assert rows(app, "SELECT count(*) FROM volunteers") == [(limit,)], "nothing kept for the sign-ups not mailed"
    # A week later the mailbox may be written to again.
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE mailbox_sends SET sent_at = '2020-01-01T00:00:00Z'")
    db.close()
    sign_up(client, "jane.doe+later@gmail.com")
    assert rows(app, "SELECT count(*) FROM outbox") == [(limit + 1,)]
    assert rows(app, "SELECT count(*) FROM mailbox_sends") == [(1,)], "counts older than the week are forgotten"


def test_sign_up_posts_are_rate_limited_but_one_click_unsubscribe_is_not(make_app: Callable[..., Flask]) -> None:
    app = make_app(PUBLIC_URL="https://prescreen.test", PUBLIC_POST_LIMIT="3 per minute")
    client = app.test_client()
    sign_up(client, "r@example.com")
    path = links(app, "r@example.com")["unsubscribe"]
    assert [sign_up(client, f"r{n}@example.com").status_code for n in range(3)] == [302, 302, 429]
    cookieless = app.test_client(use_cookies=False)
    answers = [cookieless.post(path, data={"List-Unsubscribe": "One-Click"}).status_code for _ in range(5)]
    assert answers == [200] * 5


def test_retention_drops_unconfirmed_sign_ups_and_blanks_old_mail_but_keeps_its_key(
    client: FlaskClient, app: Flask
) -> None:
    sign_up(client, "kept@example.com")
    confirm(client, app, "kept@example.com")
    sign_up(client, "never@example.com")
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE outbox SET status = 'sent', sent_at = '2020-01-01T00:00:00Z' WHERE to_addr = 'kept@example.com'")
    assert tidy(app, db) == {"unconfirmed": 0, "scrubbed": 1}, "the new sign-up's link is still valid"
    later = datetime.now(UTC) + timedelta(hours=49)
    assert tidy(app, db, now=later) == {"unconfirmed": 1, "scrubbed": 0}
    assert db.execute("SELECT email FROM volunteers").fetchall() == [("kept@example.com",)]
    scrubbed = db.execute("SELECT idempotency_key, to_addr, body_text FROM outbox WHERE status = 'sent'").fetchall()
    assert [(to, text) for _, to, text in scrubbed] == [("deleted", "")]
    assert scrubbed[0][0].startswith("volunteer-confirm:")
    never = db.execute("SELECT status FROM outbox WHERE to_addr = 'never@example.com'").fetchall()
    assert never == [("suppressed",)], "its dead confirmation link is not sent"
    db.close()

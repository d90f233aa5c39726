"""E-mail a family can trust: the hospital in the sender's name and the subject, who sent it and why.

Each message is delivered by the file backend (as under ``make run``) and read back from its
``.eml`` file the way a mail program would: the sender's name in the e-mail's own language over
MAIL_FROM's address, RFC 2047-encoded on the wire, and a footer saying who sent it and why.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.mail.send import deliver_due, make_backend
from prescreen.store import connect
from tests.helpers.public import Family, likely_answers, waiting_answers

STUDY = "pumch-pediatric-sjogren"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SENDER = {"zh": "北京协和医院儿童临床研究初筛", "en": "PUMCH children's clinical study pre-screening"}
WHO = {
    "zh": "这封邮件来自“北京协和医院儿童临床研究初筛”网站（https://prescreen.test/）。",
    "en": "This e-mail comes from the “PUMCH children's clinical study pre-screening” website"
    " (https://prescreen.test/) of Peking Union Medical College Hospital.",
}
WHY_SIGNED_UP = {
    "zh": "您收到这封邮件，是因为这个邮箱在该网站订阅了新研究通知。",
    "en": "You get it because this address was signed up there for news about new studies.",
}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        MAIL_BACKEND="file",
        MAIL_FROM="Clinical trial pre-screening <studies@prescreen.test>",
        PUBLIC_URL="https://prescreen.test",
        STUDY_CONTACT_PHONE="+86 10 5555 0100",
        STUDY_CONTACT_EMAIL="ss-study@pumch.example",
    )


def deliver(app: Flask, now: datetime | None = None) -> list[tuple[EmailMessage, bytes]]:
    """Send what is due through the file backend; every message written so far, parsed and raw."""
    db = connect(app.config["DATABASE"])
    backend = make_backend(app)
    try:
        deliver_due(app, db, backend, now=now)
    finally:
        backend.close()
        db.close()
    files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    return [(email.message_from_bytes(f.read_bytes(), policy=policy.default), f.read_bytes()) for f in files]  # type: ignore[misc]


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    parts = [message.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    assert all(parts)
    return parts[0].get_content(), parts[1].get_content()  # type: ignore[union-attr]


def sign_up(client: FlaskClient, address: str, language: str) -> None:
    token = CSRF.search(client.get("/volunteer/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    data = {"email": address, "language": language, "categories": ["sjogren"], "consent": "y", "csrf_token": token}
    assert client.post("/volunteer/", data=data).status_code == 302


def assert_sender(message: EmailMessage, raw: bytes, lang: str) -> None:
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (SENDER[lang], "studies@prescreen.test")
    assert "Clinical trial pre-screening" not in raw.decode("ascii")
    if lang == "zh":
        assert re.search(rb"^From: =\?utf-8\?[bq]\?[^?]+\?= <studies@prescreen\.test>\r?$", raw, re.M | re.I)
    assert "Peking Union Medical College Hospital" in str(message["Subject"]) or "北京协和医院" in str(
        message["Subject"]
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_confirmation_and_notice_name_the_hospital_in_their_language(app: Flask, lang: str) -> None:
    client = app.test_client()
    sign_up(client, f"{lang}-parent@example.com", lang)
    ((confirmation, raw),) = deliver(app)
    assert_sender(confirmation, raw, lang)
    subjects = {
        "zh": "北京协和医院：请确认您的邮箱，以便接收新研究通知",
        "en": "Peking Union Medical College Hospital: please confirm your e-mail for study news",
    }
    assert str(confirmation["Subject"]) == subjects[lang]
    text, html = text_and_html(confirmation)
    for part in (text, html.replace("&#39;", "'")):
        assert WHO[lang] in " ".join(part.split()) and WHY_SIGNED_UP[lang] in " ".join(part.split())

    confirm = re.search(r"https://prescreen\.test(/volunteer/confirm/[\w-]+)", text).group(1)  # type: ignore[union-attr]
    token = CSRF.search(client.get(confirm).get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.post(confirm, data={"csrf_token": token}).status_code == 200
    assert app.test_cli_runner().invoke(args=["studies", "publish", STUDY]).exit_code == 0
    notice, raw = deliver(app)[-1]
    assert_sender(notice, raw, lang)
    text, html = text_and_html(notice)
    block = {
        "zh": [
            "研究单位",
            "北京协和医院",
            "北京市东城区帅府园1号（东单院区），邮编100730",
            "临床试验注册号 NCT06410833",
        ],
        "en": [
            "Who runs the study",
            "Dongdan campus, No. 1 Shuaifuyuan, Dongcheng District, Beijing 100730, China",
            "Registry number NCT06410833",
        ],
    }[lang]
    for shown in [*block, "+86 10 5555 0100", "ss-study@pumch.example", WHO[lang]]:
        assert shown in text and shown in html.replace("&#39;", "'"), shown
    assert 'href="tel:+861055550100"' in html


def test_the_reminder_names_the_hospital_never_the_study(app: Flask) -> None:
    client = app.test_client()
    family = Family(client)
    family.start(lang="zh")
    family.walk(waiting_answers())
    token = CSRF.search(client.get("/volunteer/reminder").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    data = {"email": "family@example.com", "consent": "y", "csrf_token": token}
    assert client.post("/volunteer/reminder", data=data).status_code == 200
    ((reminder, raw),) = deliver(app, now=datetime.now(UTC) + timedelta(days=200))
    assert_sender(reminder, raw, "zh")
    assert str(reminder["Subject"]) == "北京协和医院提醒您：可以再做一次研究初筛了"
    text, html = text_and_html(reminder)
    why = "您收到这封邮件，是因为您做初筛时要求我们发这封提醒。"
    for part in (text, html):
        assert WHO["zh"] in part and why in part
        for word in ("干燥", "利妥昔", "NCT06410833", "/s/"):
            assert word not in part + str(reminder["Subject"])


def test_a_bare_mail_from_address_gets_the_sites_name_too(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAIL_BACKEND="file", MAIL_FROM="studies@prescreen.test", PUBLIC_URL="https://prescreen.test")
    sign_up(app.test_client(), "en-parent@example.com", "en")
    ((message, raw),) = deliver(app)
    assert_sender(message, raw, "en")


def test_the_team_alert_names_the_hospital_and_says_why_it_came(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        MAIL_BACKEND="file",
        MAIL_FROM="studies@prescreen.test",
        PUBLIC_URL="https://prescreen.test",
        STUDY_TEAM_EMAIL="team@pumch.example",
        RATELIMIT_ENABLED=False,
    )
    client = app.test_client()
    family = Family(client)
    family.start(lang="en")
    family.walk(likely_answers())
    token = CSRF.search(client.get(f"/s/{STUDY}/refer").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    details = {"name": "Wang Fang", "relationship": "mother", "phone": "13800138000", "best_time": "any"}
    data = {**details, "language": "en", "share": "y", "guardian": "y", "csrf_token": token}
    assert client.post(f"/s/{STUDY}/refer", data=data).status_code == 303
    ((alert, raw),) = deliver(app)
    assert_sender(alert, raw, "zh")  # the team's alert is Chinese first
    subject = str(alert["Subject"])
    assert subject.startswith("北京协和医院儿童临床研究初筛：")
    assert subject.endswith(" / PUMCH children's clinical study pre-screening: A new referral is waiting")
    text = alert.get_content()
    assert WHO["zh"] in text and WHO["en"] in text
    assert "You get it because this address is the study team's alert address there." in text
    assert "Wang Fang" not in text and "13800138000" not in text

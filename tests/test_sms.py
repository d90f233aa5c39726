"""Texts (SMS) to families: the re-check reminder by text, the referral receipt, and their delivery.

Real SQLite files, the real Flask client, and for the Tencent Cloud backend its official SDK
talking plain HTTP to a real server on loopback that stands in for the provider's endpoint.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen.mail import sms
from prescreen.mail.send import deliver_due, make_backend, make_sms_backend
from prescreen.store import connect, exports, outbox
from tests.helpers.public import BASE, csrf, likely_answers, referral_form, rows, start, waiting_answers, walk

PHONE = "+8613800138000"
TEAM_PHONE = "+86 10 5555 0100"
#: Words that would tell a reader of the phone's screen about the child, the illness or the study.
HEALTH_WORDS = ("干燥", "sjogren", "Sjögren", "利妥昔", "rituximab", "不符合", "eligible", "pumch-pediatric", "/s/")


# -- a stand-in for the provider's endpoint -------------------------------------------------------


class Provider:
    """A loopback HTTP server answering Tencent Cloud API calls from a list of canned replies."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, Any]]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                length = int(self.headers["Content-Length"])
                provider.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(self.rfile.read(length))}
                )
                status, reply = provider.replies.pop(0) if provider.replies else (200, ok())
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ok(code: str = "Ok") -> dict[str, Any]:
    """A SendSms reply for one number with status *code*."""
    status = {"SerialNo": "2028:1", "PhoneNumber": PHONE, "Fee": 1, "SessionContext": "", "Code": code}
    return {
        "Response": {
            "SendStatusSet": [{**status, "Message": "send success" if code == "Ok" else code}],
            "RequestId": "r1",
        }
    }


def error(code: str) -> dict[str, Any]:
    """A whole-request error reply, as the API gives for a throttle."""
    return {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "r2"}}


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # the SDK reads them; loopback must be reached directly
    server = Provider()
    yield server
    server.close()


TENCENT = {
    "SMS_BACKEND": "tencent",
    "SMS_SIGN_NAME": "测试医院",
    "SMS_SDK_APP_ID": "1400000000",
    "SMS_SECRET_ID": "AKIDtest",
    "SMS_SECRET_KEY": "test-secret",
    "SMS_TEMPLATES": {"recheck-reminder": {"zh": "100001", "en": "100002"}, "referral-receipt": {"zh": "100003"}},
    "MAIL_RETRY_SECONDS": 60,
}


def queue_receipt(app: Flask, key: str = "referral-receipt:1:", locale: str = "zh") -> None:
    db = connect(app.config["DATABASE"])
    params = {"reference": "PS-7KQ2M9", "days": "2", "phone": TEAM_PHONE}
    assert outbox.enqueue_sms(
        db, key=key, kind="referral-receipt", phone=PHONE, locale=locale, template="referral-receipt", params=params
    )
    db.close()


def deliver(app: Flask, now: datetime) -> dict[str, int]:
    db = connect(app.config["DATABASE"])
    try:
        return dict(deliver_due(app, db, make_backend(app), now=now))
    finally:
        db.close()


# -- the file backend ---------------------------------------------------------------------------


def test_file_backend_writes_each_text_once_even_when_sent_again(make_app: Callable[..., Flask]) -> None:
    app = make_app(SMS_SIGN_NAME="北京协和医院")
    queue_receipt(app)
    db = connect(app.config["DATABASE"])
    assert not outbox.enqueue_sms(  # the same receipt asked for again: nothing new
        db,
        key="referral-receipt:1:",
        kind="referral-receipt",
        phone=PHONE,
        locale="zh",
        template="referral-receipt",
        params={"reference": "PS-7KQ2M9", "days": "2", "phone": TEAM_PHONE},
    )
    # A sender that wrote the file and died before marking the row sent: the claim runs out.
    row = outbox.claim_next(db, "dead-sender", datetime.now(UTC), timedelta(0))
    assert row is not None
    make_sms_backend(app).send(row)
    db.close()
    later = datetime.now(UTC) + timedelta(seconds=5)
    result = app.test_cli_runner().invoke(args=["mail", "send"])  # the one sender, both channels
    assert result.exit_code == 0, result.output
    assert deliver(app, later) == {}  # nothing left
    files = sorted((Path(app.instance_path) / "sms").iterdir())
    assert [f.name for f in files] == [f"{row['id']:08d}.json"]
    message = json.loads(files[0].read_text(encoding="utf-8"))
    assert message["to"] == PHONE and message["template"] == "referral-receipt"
    assert message["text"].startswith("【北京协和医院】") and "PS-7KQ2M9" in message["text"]
    assert "2个工作日内" in message["text"] and TEAM_PHONE in message["text"]
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert rows(app, "SELECT channel, status, attempts FROM outbox") == [("sms", "sent", 1)]


def test_a_number_that_is_not_a_mainland_mobile_fails_for_good_and_suppresses_nothing(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    db = connect(app.config["DATABASE"])
    params = {"reference": "PS-7KQ2M9", "days": "2", "phone": TEAM_PHONE}
    outbox.enqueue_sms(
        db,
        key="k",
        kind="referral-receipt",
        phone="+12025550100",
        locale="en",
        template="referral-receipt",
        params=params,
    )
    db.close()
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert deliver(app, now) == {"bounced": 1}
    assert deliver(app, now + timedelta(days=1)) == {}
    assert rows(app, "SELECT status, attempts FROM outbox") == [("failed", 1)]
    assert rows(app, "SELECT count(*) FROM suppressions") == [(0,)]
    assert not (Path(app.instance_path) / "sms").exists() or not any((Path(app.instance_path) / "sms").iterdir())


# -- the Tencent Cloud SMS backend, its SDK against a loopback endpoint ---------------------------


def test_sdk_sends_the_template_and_a_5xx_and_a_throttle_are_retried_later(
    make_app: Callable[..., Flask], provider: Provider
) -> None:
    app = make_app(**TENCENT, SMS_ENDPOINT=provider.url)
    queue_receipt(app)
    provider.replies = [(502, {"oops": 1}), (200, error("RequestLimitExceeded")), (200, ok())]
    start = datetime.now(UTC) + timedelta(seconds=1)
    assert deliver(app, start) == {"retried": 1}
    assert deliver(app, start + timedelta(seconds=30)) == {}, "not before the retry delay"
    assert deliver(app, start + timedelta(seconds=61)) == {"retried": 1}
    assert deliver(app, start + timedelta(seconds=61 + 119)) == {}, "the delay doubled"
    assert deliver(app, start + timedelta(seconds=61 + 121)) == {"sent": 1}
    assert rows(app, "SELECT status, attempts, last_error FROM outbox") == [("sent", 3, None)]

    assert len(provider.requests) == 3
    first = provider.requests[0]
    assert first["headers"]["X-TC-Action"] == "SendSms" and first["headers"]["X-TC-Version"] == "2021-01-11"
    assert first["headers"]["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")
    body = first["body"]
    assert body["PhoneNumberSet"] == [PHONE]
    assert (body["SmsSdkAppId"], body["SignName"], body["TemplateId"]) == ("1400000000", "测试医院", "100003")
    assert body["TemplateParamSet"] == ["PS-7KQ2M9", "2", TEAM_PHONE]
    assert all(request["body"] == body for request in provider.requests), "each retry sends the same text"


def test_a_number_the_provider_refuses_is_not_retried(make_app: Callable[..., Flask], provider: Provider) -> None:
    app = make_app(**TENCENT, SMS_ENDPOINT=provider.url)
    queue_receipt(app, locale="en")
    provider.replies = [(200, ok("InvalidParameterValue.IncorrectPhoneNumber"))]
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert deliver(app, now) == {"bounced": 1}
    assert deliver(app, now + timedelta(days=1)) == {}
    assert len(provider.requests) == 1
    assert provider.requests[0]["body"]["TemplateId"] == "100003", "no English template: the Chinese one"
    ((status, error_text),) = rows(app, "SELECT status, last_error FROM outbox")
    assert status == "failed" and "IncorrectPhoneNumber" in error_text


def test_an_unreachable_provider_is_retried_and_the_text_kept(make_app: Callable[..., Flask]) -> None:
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app = make_app(**TENCENT, SMS_ENDPOINT=f"http://127.0.0.1:{port}")
    queue_receipt(app)
    assert deliver(app, datetime.now(UTC) + timedelta(seconds=1)) == {"retried": 1}
    ((status, attempts, to, error_text),) = rows(app, "SELECT status, attempts, to_addr, last_error FROM outbox")
    assert (status, attempts, to) == ("pending", 1, PHONE) and error_text.startswith("ClientNetworkError")


def test_the_tencent_backend_refuses_to_start_without_its_settings(make_app: Callable[..., Flask]) -> None:
    app = make_app(SMS_BACKEND="tencent", SMS_SIGN_NAME="测试医院")
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code != 0
    assert "SMS_SDK_APP_ID" in result.output and "SMS_TEMPLATES['recheck-reminder']['zh']" in result.output


# -- nothing about health in any text -------------------------------------------------------------


def test_every_template_text_is_free_of_health_words_and_takes_only_fixed_shapes() -> None:
    samples = {"reference": "PS-7KQ2M9", "days": "3", "phone": TEAM_PHONE, "code": "0123456789abcdef0123"}
    for template in sms.TEMPLATES.values():
        for locale in ("zh", "en"):
            params = {name: samples[name] for name in template.params}
            text = sms.render_text(template.key, locale, params, sign_name="医院", site="https://ps.example")
            assert not any(word.lower() in text.lower() for word in HEALTH_WORDS), (template.key, locale, text)
            assert "{" not in text
    for bad in (
        {"reference": "王芳"},
        {"reference": "PS-7KQ2M9 孩子有干燥综合征"},
        {"code": "pumch-pediatric-sjogren"},
    ):
        template = "recheck-reminder" if "code" in bad else "referral-receipt"
        params = {**{n: samples[n] for n in sms.TEMPLATES[template].params}, **bad}
        with pytest.raises(ValueError):
            sms.check_params(template, params)
    with pytest.raises(ValueError):  # no extra parameter can ride along
        sms.check_params("recheck-reminder", {"code": samples["code"], "note": "x"})


# -- the re-check reminder by text, through the family's pages ------------------------------------


def reminder_post(client: FlaskClient, **data: str) -> Any:
    return client.post("/volunteer/reminder", data={**data, "csrf_token": csrf(client, "/volunteer/reminder")})


def test_a_family_chooses_a_text_for_the_recheck_reminder(make_app: Callable[..., Flask]) -> None:
    app = make_app(PUBLIC_URL="https://ps.example", RATELIMIT_ENABLED=False, SMS_SIGN_NAME="北京协和医院")
    client = app.test_client()
    start(client, "guardian", "zh")
    walk(client, waiting_answers())
    result = client.get(f"{BASE}/result").get_data(as_text=True)
    assert "到时用短信或邮件提醒我" in result
    page = client.get("/volunteer/reminder").get_data(as_text=True)
    assert re.search(r'<input type="radio" id="channel-sms" name="channel" value="sms" checked>', page)
    assert "短信（发到中国大陆手机号）" in page and "电子邮件" in page

    # A landline: a clear error, and what they typed stays on the page.
    response = reminder_post(client, channel="sms", phone="010 5555 0100", email="", consent="y")
    text = response.get_data(as_text=True)
    assert "短信只能发到中国大陆的手机号" in text and 'value="010 5555 0100"' in text
    assert rows(app, "SELECT count(*) FROM outbox") == [(0,)]

    # First an e-mail, then they change their mind: one reminder, now a text, and no e-mail left in it.
    reminder_post(client, channel="email", email="mama@example.com", phone="", consent="y")
    response = reminder_post(client, channel="sms", phone="138 0013 8000", email="mama@example.com", consent="y")
    assert "我们会在" in response.get_data(as_text=True) and "发一条短信" in response.get_data(as_text=True)
    ((key, channel, to, subject, body, html, headers, due),) = rows(
        app,
        "SELECT idempotency_key, channel, to_addr, subject, body_text, body_html, headers, next_attempt_at FROM outbox",
    )
    (recheck,) = rows(app, "SELECT recheck_after FROM screenings")[0]
    assert key.startswith("recheck-reminder:") and (channel, to, subject) == ("sms", PHONE, "recheck-reminder")
    assert (body, html) == ("", None) and due == f"{recheck}T01:00:00Z"
    assert set(json.loads(headers)) == {"code"}

    day = datetime.fromisoformat(due.replace("Z", "+00:00")) + timedelta(seconds=1)
    assert deliver(app, day - timedelta(days=1)) == {}, "not before the date"
    assert deliver(app, day) == {"sent": 1}
    (file,) = (Path(app.instance_path) / "sms").iterdir()
    message = json.loads(file.read_text(encoding="utf-8"))
    assert message["text"].startswith("【北京协和医院】")
    assert re.search(r"https://ps\.example/volunteer/again/[0-9a-f]{20} ", message["text"])
    assert not any(word.lower() in message["text"].lower() for word in HEALTH_WORDS)
    assert rows(app, "SELECT to_addr, status FROM outbox") == [("deleted", "sent")], "the number goes once sent"
    # The link in the text leads back to the study.
    link = re.search(r"/volunteer/again/[0-9a-f]{20}", message["text"])
    assert link and client.get(link.group(0)).headers["Location"].endswith(f"{BASE}/")


# -- the referral receipt -------------------------------------------------------------------------


def referred(app: Flask) -> FlaskClient:
    client = app.test_client()
    start(client, "guardian", "zh")
    walk(client, likely_answers())
    return client


def refer(client: FlaskClient, **changes: str) -> Any:
    data = {**referral_form(**changes), "csrf_token": csrf(client, f"{BASE}/refer")}
    return client.post(f"{BASE}/refer", data=data)


CONTACT = {"STUDY_CONTACT_PHONE": TEAM_PHONE, "STUDY_REPLY_WORKING_DAYS": 2, "RATELIMIT_ENABLED": False}


def test_the_referral_receipt_is_queued_once_with_the_reference(make_app: Callable[..., Flask]) -> None:
    app = make_app(**CONTACT)
    client = referred(app)
    form = client.get(f"{BASE}/refer").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" name="sms_receipt"[^>]*>', form)
    assert box and "checked" not in box.group(0)
    assert "请给这个手机号发一条短信" in form

    # Abroad, a text cannot be sent: the family is told, and nothing is sent to the team yet.
    response = refer(client, phone="+1 202 555 0100", sms_receipt="y")
    assert response.status_code == 400 and "短信只能发到中国大陆的手机号" in response.get_data(as_text=True)
    assert rows(app, "SELECT count(*) FROM referrals") == [(0,)]

    data = {**referral_form(phone="138 0013 8000", sms_receipt="y"), "csrf_token": csrf(client, f"{BASE}/refer")}
    assert client.post(f"{BASE}/refer", data=data).status_code == 303
    assert client.post(f"{BASE}/refer", data=data).status_code == 303  # a double tap
    ((rid, reference),) = rows(app, "SELECT id, reference FROM referrals")
    ((key, channel, to, template, headers, locale),) = rows(
        app, "SELECT idempotency_key, channel, to_addr, subject, headers, locale FROM outbox"
    )
    assert (key, channel, to, template, locale) == (f"referral-receipt:{rid}:", "sms", PHONE, "referral-receipt", "zh")
    assert json.loads(headers) == {"reference": reference, "days": "2", "phone": TEAM_PHONE}
    assert rows(app, "SELECT kind FROM consents WHERE kind = 'sms_receipt'") == [("sms_receipt",)]
    sent = client.get(f"{BASE}/sent").get_data(as_text=True)
    assert reference in sent and "我们还会把编号用短信发到您的手机上" in sent
    db = connect(app.config["DATABASE"])
    (text,) = exports.subject_record(db, rid, "user:1")["texts"]  # what "export everything" holds
    db.close()
    assert (text["to_addr"], text["template"], json.loads(text["params"])["reference"]) == (
        PHONE,
        "referral-receipt",
        reference,
    )

    # Withdrawn before the sender ran: the text never goes, and its number is gone.
    client.post(f"{BASE}/withdraw", data={"csrf_token": csrf(client, f"{BASE}/withdraw")})
    assert rows(app, "SELECT status, to_addr, headers FROM outbox") == [("suppressed", "deleted", "{}")]
    assert deliver(app, datetime.now(UTC) + timedelta(seconds=1)) == {}


def test_no_receipt_is_offered_without_the_teams_number_and_days(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=False, STUDY_CONTACT_EMAIL="team@pumch.example")
    client = referred(app)
    assert 'name="sms_receipt"' not in client.get(f"{BASE}/refer").get_data(as_text=True)
    assert refer(client, phone="138 0013 8000", sms_receipt="y").status_code == 303  # a hand-made tick
    assert rows(app, "SELECT count(*) FROM outbox WHERE channel = 'sms'") == [(0,)]
    assert rows(app, "SELECT count(*) FROM consents WHERE kind = 'sms_receipt'") == [(0,)]

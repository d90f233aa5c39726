"""Mail end to end against a real SMTP server on loopback (aiosmtpd): opt-in, notices, retries, bounces.

Each test starts its own server on a free port with a handler that records what it accepts, and
can answer RCPT with a scripted code first (451, 550) to play a greylisting or a bouncing server.
"""

from __future__ import annotations

import email
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from prescreen.mail.send import deliver_due, make_backend
from prescreen.store import connect, outbox

STUDY = "pumch-pediatric-sjogren"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: Words that would tell a reader something about a child's health or a screening result.
HEALTH_WORDS = ["eligible", "diagnos", "recheck", "10-13", "10–13", "不符合", "符合条件", "诊断"]


class Recorder:
    """An aiosmtpd handler that keeps each accepted message; ``rcpt_script`` answers RCPT first."""

    def __init__(self, rcpt_script: list[str] | None = None) -> None:
        self.rcpt_script = list(rcpt_script or [])
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            scripted = self.rcpt_script.pop(0) if self.rcpt_script else None
        if scripted and not scripted.startswith("250"):
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for _, raw in self.messages]  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Recorder, int]]]:
    """Start real SMTP servers on loopback: ``recorder, port = smtp_server(rcpt_script=[...])``."""
    controllers: list[Controller] = []

    def start(handler: Any = None, rcpt_script: list[str] | None = None) -> tuple[Any, int]:
        handler = handler or Recorder(rcpt_script)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="smtp.test")
        controller.start()
        controllers.append(controller)
        return handler, port

    yield start
    for controller in controllers:
        controller.stop()


def mail_app(make_app: Callable[..., Flask], port: int, **extra: Any) -> Flask:
    return make_app(
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_TIMEOUT=5,
        MAIL_FROM="协和儿科研究 <studies@prescreen.test>",
        PUBLIC_URL="https://prescreen.test",
        **extra,
    )


def send(app: Flask, now: datetime | None = None) -> dict[str, int]:
    db = connect(app.config["DATABASE"])
    backend = make_backend(app)
    try:
        return dict(deliver_due(app, db, backend, now=now))
    finally:
        backend.close()
        db.close()


def rows(app: Flask, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    db = connect(app.config["DATABASE"])
    try:
        return db.execute(sql, params or []).fetchall()
    finally:
        db.close()


def token(client: FlaskClient, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def sign_up(client: FlaskClient, address: str, language: str, categories: list[str], age_band: str = "") -> None:
    data = {"email": address, "language": language, "categories": categories, "age_band": age_band, "consent": "y"}
    response = client.post("/volunteer/", data={**data, "csrf_token": token(client, "/volunteer/")})
    assert response.status_code == 302


def body(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_charset() == "utf-8"
    return part.get_content()


def path_of(text: str, kind: str) -> str:
    match = re.search(rf"https://prescreen\.test(/volunteer/{kind}/[\w-]+)", text)
    assert match, f"no {kind} link"
    return match.group(1)


def by_recipient(recorder: Recorder) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for (rcpts, _), message in zip(recorder.messages, recorder.parsed(), strict=True):
        assert len(rcpts) == 1
        found.setdefault(rcpts[0], []).append(message)
    return found


def test_opt_in_then_publish_reaches_only_matching_volunteers_once_in_their_language(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    recorder, port = smtp_server()
    app = mail_app(make_app, port)
    client = app.test_client()
    people = {
        "zh-sjogren@example.com": ("zh", ["sjogren"], "10-13"),  # matches
        "en-rheum@example.com": ("en", ["rheumatology"], ""),  # matches through the parent category
        "en-asthma@example.com": ("en", ["asthma"], ""),  # other category
        "zh-toddler@example.com": ("zh", ["sjogren"], "under-5"),  # too young for a 5-18 study
        "never-confirmed@example.com": ("en", ["sjogren"], ""),  # did not confirm
    }
    for address, (language, categories, band) in people.items():
        sign_up(client, address, language, categories, band)
    assert send(app) == {"sent": 5}
    confirmations = by_recipient(recorder)
    assert sorted(confirmations) == sorted(people) and all(len(m) == 1 for m in confirmations.values())
    subject = str(confirmations["zh-sjogren@example.com"][0]["Subject"])
    assert subject == "北京协和医院：请确认您的邮箱，以便接收新研究通知"

    for address in list(people)[:4]:
        confirm_path = path_of(body(confirmations[address][0]), "confirm")
        assert client.post(confirm_path, data={"csrf_token": token(client, confirm_path)}).status_code == 200
    recorder.messages.clear()

    result = app.test_cli_runner().invoke(args=["studies", "publish", STUDY])
    assert result.exit_code == 0 and "2 volunteer e-mail(s) queued" in result.output
    assert send(app) == {"sent": 2}
    notices = by_recipient(recorder)
    assert sorted(notices) == ["en-rheum@example.com", "zh-sjogren@example.com"]
    zh, en = notices["zh-sjogren@example.com"][0], notices["en-rheum@example.com"][0]
    assert str(zh["Subject"]) == "北京协和医院：有一项新研究正在招募参加者"
    assert str(en["Subject"]) == "Peking Union Medical College Hospital: a new study is looking for volunteers"
    assert "利妥昔单抗序贯贝利尤单抗" in body(zh) and "北京协和医院" in body(zh)
    assert "Belimumab after rituximab" in body(en) and "Peking Union Medical College Hospital" in body(en)

    raw = {rcpts[0]: data for rcpts, data in recorder.messages}
    for address, message in notices.items():
        check_headers_and_privacy(message[0], raw[address], address, people)

    # Publishing again (or reopening) tells nobody twice.
    again = app.test_cli_runner().invoke(args=["studies", "publish", STUDY])
    assert "0 volunteer e-mail(s) queued" in again.output
    assert send(app) == {}
    assert len(recorder.messages) == 2


def check_headers_and_privacy(message: EmailMessage, raw: bytes, address: str, people: dict[str, Any]) -> None:
    """RFC 2369/8058 headers, UTF-8 parts, working links, and nothing about anybody else."""
    assert message.get_content_type() == "multipart/alternative"
    assert re.search(rb"^Subject: =\?utf-8\?", raw, re.M | re.I) or address.startswith("en-")
    assert [a for _, a in getaddresses([str(message["To"])])] == [address]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.search(rb"^List-Unsubscribe: <https://prescreen\.test/volunteer/unsubscribe/", raw, re.M), "not encoded"
    assert re.search(rb"^Content-Language: (zh-CN|en)\r?$", raw, re.M)
    assert all(byte < 128 for byte in raw), "7-bit clean on the wire"
    targets = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert [t.split(":", 1)[0] for t in targets] == ["https", "mailto"]
    text, html = body(message), body(message, "html")
    assert f"https://prescreen.test/s/{STUDY}/" in text and f'href="https://prescreen.test/s/{STUDY}/"' in html
    assert path_of(text, "unsubscribe") == targets[0].removeprefix("https://prescreen.test")
    assert path_of(text, "manage")
    decoded = raw.decode("ascii", "replace") + text + html
    for other in people:
        if other != address:
            assert other not in decoded
    lowered = (text + html).lower()
    assert not [w for w in HEALTH_WORDS if w in lowered]


def test_one_click_unsubscribe_from_the_received_header_stops_further_notices(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    recorder, port = smtp_server()
    app = mail_app(make_app, port)
    client = app.test_client()
    sign_up(client, "leaver@example.com", "en", ["sjogren"])
    send(app)
    confirm_path = path_of(body(recorder.parsed()[0]), "confirm")
    client.post(confirm_path, data={"csrf_token": token(client, confirm_path)})
    https = re.findall(r"<([^>]+)>", str(recorder.parsed()[0]["List-Unsubscribe"]))[0]
    response = app.test_client(use_cookies=False).post(
        https.removeprefix("https://prescreen.test"), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert app.test_cli_runner().invoke(args=["studies", "publish", STUDY]).exit_code == 0
    assert send(app) == {}
    assert len(recorder.messages) == 1


def queue(app: Flask, key: str, to_addr: str = "team@example.com", kind: str = "referral-alert") -> None:
    """A row as another area writes it (the study team's referral alert), to show the sender takes all kinds."""
    db = connect(app.config["DATABASE"])
    try:
        outbox.enqueue(
            db,
            key=key,
            kind=kind,
            to_addr=to_addr,
            locale="zh",
            subject="新的转介等待处理 / A new referral is waiting",
            body_text="请登录查看。\nPlease sign in: https://prescreen.test/coordinator/referrals/1",
        )
    finally:
        db.close()


def test_a_451_is_retried_later_and_then_delivered_once(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    recorder, port = smtp_server(rcpt_script=["451 4.7.1 Greylisted, try again later"])
    app = mail_app(make_app, port)
    queue(app, "referral-alert:1")
    start = datetime.now(UTC)
    assert send(app, now=start) == {"retried": 1}
    assert recorder.messages == []
    ((status, attempts, due, error),) = rows(app, "SELECT status, attempts, next_attempt_at, last_error FROM outbox")
    assert (status, attempts) == ("pending", 1) and error.startswith("451")
    assert due == outbox.iso(start + timedelta(seconds=60))
    assert send(app, now=start + timedelta(seconds=30)) == {}, "not before its time"
    assert send(app, now=start + timedelta(seconds=61)) == {"sent": 1}
    assert len(recorder.messages) == 1
    message = recorder.parsed()[0]
    assert str(message["Subject"]) == "新的转介等待处理 / A new referral is waiting"
    assert message.get_content_type() == "text/plain" and "请登录查看" in message.get_content()
    assert rows(app, "SELECT status, attempts FROM outbox") == [("sent", 2)]
    assert rows(app, "SELECT count(*) FROM suppressions") == [(0,)]


def test_temporary_failures_back_off_exponentially_then_give_up_without_suppressing(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    recorder, port = smtp_server(rcpt_script=["421 4.3.2 Service not available"] * 10)
    app = mail_app(make_app, port, MAIL_MAX_ATTEMPTS=4, MAIL_RETRY_SECONDS=60)
    queue(app, "referral-alert:2")
    now = datetime.now(UTC).replace(microsecond=0)
    delays = []
    for _ in range(4):
        send(app, now=now)
        ((status, due),) = rows(app, "SELECT status, next_attempt_at FROM outbox")
        due_at = datetime.fromisoformat(due.replace("Z", "+00:00"))
        delays.append(int((due_at - now).total_seconds()))
        now = due_at
    assert delays[:3] == [60, 120, 240]
    assert status == "failed" and recorder.messages == []
    assert rows(app, "SELECT count(*) FROM suppressions") == [(0,)]


def test_connection_refused_is_a_temporary_failure(make_app: Callable[..., Flask]) -> None:
    app = mail_app(make_app, free_port())  # nobody listens there
    queue(app, "referral-alert:3")
    assert send(app) == {"retried": 1}
    assert rows(app, "SELECT status, attempts FROM outbox") == [("pending", 1)]


def test_a_550_fails_the_row_and_suppresses_the_address_for_later_sends(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    recorder, port = smtp_server(rcpt_script=["550 5.1.1 No such user here"])
    app = mail_app(make_app, port)
    queue(app, "referral-alert:4", to_addr="gone@example.com")
    queue(app, "referral-alert:5", to_addr="fine@example.com")
    assert send(app) == {"bounced": 1, "sent": 1}
    assert rows(app, "SELECT email FROM suppressions") == [("gone@example.com",)]
    queue(app, "referral-alert:6", to_addr="Gone@Example.com")
    assert send(app) == {}
    statuses = rows(app, "SELECT idempotency_key, status FROM outbox ORDER BY id")
    expected = [("referral-alert:4", "failed"), ("referral-alert:5", "sent"), ("referral-alert:6", "suppressed")]
    assert statuses == expected
    assert [r[0] for r in recorder.messages] == [["fine@example.com"]]


def test_a_550_for_the_team_address_never_silences_later_alerts_and_the_queue_warns(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    """The study team's mailbox was full one day: the next alert is still tried, and the queue says so meanwhile."""
    from tests.helpers.staff import add_user, login

    recorder, port = smtp_server(rcpt_script=["550 5.2.2 Mailbox full"])
    app = mail_app(make_app, port, STUDY_TEAM_EMAIL="研究团队 <Team@PUMCH.example>")
    add_user(app)
    client = app.test_client()
    login(client)
    warning = "An alert e-mail to the study team could not be delivered on"
    assert warning not in client.get("/coordinator/").get_data(as_text=True)
    queue(app, "referral-alert:1", to_addr="研究团队 <Team@PUMCH.example>")
    assert send(app) == {"bounced": 1}
    assert rows(app, "SELECT status FROM outbox") == [("failed",)]
    assert rows(app, "SELECT count(*) FROM suppressions") == [(0,)]
    ((failed_at,),) = rows(app, "SELECT failed_at FROM outbox")
    beijing = datetime.fromisoformat(failed_at).astimezone(timezone(timedelta(hours=8)))
    page = client.get("/coordinator/").get_data(as_text=True)
    assert f"{warning} {beijing:%Y-%m-%d %H:%M} (Beijing time)" in page
    assert "referral-alert" not in page and "/coordinator/referrals/1" not in page
    zh = client.get("/coordinator/?lang=zh").get_data(as_text=True)
    assert "发给研究团队的提醒邮件" in zh and f"{beijing:%Y-%m-%d %H:%M}" in zh
    # An address suppressed before this was fixed is not a reason to skip the team either.
    db = connect(app.config["DATABASE"])
    db.execute("INSERT INTO suppressions (email, reason, created_at) VALUES ('team@pumch.example', 'bounce', 'x')")
    db.close()
    queue(app, "referral-alert:2", to_addr="team@pumch.example")
    assert send(app) == {"sent": 1}
    assert [r[0] for r in recorder.messages] == [["team@pumch.example"]]
    assert rows(app, "SELECT status FROM outbox ORDER BY id") == [("failed",), ("sent",)]
    assert warning not in client.get("/coordinator/?lang=en").get_data(as_text=True)


def test_an_alert_that_runs_out_of_retries_also_warns_the_queue(
    make_app: Callable[..., Flask], smtp_server: Callable[..., tuple[Recorder, int]]
) -> None:
    from tests.helpers.staff import add_user, login

    recorder, port = smtp_server(rcpt_script=["451 4.3.0 Try later"] * 2)
    app = mail_app(make_app, port, MAIL_MAX_ATTEMPTS=2, STUDY_TEAM_EMAIL="team@pumch.example")
    queue(app, "referral-alert:1", to_addr="team@pumch.example")
    now = datetime.now(UTC)
    assert send(app, now=now) == {"retried": 1}
    assert send(app, now=now + timedelta(minutes=5)) == {"failed": 1}
    add_user(app)
    client = app.test_client()
    login(client)
    page = client.get("/coordinator/").get_data(as_text=True)
    assert "An alert e-mail to the study team could not be delivered on" in page


def test_file_backend_writes_one_eml_per_row(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    queue(app, "referral-alert:7")
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "1 sent" in result.output
    (eml,) = list((Path(app.instance_path) / "mail").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(message["Subject"]) == "新的转介等待处理 / A new referral is waiting"
    assert app.test_cli_runner().invoke(args=["mail", "send"]).output.strip() == "mail: nothing due"

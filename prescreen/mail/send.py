"""Delivering the outbox: ``prescreen mail send [--loop] [--batch N]``.

One row at a time: claim it (a short transaction), hand it to the backend, mark it sent at once.
Texts (SMS rows, see :mod:`.sms`) go the same way through the SMS backend: the same claims,
retries and idempotency, one sender for both.
A temporary failure (SMTP 4xx, no connection) is retried after a delay that doubles each time, up
to ``MAIL_MAX_ATTEMPTS``; a permanent one (5xx) fails the row and suppresses the address (never
one of the study team's configured addresses: their failed alert shows on the queue instead). The
sender kills cleanly between messages on SIGTERM; killed harder, it leaves at most the one row it
was handing off to be sent again once its claim runs out.
"""

from __future__ import annotations

import hashlib
import os
import signal
import smtplib
import socket
import time
from collections import Counter
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol

import click
import sqlite_utils
from flask import Flask, current_app
from flask.cli import AppGroup

from .. import clock
from ..store import connect, outbox, retention
from . import sms
from .failures import PermanentFailure, TemporaryFailure
from .render import sender_names

#: CRLF and RFC 2047 for non-ASCII, as ``policy.SMTP``, but folding only past 998 characters
#: (RFC 5322's limit): folded at 78, a long ASCII header such as ``List-Unsubscribe`` is turned
#: into encoded words, and mail programs no longer find the ``<https://…>`` in it.
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


class Backend(Protocol):
    """Where messages go: a folder of .eml files or an SMTP server."""

    def send(self, message: EmailMessage, to_addr: str, row_id: int) -> None: ...

    def close(self) -> None: ...


def build_message(row: dict[str, Any], mail_from: str, sender_name: str | None = None) -> EmailMessage:
    """Turn an outbox row into a UTF-8 multipart message (text, plus HTML when there is one).

    ``policy.SMTP`` gives CRLF line ends and RFC 2047-encoded headers, so a Chinese subject
    and sender name arrive intact. The sender is MAIL_FROM's address under *sender_name* (the
    site's name in the e-mail's language; MAIL_FROM's own display name when None). The
    Message-ID comes from the idempotency key, so should a crash make us send a row twice,
    mail programs can tell the two copies are one message.
    """
    message = EmailMessage(policy=SMTP_POLICY)
    configured_name, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(row["idempotency_key"].encode("utf-8")).hexdigest()[:32]
    message["From"] = Address(display_name=sender_name or configured_name, addr_spec=address)
    message["To"] = row["to_addr"]
    message["Subject"] = row["subject"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{digest}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (row.get("headers") or {}).items():
        message[name] = value
    # base64: 7-bit safe through any relay, even one without 8BITMIME.
    message.set_content(row["body_text"], charset="utf-8", cte="base64")
    if row.get("body_html"):
        message.add_alternative(row["body_html"], subtype="html", charset="utf-8", cte="base64")
    # After set_content, which drops every Content-* header set before it.
    message["Content-Language"] = "zh-CN" if row["locale"] == "zh" else "en"
    return message


class FileBackend:
    """The embedded default: one ``<outbox id>.eml`` per row under ``<instance>/mail/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def send(self, message: EmailMessage, to_addr: str, row_id: int) -> None:
        # Named by row: a row sent again after a crash overwrites its file, never duplicates it.
        target = self.folder / f"{row_id:08d}.eml"
        partial = target.with_suffix(".eml.partial")
        # 0600: a message holds a family's or volunteer's address (and a study team alert's link).
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a partial file left by an older version may have been 0644
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(partial, target)  # never a half-written .eml

    def close(self) -> None:
        pass


class SmtpBackend:
    """SMTP with an optional STARTTLS and login; one connection kept for a whole batch."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.envelope_from = parseaddr(config["MAIL_FROM"])[1]
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        conn = smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=float(cfg["SMTP_TIMEOUT"]))
        if cfg["SMTP_STARTTLS"]:
            conn.starttls()
        if cfg["SMTP_USERNAME"]:
            conn.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
        return conn

    def send(self, message: EmailMessage, to_addr: str, row_id: int) -> None:
        try:
            if self.conn is None:
                self.conn = self._connect()
            self.conn.send_message(message, from_addr=self.envelope_from, to_addrs=[to_addr])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text) from None
        except smtplib.SMTPSenderRefused as exc:
            # Our own sender address was refused: our configuration, not the recipient's fault.
            raise TemporaryFailure(f"{exc.smtp_code} sender refused: {_text(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.conn = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _classify(code: int, text: bytes | str) -> Exception:
    message = f"{code} {_text(text)}"
    return PermanentFailure(message) if 500 <= code < 600 else TemporaryFailure(message)


def make_backend(app: Flask) -> Backend:
    """The backend ``MAIL_BACKEND`` names."""
    name = app.config["MAIL_BACKEND"]
    if name == "file":
        return FileBackend(Path(app.instance_path) / "mail")
    if name == "smtp":
        return SmtpBackend(app.config)
    raise click.ClickException(f"PRESCREEN_MAIL_BACKEND must be 'file' or 'smtp', not {name!r}")


def make_sms_backend(app: Flask) -> sms.SmsBackend:
    """The backend ``SMS_BACKEND`` names; refuses a ``tencent`` backend that lacks a setting it needs."""
    cfg = app.config
    name = cfg["SMS_BACKEND"]
    if name == "file":
        sign = cfg.get("SMS_SIGN_NAME") or "signature not set"
        return sms.FileSmsBackend(Path(app.instance_path) / "sms", sign, cfg["PUBLIC_URL"])
    if name == "tencent":
        missing = sms.missing_settings(cfg)
        if missing:
            raise click.ClickException(f"PRESCREEN_SMS_BACKEND=tencent needs {', '.join(missing)}")
        return sms.TencentSmsBackend(cfg)
    raise click.ClickException(f"PRESCREEN_SMS_BACKEND must be 'file' or 'tencent', not {name!r}")


#: Settings that name the study team's own addresses (and each STUDY_CONTACTS e-mail): a bounce
#: never suppresses these.
TEAM_ADDRESS_SETTINGS = ("STUDY_TEAM_EMAIL", "STUDY_CONTACT_EMAIL")


def team_addresses(config: Any) -> frozenset[str]:
    """The study team's configured addresses, lower-cased (``Name <addr>`` forms reduced to addr).

    A bounce from one of these is the team's problem to fix, not a reason to stop alerting them:
    the failed row stays visible on the queue and the next alert is tried as usual.
    """
    found: set[str] = set()
    per_study = [entry.get("email") for entry in (config.get("STUDY_CONTACTS") or {}).values()]
    for value in [config.get(key) for key in TEAM_ADDRESS_SETTINGS] + per_study:
        if isinstance(value, str) and value.strip():
            found.add(value.strip().lower())
            found.add(parseaddr(value)[1].lower())
    found.discard("")
    return frozenset(found)


def deliver_due(
    app: Flask,
    db: sqlite_utils.Database,
    backend: Backend,
    *,
    sms_backend: sms.SmsBackend | None = None,
    batch: int = 50,
    now: datetime | None = None,
    stop: Any = None,
) -> Counter[str]:
    """Deliver up to *batch* due rows, e-mails and texts alike; return how many were sent, retried, failed or bounced.

    Texts go to *sms_backend*, by default the one ``SMS_BACKEND`` names (made on the first text).
    """
    cfg = app.config
    protected = team_addresses(cfg)
    claimer = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
    lease = timedelta(seconds=int(cfg["MAIL_LEASE_SECONDS"]))
    base = timedelta(seconds=int(cfg["MAIL_RETRY_SECONDS"]))
    result: Counter[str] = Counter()
    with app.app_context():
        names = sender_names()
    for _ in range(batch):
        if stop is not None and stop():
            break
        moment = now or clock.now()
        row = outbox.claim_next(db, claimer, moment, lease, protected)
        if row is None:
            break
        try:
            if row["channel"] == "sms":
                sms_backend = sms_backend or make_sms_backend(app)
                sms_backend.send(row)
            else:
                message = build_message(row, cfg["MAIL_FROM"], names.get(row["locale"]))
                backend.send(message, row["to_addr"], row["id"])
        except PermanentFailure as exc:
            outbox.mark_bounced(db, row["id"], str(exc), protected)
            result["bounced"] += 1
        except Exception as exc:  # noqa: BLE001 — a bad row must not stop the queue; it is retried
            status = outbox.mark_retry(db, row["id"], str(exc), moment, base, int(cfg["MAIL_MAX_ATTEMPTS"]))
            result["failed" if status == "failed" else "retried"] += 1
            if not isinstance(exc, TemporaryFailure):
                app.logger.exception("outbox row %s could not be built or sent", row["id"])
        else:
            outbox.mark_sent(db, row["id"])
            result["sent"] += 1
    return result


def tidy(app: Flask, db: sqlite_utils.Database, now: datetime | None = None) -> dict[str, int]:
    """Retention for mail, run by every sender round (the volunteer area's recurring job).

    Unconfirmed sign-ups go once their links expire; finished outbox rows lose their address and
    body after ``MAIL_KEEP_DAYS``.
    """
    keep = timedelta(days=int(app.config["MAIL_KEEP_DAYS"]))
    return retention.mail(db, now or clock.now(), keep)


@click.group("mail", cls=AppGroup)
def mail_cli() -> None:
    """Deliver the outbox (volunteer e-mails, re-check reminders, study-team alerts, texts to families)."""


@mail_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running as a worker (stop with SIGTERM or Ctrl-C).")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Rows per round.")
def send_command(loop: bool, batch: int) -> None:
    """Send every e-mail and text that is due, once; with --loop, keep doing so."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stopping = {"now": False}

    def request_stop(signum: int, frame: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    backend = make_backend(app)
    texts = make_sms_backend(app)  # a misconfigured SMS backend stops here, before anything is claimed
    db = connect(app.config["DATABASE"])
    try:
        while True:
            tidy(app, db)
            result = deliver_due(app, db, backend, sms_backend=texts, batch=batch, stop=lambda: stopping["now"])
            if result or not loop:
                summary = ", ".join(f"{n} {what}" for what, n in sorted(result.items())) or "nothing due"
                click.echo(f"mail: {summary}")
            if not loop or stopping["now"]:
                break
            if sum(result.values()) < batch:
                backend.close()
                for _ in range(int(app.config["MAIL_POLL_SECONDS"]) * 10):
                    if stopping["now"]:
                        break
                    time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        backend.close()
        texts.close()
        db.close()

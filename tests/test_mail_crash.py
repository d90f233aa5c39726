"""A sender killed with SIGKILL mid-batch loses no row and sends at most the in-flight one twice.

``prescreen mail send`` runs as a real subprocess against a real SMTP server on loopback. The
server stalls on the third message, either before accepting its recipient (the hand-off has not
happened) or after storing its content but before answering (the hand-off happened and the
sender never heard). We SIGKILL the sender there, let the claim run out, and send again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.test_mail import Recorder, mail_app, queue, rows, send
from tests.test_mail import smtp_server as smtp_server  # noqa: F401 — the fixture, reused

PRESCREEN = str(Path(sys.executable).parent / "prescreen")


class Stalling(Recorder):
    """Stalls the *nth* message at ``rcpt`` (before hand-off) or ``data`` (after it) until released."""

    def __init__(self, nth: int, where: str) -> None:
        super().__init__()
        self.nth, self.where = nth, where
        self.rcpts = 0
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def _stall(self) -> None:
        self.stalled.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpts += 1
        if self.where == "rcpt" and self.rcpts == self.nth:
            await self._stall()
            return "451 4.3.0 Sender went away"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.where == "data" and len(self.messages) == self.nth:
            await self._stall()
        return answer


@pytest.mark.parametrize(("where", "expected_total"), [("rcpt", 5), ("data", 6)])
def test_sender_killed_mid_batch_loses_nothing_and_duplicates_at_most_one(
    make_app: Callable[..., Flask],
    smtp_server: Callable[..., Any],  # noqa: F811 — the fixture imported above
    where: str,
    expected_total: int,
) -> None:
    handler = Stalling(nth=3, where=where)
    _, port = smtp_server(handler=handler)
    app = mail_app(make_app, port, MAIL_LEASE_SECONDS=1)
    for n in range(5):
        queue(app, f"referral-alert:{n}", to_addr=f"team{n}@example.com")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PRESCREEN_", "FLASK_"))},
        # production refuses a weak key and a plain-http address
        "PRESCREEN_SECRET_KEY": "b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f",
        "PRESCREEN_PUBLIC_URL": "https://prescreen.test",
        "PRESCREEN_STUDY_CONTACT_PHONE": "+86 10 5555 0100",  # and a recruiting study's team reachable
        "PRESCREEN_INSTANCE_PATH": app.instance_path,
        "PRESCREEN_DATABASE": app.config["DATABASE"],
        "PRESCREEN_MAIL_BACKEND": "smtp",
        "PRESCREEN_SMTP_HOST": "127.0.0.1",
        "PRESCREEN_SMTP_PORT": str(port),
        "PRESCREEN_SMTP_TIMEOUT": "20",
        "PRESCREEN_MAIL_LEASE_SECONDS": "1",
        "PRESCREEN_MAIL_FROM": "studies@prescreen.test",
    }
    sender = subprocess.Popen([PRESCREEN, "mail", "send", "--batch", "10"], env=env, stderr=subprocess.PIPE)  # noqa: S603
    try:
        assert handler.stalled.wait(timeout=60), sender.stderr.read() if sender.poll() is not None else "no stall"
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    finally:
        if sender.poll() is None:
            sender.kill()
        handler.release.set()
        if sender.stderr:
            sender.stderr.close()
    assert rows(app, "SELECT count(*), sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) FROM outbox") == [(5, 2)], (
        "nothing lost, none marked"
    )

    time.sleep(1.2)  # the dead sender's claim runs out
    assert send(app) == {"sent": 3}
    assert rows(app, "SELECT count(*) FROM outbox WHERE status = 'sent'") == [(5,)]
    received = Counter(str(m["Message-ID"]) for m in handler.parsed())
    assert len(received) == 5, "every row arrived"
    assert sum(received.values()) == expected_total
    assert max(received.values()) <= 2, "at most the one in-flight message twice"


def test_loop_worker_delivers_new_rows_and_stops_cleanly_on_sigterm(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PRESCREEN_", "FLASK_"))},
        # production refuses a weak key and a plain-http address
        "PRESCREEN_SECRET_KEY": "b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f",
        "PRESCREEN_PUBLIC_URL": "https://prescreen.test",
        "PRESCREEN_STUDY_CONTACT_PHONE": "+86 10 5555 0100",  # and a recruiting study's team reachable
        "PRESCREEN_INSTANCE_PATH": app.instance_path,
        "PRESCREEN_DATABASE": app.config["DATABASE"],
        "PRESCREEN_MAIL_POLL_SECONDS": "1",
    }
    worker = subprocess.Popen([PRESCREEN, "mail", "send", "--loop"], env=env, stdout=subprocess.PIPE)  # noqa: S603
    try:
        queue(app, "referral-alert:loop")
        deadline = time.monotonic() + 30
        while rows(app, "SELECT status FROM outbox") != [("sent",)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rows(app, "SELECT status FROM outbox") == [("sent",)]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        if worker.stdout:
            worker.stdout.close()
    assert (Path(app.instance_path) / "mail" / "00000001.eml").exists()

"""`make run` as a developer starts it: the page is served, and mail reaches instance/mail/ by itself.

Before, nothing reached ``instance/mail/`` until someone ran ``prescreen mail send``, and every
link in it pointed at port 5000 whatever ``PORT`` was.
"""

from __future__ import annotations

import email
import email.policy
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 — our own loopback server
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_make_run_serves_and_delivers_mail_with_links_on_the_served_port(tmp_path: Path) -> None:
    port = free_port()
    instance = tmp_path / "instance"
    env = {**os.environ, "PORT": str(port), "PRESCREEN_INSTANCE_PATH": str(instance)}
    env["PRESCREEN_MAIL_POLL_SECONDS"] = "1"
    env.pop("PRESCREEN_PUBLIC_URL", None)
    env.pop("PRESCREEN_ENV", None)
    make = subprocess.Popen(  # noqa: S603
        ["make", "-s", "run"],  # noqa: S607 — the README's own command
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", 60)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = browser.open(f"{base}/volunteer/", timeout=10).read().decode()
        token = CSRF.search(page).group(1)
        form = {"csrf_token": token, "email": "parent@example.com", "language": "zh", "categories": "sjogren"}
        form |= {"age_band": "10-13", "consent": "y"}
        browser.open(f"{base}/volunteer/", data=urllib.parse.urlencode(form).encode(), timeout=10).close()
        deadline = time.monotonic() + 30
        mail = instance / "mail"
        while time.monotonic() < deadline and not list(mail.glob("*.eml")):
            time.sleep(0.2)
        (eml,) = list(mail.glob("*.eml"))
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert f"{base}/volunteer/confirm/" in text  # the link works on the port being served
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=20)

"""Shared pieces of the load benchmark and the fault tests: a real gunicorn, a real HTTP client.

Everything runs on loopback: gunicorn is started on a free 127.0.0.1 port with its own temporary
instance folder and database, and every request loop is bounded in count and time.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Where gunicorn's workers keep the heartbeat file they touch on every request: in memory, as
#: in the README's production command (gunicorn makes its own file there with ``mkstemp``).
HEARTBEAT_DIR = "/dev/shm"  # noqa: S108
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def heartbeat_args() -> list[str]:
    """``--worker-tmp-dir /dev/shm`` where that exists (every Linux); gunicorn's default otherwise."""
    return ["--worker-tmp-dir", HEARTBEAT_DIR] if os.path.isdir(HEARTBEAT_DIR) else []


def gunicorn_options(
    workers: int, threads: int, worker_class: str = "gthread", extra_args: list[str] | None = None
) -> list[str]:
    """The options :func:`start_server` gives gunicorn (reports print them as they were run)."""
    return ["-w", str(workers), "-k", worker_class, "--threads", str(threads), *heartbeat_args(), *(extra_args or [])]


@dataclass
class Server:
    """A gunicorn process serving prescreen on loopback."""

    port: int
    instance: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.instance / "prescreen.sqlite3"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the master and every worker (SIGKILL to the process group simulates a crash)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def start_server(
    instance: Path,
    workers: int = 4,
    threads: int = 4,
    worker_class: str = "gthread",
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    app: str = "prescreen:create_app()",
    ready_path: str = "/healthz",
    extra_args: list[str] | None = None,
) -> Server:
    """Start gunicorn the way the README documents, wait for ``ready_path``, return the server.

    ``app`` is the WSGI app to load (the load benchmark also serves bench/reference_app.py);
    ``extra_args`` go to gunicorn before it.
    """
    instance.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {
        **os.environ,
        "PRESCREEN_INSTANCE_PATH": str(instance),
        # production refuses a weaker key than 32 bytes, and a plain-http address
        "PRESCREEN_SECRET_KEY": "b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f",
        "PRESCREEN_PUBLIC_URL": "https://prescreen.test",
        # and a recruiting study's team must be reachable
        "PRESCREEN_STUDY_CONTACT_PHONE": "+86 10 5555 0100",
        # plain http on loopback: a Secure cookie would never come back
        "PRESCREEN_SESSION_COOKIE_SECURE": "false",
        "PRESCREEN_RATELIMIT_ENABLED": "false",
        **(extra_env or {}),
    }
    log = instance / "gunicorn.log"
    args = [
        str(BIN / "gunicorn"),
        *gunicorn_options(workers, threads, worker_class, extra_args),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        # bench/ on the path only for an app of the benchmark's own (prescreen: as documented)
        *([] if app.startswith("prescreen:") else ["--pythonpath", str(ROOT / "bench")]),
        app,
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(port, instance, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"gunicorn did not answer {ready_path} within 60 s")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def csrf(self) -> str | None:
        match = CSRF_RE.search(self.text)
        return match.group(1) if match else None


@dataclass
class Client:
    """One family's browser: a keep-alive connection and its own cookies (no redirects followed)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    _conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str | list[str]] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        headers = {"Accept-Encoding": "identity", "Accept-Language": "zh-CN,zh;q=0.9", **(extra_headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self._conn.request(method, path, body=body, headers=headers)
                raw = self._conn.getresponse()
                data = raw.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                self._conn.close()
                self._conn = None
                if attempt == 2 or method != "GET":
                    raise
                continue
            seconds = time.perf_counter() - started
            for name, value in raw.getheaders():
                if name.lower() == "set-cookie":
                    cookie = value.split(";", 1)[0]
                    key, _, val = cookie.partition("=")
                    if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = val
            if raw.getheader("Connection", "").lower() == "close":
                self._conn.close()
                self._conn = None
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data, seconds)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by every live process in process group *pgid*.

    The server's CPU per request is what a faster page saves, whatever the client costs and
    however many cores the machine has; it is read from ``/proc`` (Linux), 0.0 elsewhere.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp ... utime is field 14, stime 15 (1-based, man 5 proc)
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds (nearest-rank)."""
    if not samples:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "n": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))] * 1000

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "n": len(ordered),
        "mean": statistics.fmean(ordered) * 1000,
    }


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))

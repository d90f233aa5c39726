"""Real PostgreSQL and Redis servers for the tests, started in a temporary folder and stopped after.

Both come from Debian's packages (``make system-deps`` installs them); nothing here installs
anything. When the tests run as root (CI, a fresh machine), the servers run as the unprivileged
user ``nobody``: PostgreSQL refuses to run as root, and a test server has no business with root's
rights anyway. They listen on loopback only, on a free port, with their sockets and data inside the
temporary folder, so two test processes (pytest-xdist workers) each get their own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> tuple[list[str], int | None, int | None]:
    """How to run a server: as ``nobody`` when we are root (command prefix, uid, gid), else as ourselves."""
    if os.geteuid() != 0:
        return [], None, None
    nobody = pwd.getpwnam("nobody")
    prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"]
    return prefix, nobody.pw_uid, nobody.pw_gid


def _private_dir(prefix: str) -> Path:
    """A fresh temporary folder owned by the user the server runs as (mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _, uid, gid = _as_user()
    if uid is not None:
        os.chown(path, uid, gid or 0)
    return path


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within 30 s: {log.read_text(errors='replace')[-2000:]}")


def postgres_bin(name: str) -> str:
    """The newest installed PostgreSQL server program *name* (Debian keeps them off the PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run `make system-deps` (Debian package postgresql)")
    return found[-1]


@dataclass
class Postgres:
    """A running PostgreSQL server; :meth:`url` names a database on it."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    user: str = "prescreen"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database *name* and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres(*, fsync: bool = False) -> Iterator[Postgres]:
    """Start a throw-away PostgreSQL server (trust auth on loopback).

    fsync is off for the tests (nothing they write must survive a power cut); the benchmark turns
    it on, as a production server has it.
    """
    durable = "on" if fsync else "off"
    prefix, _, _ = _as_user()
    folder = _private_dir("prescreen-pg-")
    data, log = folder / "data", folder / "server.log"
    made = subprocess.run(
        [*prefix, postgres_bin("initdb"), "-D", str(data), "-U", "prescreen", "-A", "trust", "-E", "UTF8",
         "--locale=C.UTF-8", "--no-sync"],
        check=False, capture_output=True, text=True, cwd=folder,  # a folder the server's user may enter
    )  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({made.returncode}): {made.stderr[-2000:]}")
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*prefix, postgres_bin("postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={folder}", "-c", f"fsync={durable}", "-c", f"synchronous_commit={durable}",
             "-c", f"full_page_writes={durable}", "-c", "max_connections=200"],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
    try:
        _wait_for_port(port, process, "PostgreSQL", log)
        yield Postgres(port=port, folder=folder, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Redis:
    """A running Redis server."""

    port: int
    process: subprocess.Popen[bytes]

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        """Stop the server now (a test of what happens when Redis goes away)."""
        self.process.terminate()
        self.process.wait(timeout=20)


@contextmanager
def redis() -> Iterator[Redis]:
    """Start a throw-away Redis server on loopback, with nothing saved to disk."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(server):
        raise RuntimeError("redis-server is not installed: run `make system-deps` (Debian package redis-server)")
    prefix, _, _ = _as_user()
    folder = _private_dir("prescreen-redis-")
    log = folder / "server.log"
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*prefix, server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
    try:
        _wait_for_port(port, process, "Redis", log)
        yield Redis(port=port, process=process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)

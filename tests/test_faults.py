"""Faults: kill -9 under load, many writers at once, an online backup during writes.

Each test starts the production server (gunicorn) on a loopback port with its own database, drives
real families over HTTP, and then reads the SQLite file directly. Loops are bounded in count and
time; nothing leaves the machine.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

# SQLite's own processes, file and online backup (the PostgreSQL fault test is test_two_node_faults.py).
pytestmark = pytest.mark.sqlite_only


BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from families import SECRET, STUDY_ID, Family, Tally  # noqa: E402
from harness import ROOT, Client, start_server  # noqa: E402
from load_bench import verify  # noqa: E402

from prescreen.engine import load_study  # noqa: E402

STUDY = load_study(ROOT / "questions" / STUDY_ID)


def run_families(port: int, count: int, concurrency: int, tally: Tally, seed: int = 7, max_answers: int = 80) -> None:
    today = date.today()
    with ThreadPoolExecutor(concurrency) as pool:
        list(
            pool.map(
                lambda i: Family(port, STUDY, seed * 1000 + i, today, tally, max_answers=max_answers).run(),
                range(count),
            )
        )


def counts(database: Path) -> dict[str, int]:
    conn = sqlite3.connect(database)
    queries = {
        "screenings": "SELECT count(*) FROM screenings",
        "referrals": "SELECT count(*) FROM referrals",
        "consents": "SELECT count(*) FROM consents",
    }
    try:
        return {table: conn.execute(sql).fetchone()[0] for table, sql in queries.items()}
    finally:
        conn.close()


def healthy(port: int) -> bool:
    client = Client(port)
    try:
        return client.request("GET", "/healthz").status == 200
    finally:
        client.close()


def integrity(database: Path) -> str:
    conn = sqlite3.connect(database)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_kill_9_mid_load_loses_no_acknowledged_answer(tmp_path):
    instance = tmp_path / "instance"
    server = start_server(instance, workers=2, threads=4, extra_env={"PRESCREEN_SECRET_KEY": SECRET})
    tally = Tally()
    load = threading.Thread(target=run_families, args=(server.port, 200, 20, tally))
    load.start()
    deadline = time.monotonic() + 30
    while tally.steps < 400 and time.monotonic() < deadline:  # well into the run
        time.sleep(0.05)
    server.stop(signal.SIGKILL)  # the master and every worker, no chance to flush anything
    load.join(timeout=120)
    assert not load.is_alive()
    acknowledged = sum(len(answers) for _, answers, _ in tally.acknowledged)
    assert acknowledged > 50, "the kill must land mid-run, after real answers were saved"

    restarted = start_server(instance, workers=2, threads=4, extra_env={"PRESCREEN_SECRET_KEY": SECRET}, port=None)
    try:
        assert healthy(restarted.port)
    finally:
        restarted.stop()
    checks = verify(instance / "prescreen.sqlite3", tally)
    print(f"\nkill -9: {checks}, {acknowledged} acknowledged answers, errors {dict(tally.errors)}")
    assert checks["missing"] == 0 and checks["referrals_missing"] == 0
    assert checks["integrity_ok"]


def test_eight_processes_and_200_concurrent_families_never_see_database_is_locked(tmp_path):
    instance = tmp_path / "instance"
    server = start_server(
        instance, workers=8, threads=1, worker_class="sync", extra_env={"PRESCREEN_SECRET_KEY": SECRET}
    )
    tally = Tally()
    try:
        # 200 families at once: each consents (a new screening row) and answers its way through
        run_families(server.port, 200, 200, tally, seed=11, max_answers=4)
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    print(f"\n8 x 200: {len(tally.acknowledged)} screenings acknowledged, errors {dict(tally.errors)}")
    assert "database is locked" not in log
    assert not [e for e in tally.errors if "500" in e or "503" in e]
    rows = counts(instance / "prescreen.sqlite3")
    assert rows["screenings"] == len(tally.acknowledged)
    checks = verify(instance / "prescreen.sqlite3", tally)
    assert checks["missing"] == 0 and checks["extra_unacknowledged"] == 0 and checks["integrity_ok"]


def test_online_backup_under_load_is_consistent_and_restores(tmp_path):
    instance = tmp_path / "instance"
    server = start_server(instance, workers=2, threads=4, extra_env={"PRESCREEN_SECRET_KEY": SECRET})
    env = {
        **os.environ,
        "PRESCREEN_INSTANCE_PATH": str(instance),
        "PRESCREEN_SECRET_KEY": SECRET,
        "PRESCREEN_PUBLIC_URL": "https://prescreen.test",
        "PRESCREEN_STUDY_CONTACT_PHONE": "+86 10 5555 0100",
    }
    prescreen = Path(sys.executable).parent / "prescreen"
    tally = Tally()
    load = threading.Thread(target=run_families, args=(server.port, 80, 20, tally, 3, 12))
    try:
        load.start()
        while tally.steps < 300 and load.is_alive():
            time.sleep(0.05)
        before = counts(instance / "prescreen.sqlite3")
        during = tmp_path / "during.sqlite3"
        result = subprocess.run(  # noqa: S603 - our own CLI
            [str(prescreen), "db", "backup", str(during)], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "integrity_check ok" in result.stdout
        load.join(timeout=180)
    finally:
        server.stop()
    after = counts(instance / "prescreen.sqlite3")
    taken = counts(during)
    assert integrity(during) == "ok"
    for table in taken:  # a snapshot from the middle of the run
        assert before[table] <= taken[table] <= after[table], table

    quiet = tmp_path / "quiet.sqlite3"
    result = subprocess.run(  # noqa: S603
        [str(prescreen), "db", "backup", str(quiet)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "prescreen.sqlite3").write_bytes(quiet.read_bytes())
    server = start_server(restored, workers=1, threads=2, extra_env={"PRESCREEN_SECRET_KEY": SECRET})
    try:
        assert healthy(server.port)
    finally:
        server.stop()
    assert counts(restored / "prescreen.sqlite3") == after
    assert verify(restored / "prescreen.sqlite3", tally)["missing"] == 0


@pytest.fixture(autouse=True, scope="module")
def _keep_environment_clean():
    yield
    if str(BENCH) in sys.path:
        sys.path.remove(str(BENCH))

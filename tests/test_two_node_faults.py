"""Two gunicorn nodes on one PostgreSQL and one Redis; one is killed with -9 mid-load (issue 21).

Both nodes run the production server as the README's multi-node layout has it: their own instance
folders, one ``PRESCREEN_DATABASE_URL``, one ``PRESCREEN_RATELIMIT_STORAGE_URI``. Families are spread
over both; node A's whole process group gets SIGKILL while they answer. Every answer either node
acknowledged must be in the database, and node B must keep serving families without a restart.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import servers

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from families import SECRET, STUDY_ID, Family, Tally  # noqa: E402
from harness import ROOT, start_server  # noqa: E402
from load_bench import verify  # noqa: E402

from prescreen.engine import load_study  # noqa: E402
from tests.test_faults import healthy  # noqa: E402

STUDY = load_study(ROOT / "questions" / STUDY_ID)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[servers.Redis]:
    with servers.redis() as server:
        yield server


def families(port: int, seeds: range, tally: Tally) -> None:
    today = date.today()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda seed: Family(port, STUDY, seed, today, tally, max_answers=80).run(), seeds))


def test_kill_9_of_one_node_loses_no_acknowledged_answer_and_the_other_keeps_serving(
    tmp_path: Path, postgres_server: Any, redis_server: servers.Redis
) -> None:
    url = postgres_server.create_database("two_nodes")
    env = {
        "PRESCREEN_SECRET_KEY": SECRET,
        "PRESCREEN_DATABASE_URL": url,
        "PRESCREEN_RATELIMIT_STORAGE_URI": redis_server.url(),
    }
    node_a = start_server(tmp_path / "node-a", workers=2, threads=4, extra_env=env)
    node_b = start_server(tmp_path / "node-b", workers=2, threads=4, extra_env=env)
    tally_a, tally_b = Tally(), Tally()
    try:
        load_a = threading.Thread(target=families, args=(node_a.port, range(1000, 1100), tally_a))
        load_b = threading.Thread(target=families, args=(node_b.port, range(2000, 2100), tally_b))
        load_a.start()
        load_b.start()
        deadline = time.monotonic() + 60
        while tally_a.steps < 300 and time.monotonic() < deadline:  # well into the run
            time.sleep(0.05)
        node_a.stop(signal.SIGKILL)  # the master and its workers, nothing flushed
        load_a.join(timeout=180)
        load_b.join(timeout=180)
        assert not load_a.is_alive() and not load_b.is_alive()
        assert tally_a.steps >= 300, "the kill landed mid-run"
        assert tally_b.families_done == 100 and not tally_b.errors, f"node B kept serving: {dict(tally_b.errors)}"
        assert healthy(node_b.port)
        after = Tally()
        families(node_b.port, range(3000, 3005), after)
        assert after.families_done == 5 and not after.errors, "node B serves new families after the kill"
    finally:
        node_b.stop()
    for tally in (tally_a, tally_b):
        checks = verify(url, tally)
        print(f"\n{checks}")
        assert checks["missing"] == 0 and checks["referrals_missing"] == 0, checks
    acknowledged = sum(len(answers) for _, answers, _ in tally_a.acknowledged)
    assert acknowledged > 50, "node A had acknowledged real answers before it was killed"

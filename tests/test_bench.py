"""The quick load benchmark: real gunicorn, real HTTP, real families; ratios only, never times.

Absolute speed depends on the machine and on what else runs, so this asserts only what must hold
anywhere: no errors, every acknowledged answer in the database exactly, and chat steps within a
generous factor of the app's own minimal GET measured in the same run.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(name: str) -> ModuleType:
    """A script of bench/, imported as its own runs import it (bench/ on the path meanwhile)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_quick_benchmark_loses_nothing_and_keeps_pace_with_a_minimal_get():
    results = bench("load_bench").main(["--quick"])
    assert results["errors"] == {}
    checks = results["checks"]
    assert checks["families"] == 60
    assert checks["matched"] == 60 and checks["missing"] == 0 and checks["referrals_missing"] == 0
    assert checks["integrity_ok"]
    assert set(results["outcomes"]) <= {"likely_eligible", "needs_review", "not_eligible"}
    assert sum(results["outcomes"].values()) == 60
    # The target is >= 0.5 (not met: 0.18-0.32 in the full run; /healthz costs under 1 ms
    # of server CPU and a chat step about 3). Throughput ratios swing with whatever else the
    # machine runs, so the floor only catches a collapse; the CPU-per-request check below is the
    # steadier guard.
    assert results["ratio_app_minimal"] >= 0.04
    # the yardsticks (bench/reference_app.py) ran under the same gunicorn, without errors
    names = [row["name"] for row in results["rows"]]
    assert names[4:] == ["bare Flask GET (yardstick)", "bare Flask POST 1 insert+select"]
    assert all(row["n"] > 0 and row["rps"] > 0 for row in results["rows"][4:])
    assert not any(kind.startswith("bare Flask") for kind in results["errors"])
    chat, minimal = results["rows"][0], results["rows"][2]
    if chat["server_cpu_ms"] and minimal["server_cpu_ms"]:  # /proc readable (Linux)
        assert chat["server_cpu_ms"] <= 25 * minimal["server_cpu_ms"]
    # the verdict on each of the targets follows from the figures above it
    verdict = {t["target"]: t["met"] for t in results["targets"]}
    assert verdict["chat steps / minimal GET >= 0.5"] == (results["ratio_app_minimal"] >= 0.5)
    assert verdict["chat p99 <= 100 ms at 50 clients"] is False  # --quick runs 10 clients, never the target's 50
    assert verdict["0 errors"] and verdict["database holds exactly the acknowledged answers"]
    # bytes per response, raw and gzip (measured in wrk through zlib): pages compress well
    assert results["bytes"]["answer"] > 1000 and results["bytes"]["result"] > 1000
    for kind in ("answer", "result", "study"):
        assert 0 < results["bytes_gzip"][kind] < results["bytes"][kind]
    assert results["bytes_gzip"]["result"] < results["bytes"]["result"] / 2
    first = results["first_page"]
    assert first["requests"] <= 3 and first["gzip"] <= 15 * 1024 and first["foreign"] == []
    assert first["wire"] <= 15 * 1024  # what really crosses a slow mobile network


def test_load_curve_families_really_pause_and_lose_nothing():
    """bench/load_curve.py: its families really pause, nothing is lost, its verdict follows its figures."""
    load_curve = bench("load_curve")
    results = load_curve.main(["--quick"])
    assert results["errors"] == {}
    checks = results["checks"]
    assert checks["families"] == 40  # 20 per level, two levels, each family its own screening
    assert checks["matched"] == 40 and checks["missing"] == 0 and checks["integrity_ok"]
    unpaused, paused = results["levels"]
    assert (unpaused["pause_ms"], paused["pause_ms"]) == (0, 100)
    for level in results["levels"]:
        assert level["errors"] == 0 and level["requests"] >= 20 * 10  # every family walked the chat
    # each of the 10 connections waited at least half the mean pause before each of its requests
    # after its first, so the paused level cannot have been quicker than its share of those pauses
    assert paused["seconds"] >= (paused["requests"] / 10 - 1) * 0.050
    best = load_curve.within_target(results["levels"])
    passing = [lv for lv in results["levels"] if lv["all"]["p99"] <= load_curve.TARGET_P99_MS]
    assert (best is None) == (not passing)
    if best is not None:
        assert best["rps"] == max(lv["rps"] for lv in passing)

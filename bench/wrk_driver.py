"""Drive the load benchmark's families and baselines with wrk (C + LuaJIT) instead of Python threads.

Why: on a small machine a Python client with 50 threads competes with gunicorn for the CPU and
with itself for the GIL, so what it times is partly itself (even ``/healthz`` looked slow). wrk's
event loop costs the machine far less, and it is how the issue's reference figures were measured.

Python still decides everything a family does (``Family.prepare`` walks the questionnaire with
the real engine): the plans are written as a Lua file, ``bench/families.lua`` replays them over
HTTP with one wrk thread per connection, and the per-thread result files are read back into the
same ``Tally`` the Python driver fills, so ``load_bench.verify`` checks both alike.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from families import SECRET, STUDY_ID, Family, Tally, session_token

BENCH = Path(__file__).resolve().parent
FAMILIES_LUA = BENCH / "families.lua"
HAMMER_LUA = BENCH / "hammer.lua"
DURATION_S = 600  # wrk's -d: an upper bound only, the run is interrupted once every thread is done
TIMEOUT_S = 30  # wrk's --timeout (wrk only counts slower responses as timeouts, it never aborts)


def ensure_wrk() -> str:
    """Return wrk's path (Debian's package: ``make bench`` and ``make test`` install it)."""
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("the load benchmark's wrk driver needs wrk: make system-deps (or --driver python)")
    return found


def lua_string(text: str) -> str:
    """A Lua string literal: printable ASCII as is, every other byte as a 3-digit decimal escape."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_value(value: Any) -> str:
    """A plan value as Lua: a string, or a list of strings (a tick-all answer)."""
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_string(str(v)) for v in value) + "}"
    return lua_string(str(value))


def write_plan(path: Path, families: list[Family], threads: int) -> Path:
    """Write every family's prepared plan as a Lua chunk that returns one table (Lua has no JSON)."""
    lines = [
        "-- written by bench/wrk_driver.py for bench/families.lua",
        "return {",
        f"  threads = {threads},",
        f"  study = {lua_string(STUDY_ID)},",
        "  families = {",
    ]
    for index, family in enumerate(families):
        if family.contact is None:
            raise ValueError("the wrk driver needs prepared families (Family.prepare)")
        name, phone = family.contact
        plan = ", ".join(f"[{lua_string(qid)}] = {lua_value(v)}" for qid, v in family.plan.items())
        lines.append(
            f"    {{index = {index}, respondent = {lua_string(family.respondent)}, "
            f"max_answers = {family.max_answers}, wants_referral = {str(family.wants_referral).lower()}, "
            f"name = {lua_string(name)}, phone = {lua_string(phone)}, plan = {{{plan}}}}},"
        )
    lines += ["  },", "}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_wrk(script: Path, url: str, threads: int, out: Path, env: dict[str, str], limit_s: float) -> None:
    """Run wrk with one connection per thread; interrupt it once every thread wrote its .done file.

    wrk never ends a run before its -d duration, even when every thread has stopped itself, so
    we watch for the threads' markers and send SIGINT (wrk's own "stop now"), which still prints
    its summary. The wall-clock limit guards against a hung server.
    """
    args = [
        ensure_wrk(),
        "-t",
        str(threads),
        "-c",
        str(threads),
        "-d",
        f"{DURATION_S}s",
        "--timeout",
        f"{TIMEOUT_S}s",
        "-s",
        str(script),
        url,
    ]
    with (out / "wrk.stdout").open("wb") as stdout, (out / "wrk.stderr").open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - wrk with our own fixed arguments
            args, env={**os.environ, **env, "PRESCREEN_WRK_OUT": str(out)}, stdout=stdout, stderr=stderr
        )
        deadline = time.monotonic() + limit_s
        try:
            while process.poll() is None:
                done = sum(1 for _ in out.glob("thread-*.done"))
                if done >= threads or time.monotonic() > deadline:
                    process.send_signal(signal.SIGINT)
                    break
                time.sleep(0.05)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    problems = (out / "wrk.stderr").read_text(errors="replace").strip()
    if problems:
        raise RuntimeError(f"wrk reported: {problems[-2000:]}")


def read_lines(out: Path, threads: int) -> tuple[list[list[str]], list[int]]:
    """Every result line of every thread's file, and the threads that never finished."""
    rows: list[list[str]] = []
    unfinished = []
    for thread in range(threads):
        if not (out / f"thread-{thread}.done").exists():
            unfinished.append(thread)
        path = out / f"thread-{thread}.tsv"
        if path.exists():
            rows += [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    return rows, unfinished


def wrk_rows(
    script: Path, url: str, threads: int, env_for: Callable[[Path], dict[str, str]]
) -> tuple[list[list[str]], list[int]]:
    """Run ``script`` in a fresh output folder (``env_for`` may write files there); its result lines."""
    with tempfile.TemporaryDirectory(prefix="prescreen-wrk-") as tmp:
        out = Path(tmp)
        run_wrk(script, url, threads, out, env_for(out), limit_s=DURATION_S + 30)
        return read_lines(out, threads)


def span(rows: list[list[str]]) -> float:
    """Seconds from the first request's start to the last response, over all threads."""
    requests = [(float(r[2]), float(r[2]) + float(r[3])) for r in rows if r[0] == "R"]
    if not requests:
        return 0.0
    return max(end for _, end in requests) - min(start for start, _ in requests)


def run_families(
    port: int,
    families: list[Family],
    concurrency: int,
    tally: Tally,
    think_ms: float = 0.0,
    seed: int = 0,
    stagger_ms: float = 0.0,
) -> float:
    """Walk prepared ``families`` through the chat with wrk, fill ``tally``; return elapsed seconds.

    Family ``i`` goes to wrk thread ``i % threads``, each thread walking its share one after
    another over its single connection, so ``concurrency`` families are in flight at a time.
    ``think_ms``: the mean pause before each request (seeded by ``seed``), as a family reads;
    with it, ``stagger_ms`` spreads the threads' first requests over that time.
    """
    threads = max(1, min(concurrency, len(families)))
    pauses = {}
    if think_ms > 0:
        pauses = {
            "PRESCREEN_WRK_THINK_MS": str(think_ms),
            "PRESCREEN_WRK_SEED": str(seed),
            "PRESCREEN_WRK_STAGGER_MS": str(stagger_ms),
        }
    rows, unfinished = wrk_rows(
        FAMILIES_LUA,
        f"http://127.0.0.1:{port}",
        threads,
        lambda out: {"PRESCREEN_WRK_PLAN": str(write_plan(out / "plan.lua", families, threads)), **pauses},
    )
    for thread in unfinished:
        tally.errors[f"wrk thread {thread}: did not finish"] += 1
    reported = set()
    for row in rows:
        if row[0] == "R":
            name, seconds, status, size = row[1], float(row[3]), int(row[4]), int(row[5])
            tally.timings[name].append(seconds)
            tally.bytes_raw[name].append(size)
            if len(row) > 6 and row[6] != "-":
                tally.bytes_gzip[name].append(int(row[6]))
            tally.steps += 1
            if name.startswith("answer:") and status in (200, 303):
                tally.timings["answer"].append(seconds)
        elif row[0] == "F":
            _, index, consented, cookie, outcome, referred, done, acked, errors = row
            reported.add(int(index))
            for error in filter(None, errors.split("|")):
                tally.errors[error] += 1
            if outcome:
                tally.outcomes[outcome] += 1
            if done == "1":
                tally.families_done += 1
            if consented == "1":
                plan = families[int(index)].plan
                answers = {
                    qid: sorted(plan[qid]) if isinstance(plan[qid], list) else plan[qid]
                    for qid in filter(None, acked.split(","))
                }
                token = session_token(cookie, SECRET) if cookie else None
                tally.acknowledged.append((token or "", answers, referred == "1"))
    lost = len(set(range(len(families))) - reported)
    if lost:
        tally.errors["wrk: family never reported"] += lost
    return span(rows)


def hammer(
    port: int, path: str, total: int, concurrency: int, form: dict[str, str] | None = None
) -> tuple[list[float], int, float]:
    """GET ``path`` (or POST ``form`` to it) ``total`` times over ``concurrency`` wrk connections.

    Returns (latencies, errors, seconds).
    """
    per = max(1, total // concurrency)
    env = {"PRESCREEN_WRK_REQUESTS": str(per)}
    if form is not None:
        env["PRESCREEN_WRK_BODY"] = urlencode(form)
    rows, _unfinished = wrk_rows(HAMMER_LUA, f"http://127.0.0.1:{port}{path}", concurrency, lambda out: env)
    answered = [r for r in rows if r[0] == "R" and r[4] != "0"]
    latencies = [float(r[3]) for r in answered]
    errors = sum(r[4] != "200" for r in rows if r[0] == "R")
    errors += max(0, per * concurrency - len(answered))  # never answered (a thread that hung)
    return latencies, errors, span(rows)

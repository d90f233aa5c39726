"""Load benchmark: N simulated families through the real questionnaire under gunicorn.

Absolute numbers depend on the machine, so every figure is printed next to baselines measured in
the same run against the same server: the app's own minimal GET (``/healthz``) and a static file
the size of the first question page. Then, under the same gunicorn command, the speed targets' yardsticks
(bench/reference_app.py): a bare Flask GET and a bare Flask POST doing one SQLite insert and one
select, so the report shows how far a chat step is from the least any Flask write can cost here.
After the run the database is checked against exactly the answers the server acknowledged.

The client is wrk (``--driver wrk``, the default; bench/wrk_driver.py): a Python client with 50
threads on a small machine competes with gunicorn for the CPU and with itself for the GIL, so
its latencies are partly its own. ``--driver python`` keeps the threaded Python client, for
comparison and for machines without wrk. Both drive the same prepared families.

    make bench                          # 500 families, 50 at a time
    make bench BENCH_ARGS=--quick       # the small run (under a minute); make test runs it too
    make bench BENCH_ARGS="--driver python"
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import multi_node  # noqa: E402
import wrk_driver  # noqa: E402
from families import SECRET, STUDY_ID, Family, Tally  # noqa: E402
from harness import ROOT, Client, group_cpu_seconds, gunicorn_options, gzip_size, percentiles, start_server  # noqa: E402

from prescreen.engine import load_study  # noqa: E402
from prescreen.store import connect  # noqa: E402
from prescreen.store import screenings as screening_store  # noqa: E402

STATIC_DIR = ROOT / "prescreen" / "static" / "_bench"
ASSET_RE = re.compile(r'<(?:link[^>]+href|script[^>]+src)="(/[^"]+)"')


def first_page(port: int) -> dict[str, Any]:
    """Open the first question page like a new visitor and weigh it with everything it loads."""
    client = Client(port)
    base = f"/s/{STUDY_ID}"
    client.request("GET", f"{base}/")
    consent = client.request("GET", f"{base}/consent?as=guardian")
    client.request(
        "POST", f"{base}/consent", {"csrf_token": consent.csrf() or "", "respondent": "guardian", "agree": "y"}
    )
    gzip_ok = {"Accept-Encoding": "gzip, deflate, br"}  # what a phone's browser sends
    page = client.request("GET", f"{base}/chat", extra_headers=gzip_ok)
    assets = [client.request("GET", path, extra_headers=gzip_ok) for path in ASSET_RE.findall(page.text)]
    client.close()
    wire = [page.body] + [a.body for a in assets]
    bodies = [page.body] + [
        gzip.decompress(a.body) if a.headers.get("content-encoding") == "gzip" else a.body for a in assets
    ]
    return {
        "body": page.body,
        "requests": len(bodies),
        "raw": sum(len(b) for b in bodies),
        "gzip": sum(gzip_size(b) for b in bodies),
        "wire": sum(len(b) for b in wire),
        "foreign": [p for p in ASSET_RE.findall(page.text) if p.startswith("//")],
    }


def hammer(
    port: int, path: str, total: int, concurrency: int, form: dict[str, str] | None = None
) -> tuple[list[float], int, float]:
    """GET ``path`` (or POST ``form``) ``total`` times from ``concurrency`` keep-alive clients.

    Returns (latencies, errors, seconds).
    """
    latencies: list[float] = []
    errors = 0
    per = max(1, total // concurrency)

    def worker(_: int) -> tuple[list[float], int]:
        client = Client(port)
        mine: list[float] = []
        bad = 0
        for _ in range(per):
            try:
                response = client.request("GET", path) if form is None else client.request("POST", path, form)
                bad += response.status != 200
                mine.append(response.seconds)
            except OSError:
                bad += 1
        client.close()
        return mine, bad

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for mine, bad in pool.map(worker, range(concurrency)):
            latencies.extend(mine)
            errors += bad
    return latencies, errors, time.perf_counter() - started


def prepared_families(port: int, n: int, seed: int, tally: Tally) -> list[Family]:
    """``n`` seeded families with every answer decided up front: the timed run is HTTP only."""
    study = load_study(ROOT / "questions" / STUDY_ID)
    today = date.today()
    families = [Family(port, study, seed * 100_003 + i, today, tally) for i in range(n)]
    for family in families:
        family.prepare()
    return families


def run_families(port: int, families: list[Family], concurrency: int, tally: Tally) -> float:
    """The Python driver: one thread per family in flight, each with its own keep-alive client."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda family: family.run(), families))
    return time.perf_counter() - started


def verify(database: Path | str, tally: Tally) -> dict[str, int]:
    """Compare the database with what the server acknowledged, family by family."""
    db = connect(database)
    try:
        missing = extra = matched = referrals_missing = 0
        for token, answers, referred in tally.acknowledged:
            row = screening_store.by_token(db, token) if token else None
            if row is None:
                missing += 1
                continue
            stored = row["answers"] if isinstance(row["answers"], dict) else json.loads(row["answers"])
            stored = {k: sorted(v) if isinstance(v, list) else v for k, v in stored.items()}
            wanted = {k: str(v) if not isinstance(v, list) else v for k, v in answers.items()}
            got = {k: str(v) if not isinstance(v, list) else v for k, v in stored.items()}
            if got == wanted:
                matched += 1
            elif all(got.get(k) == v for k, v in wanted.items()):
                extra += 1
            else:
                missing += 1
            if referred:
                found = db.execute("SELECT count(*) FROM referrals WHERE screening_id = ?", [row["id"]]).fetchone()[0]
                referrals_missing += found != 1
        # SQLite checks its file; PostgreSQL keeps its own pages consistent (a reachable server is it).
        postgres = str(database).startswith("postgresql://")
        integrity = "ok" if postgres else db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    return {
        "families": len(tally.acknowledged),
        "matched": matched,
        "extra_unacknowledged": extra,
        "missing": missing,
        "referrals_missing": referrals_missing,
        "integrity_ok": integrity == "ok",
    }


class CpuMeter:
    """CPU seconds used by the server and by the client in each phase of the run.

    Server: every process in gunicorn's group (from /proc). Client: this process plus its reaped
    children, i.e. wrk (gunicorn is not reaped until the end).
    """

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.phases: dict[str, tuple[float, float]] = {}
        self._last = self._now()

    def _now(self) -> tuple[float, float]:
        mine = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = mine.ru_utime + mine.ru_stime + kids.ru_utime + kids.ru_stime
        return group_cpu_seconds(self.pgid), client

    def mark(self, phase: str) -> None:
        now = self._now()
        self.phases[phase] = (now[0] - self._last[0], now[1] - self._last[1])
        self._last = now


def mean_bytes(sizes_by_name: dict[str, list[int]]) -> dict[str, int]:
    """Mean response size per kind of request; every answer:<qid> counts under "answer".

    With chat.js's header an answer's response is the next question's page, so this is where
    most chat pages' bytes are.
    """
    merged: dict[str, list[int]] = {}
    for name, sizes in sizes_by_name.items():
        merged.setdefault("answer" if name.startswith("answer:") else name, []).extend(sizes)
    return {name: int(sum(sizes) / len(sizes)) for name, sizes in sorted(merged.items()) if sizes}


def summarise(name: str, latencies: list[float], seconds: float) -> dict[str, Any]:
    stats = percentiles(latencies)
    return {"name": name, "rps": len(latencies) / seconds if seconds else 0.0, **stats}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="prescreen load benchmark")
    parser.add_argument("--families", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="60 families, 10 at a time")
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk",
        help="the HTTP client: wrk (default; measures the server) or threaded Python (for comparison)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: the same families on SQLite, on PostgreSQL with one node and with two (bench/multi_node.py)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.families, args.concurrency = 60, 10
    if args.driver == "wrk" and args.worker_class == "sync":
        # Why it stalls: a wrk thread that is done stops its event loop but never closes its
        # socket. Sync workers close every connection, so wrk has already opened the next one,
        # and a sync worker that accepts it waits for a request that never comes. (A last
        # request sent before stopping was tried: gunicorn 27 then holds the worker up to 2 s in
        # util.close_graceful, waiting for a FIN the stopped thread never sends.) A few finished
        # threads hold every worker; gthread keeps idle connections in its poller instead.
        # Measured with finished threads kept busy (300 families, -w 4 -k sync): chat 424 req/s,
        # p99 160 ms, 3.99 ms server CPU per request, no better than gthread; so the benchmark
        # does not support sync workers.
        parser.error("the wrk driver stalls against sync workers; use --driver python with --worker-class sync")
    drive: Callable[[int, list[Family], int, Tally], float] = run_families
    get_many: Callable[..., tuple[list[float], int, float]] = hammer
    if args.driver == "wrk":
        wrk_driver.ensure_wrk()  # before the server starts: a missing wrk is said at once
        drive, get_many = wrk_driver.run_families, wrk_driver.hammer
    if args.database == "postgresql":
        return multi_node.compare(args, drive, get_many, measure_reference)

    with tempfile.TemporaryDirectory(prefix="prescreen-bench-") as tmp:
        server = start_server(
            Path(tmp) / "instance",
            workers=args.workers,
            threads=args.threads,
            worker_class=args.worker_class,
            extra_env={"PRESCREEN_SECRET_KEY": SECRET},
        )
        try:
            weight = first_page(server.port)
            STATIC_DIR.mkdir(exist_ok=True)
            (STATIC_DIR / "baseline.html").write_bytes(b"x" * len(weight["body"]))
            total = max(200, args.families * 10)
            get_many(server.port, "/healthz", 200, args.concurrency)  # warm every worker
            cpu = CpuMeter(server.process.pid)
            minimal_lat, minimal_err, minimal_s = get_many(server.port, "/healthz", total, args.concurrency)
            cpu.mark("minimal")
            static_lat, static_err, static_s = get_many(
                server.port, "/static/_bench/baseline.html", total, args.concurrency
            )
            cpu.mark("static")
            tally = Tally()
            families = prepared_families(server.port, args.families, args.seed, tally)
            cpu.mark("prepare")
            family_s = drive(server.port, families, args.concurrency, tally)
            cpu.mark("families")
        finally:
            server.stop()
            for leftover in STATIC_DIR.glob("*"):
                leftover.unlink()
            if STATIC_DIR.exists():
                STATIC_DIR.rmdir()
        checks = verify(server.database, tally)
        reference = measure_reference(Path(tmp) / "reference", args, get_many, total)

    steps = tally.request_timings()
    answer_lat = tally.timings.get("answer", [])
    rows = [
        summarise("chat steps (all requests)", steps, family_s),
        summarise("answer POST (303 or 200+page)", answer_lat, family_s),
        summarise("minimal GET /healthz", minimal_lat, minimal_s),
        summarise("static file, first-page size", static_lat, static_s),
        summarise("bare Flask GET (yardstick)", *reference["get"]),
        summarise("bare Flask POST 1 insert+select", *reference["write"]),
    ]
    requests = {"chat steps (all requests)": len(steps), "minimal GET /healthz": len(minimal_lat)}
    requests["static file, first-page size"] = len(static_lat)
    phase_of = {
        "chat steps (all requests)": "families",
        "minimal GET /healthz": "minimal",
        "static file, first-page size": "static",
    }
    for row in rows:
        phase = phase_of.get(row["name"])
        server_s, client_s = cpu.phases.get(phase, (0.0, 0.0)) if phase else (0.0, 0.0)
        count = requests.get(row["name"], 0)
        row["server_cpu_ms"] = server_s / count * 1000 if count and phase else None
        row["client_cpu_ms"] = client_s / count * 1000 if count and phase else None
    for row, kind in ((rows[4], "get"), (rows[5], "write")):
        row["server_cpu_ms"], row["client_cpu_ms"] = reference["cpu_ms"][kind]
    minimal_rps, static_rps = rows[2]["rps"], rows[3]["rps"]
    results = {
        "families": args.families,
        "concurrency": args.concurrency,
        "server": " ".join(["gunicorn", *gunicorn_options(args.workers, args.threads, args.worker_class)]),
        "driver": args.driver,
        "families_per_s": tally.families_done / family_s if family_s else 0.0,
        "rows": rows,
        "ratio_app_minimal": rows[0]["rps"] / minimal_rps if minimal_rps else 0.0,
        "ratio_app_static": rows[0]["rps"] / static_rps if static_rps else 0.0,
        "ratio_app_bare_write": rows[0]["rps"] / rows[5]["rps"] if rows[5]["rps"] else 0.0,
        "ratio_bare_write_get": rows[5]["rps"] / rows[4]["rps"] if rows[4]["rps"] else 0.0,
        # CPU per request moves far less than req/s when the machine's speed drifts mid-run
        "cpu_ratio_minimal_app": cpu_ratio(rows[2], rows[0]),
        "cpu_ratio_bare_write_app": cpu_ratio(rows[5], rows[0]),
        "errors": dict(tally.errors)
        | ({"minimal GET": minimal_err} if minimal_err else {})
        | ({"static": static_err} if static_err else {})
        | {f"bare Flask {kind}": n for kind, n in reference["errors"].items() if n},
        "outcomes": dict(tally.outcomes),
        "first_page": {k: v for k, v in weight.items() if k != "body"},
        "bytes": mean_bytes(tally.bytes_raw),
        "bytes_gzip": mean_bytes(tally.bytes_gzip),
        "per_question": {
            name.split(":", 1)[1]: percentiles(ts)
            for name, ts in sorted(tally.timings.items())
            if name.startswith("answer:")
        },
        "checks": checks,
    }
    results["targets"] = targets(results)
    report(results)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return results


# The owner's speed targets, as stated (50 clients that never pause, synchronous=FULL).
TARGET_RATIO_MINIMAL = 0.5
TARGET_P99_MS = 100.0


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of the speed targets with this run's figure and whether it was met.

    Printed as its own block so whoever owns the targets reads the verdict, not a table to
    interpret. A run smaller than the issue's 50 clients says so: its p99 is not the target's.
    """
    chat = r["rows"][0]
    checks = r["checks"]
    exact = checks["missing"] == 0 and checks["referrals_missing"] == 0 and checks["integrity_ok"]
    return [
        {
            "target": f"chat steps / minimal GET >= {TARGET_RATIO_MINIMAL}",
            "value": f"{r['ratio_app_minimal']:.2f}",
            "met": r["ratio_app_minimal"] >= TARGET_RATIO_MINIMAL,
        },
        {
            "target": f"chat p99 <= {TARGET_P99_MS:.0f} ms at 50 clients",
            "value": f"{chat['p99']:.0f} ms at {r['concurrency']} clients"
            + ("" if r["concurrency"] >= 50 else " (fewer than the target's 50: not a verdict)"),
            "met": chat["p99"] <= TARGET_P99_MS and r["concurrency"] >= 50,
        },
        {"target": "0 errors", "value": str(sum(r["errors"].values())), "met": not r["errors"]},
        {
            "target": "database holds exactly the acknowledged answers",
            "value": f"{checks['matched']}/{checks['families']} families",
            "met": exact and checks["matched"] == checks["families"],
        },
    ]


def cpu_ratio(cheap: dict[str, Any], dear: dict[str, Any]) -> float | None:
    """Server CPU per request of ``cheap`` over that of ``dear`` (None where /proc is unreadable)."""
    if not cheap.get("server_cpu_ms") or not dear.get("server_cpu_ms"):
        return None
    return float(cheap["server_cpu_ms"] / dear["server_cpu_ms"])


def measure_reference(
    instance: Path, args: argparse.Namespace, get_many: Callable[..., tuple[list[float], int, float]], total: int
) -> dict[str, Any]:
    """The speed targets' two yardsticks, measured here and now: bench/reference_app.py under the same gunicorn.

    A bare Flask GET, and a bare Flask POST doing one SQLite insert and one select (WAL,
    ``synchronous=FULL``): nothing of prescreen in either. What a chat step costs next to them
    tells how much of its time is ours.
    """
    instance.mkdir(parents=True, exist_ok=True)
    server = start_server(
        instance,
        workers=args.workers,
        threads=args.threads,
        worker_class=args.worker_class,
        extra_env={"PRESCREEN_REFERENCE_DB": str(instance / "reference.sqlite3")},
        app="reference_app:create_app()",
        ready_path="/ping",
    )
    try:
        get_many(server.port, "/ping", 200, args.concurrency)  # warm every worker
        cpu = CpuMeter(server.process.pid)
        get = get_many(server.port, "/ping", total, args.concurrency)
        cpu.mark("get")
        write = get_many(server.port, "/write", total, args.concurrency, {"value": "王芳 13912345678"})
        cpu.mark("write")
    finally:
        server.stop()
    cpu_ms: dict[str, tuple[float | None, float | None]] = {}
    for kind, (latencies, _errors, _seconds) in (("get", get), ("write", write)):
        server_s, client_s = cpu.phases[kind]
        n = len(latencies)
        cpu_ms[kind] = (server_s / n * 1000, client_s / n * 1000) if n else (None, None)
    return {
        "get": (get[0], get[2]),
        "write": (write[0], write[2]),
        "errors": {"GET": get[1], "POST": write[1]},
        "cpu_ms": cpu_ms,
    }


def report(r: dict[str, Any]) -> None:
    client = "wrk (C + LuaJIT, one connection per thread)" if r["driver"] == "wrk" else "Python threads"
    print(f"{r['server']}; {r['families']} families, {r['concurrency']} at a time; measured by {client}")
    print(f"families/s {r['families_per_s']:.1f}; outcomes {r['outcomes']}")
    print(f"{'':32} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'n':>7}  server/client CPU ms per req")
    for row in r["rows"]:
        cpu = ""
        if row.get("server_cpu_ms") is not None:
            cpu = f"  {row['server_cpu_ms']:.2f} / {row['client_cpu_ms']:.2f}"
        times = f"{row['p50']:8.1f} {row['p90']:8.1f} {row['p99']:8.1f}"
        print(f"{row['name']:32} {row['rps']:8.0f} {times} {row['n']:7d}{cpu}")
    print(
        f"ratio chat steps / minimal GET: {r['ratio_app_minimal']:.2f}   "
        f"chat steps / static: {r['ratio_app_static']:.2f}   "
        f"chat steps / bare Flask POST: {r['ratio_app_bare_write']:.2f}   "
        f"(bare Flask POST / bare Flask GET: {r['ratio_bare_write_get']:.2f})"
    )
    if r["cpu_ratio_minimal_app"] is not None and r["cpu_ratio_bare_write_app"] is not None:
        print(
            f"server CPU per request, as a ratio (steadier than req/s on a machine whose speed drifts): "
            f"minimal GET / chat steps {r['cpu_ratio_minimal_app']:.2f}   "
            f"bare Flask POST / chat steps {r['cpu_ratio_bare_write_app']:.2f}"
        )
    fp = r["first_page"]
    print(
        f"first question page: {fp['requests']} requests, {fp['raw']} bytes raw, {fp['gzip']} bytes if all were "
        f"gzipped, {fp['wire']} bytes sent (the app gzips CSS and JS, never pages)"
    )
    print(
        "bytes per response, mean raw / gzip (pages go out raw, see README): "
        + ", ".join(f"{k} {v}/{r['bytes_gzip'].get(k, '?')}" for k, v in r["bytes"].items())
    )
    print(
        "answer POST p50/p90/p99 ms by question: "
        + ", ".join(f"{q} {s['p50']:.0f}/{s['p90']:.0f}/{s['p99']:.0f}" for q, s in r["per_question"].items())
    )
    print(f"errors: {r['errors'] or 'none'}")
    print(f"database check: {r['checks']}")
    print("speed targets:")
    for t in r["targets"]:
        print(f"  {'met    ' if t['met'] else 'NOT MET'}  {t['target']}: {t['value']}")
    print("  (families here never pause between requests; make bench-curve gives p99 against the load)")


if __name__ == "__main__":
    main()

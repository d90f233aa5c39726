"""``make bench BENCH_ARGS=--database postgresql``: SQLite, PostgreSQL on one node, and on two nodes.

One run, three configurations, the same seeded families and the same gunicorn settings; the
yardsticks (a bare Flask GET, and a bare Flask POST doing one SQLite insert and select) are measured
in the same run, so the table reads as ratios rather than as this machine's speed. "Two nodes" is
two gunicorn servers on loopback, each with half the workers and half the families, sharing one
PostgreSQL database: on this machine both nodes share its cores, so the figure says what a second
node costs in coordination (nothing kept in a node, one writer lock in the database), not what a
second machine would add. The PostgreSQL server is a throw-away one started for the run
(tests/helpers/servers.py), with fsync on as in production.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from families import SECRET, Tally
from harness import ROOT, start_server

from prescreen.store import pg


def run_config(
    label: str,
    folder: Path,
    args: Any,
    drive: Callable[..., float],
    get_many: Callable[..., Any],
    *,
    database_url: str | None,
    nodes: int,
) -> dict[str, Any]:
    """Serve with *nodes* gunicorn servers (on *database_url*, or each its own SQLite file), walk the families."""
    from load_bench import CpuMeter, prepared_families, verify  # noqa: PLC0415 — load_bench imports this module

    env = {"PRESCREEN_SECRET_KEY": SECRET, **({"PRESCREEN_DATABASE_URL": database_url} if database_url else {})}
    servers = [
        start_server(
            folder / f"node-{i}",
            workers=max(1, args.workers // nodes),
            threads=args.threads,
            worker_class=args.worker_class,
            extra_env=env,
        )
        for i in range(nodes)
    ]
    tally = Tally()
    try:
        for server in servers:
            get_many(server.port, "/healthz", 200, args.concurrency)  # warm every worker
        share = args.families // nodes
        batches = [prepared_families(s.port, share, args.seed + 7919 * i, tally) for i, s in enumerate(servers)]
        meters = [CpuMeter(server.process.pid) for server in servers]
        per_node = max(1, args.concurrency // nodes)
        with ThreadPoolExecutor(nodes) as pool:
            elapsed = max(pool.map(lambda i: drive(servers[i].port, batches[i], per_node, tally), range(nodes)))
        for meter in meters:
            meter.mark("families")
    finally:
        for server in servers:
            server.stop()
    steps = tally.request_timings()
    server_cpu = sum(meter.phases["families"][0] for meter in meters)
    checks = verify(database_url or servers[0].database, tally)
    from harness import percentiles  # noqa: PLC0415

    return {
        "label": label,
        "rps": len(steps) / elapsed if elapsed else 0.0,
        **percentiles(steps),
        "server_cpu_ms": server_cpu / len(steps) * 1000 if steps else None,
        "families": tally.families_done,
        "errors": dict(tally.errors),
        "exact": checks["missing"] == 0
        and checks["referrals_missing"] == 0
        and checks["matched"] == checks["families"],
    }


def compare(
    args: Any, drive: Callable[..., float], get_many: Callable[..., Any], reference: Callable[..., Any]
) -> dict:
    """Run the three configurations and the yardsticks; print the table; return the figures."""
    import sys  # noqa: PLC0415

    sys.path.insert(0, str(ROOT))
    from tests.helpers import servers as test_servers  # noqa: PLC0415 — the tests' throw-away servers

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="prescreen-bench-nodes-") as tmp,
        test_servers.postgres(fsync=True) as server,
    ):
        folder = Path(tmp)
        rows.append(run_config("SQLite, 1 node", folder / "sqlite", args, drive, get_many, database_url=None, nodes=1))
        one = server.create_database("bench_one")
        rows.append(run_config("PostgreSQL, 1 node", folder / "pg1", args, drive, get_many, database_url=one, nodes=1))
        two = server.create_database("bench_two")
        rows.append(run_config("PostgreSQL, 2 nodes", folder / "pg2", args, drive, get_many, database_url=two, nodes=2))
        pg.close_pools()
        total = max(200, args.families * 10)
        yardsticks = reference(folder / "reference", args, get_many, total)
    bare_post_rps = len(yardsticks["write"][0]) / yardsticks["write"][1] if yardsticks["write"][1] else 0.0
    bare_write_cpu = yardsticks["cpu_ms"]["write"][0]
    print(f"\n{args.families} families, {args.concurrency} at a time, {args.workers} gunicorn workers in all")
    head = f"{'configuration':<22}{'steps/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/step':>13}"
    print(head + f"{'÷ bare POST':>13}{'CPU ÷ bare POST':>17}  exact")
    for row in rows:
        cpu = row["server_cpu_ms"]
        ratio = row["rps"] / bare_post_rps if bare_post_rps else 0.0
        cpu_ratio = cpu / bare_write_cpu if cpu and bare_write_cpu else 0.0
        print(
            f"{row['label']:<22}{row['rps']:>9.0f}{row['p50']:>8.1f}{row['p99']:>8.1f}{(cpu or 0):>13.2f}"
            f"{ratio:>13.2f}{cpu_ratio:>17.2f}  {'yes' if row['exact'] else 'NO'}"
            + (f"  errors {row['errors']}" if row["errors"] else "")
        )
    print(f"{'bare Flask POST (SQLite insert+select)':<22}  {bare_post_rps:.0f} req/s, {bare_write_cpu:.2f} CPU ms/req")
    return {"rows": rows, "bare_post_rps": bare_post_rps, "bare_post_cpu_ms": bare_write_cpu}

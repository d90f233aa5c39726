"""Time the engine on the real study, against a baseline measured in the same run.

``prescreen questions check`` must stay interactive (the target is under one second, path walk
included) and a chat step must cost far less than an HTTP round trip. Absolute times depend on
the machine, so each figure is also printed as a ratio to a baseline measured here and now:
reading and CSV-parsing the same four sheets.

Run: ``make bench-engine`` or ``.venv/bin/python bench/engine_bench.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prescreen.engine import Flow, check_flow, load_study, validate_study  # noqa: E402
from prescreen.engine.sheets import SHEETS  # noqa: E402

STUDY = ROOT / "questions" / "pumch-pediatric-sjogren"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def parse_sheets() -> None:
    for name in SHEETS:
        list(csv.reader(io.StringIO((STUDY / f"{name}.csv").read_text(encoding="utf-8-sig"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    study = load_study(STUDY)
    report = check_flow(study)
    longest = report.longest
    # one family that stays eligible to the end (greedy: the first answer that fails nothing),
    # so "one chat step" re-derives a whole conversation, as the web app does on every step
    flow = Flow(study)
    today = date(2026, 11, 25)
    answers: dict[str, object] = {}
    state = flow.run(answers, today=today)
    while state.question is not None:
        q = state.question
        if q.type == "single":
            candidates: list[object] = list(q.values)
        elif q.type == "multiple":
            candidates = [[v] for v in q.values]
        elif q.type == "number":
            candidates = [q.min]
        else:
            candidates = ["2015-03" if q.id == study.meta.get("age_question") else "2010-01"]
        for value in candidates:
            trial = flow.run({**answers, q.id: value}, today=today)
            if trial.provisional.status != "not_eligible":
                break
        answers[q.id] = value
        state = flow.run(answers, today=today)

    def fresh_family() -> None:
        # every step of one family on a Flow with empty memos: the walk itself, not the memo
        fresh = Flow(study)
        given: dict[str, object] = {}
        for qid in state.asked:
            given[qid] = answers[qid]
            fresh.run(given, today=today)

    baseline = statistics.median(timed(parse_sheets, args.repeat * 4))
    rows = [
        ("parse 4 sheets (baseline)", baseline),
        ("load_study (validate + walk)", statistics.median(timed(lambda: load_study(STUDY), args.repeat))),
        ("validate_study (questions check)", statistics.median(timed(lambda: validate_study(STUDY), args.repeat))),
        ("check_flow (path walk only)", statistics.median(timed(lambda: check_flow(study), args.repeat))),
        ("Flow.run, one chat step", statistics.median(timed(lambda: flow.run(answers, today=today), args.repeat * 20))),
        ("one family, every step, no memo", statistics.median(timed(fresh_family, args.repeat * 4))),
    ]
    print(f"one family: {len(state.asked)} questions answered, outcome {state.outcome.status}")
    print(
        f"study {study.id} v{study.version}: {len(study.questions)} questions, "
        f"{len(study.criteria)} criteria, {report.paths} paths, longest {len(longest)}"
    )
    print(f"{'what':34} {'median ms':>10} {'x baseline':>11}")
    for name, seconds in rows:
        print(f"{name:34} {seconds * 1000:10.2f} {seconds / baseline:11.1f}")
    print("shortest route per outcome: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(report.shortest.items())))


if __name__ == "__main__":
    main()

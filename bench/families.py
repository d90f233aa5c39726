"""Simulated families for the load benchmark and fault tests: each walks the real chat over HTTP.

Answers come from a seeded random generator: mostly answers that keep the child eligible (so most
families go the whole way and some send a referral), sometimes any allowed answer (so every outcome
and the early knock-outs occur). Every answer the server acknowledged (303) is remembered, so the
database can be checked against exactly what families were told was saved.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask
from harness import Client, Response, gzip_size

from prescreen.engine import Flow, Month, Study

STUDY_ID = "pumch-pediatric-sjogren"
#: How many responses of each kind get their gzip size measured (wrk: per thread, see families.lua)
GZIP_SAMPLE = 200
FORM_RE = re.compile(r'<form[^>]*class="ask"[^>]*>(.*?)</form>', re.S)
Q_RE = re.compile(r'name="q" value="([a-z0-9_]+)"')
STEP_RE = re.compile(r'name="step" value="(\d+)"')
RADIO_RE = re.compile(
    r'type="radio"[^>]*name="([a-z_]+)"[^>]*value="([^"]+)"|name="([a-z_]+)"[^>]*type="radio"[^>]*value="([^"]+)"'
)


@dataclass
class Tally:
    """What a run measured, shared by all family threads (appends are atomic under the GIL)."""

    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    bytes_raw: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # gzip sizes of a sample of each kind of response (compressing every one would cost the
    # client CPU the server should get)
    bytes_gzip: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    steps: int = 0
    families_done: int = 0
    acknowledged: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)

    def request_timings(self) -> list[float]:
        """Every request's time, each once: "answer" repeats the "answer:<qid>" timings."""
        return [t for name, ts in self.timings.items() if name != "answer" for t in ts]


def session_token(cookie_value: str, secret: str) -> str | None:
    """The screening token inside Flask's signed session cookie (we know the secret: it's ours)."""
    app = Flask("bench")
    app.secret_key = secret
    data = app.session_interface.get_signing_serializer(app).loads(cookie_value)  # type: ignore[union-attr]
    return data.get("screening")


class Family:
    """One family's browser session walking the questionnaire."""

    def __init__(
        self,
        port: int,
        study: Study,
        seed: int,
        today: date,
        tally: Tally,
        explore: float = 0.12,
        max_answers: int = 80,
    ) -> None:
        self.client = Client(port)
        self.study = study
        self.flow = Flow(study)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.today = today
        self.tally = tally
        self.explore = explore
        self.respondent = "guardian" if self.rng.random() < 0.8 else "patient"
        self.answers: dict[str, Any] = {}
        self.token: str | None = None
        self.referred = False
        self.plan: dict[str, Any] = {}
        self.max_answers = max_answers
        self.wants_referral = False
        self.contact: tuple[str, str] | None = None

    def get(self, name: str, path: str, expect: tuple[int, ...] = (200,)) -> Response:
        response = self.client.request("GET", path)
        self._note(name, response, expect)
        return response

    def post(self, name: str, path: str, form: dict[str, Any], expect: tuple[int, ...] = (303,)) -> Response:
        response = self.client.request("POST", path, form)
        self._note(name, response, expect)
        return response

    def _note(self, name: str, response: Response, expect: tuple[int, ...]) -> None:
        self.tally.timings[name].append(response.seconds)
        self.tally.bytes_raw[name].append(len(response.body))
        if len(self.tally.bytes_gzip[name]) < GZIP_SAMPLE:
            self.tally.bytes_gzip[name].append(gzip_size(response.body))
        self.tally.steps += 1
        if response.status not in expect:
            self.tally.errors[f"{name}: HTTP {response.status}"] += 1
            raise StopIteration(name)

    def prepare(self) -> None:
        """Decide every answer before the timed run, so the client spends no time in the engine.

        The family walks the questionnaire locally with the same engine; the server then asks the
        same questions in the same order, and each answer is looked up.
        """
        state = self.flow.run({}, respondent=self.respondent, today=self.today)
        while state.question is not None:
            value = self.choose(state.question.id)
            self.answers[state.question.id] = value
            state = self.flow.run(self.answers, respondent=self.respondent, today=self.today)
        self.plan, self.answers = self.answers, {}
        self.wants_referral = self.rng.random() < 0.5
        # drawn now, in the order refer() would draw them, so a driver without Python (wrk) can
        # send the very name and phone this family would have sent
        self.contact = self.draw_contact()

    def draw_contact(self) -> tuple[str, str]:
        """The name and phone a referral gives (seeded, like every other answer)."""
        name = self.rng.choice(["王芳", "李娜", "Chen Wei", "张伟"])
        return name, f"13{self.rng.randint(0, 9)}{self.rng.randint(10_000_000, 99_999_999)}"

    def answer_for(self, qid: str) -> Any:
        return self.plan[qid] if qid in self.plan else self.choose(qid)

    def choose(self, qid: str) -> Any:
        """An answer for ``qid``: usually one that keeps the child eligible, sometimes any."""
        question = self.study.question(qid)
        if question.type == "month":
            this = Month.of(self.today)
            if qid == self.study.meta.get("age_question"):
                lowest = 14 if self.respondent == "patient" else 3
                months = self.rng.randint(lowest * 12, 19 * 12)
            else:
                months = self.rng.randint(0, 24)
            return str(this - months)
        if question.type == "number":
            return str(self.rng.randint(question.min or 0, question.max or 0))
        values = list(question.values)
        if question.type == "multiple":
            plain = [c.value for c in question.choices if not c.exclusive]
            # sorted: a frozenset's order changes with each process's hash seed, and --seed
            # must give the same families in every run (and to every driver)
            options: list[Any] = [[v] for v in sorted(question.exclusive_values)] + [
                self.rng.sample(plain, self.rng.randint(1, min(3, len(plain)))) for _ in range(4)
            ]
        else:
            options = values
        if self.rng.random() < self.explore:
            return self.rng.choice(options)
        self.rng.shuffle(options)
        best, best_score = options[0], (99, 99)
        for value in options:
            trial = self.flow.run({**self.answers, qid: value}, respondent=self.respondent, today=self.today)
            statuses = [trial.provisional.criteria[c.id] for c in self.flow.dependents.get(qid, [])]
            # fewest failures, then fewest items a coordinator must review
            score = (len(trial.provisional.failed), sum(s == "needs_review" for s in statuses))
            if score < best_score:
                best, best_score = value, score
        return best

    def run(self) -> None:
        base = f"/s/{STUDY_ID}"
        try:
            self.get("study", f"{base}/")
            self.get("who", f"{base}/start")
            page = self.get("consent_form", f"{base}/consent?as={self.respondent}")
            self.post(
                "consent",
                f"{base}/consent",
                {"csrf_token": page.csrf(), "respondent": self.respondent, "agree": "y"},
            )
            self.token = session_token(self.client.cookies.get("prescreen", ""), SECRET)
            self.tally.acknowledged.append((self.token or "", self.answers, False))
            index = len(self.tally.acknowledged) - 1
            for _ in range(self.max_answers):
                page = self.get("chat", f"{base}/chat", expect=(200, 303))
                if page.status == 303:
                    break
                form = FORM_RE.search(page.text)
                if form is None:
                    break
                qid = Q_RE.search(form.group(1)).group(1)  # type: ignore[union-attr]
                step = STEP_RE.search(form.group(1)).group(1)  # type: ignore[union-attr]
                value = self.answer_for(qid)
                started = time.perf_counter()
                response = self.post(
                    f"answer:{qid}",
                    f"{base}/answer",
                    {"csrf_token": page.csrf(), "step": step, "q": qid, "value": value},
                )
                self.tally.timings["answer"].append(time.perf_counter() - started)
                self.answers[qid] = sorted(value) if isinstance(value, list) else value
                if "/result" in response.headers.get("location", ""):
                    break
            else:
                # stopped part-way on purpose (a family that comes back later)
                self.tally.families_done += 1
                return
            result = self.get("result", f"{base}/result")
            outcome = next(
                (o for o in ("likely_eligible", "needs_review", "not_eligible") if f'result-{o}"' in result.text),
                "unknown",
            )
            self.tally.outcomes[outcome] += 1
            wants = self.wants_referral if self.plan else self.rng.random() < 0.5
            if outcome in ("likely_eligible", "needs_review") and wants:
                self.refer(base)
            self.tally.acknowledged[index] = (self.token or "", dict(self.answers), self.referred)
            self.tally.families_done += 1
        except StopIteration:
            pass
        except Exception as exc:  # noqa: BLE001 - a benchmark counts errors by kind, it does not stop
            self.tally.errors[f"{type(exc).__name__}"] += 1
        finally:
            self.client.close()

    def refer(self, base: str) -> None:
        page = self.get("refer_form", f"{base}/refer")
        radios: dict[str, list[str]] = defaultdict(list)
        for match in RADIO_RE.finditer(page.text):
            name, value = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
            radios[name].append(value)
        name, phone = self.contact or self.draw_contact()
        form = {
            "csrf_token": page.csrf(),
            "name": name,
            "relationship": (radios.get("relationship") or ["mother"])[0],
            "phone": phone,
            "best_time": (radios.get("best_time") or ["any"])[0],
            "language": "zh",
            "share": "y",
            "guardian": "y",
        }
        if self.respondent == "patient":
            form["relationship"] = "self" if "self" in radios.get("relationship", []) else form["relationship"]
        self.post("refer", f"{base}/refer", form)
        self.referred = True


#: 32 bytes in hex: production refuses a weaker key (prescreen.config.secret_key_problem).
SECRET = "b7e4a1d8c5f2093e6a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f"  # noqa: S105 - a benchmark's key, not a secret

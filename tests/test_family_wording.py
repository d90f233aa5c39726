"""Family wording in ``criteria.csv``: the loader insists on it, and the engine says which to show.

Each criterion carries what a family reads for each status it can show (``not_met::…``,
``review::…``, ``visit::…``, both voices and languages, and an optional ``bring::…``). The loader
asks for exactly the wording a family can meet: ``not_met`` and ``visit`` from the rules,
``review`` from the walk of every route; :func:`prescreen.engine.explain` picks the criteria a
result is about and the answers that decided each.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prescreen.engine import (
    CONFIRM,
    NOT_MET,
    REVIEW,
    Flow,
    Question,
    Study,
    StudyError,
    check_flow,
    explain,
    load_study,
)
from prescreen.engine.explain import shown
from prescreen.engine.month import Month
from tests.helpers.study import ELIGIBLE, build_study

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "questions" / "pumch-pediatric-sjogren"
TODAY = date(2026, 11, 25)


def built_problems(tmp_path: Path, **sheets: Any) -> list[str]:
    with pytest.raises(StudyError) as caught:
        load_study(build_study(tmp_path, **sheets))
    return [str(p) for p in caught.value.problems]


def demo_criteria(**changes: dict[str, str]) -> list[dict[str, str]]:
    """The demo study's three criteria (see tests/helpers/study.py), with cells changed per id."""
    rows = [
        {"id": "inc_age", "waiting_period": "yes", "not_met_if": "age(dob) < 5", "met_if": "age(dob) >= 5"},
        {"id": "inc_dx", "not_met_if": "dx == 'no'", "met_if": "dx == 'yes'"},
        {
            "id": "exc_drug",
            "kind": "exclusion",
            "not_met_if": "'bel' in drugs",
            "met_if": "drugs == 'none'",
            "confirm_if": "drugs == 'unsure'",
        },
    ]
    for row in rows:
        row.update(changes.get(row["id"], {}))
    rows[0]["recheck"] = "dob + 60"
    return rows


# -- the loader -----------------------------------------------------------------------------------


def test_demo_study_with_wording_for_every_status_loads(tmp_path):
    study = load_study(build_study(tmp_path, criteria=demo_criteria()))
    drug = study.criterion("exc_drug")
    assert drug.family(NOT_MET, "guardian", "en") == "exc_drug text"  # the helper's filler
    assert drug.family("met", "guardian", "en") == ""


def test_missing_not_met_and_visit_wording_names_row_and_column(tmp_path):
    criteria = demo_criteria(
        inc_dx={"not_met::patient::zh": ""},
        exc_drug={"visit::guardian::en": ""},
    )
    assert built_problems(tmp_path, criteria=criteria) == [
        "questions/demo/criteria.csv:3: column 'not_met::patient::zh': empty zh cell: families read it when "
        "this criterion rules a child out (it has a not_met_if)",
        "questions/demo/criteria.csv:4: column 'visit::guardian::en': empty en cell: families read it when "
        "this criterion is left for the first visit (it has a confirm_if)",
    ]


def test_wording_for_a_status_no_rule_gives_is_reported_as_never_shown(tmp_path):
    criteria = demo_criteria(inc_dx={"visit::guardian::en": "The doctor checks it."})
    assert built_problems(tmp_path, criteria=criteria) == [
        "questions/demo/criteria.csv:3: column 'visit::guardian::en': never shown: this criterion has no confirm_if"
    ]


def test_review_wording_is_needed_exactly_when_a_family_can_finish_needing_review(tmp_path):
    # inc_dx: "not sure" leaves every rule false. inc_age: the date of birth is always asked
    # first and always decides it, so no family ever reads its review text.
    empty = {f"review::{v}::{lang}": "" for v in ("guardian", "patient") for lang in ("en", "zh")}
    assert load_study(build_study(tmp_path / "a", criteria=demo_criteria(inc_age=empty)))
    found = built_problems(tmp_path / "b", criteria=demo_criteria(inc_dx=empty))
    assert found == [
        f"questions/demo/criteria.csv:3: column '{column}': empty {column[-2:]} cell: a family can finish with "
        "'inc_dx' needing review (e.g. after answering 'not sure'), and then reads this"
        for column in empty
    ]


def test_what_to_bring_needs_both_languages_or_neither(tmp_path):
    criteria = demo_criteria(exc_drug={"bring::en": "the medicine list", "bring::zh": ""})
    assert built_problems(tmp_path, criteria=criteria) == [
        "questions/demo/criteria.csv:4: column 'bring::zh': empty zh cell: fill in both languages or neither"
    ]
    both = demo_criteria(exc_drug={"bring::en": "the medicine list", "bring::zh": "用药记录"})
    study = load_study(build_study(tmp_path / "b", criteria=both))
    assert study.criterion("exc_drug").bring("zh") == "用药记录"


# -- the real study -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(REAL)


@pytest.fixture(scope="module")
def flow(study: Study) -> Flow:
    return Flow(study)


@pytest.fixture(scope="module")
def family_statuses(study: Study) -> dict[str, set[str]]:
    """What the check's walk found a family can read about each criterion."""
    return check_flow(study, today=TODAY).family_statuses


def _random_answer(question: Question, rng: random.Random) -> Any:
    if question.type == "single":
        return rng.choice(question.values)
    if question.type == "multiple":
        if rng.random() < 0.3:
            return [rng.choice(sorted(question.exclusive_values) or question.values)]
        plain = list(question.plain_values)
        return rng.sample(plain, rng.randint(1, min(3, len(plain))))
    if question.type == "month":
        return str(Month.of(TODAY) - rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 12, 60, 130, 200, 228, 240]))
    return rng.randint(question.min or 0, question.max or 100)


def test_the_walk_finds_every_status_a_family_can_read(flow, family_statuses):
    """Random families (both voices) never read about a status the check did not ask wording for.

    Each family starts from one that qualifies and answers a few questions at random, so most get
    to the end: families answering everything at random are nearly all ruled out early.
    """
    rng = random.Random(16)  # noqa: S311 — a seeded sample of families, not a secret
    seen: set[tuple[str, str]] = set()
    for n in range(800):
        respondent = "patient" if n % 2 else "guardian"
        answers: dict[str, Any] = {"dob": str(Month.of(TODAY) - rng.choice([30, 70, 130, 200, 220, 228, 229]))}
        consent = {"consent_teen": "yes_parent", "consent_adult": "yes", "consent_guardian_adult": "yes"}
        typical = {**ELIGIBLE, **consent}
        state = flow.run(answers, respondent, TODAY)
        while state.question is not None:
            qid = state.question.id
            random_one = rng.random() < 0.15 or qid not in typical
            answers[qid] = _random_answer(state.question, rng) if random_one else typical[qid]
            state = flow.advance(state, answers, TODAY)
        seen |= {(c.id, s) for c, s in shown(flow, state.outcome.criteria, state.outcome.status)}
    missing = {(cid, s) for cid, s in seen if s not in family_statuses.get(cid, ())}
    assert not missing
    assert {s for _, s in seen} == {NOT_MET, REVIEW, CONFIRM}  # the families met all three


def test_every_status_the_walk_found_has_its_wording(study, family_statuses):
    for criterion in study.criteria:
        for status in family_statuses.get(criterion.id, ()):
            for voice in ("guardian", "patient"):
                for lang in ("en", "zh"):
                    assert criterion.family(status, voice, lang), (criterion.id, status, voice, lang)


# -- what a result explains ------------------------------------------------------------------------


def _explained(flow: Flow, answers: dict[str, Any], respondent: str = "guardian") -> dict[str, tuple[str, tuple]]:
    state = flow.run(answers, respondent, TODAY)
    assert state.outcome is not None
    return {e.criterion.id: (e.status, e.answers) for e in explain(flow, state, TODAY)}


def test_a_waiting_period_is_decided_by_the_date_not_by_the_yes_before_it(flow):
    explained = _explained(flow, {**ELIGIBLE, "rituximab": "yes", "rituximab_last": "2026-07"})
    assert explained == {"exc_rituximab_6m": (NOT_MET, ("rituximab_last",))}


def test_a_group_that_fails_explains_every_arm_with_its_own_answers(flow):
    explained = _explained(flow, {**ELIGIBLE, "systemic": ["none"], "markers": ["normal_now"]})
    assert explained == {
        "inc_res_systemic": (NOT_MET, ("systemic",)),
        "inc_res_bcell": (NOT_MET, ("markers",)),
        "inc_res_inflam": (NOT_MET, ("markers",)),
    }


def test_needs_review_explains_what_needs_a_look_and_what_the_visit_checks(flow):
    explained = _explained(flow, {**ELIGIBLE, "tb": "latent"})
    assert explained["exc_active_tb"] == (REVIEW, ("tb",))
    assert explained["inc_ss_aecg_or_jpn"] == (CONFIRM, ("ss_tests", "ss_results"))
    # the resistance groups are met: their arms left for the visit are not mentioned
    assert "inc_res_bcell" not in explained and "inc_res_tx_2is" not in explained


def test_explain_refuses_an_unfinished_screening(flow):
    with pytest.raises(ValueError):
        explain(flow, flow.run({"dob": "2015-03"}, "guardian", TODAY), TODAY)

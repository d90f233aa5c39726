"""Wording a parent can't misread: each trap a literal reader could fall into, and that it is closed.

Parents answer the question as written, often with one fast tap. So an exclusion that names examples
must name the cases parents know by name (a child with selective IgA deficiency has to see that
"primary immunodeficiency" includes it), drugs and tests go by the names on the prescription and
the report, the question itself (not only an option under it) must say what counts, and yes/no
options sit in one order across the study. Each test here is one trap: it finds the words a family
would look for in the sheet (so a later edit that drops them fails it), then answers as that family
would and checks where the answer leads under the listing (../shared/seed/trial-listing.txt, a copy
in tests/data/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prescreen.engine import Flow, Question, State, Study, load_study
from tests.helpers.study import ELIGIBLE

STUDY_DIR = Path(__file__).resolve().parent.parent / "questions" / "pumch-pediatric-sjogren"
TODAY_ISO = "2026-11-25"
MET, NOT_MET, CONFIRM, REVIEW = "met", "not_met", "confirm_at_visit", "needs_review"

#: the opening questions, whose "yes" is a diagnosis or an agreement rather than "this happened":
#: they come before any has-your-child-had question and keep their positive answer first (a fast
#: tap there must not end the form with "not Sjögren's" or "does not agree")
OPENING = {"diagnosis", "consent_guardian", "consent_guardian_adult", "consent_teen", "consent_adult"}


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(STUDY_DIR)


@pytest.fixture(scope="module")
def flow(study: Study) -> Flow:
    return Flow(study)


def walk(flow: Flow, respondent: str = "guardian", **changes: Any) -> State:
    from datetime import date

    state = flow.run({**ELIGIBLE, **changes}, respondent, date.fromisoformat(TODAY_ISO))
    assert state.outcome is not None and not state.errors, (state.question, state.errors)
    return state


def texts(question: Question, lang: str) -> str:
    """Both voices of a question in one language (a trap must be closed for the teen too)."""
    return " ".join(question.text(voice, lang) for voice in ("guardian", "patient"))


def option(question: Question, value: str, lang: str) -> str:
    choice = question.choice(value)
    assert choice is not None, (question.id, value)
    return choice.label(lang)


# -- one order for yes and no -------------------------------------------------------------------------


def test_no_comes_first_in_every_has_your_child_had_question(study: Study) -> None:
    """没有 / No first and 不确定 / Not sure last, wherever a question asks whether something happened.

    Before, four questions (infection now, hospital stay, another serious illness, a worrying
    result) and the lab-report question put 有 / Yes first while the other ten put 没有 / No first:
    a parent tapping 没有 in the first place by habit answered 有.
    """
    checked = []
    for question in study.questions:
        if question.type != "single" or question.id in OPENING or "no" not in question.values:
            continue
        checked.append(question.id)
        assert question.values[0] == "no", question.id
        assert option(question, "no", "en").startswith("No"), question.id
        assert "没" in option(question, "no", "zh"), question.id
        if "not_sure" in question.values:
            assert question.values[-1] == "not_sure", question.id
    assert {"infection_now", "hospital", "other_illness", "abnormal_lab", "lab_report", "rituximab", "tb"} <= set(
        checked
    )


def test_the_opening_questions_keep_their_positive_answer_first(study: Study) -> None:
    for qid in OPENING:
        question = study.question(qid)
        assert question.values[0] in ("yes", "yes_parent"), qid


def test_tick_lists_end_with_none_then_not_sure(study: Study) -> None:
    """In every tick-all list the "none of these" answer is just before "not sure", never first.

    The hepatitis C / HIV list used to start with "No, the tests were negative".
    """
    for question in study.questions:
        if question.type != "multiple":
            continue
        exclusive = [c.value for c in question.choices if c.exclusive]
        assert question.values[-len(exclusive) :] == tuple(exclusive), question.id
        assert question.values[-1] == "not_sure", question.id

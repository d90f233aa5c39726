"""The result in the family's words, in Debian's Chromium on a phone: zh and en, both voices.

A family taps through to each kind of result; the page leads with what decided it and the answer
behind it, lists the first visit and what to bring, passes axe-core, and shows no protocol jargon
outside the family's own quoted questions and answers. Screenshots go to /tmp/shots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from prescreen.engine import load_study
from tests.browser.test_public_chat import ACCEPT, Family, shot
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import born_years_ago, likely_answers
from tests.test_family_jargon import jargon_in, plain, question_material

STUDY = load_study(Path(__file__).resolve().parents[2] / "questions" / "pumch-pediatric-sjogren")

CASES = [
    # (name, respondent, lang, changes, outcome, the criterion and status the headline names)
    ("likely", "guardian", "en", {}, "likely_eligible", None),
    ("review-tb", "guardian", "zh", {"tb": "latent"}, "needs_review", ("exc_active_tb", "needs_review")),
    ("final-hbv", "patient", "en", {"hbv": "sab_cab_pos"}, "not_eligible", ("exc_hbv_sab_cab", "not_met")),
    ("review-labs", "patient", "zh", {"lab_report": "yes", "low_labs": ["igg_low"]}, "needs_review", None),
]


@pytest.mark.parametrize(("name", "respondent", "lang", "changes", "outcome", "named"), CASES)
def test_result_reads_in_the_familys_words(live_server, new_context, name, respondent, lang, changes, outcome, named):
    page = new_context(locale=ACCEPT[lang]).new_page()  # phone-sized
    answers: dict[str, Any] = {**likely_answers(), **changes}
    if respondent == "patient":
        answers["dob"] = born_years_ago(15)
    family = Family(page, live_server.url)
    page.goto(live_server.path(f"/?lang={lang}"))
    family.begin(respondent)
    family.walk(answers)
    expect(page.locator(f".result-{outcome}")).to_be_visible()
    top = plain(page.locator(".result").inner_text())
    if named:
        criterion, status = named
        assert STUDY.criterion(criterion).family(status, respondent, lang) in top
        assert ("Because you answered" if lang == "en" else "因为您的回答是") in top
    if outcome != "not_eligible":
        expect(
            page.get_by_role("heading", name="At the first visit" if lang == "en" else "第一次来医院时")
        ).to_be_visible()
        expect(page.get_by_role("heading", name="Please bring" if lang == "en" else "请带上")).to_be_visible()
    words = plain(page.locator("main").inner_text())
    for quoted in question_material(STUDY):
        words = words.replace(quoted, " ")
    assert jargon_in(words) == []
    assert_no_axe_violations(page)
    shot(page, f"result-words-{name}-{lang}")

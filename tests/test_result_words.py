"""The result page and the printed summary speak the family's words.

They lead with what decided the outcome, in the family's voice and language, with the answers that
decided it ("because you answered …"); "needs review" names what needs a closer look and mentions
"not sure" only when the family chose it; a possible match gets one plain list of what the first
visit checks and one of what to bring, each item once. The coordinator's labels never appear.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from prescreen.engine import load_study
from tests.helpers.public import BASE, Family, born_years_ago, likely_answers, months_ago
from tests.helpers.study import ELIGIBLE

STUDY = load_study(Path(__file__).resolve().parent.parent / "questions" / "pumch-pediatric-sjogren")


def text(body: str) -> str:
    """A page's words, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def headline(body: str) -> str:
    """The words of the result block at the top of the page (outcome, and what decided it)."""
    match = re.search(r'<div class="result result-[a-z_]+".*?</div>', body, re.S)
    assert match, body[:2000]
    return text(match.group(0))


def result_of(family: Family, changes: dict[str, Any], respondent: str = "guardian", lang: str = "en") -> str:
    answers = {**likely_answers(), **changes}
    if respondent == "patient":
        answers["dob"] = changes.get("dob", born_years_ago(15))  # a teen answers for themself
    family.start(respondent, lang)
    family.walk(answers)
    return family.result()


def question(qid: str, lang: str = "en", voice: str = "guardian") -> str:
    return STUDY.question(qid).text(voice, lang)


def option(qid: str, value: str, lang: str = "en") -> str:
    return STUDY.question(qid).choice(value).label(lang)


# -- needs review ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_needs_review_names_what_needs_a_look_and_does_not_say_not_sure_when_none_was_chosen(family, lang):
    """A positive TB test without illness: the doctor looks closer; nothing reads as "no TB"."""
    body = result_of(family, {"tb": "latent"}, lang=lang)
    top = headline(body)
    tb = STUDY.criterion("exc_active_tb")
    assert tb.family("needs_review", "guardian", lang) in top
    assert question("tb", lang) in top and option("tb", "latent", lang) in top
    assert ("Because you answered" if lang == "en" else "因为您的回答是") in top
    assert ("not sure" if lang == "en" else "不确定") not in top.lower()
    for label_lang in ("en", "zh"):  # the coordinator's label ("No active tuberculosis", 无活动性结核)
        assert tb.label(label_lang) not in body


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_needs_review_says_not_sure_when_the_family_chose_it(family, lang):
    top = headline(result_of(family, {"tb": "not_sure"}, lang=lang))
    assert STUDY.criterion("exc_active_tb").family("needs_review", "guardian", lang) in top
    assert ("You chose “not sure”" if lang == "en" else "您选了“不确定”") in top


def test_a_teen_reads_needs_review_as_you(family):
    top = headline(result_of(family, {"hbv": "cab_only"}, respondent="patient"))
    assert "The doctor will look more closely at your hepatitis B test result." in top
    assert question("hbv", voice="patient") in top and option("hbv", "cab_only") in top
    assert "your child" not in top.lower()


# -- not eligible ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_not_eligible_says_because_you_answered_with_the_familys_answer(family, lang):
    body = result_of(family, {"rituximab": "yes", "rituximab_last": months_ago(2)}, lang=lang)
    top = headline(body)
    assert STUDY.criterion("exc_rituximab_6m").family("not_met", "guardian", lang) in top
    assert question("rituximab_last", lang) in top
    month = months_ago(2)
    shown = f"{int(month[:4])}年{int(month[5:])}月" if lang == "zh" else str(int(month[:4]))
    assert shown in top
    assert question("rituximab", lang) not in top  # the "yes" before the date decided nothing
    assert 'class="recheck"' in body and "/volunteer/reminder" in body


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_active_tb_is_a_knock_out_said_plainly(family, lang):
    """ "Yes, has TB now" ends the form: not eligible, no re-check date, the reason in plain words."""
    body = result_of(family, {"tb": "active"}, lang=lang)
    top = headline(body)
    assert "result-not_eligible" in body and 'class="recheck"' not in body
    assert STUDY.criterion("exc_active_tb").family("not_met", "guardian", lang) in top
    assert option("tb", "active", lang) in top
    assert STUDY.criterion("exc_active_tb").label(lang) not in body


def test_criteria_that_share_a_reason_show_it_once_with_every_answer_behind_it(family):
    body = result_of(family, {"systemic": ["none"], "markers": ["normal_now"]})
    top = headline(body)
    reason = STUDY.criterion("inc_res_systemic").family("not_met", "guardian", "en")
    assert top.count(reason) == 1
    assert question("systemic") in top and question("markers") in top


# -- likely eligible: the first visit -------------------------------------------------------------


@pytest.mark.parametrize(("respondent", "lang"), [("guardian", "en"), ("patient", "zh")])
def test_likely_eligible_lists_the_first_visit_and_what_to_bring_once_each(family, respondent, lang):
    body = result_of(family, {}, respondent=respondent, lang=lang)
    words = text(body)
    assert ("At the first visit" if lang == "en" else "第一次来医院时") in words
    assert ("Please bring" if lang == "en" else "请带上") in words
    labs = STUDY.criterion("exc_igg_lt_4")  # four lab criteria share one visit check
    assert words.count(labs.family("confirm_at_visit", respondent, lang)) == 1
    assert words.count(labs.bring(lang)) == 1
    assert STUDY.criterion("inc_ss_aecg_or_jpn").family("confirm_at_visit", respondent, lang) in words
    for criterion in STUDY.criteria:  # the coordinator's labels never reach a family
        assert criterion.label("en") not in body and criterion.label("zh") not in body
    if respondent == "patient":
        assert "孩子" not in headline(body)


def test_a_met_group_says_nothing_about_its_other_arms(family):
    """High ESR alone makes Sjögren's "still active": the B-cell arm left for the visit is not mentioned."""
    body = result_of(family, {"systemic": ["none"], "markers": ["esr_high"]})
    active = STUDY.criterion("inc_res_bcell").family("confirm_at_visit", "guardian", "en")
    assert "result-likely_eligible" in body and active not in text(body)


# -- the printed summary --------------------------------------------------------------------------


def test_summary_carries_the_same_words_in_both_languages(family, client):
    result_of(family, {"tb": "latent"}, lang="zh")
    summary = text(client.get(f"{BASE}/summary").get_data(as_text=True))
    tb = STUDY.criterion("exc_active_tb")
    assert tb.family("needs_review", "guardian", "zh") in summary
    assert tb.family("needs_review", "guardian", "en") in summary
    assert "第一次来医院时" in summary and "At the first visit" in summary
    assert tb.bring("zh") in summary and tb.bring("en") in summary
    assert summary.index("预筛查小结") < summary.index("Pre-screening summary")


def test_the_base_family_of_the_study_tests_is_still_the_likely_one():
    assert ELIGIBLE["tb"] == "no" and ELIGIBLE["hbv"] == "negative"

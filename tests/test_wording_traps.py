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

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prescreen.engine import Flow, Question, State, Study, load_study
from tests.helpers.study import ELIGIBLE

STUDY_DIR = Path(__file__).resolve().parent.parent / "questions" / "pumch-pediatric-sjogren"
TODAY = date(2026, 11, 25)
THIS_MONTH = "2026-11"
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
    state = flow.run({**ELIGIBLE, **changes}, respondent, TODAY)
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


# -- conditions known by another name -----------------------------------------------------------------


def test_selective_iga_deficiency_is_named_as_a_primary_immunodeficiency(study: Study, flow: Flow) -> None:
    """The commonest primary immunodeficiency: its parents used to read "weak immune system from
    birth" as something else, tick "Neither", and get "likely eligible" for a definite exclusion
    (the listing excludes primary immunodeficiency, and IgA below 0.1 g/L besides)."""
    history = study.question("history")
    assert "IgA deficiency" in option(history, "pid", "en")
    assert "选择性IgA缺乏症" in option(history, "pid", "zh")
    assert "CVID" in option(history, "pid", "en") and "无丙种球蛋白血症" in option(history, "pid", "zh")
    # low antibody levels from medicines are still left out, in words a parent reads as such
    assert "caused by medicines don't count" in texts(history, "en")
    assert "因用药导致免疫球蛋白偏低的不算" in texts(history, "zh")
    state = walk(flow, history=["pid"])
    assert state.outcome.status == "not_eligible"
    assert state.outcome.criteria["exc_primary_immunodeficiency"] == NOT_MET
    assert state.asked[-1] == "history"


def test_leukemia_is_named_as_a_cancer(study: Study, flow: Flow) -> None:
    """恶性肿瘤 reads as "a malignant lump": a parent of a child who had 白血病 may tick 都没有."""
    history = study.question("history")
    assert "leukemia" in option(history, "cancer", "en") and "白血病" in option(history, "cancer", "zh")
    assert walk(flow, history=["cancer"]).outcome.criteria["exc_malignancy_history"] == NOT_MET


def test_a_hepatitis_b_carrier_finds_the_surface_antigen_option(study: Study, flow: Flow) -> None:
    hbv = study.question("hbv")
    assert "carrier" in option(hbv, "sag_pos", "en") and "乙肝病毒携带" in option(hbv, "sag_pos", "zh")
    assert walk(flow, hbv="sag_pos").outcome.criteria["exc_hbv_sag"] == NOT_MET


def test_juvenile_arthritis_by_its_old_name_counts_as_another_immune_illness(study: Study, flow: Flow) -> None:
    other = study.question("other_autoimmune")
    assert "幼年类风湿" in texts(other, "zh") and "风湿免疫病" in texts(other, "zh")
    assert walk(flow, other_autoimmune="yes").outcome.criteria["chk_primary_ss"] == REVIEW


def test_kidney_failure_by_its_lay_name(study: Study, flow: Flow) -> None:
    """尿毒症 is what families call kidney failure; low potassium is how Sjögren's kidneys show in children."""
    kidney = study.question("kidney")
    assert "尿毒症" in option(kidney, "failure", "zh")
    assert "low potassium" in option(kidney, "affected_normal", "en") and "低血钾" in option(
        kidney, "affected_normal", "zh"
    )
    assert walk(flow, kidney="failure").outcome.criteria["exc_egfr_lt_30"] == NOT_MET
    assert walk(flow, kidney="affected_normal").outcome.criteria["exc_egfr_lt_30"] == MET


def test_organ_problems_are_described_as_parents_see_them(study: Study, flow: Flow) -> None:
    """ "肾脏受累" meant nothing to a parent whose child has protein in the urine or low potassium."""
    systemic = study.question("systemic")
    examples = {"vasculitis": "紫癜", "skin": "皮疹", "kidney": "尿蛋白", "nerve": "麻木", "liver": "转氨酶"}
    for value, words in examples.items():
        assert words in option(systemic, value, "zh"), value
    assert "protein in the urine" in option(systemic, "kidney", "en")
    only_kidney = walk(flow, systemic=["kidney"], markers=["normal_now"]).outcome
    assert only_kidney.criteria["inc_res_systemic"] == MET and only_kidney.status == "likely_eligible"


# -- lay words for drugs and tests --------------------------------------------------------------------


def test_infliximab_by_its_brand_counts_as_another_biologic(study: Study, flow: Flow) -> None:
    """类克 is the biologic most children have met (bowel disease, Kawasaki): it excludes for good."""
    biologics = study.question("biologics")
    assert "infliximab" in option(biologics, "other_biologic", "en")
    assert "英夫利西单抗（类克）" in option(biologics, "other_biologic", "zh")
    state = walk(flow, biologics=["other_biologic"])
    assert state.outcome.criteria["exc_prior_other_biologic"] == NOT_MET and state.asked[-1] == "biologics"


def test_jak_tablets_are_named_among_what_does_not_count(study: Study, flow: Flow) -> None:
    """Baricitinib is sold as a "targeted drug" (靶向药) too; a parent must not tick it as a biologic."""
    biologics = study.question("biologics")
    assert "baricitinib" in option(biologics, "ivig_jak", "en") and "巴瑞替尼" in option(biologics, "ivig_jak", "zh")
    outcome = walk(flow, biologics=["ivig_jak"]).outcome
    assert outcome.criteria["exc_prior_other_biologic"] == MET


def test_immunosuppressants_carry_the_letters_on_the_prescription(study: Study) -> None:
    drugs = study.question("drugs")
    assert "MTX" in option(drugs, "mtx", "zh") and "CTX" in option(drugs, "cyc", "zh")


def test_antibiotics_are_called_what_parents_call_them(study: Study, flow: Flow) -> None:
    """消炎药 and 头孢 are the words on a Chinese parent's lips, not 抗感染的药."""
    iv = study.question("iv_drugs")
    assert "消炎药" in texts(iv, "zh") and "头孢" in texts(iv, "zh")
    assert "IV (drip)" in texts(iv, "en")
    outcome = walk(flow, iv_drugs="yes", iv_month=THIS_MONTH).outcome
    assert outcome.criteria["exc_parenteral_antimicrobial_30d"] == NOT_MET and outcome.waiting


def test_the_hepatitis_c_and_hiv_tests_are_the_pre_surgery_panel(study: Study, flow: Flow) -> None:
    """Families know 术前四项 / 输血前四项 (done before the lip biopsy, too), not "HCV antibody"."""
    question = study.question("hcv_hiv")
    assert "术前四项" in texts(question, "zh") and "输血前四项" in texts(question, "zh")
    assert "before surgery or a blood transfusion" in texts(question, "en")


def test_a_nasal_or_oral_vaccine_is_a_vaccine(study: Study, flow: Flow) -> None:
    """打疫苗 means a shot: a child given the nose-spray flu vaccine "had no shot" to a literal reader."""
    vaccine = study.question("vaccine")
    assert "鼻喷" in texts(vaccine, "zh") and "口服" in texts(vaccine, "zh")
    assert "nose sprays" in texts(vaccine, "en")
    assert "鼻喷流感" in option(vaccine, "live", "zh") and "nose-spray flu" in option(vaccine, "live", "en")
    outcome = walk(flow, vaccine="live", vaccine_month=THIS_MONTH).outcome
    assert outcome.criteria["exc_live_vaccine_3m"] == NOT_MET and outcome.waiting


def test_vaccines_that_come_live_or_not_are_named_so_parents_say_they_are_unsure(study: Study, flow: Flow) -> None:
    """乙脑 and 甲肝 vaccines come both live and inactivated in China: the parent cannot know which."""
    vaccine = study.question("vaccine")
    assert "甲肝" in option(vaccine, "live", "zh") and "hepatitis A" in option(vaccine, "live", "en")
    assert "Japanese encephalitis (JE)" in option(vaccine, "live", "en")
    assert "乙脑" in option(vaccine, "unsure_which", "zh") and "甲肝" in option(vaccine, "unsure_which", "zh")
    assert walk(flow, vaccine="unsure_which").outcome.criteria["exc_live_vaccine_3m"] == REVIEW


def test_a_port_or_feeding_tube_is_a_tube_that_stays_in(study: Study, flow: Flow) -> None:
    risk = study.question("infection_risk")
    assert "输液港" in option(risk, "catheter", "zh") and "胃管" in option(risk, "catheter", "zh")
    assert "容易引起感染" in texts(risk, "zh")
    outcome = walk(flow, infection_risk=["catheter"]).outcome
    assert outcome.criteria["exc_high_infection_risk"] == REVIEW and outcome.status == "needs_review"


# -- what a literal reader would tick -----------------------------------------------------------------


def test_a_positive_tb_test_is_asked_in_the_question_not_only_in_an_option(study: Study, flow: Flow) -> None:
    """ "Has your child ever had TB?" — a child with a positive T-SPOT never had TB, so "No" was honest."""
    tb = study.question("tb")
    assert "T-SPOT" in texts(tb, "zh") and "PPD" in texts(tb, "zh")
    assert "positive TB skin or blood test" in texts(tb, "en")
    assert walk(flow, tb="latent").outcome.criteria["exc_active_tb"] == REVIEW


def test_medicine_a_few_days_a_week_or_to_prevent_an_infection_is_asked_about(study: Study, flow: Flow) -> None:
    """Co-trimoxazole is often taken 3 days a week to prevent pneumocystis: "each day ... to keep an
    infection down" read literally gave "No" (met) where the notes ask for a closer look."""
    question = study.question("suppressive")
    assert "a few days a week" in texts(question, "en") and "每周只吃几天的也算" in texts(question, "zh")
    assert "prevent" in texts(question, "en") and "预防" in texts(question, "zh")
    for pick in ("pcp_only", "prevent_other"):
        assert walk(flow, suppressive=pick).outcome.criteria["exc_chronic_inf_suppressive"] == REVIEW, pick
    assert walk(flow, suppressive="yes").outcome.criteria["exc_chronic_inf_suppressive"] == NOT_MET


def test_a_trial_still_going_on_counts(study: Study, flow: Flow) -> None:
    """ "参加过" (took part) read literally leaves out a trial the child is still in."""
    trial = study.question("other_trial")
    assert "现在还在参加的也算" in texts(trial, "zh") and "still in" in texts(trial, "en")
    outcome = walk(flow, other_trial="yes", trial_end=THIS_MONTH).outcome
    assert outcome.criteria["exc_other_trial_6m"] == NOT_MET and outcome.waiting


def test_a_hospital_stay_still_going_on_counts(study: Study, flow: Flow) -> None:
    hospital = study.question("hospital")
    assert "现在还在住院的也算" in texts(hospital, "zh") and "still going on" in texts(hospital, "en")
    assert "肺炎" in texts(hospital, "zh") and "pneumonia" in texts(hospital, "en")
    outcome = walk(flow, hospital="yes", hospital_month=THIS_MONTH).outcome
    assert outcome.criteria["exc_hosp_infection_60d"] == NOT_MET and outcome.waiting


def test_the_hepatitis_c_and_hiv_options_say_whether_a_test_was_done(study: Study, flow: Flow) -> None:
    """ "Has your child had a test? Was it positive?" answered "No, the tests were negative" by a parent
    who meant "no test": now "tested, both negative" and "never tested" cannot be confused."""
    question = study.question("hcv_hiv")
    assert option(question, "negative", "en").startswith("Tested") and option(question, "negative", "zh").startswith(
        "查过"
    )
    assert option(question, "not_sure", "en").startswith("Never tested")
    assert option(question, "not_sure", "zh").startswith("没查过")
    never = walk(flow, hcv_hiv=["not_sure"]).outcome.criteria
    assert (never["exc_hcv_ab"], never["exc_hiv"]) == (CONFIRM, CONFIRM)
    tested = walk(flow, hcv_hiv=["negative"]).outcome.criteria
    assert (tested["exc_hcv_ab"], tested["exc_hiv"]) == (MET, MET)


def test_agreeing_now_is_not_signing(study: Study) -> None:
    """A parent who reads "do you agree" as signing up picks "want to know more" (a review) instead."""
    for qid in OPENING - {"diagnosis"}:
        question = study.question(qid)
        for voice in ("guardian", "patient"):
            assert "现在回答不等于签字" in question.text(voice, "zh"), (qid, voice)
            assert "Saying yes now does not sign" in question.text(voice, "en"), (qid, voice)
    assert "如果孩子符合条件" in study.question("consent_guardian").text("guardian", "zh")


def test_which_tests_were_done_is_asked_apart_from_which_were_positive(study: Study, flow: Flow) -> None:
    """One list mixed "antibodies positive" with "lip biopsy" (done): a parent whose antibody test was
    negative could not say it was done, and one whose biopsy was normal ticked it as if it counted."""
    done, results = study.question("ss_tests"), study.question("ss_results")
    assert "positive" not in texts(done, "en") + " ".join(c.label("en") for c in done.choices)
    assert "阳性" not in texts(done, "zh") + " ".join(c.label("zh") for c in done.choices)
    assert "even if the result was normal" in texts(done, "en") and "结果正常的也要选" in texts(done, "zh")
    assert set(results.plain_values) == set(done.plain_values)  # the same four tests, by result
    assert "positive" in option(results, "antibodies", "en") and "阳性" in option(results, "antibodies", "zh")

    all_normal = walk(flow, ss_tests=["antibodies", "lip_biopsy"], ss_results=["none"])
    assert all_normal.outcome.criteria["inc_ss_aecg_or_jpn"] == REVIEW
    positive = walk(flow, ss_tests=["antibodies", "lip_biopsy"], ss_results=["lip_biopsy"])
    assert positive.outcome.criteria["inc_ss_aecg_or_jpn"] == CONFIRM
    nothing_done = walk(flow, ss_tests=["none"], ss_results=["antibodies"])  # results are never asked
    assert "ss_results" not in nothing_done.asked
    assert nothing_done.outcome.criteria["inc_ss_aecg_or_jpn"] == REVIEW

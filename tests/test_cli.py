"""The study commands are contracts our acceptance checks call: test them through Click."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from prescreen.cli import main
from tests.helpers.study import ELIGIBLE, QUESTIONS, write_study

ROOT = Path(__file__).resolve().parent.parent
STUDY_ID = "pumch-pediatric-sjogren"


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.delenv("PRESCREEN_QUESTIONS_DIR", raising=False)
    return CliRunner()


def screen(cli, tmp_path, answers, *args):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    return cli.invoke(main, ["screen", STUDY_ID, "--answers", str(path), "--today", "2026-11-25", *args])


def test_check_summarises_the_real_study(cli):
    result = cli.invoke(main, ["questions", "check"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith(f"{STUDY_ID}: ok — ")
    assert "37 criteria" in line and "paths walked" in line and "longest" in line


def test_check_lists_every_problem_and_exits_1(cli, tmp_path):
    broken = QUESTIONS.replace("dx == 'yes',exc_drug", "dxx == 'yes',exc_drug").replace(
        "When was your child born?,", ","
    )
    folder = write_study(tmp_path, questions=broken)
    result = cli.invoke(main, ["questions", "check", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "questions/demo/questions.csv:2: column 'text::guardian::en': empty en cell: every wording "
        "needs both Chinese and English",
        "questions/demo/questions.csv:4: column 'show_if': unknown question 'dxx' (did you mean 'dx'?)",
    ]


def test_show_json_holds_every_criterion_and_question(cli):
    result = cli.invoke(main, ["questions", "show", STUDY_ID, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["id"] == STUDY_ID and len(data["version"]) == 16
    assert len({c["id"] for c in data["criteria"]}) == 37
    first = data["questions"][0]
    assert {"id", "type", "show_if", "criteria", "choices"} <= set(first)
    biologics = next(q for q in data["questions"] if q["id"] == "biologics")
    assert {"value": "belimumab"}.items() <= biologics["choices"][0].items()


def test_screen_prints_the_json_contract(cli, tmp_path):
    result = screen(cli, tmp_path, ELIGIBLE, "--lang", "zh")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["outcome"] == "likely_eligible"
    assert data["asked"] == list(ELIGIBLE)
    assert data["recheck_after"] is None and data["reasons"] == []
    # steroid + one immunosuppressant meets one arm of the "resistant" definition, not the other;
    # an arm that fails inside a group that is met does not make the child ineligible
    assert data["criteria"]["inc_res_tx_pred_is"] == "met"
    assert data["criteria"]["inc_res_tx_2is"] == "not_met"
    others = {k: v for k, v in data["criteria"].items() if k != "inc_res_tx_2is"}
    assert set(others.values()) == {"met", "confirm_at_visit"}
    assert data["failed"] == []


def test_screen_ignores_answers_to_questions_not_reached(cli, tmp_path):
    answers = {**ELIGIBLE, "rituximab_last": "2026-10", "tx_start": "not even a month"}
    result = screen(cli, tmp_path, answers)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "likely_eligible"


def test_screen_gives_reasons_and_recheck_date_in_the_chosen_language(cli, tmp_path):
    answers = {**ELIGIBLE, "rituximab": "yes", "rituximab_last": "2026-08"}
    result = screen(cli, tmp_path, answers, "--lang", "zh")
    data = json.loads(result.output)
    assert data["outcome"] == "not_eligible"
    assert data["criteria"]["exc_rituximab_6m"] == "not_met"
    assert data["recheck_after"] == "2027-03-01"  # August + 6 months = February, from its end
    assert len(data["reasons"]) == 1 and "利妥昔单抗" in data["reasons"][0]


def test_screen_exits_2_naming_a_reached_question_without_answer(cli, tmp_path):
    answers = {k: v for k, v in ELIGIBLE.items() if k != "hbv"}
    result = screen(cli, tmp_path, answers)
    assert result.exit_code == 2
    assert "question 'hbv': an answer is required" in result.output
    assert "negative, sab_only, sag_pos" in result.output


def test_screen_exits_2_on_a_value_the_question_does_not_allow(cli, tmp_path):
    result = screen(cli, tmp_path, {**ELIGIBLE, "tb": "maybe"})
    assert result.exit_code == 2
    assert "question 'tb': that is not one of the options (allowed: no, active, latent, past, not_sure)" in (
        result.output
    )


def test_screen_unknown_study_is_one_clean_line(cli, tmp_path):
    path = tmp_path / "a.json"
    path.write_text("{}", encoding="utf-8")
    result = cli.invoke(main, ["screen", "nope", "--answers", str(path)])
    assert result.exit_code == 1
    assert f"unknown study 'nope' (studies: {STUDY_ID})" in result.output


def test_screen_rejects_an_answers_file_that_is_not_an_object(cli, tmp_path):
    result = screen(cli, tmp_path, ["dob"])
    assert result.exit_code == 1 and "must hold a JSON object" in result.output


def test_export_fhir_is_a_valid_r4_questionnaire_with_chinese(cli):
    from fhir.resources.questionnaire import Questionnaire

    result = cli.invoke(main, ["questions", "export-fhir", STUDY_ID])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    questionnaire = Questionnaire.model_validate(data)
    items = {item.linkId: item for item in questionnaire.item}
    assert len(items) == len(data["item"]) and "biologics" in items
    assert items["biologics"].repeats is True
    last_dose = items["rituximab_last"]
    entries = [(w.question, w.operator, w.answerCoding.code) for w in last_dose.enableWhen or []]
    assert ("rituximab", "=", "yes") in entries
    assert last_dose.enableBehavior in (None, "all")
    zh = data["item"][0]["_text"]["extension"][0]["extension"]
    assert {"url": "lang", "valueCode": "zh"} in zh

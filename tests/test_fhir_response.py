"""A screening as a FHIR R4 QuestionnaireResponse: valid, read against our Questionnaire, and anonymous.

A hospital system reads the response against the study's Questionnaire (``questions export-fhir``),
so every answer must name an item of it and use a code its options allow. The response carries
answers only: no subject, no name, phone or reference.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fhir.resources.questionnaire import Questionnaire
from fhir.resources.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient

from prescreen.cli import main
from prescreen.engine import Flow, Study, load_study
from prescreen.fhir import questionnaire, questionnaire_response
from tests.helpers.staff import add_referral, add_user, db_of, download, login
from tests.test_study_families import FAMILIES, STUDY_DIR, TODAY

STUDY_ID = "pumch-pediatric-sjogren"
AUTHORED = datetime(2026, 11, 25, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(STUDY_DIR)


@pytest.fixture(scope="module")
def declared(study: Study) -> Questionnaire:
    return Questionnaire.model_validate(questionnaire(study))


def check_against(response: dict[str, Any], declared: Questionnaire) -> QuestionnaireResponse:
    """Validate *response* and read each answer against the Questionnaire's items and options."""
    parsed = QuestionnaireResponse.model_validate(response)
    assert parsed.questionnaire == f"{declared.url}|{declared.version}"
    items = {item.linkId: item for item in declared.item}
    for answered in parsed.item:
        item = items[answered.linkId]  # a KeyError: an answer to a question the Questionnaire lacks
        assert answered.answer, answered.linkId
        if len(answered.answer) > 1:
            assert item.repeats, answered.linkId
        for answer in answered.answer:
            if item.type == "choice":
                allowed = {(o.valueCoding.system, o.valueCoding.code) for o in item.answerOption}
                coding = answer.valueCoding
                assert (coding.system, coding.code) in allowed, (answered.linkId, coding.code)
            elif item.type == "date":
                assert re.fullmatch(r"\d{4}-\d{2}", str(answer.valueDate)), answered.linkId
            else:
                assert item.type == "integer" and answer.valueInteger is not None
    # the family is not identified: no subject, author or source
    assert parsed.subject is None and parsed.author is None and parsed.source is None
    return parsed


def test_every_family_of_the_table_gives_a_valid_response_of_what_was_asked(
    study: Study, declared: Questionnaire
) -> None:
    flow = Flow(study)
    for family in FAMILIES:
        state = flow.run(family.answers(), respondent=family.respondent, today=TODAY)
        response = questionnaire_response(study, state, study.version, authored=AUTHORED, completed=True)
        parsed = check_against(response, declared)
        assert parsed.status == "completed"
        # the questions this route asked, in order; answers a changed route left behind are not sent
        assert [i.linkId for i in parsed.item] == list(state.asked), family.id


def test_a_multiple_choice_answer_is_one_coding_per_ticked_option(study: Study, declared: Questionnaire) -> None:
    family = FAMILIES[0]
    state = Flow(study).run(family.answers(), today=TODAY)
    response = questionnaire_response(study, state, study.version, authored=AUTHORED, completed=False)
    parsed = check_against(response, declared)
    assert parsed.status == "in-progress"
    items = {i.linkId: i for i in parsed.item}
    assert {a.valueCoding.code for a in items["drugs"].answer} == set(family.answers()["drugs"])
    assert [a.valueDate for a in items["dob"].answer] == [family.answers()["dob"]]
    assert parsed.authored.isoformat() == "2026-11-25T03:04:05+00:00"


def test_cli_screen_fhir_prints_a_response_to_the_exported_questionnaire(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PRESCREEN_QUESTIONS_DIR", raising=False)
    cli = CliRunner()
    exported = cli.invoke(main, ["questions", "export-fhir", STUDY_ID])
    declared = Questionnaire.model_validate(json.loads(exported.output))
    for family in (FAMILIES[0], next(f for f in FAMILIES if f.respondent == "patient")):
        answers = tmp_path / "answers.json"
        answers.write_text(json.dumps(family.answers()), encoding="utf-8")
        result = cli.invoke(
            main,
            ["screen", STUDY_ID, "--answers", str(answers), "--today", "2026-11-25", "--respondent", family.respondent]
            + ["--fhir"],
        )
        assert result.exit_code == 0, result.output
        parsed = check_against(json.loads(result.output), declared)
        assert parsed.status == "completed"
        asked = json.loads(
            cli.invoke(
                main,
                ["screen", STUDY_ID, "--answers", str(answers), "--today", "2026-11-25"]
                + ["--respondent", family.respondent],
            ).output
        )["asked"]
        assert [i.linkId for i in parsed.item] == asked


def test_coordinator_downloads_one_familys_answers_audited_without_contact_details(
    app: Flask, client: FlaskClient
) -> None:
    add_user(app)
    assert login(client).status_code == 302
    family = add_referral(app, name="王小明家长", phone="+8613800138000", wechat="wxid_parent01")
    add_referral(app, phone="+8613000000002")
    page = f"/coordinator/referrals/{family['id']}"
    assert "questionnaire-response.json" in client.get(page).get_data(as_text=True)
    response = download(client, f"{page}/questionnaire-response.json", page)
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert f"questionnaire-response-{family['id']}.json" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    for personal in (
        "王小明",
        "13800138000",
        "138 0013 8000",
        "wxid_parent01",
        "parent@example.cn",
        family["reference"],
    ):
        assert personal not in body
    resource = json.loads(body)
    study = load_study(STUDY_DIR)
    check_against(resource, Questionnaire.model_validate(questionnaire(study)))
    assert resource["status"] == "completed"
    assert {i["linkId"] for i in resource["item"]} >= {"dob", "diagnosis"}

    db = db_of(app)
    try:
        rows = list(db.query("SELECT actor, record_id FROM audit WHERE action = 'export.fhir_response'"))
    finally:
        db.close()
    assert [r["record_id"] for r in rows] == [str(family["id"])]
    assert rows[0]["actor"]  # who took it


def test_the_response_export_needs_a_post_with_the_pages_token_and_a_visible_study(
    app: Flask, client: FlaskClient
) -> None:
    add_user(app, studies=("another-study",))
    assert login(client).status_code == 302
    family = add_referral(app)
    path = f"/coordinator/referrals/{family['id']}/questionnaire-response.json"
    assert client.get(path).status_code == 405
    assert client.post(path, data={}).status_code == 400  # no CSRF token
    assert download(client, path, "/coordinator/").status_code == 404  # not one of this person's studies

"""Every outcome names a team a family can reach: Debian's Chromium on a phone, in zh and in en.

A parent walks to each outcome (likely eligible, needs review, not eligible for now, not eligible
for good). On the result, the page after sending details and the printed summary they must find
the hospital, the department, the street address, the registry number, the team's configured
phone / e-mail / WeChat and how soon the team calls back, and no protocol jargon. The study sheets
are the real study's with a department filled in (the listing names none, so the real sheet leaves
it empty; this test shows the column reaches the page). The contacts are fictional test values.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from prescreen.engine import load_study
from tests.browser.test_public_chat import ACCEPT, Family, shot
from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.public import BASE, likely_answers, review_answers, waiting_answers
from tests.test_family_jargon import jargon_in, plain, question_material

REAL = Path(__file__).resolve().parents[2] / "questions"
STUDY_ID = "pumch-pediatric-sjogren"
CONTACTS = {
    "STUDY_CONTACT_PHONE": "+86 10 5555 0100",
    "STUDY_CONTACT_EMAIL": "ss-study@pumch.example",
    "STUDY_CONTACT_WECHAT": "pumch_peds_ss",
    "STUDY_REPLY_WORKING_DAYS": 3,
}
DEPARTMENT = {"en": "Department of Paediatrics (test value)", "zh": "儿科（测试值）"}
#: What the team block says in each language (with the contacts and department above).
BLOCK = {
    "zh": [
        "北京协和医院",
        DEPARTMENT["zh"],
        "北京市东城区帅府园1号",
        "100730",
        "NCT06410833",
        "+86 10 5555 0100",
        "ss-study@pumch.example",
        "pumch_peds_ss",
    ],
    "en": [
        "Peking Union Medical College Hospital",
        DEPARTMENT["en"],
        "No. 1 Shuaifuyuan",
        "100730",
        "NCT06410833",
        "+86 10 5555 0100",
        "ss-study@pumch.example",
        "pumch_peds_ss",
    ],
}
PROMISE = {"zh": "3个工作日内", "en": "within 3 working days"}
OUTCOMES = {
    "likely_eligible": likely_answers,
    "needs_review": review_answers,
    "not_eligible-recheck": waiting_answers,
    "not_eligible-final": lambda: {**likely_answers(), "hbv": "sag_pos"},
}


@pytest.fixture
def sheets(tmp_path: Path) -> Path:
    """The real questions folder, with a department in the study row."""
    folder = tmp_path / "questions"
    shutil.copytree(REAL, folder)
    path = folder / STUDY_ID / "study.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["department::en"], rows[0]["department::zh"] = DEPARTMENT["en"], DEPARTMENT["zh"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture
def team_server(live_app_config: dict[str, Any], sheets: Path, request: pytest.FixtureRequest) -> Any:
    live_app_config.update(CONTACTS, QUESTIONS_DIR=str(sheets))
    return request.getfixturevalue("live_server")


def words_of(page: Any) -> str:
    """The main column as a reader sees it, whitespace collapsed."""
    return plain(page.locator("main").inner_text())


def assert_team_block(text: str, lang: str) -> None:
    missing = [item for item in BLOCK[lang] if item not in text]
    assert missing == [], f"the team block lacks {missing}"


def assert_no_jargon(text: str, study: Any) -> None:
    for quoted in question_material(study):  # the family's own questions and answers, quoted back
        text = text.replace(quoted, " ")
    assert jargon_in(text) == []


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_outcome_names_a_team_the_family_can_reach(team_server, sheets, new_context, lang, outcome):
    study = load_study(sheets / STUDY_ID)
    page = new_context(locale=ACCEPT[lang]).new_page()
    family = Family(page, team_server.url)
    family.begin()
    family.walk(OUTCOMES[outcome]())
    status = outcome.split("-")[0]
    expect(page.locator(f".result-{status}")).to_be_visible()
    text = words_of(page)
    assert_team_block(text, lang)
    assert_no_jargon(text, study)
    assert_no_axe_violations(page)
    shot(page, f"team-{lang}-{outcome}")

    if status == "not_eligible":
        # a person can still look again: the review variant of the form, with the same team block
        family.tap(f'a[href="{BASE}/refer?kind=review"]')
    else:
        assert PROMISE[lang] in text  # before sending: how soon the team calls
        family.tap(f'a[href="{BASE}/refer"]')
    page.fill("#name", "王芳" if lang == "zh" else "Jane Li")
    page.check("#relationship-mother")
    page.fill("#phone", "13812345678")
    page.check("#best_time-evening")
    page.check("#share")
    page.check("#guardian")
    page.click("form button[type=submit]")
    page.wait_for_selector(".reference")
    sent = words_of(page)
    assert_team_block(sent, lang)
    assert PROMISE[lang] in sent and "+86 10 5555 0100" in sent  # when, and from which number
    assert_no_jargon(sent, study)
    shot(page, f"team-{lang}-{outcome}-sent")

    page.goto(team_server.path(f"{BASE}/summary"))
    summary = words_of(page)
    assert_team_block(summary, "zh")  # the summary carries both languages, for any doctor
    assert_team_block(summary, "en")
    assert_no_jargon(summary, study)

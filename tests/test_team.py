"""The team a family can name and reach: study.csv's department, address and numbers; contacts from configuration.

Pages are read through the real Flask client on the real study; the production refusal through
``create_app`` itself, as an operator starting the server would meet it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from prescreen import create_app
from prescreen.config import ConfigError
from prescreen.engine import StudyError, load_study
from prescreen.team import TeamContact, contact_of
from tests.helpers.public import Family, likely_answers, referral_form
from tests.helpers.study import build_study

STUDY = "pumch-pediatric-sjogren"
BASE = f"/s/{STUDY}"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
STRONG_KEY = "3c9e1f7a5d2b8c4e6f0a1d3b5c7e9f2a4b6d8e0c1f3a5b7d9e2c4f6a8b0d1e3f"
CONTACTS = {
    "STUDY_CONTACT_PHONE": "+86 10 5555 0100",
    "STUDY_CONTACT_EMAIL": "ss-study@pumch.example",
    "STUDY_CONTACT_WECHAT": "pumch_peds_ss",
    "STUDY_REPLY_WORKING_DAYS": 3,
}


# -- study.csv ---------------------------------------------------------------------------------


def test_department_and_ethics_approval_are_optional_and_read_as_empty(tmp_path: Path) -> None:
    study = load_study(build_study(tmp_path))
    assert study.text("department", "zh") == "" and study.meta["ethics_approval"] == ""
    filled = load_study(
        build_study(
            tmp_path / "b",
            study=[{"department::en": "Paediatrics", "department::zh": "儿科", "ethics_approval": "JS-0001"}],
        )
    )
    assert (filled.text("department", "en"), filled.text("department", "zh")) == ("Paediatrics", "儿科")
    assert filled.meta["ethics_approval"] == "JS-0001"


def test_a_department_in_one_language_only_is_refused_with_its_row(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as caught:
        load_study(build_study(tmp_path, study=[{"department::en": "Paediatrics", "department::zh": ""}]))
    assert "questions/demo/study.csv:2: column 'department::zh': fill in the department in both languages" in str(
        caught.value
    )


def test_a_filled_in_department_and_ethics_approval_show_on_the_study_page(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    study = {
        "department::en": "Department of Paediatrics",
        "department::zh": "儿科",
        "ethics_approval": "JS-2024-0001",
        "registry_id": "NCT00000001",
        "address::en": "No. 1 Example Road, Beijing 100000",
        "address::zh": "北京市示例路1号，邮编100000",
    }
    build_study(tmp_path / "sheets", study=[study])
    app = make_app(QUESTIONS_DIR=str(tmp_path / "sheets" / "questions"), **CONTACTS)
    client = app.test_client()
    zh = text_of(client.get("/s/demo/?lang=zh"))
    for shown in ("儿科", "北京市示例路1号，邮编100000", "临床试验注册号 NCT00000001", "伦理批件号 JS-2024-0001"):
        assert shown in zh
    en = text_of(client.get("/s/demo/?lang=en"))
    for shown in ("Department of Paediatrics", "Registry number NCT00000001", "Ethics approval number JS-2024-0001"):
        assert shown in en


# -- the team block on the family's pages -------------------------------------------------------


def text_of(response: Any) -> str:
    """A page as a reader sees its words: tags gone, whitespace collapsed."""
    assert response.status_code == 200, response.status_code
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(page).split())


#: What every page with the team block shows for the real study with CONTACTS configured.
BLOCK = {
    "zh": (
        "北京协和医院",
        "北京市东城区帅府园1号（东单院区），邮编100730",
        "临床试验注册号 NCT06410833",
        "电话： +86 10 5555 0100",
        "邮箱： ss-study@pumch.example",
        "微信： pumch_peds_ss",
    ),
    "en": (
        "Peking Union Medical College Hospital",
        "Dongdan campus, No. 1 Shuaifuyuan, Dongcheng District, Beijing 100730, China",
        "Registry number NCT06410833",
        "Phone: +86 10 5555 0100",
        "E-mail: ss-study@pumch.example",
        "WeChat: pumch_peds_ss",
    ),
}
PROMISE = {
    "zh": "提交联系方式后，研究团队会在3个工作日内给您打电话。",
    "en": "If you send your details, the team will call you within 3 working days.",
}
CALL = {
    "zh": "研究团队会在3个工作日内用+86 10 5555 0100给您打电话。",
    "en": "The study team will call you within 3 working days, from +86 10 5555 0100.",
}
REFERRAL = referral_form(phone="13800138000")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_result_sent_and_summary_name_the_team_and_when_it_calls(make_app: Callable[..., Flask], lang: str) -> None:
    app = make_app(RATELIMIT_ENABLED=False, **CONTACTS)
    client = app.test_client()
    family = Family(client)
    family.start(lang=lang)
    family.walk(likely_answers())
    result = text_of(client.get(f"{BASE}/result"))
    assert all(shown in result for shown in BLOCK[lang]) and PROMISE[lang] in result
    assert 'href="tel:+861055550100"' in client.get(f"{BASE}/result").get_data(as_text=True)

    summary = text_of(client.get(f"{BASE}/summary"))
    assert all(shown in summary for shown in BLOCK["zh"] + BLOCK["en"]), "both languages' copies"

    refer = client.get(f"{BASE}/refer")
    assert all(shown in text_of(refer) for shown in BLOCK[lang])
    token = CSRF.search(refer.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    response = client.post(f"{BASE}/refer", data={**REFERRAL, "language": lang, "csrf_token": token})
    assert response.status_code == 303
    sent = text_of(client.get(f"{BASE}/sent"))
    assert CALL[lang] in sent and all(shown in sent for shown in BLOCK[lang])
    assert PROMISE[lang] not in sent, "after sending, the page says when the call comes instead"


@pytest.mark.parametrize("path", ["/", "/consent?as=guardian"])
def test_the_study_page_and_the_consent_name_the_team(make_app: Callable[..., Flask], path: str) -> None:
    client = make_app(**CONTACTS).test_client()
    page = text_of(client.get(f"{BASE}{path}{'&' if '?' in path else '?'}lang=zh"))
    assert all(shown in page for shown in BLOCK["zh"])
    if "consent" in path:  # the privacy notice's "questions or complaints" points at the block
        assert "请联系北京协和医院的研究团队，联系方式见下方。" in page


def test_a_not_eligible_result_names_the_team_too(make_app: Callable[..., Flask]) -> None:
    client = make_app(RATELIMIT_ENABLED=False, **CONTACTS).test_client()
    family = Family(client)
    family.start(lang="en")
    family.walk({**likely_answers(), "diagnosis": "no"})
    result = text_of(client.get(f"{BASE}/result"))
    assert all(shown in result for shown in BLOCK["en"])


def test_without_contacts_development_says_so_and_invents_nothing(make_app: Callable[..., Flask]) -> None:
    client = make_app(RATELIMIT_ENABLED=False).test_client()
    family = Family(client)
    family.start(lang="zh")
    family.walk(likely_answers())
    response = client.get(f"{BASE}/result")
    page = text_of(response)
    assert "联系方式未设置" in page and "STUDY_CONTACT_PHONE" in page
    assert "北京市东城区帅府园1号" in page
    assert "tel:" not in response.get_data(as_text=True) and "mailto:" not in response.get_data(as_text=True)
    assert "工作日内" not in page, "no reply promise unless one is configured"
    summary = text_of(client.get(f"{BASE}/summary"))
    assert "联系方式未设置" in summary and "Contact not configured" in summary


# -- where the contacts come from -------------------------------------------------------------------


def test_a_study_entry_replaces_the_shared_contacts_entirely() -> None:
    config = {
        **CONTACTS,
        "STUDY_CONTACTS": {STUDY: {"email": "own-team@pumch.example", "reply_working_days": 2}},
    }
    assert contact_of(STUDY, config) == TeamContact(email="own-team@pumch.example", reply_working_days=2)
    assert contact_of("another-study", config) == TeamContact(
        phone="+86 10 5555 0100", email="ss-study@pumch.example", wechat="pumch_peds_ss", reply_working_days=3
    )
    assert not contact_of(STUDY, {}).reachable


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"STUDY_CONTACTS": {"pumch-pediatric-sjogrn": {"phone": "1"}}}, "unknown study 'pumch-pediatric-sjogrn' (did"),
        ({"STUDY_CONTACTS": {STUDY: {"phnoe": "1"}}}, "unknown key 'phnoe' (did you mean 'phone'?)"),
        ({"STUDY_CONTACTS": {STUDY: "010 1234"}}, "must be a mapping"),
        ({"STUDY_REPLY_WORKING_DAYS": "soon"}, "PRESCREEN_STUDY_REPLY_WORKING_DAYS must be a whole number"),
        ({"STUDY_REPLY_WORKING_DAYS": 0}, "from 1 to 30"),
    ],
)
def test_contact_settings_that_cannot_mean_what_was_meant_stop_the_app(
    make_app: Callable[..., Flask], setting: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        make_app(**setting)


# -- production ---------------------------------------------------------------------------------


def production(tmp_path: Path, **extra: Any) -> Flask:
    config = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE": str(tmp_path / "p.sqlite3"),
        "SECRET_KEY": STRONG_KEY,
        "PUBLIC_URL": "https://prescreen.test",
        **extra,
    }
    return create_app(config)


def test_production_refuses_a_recruiting_study_nobody_can_reach(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        production(tmp_path)
    message = str(caught.value)
    assert f"study '{STUDY}' is recruiting but families have no way to reach its team" in message
    assert "PRESCREEN_STUDY_CONTACT_PHONE" in message and "STUDY_CONTACTS" in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    "contacts",
    [
        {"STUDY_CONTACT_WECHAT": "pumch_peds_ss"},
        {"STUDY_CONTACTS": {STUDY: {"email": "own-team@pumch.example"}}},
    ],
)
def test_production_starts_once_the_team_can_be_reached(tmp_path: Path, contacts: dict[str, Any]) -> None:
    assert production(tmp_path, **contacts).config["ENV"] == "production"


def test_production_starts_when_the_study_was_closed_in_the_app(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    from prescreen.store import connect, recruiting

    development = make_app(DATABASE=str(tmp_path / "p.sqlite3"))
    db = connect(development.config["DATABASE"])
    try:
        recruiting.set_status(db, STUDY, "closed", "test")
    finally:
        db.close()
    assert production(tmp_path).config["ENV"] == "production"


def test_production_will_not_reopen_recruiting_for_a_team_nobody_can_reach(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from prescreen.store import connect, recruiting

    development = make_app(DATABASE=str(tmp_path / "p.sqlite3"))
    db = connect(development.config["DATABASE"])
    try:
        recruiting.set_status(db, STUDY, "closed", "test")
    finally:
        db.close()
    app = production(tmp_path)
    result = app.test_cli_runner().invoke(args=["studies", "publish", STUDY])
    assert result.exit_code != 0
    assert f"study '{STUDY}' is recruiting but families have no way to reach its team" in result.output
    db = connect(app.config["DATABASE"])
    try:
        assert recruiting.status(db, STUDY, "recruiting") == "closed"
    finally:
        db.close()

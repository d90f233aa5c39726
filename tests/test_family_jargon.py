"""No protocol jargon on any page a family reads.

Families read plain words: "the doctor checks your child's hepatitis B blood test", not "HBsAg /
HBsAb+HBcAb (investigator's opinion)". The listing's exact wording and the coordinator's labels stay
on the study team's pages. This walks families of both voices, in Chinese and in English, to every
outcome (likely eligible, needs review, not eligible with a re-check date, not eligible for good)
and reads every page they see on the way: the home and study pages, who is filling in, the consent,
each step of the chat, the result, the printed summary, the form to send details and the "sent"
page.

**The one allow-list: a lab report's own words, on questions.** A question may name a test item
exactly as the family's report prints it (乙肝五项's HBsAg / HBsAb / HBcAb, eGFR, WBC, IgG, IgA, β2MG,
"× 10⁹/L"), because the family has to find that line on the report. So those words are allowed in
the questions' wording, their "why we ask" and their options, and wherever a page quotes the
family's own questions and answers back (the list of answers, "because you answered …"). Everything
else — the result's and summary's sentences, the criteria's family wording, what to bring, the
page furniture — has none of them, and no question has any other jargon.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from prescreen.engine import Study, load_study
from tests.helpers.public import (
    BASE,
    answer,
    born_years_ago,
    csrf,
    current,
    likely_answers,
    months_ago,
    referral_form,
    start,
)

REAL = Path(__file__).resolve().parent.parent / "questions" / "pumch-pediatric-sjogren"

#: protocol words no family page may show (regular expressions; Latin words match whole words)
JARGON = {
    "AECG": r"\bAECG\b",
    "Japan criteria": r"Japan(ese)? criteria",
    "β2MG": r"β\s?2\s?MG|\bB2MG\b",
    "HBsAg": r"HBsAg",
    "HBsAb": r"HBsAb",
    "HBcAb": r"HBcAb",
    "eGFR": r"eGFR",
    "ANC": r"\bANC\b",
    "WBC": r"\bWBC\b",
    "IgG": r"\bIgG\b",
    "IgA": r"\bIgA\b",
    "10⁹/L": r"10\s?⁹\s?/\s?L|10\^9|\b109/L",
    "× 10": r"[×x]\s?10\b",
    "investigator": r"(?i)\binvestigator",
    "criteria": r"(?i)\bcriteri(a|on)\b",
    "inclusion": r"(?i)\binclusion\b",
    "exclusion": r"(?i)\bexclusion\b",
    "protocol": r"(?i)\bprotocol\b",
    "Day 0": r"(?i)\bday\s?0\b",
    "研究者": r"研究者",
    "注册标题": r"注册标题",
    "入选标准": r"入选标准",
    "排除标准": r"排除标准",
    "非入选": r"非入选",
    "受试者": r"受试者",
    "访视": r"访视",
}
#: a lab report's own words, allowed in questions and where a page quotes them (see the docstring)
REPORT_WORDS = frozenset({"HBsAg", "HBsAb", "HBcAb", "eGFR", "WBC", "IgG", "IgA", "β2MG", "10⁹/L", "× 10"})


def jargon_in(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The jargon terms found in ``text``, less the ``allowed`` ones."""
    return [term for term, pattern in JARGON.items() if term not in allowed and re.search(pattern, text)]


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(REAL)


def question_material(study: Study) -> list[str]:
    """Every wording of the questions a page may quote: questions, "why we ask", options, units."""
    texts: set[str] = set()
    for question in study.questions:
        for lang in ("en", "zh"):
            texts |= {question.text(voice, lang) for voice in ("guardian", "patient")}
            texts |= {question.why(lang), question.unit(lang), *(c.label(lang) for c in question.choices)}
    return sorted((plain(t) for t in texts if t), key=len, reverse=True)  # longest first


class VisibleText(HTMLParser):
    """The words a page shows (and reads out): text outside scripts and styles, and labelling attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible(body: str) -> str:
    parser = VisibleText()
    parser.feed(body)
    return plain(html.unescape(" ".join(parser.parts)))


def page_problems(pages: dict[str, str], material: list[str]) -> list[tuple[str, str, str]]:
    """(page, term, context) for jargon on a page once the quoted question material is taken out."""
    found = []
    for name, body in pages.items():
        text = visible(body)
        for quoted in material:
            text = text.replace(quoted, " ")
        for term in jargon_in(text):
            match = re.search(JARGON[term], text)
            assert match
            found.append((name, term, text[max(0, match.start() - 60) : match.end() + 60]))
    return found


# -- the wording in the sheets ----------------------------------------------------------------------


def test_the_jargon_check_catches_the_old_result_labels():
    """The labels families used to read on the result page are exactly what this test refuses."""
    old = [
        "Meets AECG or Japanese criteria for Sjögren's (from records)",
        "B-cell activation in blood tests (IgG, light chain, β2MG, C4, cryoglobulin, monoclonal)",
        "Not both HBsAb and HBcAb positive (HBsAb alone = vaccine, allowed)",
        "White cells not below 1.5 × 10⁹/L before belimumab (checked later)",
        "Not at high risk of infection (investigator's opinion)",
        "原发性干燥综合征（无其他结缔组织病）——注册标题要求，非入选标准",
        "无感染高风险（由研究者判断）",
    ]
    assert all(jargon_in(label) for label in old)
    assert jargon_in("Kidney function (eGFR) not below 30") == ["eGFR"]
    assert not jargon_in("The doctor checks your child's hepatitis B blood test, or does one.")
    assert not jargon_in("Cancer, including lymphoma. A balance of 10 answers.")


def test_every_criterion_speaks_to_families_without_jargon(study):
    """What a family reads about a criterion (every status, voice, language, what to bring)."""
    found = {}
    for criterion in study.criteria:
        for key, text in criterion.family_texts.items():
            if jargon_in(text):
                found[(criterion.id, *key)] = jargon_in(text)
        for lang in ("en", "zh"):
            if jargon_in(criterion.bring(lang)):
                found[(criterion.id, "bring", lang)] = jargon_in(criterion.bring(lang))
    assert found == {}


def test_questions_use_no_jargon_beyond_a_reports_own_words(study):
    found = {}
    for question in study.questions:
        texts = [question.text(v, lang) for v in ("guardian", "patient") for lang in ("en", "zh")]
        texts += [question.why("en"), question.why("zh")]
        texts += [c.label(lang) for c in question.choices for lang in ("en", "zh")]
        bad = sorted({term for text in texts for term in jargon_in(text, REPORT_WORDS)})
        if bad:
            found[question.id] = bad
    assert found == {}


def test_the_study_row_families_read_has_no_jargon(study):
    for name in ("title", "summary", "involves", "centre", "address"):
        for lang in ("en", "zh"):
            assert not jargon_in(study.text(name, lang)), (name, lang)


# -- the pages, walked ----------------------------------------------------------------------------

REFERRAL = referral_form()


def answers_for(outcome: str, respondent: str) -> dict[str, Any]:
    """A family that reaches ``outcome``; a patient is 15 (a parent agrees, as the consent asks)."""
    answers = likely_answers()
    if respondent == "patient":
        answers["dob"] = born_years_ago(15)
    if outcome == "needs_review":
        answers.update(tb="latent", hbv="cab_only", lab_report="yes", low_labs=["igg_low", "wbc_low"])
    elif outcome == "waiting":
        answers.update(rituximab="yes", rituximab_last=months_ago(2))
    elif outcome == "final":
        answers.update(hbv="sab_cab_pos")
    return answers


def walk_pages(client: FlaskClient, answers: dict[str, Any], respondent: str, lang: str) -> Iterator[tuple[str, str]]:
    """Every page a family sees on the way to its result, as (name, HTML)."""
    for path in ("/", f"{BASE}/", f"{BASE}/start", f"{BASE}/consent?as={respondent}&lang={lang}"):
        response = client.get(path if "?" in path else f"{path}?lang={lang}")
        assert response.status_code == 200, path
        yield path, response.get_data(as_text=True)
    start(client, respondent, lang)
    for step in range(60):
        page = client.get(f"{BASE}/chat")
        if page.status_code == 303:
            break
        yield f"chat step {step}", page.get_data(as_text=True)
        now = current(client)
        assert now is not None
        assert answer(client, answers[now[0]]).status_code == 303
    for path in (f"{BASE}/result", f"{BASE}/summary"):
        yield path, client.get(path).get_data(as_text=True)


CASES = [
    ("likely_eligible", "guardian", "en"),
    ("likely_eligible", "patient", "zh"),
    ("needs_review", "guardian", "zh"),
    ("needs_review", "patient", "en"),
    ("waiting", "guardian", "en"),
    ("waiting", "patient", "zh"),
    ("final", "guardian", "zh"),
    ("final", "patient", "en"),
]


@pytest.mark.parametrize(("outcome", "respondent", "lang"), CASES)
def test_no_family_page_shows_jargon(client, study, outcome, respondent, lang):
    pages = dict(walk_pages(client, answers_for(outcome, respondent), respondent, lang))
    result = pages[f"{BASE}/result"]
    assert f"result-{'not_eligible' if outcome in ('waiting', 'final') else outcome}" in result
    if outcome != "final":
        for path in (f"{BASE}/refer", f"{BASE}/refer?kind=review"):
            response = client.get(path)
            if response.status_code == 200:
                pages[path] = response.get_data(as_text=True)
    if outcome == "likely_eligible":
        token = csrf(client, f"{BASE}/refer")
        sent = client.post(f"{BASE}/refer", data={**REFERRAL, "csrf_token": token})
        assert sent.status_code == 303, sent.get_data(as_text=True)[-1500:]
        pages[f"{BASE}/sent"] = client.get(f"{BASE}/sent").get_data(as_text=True)
    assert page_problems(pages, question_material(study)) == []

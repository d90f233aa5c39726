"""The branching picture of a study (issue 20): what a study nurse reads, on the real Sjögren's study.

The picture is checked as a nurse would use it: every question once and in order, each one's
condition (naming the questions it depends on), every knock-out with its reason in the page's
language, the three results; the SVG parses as XML and has the same questions as the text list
beside it. The page is for staff who see the study.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from markupsafe import escape

from prescreen import studies as study_registry
from prescreen.coordinator import branching, branching_page

STUDY_ID = "pumch-pediatric-sjogren"
PAGE = f"/coordinator/studies/{STUDY_ID}/branching"
SVG = "{http://www.w3.org/2000/svg}"


def picture_parts(app: Flask, lang: str):  # type: ignore[no-untyped-def]
    """The study, the page's phrases and the steps, in *lang*, as the page works them out."""
    study = study_registry.of(app).studies[STUDY_ID]
    with app.test_request_context(f"/?lang={lang}"):
        words = branching_page.words()
        return study, words, branching.steps(study, lang, words)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_question_once_in_order_with_its_condition(app: Flask, lang: str) -> None:
    study, words, steps = picture_parts(app, lang)
    assert [s.question.id for s in steps] == [q.id for q in study.questions]
    assert [s.number for s in steps] == list(range(1, len(study.questions) + 1))
    number = {q.id: words["q"].format(n=i + 1) for i, q in enumerate(study.questions)}
    for i, step in enumerate(steps):
        only_patient = step.question.show_if is not None and "respondent == 'patient'" in step.question.show_if.source
        assert step.title == step.question.text("patient" if only_patient else "guardian", lang)
        if step.question.show_if is None:
            assert step.condition == "" and step.banners == []
            continue
        # its own line, or a band above a run of questions that includes it, names each question it depends on
        said = step.condition + "".join(b for s in steps[: i + 1] for b in s.banners if _covers(b, words, step.number))
        assert said, f"{step.question.id} has no condition"
        for name in step.question.show_if.names:
            assert re.search(re.escape(number[name]) + r"(?!\d)", said), (step.question.id, name, said)


def _covers(banner: str, words: dict[str, str], n: int) -> bool:
    """Whether a band "Q3–Q38 are asked only if …" covers question *n*."""
    pattern = re.escape(words["q"]).replace(r"\{n\}", r"(\d+)")
    first, last = (int(x) for x in re.findall(pattern, banner)[:2])
    return first <= n <= last


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_knock_out_shows_its_reason_under_a_question_it_reads(app: Flask, lang: str) -> None:
    study, _words, steps = picture_parts(app, lang)
    by_id = {s.question.id: s for s in steps}
    knock_outs = [c for c in study.criteria if c.not_met_if is not None]
    assert len(knock_outs) > 20
    for criterion in knock_outs:
        under = [qid for qid in criterion.names if any(criterion.reason(lang) in k for k in by_id[qid].knockouts)]
        assert under, f"{criterion.id}: reason not shown under any of {sorted(criterion.names)}"


def test_the_answers_that_rule_out_are_the_options_the_rule_names(app: Flask) -> None:
    """Q2 (diagnosis): "another illness" and "dermatomyositis only" end it; "yes" and "suspected" do not."""
    study, _words, steps = picture_parts(app, "en")
    diagnosis = study.question("diagnosis")
    lines = next(s for s in steps if s.question.id == "diagnosis").knockouts
    reason = study.criterion("inc_ss_diagnosed").reason("en")
    (line,) = [k for k in lines if reason in k]
    assert diagnosis.choice("no").label("en") in line and diagnosis.choice("dm_only").label("en") in line
    assert diagnosis.choice("yes").label("en") not in line and diagnosis.choice("suspected").label("en") not in line
    # a waiting period says "for now"; a permanent knock-out does not
    rituximab = next(s for s in steps if s.question.id == "rituximab_last").knockouts
    assert any("for now" in k for k in rituximab) and not any("for now" in k for k in lines)


def _pictures(html: str) -> list[tuple[str, list[ET.Element]]]:
    """Each picture on the page: its accessible name and its SVG parts, parsed as XML (so well-formed)."""
    out = []
    for name_id, body in re.findall(
        r'<div class="branching [^"]*" role="img" aria-labelledby="([^"]+)">(.*?)</div>', html, re.S
    ):
        name = re.search(rf'<span id="{name_id}"[^>]*>(.*?)</span>', body).group(1)
        # our own page's markup, parsed to prove it is well-formed XML
        out.append((name, [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", body, flags=re.S)]))  # noqa: S314
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_draws_both_pictures_and_the_list(app: Flask, client, staff, lang: str) -> None:  # type: ignore[no-untyped-def]
    staff.add()
    staff.login(client)
    response = client.get(f"{PAGE}?lang={lang}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    study, words, steps = picture_parts(app, lang)
    pictures = _pictures(html)
    assert len(pictures) == 2  # a narrow one for a phone, a wide one for a desktop column and paper
    for name, svgs in pictures:
        assert str(len(study.questions)) in name
        assert len(svgs) > 2  # in parts that each stay whole on a printed page
        boxes = [g for svg in svgs for g in svg.iter(f"{SVG}g") if "step" in g.get("class", "").split()]
        questions = [g for g in boxes if g.get("class") == "step"]
        firsts = [next(g.iter(f"{SVG}text")).text for g in questions]
        assert [f.split(".")[0] for f in firsts] == [str(n) for n in range(1, len(study.questions) + 1)]
        assert any("banner" in g.get("class") for g in boxes)  # Q3–Q38 share "diagnosed", said once
        endings = [g.get("class").split()[-1] for g in boxes if "ending" in g.get("class", "")]
        assert endings == ["ending-not_eligible", "ending-needs_review", "ending-likely_eligible"]
        drawn = " ".join(t.text for svg in svgs for t in svg.iter(f"{SVG}text"))
        for title in (words["not_eligible_title"], words["needs_review_title"], words["likely_eligible_title"]):
            assert title in drawn
        for criterion in study.criteria:
            if criterion.not_met_if is not None:  # the start of each reason, at least (long ones wrap)
                assert criterion.reason(lang)[:8] in drawn, criterion.id
    # the list beside it has every question whole, in order
    listed = re.search(r'<ol class="branching-list[^"]*">(.*?)</ol>', html, flags=re.S).group(1)
    places = [listed.find(_escaped(s.title)) for s in steps]
    assert -1 not in places and places == sorted(places)
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in html


def _escaped(text: str) -> str:
    return str(escape(text))


def test_page_needs_a_login_and_a_study_the_person_sees(client, staff) -> None:  # type: ignore[no-untyped-def]
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    staff.add(email="other@pumch.example", studies=["another-study"])
    staff.login(client, "other@pumch.example")
    assert client.get(PAGE).status_code == 404
    assert client.get("/coordinator/studies/no-such-study/branching").status_code == 404


def test_studies_page_links_to_the_flow(client, staff) -> None:  # type: ignore[no-untyped-def]
    staff.add()
    staff.login(client)
    html = client.get("/coordinator/studies").get_data(as_text=True)
    assert f'href="{PAGE}"' in html
    assert client.get(PAGE).status_code == 200

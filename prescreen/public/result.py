"""The result page and the printable summary: plain words, the engine's reasons, the next step.

The page never decides eligibility itself: the outcome, which criteria it is about, the answers
that decided each and the re-check date all come from the engine (:func:`prescreen.engine.explain`);
this module only says them in the family's voice and language, with the study's family wording
(never the coordinator's labels), and for the printed summary in the other language too, for a
doctor who reads it.
"""

from __future__ import annotations

from typing import Any

from flask import g, render_template
from markupsafe import Markup

from .. import studies
from ..clock import today
from ..engine import CONFIRM, NOT_ELIGIBLE, NOT_MET, REVIEW, State, Study, explain
from ..store import get_db
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .page import answer_text, flow_state, resume_url, transcript
from .referral import review_offer
from .session import is_recruiting, screening_of, see_other, study_or_404
from .text import long_date, render_in

#: option values that mean "I don't know" (every choice list offers one, see the study notes);
#: only when a deciding answer is one of them does the page say the family chose "not sure"
NOT_SURE = frozenset({"not_sure", "more_info"})


def chose_not_sure(raw: Any) -> bool:
    """Whether a stored answer is (or, for a tick-all question, includes) a "not sure" option."""
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return any(value in NOT_SURE for value in values)


def explained(study: Study, row: dict[str, Any], state: State, lang: str) -> dict[str, Any]:
    """The result in the family's words: what decided it, what the first visit checks, what to bring.

    ``deciding``: for *not eligible* the reasons, for *needs review* what needs a closer look, each
    once (criteria may share a text) with the questions and answers that decided it ("because you
    answered …"); ``not_sure``: whether one of those answers was a "not sure"; ``visit`` and
    ``bring``: what the doctor checks at the first visit and what to bring, each said once.
    """
    outcome = state.outcome
    assert outcome is not None  # noqa: S101 — callers only come here with a finished flow
    voice = row["respondent"] or "guardian"
    leading = NOT_MET if outcome.status == NOT_ELIGIBLE else REVIEW
    deciding: dict[str, set[str]] = {}
    visit: dict[str, None] = {}
    bring: dict[str, None] = {}
    for item in explain(studies.flow(study), state, today()):
        text = item.text(voice, lang)
        if item.status == leading:
            deciding.setdefault(text, set()).update(item.answers)
        elif item.status == CONFIRM:
            visit[text] = None
        if item.status in (REVIEW, CONFIRM) and item.criterion.bring(lang):
            bring[item.criterion.bring(lang)] = None
    answers = row["answers"]
    order = {qid: i for i, qid in enumerate(state.asked)}

    def because(qids: set[str]) -> list[dict[str, str]]:
        return [
            {
                "question": study.question(q).text(voice, lang),
                "answer": answer_text(study.question(q), answers[q], lang),
            }
            for q in sorted(qids, key=order.__getitem__)
        ]

    return {
        "deciding": [{"text": text, "answers": because(qids)} for text, qids in deciding.items()],
        "not_sure": leading == REVIEW and any(chose_not_sure(answers[q]) for qids in deciding.values() for q in qids),
        "visit": list(visit),
        "bring": list(bring),
    }


def result_context(study: Study, row: dict[str, Any], state: State, lang: str) -> dict[str, Any]:
    """Everything the result page and the printed summary say, in *lang*."""
    outcome = state.outcome
    assert outcome is not None  # noqa: S101 — callers only come here with a finished flow
    voice = row["respondent"] or "guardian"
    return {
        "study": study,
        "outcome": outcome,
        **explained(study, row, state, lang),
        "recheck": long_date(outcome.recheck_after, lang),
        "items": transcript(study, state.asked, row["answers"], voice, lang),
        "centre": study.text("centre", lang),
        "address": study.text("address", lang),
        "today": long_date(today(), lang),
        "voice": voice,
    }


def result(study_id: str) -> Any:
    """The result in plain words, the reasons, and the next step."""
    study, row = screening_of(study_or_404(study_id))
    state = flow_state(study, row)
    if state.outcome is None:
        return see_other("public.chat", study_id=study.id)
    if current_locale() != row["locale"] and g.get("lang_chosen"):
        screening_store.set_locale(get_db(), row["id"], g.lang_chosen)
    notice = row["notice"]
    if notice:
        screening_store.clear_notice(get_db(), row["id"])
    return render_template(
        "public/result.html",
        row=row,
        notice=notice,
        referral=referral_store.by_screening(get_db(), row["id"]),
        resume_url=resume_url(),
        reminder=state.outcome.recheck_after is not None,
        recruiting=is_recruiting(study),
        ask_review=review_offer(study, row, state.outcome.status),  # a person, not the form, decides
        **result_context(study, row, state, current_locale()),
    )


def summary(study_id: str) -> Any:
    """A printable summary for the family's own doctor: their language first, then the other."""
    study, row = screening_of(study_or_404(study_id))
    state = flow_state(study, row)
    if state.outcome is None:
        return see_other("public.chat", study_id=study.id)
    first = current_locale()
    bodies = []
    for lang in (first, "en" if first == "zh" else "zh"):
        context = result_context(study, row, state, lang)
        # A family who chose to see the result before the last questions: the doctor reading
        # the printout must know some questions were never answered.
        body = render_in(lang, "public/_summary_body.html", stopped_early=row["early_choice"] == "stopped", **context)
        bodies.append(Markup(body))  # noqa: S704 (our own autoescaped template) # nosec B704
    return render_template("public/summary.html", study=study, bodies=bodies)

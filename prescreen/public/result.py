"""The result page and the printable summary: plain words, the engine's reasons, the next step.

The page never decides eligibility itself: the outcome, its reasons and the re-check date all come
from the engine; this module only says them in the family's language (and, for the printed
summary, in the other language too, for a doctor who reads it).
"""

from __future__ import annotations

from typing import Any

from flask import g, render_template
from markupsafe import Markup

from ..clock import today
from ..engine import CONFIRM, REVIEW, State, Study
from ..store import get_db
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .page import flow_state, resume_url, transcript
from .referral import review_offer
from .session import is_recruiting, require_screening, see_other, study_or_404
from .text import long_date, render_in


def result_context(study: Study, row: dict[str, Any], state: State, lang: str) -> dict[str, Any]:
    """Everything the result page and the printed summary say, in *lang*."""
    outcome = state.outcome
    assert outcome is not None  # noqa: S101 — callers only come here with a finished flow
    review = [study.criterion(c).label(lang) for c, s in outcome.criteria.items() if s == REVIEW]
    confirm = [study.criterion(c).label(lang) for c, s in outcome.criteria.items() if s == CONFIRM]
    voice = row["respondent"] or "guardian"
    return {
        "study": study,
        "outcome": outcome,
        "reasons": [r.text(lang) for r in outcome.reasons],
        "review": review,
        "confirm": confirm,
        "recheck": long_date(outcome.recheck_after, lang),
        "items": transcript(study, state.asked, row["answers"], voice, lang),
        "centre": study.text("centre", lang),
        "address": study.text("address", lang),
        "today": long_date(today(), lang),
        "voice": voice,
    }


def result(study_id: str) -> Any:
    """The result in plain words, the reasons, and the next step."""
    study = study_or_404(study_id)
    row = require_screening(study)
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
    study = study_or_404(study_id)
    row = require_screening(study)
    state = flow_state(study, row)
    if state.outcome is None:
        return see_other("public.chat", study_id=study.id)
    first = current_locale()
    bodies = []
    for lang in (first, "en" if first == "zh" else "zh"):
        body = render_in(lang, "public/_summary_body.html", **result_context(study, row, state, lang))
        bodies.append(Markup(body))  # noqa: S704 (our own autoescaped template) # nosec B704
    return render_template("public/summary.html", study=study, bodies=bodies)

"""What the chat page shows: the transcript, the question block, error sentences, the page and the step update.

The views in :mod:`.chat` decide which of these to send; nothing here changes a screening except
that showing a notice once clears it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, g, render_template, session, url_for
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from ..clock import today
from ..engine import AnswerError, Month, Question, State, Study
from ..store import get_db
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from . import early, steps
from .session import session_token
from .text import month_text

#: Set (in the session cookie, no answer in it) when an answer from an out-of-date page was dropped;
#: the next chat page says so once, above the current question.
STALE_KEY = "stale"


def flow_state(study: Study, row: dict[str, Any], day: date | None = None) -> State:
    """Where this screening stands today (or on ``day``)."""
    return steps.flow_state(study, row, day or today())


def answer_text(question: Question, raw: Any, lang: str) -> str:
    """A stored answer as the family sees it in their own language."""
    if question.type == "single":
        choice = question.choice(raw)
        return choice.label(lang) if choice else ""
    if question.type == "multiple":
        values = [raw] if isinstance(raw, str) else raw
        labels = [c.label(lang) for c in question.choices if c.value in values]
        return ("；" if lang == "zh" else "; ").join(labels)
    if question.type == "month":
        try:
            return month_text(raw, lang)
        except (ValueError, TypeError):
            return str(raw)
    unit = question.unit(lang)
    return f"{raw} {unit}".strip() if lang == "en" else f"{raw}{unit}"


def transcript(study: Study, asked: list[str], answers: dict[str, Any], voice: str, lang: str) -> list[dict[str, str]]:
    """The questions ``asked`` (ids, in order), each with the family's answer."""
    items = []
    for qid in asked:
        question = study.question(qid)
        items.append(
            {"id": qid, "text": question.text(voice, lang), "answer": answer_text(question, answers[qid], lang)}
        )
    return items


def given_answer(question: Question | None, answers: dict[str, Any]) -> Any:
    """The stored answer to show pre-selected (one kept from an earlier route, or a change)."""
    if question is None:
        return None
    given = answers.get(question.id)
    return [given] if question.type == "multiple" and isinstance(given, str) else given


def error_text(error: AnswerError, question: Question, lang: str) -> str:
    """A translated sentence for an engine answer error (families never see an engine code)."""
    code = error.code
    if code == "required":
        if question.type in ("single", "multiple"):
            return _("Please choose an answer.")
        return _("Please fill this in.")
    if code == "exclusive":
        return _("“Not sure” and “None” cannot be ticked together with other answers. Please choose again.")
    if code == "not_a_number":
        return _("Please type a whole number, like 12.")
    if code == "out_of_range":
        return _("Please type a number from %(min)s to %(max)s.", min=question.min, max=question.max)
    if code == "bad_month":
        return _("Please give the year and month, like 2015-06.")
    if code == "future_month":
        return _("That month is in the future. Please check the year.")
    return _("That answer is not one of the options. Please choose again.")


def render_chat(
    study: Study, row: dict[str, Any], state: State, *, error: str = "", raw: Any = None, status: int = 200
):
    """The chat page: transcript, then the current (or the changed) question."""
    lang = current_locale()
    g.page_path = url_for("public.chat", study_id=study.id)  # also shown by POST /answer
    voice = row["respondent"] or "guardian"
    editing = row["editing"] if row["editing"] in state.asked else None
    question = study.question(editing) if editing else state.question
    asked = state.asked[: state.asked.index(editing)] if editing else state.asked
    items = transcript(study, asked, row["answers"], voice, lang)
    current = given_answer(question, row["answers"]) if raw is None else raw  # raw: a rejected answer
    notice = row["notice"]
    if notice and not notice.startswith("was:"):
        screening_store.clear_notice(get_db(), row["id"])
    locked = referral_store.by_screening(get_db(), row["id"]) is not None
    page = render_template(
        "public/chat.html",
        study=study,
        row=row,
        items=items,
        question=question,
        voice=voice,
        current=current,
        editing=editing,
        error=error,
        remaining=state.remaining if not editing else None,
        notice=notice,
        early=None if editing else early.notice(study, row, state, voice, lang),
        stale=bool(session.pop(STALE_KEY, False)),
        locked=locked,
        resume_url=resume_url(),
        max_month=str(Month.of(today())),
    )
    return page, status


def resume_url() -> str:
    """The resume link shown to the family (the token is their key; never a name or an answer)."""
    token = session_token()
    return url_for("public.resume", token=token, _external=True) if token else ""


#: Question blocks kept per process before the memo starts again (bounds a worker's memory).
QUESTION_BLOCK_MEMO = 512


@pass_context
def question_block(context: Context) -> Markup:
    """The question itself (``public/_question.html``): text, why we ask, answer buttons or field.

    With nothing filled in (no earlier answer shown, no error, not a change) that HTML depends only
    on the questionnaire version, the question, the voice, the language and the month (the month
    field's latest choice), so it is rendered once per process and then reused: it was the
    largest part of rendering each next question. Not kept while templates auto-reload.
    """
    environment = context.environment
    template = environment.get_template("public/_question.html")
    blank = not context.get("editing") and not context.get("error") and context.get("current") is None
    if not blank or environment.auto_reload:
        return Markup(template.render(context.get_all()))  # noqa: S704 (an autoescaped template) # nosec B704
    study, question = context["study"], context["question"]
    key = (study.id, study.version, question.id, context["voice"], context["lang"], context["max_month"])
    memo: dict[tuple[str, ...], Markup] = current_app.extensions.setdefault("question_blocks", {})
    html = memo.get(key)
    if html is None:
        html = Markup(template.render(context.get_all()))  # noqa: S704 (an autoescaped template) # nosec B704
        if len(memo) >= QUESTION_BLOCK_MEMO:
            memo.clear()
        memo[key] = html
    return html


def render_step(study: Study, row: dict[str, Any], state: State) -> str:
    """The step update chat.js applies in place: the newest answer, the new step, the next question.

    After the first answer the page has no list of answers and no "change" form yet, so the
    update carries both whole (``first``), as the chat page would show them.
    """
    lang = current_locale()
    g.page_path = url_for("public.chat", study_id=study.id)
    voice = row["respondent"] or "guardian"
    return render_template(
        "public/step.html",
        study=study,
        row=row,
        items=transcript(study, state.asked[-1:], row["answers"], voice, lang),
        first=len(state.asked) == 1,
        question=state.question,
        voice=voice,
        current=given_answer(state.question, row["answers"]),
        editing=None,
        error="",
        remaining=state.remaining,
        max_month=str(Month.of(today())),
    )

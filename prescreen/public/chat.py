"""The chat: one question at a time, the transcript, changing an answer, hand-off, result, summary.

The flow is recomputed from the stored answers on every request (the engine is a pure function),
so a changed answer re-branches naturally and answers to questions no longer reached are kept
but never used. Each form carries the screening's ``step``; a POST whose step is stale (a
double tap, a replayed request, a second tab) records nothing and just shows where things are.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, g, render_template, request, url_for
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.wrappers import Response

from ..clock import today
from ..engine import AnswerError, Flow, Month, Question, State, Study
from ..store import get_db
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .forms import GuardianForm
from .session import require_screening, see_other, session_token, study_or_404
from .text import consent_version, month_text, notice_context

#: The age under which a patient may not fill this in alone (PIPL art. 31).
GUARDIAN_AGE = 14
#: Sent by ``static/chat.js`` on its fetch POSTs: it can show a page without a redirect.
CHAT_HEADER = "X-Prescreen-Chat"
#: Tells chat.js which address the page it got belongs to (it updates the address bar).
LOCATION_HEADER = "X-Prescreen-Location"
#: Marks a response that is a step update (see ``templates/public/step.html``), not a whole page.
FRAGMENT_HEADER = "X-Prescreen-Fragment"


def flow_for(study: Study) -> Flow:
    """The study's flow, built once per process (it is read-only, so threads can share it)."""
    flows: dict[str, Flow] = current_app.extensions.setdefault("public_flows", {})
    flow = flows.get(study.id)
    if flow is None or flow.study is not study:
        flow = flows[study.id] = Flow(study)
    return flow


def flow_state(study: Study, row: dict[str, Any], day: date | None = None) -> State:
    """Where this screening stands today (or on ``day``)."""
    return flow_for(study).run(row["answers"], respondent=row["respondent"] or "guardian", today=day or today())


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
        locked=locked,
        resume_url=resume_url(),
        max_month=str(Month.of(today())),
    )
    return page, status


def resume_url() -> str:
    """The resume link shown to the family (the token is their key; never a name or an answer)."""
    token = session_token()
    return url_for("public.resume", token=token, _external=True) if token else ""


def result_notice(previous: str | None, state: State, new: State, *, changed: bool) -> str | None:
    """What to tell the family after a change to an answer given after they saw a result.

    ``was:<status>`` rides along while the re-branched flow asks more questions; once it ends,
    ``result_changed`` is shown if the result differs from the one they had seen.
    """
    seen = previous[4:] if previous and previous.startswith("was:") else None
    if changed and state.outcome is not None:
        seen = state.outcome.status
    if seen is None:
        return None
    if new.outcome is None:
        return f"was:{seen}"
    return "result_changed" if new.outcome.status != seen else None


def chat(study_id: str) -> Any:
    """The conversation so far and the next question (or the result when there is none)."""
    study = study_or_404(study_id)
    row = require_screening(study)
    if row["status"] == "handoff":
        return see_other("public.handoff", study_id=study.id)
    if current_locale() != row["locale"] and g.get("lang_chosen"):
        screening_store.set_locale(get_db(), row["id"], g.lang_chosen)
    return show_chat(study, row)


def show_chat(study: Study, row: dict[str, Any]) -> Any:
    """The chat page for ``row``, or a redirect to the result when no question is left."""
    state = flow_state(study, row)
    if state.question is None and row["editing"] not in state.asked:
        return see_other("public.result", study_id=study.id)
    return render_chat(study, row, state)


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


def keep_csrf_token() -> None:
    """Give the next question the CSRF token this answer came with, instead of signing a new one.

    The token just passed Flask-WTF's check against this session, and tokens here never expire
    (``WTF_CSRF_TIME_LIMIT`` is None), so it is as good as a new one; signing costs about a
    twentieth of an answer. Only for answers: nothing here changes the session's own token.
    """
    token = request.form.get("csrf_token")
    if g.get("csrf_valid") and token:
        g.csrf_token = token  # what flask_wtf.csrf.generate_csrf returns for the rest of the request


def answer(study_id: str) -> Any:
    """Record one answer (a new one, or a change to an earlier one) and move on."""
    study = study_or_404(study_id)
    row = require_screening(study)
    keep_csrf_token()
    if row["status"] == "handoff":
        return see_other("public.handoff", study_id=study.id)
    if request.form.get("step") != str(row["step"]):
        # A double tap or a replayed form: the first one counted; show where things stand.
        return see_other("public.chat", study_id=study.id)
    if referral_store.by_screening(get_db(), row["id"]):
        return see_other("public.result", study_id=study.id)
    now = today()  # one day for the whole step, so the walk can resume where it stopped
    state = flow_state(study, row, now)
    qid = request.form.get("q", "")
    next_id = state.question.id if state.question else None
    if qid != next_id and qid not in state.asked:
        return render_chat(
            study, row, state, error=_("Something went wrong with that answer. Please answer again."), status=400
        )
    question = study.question(qid)
    raw: Any = request.form.getlist("value") if question.type == "multiple" else request.form.get("value", "")
    if question.type == "multiple":
        raw = raw[:50]
    try:
        value = question.parse(raw, now)
    except AnswerError as exc:
        row = {**row, "editing": qid if qid != next_id else None}
        return render_chat(study, row, state, error=error_text(exc, question, current_locale()), raw=raw, status=400)
    answers = {**row["answers"], qid: question.stored(value)}
    flow = flow_for(study)
    voice = row["respondent"] or "guardian"
    if voice == "patient":
        age = flow.age(answers, now)
        if age is not None and age < GUARDIAN_AGE:
            screening_store.hand_off(get_db(), row["id"], row["step"])
            return see_other("public.handoff", study_id=study.id)
    if qid == next_id:  # the usual step: an answer to the question just asked
        new = flow.advance(state, answers, now)
    else:  # a change to an earlier answer can change which questions come after it
        new = flow.run(answers, respondent=voice, today=now)
    notice = result_notice(row["notice"], state, new, changed=qid != next_id)
    outcome = new.to_record()
    saved = screening_store.save_step(
        get_db(),
        row["id"],
        row["step"],
        answers=answers,
        version=study.version,
        locale=current_locale(),
        outcome=outcome,
        notice=notice,
        resume_days=int(current_app.config["RESUME_DAYS"]),
    )
    if saved is not None and new.outcome is None and request.headers.get(CHAT_HEADER) == "1":
        forward = qid == next_id and new.asked == [*state.asked, qid]
        return next_question_in_place(study, saved, new, forward=forward)
    return see_other("public.result" if new.outcome else "public.chat", study_id=study.id)


def next_question_in_place(study: Study, row: dict[str, Any], state: State, *, forward: bool) -> Response:
    """The next question as the answer's own response, for chat.js.

    Post/redirect/get costs a phone a second round trip per question (about 0.4 s each way on a
    slow mobile network). A fetch POST cannot be re-sent by reload or Back, so answering it with
    the next question is safe; a plain form POST (no JavaScript) still gets the 303. On a plain
    step forward (the family's page already shows every earlier answer) only what changed is
    sent (:func:`render_step`); otherwise the whole chat page.
    """
    if forward and not row["notice"] and not row["editing"] and state.question is not None:
        response = current_app.make_response(render_step(study, row, state))
        response.headers[FRAGMENT_HEADER] = "step"
    else:
        page, status = render_chat(study, row, state)
        response = current_app.make_response((page, status))
    response.headers[LOCATION_HEADER] = url_for("public.chat", study_id=study.id)
    return response


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


def change(study_id: str) -> Response:
    """Start (or cancel) changing an earlier answer; the question id travels in the body only.

    Without JavaScript: a 303 to the chat. chat.js's request gets the chat page itself, with the
    question being changed (one round trip instead of two, as for an answer).
    """
    study = study_or_404(study_id)
    row = require_screening(study)
    if request.form.get("step") == str(row["step"]) and not referral_store.by_screening(get_db(), row["id"]):
        qid = request.form.get("q", "")
        state = flow_state(study, row)
        written = screening_store.set_editing(get_db(), row["id"], row["step"], qid if qid in state.asked else None)
        row = written or row
    if request.headers.get(CHAT_HEADER) != "1" or row["status"] == "handoff":
        return see_other("public.chat", study_id=study.id)
    return chat_in_place(study, row)


def chat_in_place(study: Study, row: dict[str, Any]) -> Response:
    """The chat page as the response to one of chat.js's POSTs, with the address it belongs to.

    For "change", "keep my earlier answer" and "Agree and start": the page itself instead of a
    303 and a GET, one round trip less (about 0.4 s on a slow mobile network). Only chat.js's
    fetch asks for it (``X-Prescreen-Chat``); a plain form POST keeps post/redirect/get.
    """
    response = current_app.make_response(show_chat(study, row))
    if response.status_code != 303:
        response.headers[LOCATION_HEADER] = url_for("public.chat", study_id=study.id)
    return response


def handoff(study_id: str) -> Any:
    """A patient under 14: ask kindly to continue with a parent or guardian."""
    study = study_or_404(study_id)
    row = require_screening(study)
    if row["status"] != "handoff":
        return see_other("public.chat", study_id=study.id)
    form = GuardianForm()
    if form.validate_on_submit():
        screening_store.guardian_takes_over(
            get_db(), row["id"], row["step"], consent_version("health"), current_locale()
        )
        return see_other("public.chat", study_id=study.id)
    page = render_template("public/handoff.html", study=study, form=form, resume_url=resume_url(), **notice_context())
    return (page, 400) if form.errors else page

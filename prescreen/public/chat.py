"""The chat: one question at a time, the transcript, changing an answer, hand-off, result, summary.

The flow is recomputed from the stored answers on every request (the engine is a pure function),
so a changed answer re-branches naturally and answers to questions no longer reached are kept
but never used. Each form carries the screening's ``step``; a POST whose step is stale (a
double tap, a replayed request, a second tab) records nothing and shows where things are; unless it
only repeats a saved answer (a double tap), the page says it was out of date.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..clock import today
from ..engine import State, Study
from ..store import get_db
from ..store import screenings as screening_store
from ..web.fastpaths import reuse_checked_csrf_token
from ..web.i18n import current_locale
from . import steps
from .forms import GuardianForm
from .page import STALE_KEY, error_text, flow_state, render_chat, render_step, resume_url
from .session import screening_of, see_other, study_or_404
from .text import consent_version, notice_context

#: Sent by ``static/chat.js`` on its fetch POSTs: it can show a page without a redirect.
CHAT_HEADER = "X-Prescreen-Chat"
#: Tells chat.js which address the page it got belongs to (it updates the address bar).
LOCATION_HEADER = "X-Prescreen-Location"
#: Marks a response that is a step update (see ``templates/public/step.html``), not a whole page.
FRAGMENT_HEADER = "X-Prescreen-Fragment"


def chat(study_id: str) -> Any:
    """The conversation so far and the next question (or the result when there is none)."""
    study, row = screening_of(study_or_404(study_id))
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


def answer(study_id: str) -> Any:
    """Record one answer (a new one, or a change to an earlier one) and move on.

    The rules are :func:`.steps.take_answer`'s; this only picks the response to what it did.
    """
    study, row = screening_of(study_or_404(study_id))
    reuse_checked_csrf_token()  # a measured fast path (prescreen.web.fastpaths)
    done = steps.take_answer(
        get_db(),
        study,
        row,
        request.form,
        today=today(),
        locale=current_locale(),
        resume_days=int(current_app.config["RESUME_DAYS"]),
    )
    if done.kind == "handoff":
        return see_other("public.handoff", study_id=study.id)
    if done.kind == "stale":
        if not steps.is_repeat(study, row, request.form, today=today()):
            session[STALE_KEY] = True  # a second tab or an old page: say so (a double tap is silent)
        return to_chat(study, row)
    if done.kind == "locked":
        return see_other("public.result", study_id=study.id)
    state = done.state
    if done.kind == "invalid" and state is not None:
        return render_chat(study, done.row, state, error=refusal(done), raw=done.raw, status=400)
    if done.kind == "saved" and state is not None and not done.finished and request.headers.get(CHAT_HEADER) == "1":
        # told early, or answering on after it: the notice comes or goes, so the whole page
        return next_question_in_place(study, done.row, state, forward=done.forward and not done.early)
    return see_other("public.result", study_id=study.id) if done.finished else to_chat(study, done.row)


def to_chat(study: Study, row: dict[str, Any]) -> Response:
    """The 303 back to the chat after a plain form POST (no JavaScript), to the question itself.

    The chat's address does not change from one question to the next, so the browser treats the
    new page like a reload and keeps the old scroll position, with the new question below the
    fold. The fragment scrolls to it instead: the told-early notice above it when that is due
    (:func:`.early.notice_due`), else the question (``#current``).
    """
    told = row.get("early_told_at") and row.get("early_choice") is None
    return see_other("public.chat", study_id=study.id, _anchor="early" if told else "current")


def refusal(done: steps.StepResult) -> str:
    """Why an answer was not taken, in the family's language (they never see an engine code)."""
    if done.error is None or done.question is None:
        return _("Something went wrong with that answer. Please answer again.")
    return error_text(done.error, done.question, current_locale())


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


def change(study_id: str) -> Response:
    """Start (or cancel) changing an earlier answer; the question id travels in the body only.

    Without JavaScript: a 303 to the chat. chat.js's request gets the chat page itself, with the
    question being changed (one round trip instead of two, as for an answer).
    """
    study, row = screening_of(study_or_404(study_id))
    row = steps.choose_change(get_db(), study, row, request.form, today=today())
    if row["status"] == "handoff":
        return see_other("public.chat", study_id=study.id)
    if request.headers.get(CHAT_HEADER) != "1":
        return to_chat(study, row)
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


def early_choice(study_id: str) -> Response:
    """After being told early: see the result now, or (from that result) answer the remaining questions.

    The rules are :func:`.steps.choose_early`'s. chat.js's request gets the page itself (the
    result, through a redirect it follows, or the chat), as for "change".
    """
    study, row = screening_of(study_or_404(study_id))
    row = steps.choose_early(get_db(), study, row, request.form, today=today())
    if request.headers.get(CHAT_HEADER) == "1" and row["status"] != "handoff":
        return chat_in_place(study, row)
    if row["status"] == "completed":
        return see_other("public.result", study_id=study.id)
    return to_chat(study, row)


def handoff(study_id: str) -> Any:
    """A patient under 14: ask kindly to continue with a parent or guardian."""
    study, row = screening_of(study_or_404(study_id))
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

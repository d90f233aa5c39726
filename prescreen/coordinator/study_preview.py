"""Preview a questionnaire version as a family would see it, in either language and either voice.

An admin checks a version (the live one, or a draft before it is published) by walking it: the
real engine decides each next question and the result, and the family's own templates say them
(``public/_question.html``, ``public/_outcome.html`` …, rendered in the previewed language and
voice by :func:`prescreen.public.text.render_in`), so the admin reads the words a family reads.
Nothing of a preview is stored: no screening, consent, log or outbox row. Its answers live in
the admin's signed session cookie (one preview at a time, a few hundred bytes); only starting a
preview is audited, as a staff action (``study.preview``).
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_login import current_user
from markupsafe import Markup

from .. import studies
from ..clock import today
from ..engine import AnswerError, Month, State, Study
from ..public.page import error_text, given_answer, transcript
from ..public.result import result_context
from ..public.steps import GUARDIAN_AGE, posted_value
from ..public.text import render_in
from ..store import audit, get_db
from ..web.i18n import LOCALES, current_locale
from .shared import require_admin

#: The session entry holding the one preview in progress: which version, the answers, the question
#: being changed. Answers typed by an admin to try the questionnaire, never a family's.
SESSION_KEY = "study_preview"
VOICES = ("guardian", "patient")


def chosen() -> tuple[str, str]:
    """The previewed language and voice (``?language=zh&voice=patient``); the admin's language by default."""
    language = request.args.get("language", "")
    voice = request.args.get("voice", "")
    return (
        language if language in LOCALES else current_locale(),
        voice if voice in VOICES else "guardian",
    )


def here(study: Study, language: str, voice: str) -> str:
    """The preview page's address for this language and voice."""
    return url_for(
        "coordinator.study_preview", study_id=study.id, version=study.version, language=language, voice=voice
    )


def key_of(study: Study) -> str:
    return f"{study.id}@{study.version}"


def held(study: Study) -> dict[str, Any] | None:
    """This browser's preview of *study*'s version, if it is the one in progress."""
    walk = session.get(SESSION_KEY)
    if isinstance(walk, dict) and walk.get("key") == key_of(study) and isinstance(walk.get("answers"), dict):
        return walk
    return None


def keep(study: Study, answers: dict[str, Any], editing: str | None = None) -> dict[str, Any]:
    """Store the preview's answers in the session (replacing any other preview) and return it."""
    walk = {"key": key_of(study), "answers": answers, "editing": editing}
    session[SESSION_KEY] = walk
    return walk


def begin(study: Study) -> dict[str, Any]:
    """A fresh preview of *study*'s version; audited as a staff action (it is no family's screening)."""
    audit.record(get_db(), current_user.actor, "study.preview", "study", study.id, {"version": study.version})
    return keep(study, {})


def study_preview(study_id: str, version: str) -> Any:
    """GET: the current preview question (or the result); POST: answer, change, keep or start again."""
    require_admin()
    study = studies.version(study_id, version)  # the live one, a draft or a retired one
    if study is None:
        abort(404)
    language, voice = chosen()
    if request.method == "POST":
        return take(study, language, voice)
    walk = held(study) or begin(study)
    return show(study, walk, language, voice)


def take(study: Study, language: str, voice: str) -> Any:
    """Apply one posted action to the preview, then show the page again (post/redirect/get)."""
    action = request.form.get("action", "")
    walk = held(study)
    if walk is None or action == "restart":
        begin(study)
        return redirect(here(study, language, voice), 303)
    answers = dict(walk["answers"])
    day = today()
    state = studies.flow(study).run(answers, respondent=voice, today=day)
    qid = request.form.get("q", "")
    if action == "change":
        keep(study, answers, qid if qid in state.asked else None)
    elif action == "keep":
        keep(study, answers)
    elif action == "answer" and (qid in state.asked or (state.question and qid == state.question.id)):
        question = study.question(qid)
        raw = posted_value(question, request.form)
        try:
            value = question.parse(raw, day)
        except AnswerError as exc:
            with force_locale(language):
                error = error_text(exc, question, language)
            editing = qid if qid in state.asked else None
            return show(study, {**walk, "editing": editing}, language, voice, error=error, raw=raw, status=400)
        keep(study, {**answers, qid: question.stored(value)})
    # anything else (an old page, a question no longer asked) changes nothing: show where things are
    return redirect(here(study, language, voice), 303)


def show(
    study: Study,
    walk: dict[str, Any],
    language: str,
    voice: str,
    *,
    error: str = "",
    raw: Any = None,
    status: int = 200,
) -> tuple[str, int, dict[str, str]]:
    """The staff page: the banner in the admin's language, the family's page in the previewed one."""
    context = family_context(study, walk, voice, language, error=error, raw=raw)
    family = Markup(render_in(language, "public/_preview_family.html", **context))  # noqa: S704 # nosec B704
    page = render_template(
        "coordinator/study_preview.html",
        study=study,
        family=family,
        language=language,
        voice=voice,
        switch={(lang, v): here(study, lang, v) for lang in LOCALES for v in VOICES},
        restart_url=here(study, language, voice),
        back_url=back_url(study),
    )
    return page, status, {"X-Robots-Tag": "noindex, nofollow"}


def family_context(
    study: Study, walk: dict[str, Any], voice: str, language: str, *, error: str = "", raw: Any = None
) -> dict[str, Any]:
    """What ``public/_preview_family.html`` shows: the answers so far, then a question, the hand-off or the result."""
    day = today()
    flow = studies.flow(study)
    answers = walk["answers"]
    state: State = flow.run(answers, respondent=voice, today=day)
    editing = walk.get("editing") if walk.get("editing") in state.asked else None
    question = study.question(editing) if editing else state.question
    asked = state.asked[: state.asked.index(editing)] if editing else state.asked
    age = flow.age(answers, day)
    handoff = voice == "patient" and age is not None and age < GUARDIAN_AGE and not editing
    age_question = study.meta.get("age_question", "")
    if handoff and age_question in asked:  # the family's chat stops at the answer that gave the age
        asked = asked[: asked.index(age_question) + 1]
    context: dict[str, Any] = {
        "study": study,
        "voice": voice,
        "items": transcript(study, asked, answers, voice, language),
        "post_url": here(study, language, voice),
        "editing": editing,
        "error": error,
        "current": given_answer(question, answers) if raw is None else raw,
        "question": question,
        "remaining": state.remaining if not editing else None,
        "max_month": str(Month.of(day)),
        # A patient found to be under 14 is asked to hand over to a parent (prescreen.public.steps).
        "handoff": handoff,
        "referral": None,
    }
    if question is None and state.outcome is not None:
        context.update(result_context(study, {"answers": answers, "respondent": voice}, state, language))
        context["items"] = transcript(study, asked, answers, voice, language)
    return context


def back_url(study: Study) -> str:
    """The study's versions page (drafts, live, retired: where an admin came from)."""
    return url_for("coordinator.study_versions", study_id=study.id)

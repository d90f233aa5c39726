"""The study page, who is filling in, consent, resuming a saved screening, and forgetting it."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, g, render_template, request, session
from werkzeug.wrappers import Response

from .. import studies
from ..engine import Study
from ..store import get_db
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from . import chat
from .forms import RESPONDENTS, ConsentForm, LeaveForm, ResumeForm
from .session import (
    CONSENT_KEY,
    hold_screening,
    is_recruiting,
    let_go,
    screening_for,
    see_other,
    session_token,
    study_or_404,
    token_from_nonce,
    version_of,
)
from .source_link import taken_source
from .text import consent_version, notice_context


# -- the study page, who is filling in, consent ----------------------------------------------
def study(study_id: str) -> str:
    """What the study is for, who runs it, what taking part involves; or that it is closed."""
    study = study_or_404(study_id)
    return render_template(
        "public/study.html",
        study=study,
        recruiting=is_recruiting(study),
        screening=screening_for(study),
        missing=request.args.get("missing") == "1",
        deleted=request.args.get("deleted") == "1",
        closed=request.args.get("closed") == "1",
        left=request.args.get("left") == "1",
        withdrawn=request.args.get("withdrawn") == "1",
    )


def who(study_id: str) -> str | Response:
    """Who is filling in: a parent or guardian, or the patient (the voice of every question)."""
    study = study_or_404(study_id)
    if not is_recruiting(study):
        return see_other("public.study", study_id=study.id)
    return render_template("public/who.html", study=study, underway=screening_for(study))


def consent(study_id: str) -> str | Response | tuple[str, int]:
    """The separate consent to health information, unticked; agreeing starts the screening."""
    study = study_or_404(study_id)
    if not is_recruiting(study):
        return see_other("public.study", study_id=study.id)
    form = ConsentForm()
    if request.method == "GET":
        respondent = request.args.get("as", "")
        if respondent not in RESPONDENTS:
            return see_other("public.who", study_id=study.id)
        form.respondent.data = respondent
        form.nonce.data = secrets.token_urlsafe(16)
        session.setdefault(CONSENT_KEY, secrets.token_urlsafe(16))
    elif form.validate_on_submit():
        held = screening_for(study)
        if held is not None:  # Back to this page, then "Agree": never a new, empty screening
            return continue_screening(study, held)
        locale = current_locale()
        _id, token = screening_store.create(
            get_db(),
            token=token_from_nonce(form.nonce.data or ""),
            study_id=study.id,
            version=study.version,
            locale=locale,
            respondent=form.respondent.data,
            consent_version=consent_version("health"),
            resume_days=int(current_app.config["RESUME_DAYS"]),
            source_id=taken_source(study.id),
        )
        hold_screening(token)
        if request.headers.get(chat.CHAT_HEADER) == "1":  # chat.js: the first question at once
            g.screening = screening_store.by_token(get_db(), token)
            if g.screening is not None:
                return chat.chat_in_place(study, g.screening)
        return see_other("public.chat", study_id=study.id)
    elif form.respondent.data not in RESPONDENTS:
        return see_other("public.who", study_id=study.id)
    if form.nonce.errors:  # a tampered or truncated form: offer a fresh one
        form.nonce.data = secrets.token_urlsafe(16)
    page = render_template(
        "public/consent.html", study=study, form=form, underway=screening_for(study), **notice_context()
    )
    return (page, 400) if form.errors else page


def continue_screening(study: Study, row: dict[str, Any]) -> Response:
    """Agreeing again on a browser that already holds a screening of this study: carry on with it.

    A family that pressed Back to the consent page and agreed again keeps every answer; starting
    afresh goes through "Delete my answers", which asks once more. A change left open (Back
    steps through earlier questions as changes) is closed: they land on the question they were
    on, every answer above it.
    """
    study = version_of(study, row)
    if row["editing"]:
        row = screening_store.set_editing(get_db(), row["id"], row["step"], None) or row
    if request.headers.get(chat.CHAT_HEADER) == "1":
        return chat.chat_in_place(study, row)
    return see_other("public.chat", study_id=study.id)


def resume(token: str) -> str | Response | tuple[str, int]:
    """Continue a saved screening from its link, on this browser, after a deliberate "continue".

    Opening the link only shows a page: a link posted in a chat group, or a page that sends a
    browser here, must not swap anyone onto a screening. Continuing (a POST with CSRF) moves the
    screening to this browser under a new token, so the link and every other browser that had
    it stop working, and this browser gives its own consent before it sees an earlier answer.
    """
    row = screening_store.by_token(get_db(), token) if len(token) < 100 else None
    study = studies.get(row["study_id"]) if row else None
    if row is None or study is None:
        return render_template("public/expired.html"), 404
    if session_token() == token:  # this browser already holds it: nothing moves
        return see_other("public.result" if row["status"] == "completed" else "public.chat", study_id=study.id)
    handoff = row["status"] == "handoff"  # no answers kept; the guardian consents on the next page
    form = ResumeForm(needs_consent=not handoff)
    if form.validate_on_submit():
        moved = screening_store.move_to_new_token(
            get_db(),
            token,
            consent_version=None if handoff else consent_version("health"),
            locale=current_locale(),
        )
        if moved is None:  # another browser continued it a moment ago
            return render_template("public/expired.html"), 404
        row, new = moved
        hold_screening(new)
        g.screening = row
        if row["status"] == "completed":
            return see_other("public.result", study_id=study.id)
        return see_other("public.chat", study_id=study.id)
    g.screening_locale = row["locale"]
    page = render_template(
        "public/resume.html",
        study=study,
        form=form,
        handoff=handoff,
        voice=row["respondent"] or "guardian",
        **notice_context(),
    )
    return (page, 400) if form.errors else page


def leave(study_id: str) -> Response:
    """ "I'm finished on this device": this browser lets the screening go; the saved link still works."""
    study = study_or_404(study_id)
    if LeaveForm().validate_on_submit():
        let_go()
    return see_other("public.study", study_id=study.id, left=1)


def forget(study_id: str) -> str | Response:
    """Delete this screening's answers (asked once more first: a slip of the thumb must not do it)."""
    study = study_or_404(study_id)
    row = screening_for(study)
    if request.method == "GET":
        if row is None:
            return see_other("public.study", study_id=study.id)
        return render_template("public/forget.html", study=study)
    if row is not None:
        if referral_store.by_screening(get_db(), row["id"]):
            return see_other("public.sent", study_id=study.id)
        screening_store.delete(get_db(), row["id"])
    let_go()
    return see_other("public.study", study_id=study.id, deleted=1)

"""The families' side: study pages, who is filling in, consent, and the chat questionnaire.

Everything works as plain HTML forms (POST, then a redirect, so refresh and back never resubmit);
``static/chat.js`` only enhances it. The session cookie holds one opaque random token; the
screening row is found by the token's SHA-256. Health answers never appear in a URL, a cookie
or a log line: which question is being changed, and whether the result just changed, are kept
on the screening row (see ``m0003_public``). Views are split by meaning: the chat itself is in
:mod:`prescreen.public_chat`, the referral and withdrawal in :mod:`prescreen.public_referral`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from .engine import Study
from .i18n import current_locale
from .limits import limiter_for, made_a_referral, public_post_limit, referral_post_limit
from .public_forms import RESPONDENTS, ConsentForm, LeaveForm, ResumeForm
from .public_text import consent_version, notice_context, template_i18n
from .store import get_db
from .store import referrals as referral_store
from .store import screenings as screening_store
from .store import studies as study_store

bp = Blueprint("public", __name__)
#: The one thing the chat keeps in the session cookie: the screening's opaque token.
SESSION_KEY = "screening"
#: an opaque random value per browser session that binds a consent nonce to that browser
CONSENT_KEY = "consent_key"
#: When this browser last used its screening (whole seconds): a shared phone or a hospital
#: kiosk stops offering "continue where you left off" after an idle spell.
SEEN_KEY = "seen"
#: Rewritten at most once a minute, so a step does not re-sign the cookie on every request.
SEEN_GRANULARITY = 60
#: The referral's withdraw secret, kept only by the browser that sent the details (it is not
#: derived from anything else, so no other browser can show it again).
WITHDRAW_KEY = "withdraw"


# -- helpers shared by the public views ------------------------------------------------------
def study_or_404(study_id: str) -> Study:
    """The loaded study with this id, or a 404 page."""
    study = current_app.extensions["studies"].get(study_id)
    if study is None:
        abort(404)
    return study


def is_recruiting(study: Study) -> bool:
    """Whether the study takes new screenings now (an admin may have closed it in the app)."""
    return study_store.status(get_db(), study.id, study.status) == "recruiting"


def session_token() -> str | None:
    """The screening token in the session cookie, unless this browser has left it idle too long."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not 10 < len(token) < 100:
        return None
    return None if idle_too_long() else token


def idle_too_long() -> bool:
    """Whether this browser's screening has gone unused for longer than ``PUBLIC_IDLE_MINUTES``.

    A cookie from before the idle rule (no time in it) counts as just seen.
    """
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int):
        return False
    return time.time() - seen > 60 * int(current_app.config["PUBLIC_IDLE_MINUTES"])


def hold_screening(token: str) -> None:
    """Make *token* this browser's screening (after "Agree" or a resume)."""
    session[SESSION_KEY] = token
    session[SEEN_KEY] = int(time.time())
    session.pop(WITHDRAW_KEY, None)


def let_go() -> None:
    """Forget this browser's screening: its cookie no longer opens it (the resume link still does)."""
    for key in (SESSION_KEY, SEEN_KEY, WITHDRAW_KEY):
        session.pop(key, None)


def current_screening() -> dict[str, Any] | None:
    """The session's screening (id, study_id, locale, respondent, outcome, recheck_after, status), or None.

    Used by the volunteer reminder page; never returns answers.
    """
    row = g.get("screening") if "screening" in g else screening_store.by_token(get_db(), session_token())
    if row is None:
        return None
    return {k: row[k] for k in ("id", "study_id", "locale", "respondent", "outcome", "recheck_after", "status")}


def screening_for(study: Study) -> dict[str, Any] | None:
    """The session's screening if it belongs to *study*."""
    row = g.get("screening")
    return row if row is not None and row["study_id"] == study.id else None


def require_screening(study: Study) -> dict[str, Any]:
    """The session's screening of *study*, or stop with a redirect to the study page."""
    row = screening_for(study)
    if row is None:
        reason = {"closed": 1} if g.get("idle_closed") else {"missing": 1}
        abort(redirect(url_for("public.study", study_id=study.id, **reason), 303))
    return row


def token_from_nonce(nonce: str) -> str | None:
    """The screening token for a consent form's nonce, bound to this browser's session.

    A double tap on "Agree" in the same browser derives the same token (one screening), but the
    nonce alone is not enough: another browser that posts it has its own session key and gets a
    screening of its own, never this family's answers.
    """
    nonce = nonce.strip()
    browser = session.get(CONSENT_KEY)
    if not nonce or not isinstance(browser, str):
        return None
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"screening:{browser}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def see_other(endpoint: str, **values: Any) -> Response:
    """A 303 redirect: after a POST the browser GETs the next page (post/redirect/get)."""
    return redirect(url_for(endpoint, **values), 303)


def has_endpoint(name: str) -> bool:
    """Whether another area's page exists yet (volunteer sign-up, reminders)."""
    return name in current_app.view_functions


# -- request hooks ---------------------------------------------------------------------------
@bp.before_request
def load_screening() -> None:
    """Find the session's screening once per request; its language is the default locale.

    A screening left idle on this browser is let go (see :func:`idle_too_long`); one in use has
    its "last seen" time refreshed, coarsely.
    """
    if SESSION_KEY in session and idle_too_long():
        let_go()
        g.idle_closed = True
    token = session_token()
    g.screening = screening_store.by_token(get_db(), token) if token else None
    if g.screening is not None:
        g.screening_locale = g.screening["locale"]
        seen = session.get(SEEN_KEY)
        now = int(time.time())
        if not isinstance(seen, int) or now - seen >= SEEN_GRANULARITY:
            session[SEEN_KEY] = now


@bp.after_request
def no_store(response: Response) -> Response:
    """Chat pages hold a family's answers: never keep them in a shared cache."""
    if request.endpoint != "public.study":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def fast_translations() -> dict[str, Any]:
    """Cheap ``_()`` for every public template (see :mod:`prescreen.public_text`)."""
    return {**template_i18n(), "lang": current_locale(), "has_endpoint": has_endpoint}


# -- the study page, who is filling in, consent ----------------------------------------------
@bp.get("/s/<study_id>/")
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


@bp.get("/s/<study_id>/start")
def who(study_id: str) -> str | Response:
    """Who is filling in: a parent or guardian, or the patient (the voice of every question)."""
    study = study_or_404(study_id)
    if not is_recruiting(study):
        return see_other("public.study", study_id=study.id)
    return render_template("public/who.html", study=study)


@bp.route("/s/<study_id>/consent", methods=["GET", "POST"])
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
        )
        hold_screening(token)
        if request.headers.get(public_chat.CHAT_HEADER) == "1":  # chat.js: the first question at once
            g.screening = screening_store.by_token(get_db(), token)
            if g.screening is not None:
                return public_chat.chat_in_place(study, g.screening)
        return see_other("public.chat", study_id=study.id)
    elif form.respondent.data not in RESPONDENTS:
        return see_other("public.who", study_id=study.id)
    if form.nonce.errors:  # a tampered or truncated form: offer a fresh one
        form.nonce.data = secrets.token_urlsafe(16)
    page = render_template("public/consent.html", study=study, form=form, **notice_context())
    return (page, 400) if form.errors else page


@bp.route("/r/<token>", methods=["GET", "POST"])
def resume(token: str) -> str | Response | tuple[str, int]:
    """Continue a saved screening from its link, on this browser, after a deliberate "continue".

    Opening the link only shows a page: a link posted in a chat group, or a page that sends a
    browser here, must not swap anyone onto a screening. Continuing (a POST with CSRF) moves the
    screening to this browser under a new token, so the link and every other browser that had
    it stop working, and this browser gives its own consent before it sees an earlier answer.
    """
    row = screening_store.by_token(get_db(), token) if len(token) < 100 else None
    study = current_app.extensions["studies"].get(row["study_id"]) if row else None
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


@bp.post("/s/<study_id>/leave")
def leave(study_id: str) -> Response:
    """ "I'm finished on this device": this browser lets the screening go; the saved link still works."""
    study = study_or_404(study_id)
    if LeaveForm().validate_on_submit():
        let_go()
    return see_other("public.study", study_id=study.id, left=1)


@bp.route("/s/<study_id>/forget", methods=["GET", "POST"])
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


def init_app(app: Flask) -> None:
    """Rate-limit every public POST per client, counted across workers (see prescreen.limits)."""
    limiter = limiter_for(app)
    limiter.limit(public_post_limit, methods=["POST"], scope="public-post")(bp)
    per_referral = limiter.limit(
        referral_post_limit,
        methods=["POST"],
        scope="public-referral",
        deduct_when=made_a_referral,
        override_defaults=False,  # the general allowance still applies too
    )
    app.view_functions["public.refer"] = per_referral(app.view_functions["public.refer"])


from . import public_chat, public_referral, public_result  # noqa: E402,F401 — they add their views to ``bp``

"""Which screening this browser holds, and the helpers and hooks every public page shares.

The session cookie holds one opaque random token; the screening row is found by the token's
SHA-256. Health answers never appear in a URL, a cookie or a log line. Nothing here imports the
blueprint, so every view module (and the volunteer area) uses these without an import circle.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .. import studies
from ..engine import Study
from ..store import get_db, recruiting
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .text import template_i18n

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
    study = studies.get(study_id)
    if study is None:
        abort(404)
    return study


def is_recruiting(study: Study) -> bool:
    """Whether the study takes new screenings now (an admin may have closed it in the app)."""
    return recruiting.status(get_db(), study.id, study.status) == "recruiting"


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


def version_of(study: Study, row: dict[str, Any]) -> Study:
    """The version of *study* this screening started on: it finishes on it, whatever was published since.

    A new screening takes the live version (``studies.get``); this keeps the wording and the rules
    the family began with. A version no longer known (a developer edited the folder) falls back
    to the live one, as before versions were kept.
    """
    started = row.get("version")
    if not started or started == study.version:
        return study
    return studies.version(study.id, started) or study


def screening_of(study: Study) -> tuple[Study, dict[str, Any]]:
    """The session's screening of *study* (or a redirect, as :func:`require_screening`) and the version it runs on."""
    row = require_screening(study)
    return version_of(study, row), row


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


# -- request hooks ---------------------------------------------------------------------------
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


def no_store(response: Response) -> Response:
    """Chat pages hold a family's answers: never keep them in a shared cache."""
    if request.endpoint != "public.study":
        response.headers["Cache-Control"] = "no-store"
    return response


def chosen_respondent() -> str | None:
    """Who was chosen to fill in, on the consent page (its ``?as=``, or the form it posted).

    Never fails: the "too much to send" page (413) renders without reading the body.
    """
    if request.method != "POST":
        return request.args.get("as")
    try:
        return request.form.get("respondent")
    except HTTPException:
        return None


def family_voice() -> str:
    """Whom this page speaks to: ``patient`` (a teen or adult answering for themselves) or ``guardian``.

    Known from the screening this browser holds (for this study), or on the consent page from
    who was chosen; a view may set ``g.voice`` itself. The hand-off page speaks to the parent
    or guardian who takes over.
    """
    chosen = g.get("voice")
    if chosen in ("guardian", "patient"):
        return str(chosen)
    if request.endpoint == "public.consent":
        return "patient" if chosen_respondent() == "patient" else "guardian"
    row = g.get("screening")
    study_id = (request.view_args or {}).get("study_id")
    if row is None or (study_id is not None and row["study_id"] != study_id) or row["status"] == "handoff":
        return "guardian"
    return "patient" if row["respondent"] == "patient" else "guardian"


def fast_translations() -> dict[str, Any]:
    """Cheap ``_()`` for every public template, in the family's voice (see :mod:`prescreen.public.text`)."""
    voice = family_voice()
    return {**template_i18n(voice=voice), "lang": current_locale(), "family_voice": voice}

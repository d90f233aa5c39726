"""The short resume code: 8 characters and the birth month, typed at ``/resume`` on another device.

A family moving from WeChat to a browser (or to another phone) cannot easily carry a long link;
they can copy 8 characters. The code is worked out from this browser's screening token with a key
derived from ``SECRET_KEY`` (so it can be shown again on every page without being stored) and the
database keeps only a keyed hash of it (:mod:`prescreen.store.resume_codes`). The birth month is
the second factor: without it a code seen over a shoulder opens nothing, and 5 wrong months kill
the code. Using it moves the screening exactly as the resume link does (new token, the link, the
code and the old device all dead), after this device's own consent. Everything is POST, so the
code is never in a URL or an access-log line; wrong code and wrong month get the same message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import current_app, g, render_template, request
from werkzeug.wrappers import Response

from .. import studies
from ..store import get_db
from ..store import resume_codes as code_store
from ..store.referrals import ALPHABET
from ..web.i18n import current_locale
from .forms import ResumeForm
from .session import hold_screening, see_other, session_token
from .text import consent_version, notice_context

#: Characters in a code: 8 from a 32-letter alphabet without look-alikes (no 0/O, 1/I/L): 40 bits.
LENGTH = 8
MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*月?\s*$")


def _key(label: bytes) -> bytes:
    """A key for one use, derived from the app's secret key."""
    return hmac.new(str(current_app.config["SECRET_KEY"]).encode("utf-8"), label, hashlib.sha256).digest()


def code_for(token: str) -> str:
    """The short code of a screening token (the same token always gives the same code)."""
    digest = hmac.new(_key(b"prescreen resume code"), token.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:5], "big")
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(LENGTH))


def code_hash(code: str) -> str:
    """What the database keeps of a code: a keyed hash (40 bits would not survive a plain one)."""
    return hmac.new(_key(b"prescreen resume code hash"), code.encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_code(text: str) -> str:
    """A typed code as stored: capitals, without spaces or dashes (``abcd-efgh`` is ``ABCDEFGH``)."""
    return re.sub(r"[\s\-‐-―]", "", text or "").upper()[:32]


def normalise_month(text: str) -> str | None:
    """A typed birth month (``2015-06``, ``2015/6``, ``2015年6月``) as ``YYYY-MM``, or None."""
    match = MONTH_RE.match(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return f"{match.group(1)}-{int(match.group(2)):02d}"


def panel() -> dict[str, Any] | None:
    """The code to show beside the resume link, or None (a hand-off keeps no answers to continue).

    Showing the code is what files its hash, so a code works from the moment a family can see it
    (and opens anything only once the birth month is answered, the first question). The panel is
    on the chat page from the start, and chat.js does not redraw it after each answer, so the
    code is shown before the birth month rather than appearing only after a reload.
    """
    row = g.get("screening")
    token = session_token()
    if row is None or token is None or row["status"] == "handoff":
        return None
    code = code_for(token)
    works = code_store.issue(get_db(), row["id"], code_hash(code))
    return {"code": f"{code[:4]} {code[4:]}", "works": works}


def resume_with_code() -> str | Response | tuple[str, int]:
    """``/resume``: the code and birth month, then this device's consent, then the screening moves."""
    form = ResumeForm(needs_consent=request.form.get("step") == "continue")
    if request.method == "GET":
        return render_template("public/resume_code.html", form=form, refused=None)
    if not form.validate_on_submit() and set(form.errors) - {"agree"}:  # no CSRF token: a hostile page
        return render_template("public/resume_code.html", form=form, refused=None), 400
    code = normalise_code(request.form.get("code", ""))
    month = normalise_month(request.form.get("month", "")) or "-"
    checked, screening_id = code_store.check(get_db(), code_hash(code), month)
    if checked != "ok" or screening_id is None:
        return render_template("public/resume_code.html", form=form, refused=checked), 400
    found = code_store.screening(get_db(), screening_id)
    study = studies.get(found["study_id"]) if found else None
    if found is None or study is None:
        return render_template("public/resume_code.html", form=form, refused="refused"), 400
    g.voice = "patient" if found["respondent"] == "patient" else "guardian"
    if form.errors or request.form.get("step") != "continue":
        page = render_template(
            "public/resume_code_confirm.html",
            study=study,
            form=form,
            code=code,
            month=month,
            voice=g.voice,
            **notice_context(),
        )
        return (page, 400) if form.errors else page
    checked, moved = code_store.take(
        get_db(), code_hash(code), month, consent_version=consent_version("health"), locale=current_locale()
    )
    if moved is None:  # another device took it a moment ago
        return render_template("public/resume_code.html", form=form, refused=checked), 400
    row, new = moved
    hold_screening(new)
    g.screening = row
    return see_other("public.result" if row["status"] == "completed" else "public.chat", study_id=study.id)

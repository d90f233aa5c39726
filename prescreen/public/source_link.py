"""``/q/<code>``: a source's link (a poster's QR code, a link in a parents' group).

It opens the study page and keeps the source's id in the session cookie; the screening this
browser then starts records it (:func:`taken_source`), and the day's count of opened links goes
up by one (a number per source and day, for the funnel). Nothing else is kept: no code in a log line
(the route is logged as ``/q/<code>``, see :mod:`prescreen.web.logsafe`), nothing about the family.
An unknown or retired code, or a study that is no longer loaded, goes quietly to the home page.
"""

from __future__ import annotations

from flask import redirect, session, url_for
from werkzeug.wrappers import Response

from .. import studies
from ..store import get_db
from ..store import sources as source_store

#: The session key holding the source id until a screening starts.
SOURCE_KEY = "source"
#: The session key listing the sources this browser has opened (so a second scan is not a second family).
OPENED_KEY = "opened_sources"
#: How many of those the cookie keeps: a family meets one or two posters, not dozens.
OPENED_KEEP = 8


def from_source(code: str) -> Response:
    """Remember the source and open its study page; an unknown code goes to the home page."""
    source = source_store.by_code(get_db(), code) if len(code) <= 16 else None
    if source is None or studies.get(source.study_id) is None:
        return redirect(url_for("home.index"), code=303)
    seen = session.get(OPENED_KEY)
    seen = seen if isinstance(seen, list) else []
    if source.id not in seen:  # the same browser opening it again (even after starting) is counted once
        source_store.count_open(get_db(), source.id)
        session[OPENED_KEY] = [*seen, source.id][-OPENED_KEEP:]
    session[SOURCE_KEY] = source.id
    return redirect(url_for("public.study", study_id=source.study_id), code=303)


def taken_source(study_id: str) -> int | None:
    """The source this browser came from, if it was for *study_id*; forgotten once a screening takes it."""
    source_id = session.pop(SOURCE_KEY, None)
    if not isinstance(source_id, int):
        return None
    source = source_store.by_id(get_db(), source_id)
    return source.id if source is not None and source.study_id == study_id else None

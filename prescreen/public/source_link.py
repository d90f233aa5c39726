"""``/q/<code>``: a source's link (a poster's QR code, a link in a parents' group).

It opens the study page and keeps the source's id in the session cookie; the screening this
browser then starts records it (:func:`taken_source`). Nothing else is kept: no code in a log line
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


def from_source(code: str) -> Response:
    """Remember the source and open its study page; an unknown code goes to the home page."""
    source = source_store.by_code(get_db(), code) if len(code) <= 16 else None
    if source is None or studies.get(source.study_id) is None:
        return redirect(url_for("home.index"), code=303)
    session[SOURCE_KEY] = source.id
    return redirect(url_for("public.study", study_id=source.study_id), code=303)


def taken_source(study_id: str) -> int | None:
    """The source this browser came from, if it was for *study_id*; forgotten once a screening takes it."""
    source_id = session.pop(SOURCE_KEY, None)
    if not isinstance(source_id, int):
        return None
    source = source_store.by_id(get_db(), source_id)
    return source.id if source is not None and source.study_id == study_id else None

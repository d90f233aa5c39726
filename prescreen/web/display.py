"""Large text (大字) for the grandparents who fill in many children's forms (适老化).

MIIT's 2021 适老化 design points for websites ask for a visible switch to larger text that
needs no plug-in and no script. The switch is a small POST form in every family page's header
(``base.html``; CSRF-protected like every form here); it sets one cookie that holds nothing but the display
preference, and sends the browser back to the page it came from. ``base.html`` then gives
``<html>`` the class ``large`` and ``app.css`` does the rest (body text 20 px and up, line height
1.3 and up, higher contrast, larger tap targets). The study team's pages have no switch.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import cookies

bp = Blueprint("display", __name__)

#: The cookie that remembers large text for a year; it holds only ``large``.
COOKIE = "textsize"
LARGE = "large"
#: Staff pages keep their dense layout and never show the switch.
STAFF_BLUEPRINTS = frozenset({"coordinator", "auth"})
#: Longest page address the switch sends the browser back to.
MAX_NEXT = 2000


def family_page() -> bool:
    """Whether this request renders a page for families (anything but the study team's pages)."""
    return request.blueprint not in STAFF_BLUEPRINTS


def large_text() -> bool:
    """Whether this family page is shown in large text."""
    return family_page() and request.cookies.get(COOKIE) == LARGE


def here() -> str:
    """The address of the page being shown, to come back to after switching.

    A page rendered by a POST to an address with no GET (the chat's ``/answer``) names the
    address that shows it in ``g.page_path``, as for the language switch.
    """
    path = g.get("page_path") or request.path
    query = request.query_string.decode("latin-1") if not g.get("page_path") else ""
    return f"{path}?{query}" if query else path


def safe_next(target: str | None) -> str:
    """*target* if it is one of this site's own pages that a GET can show, else the home page.

    Only a path on this host (never ``//other.host``, ``/\\other.host`` or a scheme), and only one
    that a route answers by GET: the switch can never send anyone to another site, nor to a
    POST-only address that would answer 405.
    """
    target = (target or "").strip()
    if not target.startswith("/") or len(target) > MAX_NEXT or any(c in target for c in "\\\r\n\t"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(parts.path, method="GET")
    except HTTPException:
        return "/"
    return target


def switch() -> Response:
    """Turn large text on or off (POST ``to=large|normal``, ``next=<path>``), then go back."""
    response = redirect(safe_next(request.form.get("next")), 303)
    if request.form.get("to") == LARGE:
        cookies.remember(response, COOKIE, LARGE)
    else:
        cookies.forget(response, COOKIE)
    return response


bp.add_url_rule("/text-size", view_func=switch, methods=["POST"])


def init_app(app: Flask) -> None:
    """Give templates ``family_page()``, ``large_text()`` and ``text_size_next()`` (see ``base.html``)."""
    app.jinja_env.globals.update(family_page=family_page, large_text=large_text, text_size_next=here)

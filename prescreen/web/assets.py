"""Versioned stylesheet and script URLs, cached by the browser for a year.

Without this every page made the phone ask again whether ``app.css`` and ``chat.js`` had
changed (``Cache-Control: no-cache``, answered 304). On a slow mobile network that question
costs a whole round trip, about 0.4 s of each page's 1 s (measured with bench/slow_network.py).
Pages now name each asset with a hash of its content (``/static/app.css?v=3f2a…``); a request
with the current hash is answered ``max-age`` of a year, ``immutable``, so the browser does not
ask again until a release changes the file, and with it the URL. Any other request for a static
file keeps the old answer (``no-cache``), so an out-of-date page still gets a fresh file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, current_app, request, url_for

#: How long a browser may keep a versioned asset without asking again (a year, in seconds).
ONE_YEAR = 365 * 24 * 3600


def asset_version(filename: str) -> str | None:
    """A short hash of a static file's content, or None if there is no such file.

    Computed once per process (once per change of the file while templates auto-reload, i.e.
    in development).
    """
    folder = current_app.static_folder
    if folder is None:
        return None
    path = Path(folder) / filename
    cache: dict[str, tuple[int, str]] = current_app.extensions.setdefault("asset_versions", {})
    known = cache.get(filename)
    if known is not None and not current_app.jinja_env.auto_reload:
        return known[1]
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    if known is None or known[0] != stamp:
        known = cache[filename] = (stamp, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
    return known[1]


def asset_url(filename: str) -> str:
    """``url_for('static', ...)`` with the content hash the browser may cache for a year."""
    version = asset_version(filename)
    if version is None:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)


def is_current(filename: str | None) -> bool:
    """Whether this request names ``filename`` with the hash of its content right now."""
    version = request.args.get("v")
    return bool(filename and version) and version == asset_version(filename)


def mark_immutable(response: Response) -> Response:
    """A versioned asset never changes under its URL: say so (no revalidation even on reload)."""
    if request.endpoint == "static" and response.status_code in (200, 304) and response.cache_control.max_age:
        response.cache_control.immutable = True
    return response


def init_app(app: Flask) -> None:
    """Give templates ``asset_url()`` and mark versioned static responses immutable."""
    app.jinja_env.globals["asset_url"] = asset_url
    app.after_request(mark_immutable)

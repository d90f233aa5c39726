"""Error pages: translated, calm, never a traceback; a 500 carries an incident id.

The incident id is logged with the traceback, so a family can quote it on the
phone and the team can find exactly what happened.
"""

from __future__ import annotations

import secrets
import sqlite3

import psycopg
from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from . import assets
from .logsafe import request_route

HANDLED = (400, 403, 404, 405, 413, 429, 500, 503)
#: What a 503 asks clients (and load balancers) to wait before trying again.
RETRY_AFTER_SECONDS = 5
#: SQLite's primary result codes for "another connection holds the lock" (BUSY, LOCKED).
_BUSY_CODES = (5, 6)


def new_incident_id() -> str:
    """Return a short id that is easy to read aloud (no 0/O, 1/I confusion)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class PrescreenFlask(Flask):
    """Flask whose unhandled-exception log line names the incident id shown to the user, and whose
    static files are cached for a year when asked for by their content hash (prescreen.web.assets)."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if assets.is_current(filename):
            return assets.ONE_YEAR
        return super().get_send_file_max_age(filename)

    def log_exception(self, exc_info) -> None:  # type: ignore[no-untyped-def]
        """Log the traceback under a fresh incident id (the route, never the path: it may hold a token)."""
        g.incident_id = new_incident_id()
        self.logger.error(
            "incident %s: exception on %s [%s]",
            g.incident_id,
            request_route(),
            request.method,
            exc_info=exc_info,
        )


def render_error(error: HTTPException):  # type: ignore[no-untyped-def]
    """Render templates/errors/<code>.html with the right status code."""
    code = error.code or 500
    incident = g.get("incident_id") if code == 500 else None
    if code == 500 and incident is None:
        # An InternalServerError raised on purpose (abort(500)): still give an id.
        incident = new_incident_id()
        from flask import current_app

        current_app.logger.error("incident %s: abort(500) on %s", incident, request_route())
    try:
        body = render_template(f"errors/{code}.html", incident_id=incident, error=error)
    except Exception:  # noqa: BLE001 — the error page itself must never fail
        body = f"<!doctype html><title>{code}</title><p>{code}</p>"
        if incident:
            body += f"<p>{incident}</p>"
    response = error.get_response()
    response.set_data(body)
    response.content_type = "text/html; charset=utf-8"
    return response


def database_busy(error: Exception):  # type: ignore[no-untyped-def]
    """A locked database (a write waited out the busy timeout) gives 503 with Retry-After, not 500.

    The request did nothing wrong and trying again shortly will most likely work, so the family
    sees the translated "busy" page, and clients and load balancers see a status that says so.
    Any other SQLite OperationalError is a real fault and goes on to the 500 page with an incident
    id. On PostgreSQL, an OperationalError is a server that cannot be reached (restarting, failing
    over to a replica): also worth trying again shortly.
    """
    if (
        isinstance(error, sqlite3.OperationalError)
        and (getattr(error, "sqlite_errorcode", 0) & 0xFF) not in _BUSY_CODES
    ):
        raise error
    from flask import current_app

    current_app.logger.warning("database busy on %s [%s]: answered 503", request_route(), request.method)
    response = render_error(ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    """Register the handlers for every status code we render a page for, and for a busy database."""
    for code in HANDLED:
        app.register_error_handler(code, render_error)
    app.register_error_handler(sqlite3.OperationalError, database_busy)
    app.register_error_handler(psycopg.OperationalError, database_busy)

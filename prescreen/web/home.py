"""The front page (recruiting studies) and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .. import studies
from ..store import applied_migrations, check_writable, get_db, recruiting
from .errors import RETRY_AFTER_SECONDS

bp = Blueprint("home", __name__)


def index() -> str:
    """List the studies that are recruiting, in the visitor's language."""
    loaded = studies.all()
    # An admin may open or close recruiting in the app; the sheet's status is only the start.
    current = recruiting.statuses(get_db(), {sid: s.status for sid, s in loaded.items()})
    open_now = [s for sid, s in loaded.items() if current[sid] == "recruiting"]
    return render_template("index.html", studies=open_now)


def healthz() -> tuple[str, int, dict[str, str]]:
    """Answer 200 once the database has its schema and would take a write, else 503 (for load balancers).

    Reading alone said "ok" while every submission failed (a read-only file or disk, a write lock
    held by a stuck process): the check takes the write lock and lets it go again, writing
    nothing, which fails exactly when a family's answer could not be stored.
    """
    plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    try:
        db = get_db()
        applied_migrations(db)
        check_writable(db)
    except Exception:  # noqa: BLE001 — any failure to read or to lock for writing means "not healthy"
        current_app.logger.exception("health check failed")
        return "unavailable", 503, {**plain, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return "ok", 200, plain


bp.add_url_rule("/", view_func=index, methods=["GET"])
bp.add_url_rule("/healthz", view_func=healthz, methods=["GET"])

"""The front page (recruiting studies) and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .store import get_db
from .store import studies as studies_store

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """List the studies that are recruiting, in the visitor's language."""
    loaded = current_app.extensions["studies"]
    # An admin may open or close recruiting in the app; the sheet's status is only the start.
    current = studies_store.statuses(get_db(), {sid: s.status for sid, s in loaded.items()})
    studies = [s for sid, s in loaded.items() if current[sid] == "recruiting"]
    return render_template("index.html", studies=studies)


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Answer 200 once the database opens and has its schema, else 503 (for load balancers)."""
    plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    try:
        get_db().execute("SELECT count(*) FROM schema_migrations").fetchone()
    except Exception:  # noqa: BLE001 — any failure to read means "not healthy"
        current_app.logger.exception("health check failed")
        return "unavailable", 503, plain
    return "ok", 200, plain

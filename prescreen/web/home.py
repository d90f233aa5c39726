"""The front page (recruiting studies) and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _

from .. import studies
from ..engine.model import Study
from ..store import applied_migrations, check_writable, get_db, recruiting
from .errors import RETRY_AFTER_SECONDS
from .i18n import current_locale

bp = Blueprint("home", __name__)


def index() -> str:
    """The study directory: recruiting studies by medical area, then closed ones (which say so)."""
    loaded = studies.all()
    # An admin may open or close recruiting in the app; the sheet's status is only the start.
    current = recruiting.statuses(get_db(), {sid: s.status for sid, s in loaded.items()})
    open_now = [s for sid, s in loaded.items() if current[sid] == "recruiting"]
    closed = [s for sid, s in loaded.items() if current[sid] != "recruiting"]
    return render_template("index.html", studies=open_now, groups=by_area(open_now), closed=closed)


def by_area(found: list[Study]) -> list[tuple[str, list[Study]]]:
    """*found* grouped under the top-level category of each study's first category, in the taxonomy's order.

    A study is listed once (a parent scanning for "风湿免疫病" finds it there); one without a
    category the taxonomy knows goes last, under "Other studies".
    """
    lang = current_locale()
    categories = {c.id: c for c in studies.categories()}
    order = [c.id for c in studies.categories() if not c.parent]
    groups: dict[str, list[Study]] = {}
    for study in found:
        first = next((categories[c] for c in study.categories if c in categories), None)
        top = "" if first is None else first.parent or first.id
        groups.setdefault(top, []).append(study)
    ranked = sorted(groups, key=lambda top: order.index(top) if top in order else len(order))
    return [(categories[top].label(lang) if top else _("Other studies"), groups[top]) for top in ranked]


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

"""The queue: referred families, oldest first, with filters; overdue ones stand out."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask_login import current_user

from .. import clock
from ..store import get_db, outbox, queue
from ..web.security import page_number
from .shared import KIND_LABELS, LANGUAGE_NAMES, OUTCOME_LABELS, visible_studies, waiting


def filters_from(args: Any) -> dict[str, str]:
    """The queue's filters from the query string, unknown values dropped."""
    allowed = visible_studies()
    status = args.get("status", "open")
    return {
        "study": args.get("study") if args.get("study") in allowed else "",
        "status": status if status in ("open", "all", *queue.STATUSES) else "open",
        "outcome": args.get("outcome") if args.get("outcome") in OUTCOME_LABELS else "",
        "locale": args.get("locale") if args.get("locale") in LANGUAGE_NAMES else "",
        "kind": args.get("kind") if args.get("kind") in KIND_LABELS else "",
        "q": (args.get("q") or "").strip()[:20],
    }


def queue_page() -> str:
    """The queue: referred families, oldest first; overdue ones stand out."""
    filters = filters_from(request.args)
    page = page_number(request.args.get("page"))
    query = dict(filters, status=None if filters["status"] == "all" else filters["status"])
    rows, total, counts = queue.listing(get_db(), current_user.visible_studies, query, page)
    now = clock.now()
    days = int(current_app.config["OVERDUE_WORKING_DAYS"])
    for row in rows:
        row["overdue"] = queue.is_overdue(row, now, days)
        row["waiting"] = waiting(row["created_at"], now)
    pages = max((total + queue.PAGE_SIZE - 1) // queue.PAGE_SIZE, 1)
    return render_template(
        "coordinator/queue.html",
        # A lost "new referral" e-mail means families may wait unseen: say so until one gets through.
        alert_failed_at=outbox.undelivered_team_alert(get_db()),
        rows=rows,
        total=total,
        counts=counts,
        filters=filters,
        page=min(page, pages),
        pages=pages,
        studies=visible_studies(),
    )

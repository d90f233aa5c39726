"""The 待联系名单 (queue list): filtered, sorted, searched, assigned and closed in bulk.

Newest first, except under 逾期未联系 (overdue), where the longest-overdue family comes first.

Filters, sort and page size are in the query string (they hold nothing personal). A search by
name, phone or reference is a POST (CSRF-protected): the words typed may be a parent's phone
number or name, and a GET would put them in the URL, the browser history and every access log
on the way. The search runs on the server, and each one is audited with the ids it matched,
never with what was typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from .. import clock, team
from ..store import audit, get_db, outbox, queue_list
from ..web.security import page_number
from . import family
from .shared import (
    BEST_TIME_LABELS,
    KIND_LABELS,
    LANGUAGE_NAMES,
    OUTCOME_LABELS,
    STATUS_LABELS,
    visible_studies,
    waiting,
)

#: The filters kept in the query string (and in every form's hidden fields), in this order.
FILTER_KEYS = ("study", "status", "outcome", "locale", "kind", "best_time", "assigned", "when", "sort", "dir", "per")
SEARCH_MAX = 40
#: The orders a CRC may choose in the filter form (a phone shows no column headings to click):
#: "sort-dir" → label. Choosing one sets ``sort`` and ``dir``; none keeps the list's usual order.
ORDERS = {
    "received-desc": _l("Newest first"),
    "received-asc": _l("Oldest first"),
    "due-asc": _l("Next call due: the most overdue first"),
    "due-desc": _l("Next call due: the latest first"),
    "waiting-desc": _l("Waited longest first"),
    "waiting-asc": _l("Waited shortest first"),
    "status-asc": _l("Status: in the order of the steps"),
    "status-desc": _l("Status: the last steps first"),
}


def filters_from(args: MultiDict[str, str] | Any) -> dict[str, str]:
    """The list's filters from a query string or a form, unknown values dropped."""
    allowed = visible_studies()
    status = args.get("status", "open")
    assigned = args.get("assigned") or ""
    per = args.get("per") or ""
    sort, direction = args.get("sort"), args.get("dir")
    if args.get("order") in ORDERS:  # the filter form's order menu
        sort, direction = args["order"].split("-")
    elif args.get("order") == "":  # "the usual order" chosen there
        sort = direction = ""
    return {
        "study": args.get("study") if args.get("study") in allowed else "",
        "status": status if status in ("open", "all", *queue_list.queue.STATUSES) else "open",
        "outcome": args.get("outcome") if args.get("outcome") in OUTCOME_LABELS else "",
        "locale": args.get("locale") if args.get("locale") in LANGUAGE_NAMES else "",
        "kind": args.get("kind") if args.get("kind") in KIND_LABELS else "",
        "best_time": args.get("best_time") if args.get("best_time") in queue_list.BEST_TIMES else "",
        "assigned": assigned if assigned in ("me", "none") or (assigned.isdigit() and len(assigned) < 10) else "",
        "when": args.get("when") if args.get("when") in ("overdue", "today") else "",
        "sort": sort if sort in queue_list.SORTS else "",
        "dir": direction if direction in ("asc", "desc") else "",
        "per": per if per in {str(n) for n in queue_list.PAGE_SIZES} else "",
    }


def store_filters(filters: dict[str, str], q: str = "") -> dict[str, Any]:
    """The filters as :func:`queue_list.listing` takes them ("me" is this staff member's id)."""
    assigned: int | None = None
    if filters["assigned"] == "me":
        assigned = int(current_user.id)
    elif filters["assigned"] == "none":
        assigned = 0
    elif filters["assigned"]:
        assigned = int(filters["assigned"])
    return {**filters, "assigned": assigned, "q": q}


def rules() -> queue_list.Rules:
    """When calls are due: each visible study's reply promise, and the gap between attempts."""
    config = current_app.config
    retry = int(config["OVERDUE_WORKING_DAYS"])
    promised = {sid: team.contact_of(sid).reply_working_days for sid in visible_studies()}
    return queue_list.Rules(
        default_days=retry,
        retry_days=retry,
        reply_days={sid: days for sid, days in promised.items() if days is not None},
    )


def per_page(filters: dict[str, str]) -> int:
    return int(filters["per"]) if filters["per"] else queue_list.PAGE_SIZES[0]


def non_default(filters: dict[str, str]) -> dict[str, str]:
    """Only the filters that say something, for short links (status "open" is the default)."""
    return {k: v for k, v in filters.items() if v and not (k == "status" and v == "open")}


def queue_page() -> ResponseReturnValue:
    """The list: GET with filters; POST with a search (name, phone or reference) as well."""
    searching = request.method == "POST"
    source = request.form if searching else request.args
    filters = filters_from(source)
    q = (request.form.get("q") or "").strip()[:SEARCH_MAX] if searching else ""
    if searching and not q:
        return redirect(url_for("coordinator.queue", **non_default(filters)))
    page_no = 1 if searching else page_number(request.args.get("page"))
    db = get_db()
    now = clock.now()
    page = queue_list.listing(
        db,
        current_user.visible_studies,
        store_filters(filters, q),
        rules(),
        now=now,
        page=page_no,
        # A search shows every match on one page: a page link (a GET) would drop what was typed.
        per_page=queue_list.PAGE_SIZES[-1] if searching else per_page(filters),
    )
    if searching:
        audit.record(
            db,
            current_user.actor,
            "queue.search",
            "queue",
            None,
            {"matches": page.total, "referrals": page.ids[:200]},
        )
    for row in page.rows:
        row["waiting"] = waiting_text(row, now)
    sort, desc = queue_list.order(filters)
    return render_template(
        "coordinator/queue.html",
        # A lost "new referral" e-mail means families may wait unseen: say so until one gets through.
        alert_failed_at=outbox.undelivered_team_alert(db),
        rows=page.rows,
        total=page.total,
        counts=page.counts,
        filters=filters,
        link_args=non_default(filters),
        q=q,
        page=page.page,
        pages=page.pages,
        studies=visible_studies(),
        staff=queue_list.staff(db, current_user.visible_studies),
        page_sizes=queue_list.PAGE_SIZES,
        close_statuses=queue_list.BULK_CLOSE_STATUSES,
        best_times=queue_list.BEST_TIMES,
        best_time_labels=BEST_TIME_LABELS,
        today=clock.today(),
        sort=sort,
        desc=desc,
        orders=ORDERS,
        # the order menu's choice: one it offers when the CRC chose an order, else "the usual"
        order_chosen=f"{sort}-{'desc' if desc else 'asc'}" if filters["sort"] else "",
        retry_days=int(current_app.config["OVERDUE_WORKING_DAYS"]),
        several_studies=len(visible_studies()) > 1,
    )


def waiting_text(row: dict[str, Any], now: datetime) -> str:
    """How long the family waited: until now, or until they were closed (then it stops)."""
    closed = row["status"] in queue_list.queue.CLOSED
    return waiting(row["created_at"], now, row.get("closed_at") if closed else None)


def selected_ids() -> list[int]:
    """The families ticked on the list that this staff member may see."""
    raw = [v for v in request.form.getlist("ids") if v.isdigit() and len(v) < 12][:1000]
    return queue_list.visible_ids(get_db(), current_user.visible_studies, [int(v) for v in raw])


def bulk() -> ResponseReturnValue:
    """Assign the ticked families, or close them with a reason (nothing is erased)."""
    filters = filters_from(request.form)
    back = redirect(url_for("coordinator.queue", **non_default(filters)))
    ids = selected_ids()
    if not ids:
        flash(_("Tick at least one family first."), "error")
        return back
    action = request.form.get("action")
    db = get_db()
    if action == "assign":
        user = assignee(request.form.get("assignee"))
        if user is False:
            flash(_("Choose whom to assign the families to."), "error")
            return back
        changed = queue_list.assign(db, ids, user, current_user.actor)
        flash(ngettext("%(num)d family assigned.", "%(num)d families assigned.", changed), "success")
        return back
    if action == "close":
        status = request.form.get("close_status")
        reason = (request.form.get("close_reason") or "").strip()[:500]
        if status not in queue_list.BULK_CLOSE_STATUSES or not reason:
            flash(_("To close families, choose how they end and type the reason."), "error")
            return back
        closed = queue_list.bulk_close(db, ids, status, reason, int(current_user.id), current_user.actor)
        flash(
            ngettext(
                "%(num)d family closed as “%(status)s”. Nothing was erased.",
                "%(num)d families closed as “%(status)s”. Nothing was erased.",
                len(closed),
                status=STATUS_LABELS[status],
            ),
            "success",
        )
        return back
    flash(_("Choose what to do with the ticked families."), "error")
    return back


def assignee(raw: str | None) -> int | None | bool:
    """The account a form names: an active one who may see these studies, None for nobody, False if invalid."""
    if raw == "none":
        return None
    if raw == "me":
        return int(current_user.id)
    if raw and raw.isdigit():
        allowed = {s["id"] for s in queue_list.staff(get_db(), current_user.visible_studies)}
        return int(raw) if int(raw) in allowed else False
    return False


def assign_one(referral_id: int) -> ResponseReturnValue:
    """Assign one family from its own page (or take it: "assign to me")."""
    ids = queue_list.visible_ids(get_db(), current_user.visible_studies, [referral_id])
    page = family.back_to(referral_id, "assign")  # back at the form, saying so there
    if not ids:
        abort(404)  # like every family route: another study's family does not exist for this account
    user = assignee(request.form.get("assignee"))
    if user is False:
        flash(_("Choose whom to assign the family to."), "error")
        return redirect(page)
    queue_list.assign(get_db(), ids, user, current_user.actor)
    flash(_("Assignment saved."), "success")
    return redirect(page)


def assign_choices(study_id: str) -> list[dict[str, Any]]:
    """Accounts a family of *study_id* may be assigned to (for the family page's form)."""
    return queue_list.staff(get_db(), [study_id])

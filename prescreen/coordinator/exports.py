"""Downloads with contact details: the CRC's call list (XLSX) and the admins' identified export (CSV).

Both speak the team's language: column headings and values are labels in the page's language
(never codes), times are Beijing time, phones are written as dialled from China (see
:mod:`.downloads`). Each is a POST from a button with the CSRF token, and the store audits each
download with the ids of the families it held.

- The call list is for any coordinator (the studies they see): the ticked families, or every
  family the list shows with its current filters (and search), in the list's order.
- The identified export stays admins-only: every referral of a study, every field.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import clock
from ..store import exports, get_db, queue_list
from ..web.i18n import current_locale
from .downloads import csv_response, dial_text, xlsx_response
from .queue import filters_from, rules, selected_ids, store_filters
from .shared import (
    BEST_TIME_LABELS,
    KIND_LABELS,
    LANGUAGE_NAMES,
    OUTCOME_LABELS,
    RELATIONSHIP_LABELS,
    STATUS_LABELS,
    age_band_label,
    local_time,
    require_admin,
    study_title,
    visible_studies,
)

#: The call list's columns: (heading, width in characters).
CALL_COLUMNS = (
    (_l("Reference"), 12),
    (_l("Parent's name"), 14),
    (_l("Relationship to the child"), 10),
    (_l("Phone"), 18),
    (_l("Best time to call"), 12),
    (_l("WeChat"), 16),
    (_l("E-mail"), 24),
    (_l("Language"), 8),
    (_l("Status"), 18),
    (_l("Overdue"), 8),
    (_l("Next call due (Beijing time)"), 18),
    (_l("Last attempt (Beijing time)"), 18),
    (_l("Attempts"), 6),
    (_l("Screening visit"), 12),
    (_l("Received (Beijing time)"), 18),
    (_l("Outcome"), 10),
    (_l("Request"), 10),
    (_l("Age"), 8),
    (_l("Study"), 24),
    (_l("Assigned to"), 22),
)


def label(labels: dict[str, Any], code: str | None) -> str:
    """A code's label, or the stored text itself when it is free text (older rows), never None."""
    if not code:
        return ""
    return str(labels[code]) if code in labels else code


def due_text(due: Any) -> str:
    """A due moment as Beijing time (a visit's due is a date)."""
    if due is None:
        return ""
    if hasattr(due, "hour"):
        return due.astimezone(clock.TEAM_TZ).strftime("%Y-%m-%d %H:%M")
    return due.isoformat()


def call_list() -> ResponseReturnValue:
    """The call list: the ticked families, or all the list shows; an XLSX, audited.

    Every cell is text (never a formula) except the count of attempts, a number cell.
    """
    db = get_db()
    filters = filters_from(request.form)
    ticked = request.form.getlist("ids")
    ids = selected_ids() if ticked else None
    if ticked and not ids:
        return redirect(url_for("coordinator.queue"))
    q = (request.form.get("q") or "").strip()[:40]
    wanted = store_filters(filters, q)
    if ids is not None:  # what was ticked, whatever its status
        wanted = {**wanted, "status": "all", "when": ""}
    page = queue_list.listing(db, current_user.visible_studies, wanted, rules(), page=1, per_page=10_000, ids=ids)
    details = {
        row["id"]: row for row in exports.call_list(db, current_user.visible_studies, page.ids, current_user.actor)
    }
    lang = current_locale()
    rows = []
    for listed in page.rows:
        row = details.get(listed["id"])
        if row is None:
            continue
        rows.append(
            [
                row["reference"],
                row["guardian_name"],
                label(RELATIONSHIP_LABELS, row["relationship"]),
                dial_text(row["phone"]),
                label(BEST_TIME_LABELS, row["best_time"]),
                row["wechat"],
                row["email"],
                LANGUAGE_NAMES.get(row["locale"], row["locale"] or ""),
                label(STATUS_LABELS, row["status"]),
                _("Yes") if listed["overdue"] else "",
                due_text(listed["due"]),
                local_time(row["last_attempt_at"]),
                int(row["attempts"] or 0),  # a number cell: the team sums and sorts it
                row["visit_date"] or "",
                local_time(row["created_at"]),
                label(OUTCOME_LABELS, row["outcome"]),
                label(KIND_LABELS, row["kind"]),
                age_band_label(row["age_band"]),
                study_title(row["study_id"], lang),
                row["assigned_email"] or "",
            ]
        )
    header = [str(h) for h, _w in CALL_COLUMNS]
    stamp = clock.now().astimezone(clock.TEAM_TZ).strftime("%Y%m%d-%H%M")
    return xlsx_response(_("Call list"), header, rows, f"call-list-{stamp}.xlsx", widths=[w for _h, w in CALL_COLUMNS])


#: The identified export's columns: (stored field, heading).
IDENTIFIED = (
    ("reference", _l("Reference")),
    ("study_id", _l("Study")),
    ("kind", _l("Request")),
    ("status", _l("Status")),
    ("outcome", _l("Outcome")),
    ("age_band", _l("Age")),
    ("guardian_name", _l("Parent's name")),
    ("relationship", _l("Relationship to the child")),
    ("phone", _l("Phone")),
    ("email", _l("E-mail")),
    ("wechat", _l("WeChat")),
    ("best_time", _l("Best time to call")),
    ("contact_locale", _l("Language")),
    ("created_at", _l("Received (Beijing time)")),
    ("first_contact_at", _l("First contact (Beijing time)")),
    ("visit_date", _l("Screening visit")),
    ("screen_fail_criterion", _l("Screen-fail criterion")),
)


def identified_cells(row: dict[str, Any], lang: str) -> list[Any]:
    """One referral of the identified export, as labels and Beijing times."""
    shown = {
        **row,
        "study_id": study_title(row["study_id"], lang),
        "kind": label(KIND_LABELS, row["kind"]),
        "status": label(STATUS_LABELS, row["status"]),
        "outcome": label(OUTCOME_LABELS, row["outcome"]),
        "age_band": age_band_label(row["age_band"]),
        "relationship": label(RELATIONSHIP_LABELS, row["relationship"]),
        "phone": dial_text(row["phone"]),
        "best_time": label(BEST_TIME_LABELS, row["best_time"]),
        "contact_locale": LANGUAGE_NAMES.get(row["contact_locale"], row["contact_locale"] or ""),
        "created_at": local_time(row["created_at"]),
        "first_contact_at": local_time(row["first_contact_at"]),
    }
    return [shown.get(field) for field, _h in IDENTIFIED]


def identified() -> Response:
    """Referrals with contact details and who sent them (admins only, audited with the referral ids)."""
    require_admin()
    study = request.values.get("study")
    study = study if study in visible_studies() else None
    rows = exports.identified(get_db(), study, current_user.actor)
    lang = current_locale()
    header = [str(h) for _f, h in IDENTIFIED]
    stamp = clock.now().astimezone(clock.TEAM_TZ).strftime("%Y%m%d")
    return csv_response(header, [identified_cells(row, lang) for row in rows], f"referrals-identified-{stamp}.csv")

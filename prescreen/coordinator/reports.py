"""The pre-screening log (page and CSV), the funnel, exports and the audit trail.

The log and its CSV are de-identified by construction: they read ``screening_log``, which holds
no answer, name, phone, e-mail, WeChat id or free text. Exports with identifiers are for admins
only and every one of them is audited.

Every download is a POST from a button carrying the CSRF token (a GET answers 405): a link or an
image on another site could otherwise make a signed-in browser create exports and audit rows.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user

from .. import clock
from ..store import audit, exports, get_db, queue_reports
from ..web.i18n import current_locale
from ..web.security import page_number
from .shared import RELATIONSHIP_LABELS, require_admin, visible_studies

LOG_PAGE = 50
AUDIT_PAGE = 100
#: Funnel stages in order, with their labels.
STAGES = (
    ("started", _l("Screenings started")),
    ("completed", _l("Completed")),
    ("likely_eligible", _l("Likely eligible")),
    ("needs_review", lazy_pgettext("outcome", "Needs review")),
    ("not_eligible", _l("Not eligible")),
    ("referred", _l("Referred")),
    ("review_requested", _l("Asked a person to check the result")),
    ("contacted", _l("Contacted")),
    ("visit_scheduled", _l("Screening visit scheduled")),
    ("enrolled", _l("Enrolled")),
)

#: Families told early of a waiting period (STUDY-NOTES §4.2), and what they chose.
EARLY_STAGES = (
    ("told", _l("Told early that the child must wait")),
    ("stopped", _l("Saw the result early")),
    ("continued", _l("Answered the rest")),
    ("undecided", _l("No choice yet")),
)


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(rows: list[dict[str, Any]], columns: tuple[str, ...], filename: str) -> Response:
    """A UTF-8 CSV download (with a BOM, so Excel and WPS open Chinese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def chosen_study() -> str | None:
    """The ``study`` filter (query string, or the export button's form) if it names a study this person may see."""
    study = request.values.get("study")
    return study if study in visible_studies() else None


def log() -> str:
    """The de-identified pre-screening log (ICH E6 8.3.20), newest first."""
    page = page_number(request.args.get("page"))
    study = chosen_study()
    db = get_db()
    total = queue_reports.log_count(db, current_user.visible_studies, study)
    rows = queue_reports.log_rows(db, current_user.visible_studies, study, LOG_PAGE, (page - 1) * LOG_PAGE)
    pages = max((total + LOG_PAGE - 1) // LOG_PAGE, 1)
    return render_template(
        "coordinator/log.html", rows=rows, total=total, page=page, pages=pages, study=study, studies=visible_studies()
    )


def log_csv() -> Response:
    """The de-identified log as CSV; failed criterion ids separated by ``;``."""
    db = get_db()
    study = chosen_study()
    rows = queue_reports.log_rows(db, current_user.visible_studies, study)
    for row in rows:
        row["failed"] = ";".join(row["failed"])
    audit.record(db, current_user.actor, "export.log", "study", study or "*", {"rows": len(rows)})
    stamp = clock.now().strftime("%Y%m%d")
    return csv_response(rows, queue_reports.LOG_COLUMNS, f"prescreening-log-{stamp}.csv")


def bars(items: list[tuple[str, Any, int]], top: int, width: int = 360) -> list[dict[str, Any]]:
    """Geometry of horizontal bars for the inline SVG (no chart library, no JavaScript)."""
    scale = width / top if top else 0
    return [
        {"key": key, "label": label, "count": n, "width": round(n * scale, 1), "y": i * 36}
        for i, (key, label, n) in enumerate(items)
    ]


def funnel() -> str:
    """Per study: started → completed → outcomes → referred → contacted → visit → enrolled."""
    visible = visible_studies()
    study_id = chosen_study() or next(iter(visible), None)
    if study_id is None:
        abort(404)
    data = queue_reports.funnel(get_db(), study_id)
    early = queue_reports.told_early(get_db(), study_id)
    counts = data["counts"]
    stages = bars([(k, label, counts[k]) for k, label in STAGES], max(counts["started"], 1))
    study = visible[study_id]
    lang = current_locale()
    reason_items = []
    for criterion_id, n in data["reasons"]:
        label = study.criterion(criterion_id).label(lang) if any(c.id == criterion_id for c in study.criteria) else ""
        reason_items.append((criterion_id, label, n))
    reasons = bars(reason_items, max((n for _k, _l, n in reason_items), default=1))
    return render_template(
        "coordinator/funnel.html",
        study_id=study_id,
        studies=visible,
        stages=stages,
        reasons=reasons,
        counts=counts,
        early=[(key, label, early[key]) for key, label in EARLY_STAGES],
    )


def audit_trail() -> str:
    """The audit trail, newest first (admins only)."""
    require_admin()
    page = page_number(request.args.get("page"))
    rows, total = queue_reports.audit_rows(get_db(), AUDIT_PAGE, (page - 1) * AUDIT_PAGE)
    pages = max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)
    return render_template("coordinator/audit.html", rows=rows, total=total, page=page, pages=pages)


def export_identified() -> Response:
    """Referrals with contact details and who sent them (admins only, audited with the referral ids)."""
    require_admin()
    study = chosen_study()
    rows = exports.identified(get_db(), study, current_user.actor)
    for row in rows:
        code = row["relationship"]
        row["relationship"] = str(RELATIONSHIP_LABELS[code]) if code in RELATIONSHIP_LABELS else code
    stamp = clock.now().strftime("%Y%m%d")
    return csv_response(rows, queue_reports.IDENTIFIED_COLUMNS, f"referrals-identified-{stamp}.csv")


def export_subject(referral_id: int) -> Response:
    """Everything stored about one family, for a data-subject request (admins only, audited)."""
    require_admin()
    record = exports.subject_record(get_db(), referral_id, current_user.actor)
    if record is None:
        abort(404)
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="referral-{referral_id}.json"'
    return response

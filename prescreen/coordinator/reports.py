"""The pre-screening log (page and CSV), the funnel and the admins' full-record export.

The log and its CSV are de-identified by construction: they read ``screening_log``, which holds
no answer, name, phone, e-mail, WeChat id or free text. Exports with identifiers are for admins
only and every one of them is audited. Days are Beijing days; every page takes a reporting
period (:mod:`.period`). Reasons are shown in the sheets' reason wording ("active tuberculosis
rules out this study"), never as a criterion's positive label or its code.

Every download is a POST from a button carrying the CSRF token (a GET answers 405): a link or an
image on another site could otherwise make a signed-in browser create exports and audit rows.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user

from .. import clock
from ..store import audit, exports, get_db, queue_reports
from ..web.i18n import current_locale
from ..web.security import page_number
from . import dropoff, source_funnel, version_labels
from . import period as periods
from .charts import bars, share
from .shared import criterion_reason, require_admin, visible_studies

LOG_PAGE = 50
#: The funnel's steps: each is a subset of the one before, so a percentage between them means something.
STEPS = (
    ("started", _l("Screenings started")),
    ("completed", _l("Completed")),
    ("referred", _l("Sent their details to the team")),
    ("contacted", _l("Contacted")),
    ("visit_scheduled", _l("Screening visit scheduled")),
    ("enrolled", _l("Enrolled")),
)
#: What the completed screenings showed: outcomes, not steps (they add up to "completed").
OUTCOMES = (
    ("likely_eligible", _l("Likely eligible")),
    ("needs_review", lazy_pgettext("outcome", "Needs review")),
    ("not_eligible", _l("Not eligible")),
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


def csv_response(
    rows: list[dict[str, Any]], columns: tuple[str, ...], filename: str, header: list[str] | None = None
) -> Response:
    """A UTF-8 CSV download (with a BOM, so Excel and WPS open Chinese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header or columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def chosen_study() -> str | None:
    """The ``study`` filter (query string, or the export button's form) if it names a study this person may see."""
    study = request.values.get("study")
    return study if study in visible_studies() else None


def reason_text(study_id: str, criterion_id: str, lang: str) -> str:
    """Why a criterion rules a child out, in the sheets' reason wording (never the code)."""
    return criterion_reason(study_id, criterion_id, lang) if criterion_id else _("No reason recorded")


def version_label(study_id: str, version: str) -> str:
    """The ethics-approved label and date of any questionnaire version (see :mod:`.version_labels`)."""
    return version_labels.version_label(study_id, version)


def _labelled_log(rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Log rows with the reason wording of their failures and screen fail, and the version label."""
    for row in rows:
        reasons = [reason_text(row["study_id"], c, lang) for c in row["failed"]]
        row["failed_reasons"] = list(dict.fromkeys(reasons))
        row["first_reason"] = reasons[0] if reasons else ""
        sf = row.get("screen_fail_criterion")
        row["screen_fail_reason"] = reason_text(row["study_id"], sf, lang) if sf else ""
        row["version_label"] = version_label(row["study_id"], row["version"])
    return rows


def log() -> str:
    """The de-identified pre-screening log (ICH E6(R3) Appendix C), newest first, in a period."""
    page = page_number(request.args.get("page"))
    study = chosen_study()
    period = periods.chosen()
    db = get_db()
    total = queue_reports.log_count(db, current_user.visible_studies, study, period)
    rows = queue_reports.log_rows(
        db, current_user.visible_studies, study, LOG_PAGE, (page - 1) * LOG_PAGE, period=period
    )
    pages = max((total + LOG_PAGE - 1) // LOG_PAGE, 1)
    keep = {**periods.args(period), **({"study": study} if study else {})}
    return render_template(
        "coordinator/log.html",
        rows=_labelled_log(rows, current_locale()),
        total=total,
        page=page,
        pages=pages,
        study=study,
        studies=visible_studies(),
        period=period,
        period_presets=periods.PRESETS,
        keep=keep,
    )


def log_csv() -> Response:
    """The de-identified log as CSV (Beijing days); failed criterion ids separated by ``;``."""
    db = get_db()
    study = chosen_study()
    period = periods.chosen()
    rows = _labelled_log(queue_reports.log_rows(db, current_user.visible_studies, study, period=period), "zh")
    for row in rows:
        row["failed"] = ";".join(row["failed"])
    detail = {"rows": len(rows), **periods.audit_detail(period)}
    audit.record(db, current_user.actor, "export.log", "study", study or "*", detail)
    stamp = clock.now().strftime("%Y%m%d")
    return csv_response(rows, queue_reports.LOG_COLUMNS, f"prescreening-log-{stamp}.csv")


def grouped_reasons(study_id: str, tally: list[tuple[str, int]], lang: str) -> list[tuple[str, str, int]]:
    """(key, reason wording, count), criteria that share a wording counted together, most common first."""
    merged: dict[str, int] = {}
    for criterion_id, n in tally:
        text = reason_text(study_id, criterion_id, lang)
        merged[text] = merged.get(text, 0) + n
    ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return [(f"r{i}", text, n) for i, (text, n) in enumerate(ordered)]


def funnel() -> str:
    """Per study and period: the steps from started to enrolled with conversions, then outcomes and reasons."""
    visible = visible_studies()
    study_id = chosen_study() or next(iter(visible), None)
    if study_id is None:
        abort(404)
    period = periods.chosen()
    data = queue_reports.funnel(get_db(), study_id, period)
    early = queue_reports.told_early(get_db(), study_id, period)
    counts = data["counts"]
    lang = current_locale()
    steps = bars([(k, label, counts[k]) for k, label in STEPS], max(counts["started"], 1))
    for i, step in enumerate(steps):
        step["of_previous"] = share(step["count"], steps[i - 1]["count"]) if i else ""
        step["of_started"] = share(step["count"], counts["started"]) if i else ""
    outcomes = [(k, label, counts[k], share(counts[k], counts["completed"])) for k, label in OUTCOMES]
    reasons = bars(grouped_reasons(study_id, data["reasons"], lang)[:10])
    screen_fails = bars(grouped_reasons(study_id, data["screen_fails"], lang))
    stopped = bars(dropoff.stopped_at(study_id, period, lang))
    by_source = source_funnel.rows(study_id, period)
    # The chart: screenings started per source (the table beside it has every step).
    source_bars = bars([(r["key"], r["label"], r["counts"]["started"]) for r in by_source[:-1]])
    return render_template(
        "coordinator/funnel.html",
        study_id=study_id,
        studies=visible,
        stages=steps,
        outcomes=outcomes,
        reasons=reasons,
        not_eligible=counts["not_eligible"],
        screen_fails=screen_fails,
        stopped=stopped,
        by_source=by_source,
        source_bars=source_bars,
        source_columns=source_funnel.COLUMNS,
        statuses=data["statuses"],
        counts=counts,
        review_share=share(counts["review_requested"], counts["referred"]),
        early=[(key, label, early[key]) for key, label in EARLY_STAGES],
        period=period,
        period_presets=periods.PRESETS,
    )


def export_subject(referral_id: int) -> Response:
    """Everything stored about one family, for a data-subject request (admins only, audited)."""
    require_admin()
    record = exports.subject_record(get_db(), referral_id, current_user.actor)
    if record is None:
        abort(404)
    screening = record["screening"]
    screening["version_label"] = version_label(screening["study_id"], screening["version"])  # beside the hash
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="referral-{referral_id}.json"'
    return response

"""The reports page (报表): what a PI puts in a progress or ethics report, for a period.

Monthly referrals and enrolments against the study's target (``enrolment_target`` in study.csv;
the public listing states none, so none is invented), the median time from referral to first
contact, counts per language, respondent and source, and the screen-fail reasons in the sheets'
reason wording. Drawn as inline SVG (see :mod:`.charts`), and downloadable as CSV or XLSX with
labels in the reader's language; downloads are POSTs and audited (``export.report``).

"Source" is how the family reached the team: their details after a hopeful result, or a request
that a person check the result. The app records no other source (no campaign or referrer).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from flask import Response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Font

from .. import clock, studies
from ..store import audit, get_db, queue_reports, resume_codes
from ..web.i18n import current_locale
from . import dropoff, source_funnel
from . import period as periods
from .charts import bars, columns, share
from .reports import chosen_study, csv_response, grouped_reasons
from .shared import KIND_LABELS, LANGUAGE_NAMES, RESPONDENT_LABELS, visible_studies

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The monthly chart shows at most this many months (the most recent of the period).
MONTHS_SHOWN = 24


def _month(stored: str | None) -> str | None:
    """The Beijing month (``YYYY-MM``) of a stored UTC time."""
    if not stored:
        return None
    return datetime.fromisoformat(stored).astimezone(clock.TEAM_TZ).strftime("%Y-%m")


def _day(stored: str) -> date:
    return datetime.fromisoformat(stored).astimezone(clock.TEAM_TZ).date()


def _months(first: date, last: date) -> list[str]:
    out, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out[-MONTHS_SHOWN:]


def target_of(study_id: str | None) -> int | None:
    """The study's enrolment target from study.csv, or None (not set, not a whole number, or all studies)."""
    study = studies.get(study_id) if study_id else None
    raw = (study.meta.get("enrolment_target") or "").strip() if study else ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


#: Why a continue code was refused at /resume (counted per day and reason; see store.resume_codes).
REFUSAL_LABELS = {
    "wrong_month": _l("The birth month did not match"),
    "unknown": _l("No such code"),
    "expired": _l("The answers had expired"),
    "dead": _l("Code locked after too many wrong months"),
}


def _labelled(tally: dict[str, int], labels: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(k, str(labels.get(k, _("Not recorded"))), n) for k, n in sorted(tally.items(), key=lambda i: -i[1])]


def _count(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row[key] or ""] = out.get(row[key] or "", 0) + 1
    return out


def duration(hours: float | None) -> str:
    """A median wait in words: minutes, hours, or days with one decimal."""
    if hours is None:
        return "—"
    if hours < 1:
        return _("%(num)d minutes", num=round(hours * 60))
    if hours < 48:
        return _("%(num)s hours", num=f"{hours:.1f}")
    return _("%(num)s days", num=f"{hours / 24:.1f}")


def report(study: str | None, period: queue_reports.Period, lang: str) -> dict[str, Any]:
    """Every number of the page (and of its downloads) for *study* (None: all visible) and *period*."""
    db = get_db()
    visible = current_user.visible_studies
    received = queue_reports.referral_rows(db, visible, study, period)
    everyone = queue_reports.referral_rows(db, visible, study)
    today = clock.today()

    def in_period(stored: str | None) -> bool:
        if not stored:
            return False
        day = _day(stored)
        return (period.start is None or day >= period.start) and (period.end is None or day <= period.end)

    enrolled = [r for r in everyone if r["enrolled_at"] and in_period(r["enrolled_at"])]
    days = [_day(r["created_at"]) for r in received] + [_day(r["enrolled_at"]) for r in enrolled]
    first = period.start or min(days, default=today)
    last = period.end or max([today, *days])
    per_month = {m: {"month": m, "label": m, "referrals": 0, "enrolled": 0} for m in _months(first, last)}
    for row in received:
        if (m := _month(row["created_at"])) in per_month:
            per_month[m]["referrals"] += 1
    for row in enrolled:
        if (m := _month(row["enrolled_at"])) in per_month:
            per_month[m]["enrolled"] += 1
    running = sum(1 for r in everyone if r["enrolled_at"] and period.start and _day(r["enrolled_at"]) < period.start)
    for month in per_month.values():
        running += month["enrolled"]
        month["cumulative"] = running
    target = target_of(study or (next(iter(visible_studies())) if len(visible_studies()) == 1 else None))
    enrolled_ever = sum(1 for r in everyone if r["enrolled_at"])
    contacted = [r for r in received if r["first_contact_at"]]
    screenings = queue_reports.screening_counts(db, visible, study, period)
    fails: dict[tuple[str, str], int] = {}
    for row in received:
        if row["status"] == "screen_failed":
            key = (row["study_id"], row["screen_fail_criterion"] or "")
            fails[key] = fails.get(key, 0) + 1
    reasons: dict[str, int] = {}
    for (study_id, criterion), n in fails.items():
        for _key, text, count in grouped_reasons(study_id, [(criterion, n)], lang):
            reasons[text] = reasons.get(text, 0) + count
    language = _count(received, "locale")
    respondent = _count(received, "respondent")
    return {
        "months": list(per_month.values()),
        "target": target,
        "enrolled_ever": enrolled_ever,
        "target_share": share(enrolled_ever, target) if target else "",
        "received": len(received),
        "enrolled": len(enrolled),
        "contacted": len(contacted),
        "not_contacted": len(received) - len(contacted),
        "median": duration(queue_reports.median_hours(received)),
        "language": _labelled(language, LANGUAGE_NAMES),
        "language_screenings": dict(screenings["locale"]),
        "respondent": _labelled(respondent, RESPONDENT_LABELS),
        "respondent_screenings": dict(screenings["respondent"]),
        "source": _labelled(_count(received, "kind"), KIND_LABELS),
        "reasons": [(f"r{i}", text, n) for i, (text, n) in enumerate(sorted(reasons.items(), key=lambda i: -i[1]))],
        # Downloads only: per question, counts under 5 already written "<5" (see .dropoff).
        "stopped": dropoff.export_rows([study] if study else list(visible_studies()), period, lang),
        # Someone guessing continue codes shows here first (counts per reason, nothing else kept).
        "refused": _labelled(resume_codes.refusals(db, **period.params()), REFUSAL_LABELS),
        # Downloads only: the funnel per source, counts under 5 written "<5".
        "by_source": source_funnel.export_rows([study] if study else list(visible_studies()), period, lang),
    }


def page() -> str:
    """The reports page: filters, the numbers, the charts and the download buttons."""
    study = chosen_study()
    period = periods.chosen()
    data = report(study, period, current_locale())
    return render_template(
        "coordinator/reports.html",
        data=data,
        chart=columns(data["months"], ("referrals", "enrolled")),
        language=bars(data["language"]),
        respondent=bars(data["respondent"]),
        source=bars(data["source"]),
        reasons=bars(data["reasons"]),
        study=study,
        studies=visible_studies(),
        period=period,
        period_presets=periods.PRESETS,
        keep=periods.args(period),
        max_wrong=resume_codes.MAX_WRONG,
    )


def tables(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as (sheet title, header, rows) tables, labelled in the current language."""
    n = _("Number")
    # TRANSLATORS: how a family reached the study team (their details, or a request to check the result).
    source = pgettext("referral", "Source")
    summary = [
        [_("Referrals received"), data["received"]],
        [_("Contacted"), data["contacted"]],
        [_("Not contacted yet"), data["not_contacted"]],
        [_("Median time from referral to first contact"), data["median"]],
        [_("Enrolled in this period"), data["enrolled"]],
        [_("Enrolled in all"), data["enrolled_ever"]],
        [_("Enrolment target"), data["target"] or _("Not set")],
    ]
    months = [[m["month"], m["referrals"], m["enrolled"], m["cumulative"]] for m in data["months"]]
    return [
        (_("Summary"), [_("Item"), n], summary),
        (_("By month"), [_("Month"), _("Referrals"), _("Enrolled"), _("Enrolled so far")], months),
        (_("Language"), [_("Language"), _("Referrals")], [[label, c] for _k, label, c in data["language"]]),
        (_("Answered by"), [_("Answered by"), _("Referrals")], [[label, c] for _k, label, c in data["respondent"]]),
        (source, [source, _("Referrals")], [[label, c] for _k, label, c in data["source"]]),
        (_("Screen-fail reasons"), [_("Reason"), n], [[label, c] for _k, label, c in data["reasons"]]),
        (_("Where families stopped"), [_("Question"), n], data["stopped"]),
        (_("By source"), source_funnel.export_header(), data["by_source"]),
    ]


def _audited(kind: str, study: str | None, period: queue_reports.Period) -> None:
    detail = {"format": kind, **periods.audit_detail(period)}
    audit.record(get_db(), current_user.actor, "export.report", "study", study or "*", detail)


def download_csv() -> Response:
    """The report as one CSV: table, item, number (labels in the reader's language)."""
    study, period = chosen_study(), periods.chosen()
    _audited("csv", study, period)
    rows = []
    for title, header, body in tables(report(study, period, current_locale())):
        for line in body:
            rows.append({"table": title, "item": line[0], **{f"v{i}": v for i, v in enumerate(line[1:])}})
            rows[-1]["columns"] = " / ".join(header[1:])
    # As many value columns as the widest table has (the funnel per source has nine).
    width = max((len(r) - 3 for r in rows), default=0)
    values = [f"v{i}" for i in range(max(3, width))]
    header = [_("Table"), _("Item"), _("Columns"), _("Value"), *([""] * (len(values) - 1))]
    return csv_response(rows, ("table", "item", "columns", *values), f"report-{periods.stamp(period)}.csv", header)


def download_xlsx() -> Response:
    """The report as an XLSX workbook, one sheet per table (numbers stay numbers)."""
    study, period = chosen_study(), periods.chosen()
    _audited("xlsx", study, period)
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for title, header, body in tables(report(study, period, current_locale())):
        sheet = book.create_sheet(title=title[:31])
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = bold
        for line in body:
            # Text stays text: a label starting with "=" must never run as a formula.
            sheet.append([" " + v if isinstance(v, str) and v.startswith("=") else v for v in line])
        sheet.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    response = Response(out.getvalue(), mimetype=XLSX_MIME)
    response.headers["Content-Disposition"] = f'attachment; filename="report-{periods.stamp(period)}.xlsx"'
    return response

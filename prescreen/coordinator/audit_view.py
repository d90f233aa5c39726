"""The audit trail (稽查轨迹) for admins: filtered by person, family and period, in words, exportable.

Every row is shown in the reader's language: who (the account's e-mail, or "the family"), what
(an action label), which record (a family's reference code, a study's title, an account's
e-mail) and the detail as labelled fields ("From: 新登记 → To: 已联系上"). No action code and no
JSON reach the page; an action this module has no label for is named by its kind of record
("Family: another action"), so a new kind of row still reads as words. The CSV has the same words.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import studies
from ..store import audit, get_db
from ..web.i18n import current_locale
from ..web.security import page_number
from . import period as periods
from .reports import csv_response
from .shared import (
    ACTION_KIND_LABELS,
    ACTION_KINDS,
    ACTION_LABELS,
    BEST_TIME_LABELS,
    CHANNEL_LABELS,
    DETAIL_LABELS,
    ERASE_REASON_LABELS,
    HIDDEN_DETAILS,
    KIND_LABELS,
    LOGIN_FAILURE_LABELS,
    OUTCOME_LABELS,
    RECORD_TYPE_LABELS,
    REMINDER_LABELS,
    RESULT_LABELS,
    ROLE_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    VIEW_LABELS,
    actor_label,
    local_time,
    require_admin,
    study_title,
)

AUDIT_PAGE = 100
#: Detail values that are codes, and the labels that say them.
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "from": STATUS_LABELS,
    "to": STATUS_LABELS,
    "channel": CHANNEL_LABELS,
    "result": RESULT_LABELS,
    "outcome": OUTCOME_LABELS,
    "kind": KIND_LABELS,
    "role": ROLE_LABELS,
    "best_time": BEST_TIME_LABELS,
    "verdict": VERDICT_LABELS,
    "source": SOURCE_LABELS,
    "view": VIEW_LABELS,
    "erase_reason": ERASE_REASON_LABELS,
}
#: Detail fields that say nothing to a reader (an internal row id, a note's text).
HIDDEN = HIDDEN_DETAILS
#: Actions whose "from"/"to" are staff accounts (ids), not statuses.
BY_ACCOUNT = frozenset({"referral.assign"})


def action_label(action: str, record_type: str | None) -> str:
    """The action in words; an unknown one by its kind of record."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    kind = RECORD_TYPE_LABELS.get(record_type or "")
    return _("%(record)s: another action", record=kind) if kind else _("Another action")


def _criterion(criterion_id: str, lang: str, *, reason: bool) -> str:
    """A criterion in words: why it rules a child out (a screen fail) or its plain label (a check).

    A checklist row shows the label: the reason wording ("a lab result would make the study unsafe")
    beside "Confirmed" would read as a safety problem that was confirmed.
    """
    for study in studies.all().values():
        if any(c.id == criterion_id for c in study.criteria):
            found = study.criterion(criterion_id)
            return found.reason(lang) if reason else found.label(lang)
    return _("A criterion no longer in the questionnaire")


def _access(value: Any, lang: str) -> str:
    """A user.access "before"/"after": the role and the studies, in words."""
    if not isinstance(value, dict):
        return _("%(num)d items", num=len(value)) if isinstance(value, list) else str(value)
    role = str(ROLE_LABELS.get(value.get("role"), _("Another value")))
    chosen = value.get("studies") or []
    titles = "、".join(study_title(s, lang) for s in chosen) or _("All studies")
    return f"{DETAIL_LABELS['role']}：{role}；{DETAIL_LABELS['studies']}：{titles}"


def _value(key: str, value: Any, row: dict[str, Any], refs: dict[int, str], lang: str) -> str:
    """One detail value in words."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if row["action"] in BY_ACCOUNT and key in ("from", "to"):
        return row.get("emails", {}).get(value) or (_("Nobody") if value is None else _("Another account"))
    if key in VALUE_LABELS:
        return str(VALUE_LABELS[key].get(value, _("Another value")))
    if key == "criterion":
        return _criterion(str(value), lang, reason=row["action"] != "referral.check")
    if key in ("before", "after"):
        return _access(value, lang)
    if key == "reminders" and isinstance(value, list):
        return "、".join(str(REMINDER_LABELS.get(w, _("Another value"))) for w in value) or _("Nobody")
    if key == "reason":
        if row["action"] == "login.failure":
            return str(LOGIN_FAILURE_LABELS.get(value, _("Another reason")))
        if value in ERASE_REASON_LABELS:
            return str(ERASE_REASON_LABELS[value])
        if value == "retention":
            return _("Nobody worked on it for the retention period")
        return str(value)
    if key == "referrals" and isinstance(value, list):
        return "、".join(refs.get(int(i), f"#{i}") for i in value) or "—"
    if key == "studies" and isinstance(value, list):
        return "、".join(study_title(s, lang) for s in value) or _("All studies")
    if isinstance(value, list | dict):
        return _("%(num)d items", num=len(value))
    return "" if value is None else str(value)


def details(row: dict[str, Any], refs: dict[int, str], lang: str) -> list[tuple[str, str]]:
    """The row's detail as (label, words) pairs, known fields first in :data:`DETAIL_LABELS` order."""
    detail = row["detail"] or {}
    known = [k for k in DETAIL_LABELS if k in detail and k not in HIDDEN]
    other = [k for k in detail if k not in DETAIL_LABELS and k not in HIDDEN]
    pairs = [(_detail_label(k, row["action"]), _value(k, detail[k], row, refs, lang)) for k in known]
    pairs += [(_("Other"), _value(k, detail[k], row, refs, lang)) for k in other]
    return pairs


def _detail_label(key: str, action: str) -> str:
    """A detail field's label; "criterion" says what it is for the action (checked, or the reason)."""
    if key == "criterion":
        return _("Criterion checked") if action == "referral.check" else _("Screen-fail reason")
    return str(DETAIL_LABELS[key])


def chosen_kind() -> str | None:
    """The "kind of action" filter from the request (unknown values: every kind)."""
    kind = request.values.get("kind") or None
    return kind if kind in ACTION_KIND_LABELS else None


def _kind_filter(kind: str | None) -> dict[str, list[str] | None]:
    if kind == "not_view":
        return {"actions": None, "skip": list(ACTION_KINDS["view"])}
    if kind in ACTION_KINDS:
        return {"actions": list(ACTION_KINDS[kind]), "skip": None}
    return {"actions": None, "skip": None}


def record_label(row: dict[str, Any], lang: str) -> str:
    """Which record: a family's reference code, a study's title, an account's e-mail …"""
    kind, rid = row["record_type"], row["record_id"]
    if kind == "referral":
        return row.get("reference") or _("Family record no. %(id)s", id=rid)
    if kind == "study":
        return _("All studies") if rid in (None, "*") else study_title(rid, lang)
    if kind == "user":
        return row.get("record_email") or (_("Staff account no. %(id)s", id=rid) if rid else "—")
    label = RECORD_TYPE_LABELS.get(kind or "")
    if label is None:
        return "—"
    return f"{label} {rid}" if rid else str(label)


def _rows(limit: int, offset: int) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """Rows of the trail that match the request's filters, described in words."""
    period = periods.chosen()
    since, until = periods.utc_bounds(period)
    actor = request.values.get("who") or None
    reference = (request.values.get("record") or "").strip().upper() or None
    kind = chosen_kind()
    db = get_db()
    rows, total = audit.trail(
        db,
        actor=actor,
        reference=reference,
        since=since,
        until=until,
        **_kind_filter(kind),
        limit=limit,
        offset=offset,
    )
    ids = {int(i) for r in rows for i in (r["detail"] or {}).get("referrals", []) if str(i).isdigit()}
    refs = audit.references_of(db, sorted(ids)) if ids else {}
    accounts = {
        int(v)
        for r in rows
        if r["action"] in BY_ACCOUNT
        for v in ((r["detail"] or {}).get("from"), (r["detail"] or {}).get("to"))
        if isinstance(v, int)
    }
    emails = audit.emails_of(db, sorted(accounts)) if accounts else {}
    lang = current_locale()
    for row in rows:
        row["emails"] = emails
        row["who"] = actor_label(row["actor"], row["actor_email"])
        row["what"] = action_label(row["action"], row["record_type"])
        row["record"] = record_label(row, lang)
        row["details"] = details(row, refs, lang)
    filters = {"who": actor, "record": reference, "period": period, "kind": kind}
    return rows, total, filters


def audit_trail() -> str:
    """The audit trail, newest first (admins only), with its filters."""
    require_admin()
    page = page_number(request.args.get("page"))
    rows, total, filters = _rows(AUDIT_PAGE, (page - 1) * AUDIT_PAGE)
    pages = max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)
    people = [(actor, actor_label(actor, email)) for actor, email in audit.actors(get_db())]
    keep = {
        **periods.args(filters["period"]),
        **{k: v for k, v in (("who", filters["who"]), ("record", filters["record"]), ("kind", filters["kind"])) if v},
    }
    return render_template(
        "coordinator/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        people=people,
        kinds=ACTION_KIND_LABELS,
        filters=filters,
        period=filters["period"],
        period_presets=periods.PRESETS,
        keep=keep,
    )


def audit_csv() -> Response:
    """The filtered trail as CSV, in words (admins only; the download is itself audited)."""
    require_admin()
    rows, total, filters = _rows(-1, 0)
    out = [
        {
            "id": row["id"],
            "at": local_time(row["at"]),
            "who": row["who"],
            "what": row["what"],
            "record": row["record"],
            "detail": "；".join(f"{label}：{value}" for label, value in row["details"]),
        }
        for row in rows
    ]
    detail = {"rows": total, **periods.audit_detail(filters["period"])}
    if filters["record"]:
        detail["record"] = filters["record"]
    audit.record(get_db(), current_user.actor, "export.audit", "audit", None, detail)
    header = [_("No."), _("Time (Beijing)"), _("Who"), _("Action"), _("Record"), _("Detail")]
    columns = ("id", "at", "who", "what", "record", "detail")
    return csv_response(out, columns, f"audit-trail-{periods.stamp(filters['period'])}.csv", header)

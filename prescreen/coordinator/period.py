"""The reporting period the log, funnel, reports and audit trail share: from and to, in Beijing days.

A period is two optional dates in the query string (``from``, ``to``, ``YYYY-MM-DD``) or one of a
few presets a PI asks for (this month, last month, this year); nothing means all time. A date
that does not parse is ignored rather than refused: the page shows what it did use.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l

from .. import clock
from ..store.queue_reports import Period

#: Preset periods, in the order the page offers them.
PRESETS = {
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_year": _l("This year"),
    "all": _l("All time"),
}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def preset(name: str, today: date) -> Period:
    """The period a preset names, as of *today* (Beijing)."""
    first = today.replace(day=1)
    if name == "this_month":
        return Period(first, today)
    if name == "last_month":
        end = first - timedelta(days=1)
        return Period(end.replace(day=1), end)
    if name == "this_year":
        return Period(today.replace(month=1, day=1), today)
    return Period()


def chosen() -> Period:
    """The period of this request (query string, or a download button's form): ``from``/``to``,
    else the ``range`` preset, else all time."""
    start, end = _day(request.values.get("from")), _day(request.values.get("to"))
    if start is None and end is None:
        return preset(request.values.get("range", "all"), clock.today())
    if start and end and start > end:
        start, end = end, start
    return Period(start, end)


def args(period: Period) -> dict[str, Any]:
    """Query-string values that keep *period* (for pager links and export forms)."""
    return {k: v for k, v in (("from", period.start), ("to", period.end)) if v}


def utc_bounds(period: Period) -> tuple[str | None, str | None]:
    """*period*'s Beijing days as stored UTC text: from the first midnight, up to (not incl.) the last."""
    since = until = None
    if period.start:
        since = clock.iso(datetime.combine(period.start, time(), clock.TEAM_TZ).astimezone(UTC))
    if period.end:
        until = clock.iso(datetime.combine(period.end + timedelta(days=1), time(), clock.TEAM_TZ).astimezone(UTC))
    return since, until


def audit_detail(period: Period) -> dict[str, str]:
    """*period* for an export's audit row (``period_from``/``period_to``; absent: open)."""
    return {f"period_{k}": str(v) for k, v in args(period).items()}


def stamp(period: Period) -> str:
    """The period in a file name: ``20261101-20261130``, or ``all``."""
    if not period.start and not period.end:
        return "all"
    start = period.start.strftime("%Y%m%d") if period.start else ""
    end = period.end.strftime("%Y%m%d") if period.end else ""
    return f"{start}-{end}"

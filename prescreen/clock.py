"""The one clock: what time it is, and what day it is for the study team in Beijing.

Everything that needs the time asks here, so there is one time zone constant, one timestamp
format, and one place a test can stop the clock (:func:`frozen`) instead of patching
``datetime``. The questionnaire engine never asks: it is handed ``today``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

#: The study team and the families are in mainland China: ages, waiting periods, the dates the team
#: types and reads are Beijing time (no daylight saving time, so this equals UTC+8 all year).
TEAM_TZ = ZoneInfo("Asia/Shanghai")

#: Set by :func:`frozen` while a test holds the clock still; ``None`` is the real clock.
_frozen_at: datetime | None = None


def now() -> datetime:
    """The current moment as an aware UTC datetime."""
    if _frozen_at is not None:
        return _frozen_at
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """*moment* as the one timestamp text we store: ISO-8601 UTC to the second, ending in ``Z``.

    Stored text sorts and compares as time only if every row has this exact shape.
    """
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_text() -> str:
    """The current moment as stored text (see :func:`iso`)."""
    return iso(now())


def today() -> date:
    """Today's date in Beijing, whatever the server's own time zone is."""
    return now().astimezone(TEAM_TZ).date()


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Hold the clock at *at* (naive means UTC) for the block: tests of dates and expiries.

    Only code that asks this module sees it; SQLite's own ``datetime('now')`` does not.
    """
    global _frozen_at
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    before, _frozen_at = _frozen_at, moment.astimezone(UTC)
    try:
        yield _frozen_at
    finally:
        _frozen_at = before

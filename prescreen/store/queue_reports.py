"""Reading the queue as a whole: the de-identified log, the funnel, the reports, exports.

The log and the funnel read ``screening_log`` (see migrations m0004 and m0017): it holds codes
and Beijing days, never an answer or a contact detail, and it outlives the screenings it
describes. Its triggers keep the screen-fail criterion the team chose after the visit too, so it
is read alone, without the screening or referral it came from.

A :class:`Period` (from, to: Beijing days, both optional) limits every count to the screenings
started, or the referrals received, on those days.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlite_utils

from . import NO_LIMIT, sources
from .queue import _studies_param

#: The columns of the de-identified pre-screening log, in CSV order (ICH E6(R3) Appendix C).
LOG_COLUMNS = (
    "log_id",
    "started_on",
    "completed_on",
    "study_id",
    "version",
    "version_label",  # the ethics-approved label of that version (study.csv), when it is the current one
    "locale",
    "respondent",
    "status",
    "outcome",
    "failed",
    "referral_status",
    "referral_kind",  # referral, or review: the family asked a person to check the result
    "screen_fail_criterion",  # the criterion the team found not met at the screening visit
    "screen_fail_reason",  # the same in the sheets' reason wording (Chinese)
    "told_early",  # 1: told during the questions that the child must wait (migration m0012)
    "early_choice",  # then: stopped (saw the result early), continued (answered the rest), or empty
)
#: Referral columns in the admins' identified export.
IDENTIFIED_COLUMNS = (
    "reference",
    "study_id",
    "kind",
    "status",
    "outcome",
    "age_band",
    "guardian_name",
    "relationship",
    "phone",
    "email",
    "wechat",
    "best_time",
    "contact_locale",
    "created_at",
    "first_contact_at",
    "visit_date",
    "screen_fail_criterion",
)


@dataclass(frozen=True)
class Period:
    """A reporting period in Beijing days, both ends included; ``None`` leaves that end open."""

    start: date | None = None
    end: date | None = None

    def params(self) -> dict[str, str | None]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }


ALL_TIME = Period()

# A page of the log and its number of rows: two whole statements with the same WHERE clause.
_LOG = """
    SELECT id AS log_id, started_on, completed_on, study_id, version, locale, respondent, status, outcome,
        failed, referral_status, referral_kind, told_early, early_choice, screen_fail_criterion, referred,
        contacted, visit_scheduled, enrolled
    FROM screening_log
    WHERE (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR study_id = :study)
    AND (:start IS NULL OR started_on >= :start) AND (:end IS NULL OR started_on <= :end)
    ORDER BY started_on DESC, log_id DESC LIMIT :limit OFFSET :offset
"""
_LOG_COUNT = """
    SELECT count(*) FROM screening_log
    WHERE (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR study_id = :study)
    AND (:start IS NULL OR started_on >= :start) AND (:end IS NULL OR started_on <= :end)
"""


def _log_params(studies: list[str] | None, study: str | None, period: Period) -> dict[str, Any]:
    return {"studies": _studies_param(studies), "study": study, **period.params()}


def log_rows(
    db: sqlite_utils.Database,
    studies: list[str] | None,
    study: str | None = None,
    limit: int = -1,
    offset: int = 0,
    period: Period = ALL_TIME,
) -> list[dict[str, Any]]:
    """Log rows, newest first, days in Beijing time; ``failed`` decoded to a list of criterion ids.

    Rows also carry the funnel milestones (``referred`` … ``enrolled``), which the CSV leaves out.
    """
    params = {**_log_params(studies, study, period), "limit": limit if limit >= 0 else NO_LIMIT, "offset": offset}
    rows = list(db.query(_LOG, params))
    for row in rows:
        row["failed"] = json.loads(row["failed"] or "[]")
    return rows


def log_count(
    db: sqlite_utils.Database, studies: list[str] | None, study: str | None = None, period: Period = ALL_TIME
) -> int:
    """How many log rows the reader may see in *period*."""
    return db.execute(_LOG_COUNT, _log_params(studies, study, period)).fetchone()[0]


def _tally(values: Any) -> list[tuple[str, int]]:
    """(value, count) pairs, most common first, then by value."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def funnel(db: sqlite_utils.Database, study_id: str, period: Period = ALL_TIME) -> dict[str, Any]:
    """One study's funnel in *period*: counts, the first reason for *not eligible*, screen fails, statuses.

    ``reasons`` counts each not-eligible screening once, by the FIRST criterion it failed (the
    questions stop, or the family may stop, at the first one, so later ones are not always known).
    ``screen_fails`` counts referrals closed as screen failed, by the criterion the team chose
    after the visit; ``statuses`` counts referred families by where they are now.
    """
    rows = log_rows(db, None, study_id, period=period)
    done = [r for r in rows if r["status"] == "completed"]
    counts = {
        "started": len(rows),
        "completed": len(done),
        "likely_eligible": sum(r["outcome"] == "likely_eligible" for r in done),
        "needs_review": sum(r["outcome"] == "needs_review" for r in done),
        "not_eligible": sum(r["outcome"] == "not_eligible" for r in done),
        "referred": sum(bool(r["referred"]) for r in rows),
        "review_requested": sum(r["referral_kind"] == "review" for r in rows),
        "contacted": sum(bool(r["contacted"]) for r in rows),
        "visit_scheduled": sum(bool(r["visit_scheduled"]) for r in rows),
        "enrolled": sum(bool(r["enrolled"]) for r in rows),
    }
    return {
        "counts": counts,
        "reasons": _tally(r["failed"][0] for r in done if r["outcome"] == "not_eligible" and r["failed"]),
        "screen_fails": _tally(
            r["screen_fail_criterion"] or "" for r in rows if r["referral_status"] == "screen_failed"
        ),
        "statuses": _tally(r["referral_status"] or "" for r in rows if r["referred"]),
    }


#: The funnel per source's counts, in the order the page and the download show them.
SOURCE_STEPS = (
    "opened",
    "started",
    "completed",
    "likely_eligible",
    "needs_review",
    "not_eligible",
    "referred",
    "contacted",
    "enrolled",
)

_BY_SOURCE = """
    SELECT source_id, count(*) AS started, sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
        sum(CASE WHEN status = 'completed' AND outcome = 'likely_eligible' THEN 1 ELSE 0 END) AS likely_eligible,
        sum(CASE WHEN status = 'completed' AND outcome = 'needs_review' THEN 1 ELSE 0 END) AS needs_review,
        sum(CASE WHEN status = 'completed' AND outcome = 'not_eligible' THEN 1 ELSE 0 END) AS not_eligible,
        sum(referred) AS referred, sum(contacted) AS contacted, sum(enrolled) AS enrolled
    FROM screening_log
    WHERE study_id = :study AND (:start IS NULL OR started_on >= :start) AND (:end IS NULL OR started_on <= :end)
    GROUP BY source_id
"""


def funnel_by_source(db: sqlite_utils.Database, study_id: str, period: Period = ALL_TIME) -> dict[int | None, dict]:
    """One study's funnel per source in *period*: ``{source id or None: {step: count}}`` (steps: SOURCE_STEPS).

    ``opened`` counts browsers that opened the source's ``/q/`` link on those days; every other
    step counts screenings *started* on those days, as the whole funnel does. None is the
    screenings that came without a source (a typed or forwarded link), for which nothing is
    "opened". Sources with nothing in the period are absent; the caller lists every source.
    """
    params = {"study": study_id, **period.params()}
    found: dict[int | None, dict] = {}
    for row in db.query(_BY_SOURCE, params):
        key = row.pop("source_id")
        found[key] = {"opened": None if key is None else 0, **{k: int(v or 0) for k, v in row.items()}}
    for source_id, n in sources.opened(db, study_id, params["start"], params["end"]).items():
        found.setdefault(source_id, dict.fromkeys(SOURCE_STEPS, 0))["opened"] = n
    return found


def told_early(db: sqlite_utils.Database, study_id: str, period: Period = ALL_TIME) -> dict[str, int]:
    """How many families were told early of a waiting period, and what they chose (counts only)."""
    rows = [r for r in log_rows(db, None, study_id, period=period) if r["told_early"]]
    stopped = sum(r["early_choice"] == "stopped" for r in rows)
    continued = sum(r["early_choice"] == "continued" for r in rows)
    return {"told": len(rows), "stopped": stopped, "continued": continued, "undecided": len(rows) - stopped - continued}


def stalled(db: sqlite_utils.Database, study_id: str, before: str, period: Period = ALL_TIME) -> list[dict[str, Any]]:
    """Screenings of *study_id* started in *period* (Beijing days), still in progress, untouched since *before*.

    For the drop-off chart: the caller works out, with the engine, the question each one stopped
    at. Returns only what that needs (answers, respondent, the last update), decoded; the answers
    are never shown or counted one by one. *before* is stored UTC text (:func:`prescreen.clock.iso`).
    """
    rows = db.execute(
        "SELECT answers, respondent, updated_at FROM screenings WHERE study_id = :study AND status = 'in_progress' "
        "AND updated_at < :before AND (:start IS NULL OR date(created_at, '+8 hours') >= :start) "
        "AND (:end IS NULL OR date(created_at, '+8 hours') <= :end) ORDER BY id",
        {"study": study_id, "before": before, **period.params()},
    ).fetchall()
    return [{"answers": json.loads(a or "{}"), "respondent": r, "updated_at": u} for a, r, u in rows]


# Referrals for the reports page: codes, days and times only (no contact detail, no answer).
_REFERRALS = """
    SELECT * FROM (
        SELECT r.id, r.reference, r.study_id, r.kind, r.status, r.created_at, r.first_contact_at, r.visit_date,
            r.screen_fail_criterion, r.closed_at, r.updated_at, COALESCE(r.contact_locale, s.locale) AS locale,
            s.respondent, date(r.created_at, '+8 hours') AS day
        FROM referrals r JOIN screenings s ON s.id = r.screening_id
    ) AS listed
    WHERE (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies)))
    AND (:study IS NULL OR study_id = :study)
    AND (:start IS NULL OR day >= :start) AND (:end IS NULL OR day <= :end)
    ORDER BY created_at, id
"""


def referral_rows(
    db: sqlite_utils.Database, studies: list[str] | None, study: str | None = None, period: Period = ALL_TIME
) -> list[dict[str, Any]]:
    """Referrals received in *period* (Beijing days), oldest first, with ``enrolled_at`` when known.

    ``enrolled_at`` is when the audit trail first shows the referral moved to ``enrolled`` (the
    referral row keeps no such time); a referral enrolled without an audit row (data brought in
    by hand) falls back to its last update.
    """
    rows = list(db.query(_REFERRALS, _log_params(studies, study, period)))
    enrolled = dict(
        db.execute(
            "SELECT record_id, min(at) FROM audit WHERE record_type = 'referral' AND action LIKE 'referral.%' "
            "AND detail IS NOT NULL AND json_valid(detail) AND json_extract(detail, '$.to') = 'enrolled' "
            "GROUP BY record_id"
        ).fetchall()
    )
    for row in rows:
        fallback = row["updated_at"] if row["status"] == "enrolled" else None
        row["enrolled_at"] = enrolled.get(str(row["id"])) or fallback
    return rows


def median_hours(rows: list[dict[str, Any]], start: str = "created_at", end: str = "first_contact_at") -> float | None:
    """The median time from *start* to *end* in hours over rows that have both (None when none has)."""
    spans = [
        (datetime.fromisoformat(row[end]) - datetime.fromisoformat(row[start])).total_seconds() / 3600
        for row in rows
        if row.get(start) and row.get(end)
    ]
    return statistics.median(spans) if spans else None


def screening_counts(
    db: sqlite_utils.Database, studies: list[str] | None, study: str | None = None, period: Period = ALL_TIME
) -> dict[str, list[tuple[str, int]]]:
    """Screenings started in *period* per language and per respondent (codes; the view labels them)."""
    rows = log_rows(db, studies, study, period=period)
    return {
        "locale": _tally(r["locale"] or "" for r in rows),
        "respondent": _tally(r["respondent"] or "" for r in rows),
    }


def week_rows(
    db: sqlite_utils.Database, since: str, week: tuple[date, date], open_statuses: list[str]
) -> dict[str, Any]:
    """What the weekly summary counts, as reference codes: referrals received since *since* (UTC
    text), visits dated within *week* (Beijing days), and every open referral with what the
    overdue rule needs (the caller applies the rule)."""
    new = [
        r[0]
        for r in db.execute("SELECT reference FROM referrals WHERE created_at >= ? ORDER BY created_at, id", [since])
    ]
    visits = [
        r[0]
        for r in db.execute(
            "SELECT reference FROM referrals WHERE visit_date BETWEEN ? AND ? "
            "AND status IN ('visit_scheduled', 'enrolled', 'screen_failed') ORDER BY visit_date, id",
            [week[0].isoformat(), week[1].isoformat()],
        )
    ]
    open_rows = list(
        db.query(
            "SELECT r.id, r.reference, r.study_id, r.status, r.kind, r.created_at, r.visit_date, "
            "(SELECT count(*) FROM contact_attempts a WHERE a.referral_id = r.id) AS attempts, "
            "(SELECT max(at) FROM contact_attempts a WHERE a.referral_id = r.id) AS last_attempt_at "
            "FROM referrals r WHERE r.status IN (SELECT value FROM json_each(:open)) ORDER BY r.created_at, r.id",
            {"open": json.dumps(open_statuses)},
        )
    )
    return {"new": new, "visits": visits, "open": open_rows}


def identified(db: sqlite_utils.Database, study_id: str | None) -> list[dict[str, Any]]:
    """Referrals with contact details (admins only; the caller checks).

    Not audited here (reports only read): :func:`prescreen.store.exports.identified` reads this
    and records who took it, in one transaction. ``relationship`` is the stored code (mother /
    father / guardian / self); the view turns it into a label.
    """
    return list(
        db.query(
            "SELECT id, reference, study_id, kind, status, outcome, age_band, guardian_name, relationship, phone, "
            "email, wechat, best_time, contact_locale, created_at, first_contact_at, visit_date, "
            "screen_fail_criterion FROM referrals WHERE (:study IS NULL OR study_id = :study) "
            "ORDER BY created_at, id",
            {"study": study_id},
        )
    )


def subject_record(db: sqlite_utils.Database, referral_id: int) -> dict[str, Any] | None:
    """Everything stored about one family (data-subject access, PIPL 45).

    Not audited here (reports only read): :func:`prescreen.store.exports.subject_record` reads this
    and records who took it, in one transaction.
    """
    referral = db.execute("SELECT screening_id FROM referrals WHERE id = ?", [referral_id]).fetchone()
    if referral is None:
        return None
    screening_id = referral[0]

    def rows(sql: str, key: int) -> list[dict[str, Any]]:
        return list(db.query(sql, [key]))

    screening = rows("SELECT * FROM screenings WHERE id = ?", screening_id)[0]
    screening.pop("token_hash", None)  # a secret of the family's browser, not data about them
    ref = rows("SELECT * FROM referrals WHERE id = ?", referral_id)[0]
    ref.pop("withdraw_token_hash", None)
    record = {
        "screening": screening,
        "consents": rows("SELECT * FROM consents WHERE screening_id = ? ORDER BY id", screening_id),
        "referral": ref,
        "contact_attempts": rows(
            "SELECT id, channel, result, at FROM contact_attempts WHERE referral_id = ? ORDER BY id", referral_id
        ),
        "notes": rows("SELECT id, body, created_at FROM notes WHERE referral_id = ? ORDER BY id", referral_id),
        # The re-check reminder the family asked for (a text or an e-mail): its address until it is
        # sent or cancelled.
        "reminders": rows(
            "SELECT channel, to_addr, status, next_attempt_at AS due, created_at, sent_at FROM outbox "
            "WHERE idempotency_key = 'recheck-reminder:' || ?",
            screening_id,
        ),
        # The SMS receipt of their reference, if they ticked it: the number and its parameters.
        "texts": rows(
            "SELECT to_addr, subject AS template, headers AS params, status, created_at, sent_at FROM outbox "
            "WHERE idempotency_key = 'referral-receipt:' || ? || ':'",
            referral_id,
        ),
    }
    return record

"""The 待联系名单 (queue list): which families to call, in what order, and who is on them.

The status flow (attempts, changes, notes) lives in :mod:`.queue`; this module only lists,
searches, assigns and closes in bulk. Listing reads every referral that matches the plain
filters in one fixed statement and works out what SQL can't say simply in Python: when the next
call is due (working days in Beijing time), whether it is overdue, then sorts and pages. A study
has hundreds of referrals, not millions, so this stays in milliseconds.

Search by name, phone or reference runs here, server-side, on the stored values: the text typed
never leaves the request (no URL, no log, no audit detail); :mod:`prescreen.coordinator.queue`
audits each search with the ids it matched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlite_utils

from .. import clock
from . import audit, insert, queue, referrals, transaction

#: Columns a CRC may sort by (the view's labels are in the template).
SORTS = ("received", "waiting", "status", "due")
PAGE_SIZES = (25, 50, 100, 200)
#: Statuses a bulk close may set: closed, and nothing is erased (withdrawal is one family at a time).
BULK_CLOSE_STATUSES = tuple(s for s in ("unreachable", "not_interested", "dropped_out") if s in queue.STATUSES)
#: Best times a family could choose on the referral form.
BEST_TIMES = ("morning", "afternoon", "evening", "any")
#: At least this many digits before a search also looks at phone numbers (so "1" matches nobody's phone).
PHONE_DIGITS_MIN = 4

_LIST = """
    SELECT r.id, r.reference, r.study_id, r.status, r.kind, COALESCE(r.outcome, s.outcome) AS outcome, r.age_band,
        r.created_at, r.closed_at, r.visit_date, r.closed_reason, r.best_time, r.assigned_to,
        u.email AS assigned_email, COALESCE(r.contact_locale, s.locale) AS locale,
        (SELECT count(*) FROM contact_attempts a WHERE a.referral_id = r.id) AS attempts,
        (SELECT max(at) FROM contact_attempts a WHERE a.referral_id = r.id) AS last_attempt_at
    FROM referrals r JOIN screenings s ON s.id = r.screening_id LEFT JOIN users u ON u.id = r.assigned_to
    WHERE (:studies IS NULL OR r.study_id IN (SELECT value FROM json_each(:studies)))
    AND (:ids IS NULL OR r.id IN (SELECT value FROM json_each(:ids)))
    AND (:study IS NULL OR r.study_id = :study)
    AND (:outcome IS NULL OR COALESCE(r.outcome, s.outcome) = :outcome)
    AND (:locale IS NULL OR COALESCE(r.contact_locale, s.locale) = :locale)
    AND (:kind IS NULL OR r.kind = :kind)
    AND (:best_time IS NULL OR r.best_time = :best_time OR r.best_time = 'any')
    AND (:assigned IS NULL OR (:assigned = 0 AND r.assigned_to IS NULL) OR r.assigned_to = :assigned)
    AND (:q IS NULL OR r.reference LIKE :q ESCAPE '\\' OR r.guardian_name LIKE :q ESCAPE '\\'
        OR (:digits IS NOT NULL AND replace(r.phone, ' ', '') LIKE :digits))
"""


@dataclass(frozen=True)
class Rules:
    """When a family's next call is due: the team's promise to new families, and the gap between attempts.

    ``reply_days`` per study (``STUDY_REPLY_WORKING_DAYS`` or the study's own entry), else
    ``default_days``; ``retry_days`` working days after an unanswered attempt.
    """

    default_days: int
    retry_days: int
    reply_days: Mapping[str, int]


def phone_digits(q: str) -> str | None:
    """The digits of a typed phone number, without a +86 / 0086 prefix; None when it isn't one.

    Spaces, dashes, brackets and full-width digits a CRC may paste all go; a query with
    letters is a name or a reference, not a phone.
    """
    text = q.translate({ord(c): ord("0") + i for i, c in enumerate("０１２３４５６７８９")})
    if re.search(r"[^\d\s+\-()（）.]", text):
        return None
    digits = re.sub(r"\D", "", text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    return digits if len(digits) >= PHONE_DIGITS_MIN else None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _params(studies: list[str] | None, filters: Mapping[str, Any], ids: Iterable[int] | None) -> dict[str, Any]:
    q = (filters.get("q") or "").strip()
    digits = phone_digits(q) if q else None
    assigned = filters.get("assigned")
    return {
        "studies": None if studies is None else json.dumps(studies),
        "ids": None if ids is None else json.dumps([int(i) for i in ids]),
        "study": filters.get("study") or None,
        "outcome": filters.get("outcome") or None,
        "locale": filters.get("locale") or None,
        "kind": filters.get("kind") if filters.get("kind") in referrals.KINDS else None,
        "best_time": filters.get("best_time") if filters.get("best_time") in BEST_TIMES else None,
        "assigned": int(assigned) if isinstance(assigned, int) else None,
        "q": _like(q) if q else None,
        "digits": _like(digits) if digits else None,
    }


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def next_due(row: Mapping[str, Any], now: datetime, rules: Rules) -> tuple[datetime | date | None, bool]:
    """When this family's next call (or visit) is due, and whether that moment has passed.

    - ``new``, no attempt yet: within the working days promised to families (overdue after);
    - ``attempt_1/2/3`` (no answer): the next attempt within ``retry_days`` working days;
    - ``visit_scheduled``: the booked visit date; still booked after that day means overdue
      (the visit happened, or not, and nobody said so).
    Closed families and those being worked otherwise have nothing due.
    """
    status = row["status"]
    if status == "new" and not row.get("attempts"):
        days = rules.reply_days.get(row["study_id"], rules.default_days)
        due = queue.add_working_days(datetime.fromisoformat(row["created_at"]), days)
        return due, now > due
    if status in ("attempt_1", "attempt_2", "attempt_3") and row.get("last_attempt_at"):
        due = queue.add_working_days(datetime.fromisoformat(row["last_attempt_at"]), rules.retry_days)
        return due, now > due
    if status == "visit_scheduled" and row.get("visit_date"):
        visit = date.fromisoformat(str(row["visit_date"])[:10])
        return visit, visit < now.astimezone(clock.TEAM_TZ).date()
    return None, False


def due_day(due: datetime | date | None) -> date | None:
    """The Beijing day a due moment falls on."""
    if due is None:
        return None
    return due.astimezone(clock.TEAM_TZ).date() if isinstance(due, datetime) else due


def waited(row: Mapping[str, Any], now: datetime) -> float:
    """Seconds from the referral to now, or to when it closed (a closed family waits no longer)."""
    end = _at(row.get("closed_at")) if row["status"] in queue.CLOSED else None
    return ((end or now) - datetime.fromisoformat(row["created_at"])).total_seconds()


def order(filters: Mapping[str, Any]) -> tuple[str, bool]:
    """The sort column and whether it runs descending, from the filters.

    Without a chosen order the list is newest first, except under the overdue filter: there the
    CRC works through the longest-overdue family first, so it sorts by when the call was due.
    """
    chosen = filters.get("sort")
    sort = chosen if chosen in SORTS else ("due" if filters.get("when") == "overdue" else "received")
    desc = {"asc": False, "desc": True}.get(filters.get("dir") or "", sort in ("received", "waiting"))
    return sort, desc


def _sort_key(sort: str):  # type: ignore[no-untyped-def]
    order = {status: i for i, status in enumerate(queue.STATUSES)}
    far = date.max.toordinal() * 86400.0
    if sort == "waiting":
        return lambda r: (r["waited"], r["id"])
    if sort == "status":
        return lambda r: (order.get(r["status"], len(order)), r["created_at"], r["id"])
    if sort == "due":

        def key(r: Mapping[str, Any]) -> tuple[float, int]:
            day = r["due_day"]
            if day is None:
                return (far, r["id"])
            due = r["due"]
            seconds = due.timestamp() if isinstance(due, datetime) else day.toordinal() * 86400.0
            return (seconds, r["id"])

        return key
    return lambda r: (r["created_at"], r["id"])


@dataclass
class Page:
    """One page of the list: its rows, how many matched, counts per status, page and pages."""

    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int]
    page: int
    pages: int
    ids: list[int]


def listing(
    db: sqlite_utils.Database,
    studies: list[str] | None,
    filters: Mapping[str, Any],
    rules: Rules,
    *,
    now: datetime | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZES[0],
    ids: Iterable[int] | None = None,
) -> Page:
    """The families matching *filters*, sorted and paged, each with ``due``, ``overdue`` and ``waited``.

    *filters*: ``study``, ``outcome``, ``locale``, ``kind``, ``best_time``, ``assigned`` (a user id,
    0 for nobody), ``q`` (name, phone or reference), ``status`` (``open``, ``all`` or one status),
    ``when`` (``overdue`` or ``today``: due by the end of today, overdue included), ``sort`` (one
    of :data:`SORTS`) and ``dir`` (``asc``/``desc``; see :func:`order`: newest received first by
    default, the longest overdue first under the overdue filter). Counts per status follow every
    filter except the status one, as the status tabs need.
    """
    now = now or clock.now()
    today = now.astimezone(clock.TEAM_TZ).date()
    rows = list(db.query(_LIST, _params(studies, filters, ids)))
    for row in rows:
        row["due"], row["overdue"] = next_due(row, now, rules)
        row["due_day"] = due_day(row["due"])
        row["waited"] = waited(row, now)
    when = filters.get("when")
    if when == "overdue":
        rows = [r for r in rows if r["overdue"]]
    elif when == "today":
        rows = [r for r in rows if r["due_day"] is not None and r["due_day"] <= today]
    counts = dict.fromkeys(queue.STATUSES, 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    status = filters.get("status") or "open"
    if status == "open":
        rows = [r for r in rows if r["status"] not in queue.CLOSED]
    elif status != "all":
        rows = [r for r in rows if r["status"] == status]
    sort, desc = order(filters)
    rows.sort(key=_sort_key(sort), reverse=desc)
    if sort == "due":  # nothing due (closed, or being worked) stays at the end either way
        rows = [r for r in rows if r["due_day"] is not None] + [r for r in rows if r["due_day"] is None]
    total = len(rows)
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    return Page(
        rows=rows[(page - 1) * per_page : page * per_page],
        total=total,
        counts=counts,
        page=page,
        pages=pages,
        ids=[r["id"] for r in rows],
    )


def visible_ids(db: sqlite_utils.Database, studies: list[str] | None, ids: Iterable[int]) -> list[int]:
    """Those of *ids* that exist and lie in *studies* (what a form may act on), in id order."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    return [
        row[0]
        for row in db.execute(
            "SELECT id FROM referrals WHERE id IN (SELECT value FROM json_each(:ids)) "
            "AND (:studies IS NULL OR study_id IN (SELECT value FROM json_each(:studies))) ORDER BY id",
            {"ids": json.dumps(wanted), "studies": None if studies is None else json.dumps(studies)},
        ).fetchall()
    ]


def staff(db: sqlite_utils.Database, study_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Active accounts a family may be assigned to: those who may see *study_ids* (all when None)."""
    rows = list(db.query("SELECT id, email, role, studies FROM users WHERE active = 1 ORDER BY email"))
    wanted = set(study_ids or ())

    def sees(row: dict[str, Any]) -> bool:
        allowed = json.loads(row["studies"] or "[]")
        return row["role"] == "admin" or not allowed or wanted.issubset(allowed)

    return [{"id": r["id"], "email": r["email"]} for r in rows if sees(r)]


def assign(db: sqlite_utils.Database, ids: Iterable[int], user_id: int | None, actor: str) -> int:
    """Assign the referrals *ids* to *user_id* (None: nobody); audited per family; returns how many changed."""
    changed = 0
    with transaction(db):
        for referral_id in ids:
            row = db.execute("SELECT assigned_to FROM referrals WHERE id = ?", [referral_id]).fetchone()
            if row is None or row[0] == user_id:
                continue
            referrals.assign(db, referral_id, user_id)
            audit.record(db, actor, "referral.assign", "referral", referral_id, {"from": row[0], "to": user_id})
            changed += 1
    return changed


def bulk_close(
    db: sqlite_utils.Database, ids: Iterable[int], status: str, reason: str, user_id: int, actor: str
) -> list[int]:
    """Close the open referrals among *ids* as *status*, keeping everything; returns the ids closed.

    Nothing is erased (erasing is "withdrew consent", one family at a time with a typed
    confirmation). The reason the CRC typed is kept as a note on each family, so it reads on the
    family's page; the audit row names the status change and the note's id, never its text.
    """
    if status not in BULK_CLOSE_STATUSES or not reason.strip():
        raise queue.FlowError("bulk_close")
    closed: list[int] = []
    now = clock.utc_text()
    with transaction(db):
        for referral_id in ids:
            row = db.execute("SELECT status FROM referrals WHERE id = ?", [referral_id]).fetchone()
            if row is None or row[0] in queue.CLOSED:
                continue
            referrals.set_status(db, referral_id, status, closed_reason="bulk")
            note_id = insert(
                db, "notes", {"referral_id": referral_id, "user_id": user_id, "body": reason.strip(), "created_at": now}
            )
            detail = {"from": row[0], "to": status, "bulk": True, "note": note_id}
            audit.record(db, actor, "referral.status", "referral", referral_id, detail)
            closed.append(referral_id)
    return closed

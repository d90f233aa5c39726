"""Short resume codes: which screening a code opens, its wrong birth months, and refusal counts.

The store never sees a code, only its keyed hash (see :mod:`prescreen.public.resume_code`). A code
opens its screening only with the screening's birth month (``answers["dob"]``), only while the
screening has not expired, and only until it moves to another device (the move deletes the row,
see :func:`prescreen.store.screenings.move_by_id`). :data:`MAX_WRONG` wrong months kill it.
Every refused attempt adds one to ``resume_code_refusals`` (per Beijing day and reason), so the
team can see guessing without any code or answer being kept.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import sqlite_utils

from .. import clock
from . import screenings, transaction

#: Wrong birth months a code survives; the next refusal after this many is final.
MAX_WRONG = 5
Checked = Literal["ok", "refused", "dead"]


def issue(db: sqlite_utils.Database, screening_id: int, code_hash: str) -> bool:
    """Make *code_hash* the screening's code if it is not already; True while the code still works.

    Called when the code is shown. A new code (after a move, or a new secret key) starts with no
    wrong months; the same code keeps its count, so a dead code stays dead.
    """
    found = db.execute(
        "SELECT code_hash, wrong_months FROM resume_codes WHERE screening_id = ?", [screening_id]
    ).fetchone()
    if found is not None and found[0] == code_hash:
        return int(found[1]) < MAX_WRONG
    with transaction(db):
        db.execute(
            "INSERT INTO resume_codes (screening_id, code_hash, wrong_months, created_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (screening_id) DO UPDATE SET code_hash = excluded.code_hash, wrong_months = 0, "
            "created_at = excluded.created_at",
            [screening_id, code_hash, clock.utc_text()],
        )
    return True


def check(db: sqlite_utils.Database, code_hash: str, month: str) -> tuple[Checked, int | None]:
    """Whether *code_hash* with birth month *month* (``YYYY-MM``) opens a screening, and which.

    ``refused`` for an unknown, used or expired code and for a wrong month alike (the caller
    shows one message), ``dead`` once this refusal made or found the code dead. Each refusal is
    counted; a wrong month also on the code.
    """
    with transaction(db):
        found = db.execute(
            "SELECT c.screening_id, c.wrong_months, s.answers, s.status, "
            "(s.expires_at IS NOT NULL AND s.expires_at <= ?) FROM resume_codes c "
            "JOIN screenings s ON s.id = c.screening_id WHERE c.code_hash = ?",
            [clock.utc_text(), code_hash],
        ).fetchone()
        if found is None or found[3] == "handoff":
            return _refuse(db, "unknown"), None
        screening_id, wrong, answers, _status, expired = found
        if expired:
            return _refuse(db, "expired"), None
        if wrong >= MAX_WRONG:
            _refuse(db, "dead")
            return "dead", None
        if _dob(answers) is None:  # nothing answered yet: nothing to continue, and no month to check
            return _refuse(db, "unknown"), None
        if _dob(answers) != month:
            db.execute("UPDATE resume_codes SET wrong_months = wrong_months + 1 WHERE screening_id = ?", [screening_id])
            _refuse(db, "wrong_month")
            return ("dead" if wrong + 1 >= MAX_WRONG else "refused"), None
    return "ok", int(screening_id)


def take(
    db: sqlite_utils.Database, code_hash: str, month: str, *, consent_version: str, locale: str
) -> tuple[Checked, tuple[dict[str, Any], str] | None]:
    """Check the code and month and, if they open a screening, move it to a new token at once.

    One transaction: two devices typing the same code cannot both take the screening.
    Returns the check's answer and, when ``ok``, ``(row, new token)`` as the resume link's move.
    """
    with transaction(db):
        checked, screening_id = check(db, code_hash, month)
        if checked != "ok" or screening_id is None:
            return checked, None
        moved = screenings.move_by_id(db, screening_id, consent_version=consent_version, locale=locale)
    return ("ok", moved) if moved is not None else ("refused", None)


def refusals(db: sqlite_utils.Database, start: str | None = None, end: str | None = None) -> dict[str, int]:
    """Refused attempts by reason on the Beijing days *start* … *end* (open ends: all days), for the team."""
    rows = db.execute(
        "SELECT reason, SUM(count) FROM resume_code_refusals "
        "WHERE (:start IS NULL OR day >= :start) AND (:end IS NULL OR day <= :end) GROUP BY reason",
        {"start": start, "end": end},
    ).fetchall()
    return {str(reason): int(total) for reason, total in rows}


def _dob(answers: Any) -> str | None:
    """The screening's birth month as stored (``YYYY-MM``), or None."""
    try:
        value = json.loads(answers or "{}").get("dob")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _refuse(db: sqlite_utils.Database, reason: str) -> Literal["refused"]:
    """Count one refused attempt for today (Beijing) and *reason*."""
    db.execute(
        "INSERT INTO resume_code_refusals (day, reason, count) VALUES (?, ?, 1) "
        "ON CONFLICT (day, reason) DO UPDATE SET count = resume_code_refusals.count + 1",
        [clock.today().isoformat(), reason],
    )
    return "refused"


def screening(db: sqlite_utils.Database, screening_id: int) -> dict[str, Any] | None:
    """Which study a checked code's screening belongs to and who answers it (no answers)."""
    found = db.execute("SELECT study_id, respondent FROM screenings WHERE id = ?", [screening_id]).fetchone()
    return {"study_id": found[0], "respondent": found[1]} if found else None

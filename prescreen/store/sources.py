"""Sources: where a study's link was handed out, so the team can see which poster or group works.

A source has a short code (no look-alike characters, like a referral's reference code) that
makes its link ``/q/<code>``. Opening the link remembers the source id in the browser's session,
and the screening that browser then starts records it (see :mod:`prescreen.public.source_link`).
Nothing personal is kept: only which source a screening came from.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import sqlite_utils

from .. import clock
from . import audit, transaction
from .referrals import ALPHABET

#: Characters in a code: 6 of 32 is about a billion, plenty for a hospital's posters and groups.
CODE_LENGTH = 6
#: The longest label the team may give (it is shown in tables and on the QR code page).
LABEL_MAX = 60


@dataclass(frozen=True)
class Source:
    """One place a link is handed out, and how many screenings it started."""

    id: int
    study_id: str
    code: str
    label: str
    created_at: str
    created_by: str
    active: bool
    started: int = 0


def new_code() -> str:
    """A random code a person can copy without confusing 0/O or 1/I."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def add(db: sqlite_utils.Database, study_id: str, label: str, actor: str) -> Source:
    """Make a source for *study_id* with a fresh code; audited as ``source.create``."""
    label = label.strip()
    if not label or len(label) > LABEL_MAX:
        raise ValueError(f"label must be 1 to {LABEL_MAX} characters")
    now = clock.utc_text()
    with transaction(db):
        while True:  # a clash is one in a billion; try again rather than fail
            code = new_code()
            if db.execute("SELECT 1 FROM sources WHERE code = ?", [code]).fetchone() is None:
                break
        cursor = db.execute(
            "INSERT INTO sources (study_id, code, label, created_at, created_by, active) "
            "VALUES (?, ?, ?, ?, ?, 1) RETURNING id",
            [study_id, code, label, now, actor],
        )
        source_id = int(cursor.fetchone()[0])
        audit.record(db, actor, "source.create", "source", source_id, {"study": study_id, "code": code})
    return Source(source_id, study_id, code, label, now, actor, True)


def set_active(db: sqlite_utils.Database, source_id: int, active: bool, actor: str) -> bool:
    """Take a source out of use (its link then opens the home page, tagging nothing) or back into use.

    Audited as ``source.deactivate`` or ``source.activate``; returns False when it already was so
    (nothing written), so a repeated click leaves no second audit row.
    """
    with transaction(db):
        changed = db.execute(
            "UPDATE sources SET active = ? WHERE id = ? AND active != ?", [int(active), source_id, int(active)]
        ).rowcount
        if changed:
            audit.record(db, actor, "source.activate" if active else "source.deactivate", "source", source_id)
    return bool(changed)


def by_code(db: sqlite_utils.Database, code: str, *, inactive_too: bool = False) -> Source | None:
    """The active source with this code (case-insensitive), or None for an unknown or inactive one.

    *inactive_too* finds one taken out of use as well (to put it back in use).
    """
    row = db.execute(
        "SELECT id, study_id, code, label, created_at, created_by, active FROM sources "
        "WHERE code = ? AND (active = 1 OR ? = 1)",
        [code.upper(), int(inactive_too)],
    ).fetchone()
    return None if row is None else Source(*row[:6], bool(row[6]))


def by_id(db: sqlite_utils.Database, source_id: int) -> Source | None:
    """The source with this id, active or not."""
    row = db.execute(
        "SELECT id, study_id, code, label, created_at, created_by, active FROM sources WHERE id = ?", [source_id]
    ).fetchone()
    return None if row is None else Source(*row[:6], bool(row[6]))


def listing(db: sqlite_utils.Database, study_ids: list[str] | None = None) -> list[Source]:
    """Sources (of *study_ids*, or all), newest first, each with how many screenings it started."""
    sql = (
        "SELECT s.id, s.study_id, s.code, s.label, s.created_at, s.created_by, s.active, "
        "(SELECT count(*) FROM screenings WHERE source_id = s.id) FROM sources s"
    )
    params: list[str] = []
    if study_ids is not None:
        sql += " WHERE s.study_id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(study_ids))
    rows = db.execute(sql + " ORDER BY s.id DESC", params).fetchall()
    return [Source(*row[:6], bool(row[6]), int(row[7])) for row in rows]


def count_open(db: sqlite_utils.Database, source_id: int) -> None:
    """Count one browser opening *source_id*'s link today (Beijing day): a number, nothing about who."""
    with transaction(db):
        db.execute(
            "INSERT INTO source_opens (source_id, day, opened) VALUES (?, ?, 1) "
            "ON CONFLICT (source_id, day) DO UPDATE SET opened = source_opens.opened + 1",
            [source_id, clock.today().isoformat()],
        )


def opened(db: sqlite_utils.Database, study_id: str, start: str | None, end: str | None) -> dict[int, int]:
    """How many times each of *study_id*'s sources was opened on the Beijing days *start* … *end* (open ends)."""
    rows = db.execute(
        "SELECT o.source_id, sum(o.opened) FROM source_opens o JOIN sources s ON s.id = o.source_id "
        "WHERE s.study_id = :study AND (:start IS NULL OR o.day >= :start) AND (:end IS NULL OR o.day <= :end) "
        "GROUP BY o.source_id",
        {"study": study_id, "start": start, "end": end},
    ).fetchall()
    return {int(source_id): int(n) for source_id, n in rows}

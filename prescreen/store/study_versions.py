"""Uploaded study versions (table ``study_versions``, migration m0022): drafts, the live one, retired ones.

Every change is audited in the same transaction as the change itself: ``study_version.upload``,
``study_version.publish`` and ``study_version.retire`` (``study.publish`` already names telling
volunteers about a study, so the version actions have names of their own). Details hold the
version's hash and the team's label, never anything about a family.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from .. import clock
from . import audit, transaction

#: The columns of a version without its bytes (for lists and pages).
COLUMNS = (
    "id, study_id, version, format, label, approved_on, state, uploaded_by, uploaded_at, "
    "published_by, published_at, retired_at"
)


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def add_draft(
    db: sqlite_utils.Database,
    *,
    study_id: str,
    version: str,
    fmt: str,
    content: bytes,
    label: str,
    approved_on: str,
    actor: str,
) -> int | None:
    """Store a checked upload as a draft; returns its id, or None when this version is already stored."""
    with transaction(db):
        if db.execute(
            "SELECT 1 FROM study_versions WHERE study_id = ? AND version = ?", [study_id, version]
        ).fetchone():
            return None
        cursor = db.execute(
            "INSERT INTO study_versions (study_id, version, format, content, label, approved_on, state, "
            "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, 'draft', ?, ?) RETURNING id",
            [study_id, version, fmt, content, label, approved_on, actor, clock.utc_text()],
        )
        version_id = int(cursor.fetchone()[0])
        audit.record(
            db, actor, "study_version.upload", "study", study_id, {"fingerprint": version, "version_label": label}
        )
        return version_id


def of_study(db: sqlite_utils.Database, study_id: str) -> list[dict[str, Any]]:
    """Every stored version of a study, newest upload first (without the file's bytes)."""
    return _rows(db, f"SELECT {COLUMNS} FROM study_versions WHERE study_id = ? ORDER BY id DESC", [study_id])  # noqa: S608 # nosec B608


def by_id(db: sqlite_utils.Database, version_id: int) -> dict[str, Any] | None:
    """One stored version (without its bytes), or None."""
    found = _rows(db, f"SELECT {COLUMNS} FROM study_versions WHERE id = ?", [version_id])  # noqa: S608 # nosec B608
    return found[0] if found else None


def content_of(db: sqlite_utils.Database, study_id: str, version: str) -> tuple[str, bytes] | None:
    """``(format, bytes)`` of a stored version, or None."""
    row = db.execute(
        "SELECT format, content FROM study_versions WHERE study_id = ? AND version = ?", [study_id, version]
    ).fetchone()
    return (row[0], bytes(row[1])) if row else None


def live(db: sqlite_utils.Database) -> tuple[tuple[str, str], ...]:
    """``(study id, version)`` of every live version: cheap, so every worker can compare it every few seconds."""
    return tuple(
        (row[0], row[1])
        for row in db.execute("SELECT study_id, version FROM study_versions WHERE state = 'live' ORDER BY study_id")
    )


def labels(db: sqlite_utils.Database) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(study id, version): (label, approved on)}`` for every stored version."""
    return {
        (row[0], row[1]): (row[2], row[3])
        for row in db.execute("SELECT study_id, version, label, approved_on FROM study_versions")
    }


def study_ids(db: sqlite_utils.Database) -> set[str]:
    """Every study id with a stored version (a new study exists here before it is published)."""
    return {row[0] for row in db.execute("SELECT DISTINCT study_id FROM study_versions")}


def ever_published(db: sqlite_utils.Database, study_id: str) -> bool:
    """Whether any version of this study has been live."""
    return bool(
        db.execute(
            "SELECT 1 FROM study_versions WHERE study_id = ? AND published_at IS NOT NULL LIMIT 1", [study_id]
        ).fetchone()
    )


def publish(db: sqlite_utils.Database, version_id: int, actor: str) -> dict[str, Any] | None:
    """Make a draft (or a retired version, to go back to it) live; the live one before it is retired.

    Returns the version as published, or None when it is unknown or already live. Joins the
    caller's transaction, so a first publication's volunteer notices commit with it.
    """
    with transaction(db):
        row = by_id(db, version_id)
        if row is None or row["state"] == "live":
            return None
        now = clock.utc_text()
        previous = db.execute(
            "SELECT id, version FROM study_versions WHERE study_id = ? AND state = 'live'", [row["study_id"]]
        ).fetchone()
        if previous:
            db.execute("UPDATE study_versions SET state = 'retired', retired_at = ? WHERE id = ?", [now, previous[0]])
        db.execute(
            "UPDATE study_versions SET state = 'live', published_by = ?, published_at = ?, retired_at = NULL "
            "WHERE id = ?",
            [actor, now, version_id],
        )
        detail = {"fingerprint": row["version"], "version_label": row["label"]}
        if previous:
            detail["replaces"] = previous[1]
        audit.record(db, actor, "study_version.publish", "study", row["study_id"], detail)
        return by_id(db, version_id)


def retire(db: sqlite_utils.Database, version_id: int, actor: str) -> bool:
    """Retire a draft or the live version (new screenings then take the folder's study, if any)."""
    with transaction(db):
        row = by_id(db, version_id)
        if row is None or row["state"] == "retired":
            return False
        db.execute(
            "UPDATE study_versions SET state = 'retired', retired_at = ? WHERE id = ?", [clock.utc_text(), version_id]
        )
        audit.record(
            db,
            actor,
            "study_version.retire",
            "study",
            row["study_id"],
            {"fingerprint": row["version"], "version_label": row["label"]},
        )
        return True

"""A questionnaire version in the team's words: the ethics-approved label and date, not the hash.

Uploaded versions carry the label and approval date the team typed in ("V1.1, 2026-11-20",
table ``study_versions``); the study folder's version carries ``version_label`` from study.csv.
The log page, its CSV and the exports show this beside the hash, which stays the fingerprint.
"""

from __future__ import annotations

from flask import g

from .. import studies
from ..store import get_db
from ..store import study_versions as version_store


def version_label(study_id: str, version: str | None) -> str:
    """``"V1.1, 2026-11-20"`` for an uploaded version, study.csv's ``version_label`` for the folder's, else ""."""
    if not version:
        return ""
    labels = g.get("version_labels")
    if labels is None:
        labels = g.version_labels = version_store.labels(get_db())  # one query per request
    stored = labels.get((study_id, version))
    if stored is not None:
        label, approved = stored
        return f"{label}, {approved}" if approved else label
    folder = studies.of().folder.get(study_id)
    if folder is not None and folder.version == version:
        return folder.meta.get("version_label", "") or ""
    return ""

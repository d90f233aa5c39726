"""The funnel per source: which poster, clinic or parents' group brought families, and how far they got.

One row per source of the study (inactive ones too: their families still count), one for
screenings that came without a source (a typed or forwarded link), and the total. Counts only:
the log holds a source id per screening and the number of times each link was opened per day,
nothing about a family. Downloads write a count under 5 as "<5" (see :mod:`.dropoff`).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, pgettext

from .. import studies
from ..store import get_db, queue_reports
from ..store import sources as source_store
from .dropoff import export_count

#: The columns after the source's name: (step key, heading). The steps come from the log.
COLUMNS = (
    ("opened", _l("Opened the link")),
    ("started", _l("Agreed and started")),
    ("completed", _l("Completed")),
    ("likely_eligible", _l("Likely eligible")),
    ("needs_review", lazy_pgettext("outcome", "Needs review")),
    ("not_eligible", _l("Not eligible")),
    ("referred", _l("Sent their details to the team")),
    ("contacted", _l("Contacted")),
    ("enrolled", _l("Enrolled")),
)


def rows(study_id: str, period: queue_reports.Period) -> list[dict[str, Any]]:
    """``{"key", "label", "code", "active", "counts"}`` per source, then "no source", then the total.

    ``counts[step]`` is None where a step cannot be counted (nothing is "opened" without a link).
    Sources newest first, as the sources page lists them.
    """
    db = get_db()
    found = queue_reports.funnel_by_source(db, study_id, period)
    zero = dict.fromkeys(queue_reports.SOURCE_STEPS, 0)
    out = [
        {
            "key": f"s{source.id}",
            "label": source.label,
            "code": source.code,
            "active": source.active,
            "counts": found.get(source.id, zero),
        }
        for source in source_store.listing(db, [study_id])
    ]
    out.append(
        {
            "key": "none",
            "label": _("No source: a typed or forwarded link"),
            "code": "",
            "active": True,
            "counts": found.get(None, {**zero, "opened": None}),
        }
    )
    total = {step: sum(r["counts"][step] or 0 for r in out) for step in queue_reports.SOURCE_STEPS}
    out.append({"key": "total", "label": _("All families"), "code": "", "active": True, "counts": total})
    return out


def export_header() -> list[str]:
    """The per-source table's header in downloads."""
    # TRANSLATORS: where a family found the study's link (a poster, a parents' group).
    return [pgettext("link", "Source"), _("Code"), *(str(label) for _key, label in COLUMNS)]


def export_rows(study_ids: list[str], period: queue_reports.Period, lang: str) -> list[list[Any]]:
    """The per-source rows for downloads, counts under 5 written "<5"; the study named when there are several."""
    out: list[list[Any]] = []
    for study_id in study_ids:
        study = studies.get(study_id)
        prefix = f"{study.text('title', lang)} · " if study is not None and len(study_ids) > 1 else ""
        out += [
            [prefix + str(row["label"]), row["code"], *(_cell(row["counts"][k]) for k, _l in COLUMNS)]
            for row in rows(study_id, period)
        ]
    return out


def _cell(n: int | None) -> int | str:
    """A download's cell: empty where the step does not apply, "<5" for a small count."""
    return "" if n is None else export_count(n)

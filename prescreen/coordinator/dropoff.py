"""Where families stop: the question each unfinished screening was left on, counted per question.

A screening still in progress and untouched for :data:`STALE` counts as stopped; one touched more
recently may be a family still typing, so it is left out. The question it stopped at is not
stored: the engine works it out from the saved answers (the next question the family was shown),
so the count follows the questionnaire's own rules (skipped questions, the respondent's voice).
Only counts leave this module, never an answer. In downloads a count under :data:`SMALL` reads
"<5": a small number beside a question could point at one family.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _

from .. import clock, studies
from ..store import get_db, queue_reports

#: How long a screening must be untouched before it counts as stopped.
STALE = timedelta(hours=24)
#: Counts under this are written "<5" in downloads.
SMALL = 5
#: The key of screenings that answered every question but never reached their result.
END = "end"


def stopped_at(study_id: str, period: queue_reports.Period, lang: str) -> list[tuple[str, str, int]]:
    """(question id, "N. question text" in *lang*, count) in questionnaire order.

    Questions nobody stopped at are left out: a questionnaire has dozens, and a chart of zeros
    would hide the few that matter on a phone.
    """
    study = studies.get(study_id)
    if study is None:
        return []
    flow = studies.flow(study)
    before = clock.iso(clock.now() - STALE)
    counts: dict[str, int] = {}
    for row in queue_reports.stalled(get_db(), study_id, before, period):
        # The day the family last answered: an age limit reads the month they answered in.
        day = datetime.fromisoformat(row["updated_at"]).astimezone(clock.TEAM_TZ).date()
        state = flow.run(row["answers"], row["respondent"] or "guardian", day)
        key = state.question.id if state.question is not None else END
        counts[key] = counts.get(key, 0) + 1
    items = [
        (q.id, f"{n}. {q.text('guardian', lang)}", counts[q.id])
        for n, q in enumerate(study.questions, 1)
        if counts.get(q.id)
    ]
    if counts.get(END):
        items.append((END, _("Answered every question but did not open the result"), counts[END]))
    return items


def export_count(n: int) -> int | str:
    """A count as a download shows it: "<5" under :data:`SMALL` (but 0 stays 0: it points at nobody)."""
    return "<5" if 0 < n < SMALL else n


def export_rows(study_ids: list[str], period: queue_reports.Period, lang: str) -> list[list[Any]]:
    """[question, count] rows for the downloads, small counts hidden; the study named when there are several."""
    rows: list[list[Any]] = []
    for study_id in study_ids:
        study = studies.get(study_id)
        prefix = f"{study.text('title', lang)} · " if study is not None and len(study_ids) > 1 else ""
        rows += [[prefix + label, export_count(n)] for _k, label, n in stopped_at(study_id, period, lang)]
    return rows

"""The medical categories volunteers follow (``questions/categories.csv``).

Read with the same sheet reader as the study sheets, so an encoding or header problem in this
file is reported exactly as it would be in ``questions.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cells import ID_RE
from .errors import StudyError, suggest
from .sheets import CATEGORY_COLUMNS, Collector, read_sheet
from .vocab import LANGS


@dataclass(frozen=True)
class Category:
    """A medical category volunteers can follow (``questions/categories.csv``)."""

    id: str
    parent: str
    labels: dict[str, str]

    def label(self, lang: str) -> str:
        return self.labels[lang]


def load_categories(path: str | Path) -> list[Category]:
    """Load the category taxonomy; parents must exist and come first.

    :raises StudyError: listing every problem.
    """
    path = Path(path)
    out = Collector()
    shown = f"{path.parent.name}/{path.name}"
    sheet = read_sheet(path, shown, "categories", out, CATEGORY_COLUMNS)
    categories: list[Category] = []
    ids: set[str] = set()
    for number, row in sheet.rows if sheet is not None else ():
        for column in ("id", "label::en", "label::zh"):
            if not row.get(column):
                lang = column.rsplit("::", 1)[-1]
                message = (
                    f"empty {lang} cell: every wording needs both Chinese and English"
                    if lang in LANGS
                    else "must not be empty"
                )
                out.add(shown, number, column, message)
        cid = row.get("id", "")
        if cid and not ID_RE.match(cid):
            out.add(shown, number, "id", f"'{cid}' must be lower-case letters, digits and '_'")
        if cid in ids:
            out.add(shown, number, "id", f"duplicate category id '{cid}'")
        parent = row.get("parent", "")
        if parent and parent not in ids:
            out.add(
                shown,
                number,
                "parent",
                f"unknown parent '{parent}'{suggest(parent, ids)} (a parent must come before its children)",
            )
        if cid:
            ids.add(cid)
            categories.append(Category(cid, parent, {"en": row.get("label::en", ""), "zh": row.get("label::zh", "")}))
    if out.problems:
        raise StudyError(out.problems)
    return categories

"""The four gettext domains are merged into one catalogue per locale at runtime.

When two areas use the same English string, only one Chinese translation can win, silently, on
both areas' pages; so a string shared by several domains must be translated the same everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations" / "zh" / "LC_MESSAGES"


def test_a_string_shared_by_several_areas_has_one_chinese_translation():
    found: dict[tuple[str, str], dict[str, object]] = defaultdict(dict)
    for po in sorted(TRANSLATIONS.glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if message.id:
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                found[(message.context or "", msgid)][po.stem] = message.string
    conflicts = {key: by_domain for key, by_domain in found.items() if len(set(map(str, by_domain.values()))) > 1}
    assert conflicts == {}

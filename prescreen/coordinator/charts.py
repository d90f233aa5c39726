"""Geometry for the inline SVG charts of the funnel and reports (server-drawn: no library, no script).

Widths and x positions are percentages of the chart's width, heights are pixels: the SVG then
fills a phone or a desktop column without scaling its text, which stays 14 px everywhere. Each
horizontal bar has its label on a line of its own above it, so a long Chinese reason is never cut.
"""

from __future__ import annotations

from typing import Any

#: A horizontal bar's row: its label's lines (each LINE px), then the bar (BAR px and a gap).
LINE = 18
BAR = 28
#: The widest bar leaves room for its count after it (percent of the chart's width).
LONGEST = 82.0
#: A label line holds about this many Chinese characters (a 358 px phone column at 14 px); Latin
#: letters count about half. SVG text does not wrap by itself, so long reasons are broken here.
LINE_WIDTH = 24.0


def wrap(label: str, width: float = LINE_WIDTH) -> list[str]:
    """*label* in lines of at most *width* (a CJK character counts 1, anything else 0.55), at spaces when it can."""
    lines: list[str] = []
    line, used = "", 0.0
    for char in str(label):
        cost = 1.0 if ord(char) > 0x2E80 else 0.55
        if used + cost > width and line:
            cut = line.rfind(" ")
            if " " in line and cut > len(line) // 2:
                lines.append(line[:cut])
                line = line[cut + 1 :]
                used = sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in line)
            else:
                lines.append(line)
                line, used = "", 0.0
        line += char
        used += cost
    return [*lines, line] if line else lines


def bars(items: list[tuple[str, Any, int]], top: int | None = None) -> list[dict[str, Any]]:
    """Horizontal bars for ``(key, label, count)`` items, scaled so *top* (default the largest) is the longest.

    Each bar has ``lines`` (its wrapped label), ``y`` (its top) and ``bar_y``; the last item's
    ``end`` is the chart's height.
    """
    top = max(top if top is not None else max((n for _k, _l, n in items), default=0), 1)
    out, y = [], 0
    for key, label, n in items:
        lines = wrap(str(label))
        bar_y = y + LINE * len(lines) + 4
        out.append(
            {
                "key": key,
                "label": label,
                "lines": [(line, y + LINE * (i + 1) - 4) for i, line in enumerate(lines)],
                "count": n,
                "width": round(n / top * LONGEST, 2),
                "y": y,
                "bar_y": bar_y,
                "end": bar_y + BAR,
            }
        )
        y = bar_y + BAR
    return out


def height(items: list[dict[str, Any]]) -> int:
    """The height of a bar chart drawn from :func:`bars`."""
    return items[-1]["end"] + 4 if items else 0


#: Room above the tallest column for its count (drawn 4 px above the column's top, 13 px text).
HEADROOM = 20


def columns(months: list[dict[str, Any]], series: tuple[str, ...], tall: int = 160) -> dict[str, Any]:
    """Grouped columns, one group per month, one column per name in *series* (pixels high, % wide).

    ``height`` is the axis line's y: *tall* plus :data:`HEADROOM`, so the tallest column's count is
    drawn inside the SVG rather than cut off above it.
    """
    top = max((m[s] for m in months for s in series), default=0) or 1
    slot = 100 / max(len(months), 1)
    width = slot * 0.8 / len(series)
    groups = []
    for i, month in enumerate(months):
        cols = []
        for j, name in enumerate(series):
            h = round(month[name] / top * tall, 1)
            x = i * slot + slot * 0.1 + j * width
            cols.append({"name": name, "x": round(x, 2), "w": round(width * 0.9, 2), "h": h, "y": HEADROOM + tall - h})
            cols[-1]["value"] = month[name]
            cols[-1]["mid"] = round(x + width * 0.45, 2)
        every = -(-len(months) // 6)  # at most six month names, so they never overlap on a phone
        shown = i % every == 0
        groups.append({"label": month["label"], "mid": round(i * slot + slot / 2, 2), "cols": cols, "named": shown})
    return {"groups": groups, "height": HEADROOM + tall, "top": top}


def share(part: int, whole: int) -> str:
    """*part* of *whole* as a whole percentage (``"—"`` when there is no whole)."""
    return f"{round(part * 100 / whole)}%" if whole else "—"

"""A source's printable A4 poster (PDF): the study in both languages and a large QR code of its link.

A CRC prints one per place (a clinic's notice board, a ward's door) from the sources page. What it
says comes from ``study.csv`` only (plain title, hospital, department, registry and ethics
approval numbers) and from the team's configured phone, never invented; the fixed lines are
gettext strings shown in Chinese over English whatever the admin's own language. The QR code
is drawn as vector squares (sharp at any size), and fpdf2 embeds only the glyphs used from the
Chinese font, so a poster stays a few tens of kilobytes. The share image for WeChat groups
(:mod:`prescreen.coordinator.share_image`) uses the same words and font.
"""

from __future__ import annotations

import re
import shutil
import subprocess  # nosec B404 (fc-list with a fixed argument list finds the installed Chinese font)
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF

from .. import team
from ..engine import Study

#: Where Debian's fonts-wqy-microhei puts its font (what `make run` and `make test` install).
WQY_MICROHEI = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
#: A4 in millimetres, its margin, and the printed QR code's side (6 cm is the least asked for).
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 16.0
QR_MM = 88.0
#: The band across the top: a calm dark blue that prints well in black and white too.
BAND_RGB = (22, 63, 115)
INK_RGB = (25, 25, 25)
GREY_RGB = (85, 85, 85)
#: Points to millimetres (fpdf2 takes font sizes in points, positions in mm).
PT = 25.4 / 72


@dataclass(frozen=True)
class Font:
    """A font file with Chinese in it, and which face of a collection (.ttc) to use."""

    path: str
    index: int = 0


@dataclass(frozen=True)
class PosterText:
    """Every line a poster or share image shows, in Chinese and English, gathered once per download."""

    link: str
    title: tuple[str, str]
    centre: tuple[str, str]
    department: tuple[str, str]
    kicker: tuple[str, str]
    invite: tuple[str, str]
    type_link: tuple[str, str]
    minutes: tuple[str, str]
    privacy: tuple[str, str]
    press: tuple[str, str]
    registry: tuple[str, str]
    ethics: tuple[str, str]
    phone: tuple[str, str]


def texts(study: Study, link: str) -> PosterText:
    """The poster's words for *study* and *link*: the study's own fields, the fixed lines in both languages."""
    meta = study.meta
    minutes = meta.get("minutes", "").strip()
    registry = meta.get("registry_id", "").strip()
    ethics = meta.get("ethics_approval", "").strip()
    phone = team.contact_of(study.id).phone

    def both(make: Callable[[], str]) -> tuple[str, str]:
        with force_locale("zh"):
            zh = make()
        with force_locale("en"):
            en = make()
        return zh, en

    return PosterText(
        link=link,
        title=(study.text("title", "zh"), study.text("title", "en")),
        centre=(meta.get("centre::zh", ""), meta.get("centre::en", "")),
        department=(meta.get("department::zh", ""), meta.get("department::en", "")),
        # TRANSLATORS: the first line of a printed poster above the study's title (a paediatric study).
        kicker=both(lambda: _("A clinical study looking for children and teens")),
        invite=both(
            # TRANSLATORS: on the poster, above its QR code; the pre-screen only says "may", never "can".
            lambda: _("Scan the code and answer a few questions to see if your child may be able to take part.")
        ),
        # TRANSLATORS: on the poster, under the QR code, before the link written out for typing.
        type_link=both(lambda: _("No camera? Type this link into your phone's browser:")),
        minutes=both(lambda: _("It takes about %(minutes)s minutes. You do not need to give a name.", minutes=minutes))
        if minutes
        else ("", ""),
        privacy=both(lambda: _("Your contact details go to the study team only if you choose to send them.")),
        # TRANSLATORS: on the share image for WeChat groups: WeChat opens a QR code when it is pressed and held.
        press=both(lambda: _("In WeChat, press and hold the code to open it.")),
        registry=both(lambda: _("Registry number %(id)s", id=registry)) if registry else ("", ""),
        ethics=both(lambda: _("Ethics approval number %(number)s", number=ethics)) if ethics else ("", ""),
        phone=both(lambda: _("Questions? Call %(phone)s", phone=phone)) if phone else ("", ""),
    )


# -- the font ---------------------------------------------------------------------------------
def find_font() -> Font | None:
    """The Chinese font for posters: ``POSTER_FONT`` if set (it must exist), else the one fontconfig knows.

    None when there is none: the download then says so instead of sending boxes for characters.
    """
    setting = current_app.config.get("POSTER_FONT")
    if setting:
        path = str(setting)
        return Font(path) if Path(path).is_file() else None
    return _installed_font()


@lru_cache(maxsize=1)
def _installed_font() -> Font | None:
    """fontconfig's Chinese fonts, WenQuanYi Micro Hei first (its .ttc's first face is the proportional one)."""
    found: list[Font] = []
    fc_list = shutil.which("fc-list")
    if fc_list:
        listed = subprocess.run(  # noqa: S603 (a fixed command, no shell, no user input) # nosec B603
            [fc_list, "-f", "%{file}|%{index}\n", ":lang=zh"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        for line in listed.splitlines():
            path, _sep, index = line.partition("|")
            if path.lower().endswith((".ttf", ".ttc")) and index.isdigit():
                found.append(Font(path, int(index)))
    found.sort(key=lambda f: (f.path != WQY_MICROHEI, "microhei" not in f.path.lower(), f.path, f.index))
    if found:
        return found[0]
    return Font(WQY_MICROHEI) if Path(WQY_MICROHEI).is_file() else None


# -- wrapping Chinese and English -------------------------------------------------------------
#: One breakable piece: a Chinese character with the punctuation that may not start a line, or a
#: Latin word with its trailing space.
_PIECE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff][，。、；：！？）」』”]*|[^\s\u2e80-\u9fff\uf900-\ufaff]+\s*|\s+")


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """*text* in lines no wider than *width*, broken between Chinese characters or between words."""
    lines: list[str] = []
    line = ""
    for piece in _PIECE.findall(text):
        if line and measure((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    if line.strip():
        lines.append(line.rstrip())
    return lines


def balanced(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Like :func:`wrap`, but with lines of even length (no title ends with one lonely character)."""
    lines = wrap(text, width, measure)
    narrow = width
    while len(lines) > 1 and narrow > width / 2:
        narrow -= width / 40
        fewer = wrap(text, narrow, measure)
        if len(fewer) > len(lines):
            break
        lines = fewer
    return lines


def fitted(
    text: str, width: float, max_lines: int, sizes: range, measure: Callable[[str, int], float]
) -> tuple[int, list[str]]:
    """The largest size in *sizes* (tried large to small) at which *text* fits in *max_lines*, and its lines."""
    size = sizes[0]
    for size in sizes:
        lines = balanced(text, width, lambda s, size=size: measure(s, size))  # type: ignore[misc]
        if len(lines) <= max_lines:
            return size, lines
    return size, balanced(text, width, lambda s: measure(s, size))


def qr_matrix(link: str) -> tuple[tuple[int, ...], ...]:
    """The QR code of *link* as rows of 0/1 (error correction M, like the PNG download), quiet zone excluded."""
    return tuple(tuple(row) for row in segno.make(link, error="m", micro=False).matrix)


# -- the poster -------------------------------------------------------------------------------
class PosterOverflow(RuntimeError):
    """The poster's words did not fit on one A4 page (a study whose title is far too long)."""


def poster_pdf(text: PosterText, font: Font) -> bytes:
    """The A4 poster: hospital band, title, invitation, QR code and its link, then the small print."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(f"{text.title[0]} / {text.title[1]}")
    pdf.set_lang("zh-CN")
    pdf.set_creator("prescreen")
    pdf.add_font("poster", fname=font.path, collection_font_number=font.index)
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    def measure(s: str, size: float) -> float:
        pdf.set_font("poster", size=size)
        return pdf.get_string_width(s)

    def lines(rows: list[str], size: float, rgb: tuple[int, int, int], gap: float = 1.5) -> None:
        pdf.set_font("poster", size=size)
        pdf.set_text_color(*rgb)
        for row in rows:
            pdf.set_x(MARGIN)
            pdf.cell(width, size * PT * 1.3, row, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    def para(s: str, size: float, rgb: tuple[int, int, int] = INK_RGB, gap: float = 1.5) -> None:
        if s:
            lines(wrap(s, width, lambda t: measure(t, size)), size, rgb, gap)

    # The band: which hospital (and department, once the sheet names it).
    band_lines = [(text.centre[0], 20.0), (text.department[0], 13.0), (text.centre[1], 11.0), (text.department[1], 9.5)]
    band_lines = [(s, size) for s, size in band_lines if s]
    band_h = 10 + sum(size * PT * 1.35 for _s, size in band_lines)
    pdf.set_fill_color(*BAND_RGB)
    pdf.rect(0, 0, PAGE_W, band_h, style="F")
    pdf.set_y(6)
    for s, size in band_lines:
        lines([s], size, (255, 255, 255), gap=0)

    pdf.set_y(band_h + 8)
    para(text.kicker[0], 15, BAND_RGB, gap=0)
    para(text.kicker[1], 11, BAND_RGB, gap=5)
    size, rows = fitted(text.title[0], width, 3, range(30, 17, -1), measure)
    lines(rows, size, INK_RGB, gap=1)
    size, rows = fitted(text.title[1], width, 3, range(18, 11, -1), measure)
    lines(rows, size, INK_RGB, gap=5)
    para(text.invite[0], 14, INK_RGB, gap=0)
    para(text.invite[1], 11, GREY_RGB, gap=3)

    qr_top = pdf.get_y()
    draw_qr(pdf, qr_matrix(text.link), (PAGE_W - QR_MM) / 2, qr_top, QR_MM)
    pdf.set_y(qr_top + QR_MM + 3)
    para(text.type_link[0], 10, GREY_RGB, gap=0)
    para(text.type_link[1], 9, GREY_RGB, gap=1)
    para(text.link, 15, INK_RGB, gap=5)
    para(text.minutes[0], 12, INK_RGB, gap=0)
    para(text.privacy[0], 12, INK_RGB, gap=1.5)
    para(text.minutes[1], 10, GREY_RGB, gap=0)
    para(text.privacy[1], 10, GREY_RGB, gap=4)

    # The small print, a rule above it: registry (and ethics approval) numbers, the team's phone.
    small = [t for t in (text.registry, text.ethics, text.phone) if t[0]]
    small_h = sum(2 * 9 * PT * 1.3 for _t in small)
    top = max(pdf.get_y(), PAGE_H - MARGIN - small_h)
    pdf.set_draw_color(*GREY_RGB)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, top - 2, PAGE_W - MARGIN, top - 2)
    pdf.set_y(top)
    for zh, en in small:
        para(zh, 9, GREY_RGB, gap=0)
        para(en, 9, GREY_RGB, gap=0)
    if pdf.get_y() > PAGE_H - MARGIN / 2:
        raise PosterOverflow(f"poster text runs {pdf.get_y() - PAGE_H + MARGIN / 2:.0f} mm past the page")
    return bytes(pdf.output())


def draw_qr(pdf: FPDF, matrix: tuple[tuple[int, ...], ...], x: float, y: float, side: float) -> None:
    """The QR code as black squares on white, *side* mm including a 4-module quiet zone.

    Runs of dark modules in a row are one rectangle each, a row's height, so the file stays small.
    """
    modules = len(matrix) + 8
    step = side / modules
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, side, side, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                # a hair wider and taller, so anti-aliased viewers show no white seams between runs
                pdf.rect(x + (start + 4) * step, y + (r + 4) * step, (c - start) * step + 0.01, step + 0.01, style="F")
            else:
                c += 1

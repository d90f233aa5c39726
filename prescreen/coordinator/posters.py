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
#: A4 in millimetres and its margin; the printed QR code's side (6 cm is the least asked for) and
#: the space above and below it.
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 16.0
QR_MIN_MM, QR_MAX_MM, QR_GAP = 60.0, 100.0, 3.0
#: The band across the top: a calm dark blue that prints well in black and white too.
BAND_RGB = (22, 63, 115)
INK_RGB = (25, 25, 25)
GREY_RGB = (85, 85, 85)
#: Points to millimetres (fpdf2 takes font sizes in points, positions in mm).
PT = 25.4 / 72
#: Line height as a multiple of the font size.
LEADING = 1.3


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
    """The poster's words leave less than :data:`QR_MIN_MM` for the QR code (a title far too long)."""


@dataclass(frozen=True)
class Block:
    """Centred lines of one size and colour, and the space after them (mm)."""

    rows: tuple[str, ...]
    size: float
    rgb: tuple[int, int, int] = INK_RGB
    gap: float = 1.5

    @property
    def height(self) -> float:
        return len(self.rows) * self.size * PT * LEADING + self.gap


def poster_pdf(text: PosterText, font: Font) -> bytes:
    """The A4 poster: hospital band, title, invitation, QR code and its link, then the small print.

    The words are laid out first; the QR code then takes the height left, from 6 to 10 cm.
    """
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

    def para(s: str, size: float, rgb: tuple[int, int, int] = INK_RGB, gap: float = 1.5) -> Block:
        return Block(tuple(wrap(s, width, lambda t: measure(t, size))), size, rgb, gap)

    def title(s: str, sizes: range, gap: float) -> Block:
        size, rows = fitted(s, width, 3, sizes, measure)
        return Block(tuple(rows), size, INK_RGB, gap)

    # The band: which hospital (and department, once the sheet names it).
    white = (255, 255, 255)
    band = [para(text.centre[0], 20, white, 0), para(text.department[0], 13, white, 0)]
    band += [para(text.centre[1], 11, white, 0), para(text.department[1], 9.5, white, 0)]
    heading = [para(text.kicker[0], 15, BAND_RGB, 0), para(text.kicker[1], 11, BAND_RGB, 5)]
    invite = [para(text.invite[0], 14, INK_RGB, 0), para(text.invite[1], 11, GREY_RGB, 3)]
    below = [
        para(text.type_link[0], 10, GREY_RGB, 0),
        para(text.type_link[1], 9, GREY_RGB, 1),
        para(text.link, 15, INK_RGB, 5),
        para(text.minutes[0], 12, INK_RGB, 0),
        para(text.privacy[0], 12, INK_RGB, 1.5),
        para(text.minutes[1], 10, GREY_RGB, 0),
        para(text.privacy[1], 10, GREY_RGB, 0),
    ]
    # The small print under a rule: registry (and ethics approval) numbers, the team's phone.
    small = [para("  ·  ".join(pair), 9, GREY_RGB, 0) for pair in (text.registry, text.ethics, text.phone) if pair[0]]

    band_h = 12 + sum(b.height for b in band)
    small_top = PAGE_H - MARGIN - sum(b.height for b in small)
    # A long title is set smaller (down to 18 and 11 pt) rather than shrink the QR code under 6 cm.
    for zh_size, en_size in ((30, 18), (24, 15), (18, 11)):
        titles = [title(text.title[0], range(zh_size, 17, -1), 1), title(text.title[1], range(en_size, 10, -1), 5)]
        above = heading + titles + invite
        free = small_top - 6 - (band_h + 8) - sum(b.height for b in above + below) - 2 * QR_GAP
        qr_mm = min(QR_MAX_MM, free)
        if qr_mm >= QR_MIN_MM:
            break
    else:
        raise PosterOverflow(f"the QR code would be {qr_mm:.0f} mm, under {QR_MIN_MM:.0f} mm: shorten the title")
    spare = (free - qr_mm) / 3  # what the code leaves is shared out above, around and below it

    pdf.set_fill_color(*BAND_RGB)
    pdf.rect(0, 0, PAGE_W, band_h, style="F")
    pdf.set_y(6)
    draw(pdf, band, width)
    pdf.set_y(band_h + 8 + spare)
    draw(pdf, above, width)
    qr_top = pdf.get_y() + QR_GAP
    draw_qr(pdf, qr_matrix(text.link), (PAGE_W - qr_mm) / 2, qr_top, qr_mm)
    pdf.set_y(qr_top + qr_mm + QR_GAP)
    draw(pdf, below, width)
    pdf.set_draw_color(*GREY_RGB)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, small_top - 3, PAGE_W - MARGIN, small_top - 3)
    pdf.set_y(small_top)
    draw(pdf, small, width)
    return bytes(pdf.output())


def draw(pdf: FPDF, blocks: list[Block], width: float) -> None:
    """Each block's lines centred between the margins, from the current height down."""
    for block in blocks:
        pdf.set_font("poster", size=block.size)
        pdf.set_text_color(*block.rgb)
        for row in block.rows:
            pdf.set_x(MARGIN)
            pdf.cell(width, block.size * PT * LEADING, row, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(block.gap)


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

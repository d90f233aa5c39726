"""A source's share image (PNG, 1080×1350, a phone's portrait) for parents' WeChat groups.

The same words as the poster (:mod:`prescreen.coordinator.posters`) in the same font, drawn with
Pillow: hospital, the study's plain title in Chinese and English, a QR code that WeChat opens
when a parent presses and holds it, the link written out, and the registry number.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from .posters import BAND_RGB, GREY_RGB, INK_RGB, Font, PosterText, fitted, qr_matrix, wrap

#: Pixels: a portrait that fills a phone's screen in a chat and keeps the QR code large.
WIDTH, HEIGHT, MARGIN = 1080, 1350, 60
#: The QR code's side in pixels, quiet zone included (about half the width: WeChat reads it at once).
QR_PX = 500


def share_png(text: PosterText, font: Font) -> bytes:
    """The share image of *text*'s link, as PNG bytes (taller than 1350 only for a very long title)."""
    image = Image.new("RGB", (WIDTH, 2 * HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    faces: dict[int, ImageFont.FreeTypeFont] = {}
    width = WIDTH - 2 * MARGIN

    def face(size: int) -> ImageFont.FreeTypeFont:
        if size not in faces:
            faces[size] = ImageFont.truetype(font.path, size, index=font.index)
        return faces[size]

    def measure(s: str, size: int) -> float:
        return draw.textlength(s, font=face(size))

    def lines(rows: list[str], size: int, y: int, fill: tuple[int, int, int], gap: int = 0) -> int:
        for row in rows:
            draw.text((WIDTH // 2, y), row, font=face(size), fill=fill, anchor="ma")
            y += round(size * 1.3)
        return y + gap

    def para(s: str, size: int, y: int, fill: tuple[int, int, int] = INK_RGB, gap: int = 0) -> int:
        return lines(wrap(s, width, lambda t: measure(t, size)), size, y, fill, gap) if s else y

    band = [(text.centre[0], 44), (text.department[0], 30), (text.centre[1], 26), (text.department[1], 22)]
    band = [(s, size) for s, size in band if s]
    band_h = 40 + sum(round(size * 1.3) for _s, size in band)
    draw.rectangle((0, 0, WIDTH, band_h), fill=BAND_RGB)
    y = 24
    for s, size in band:
        y = lines([s], size, y, (255, 255, 255))

    y = band_h + 34
    size, rows = fitted(text.title[0], width, 3, range(58, 39, -2), measure)
    y = lines(rows, size, y, INK_RGB, gap=8)
    size, rows = fitted(text.title[1], width, 3, range(36, 25, -2), measure)
    y = lines(rows, size, y, GREY_RGB, gap=22)
    y = para(text.invite[0], 30, y, BAND_RGB)
    y = para(text.invite[1], 24, y, BAND_RGB, gap=16)

    qr = qr_image(text.link, QR_PX)
    image.paste(qr, ((WIDTH - qr.width) // 2, y))
    y += qr.height + 10
    y = para(text.press[0], 34, y, BAND_RGB)
    y = para(text.press[1], 26, y, BAND_RGB, gap=14)
    y = para(text.link, 30, y, INK_RGB, gap=14)
    y = para(text.minutes[0], 26, y, GREY_RGB)
    y = para(text.minutes[1], 22, y, GREY_RGB, gap=10)

    small = " · ".join(s for s in (text.registry[0], text.registry[1]) if s)
    y = para(small, 24, max(y, HEIGHT - MARGIN - 32), GREY_RGB)
    out = io.BytesIO()
    image.crop((0, 0, WIDTH, max(HEIGHT, y + MARGIN // 2))).save(out, format="PNG", optimize=True)
    return out.getvalue()


def qr_image(link: str, side: int) -> Image.Image:
    """The QR code of *link* as a black-and-white image about *side* pixels wide, whole pixels per module."""
    matrix = qr_matrix(link)
    modules = len(matrix) + 8  # with the 4-module quiet zone on each side
    scale = max(1, side // modules)
    qr = Image.new("1", (modules, modules), 1)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                qr.putpixel((c + 4, r + 4), 0)
    return qr.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)

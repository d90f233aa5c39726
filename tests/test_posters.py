"""A source's poster (A4 PDF) and share image (PNG), and taking a source out of use.

The QR codes are read as a phone would read the printed page: the PDF is rendered by PDFium at
150 dpi and the share image decoded by Pillow, and zxing-cpp reads the grey pixels. What it reads
is then opened as a family would, and the screening that browser starts must record the source.
"""

from __future__ import annotations

import io
import math
import re
from urllib.parse import urlsplit

import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from prescreen import studies
from prescreen.store import connect
from prescreen.store import sources as source_store
from tests.helpers.public import BASE, STUDY, rows, start
from tests.helpers.staff import Staff

PUBLIC_URL = "https://prescreen.pumch.example"
DPI = 150


@pytest.fixture
def admin(make_app) -> tuple[Flask, FlaskClient]:  # type: ignore[no-untyped-def]
    """An app whose links start with PUBLIC_URL, and a signed-in admin's browser."""
    app = make_app(PUBLIC_URL=PUBLIC_URL)
    client = app.test_client()
    staff = Staff(app)
    staff.add("admin@pumch.example", role="admin")
    staff.login(client, "admin@pumch.example")
    return app, client


def add_source(app: Flask, study_id: str = STUDY, label: str = "儿科门诊海报") -> source_store.Source:
    db = connect(app.config["DATABASE"])
    try:
        return source_store.add(db, study_id, label, "cli")
    finally:
        db.close()


def read_qr(grey: bytes, width: int, height: int) -> zxingcpp.Barcode:
    """The one QR code zxing-cpp finds in 8-bit grey pixels."""
    found = zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))
    assert len(found) == 1, found
    return found[0]


def render_page(page: pdfium.PdfPage) -> tuple[bytes, int, int]:
    """Page pixels at :data:`DPI`, one grey byte each (the bitmap's row padding dropped)."""
    bitmap = page.render(scale=DPI / 72, grayscale=True)
    assert bitmap.n_channels == 1
    raw = bytes(bitmap.buffer)
    grey = b"".join(raw[y * bitmap.stride : y * bitmap.stride + bitmap.width] for y in range(bitmap.height))
    return grey, bitmap.width, bitmap.height


def follow_and_start(app: Flask, link: str) -> None:
    """Open *link* in a fresh browser, as a family scanning the code, and start the screening."""
    family = app.test_client()
    opened = family.get(urlsplit(link).path)
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"{BASE}/")
    start(family)


def test_the_poster_is_one_a4_page_whose_qr_code_opens_the_source_and_tags_the_screening(admin) -> None:  # type: ignore[no-untyped-def]
    app, client = admin
    source = add_source(app)
    response = client.get(f"/coordinator/sources/{source.id}/poster.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition and f"poster-{STUDY}-{source.code}.pdf" in disposition
    assert len(response.data) < 100_000  # only the glyphs used are embedded, not the 5 MB font

    pdf = pdfium.PdfDocument(response.data)
    assert len(pdf) == 1
    page = pdf[0]
    width_mm, height_mm = (round(side * 25.4 / 72) for side in page.get_size())
    assert (width_mm, height_mm) == (210, 297)
    grey, width, height = render_page(page)
    code = read_qr(grey, width, height)
    link = f"{PUBLIC_URL}/q/{source.code}"
    assert code.text == link
    top_left, top_right = code.position.top_left, code.position.top_right
    printed_mm = math.dist((top_left.x, top_left.y), (top_right.x, top_right.y)) / DPI * 25.4
    assert printed_mm >= 60  # finder pattern to finder pattern: the code itself is at least 6 cm wide

    follow_and_start(app, code.text)
    assert rows(app, "SELECT source_id FROM screenings") == [(source.id,)]

    # What the poster says: the study's own words in both languages, and the link for typing.
    study = studies.of(app).studies[STUDY]
    text = page.get_textpage().get_text_range()
    squeezed = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", study.text("title", "zh")) in squeezed
    assert re.sub(r"\s+", " ", study.text("title", "en")) in re.sub(r"\s+", " ", text)
    assert study.meta["registry_id"] in text and study.text("centre", "zh") in text
    assert study.text("centre", "en") in text and link in text
    assert "临床试验注册号" in text and "扫码" in text  # the fixed lines are in Chinese too, not English twice


def test_the_share_image_is_a_phone_portrait_whose_qr_code_opens_the_source(admin) -> None:  # type: ignore[no-untyped-def]
    app, client = admin
    source = add_source(app, label="家长微信群 A")
    response = client.get(f"/coordinator/sources/{source.id}/share.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert f"share-{STUDY}-{source.code}.png" in response.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(response.data)).convert("L")
    assert image.width == 1080 and image.height >= 1350
    code = read_qr(image.tobytes(), image.width, image.height)
    assert code.text == f"{PUBLIC_URL}/q/{source.code}"
    follow_and_start(app, code.text)
    assert rows(app, "SELECT source_id FROM screenings") == [(source.id,)]


def test_the_sources_page_links_every_download_for_each_source(admin) -> None:  # type: ignore[no-untyped-def]
    app, client = admin
    source = add_source(app)
    page = client.get("/coordinator/sources?lang=zh").get_data(as_text=True)
    for name in ("qr.png", "poster.pdf", "share.png"):
        assert f'href="/coordinator/sources/{source.id}/{name}"' in page
    assert "打印用海报" in page and "微信群分享图片" in page


def test_without_a_chinese_font_the_download_explains_instead_of_printing_boxes(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(PUBLIC_URL=PUBLIC_URL, POSTER_FONT="/nonexistent/no-such-font.ttc")
    client = app.test_client()
    Staff(app).add("admin@pumch.example", role="admin")
    Staff(app).login(client, "admin@pumch.example")
    source = add_source(app)
    for name in ("poster.pdf", "share.png"):
        response = client.get(f"/coordinator/sources/{source.id}/{name}?lang=zh")
        assert response.status_code == 303 and response.headers["Location"].endswith("/coordinator/sources")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "需要中文字体" in page and "fonts-wqy-microhei" in page


def test_downloads_are_for_admins_and_a_source_of_a_study_they_cannot_see_is_not_found(admin) -> None:  # type: ignore[no-untyped-def]
    app, client = admin
    gone = add_source(app, study_id="study-no-longer-loaded")
    for name in ("poster.pdf", "share.png", "qr.png"):
        assert client.get(f"/coordinator/sources/{gone.id}/{name}").status_code == 404
        assert client.get(f"/coordinator/sources/99999/{name}").status_code == 404
    token = csrf(client)
    post = client.post(f"/coordinator/sources/{gone.id}/active", data={"csrf_token": token, "action": "deactivate"})
    assert post.status_code == 404
    assert rows(app, "SELECT active FROM sources WHERE id = ?", gone.id) == [(1,)]

    coordinator = app.test_client()
    Staff(app).add("coord@pumch.example", role="coordinator")
    Staff(app).login(coordinator, "coord@pumch.example")
    source = add_source(app)
    for name in ("poster.pdf", "share.png"):
        assert coordinator.get(f"/coordinator/sources/{source.id}/{name}").status_code == 403


def csrf(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/coordinator/sources").get_data(as_text=True))
    assert match
    return match.group(1)


def test_taking_a_source_out_of_use_and_back_from_the_sources_page(admin) -> None:  # type: ignore[no-untyped-def]
    app, client = admin
    source = add_source(app)
    page = client.get("/coordinator/sources?lang=zh").get_data(as_text=True)
    assert "使用中" in page and 'value="deactivate"' in page
    # Without the CSRF token nothing changes.
    assert client.post(f"/coordinator/sources/{source.id}/active", data={"action": "deactivate"}).status_code == 400
    assert client.post(f"/coordinator/sources/{source.id}/active", data={"csrf_token": csrf(client)}).status_code == 400
    assert rows(app, "SELECT active FROM sources") == [(1,)]

    switch = f"/coordinator/sources/{source.id}/active"
    off = client.post(switch, data={"csrf_token": csrf(client), "action": "deactivate"})
    assert off.status_code == 303
    page = client.get("/coordinator/sources?lang=zh").get_data(as_text=True)
    assert "已停用" in page and 'value="activate"' in page and 'value="deactivate"' not in page
    # Its link now opens the home page, and the screening that browser starts records no source.
    family = app.test_client()
    assert urlsplit(family.get(f"/q/{source.code}").headers["Location"]).path == "/"
    start(family)
    assert rows(app, "SELECT source_id FROM screenings") == [(None,)]

    on = client.post(switch, data={"csrf_token": csrf(client), "action": "activate"})
    assert on.status_code == 303
    follow_and_start(app, f"{PUBLIC_URL}/q/{source.code}")
    assert rows(app, "SELECT source_id FROM screenings ORDER BY id") == [(None,), (source.id,)]
    ((admin_id,),) = rows(app, "SELECT id FROM users WHERE email = 'admin@pumch.example'")
    audited = rows(app, "SELECT actor, action, record_id FROM audit WHERE action LIKE 'source.%' ORDER BY id")
    actor = f"user:{admin_id}"
    assert audited == [
        ("cli", "source.create", str(source.id)),
        (actor, "source.deactivate", str(source.id)),
        (actor, "source.activate", str(source.id)),
    ]
    # The audit trail says it in words.
    trail = client.get("/coordinator/audit?lang=zh").get_data(as_text=True)
    assert "停用来源" in trail and "重新启用来源" in trail


def test_cli_deactivates_and_activates_a_source_by_its_code(admin) -> None:  # type: ignore[no-untyped-def]
    app, _client = admin
    source = add_source(app)
    runner = app.test_cli_runner()
    off = runner.invoke(args=["sources", "deactivate", source.code.lower()])
    assert off.exit_code == 0, off.output
    assert f"{source.code}\t{STUDY}\t0\tinactive" in runner.invoke(args=["sources", "list"]).output
    again = runner.invoke(args=["sources", "deactivate", source.code])
    assert again.exit_code == 0 and "already" in again.output
    assert runner.invoke(args=["sources", "deactivate", "ZZZZZZ"]).exit_code != 0
    family = app.test_client()
    assert urlsplit(family.get(f"/q/{source.code}").headers["Location"]).path == "/"

    on = runner.invoke(args=["sources", "activate", source.code])
    assert on.exit_code == 0, on.output
    assert "\tactive\t" in runner.invoke(args=["sources", "list"]).output
    audited = rows(app, "SELECT actor, action FROM audit WHERE action IN ('source.deactivate', 'source.activate')")
    assert audited == [("cli", "source.deactivate"), ("cli", "source.activate")]

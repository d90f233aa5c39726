"""Sources and QR codes: a ``/q/`` link opens the study page and tags the screening it starts.

The QR code is checked the way a phone would read it: the PNG is decoded (with the standard
library's zlib) and read by zxing-cpp, and must hold exactly the source's ``/q/`` link.
"""

from __future__ import annotations

import re
import struct
import zlib

import zxingcpp
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from prescreen.store import connect
from prescreen.store import sources as source_store
from prescreen.web.logsafe import redact
from tests.helpers.public import BASE, STUDY, raw_connection, rows, start
from tests.helpers.staff import Staff

PUBLIC_URL = "https://prescreen.pumch.example"


def add_source(app: Flask, label: str = "儿科门诊海报") -> source_store.Source:
    """A source made as the CLI makes it (the store, actor ``cli``)."""
    db = connect(app.config["DATABASE"])
    try:
        return source_store.add(db, STUDY, label, "cli")
    finally:
        db.close()


def test_q_link_opens_the_study_and_tags_the_screening(app: Flask, client: FlaskClient) -> None:
    source = add_source(app)
    response = client.get(f"/q/{source.code}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{BASE}/")
    assert client.get(response.headers["Location"]).status_code == 200
    start(client)
    assert rows(app, "SELECT source_id FROM screenings") == [(source.id,)]
    # A browser that never opened the link starts an untagged screening.
    start(app.test_client())
    assert rows(app, "SELECT source_id FROM screenings ORDER BY id") == [(source.id,), (None,)]


def test_a_source_code_stays_out_of_log_lines() -> None:
    assert redact('"GET /q/K7PX2M HTTP/1.1" 303') == '"GET /q/… HTTP/1.1" 303'


def test_unknown_or_inactive_code_goes_home_and_tags_nothing(app: Flask, client: FlaskClient) -> None:
    source = add_source(app)
    with raw_connection(app) as conn:
        conn.execute("UPDATE sources SET active = 0 WHERE id = ?", [source.id])
    for code in ("ZZZZZZ", source.code, "x" * 40):
        response = client.get(f"/q/{code}")
        assert response.status_code == 303
        assert response.headers["Location"] in ("/", "http://localhost/")
    start(client)
    assert rows(app, "SELECT source_id FROM screenings") == [(None,)]


def test_cli_add_and_list(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(PUBLIC_URL=PUBLIC_URL)
    runner: FlaskCliRunner = app.test_cli_runner()
    added = runner.invoke(args=["sources", "add", STUDY, "家长微信群 A"])
    assert added.exit_code == 0, added.output
    code, link = added.output.split()
    assert re.fullmatch(f"[{source_store.ALPHABET}]{{6}}", code)
    assert link == f"{PUBLIC_URL}/q/{code}"
    listed = runner.invoke(args=["sources", "list", STUDY])
    assert listed.exit_code == 0
    assert code in listed.output and "家长微信群 A" in listed.output and link in listed.output
    assert runner.invoke(args=["sources", "list", "no-such-study"]).output == ""
    assert runner.invoke(args=["sources", "add", "no-such-study", "x"]).exit_code != 0


def test_page_is_for_admins_only(app: Flask, client: FlaskClient, staff: Staff) -> None:
    staff.add("coord@pumch.example", role="coordinator")
    staff.login(client, "coord@pumch.example")
    assert client.get("/coordinator/sources").status_code == 403
    source = add_source(app)
    assert client.get(f"/coordinator/sources/{source.id}/qr.png").status_code == 403


def test_admin_adds_a_source_and_downloads_its_qr_code(make_app, csrf_token) -> None:  # type: ignore[no-untyped-def]
    app = make_app(PUBLIC_URL=PUBLIC_URL)
    client = app.test_client()
    staff = Staff(app)
    staff.add("admin@pumch.example", role="admin")
    staff.login(client, "admin@pumch.example")
    token = csrf_token(client, "/coordinator/sources?lang=zh")
    page = client.get("/coordinator/sources?lang=zh").get_data(as_text=True)
    assert "来源与二维码" in page
    too_long = client.post("/coordinator/sources", data={"csrf_token": token, "study": STUDY, "label": "x" * 61})
    assert too_long.status_code == 400
    assert client.post("/coordinator/sources", data={"study": STUDY, "label": "海报"}).status_code == 400  # no CSRF
    added = client.post("/coordinator/sources", data={"csrf_token": token, "study": STUDY, "label": "儿科门诊海报"})
    assert added.status_code == 303
    ((source_id, code),) = rows(app, "SELECT id, code FROM sources")
    ((admin_id,),) = rows(app, "SELECT id FROM users")
    audited = rows(app, "SELECT actor, record_id FROM audit WHERE action = 'source.create'")
    assert audited == [("user:" + str(admin_id), str(source_id))]
    page = client.get("/coordinator/sources").get_data(as_text=True)
    assert "儿科门诊海报" in page and f"{PUBLIC_URL}/q/{code}" in page
    # One screening from this source shows in its count.
    family = app.test_client()
    family.get(f"/q/{code}")
    start(family)
    assert re.search(r"<td>1</td>", client.get("/coordinator/sources").get_data(as_text=True))

    png = client.get(f"/coordinator/sources/{source_id}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "attachment" in png.headers["Content-Disposition"]
    assert read_qr(png.data) == f"{PUBLIC_URL}/q/{code}"


# -- reading a PNG without Pillow ------------------------------------------------------------
def read_qr(png: bytes) -> str:
    """The text of the one QR code in *png*, as zxing-cpp reads it from 8-bit grey pixels."""
    width, height, grey = png_to_grey(png)
    found = zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))
    assert len(found) == 1, found
    return found[0].text


def png_to_grey(png: bytes) -> tuple[int, int, bytes]:
    """Decode a non-interlaced grey or palette PNG (what segno writes) to one byte per pixel."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, palette = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert colour in (0, 3) and interlace == 0 and depth <= 8
        elif kind == b"PLTE":
            palette = [sum(body[i : i + 3]) // 3 for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            data += body
    raw = zlib.decompress(data)
    stride = (width * depth + 7) // 8
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            a = cur[i - 1] if i else 0
            b, c = prev[i], prev[i - 1] if i else 0
            if kind == 1:
                cur[i] = (cur[i] + a) & 255
            elif kind == 2:
                cur[i] = (cur[i] + b) & 255
            elif kind == 3:
                cur[i] = (cur[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        per_byte, mask = 8 // depth, (1 << depth) - 1
        for x in range(width):
            value = (cur[x // per_byte] >> (8 - depth * (x % per_byte + 1))) & mask
            out.append(palette[value] if palette is not None else value * 255 // mask)
        prev = cur
    return width, height, bytes(out)

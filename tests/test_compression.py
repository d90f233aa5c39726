"""The stylesheet and script go out gzipped to browsers that ask; pages never do (BREACH)."""

from __future__ import annotations

import gzip
from pathlib import Path

from flask.testing import FlaskClient

STATIC = Path(__file__).resolve().parent.parent / "prescreen" / "static"


def test_css_and_js_are_gzipped_for_a_browser_that_accepts_it(client: FlaskClient) -> None:
    for name in ("app.css", "chat.js"):
        with client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip, deflate, br"}) as response:
            assert response.status_code == 200
            assert response.headers["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in response.headers["Vary"] and response.headers["ETag"].endswith(':gzip"')
            size = int(response.headers["Content-Length"])
            assert size == len(response.data) < (STATIC / name).stat().st_size / 2
            assert gzip.decompress(response.data) == (STATIC / name).read_bytes()
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_browser_that_does_not_accept_gzip_gets_the_file_as_it_is(client: FlaskClient) -> None:
    with client.get("/static/app.css", headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        assert response.data == (STATIC / "app.css").read_bytes()


def test_a_cached_stylesheet_is_revalidated_with_304(client: FlaskClient) -> None:
    with client.get("/static/app.css", headers={"Accept-Encoding": "gzip"}) as first:
        tag = first.headers["ETag"]
    with client.get("/static/app.css", headers={"Accept-Encoding": "gzip", "If-None-Match": tag}) as again:
        assert again.status_code == 304 and again.data == b""


def test_pages_are_never_compressed_they_hold_tokens_next_to_visitor_input(client: FlaskClient) -> None:
    for path in ("/", "/s/pumch-pediatric-sjogren/", "/s/pumch-pediatric-sjogren/consent?as=guardian", "/staff/login"):
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, path
        assert "Content-Encoding" not in response.headers, path
        assert response.data.lstrip().lower().startswith(b"<!doctype html"), path

"""Stylesheet and script: content-hashed URLs the browser keeps for a year (prescreen.web.assets)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.helpers.public import BASE, start

STATIC = Path(__file__).resolve().parent.parent / "prescreen" / "static"
ASSET_RE = re.compile(r'(?:href|src)="(/static/([a-z.]+)\?v=([0-9a-f]+))"')


def test_pages_name_each_asset_by_a_hash_of_its_content(client):
    start(client)
    assets = {}
    for path in ("/", f"{BASE}/", f"{BASE}/chat"):
        assets.update({name: (url, version) for url, name, version in ASSET_RE.findall(client.get(path).text)})
    assert set(assets) == {"app.css", "chat.js"}
    for name, (_url, version) in assets.items():
        assert version == hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def test_a_versioned_asset_is_cached_for_a_year_whatever_the_cookie(client):
    start(client)  # the session cookie is set: the asset must still not vary by it
    (url, _name, _version), *_ = ASSET_RE.findall(client.get(f"{BASE}/chat").text)
    with client.get(url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
        assert response.cache_control.public
        assert "cookie" not in response.headers.get("Vary", "").lower()
        assert response.headers["Content-Encoding"] == "gzip"


def test_an_unversioned_or_stale_asset_url_is_still_checked_every_time(client):
    for url in ("/static/app.css", "/static/app.css?v=0123456789ab", "/static/app.css?v="):
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.cache_control.no_cache and not response.cache_control.max_age, url
            assert not response.cache_control.immutable


def test_pages_themselves_are_never_cached(client):
    start(client)
    for path in (f"{BASE}/chat", f"{BASE}/consent?as=guardian"):
        assert client.get(path).headers["Cache-Control"] == "no-store"

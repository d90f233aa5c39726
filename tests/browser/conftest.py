"""Real-browser fixtures: the app on a loopback port, driven by Debian's Chromium via Playwright.

No browser is downloaded: Playwright's own browser builds come from a host this network cannot
reach, so ``make test`` installs Debian's ``chromium`` (``make system-deps``) and the fixture
hands its path to Playwright as ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from prescreen import create_app
from tests.helpers.browser import assert_no_axe_violations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _has_chinese_font() -> bool:
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(listed.stdout.strip())


def ensure_chromium() -> str:
    """Return Debian's Chromium; ``make test`` installs it and a Chinese font (``make system-deps``).

    Without a CJK font Chinese renders as empty boxes: screenshots mean nothing and text metrics
    (wrapping, tap-target sizes) differ from a real phone. Tests never install anything themselves.
    """
    missing = [
        pkg
        for pkg, ok in (("chromium", os.path.exists(CHROMIUM)), ("fonts-wqy-microhei", _has_chinese_font()))
        if not ok
    ]
    if missing:
        pytest.fail(f"browser tests need Debian packages {', '.join(missing)}: run make system-deps (as root)")
    return CHROMIUM


@dataclass
class LiveServer:
    """The app served over real HTTP on 127.0.0.1."""

    app: Flask
    url: str
    server: BaseWSGIServer

    def path(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live_app_config(tmp_path: Path, database: str) -> dict[str, Any]:
    """Configuration of the live app; a test may update it before asking for ``live_server``."""
    return {
        "TESTING": True,
        "SECRET_KEY": "browser-test-secret",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE": database,
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def live_server(live_app_config: dict[str, Any]) -> Iterator[LiveServer]:
    """Serve a fresh app (its own temp database) in a thread on a free loopback port."""
    app = create_app(live_app_config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def axe() -> Callable[[Any], None]:
    """``axe(page)`` fails the test on any axe-core violation (see tests.helpers.browser)."""
    return assert_no_axe_violations


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (starting it costs about a second)."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open fresh browser contexts (own cookies): ``new_context(locale="zh-CN")``."""
    contexts: list[Any] = []

    def factory(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 390, "height": 844})
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    """A phone-sized page in a fresh context (English unless the test makes its own)."""
    return new_context().new_page()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test (``-m 'not browser'`` skips them)."""
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)

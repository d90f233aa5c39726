"""Helpers for the real-browser tests (tests/browser/): the axe-core check."""

from __future__ import annotations

from typing import Any


def assert_no_axe_violations(page: Any) -> None:
    """Run axe-core (bundled by axe-playwright-python) and fail with each violation's id."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response.get("violations", [])
    summary = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations]
    assert summary == [], f"axe-core violations on {page.url}: {summary}"

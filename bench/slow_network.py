"""Slow networks: how long a family on a "Slow 3G" phone waits, measured in real Chromium.

DevTools network throttling (about 400 kbit/s each way and 400 ms latency) is applied through
the Chrome DevTools Protocol; the app runs under gunicorn on loopback exactly as in production.
Prints the time until the first question is visible (cold cache, as from a shared link, and right
after the consent screen) and for later steps with JavaScript on.

    .venv/bin/python bench/slow_network.py [--steps 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))

from families import SECRET, STUDY_ID  # noqa: E402
from harness import start_server  # noqa: E402

SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}


def throttled_page(browser, locale: str = "zh-CN"):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    page.set_default_timeout(60_000)
    return context, page


def visible(page, started: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds from ``started`` until the question shows, checked on every animation frame.

    Not ``locator.wait_for``: it re-checks with back-off (up to 500 ms apart), which added up to
    0.3 s to what was timed here.
    """
    page.wait_for_function(
        "() => { const q = document.querySelector('#q-text'); return q && q.offsetParent !== null; }"
    )
    return time.perf_counter() - started


def measure(base: str, steps: int) -> dict[str, object]:
    from conftest import CHROMIUM_ARGS, ensure_chromium  # the browser tests' own set-up
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        context, page = throttled_page(browser)
        study = f"{base}/s/{STUDY_ID}"

        started = time.perf_counter()
        page.goto(f"{study}/", wait_until="load")
        study_page = time.perf_counter() - started  # cold cache: HTML + CSS (+ script)

        started = time.perf_counter()
        page.goto(f"{study}/consent?as=guardian", wait_until="commit")
        page.wait_for_function("() => document.getElementById('agree') !== null")  # chat.js may still be coming
        consent_page = time.perf_counter() - started
        page.wait_for_load_state("load")  # a family reads the consent first: chat.js is in by then

        page.check("#agree")
        started = time.perf_counter()
        page.click("button[type=submit]")
        first_question = visible(page, started)

        # a fresh phone opening the chat straight away (cold cache, e.g. from a resume link)
        cookies = context.cookies()
        cold_context, cold_page = throttled_page(browser)
        cold_context.add_cookies(cookies)
        started = time.perf_counter()
        cold_page.goto(f"{study}/chat", wait_until="load")  # HTML, CSS and script all in
        cold_first_question = visible(cold_page, started)
        cold_context.close()

        later: list[float] = []
        for _ in range(steps):
            if page.locator("#q-text").count() == 0:
                print(f"  (stopped at {page.url}: {page.locator('h1').first.inner_text()!r})")
                break
            before = page.locator("#q-text").inner_text()
            started = time.perf_counter()
            if page.locator("input[type=month]").count():
                page.fill("input[type=month]", "2015-03")
                page.click("form.ask button[type=submit]")
            elif page.locator("input[type=checkbox][name=value]").count():
                boxes = page.locator("input[type=checkbox][value=none]")
                (boxes if boxes.count() else page.locator("input[type=checkbox][name=value]")).first.check()
                started = time.perf_counter()
                page.click("form.ask button[type=submit]")
            elif page.locator("button.option").count():
                page.locator("button.option").first.click()
            else:
                break
            page.wait_for_function(
                "before => { const q = document.querySelector('#q-text'); return !q || q.textContent !== before; }",
                arg=before,
            )
            later.append(time.perf_counter() - started)

        # "change" on the first answer: the question being changed, shown in place
        change_earlier = None
        button = page.locator("ol.chat button.change").first
        if page.locator("#q-text").count() and button.count() and button.is_visible():
            before = page.locator("#q-text").inner_text()
            started = time.perf_counter()
            button.click()
            page.wait_for_function(
                "before => { const q = document.querySelector('#q-text'); return q && q.textContent !== before; }",
                arg=before,
            )
            change_earlier = time.perf_counter() - started
        context.close()
        browser.close()
    return {
        "study page, cold cache": study_page,
        "consent page visible (CSS cached)": consent_page,
        "first question after consent": first_question,
        "first question, cold cache": cold_first_question,
        "later steps (JS, median)": statistics.median(later) if later else None,
        "later steps (JS, max)": max(later) if later else None,
        "steps measured": len(later),
        "change an earlier answer (JS)": change_earlier,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description="Slow 3G timings in Chromium")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="prescreen-slow-") as tmp:
        server = start_server(Path(tmp) / "instance", workers=2, extra_env={"PRESCREEN_SECRET_KEY": SECRET})
        try:
            results = measure(server.base, args.steps)
        finally:
            server.stop()
    print("Slow 3G (400 kbit/s each way, 400 ms latency), Chromium, phone viewport, zh-CN:")
    for name, value in results.items():
        shown = f"{value:.2f} s" if isinstance(value, float) else str(value)
        print(f"  {name:32} {shown}")
    return results


if __name__ == "__main__":
    main()

"""The browser set-up itself: Chromium renders our front page with no third-party request."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.helpers.browser import assert_no_axe_violations


def test_front_page_renders_in_chinese_with_only_our_own_requests(live_server, new_context):
    page = new_context(locale="zh-CN").new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert hosts == {urlsplit(live_server.url).netloc}
    assert_no_axe_violations(page)

"""The 待联系名单 in a real browser, as a CRC (not an admin), in Chinese: on a desk and on a phone.

Desktop 1280×800: a parent calls back and gives a phone number with spaces; the search finds the
family; the call list downloads as an Excel file with plain numbers and Beijing times.
Phone 390×844: the list is cards, with no sideways scrolling and thumb-sized targets; 逾期未联系
puts the longest overdue family first.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.helpers.browser import assert_no_axe_violations
from tests.helpers.staff import PASSWORD, add_referral, add_user, days_ago

SHOTS = Path(os.environ.get("SHOTS_DIR") or Path(tempfile.gettempdir()) / "shots")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def sign_in(page, url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/coordinator/")
    page.get_by_label(re.compile("E-mail|电子邮箱")).fill(email)
    page.get_by_label(re.compile("^(Password|密码)$")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(Sign in|登录)$")).click()
    page.wait_for_url(re.compile(r"/coordinator/$"))


def test_crc_searches_by_phone_downloads_the_call_list_and_reads_cards_on_a_phone(live_server, new_context) -> None:
    app = live_server.app
    add_user(app, "crc@pumch.example")
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    for i in range(12):
        add_referral(app, at=days_ago(20 - i), reference=f"PS-Q{i:04d}", phone=f"+86137000000{i:02d}")
    wanted = add_referral(app, at=received, reference="PS-CALLME", phone="+8613912345678", name="张伟爸爸")
    SHOTS.mkdir(exist_ok=True)

    desk = new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True).new_page()
    sign_in(desk, live_server.url, "crc@pumch.example")
    expect(desk.get_by_role("heading", name="待联系名单")).to_be_visible()
    assert desk.locator("table.queue tbody tr").first.locator("th").inner_text().startswith("PS-CALLME")  # newest
    desk.get_by_label("按姓名、电话或编号查找").fill("+86 139 1234 5678")
    desk.get_by_role("button", name="查找", exact=True).click()
    rows = desk.locator("table.queue tbody tr")
    assert rows.count() == 1 and "PS-CALLME" in rows.first.inner_text()
    assert "139" not in desk.url and "5678" not in desk.url  # the number never went into a URL
    assert_no_axe_violations(desk)
    desk.screenshot(path=str(SHOTS / "queue-search-zh-desktop.png"), full_page=True)

    with desk.expect_download() as info:
        desk.get_by_role("button", name="下载联系名单（Excel）").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    header, *cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(cells) == 1
    row = dict(zip(header, cells[0], strict=True))
    assert row["编号"] == "PS-CALLME" and row["家长姓名"] == "张伟爸爸"
    assert row["电话"] == "139 1234 5678"  # plain, dialable, no apostrophe, never 1.39E+10
    beijing = received.astimezone(ZoneInfo("Asia/Shanghai"))
    assert row["收到时间（北京时间）"] == beijing.strftime("%Y-%m-%d %H:%M")
    assert wanted["id"]

    phone = new_context(viewport=PHONE, locale="zh-CN").new_page()
    sign_in(phone, live_server.url, "crc@pumch.example")
    card = phone.locator("table.queue tbody tr").first
    assert card.evaluate("el => getComputedStyle(el).display") == "grid"
    assert phone.locator("table.queue thead").evaluate("el => el.getBoundingClientRect().height") <= 1
    widths = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 390, widths
    assert "逾期未联系" in phone.locator("table.queue tbody").inner_text()  # the 20-day-old families
    # thumb-sized targets on a card: the reference a full tap high, the tick box 24 px
    link = card.locator("th.ref a").bounding_box()
    tick = card.locator("td.tick input").bounding_box()
    assert link and link["height"] >= 44 and tick and tick["width"] >= 24 and tick["height"] >= 24, (link, tick)
    assert_no_axe_violations(phone)
    phone.screenshot(path=str(SHOTS / "queue-zh-phone.png"))
    # 逾期未联系: the longest overdue family first; the order menu sits in 更多筛选 (no script)
    phone.get_by_role("link", name="逾期未联系", exact=True).click()
    assert phone.locator("table.queue tbody tr").first.locator("th").inner_text().startswith("PS-Q0000")
    phone.get_by_text("更多筛选和每页条数").click()
    assert phone.get_by_label("排序").input_value() == "" and "默认顺序" in phone.get_by_label("排序").inner_text()
    card.scroll_into_view_if_needed()
    phone.screenshot(path=str(SHOTS / "queue-zh-phone-cards.png"))

"""The funnel per source (issue 19): opened, agreed and started, completed, each result, sent details,
contacted, enrolled, for each poster or group's link, for screenings without a source, and in all.

The numbers are worked out by hand from the families seeded here, not read off the page.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from prescreen.store import connect, migrate, migration_modules, referrals
from prescreen.store import sources as source_store
from tests.helpers.staff import NOT_ELIGIBLE, REVIEW, STUDY_ID, add_referral, add_screening, add_user, db_of, login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
STEPS = ("opened", "started", "completed", "likely_eligible", "needs_review", "not_eligible", "referred")
STEPS += ("contacted", "enrolled")


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app, "admin@pumch.example", "admin")
    assert login(client, "admin@pumch.example").status_code == 302
    return client


def add_source(app: Flask, label: str) -> source_store.Source:
    db = db_of(app)
    try:
        return source_store.add(db, STUDY_ID, label, "cli")
    finally:
        db.close()


def move(app: Flask, referral_id: int, status: str) -> None:
    db = db_of(app)
    try:
        referrals.set_status(db, referral_id, status)
    finally:
        db.close()


def open_link(app: Flask, code: str, times: int = 1) -> None:
    """One family's browser (a fresh client) opening a source's link *times* times."""
    browser = app.test_client()
    for _ in range(times):
        assert browser.get(f"/q/{code}").status_code == 303


def table(html: str) -> dict[str, dict[str, str]]:
    """The per-source table as {row key: {step: cell}}."""
    section = html.split('class="compact by-source"')[1].split("</table>")[0]
    found = {}
    for key, cells in re.findall(r'<tr data-source="(\w+)"[^>]*>(.*?)</tr>', section, flags=re.S):
        found[key] = dict(re.findall(r'<td data-step="(\w+)">([^<]*)</td>', cells))
    return found


def seed(app: Flask) -> tuple[source_store.Source, source_store.Source]:
    poster, group = add_source(app, "儿科门诊海报"), add_source(app, "家长微信群 A")
    for _ in range(6):
        open_link(app, poster.code)
    open_link(app, poster.code, times=3)  # one family scanning three times counts once
    open_link(app, group.code)
    # The poster: 3 referred (one contacted, one enrolled), 1 not eligible, 1 still answering.
    sent = [add_referral(app, source_id=poster.id) for _ in range(3)]
    move(app, sent[1]["id"], "contacted")
    move(app, sent[2]["id"], "enrolled")
    add_screening(app, NOT_ELIGIBLE, source_id=poster.id)
    add_screening(app, {}, complete=False, source_id=poster.id)
    # The group: 2 needing a closer look.
    add_screening(app, REVIEW, source_id=group.id)
    add_screening(app, REVIEW, source_id=group.id)
    # A typed link: 1 likely eligible, not referred.
    add_screening(app)
    # Last year, on the poster: outside a period of this year.
    add_screening(app, at=datetime.now(UTC) - timedelta(days=400), source_id=poster.id)
    return poster, group


def test_the_funnel_per_source_counts_each_step_for_each_link(app: Flask, admin: FlaskClient) -> None:
    poster, group = seed(app)
    cells = table(admin.get("/coordinator/funnel?range=all", headers=ZH).get_data(as_text=True))
    expect = {
        # 3 referred + last year's are likely eligible; enrolled counts as contacted too
        f"s{poster.id}": (7, 6, 5, 4, 0, 1, 3, 2, 1),
        f"s{group.id}": (1, 2, 2, 0, 2, 0, 0, 0, 0),
        "none": ("—", 1, 1, 1, 0, 0, 0, 0, 0),
        "total": (8, 9, 8, 5, 2, 1, 3, 2, 1),
    }
    assert {key: tuple(cells[key][s] for s in STEPS) for key in expect} == {
        key: tuple(str(n) for n in row) for key, row in expect.items()
    }
    # A period of the last month leaves last year's screening out (but the links were opened today).
    since = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    recent = table(admin.get(f"/coordinator/funnel?from={since}", headers=ZH).get_data(as_text=True))
    assert recent[f"s{poster.id}"]["started"] == "5" and recent[f"s{poster.id}"]["opened"] == "7"


def test_the_page_names_sources_in_words_with_a_chart_and_its_table(app: Flask, admin: FlaskClient) -> None:
    poster, _group = seed(app)
    html = admin.get("/coordinator/funnel?range=all", headers=ZH).get_data(as_text=True)
    assert "来源" in html and "儿科门诊海报" in html and poster.code in html
    chart = html.split('id="sources-title"')[1].split("</svg>")[0]
    assert re.findall(r'class="count">(\d+)<', chart) == ["2", "6", "1"]  # newest source first, then no source
    english = admin.get("/coordinator/funnel?range=all", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Opened the link" in english and "No source: a typed or forwarded link" in english


def test_the_report_downloads_have_the_funnel_per_source_with_small_counts_hidden(
    app: Flask, admin: FlaskClient
) -> None:
    poster, group = seed(app)
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', admin.get("/coordinator/reports").get_data(as_text=True)
    )
    form = {"csrf_token": token.group(1), "range": "all"}
    book = load_workbook(io.BytesIO(admin.post("/coordinator/reports.xlsx", data=form, headers=ZH).get_data()))
    assert book.sheetnames[-1] == "按来源"
    sheet = book["按来源"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["来源", "代码", "打开链接"]
    by_code = {r[1] or r[0]: r[2:] for r in ([c.value for c in row] for row in sheet.iter_rows(min_row=2))}
    assert by_code[poster.code] == [7, 6, 5, "<5", 0, "<5", "<5", "<5", "<5"]
    assert by_code[group.code] == ["<5", "<5", "<5", 0, "<5", 0, 0, 0, 0]
    text = admin.post("/coordinator/reports.csv", data=form, headers=ZH).get_data(as_text=True)
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if r and r[0] == "按来源"]
    # table, item, the columns' names, then the values: the code, opened, started, …
    assert [r[1] for r in rows] == ["家长微信群 A", "儿科门诊海报", "无来源：手动输入或转发的链接", "合计"]
    assert rows[1][3:] == [poster.code, "7", "6", "5", "<5", "0", "<5", "<5", "<5", "<5"]
    assert rows[2][3:6] == ["", "", "<5"]  # no source: no code, nothing "opened", 1 started
    assert "13800138000" not in text and "王小明" not in text


def test_m0021_copies_the_source_of_screenings_still_stored_into_the_log(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = connect(path)
    try:
        db.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for version, _module in migration_modules():
            if version >= "m0021":
                continue
            _module.up(db)  # type: ignore[attr-defined]
            db.execute("INSERT INTO schema_migrations VALUES (?, '2026-11-01')", [version])
        db.execute(
            "INSERT INTO sources (study_id, code, label, created_at, created_by) VALUES (?, 'ABCDEF', 'x', '', 'cli')",
            [STUDY_ID],
        )
        db.execute(
            "INSERT INTO screenings (token_hash, study_id, version, locale, status, step, created_at, updated_at, "
            "source_id) VALUES ('h', ?, 'v', 'zh', 'in_progress', 0, '2026-11-02T01:00:00Z', '2026-11-02', 1)",
            [STUDY_ID],
        )
        db.conn.commit()
        assert "m0021_source_funnel" in migrate(db)
        assert db.execute("SELECT source_id FROM screening_log").fetchall() == [(1,)]
    finally:
        db.close()

"""The 待联系名单 as a CRC works it: newest first, sorted, overdue rules, search, filters, assign, close, call list."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from prescreen import clock
from prescreen.store import queue_list
from tests.helpers.staff import add_referral, add_user, csrf, days_ago, db_of, login

QUEUE = "/coordinator/"


@pytest.fixture
def coord(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app)
    assert login(client).status_code == 302
    return client


def sql(app: Flask, statement: str, params: list | None = None) -> list:
    db = db_of(app)
    try:
        return db.execute(statement, params or []).fetchall()
    finally:
        db.close()


def refs(html: str) -> list[str]:
    """The references listed, in page order."""
    return re.findall(r'<th scope="row" class="ref"><a href="[^"]+">(PS-[A-Z0-9]+)</a>', html)


def attempt(app: Flask, referral_id: int, at: datetime, status: str = "attempt_1") -> None:
    sql(
        app,
        "INSERT INTO contact_attempts (referral_id, user_id, channel, result, at) "
        "VALUES (?, NULL, 'phone', 'no_answer', ?)",
        [referral_id, at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")],
    )
    sql(app, "UPDATE referrals SET status = ? WHERE id = ?", [status, referral_id])


def search(client: FlaskClient, q: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(QUEUE, data={"csrf_token": csrf(client, QUEUE), "q": q, **fields})


def test_newest_first_sortable_and_page_size(coord: FlaskClient, app: Flask) -> None:
    for i in range(30):
        add_referral(app, at=days_ago(30 - i), reference=f"PS-N{i:04d}")
    html = coord.get(QUEUE).get_data(as_text=True)
    assert refs(html)[:2] == ["PS-N0029", "PS-N0028"] and len(refs(html)) == 25
    assert 'aria-sort="descending"' in html
    oldest = refs(coord.get(QUEUE + "?sort=received&dir=asc").get_data(as_text=True))
    assert oldest[0] == "PS-N0000"
    assert len(refs(coord.get(QUEUE + "?per=50").get_data(as_text=True))) == 30
    assert refs(coord.get(QUEUE + "?page=2").get_data(as_text=True)) == [f"PS-N{i:04d}" for i in range(4, -1, -1)]
    # by status: the new ones after the attempts (flow order), by due: the soonest first
    first = sql(app, "SELECT id FROM referrals WHERE reference = 'PS-N0000'")[0][0]
    attempt(app, first, datetime.now(UTC) - timedelta(hours=1))
    by_status = refs(coord.get(QUEUE + "?sort=status&dir=desc&per=50").get_data(as_text=True))
    assert by_status[0] == "PS-N0000"
    by_due = refs(coord.get(QUEUE + "?sort=due&per=50").get_data(as_text=True))
    assert by_due[0] == "PS-N0001" and by_due[-1] == "PS-N0000"  # the longest waiting first; just tried: last
    sql(app, "UPDATE referrals SET status = 'contacted' WHERE reference = 'PS-N0001'")
    by_due_desc = refs(coord.get(QUEUE + "?sort=due&dir=desc&per=50&status=all").get_data(as_text=True))
    assert by_due_desc[0] == "PS-N0000" and by_due_desc[-1] == "PS-N0001"  # nothing due: at the end both ways


def test_next_due_rules_in_working_days() -> None:
    rules = queue_list.Rules(default_days=2, retry_days=2, reply_days={"s": 1})
    friday = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 10:00 in Beijing
    new = {"status": "new", "attempts": 0, "study_id": "s", "created_at": friday.isoformat()}
    due, overdue = queue_list.next_due(new, friday + timedelta(days=2), rules)
    assert due.astimezone(clock.TEAM_TZ).date() == date(2026, 11, 30) and not overdue  # Monday, 1 working day
    assert queue_list.next_due(new, friday + timedelta(days=3, hours=1), rules)[1]
    other = {**new, "study_id": "t"}  # no promise for this study: the default 2 working days
    assert queue_list.next_due(other, friday + timedelta(days=4), rules)[0].date() == date(2026, 12, 1)
    tried = {"status": "attempt_2", "attempts": 2, "study_id": "s", "last_attempt_at": friday.isoformat()}
    assert not queue_list.next_due(tried, friday + timedelta(days=3), rules)[1]
    assert queue_list.next_due(tried, friday + timedelta(days=4, hours=1), rules)[1]
    visit = {"status": "visit_scheduled", "attempts": 1, "study_id": "s", "visit_date": "2026-12-01"}
    assert queue_list.next_due(visit, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), rules) == (date(2026, 12, 1), False)
    assert queue_list.next_due(visit, datetime(2026, 12, 1, 16, 30, tzinfo=UTC), rules)[1]  # 00:30 next day, Beijing
    assert queue_list.next_due({"status": "contacted", "attempts": 1, "study_id": "s"}, friday, rules) == (None, False)


def test_overdue_and_due_today_filters(coord: FlaskClient, app: Flask) -> None:
    add_referral(app, at=days_ago(10), reference="PS-LATE01")
    add_referral(app, at=days_ago(0.05), reference="PS-FRESH1")
    tried = add_referral(app, at=days_ago(20), reference="PS-TRIED1")
    attempt(app, tried["id"], datetime.now(UTC) - timedelta(days=10))
    recent = add_referral(app, at=days_ago(20), reference="PS-TRIED2")
    attempt(app, recent["id"], datetime.now(UTC) - timedelta(hours=1), "attempt_2")
    today = clock.today()
    for ref, day in (
        ("PS-VISIT0", today - timedelta(days=1)),
        ("PS-VISIT1", today),
        ("PS-VISIT2", today + timedelta(days=3)),
    ):
        row = add_referral(app, at=days_ago(15), reference=ref)
        sql(
            app,
            "UPDATE referrals SET status = 'visit_scheduled', visit_date = ? WHERE id = ?",
            [day.isoformat(), row["id"]],
        )
    overdue = refs(coord.get(QUEUE + "?when=overdue").get_data(as_text=True))
    assert sorted(overdue) == ["PS-LATE01", "PS-TRIED1", "PS-VISIT0"]
    due_today = refs(coord.get(QUEUE + "?when=today").get_data(as_text=True))
    assert sorted(due_today) == ["PS-LATE01", "PS-TRIED1", "PS-VISIT0", "PS-VISIT1"]
    html = coord.get(QUEUE).get_data(as_text=True)
    assert html.count('<tr class="overdue">') == 3


def test_overdue_lists_the_longest_overdue_first_and_a_phone_can_choose_the_order(
    coord: FlaskClient, app: Flask
) -> None:
    for days, ref in ((5, "PS-OVER05"), (14, "PS-OVER14"), (9, "PS-OVER09"), (0.05, "PS-FRESH1")):
        add_referral(app, at=days_ago(days), reference=ref)
    html = coord.get(QUEUE + "?when=overdue").get_data(as_text=True)
    assert refs(html) == ["PS-OVER14", "PS-OVER09", "PS-OVER05"]  # the oldest due first
    assert "The longest overdue first." in html and "Newest first." not in html
    assert re.search(r'aria-sort="ascending"><a class="sort" href="[^"]*sort=due', html)
    # the chip goes to that order even from a list sorted by a column heading
    sorted_html = coord.get(QUEUE + "?sort=received&dir=desc").get_data(as_text=True)
    chip = re.search(r'<a href="([^"]*when=overdue[^"]*)"', sorted_html)
    assert chip and "sort=" not in chip.group(1) and "dir=" not in chip.group(1)
    assert refs(coord.get(chip.group(1).replace("&amp;", "&")).get_data(as_text=True))[0] == "PS-OVER14"
    # a phone has no headings to click: the filter form's order menu (a plain GET, no script)
    form = html[html.index('class="filters" method="get"') :].split("</form>")[0]
    assert 'name="order"' in form and 'name="sort"' not in form and 'value="due-asc"' in form
    newest = refs(coord.get(QUEUE + "?when=overdue&order=received-desc").get_data(as_text=True))
    assert newest == ["PS-OVER05", "PS-OVER09", "PS-OVER14"]
    chosen = coord.get(QUEUE + "?order=due-asc").get_data(as_text=True)
    assert refs(chosen) == ["PS-OVER14", "PS-OVER09", "PS-OVER05", "PS-FRESH1"]
    assert '<option value="due-asc" selected>' in chosen
    # "the usual order" drops a column heading's sort; unknown orders are ignored
    assert refs(coord.get(QUEUE + "?sort=due&order=").get_data(as_text=True))[0] == "PS-FRESH1"
    assert refs(coord.get(QUEUE + "?order=nonsense").get_data(as_text=True))[0] == "PS-FRESH1"
    # the call list follows the same order
    token = csrf(coord, QUEUE)
    listed = coord.post("/coordinator/export/call-list.xlsx", data={"csrf_token": token, "when": "overdue"})
    assert [r[0].value for r in workbook_rows(listed)[1:]] == ["PS-OVER14", "PS-OVER09", "PS-OVER05"]
    zh = coord.get(QUEUE + "?when=overdue&lang=zh").get_data(as_text=True)
    assert "逾期最久的排在最前" in zh and "排序" in zh and "逾期最久的在前" in zh


def test_a_card_counts_attempts_as_attempts_not_as_contacts(coord: FlaskClient, app: Flask) -> None:
    family = add_referral(app, at=days_ago(3), reference="PS-TWICE6")
    attempt(app, family["id"], datetime.now(UTC) - timedelta(hours=3))
    attempt(app, family["id"], datetime.now(UTC) - timedelta(hours=1), "attempt_2")
    html = coord.get(QUEUE + "?lang=zh").get_data(as_text=True)
    assert "已尝试联系2次（未联系上）" in html and "联系尝试 2 次" in html and "已联系 2 次" not in html
    assert "2 attempts" in coord.get(QUEUE + "?lang=en").get_data(as_text=True)


def test_search_by_name_phone_or_reference_is_a_post_and_audited_without_the_text(
    coord: FlaskClient, app: Flask
) -> None:
    wang = add_referral(app, name="王小明家长", phone="+8613800138000", reference="PS-WANG22")
    li = add_referral(app, name="李华妈妈", phone="+8613612345678", reference="PS-LIHUA3")
    for q, expected in [
        ("138 0013 8000", ["PS-WANG22"]),
        ("+86 136-1234-5678", ["PS-LIHUA3"]),
        ("0086 13612345678", ["PS-LIHUA3"]),
        ("１３６１２３４", ["PS-LIHUA3"]),
        ("李华", ["PS-LIHUA3"]),
        ("ps-wang22", ["PS-WANG22"]),
        ("lihua3", ["PS-LIHUA3"]),
        ("1", []),  # a lone digit is not a phone, and no name or reference has it
    ]:
        response = search(coord, q)
        assert response.status_code == 200, q
        assert refs(response.get_data(as_text=True)) == expected, q
    # the words typed never go in a URL: a GET ?q= is not a search
    assert sorted(refs(coord.get(QUEUE + "?q=李华").get_data(as_text=True))) == ["PS-LIHUA3", "PS-WANG22"]
    assert 'method="post" action="/coordinator/" role="search"' in coord.get(QUEUE).get_data(as_text=True)
    rows = sql(app, "SELECT detail FROM audit WHERE action = 'queue.search' ORDER BY id")
    assert len(rows) == 8
    assert json.loads(rows[0][0]) == {"matches": 1, "referrals": [wang["id"]]}
    assert json.loads(rows[4][0]) == {"matches": 1, "referrals": [li["id"]]}
    dump = json.dumps(sql(app, "SELECT * FROM audit"), ensure_ascii=False)
    assert "李华" not in dump and "13612345678" not in dump and "0013" not in dump
    # a search from another site (no CSRF token) is refused
    assert coord.post(QUEUE, data={"q": "138 0013 8000"}).status_code == 400


def test_filters_best_time_language_kind_and_assignment(coord: FlaskClient, app: Flask) -> None:
    evening = add_referral(app, reference="PS-EVE001", locale="en")
    add_referral(app, reference="PS-MORN01")
    anytime = add_referral(app, reference="PS-ANY001")
    sql(app, "UPDATE referrals SET best_time = 'evening' WHERE id = ?", [evening["id"]])
    sql(app, "UPDATE referrals SET best_time = 'morning' WHERE reference = 'PS-MORN01'")
    sql(app, "UPDATE referrals SET best_time = 'any', kind = 'review' WHERE id = ?", [anytime["id"]])
    assert sorted(refs(coord.get(QUEUE + "?best_time=evening").get_data(as_text=True))) == ["PS-ANY001", "PS-EVE001"]
    assert refs(coord.get(QUEUE + "?locale=en").get_data(as_text=True)) == ["PS-EVE001"]
    assert refs(coord.get(QUEUE + "?kind=review").get_data(as_text=True)) == ["PS-ANY001"]
    html = coord.get(QUEUE).get_data(as_text=True)
    assert "傍晚" in coord.get(QUEUE + "?lang=zh").get_data(as_text=True) or "晚上" in html or "Evening" in html

    # assign from the list (ticked), then one from its own page; "assigned to me" lists them
    colleague = add_user(app, "colleague@pumch.example")
    token = csrf(coord, QUEUE)
    data = {"csrf_token": token, "ids": [str(evening["id"])], "action": "assign", "assignee": "me"}
    assert coord.post("/coordinator/bulk", data=data).status_code == 302
    page = f"/coordinator/referrals/{anytime['id']}"
    assert f'action="{page}/assign"' in coord.get(page).get_data(as_text=True)
    response = coord.post(f"{page}/assign", data={"csrf_token": token, "assignee": str(colleague)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{page}?saved=assign#assign")
    assert refs(coord.get(QUEUE + "?assigned=me").get_data(as_text=True)) == ["PS-EVE001"]
    assert refs(coord.get(QUEUE + f"?assigned={colleague}").get_data(as_text=True)) == ["PS-ANY001"]
    assert refs(coord.get(QUEUE + "?assigned=none").get_data(as_text=True)) == ["PS-MORN01"]
    assert "colleague@pumch.example" in coord.get(QUEUE).get_data(as_text=True)
    assigns = sql(app, "SELECT record_id, detail FROM audit WHERE action = 'referral.assign' ORDER BY id")
    assert [a[0] for a in assigns] == [str(evening["id"]), str(anytime["id"])]
    assert json.loads(assigns[1][1]) == {"from": None, "to": colleague}
    # an account that may not see the study (or no account) is refused
    bad = coord.post(f"{page}/assign", data={"csrf_token": token, "assignee": "999"})
    assert bad.status_code == 302 and len(sql(app, "SELECT 1 FROM audit WHERE action = 'referral.assign'")) == 2


def test_bulk_close_needs_a_reason_and_erases_nothing(coord: FlaskClient, app: Flask) -> None:
    first = add_referral(app, reference="PS-CLOSE1", phone="+8613512340000")
    second = add_referral(app, reference="PS-CLOSE2")
    keep = add_referral(app, reference="PS-KEEP01")
    token = csrf(coord, QUEUE)
    ticked = [str(first["id"]), str(second["id"])]
    base = {"csrf_token": token, "ids": ticked, "action": "close", "close_status": "not_interested"}
    coord.post("/coordinator/bulk", data={**base, "close_reason": "  "})
    assert {r[0] for r in sql(app, "SELECT status FROM referrals")} == {"new"}
    response = coord.post("/coordinator/bulk", data={**base, "close_reason": "两周内三次未接，家长短信说不考虑"})
    assert response.status_code == 302
    statuses = dict(sql(app, "SELECT reference, status FROM referrals"))
    assert statuses == {"PS-CLOSE1": "not_interested", "PS-CLOSE2": "not_interested", "PS-KEEP01": "new"}
    kept = sql(app, "SELECT guardian_name, phone, purged_at FROM referrals WHERE id = ?", [first["id"]])[0]
    assert kept[:2] == ("王小明家长", "+8613512340000") and kept[2] is None
    notes = sql(app, "SELECT referral_id, body FROM notes ORDER BY referral_id")
    assert notes == [
        (first["id"], "两周内三次未接，家长短信说不考虑"),
        (second["id"], "两周内三次未接，家长短信说不考虑"),
    ]
    audits = sql(app, "SELECT detail FROM audit WHERE action = 'referral.status'")
    assert len(audits) == 2 and "不考虑" not in json.dumps(audits, ensure_ascii=False)
    assert refs(coord.get(QUEUE).get_data(as_text=True)) == ["PS-KEEP01"]
    assert keep["id"]


def workbook_rows(response):  # type: ignore[no-untyped-def]
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [[c for c in row] for row in sheet.iter_rows()]


def test_a_coordinator_downloads_a_call_list_with_plain_numbers_labels_and_beijing_time(
    coord: FlaskClient, app: Flask
) -> None:
    at = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 01:30 on 1 December in Beijing
    mum = add_referral(app, at=at, reference="PS-CALL01", phone="+8613800138000", name="=HYPERLINK(evil)")
    abroad = add_referral(app, at=at + timedelta(hours=1), reference="PS-CALL02", phone="+442079460018")
    sql(app, "UPDATE referrals SET relationship = 'mother', best_time = 'evening' WHERE id = ?", [mum["id"]])
    token = csrf(coord, QUEUE)
    response = coord.post("/coordinator/export/call-list.xlsx?lang=zh", data={"csrf_token": token})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    header, *rows = workbook_rows(response)
    names = [c.value for c in header]
    assert names[:4] == ["编号", "家长姓名", "与孩子的关系", "电话"]
    by_ref = {row[0].value: {names[i]: c for i, c in enumerate(row)} for row in rows}
    assert list(by_ref) == ["PS-CALL02", "PS-CALL01"]  # the list's order: newest first
    phone = by_ref["PS-CALL01"]["电话"]
    assert phone.value == "138 0013 8000" and phone.data_type == "s" and not phone.value.startswith("'")
    assert by_ref["PS-CALL02"]["电话"].value == "00 44 20 7946 0018"
    name = by_ref["PS-CALL01"]["家长姓名"]
    assert name.value == "=HYPERLINK(evil)" and name.data_type == "s" and name.quotePrefix  # text, never a formula
    assert by_ref["PS-CALL01"]["收到时间（北京时间）"].value == "2026-12-01 01:30"
    assert by_ref["PS-CALL01"]["与孩子的关系"].value == "母亲"
    assert by_ref["PS-CALL01"]["状态"].value not in ("new", "")
    assert "mother" not in json.dumps([[c.value for c in r] for r in rows])
    # the count of attempts is a number cell (sums and sorts); still no formula anywhere
    attempts = by_ref["PS-CALL01"]["联系次数"]
    assert attempts.value == 0 and attempts.data_type == "n"
    count_column = names.index("联系次数")
    others = [c for r in rows for i, c in enumerate(r) if i != count_column and c.value not in (None, "")]
    assert others and all(c.data_type == "s" for c in others)
    audits = sql(app, "SELECT actor, detail FROM audit WHERE action = 'export.call_list'")
    assert len(audits) == 1 and json.loads(audits[0][1]) == {"rows": 2, "referrals": [abroad["id"], mum["id"]]}
    assert "13800138000" not in json.dumps(audits)

    # only the ticked families
    ticked = coord.post("/coordinator/export/call-list.xlsx", data={"csrf_token": token, "ids": [str(mum["id"])]})
    assert [r[0].value for r in workbook_rows(ticked)[1:]] == ["PS-CALL01"]
    assert json.loads(sql(app, "SELECT detail FROM audit WHERE action = 'export.call_list'")[1][0])["referrals"] == [
        mum["id"]
    ]
    # a GET (a link or image on another site) makes no file and no audit row
    assert coord.get("/coordinator/export/call-list.xlsx").status_code == 405
    assert coord.post("/coordinator/export/call-list.xlsx", data={}).status_code == 400

"""The coordinator pages on a real app, real database and the real study, signed in for real."""

from __future__ import annotations

import csv
import html as markup
import io
import json
import re
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from prescreen import clock
from prescreen import studies as study_registry
from prescreen.config import ROOT
from prescreen.coordinator.shared import listing_quote
from prescreen.store import INTEGRITY_ERRORS, sources, study_versions
from tests.helpers.public import dump_text
from tests.helpers.staff import (
    NOT_ELIGIBLE,
    REVIEW,
    STUDY_ID,
    add_referral,
    add_screening,
    add_user,
    csrf,
    days_ago,
    db_of,
    download,
    login,
    show_contacts,
)
from tests.helpers.study import write_study


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app, "admin@pumch.example", "admin")
    assert login(client, "admin@pumch.example").status_code == 302
    return client


@pytest.fixture
def coord(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app)
    assert login(client).status_code == 302
    return client


def audit_rows(app: Flask, action: str) -> list[dict]:
    db = db_of(app)
    try:
        return list(db.query("SELECT * FROM audit WHERE action = ? ORDER BY id", [action]))
    finally:
        db.close()


def post(client: FlaskClient, path: str, form_page: str, prefix: str, data: dict) -> object:
    token = csrf(client, form_page, prefix)
    return client.post(path, data={f"{prefix}csrf_token": token, **data})


def coordinator_urls(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/coordinator"):
            continue
        path = rule.rule.replace("<id:referral_id>", "1").replace("<id:user_id>", "1").replace("<study_id>", STUDY_ID)
        path = path.replace("<id:source_id>", "1").replace("<id:version_id>", "1")
        # a questionnaire version: the live one of the real study
        path = path.replace("<version>", study_registry.of(app).studies[STUDY_ID].version)
        for method in sorted(rule.methods & {"GET", "POST"}):
            out.append((method, path))
    return out


def test_every_coordinator_route_sends_anonymous_requests_to_login(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(WTF_CSRF_ENABLED=False)  # so a POST reaches the login check, not the CSRF check
    add_referral(app)
    client = app.test_client()
    urls = coordinator_urls(app)
    assert len(urls) >= 12
    for method, path in urls:
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert response.location.startswith("/staff/login"), (method, path)
    db = db_of(app)
    assert db.execute("SELECT count(*) FROM contact_attempts").fetchone()[0] == 0
    db.close()


def test_coordinator_pages_are_never_cached(admin: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    db = db_of(app)
    sources.add(db, STUDY_ID, "儿科门诊海报", "cli")  # source 1: its QR code download
    folder = ROOT / "questions" / STUDY_ID
    sheets = io.BytesIO()
    with zipfile.ZipFile(sheets, "w") as archive:  # version 1: the folder's own sheets, uploaded as a zip
        for sheet in folder.glob("*.csv"):
            archive.writestr(sheet.name, sheet.read_bytes())
    version = study_registry.of(app).studies[STUDY_ID].version
    study_versions.add_draft(
        db,
        study_id=STUDY_ID,
        version=version,
        fmt="csv-zip",
        content=sheets.getvalue(),
        label="V1.0",
        approved_on="2026-11-20",
        actor="cli",
    )
    db.close()
    for method, path in coordinator_urls(app):
        if method == "GET":
            response = admin.get(path.replace("/1", f"/{ref['id']}"))
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == "no-store", path


def test_a_coordinator_of_another_study_gets_404(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    questions = tmp_path / "questions"
    shutil.copytree(ROOT / "questions" / STUDY_ID, questions / STUDY_ID)
    write_study(tmp_path, "demo")
    app = make_app(QUESTIONS_DIR=str(questions))
    ref = add_referral(app, phone="+8613911112222")
    add_user(app, "demo@pumch.example", studies=["demo"])
    client = app.test_client()
    login(client, "demo@pumch.example")
    assert client.get(f"/coordinator/referrals/{ref['id']}").status_code == 404
    assert client.get(f"/coordinator/referrals/{ref['id']}?contact=show").status_code == 404
    contact = client.post(
        f"/coordinator/referrals/{ref['id']}/contact", data={"csrf_token": csrf(client, "/coordinator/")}
    )
    assert contact.status_code == 404 and "+8613911112222" not in contact.get_data(as_text=True)
    assert ref["reference"] not in client.get("/coordinator/?status=all").get_data(as_text=True)
    assert "+8613911112222" not in client.get(f"/coordinator/?q={ref['reference']}").get_data(as_text=True)
    token = csrf(client, "/coordinator/")
    response = client.post(
        f"/coordinator/referrals/{ref['id']}/attempts",
        data={"attempt-csrf_token": token, "attempt-channel": "phone", "attempt-result": "reached"},
    )
    assert response.status_code in (400, 404)
    assert download(client, "/coordinator/log.csv", study=STUDY_ID).get_data(as_text=True).count("\n") == 1
    assert download(client, "/coordinator/export/referrals.csv").status_code == 403
    assert client.get("/coordinator/audit").status_code == 403


def test_queue_lists_newest_first_and_marks_overdue(coord: FlaskClient, app: Flask) -> None:
    new = add_referral(app, at=days_ago(0.1), reference="PS-NEW111")
    old = add_referral(app, REVIEW, at=days_ago(6), reference="PS-OLD222", locale="en")
    html = coord.get("/coordinator/").get_data(as_text=True)
    assert html.index("PS-NEW111") < html.index("PS-OLD222")
    rows = re.findall(
        r'<tr( class="overdue")?>\s*<td class="tick">.*?<th scope="row" class="ref"><a [^>]*>(PS-\w+)', html, re.S
    )
    assert ("overdue" in rows[0][0], rows[0][1]) == (False, "PS-NEW111")
    assert ("overdue" in rows[1][0], rows[1][1]) == (True, "PS-OLD222")
    assert "2 families" in html
    # filters and search (a search is a POST: what was typed never goes in a URL)
    assert "PS-NEW111" not in coord.get("/coordinator/?outcome=needs_review").get_data(as_text=True)
    assert "PS-OLD222" in coord.get("/coordinator/?locale=en").get_data(as_text=True)
    assert "PS-OLD222" not in coord.get("/coordinator/?locale=zh").get_data(as_text=True)
    token = csrf(coord, "/coordinator/")
    found = coord.post("/coordinator/", data={"csrf_token": token, "q": "new111"}).get_data(as_text=True)
    assert "PS-NEW111" in found and "PS-OLD222" not in found
    assert "PS-NEW111" not in coord.post("/coordinator/", data={"csrf_token": token, "q": "%"}).get_data(as_text=True)
    assert old["id"] != new["id"]


def test_queue_paginates_and_counts_per_status(coord: FlaskClient, app: Flask) -> None:
    for i in range(27):
        add_referral(app, at=days_ago(30 - i), reference=f"PS-P{i:04d}")
    first = coord.get("/coordinator/").get_data(as_text=True)
    second = coord.get("/coordinator/?page=2").get_data(as_text=True)
    assert "PS-P0026" in first and "PS-P0001" not in first
    assert "PS-P0000" in second and "PS-P0026" not in second
    assert "Page 2 of 2" in second
    assert re.search(r"<strong>27</strong>", first)


def test_status_flow_attempts_visit_and_audit(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    page = f"/coordinator/referrals/{ref['id']}"
    for expected in ("attempt_1", "attempt_2"):
        response = post(
            coord, f"{page}/attempts", page, "attempt-", {"attempt-channel": "phone", "attempt-result": "no_answer"}
        )
        assert response.status_code == 302
        assert status_of(app, ref["id"]) == expected
    post(coord, f"{page}/attempts", page, "attempt-", {"attempt-channel": "wechat", "attempt-result": "reached"})
    assert status_of(app, ref["id"]) == "contacted"
    # the status menu never books a visit (the booking form does, with a time and reminders); enrolling
    # straight from contacted is not a next step (as a correction it needs a reason)
    html = coord.get(page).get_data(as_text=True)
    menu = html[html.index('id="status-status"') :].split("</select>")[0]
    assert 'value="visit_scheduled"' not in menu and 'name="status-visit_date"' not in html
    response = post(coord, f"{page}/status", page, "status-", {"status-status": "visit_scheduled"})
    assert response.status_code == 400 and "Book the screening visit" in response.get_data(as_text=True)
    assert status_of(app, ref["id"]) == "contacted"
    response = post(coord, f"{page}/status", page, "status-", {"status-status": "enrolled"})
    assert response.status_code == 400
    response = post(coord, f"{page}/visit", page, "visit-", {"visit-day": "2026-12-03", "visit-at": "09:30"})
    assert response.status_code == 302
    assert status_of(app, ref["id"]) == "visit_scheduled"
    response = post(coord, f"{page}/status", page, "status-", {"status-status": "screen_failed"})
    assert response.status_code == 400
    response = post(
        coord,
        f"{page}/status",
        page,
        "status-",
        {"status-status": "screen_failed", "status-criterion": "exc_hbv_sab_cab"},
    )
    assert response.status_code == 302
    db = db_of(app)
    row = db.execute("SELECT status, visit_date, screen_fail_criterion, closed_at FROM referrals").fetchone()
    db.close()
    assert row[:3] == ("screen_failed", "2026-12-03", "exc_hbv_sab_cab") and row[3]
    assert [json.loads(a["detail"])["to"] for a in audit_rows(app, "referral.status")] == ["screen_failed"]
    assert [json.loads(a["detail"])["to"] for a in audit_rows(app, "referral.visit")] == ["visit_scheduled"]
    attempts = audit_rows(app, "referral.attempt")
    assert len(attempts) == 3 and all(a["actor"].startswith("user:") for a in attempts)
    html = coord.get(page).get_data(as_text=True)
    # closed: no next step, but a mistake can still be corrected (with a reason)
    assert 'label="Next step"' not in html and 'label="Correct the status (give the reason)"' in html


def test_the_screen_fail_menu_lists_the_reason_wording_in_the_pages_language(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    tb = study_registry.of(app).studies[STUDY_ID].criterion("exc_hbv_sag")
    for lang in ("zh", "en"):
        coord.set_cookie("lang", lang)
        html = coord.get(f"/coordinator/referrals/{ref['id']}").get_data(as_text=True)
        menu = markup.unescape(html[html.index('id="status-criterion"') :].split("</select>")[0])
        assert f'<option value="exc_hbv_sag">{tb.reason(lang)}</option>' in menu, lang
        assert tb.label(lang) not in menu, lang  # the positive label reads as the opposite


def status_of(app: Flask, referral_id: int) -> str:
    db = db_of(app)
    try:
        return db.execute("SELECT status FROM referrals WHERE id = ?", [referral_id]).fetchone()[0]
    finally:
        db.close()


def test_contact_details_show_only_on_request_and_each_view_is_audited(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613700001111")
    page = f"/coordinator/referrals/{ref['id']}"
    html = coord.get(page).get_data(as_text=True)
    assert "+8613700001111" not in html
    assert f'action="{page}/contact"' in html and "Show contact details</button>" in html
    assert audit_rows(app, "referral.view_contact") == []
    response = show_contacts(coord, ref["id"])
    assert response.status_code == 200 and "+8613700001111" in response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]
    rows = audit_rows(app, "referral.view_contact")
    assert len(rows) == 1 and rows[0]["record_id"] == str(ref["id"]) and rows[0]["detail"] is None
    assert "+8613700001111" not in json.dumps(rows)


def test_every_view_of_a_family_page_is_audited_without_personal_values(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, REVIEW, phone="+8613700002222", name="赵六家长")
    other = add_referral(app)
    page = f"/coordinator/referrals/{ref['id']}"
    assert audit_rows(app, "referral.view") == []
    for _ in range(2):
        assert coord.get(page).status_code == 200
    coord.get(f"/coordinator/referrals/{other['id']}")
    rows = audit_rows(app, "referral.view")
    assert [r["record_id"] for r in rows] == [str(ref["id"]), str(ref["id"]), str(other["id"])]
    assert {(r["actor"], r["record_type"], r["detail"]) for r in rows} == {("user:1", "referral", None)}
    dump = json.dumps(audit_rows(app, "referral.view"))
    assert "+8613700002222" not in dump and "赵六" not in dump and "cab_only" not in dump
    # the page's own history lists what was done to the family, not every time it was opened
    assert "Family page viewed" not in coord.get(page).get_data(as_text=True)
    assert coord.get("/coordinator/").status_code == 200 and len(audit_rows(app, "referral.view")) == 4


def test_a_cross_site_request_reveals_no_contact_and_writes_no_audit_row(app: Flask, client: FlaskClient) -> None:
    """A link, image or form on another site rides the staff member's cookie, but never their CSRF token."""
    ref = add_referral(app, phone="+8613700003333")
    add_user(app, "admin@pumch.example", "admin")
    login(client, "admin@pumch.example")
    page = f"/coordinator/referrals/{ref['id']}"
    html = client.get(page + "?contact=show").get_data(as_text=True)
    assert "+8613700003333" not in html
    exports = ["/coordinator/log.csv", "/coordinator/export/referrals.csv", f"{page}/export.json"]
    for path in exports:
        response = client.get(path)
        assert response.status_code == 405, path
        assert "+8613700003333" not in response.get_data(as_text=True)
    for path in [f"{page}/contact", *exports]:
        response = client.post(path)  # a cross-site form: the cookie comes along, the token does not
        assert response.status_code == 400, path
        assert "+8613700003333" not in response.get_data(as_text=True)
    db = db_of(app)
    try:
        actions = [
            r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE 'export.%' OR action LIKE '%contact%'")
        ]
    finally:
        db.close()
    assert actions == [], "no export or contact view was recorded"
    # the real buttons, from our own pages, still work
    response = download(client, f"{page}/export.json", page)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    for path in ("/coordinator/log.csv", "/coordinator/export/referrals.csv"):
        response = download(client, path)
        assert response.status_code == 200 and response.mimetype == "text/csv", path
        assert response.headers["Content-Disposition"].startswith("attachment;"), path
        assert "no-store" in response.headers["Cache-Control"], path
    log_page = client.get("/coordinator/log").get_data(as_text=True)
    assert 'method="post" action="/coordinator/export/referrals.csv"' in log_page
    assert 'method="post" action="/coordinator/log.csv"' in log_page
    assert f'method="post" action="{page}/export.json"' in client.get(page).get_data(as_text=True)


def test_family_page_shows_checklist_groups_and_answers_in_both_languages(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, REVIEW, locale="zh")
    html = coord.get(f"/coordinator/referrals/{ref['id']}").get_data(as_text=True)
    study = study_registry.of(app).studies[STUDY_ID]
    hbv = study.question("hbv")
    assert hbv.text("guardian", "zh") in html and hbv.text("guardian", "en") in html
    assert hbv.choice("cab_only").label("zh") in html and hbv.choice("cab_only").label("en") in html
    headings = re.findall(r'<h3 class="group-(\w+)">', html)
    assert headings == ["not_met", "needs_review", "confirm_at_visit", "met"]
    review = html.split('class="group-needs_review"')[1].split('class="group-confirm_at_visit"')[0]
    assert "exc_hbv_sab_cab" in review
    # the listing's words, its copy errors mended ("Bsurface" → "B surface")
    assert listing_quote(study.criterion("exc_hbv_sab_cab").wording) in html


def test_notes_are_kept_and_audited_without_their_text(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    page = f"/coordinator/referrals/{ref['id']}"
    body = "妈妈说周三下午方便 <script>alert(1)</script>"
    assert post(coord, f"{page}/notes", page, "note-", {"note-body": body}).status_code == 302
    html = coord.get(page).get_data(as_text=True)
    assert "妈妈说周三下午方便 &lt;script&gt;" in html
    rows = audit_rows(app, "referral.note")
    assert len(rows) == 1 and "妈妈" not in (rows[0]["detail"] or "")


def test_a_save_comes_back_to_its_section_and_says_so_there(coord: FlaskClient, app: Flask) -> None:
    """A phone page is many screens long: a short menu to the sections, and each save returns to its own."""
    ref = add_referral(app, phone="+8613800138001")
    page = f"/coordinator/referrals/{ref['id']}"
    html = coord.get(page).get_data(as_text=True)
    menu = html[html.index('class="page-menu"') :].split("</nav>")[0]
    anchors = re.findall(r'href="#([\w-]+)"', menu)
    assert anchors == ["attempt-h", "status-h", "visit-h", "checklist-h", "notes-h"]
    assert all(f'id="{a}"' in html for a in anchors)
    assert html.index('class="page-menu"') < html.index('id="contact-h"')  # near the top

    def saved(path: str, prefix: str, data: dict, section: str, anchor: str) -> str:
        response = post(coord, f"{page}/{path}", page, prefix, data)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"{page}?saved={section}#{anchor}")
        shown = coord.get(f"{page}?saved={section}").get_data(as_text=True)
        assert shown.count('class="flash') == 1  # once, beside the form (not also at the top)
        assert shown.index(f'id="{anchor}"') < shown.index('class="flash flash-here"')
        return shown[shown.index('class="flash flash-here"') :].split("</div>")[0]

    data = {"attempt-channel": "phone", "attempt-result": "no_answer"}
    assert "Attempt recorded" in saved("attempts", "attempt-", data, "attempt", "attempt-h")
    assert "Note added." in saved("notes", "note-", {"note-body": "周三下午再打"}, "note", "notes-h")
    data = {"status-status": "not_interested"}
    assert "Status changed" in saved("status", "status-", data, "status", "status-h")
    assert "Assignment saved." in saved("assign", "", {"assignee": "me"}, "assign", "assign")
    # a message without a known section (or a form refused) stays at the top of the page
    post(coord, f"{page}/notes", page, "note-", {"note-body": "再试一次"})
    top = coord.get(f"{page}?saved=nowhere").get_data(as_text=True)
    assert 'class="flash flash-here"' not in top and top.index('class="flash"') < top.index("<h1")
    zh = coord.get(page + "?lang=zh").get_data(as_text=True)
    zh_menu = zh[zh.index('class="page-menu"') :].split("</nav>")[0]
    assert all(word in zh_menu for word in ("记录联系", "状态", "预约就诊", "核对清单", "备注"))


def test_the_family_page_writes_the_phone_as_the_call_list_does(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613800138001")
    html = show_contacts(coord, ref["id"]).get_data(as_text=True)
    assert '<a href="tel:+8613800138001">138 0013 8001</a>' in html


def test_the_log_csv_holds_no_identifier(coord: FlaskClient, app: Flask) -> None:
    contact = {
        "name": "李华妈妈",
        "phone": "+8613612345678",
        "email": "lihua.mum@example.cn",
        "wechat": "wxid_lihua_mum",
    }
    ref = add_referral(app, REVIEW, **contact)
    add_screening(app, NOT_ELIGIBLE)
    add_screening(app, complete=False)
    page = f"/coordinator/referrals/{ref['id']}"
    post(coord, f"{page}/notes", page, "note-", {"note-body": "call back 下午三点 private note"})
    response = download(coord, "/coordinator/log.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 3
    assert {r["outcome"] for r in rows} == {"needs_review", "not_eligible", ""}
    assert any(r["failed"] == "exc_prior_belimumab" for r in rows)
    assert any(r["referral_status"] == "new" for r in rows)
    secrets_ = [*contact.values(), ref["reference"], "下午三点", "private note", "工作日晚上", "2015-03", "cab_only"]
    for value in secrets_:
        assert value not in text, value
        assert value not in coord.get("/coordinator/log").get_data(as_text=True), value
    assert audit_rows(app, "export.log")


def test_identified_export_is_for_admins_and_audited_with_the_ids_it_held(app: Flask, client: FlaskClient) -> None:
    first = add_referral(app, phone="+8613512340000", name="=HYPERLINK(evil)")
    second = add_referral(app, phone="+8613512340001")
    add_user(app)
    add_user(app, "admin@pumch.example", "admin")
    login(client)
    assert download(client, "/coordinator/export/referrals.csv").status_code == 403
    assert download(client, "/coordinator/referrals/1/export.json").status_code == 403
    assert audit_rows(app, "export.identified") == []
    admin = app.test_client()
    login(admin, "admin@pumch.example")
    text = download(admin, "/coordinator/export/referrals.csv").get_data(as_text=True)
    # dialled as from China, no apostrophe, no "+" (Excel keeps it text); a typed formula still guarded
    assert "135 1234 0000" in text and "+8613512340000" not in text and "'=HYPERLINK(evil)" in text
    rows = audit_rows(app, "export.identified")
    assert len(rows) == 1 and json.loads(rows[0]["detail"]) == {"rows": 2, "referrals": [first["id"], second["id"]]}
    assert "+8613512340000" not in json.dumps(rows)


@pytest.mark.parametrize(
    ("lang", "mother", "self_", "columns"),
    [
        ("en", "Mother", "The patient themself", ("Parent's name", "Relationship to the child", "Phone")),
        ("zh", "母亲", "患者本人", ("家长姓名", "与孩子的关系", "电话")),
    ],
)
def test_identified_csv_says_who_sent_the_details(
    admin: FlaskClient, app: Flask, lang: str, mother: str, self_: str, columns: tuple[str, str, str]
) -> None:
    mum = add_referral(app, phone="+8613512340002")
    teen = add_referral(app, phone="+8613512340003")
    db = db_of(app)
    db.execute("UPDATE referrals SET relationship = 'mother' WHERE id = ?", [mum["id"]])
    db.execute("UPDATE referrals SET relationship = 'self' WHERE id = ?", [teen["id"]])
    db.close()
    response = download(admin, f"/coordinator/export/referrals.csv?lang={lang}")
    reader = csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
    header, *rows = list(reader)
    name, relationship, phone = columns
    assert header.index(relationship) == header.index(name) + 1
    by_phone = {row[header.index(phone)]: row[header.index(relationship)] for row in rows}
    assert by_phone == {"135 1234 0002": mother, "135 1234 0003": self_}


def test_subject_export_holds_everything_about_one_family_and_nobody_else(admin: FlaskClient, app: Flask) -> None:
    mine = add_referral(app, phone="+8613000000001", email="mine@example.cn", wechat="wx_mine")
    add_referral(app, phone="+8613000000002", email="other@example.cn", wechat="wx_other")
    page = f"/coordinator/referrals/{mine['id']}"
    post(admin, f"{page}/notes", page, "note-", {"note-body": "my note"})
    record = json.loads(download(admin, f"{page}/export.json", page).get_data(as_text=True))
    assert record["referral"]["phone"] == "+8613000000001"
    assert record["referral"]["wechat"] == "wx_mine" and record["referral"]["email"] == "mine@example.cn"
    assert json.loads(record["screening"]["answers"])["dob"] == "2015-03"
    assert record["notes"][0]["body"] == "my note"
    dump = json.dumps(record)
    assert "+8613000000002" not in dump and "wx_other" not in dump and "token_hash" not in dump
    assert audit_rows(app, "export.subject")[0]["record_id"] == str(mine["id"])


def test_funnel_counts_every_stage_as_inline_svg(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app)
    add_screening(app, NOT_ELIGIBLE)
    add_screening(app, complete=False)

    def stage(name: str) -> int:
        html = coord.get("/coordinator/funnel").get_data(as_text=True)
        assert "<svg" in html and "<script" not in html.split("<main")[1]
        return int(re.search(rf'data-stage="{name}">(\d+)<', html).group(1))

    assert (stage("started"), stage("completed"), stage("referred"), stage("contacted")) == (3, 2, 1, 0)
    page = f"/coordinator/referrals/{ref['id']}"
    post(coord, f"{page}/attempts", page, "attempt-", {"attempt-channel": "phone", "attempt-result": "reached"})
    visit_day = (clock.today() + timedelta(days=7)).isoformat()  # a visit is booked for a day to come
    post(coord, f"{page}/visit", page, "visit-", {"visit-day": visit_day, "visit-at": "14:00"})
    assert (stage("contacted"), stage("visit_scheduled"), stage("enrolled")) == (1, 1, 0)
    reason = study_registry.of(app).studies[STUDY_ID].criterion("exc_prior_belimumab").reason("en")
    assert reason in coord.get("/coordinator/funnel").get_data(as_text=True)


def test_admin_closes_and_opens_recruiting_coordinators_cannot(app: Flask, client: FlaskClient) -> None:
    from prescreen.store import recruiting as studies

    add_user(app)
    add_user(app, "admin@pumch.example", "admin")
    login(client)
    token = csrf(client, "/coordinator/studies")
    response = client.post(f"/coordinator/studies/{STUDY_ID}/status", data={"csrf_token": token, "action": "close"})
    assert response.status_code == 403
    admin = app.test_client()
    login(admin, "admin@pumch.example")
    token = csrf(admin, "/coordinator/studies")
    admin.post(
        f"/coordinator/studies/{STUDY_ID}/status", data={"csrf_token": token, "action": "close", "confirm": "yes"}
    )
    db = db_of(app)
    assert studies.status(db, STUDY_ID, "recruiting") == "closed"
    # the family's side: a closed study takes no new screening
    family = app.test_client()
    assert family.get(f"/s/{STUDY_ID}/start").status_code in (302, 303)
    assert 'class="closed"' in family.get(f"/s/{STUDY_ID}/").get_data(as_text=True)
    assert "Open recruiting" in admin.get("/coordinator/studies").get_data(as_text=True)
    admin.post(
        f"/coordinator/studies/{STUDY_ID}/status", data={"csrf_token": token, "action": "open", "confirm": "yes"}
    )
    assert studies.status(db, STUDY_ID, "recruiting") == "recruiting"
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE record_type = 'study' ORDER BY id")]
    db.close()
    # opening went through prescreen.mail.notify.publish_study (volunteers are told), closing did not
    assert actions == ["study.closed", "study.recruiting", "study.publish"]


def test_a_withdrawn_family_leaves_a_log_row_but_no_answers(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613800009999")
    db = db_of(app)
    db.execute(
        "UPDATE referrals SET guardian_name = NULL, phone = NULL, email = NULL, wechat = NULL, status = 'withdrawn' "
        "WHERE id = ?",
        [ref["id"]],
    )
    db.execute(
        "UPDATE screenings SET answers = '{}', criteria = NULL, failed = NULL WHERE id = ?", [ref["screening_id"]]
    )
    log = db.execute("SELECT outcome, referral_status FROM screening_log").fetchone()
    db.close()
    assert log == ("likely_eligible", "withdrawn")
    html = show_contacts(coord, ref["id"]).get_data(as_text=True)
    assert "+8613800009999" not in html
    assert "The answers have been deleted" in html


def test_screening_log_cannot_hold_a_contact_column() -> None:
    from prescreen.store.migrations import m0004_coordinator

    schema = " ".join(m0004_coordinator.STATEMENTS).lower()
    log_table = schema.split("create table screening_log")[1].split(")")[0]
    for word in ("name", "phone", "email", "wechat", "answers", "body", "reference"):
        assert word not in log_table


def test_audit_table_refuses_update_and_delete(app: Flask) -> None:
    db = db_of(app)
    db.execute("INSERT INTO audit (at, actor, action, record_type) VALUES ('x', 'y', 'z', 'w')")
    for sql in ("UPDATE audit SET action = 'changed'", "DELETE FROM audit"):
        with pytest.raises(INTEGRITY_ERRORS):
            db.execute(sql)
    db.close()


def test_a_referral_from_the_chat_store_alerts_the_team_and_reaches_the_queue(make_app) -> None:  # type: ignore[no-untyped-def]
    """The chat's own store functions: the alert row, the queue, the family's withdraw link."""
    from prescreen.public.referral import team_alert
    from prescreen.store import referrals

    app = make_app(STUDY_TEAM_EMAIL="team@pumch.example")
    screening = add_screening(app, REVIEW)
    contact = referrals.Contact(
        name="张三妈妈",
        relationship="mother",
        phone="+8613688889999",
        email="zhang@example.cn",
        wechat="wx_zhang",
        best_time="晚上",
        locale="zh",
    )
    db = db_of(app)
    with app.test_request_context():
        alert = team_alert(screening)
    row, created = referrals.create(
        db,
        screening=screening,
        contact=contact,
        age_band="10-13",
        consent_version="v1",
        guardian_consent=False,
        alert=alert,
        withdraw_token="withdraw-token-for-test",
    )
    assert created
    mail = list(db.query("SELECT * FROM outbox WHERE idempotency_key = ?", [f"referral-alert:{row['id']}"]))
    assert len(mail) == 1 and mail[0]["to_addr"] == "team@pumch.example"
    assert f"/coordinator/referrals/{row['id']}" in mail[0]["body_text"]
    for value in ("张三", "+8613688889999", "wx_zhang", "zhang@example.cn", "needs_review", "hbv"):
        assert value not in mail[0]["body_text"] + mail[0]["subject"]
    add_user(app, "admin@pumch.example", "admin")
    client = app.test_client()
    login(client, "admin@pumch.example")
    assert row["reference"] in client.get("/coordinator/").get_data(as_text=True)
    page = show_contacts(client, row["id"]).get_data(as_text=True)
    assert "+8613688889999" in page and "<dd>Mother</dd>" in page
    # the family's withdraw link: contacts and answers gone, the audit names the act only
    assert referrals.withdraw(db, "withdraw-token-for-test")
    page = show_contacts(client, row["id"]).get_data(as_text=True)
    assert "+8613688889999" not in page and "张三" not in page
    log = db.execute("SELECT outcome, referral_status FROM screening_log WHERE screening_id = ?", [screening["id"]])
    assert log.fetchone() == ("needs_review", "withdrawn")
    withdraw_audit = list(db.query("SELECT * FROM audit WHERE action = 'referral.withdraw'"))
    assert len(withdraw_audit) == 1 and "+86" not in json.dumps(withdraw_audit)
    db.close()


@pytest.mark.parametrize(
    ("referred", "due"),
    [
        # Beijing time in, UTC out: Friday 17:00 + 2 working days = Tuesday 17:00
        ("2026-11-20T09:00:00Z", "2026-11-24T09:00:00+00:00"),
        # Monday 10:00 → Wednesday 10:00
        ("2026-11-23T02:00:00Z", "2026-11-25T02:00:00+00:00"),
        # Saturday: counting starts Monday 00:00 → Wednesday 00:00 Beijing
        ("2026-11-21T04:00:00Z", "2026-11-24T16:00:00+00:00"),
    ],
)
def test_overdue_counts_working_days_in_beijing(referred: str, due: str) -> None:
    from datetime import datetime

    from prescreen.store.queue import add_working_days

    assert add_working_days(datetime.fromisoformat(referred), 2).isoformat() == due


def test_marking_withdrawn_erases_contacts_answers_and_notes(coord: FlaskClient, app: Flask) -> None:
    ref = add_referral(app, phone="+8613400001234", wechat="wx_gone")
    page = f"/coordinator/referrals/{ref['id']}"
    post(coord, f"{page}/notes", page, "note-", {"note-body": "family prefers afternoons"})
    # the status menu never erases; the erase form needs the reference typed in and a reason
    assert post(coord, f"{page}/status", page, "status-", {"status-status": "withdrawn"}).status_code == 400
    assert status_of(app, ref["id"]) == "new"
    erased = post(
        coord, f"{page}/erase", page, "erase-", {"erase-reason": "phone", "erase-confirm": ref["reference"].lower()}
    )
    assert erased.status_code == 302
    dump = dump_text(app)
    db = db_of(app)
    log = db.execute("SELECT outcome, referral_status FROM screening_log").fetchone()
    db.close()
    for value in ("+8613400001234", "wx_gone", "family prefers afternoons", "王小明家长", "2015-03"):
        assert value not in dump
    assert log == ("likely_eligible", "withdrawn")
    detail = json.loads(audit_rows(app, "referral.status")[0]["detail"])
    assert detail == {"erased": True, "erase_reason": "phone", "from": "new", "to": "withdrawn"}

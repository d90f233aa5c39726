"""Reports a PI can hand to an ethics committee: the log, funnel, reports page, weekly e-mail, audit trail.

Real app, real SQLite file, the real study and the Flask client, signed in for real; pages read in
Chinese (Accept-Language zh-CN) as the team reads them.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from openpyxl import load_workbook

import prescreen
from prescreen import studies as study_registry
from prescreen.store import audit, checklist, connect, migrate, migration_modules, referrals, transaction
from tests.helpers.staff import (
    NOT_ELIGIBLE,
    STUDY_ID,
    add_referral,
    add_screening,
    add_user,
    db_of,
    download,
    login,
    show_contacts,
)

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
#: 01:30 on 1 December in Beijing is 17:30 on 30 November in UTC.
NIGHT = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
#: The sheet's reason wording for "had belimumab before", and the criterion's positive label.
BELIMUMAB_REASON = "以前用过贝利尤单抗（无论多久以前）的孩子不能参加。"
BELIMUMAB_LABEL = "从未用过贝利尤单抗"
HBV_REASON = "乙肝表面抗原阳性不能参加，因为利妥昔单抗可能让乙肝病毒重新活动。"


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    add_user(app, "admin@pumch.example", "admin")
    assert login(client, "admin@pumch.example").status_code == 302
    return client


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path, headers=ZH)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def sql(app: Flask, statement: str, *params: object) -> None:
    db = db_of(app)
    try:
        db.execute(statement, list(params))
        db.conn.commit()
    finally:
        db.close()


def screen_fail(app: Flask, referral_id: int, criterion: str) -> None:
    """The team records a screen fail after the visit (the store's one status writer)."""
    db = db_of(app)
    try:
        referrals.set_status(db, referral_id, "screen_failed", criterion=criterion)
        audit.record(
            db,
            "user:1",
            "referral.status",
            "referral",
            referral_id,
            {"from": "visit_scheduled", "to": "screen_failed", "criterion": criterion},
        )
    finally:
        db.close()


def visible(html: str) -> str:
    """The text a reader sees: no tags, attributes, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_a_family_at_01_30_beijing_counts_on_that_beijing_day(app: Flask, admin: FlaskClient) -> None:
    add_screening(app, at=NIGHT)
    log = page(admin, "/coordinator/log")
    assert "2026-12-01" in log and "2026-11-30" not in log
    assert "2026-12-01" in page(admin, "/coordinator/log?from=2026-12-01&to=2026-12-01")
    assert "2026-12-01" not in page(admin, "/coordinator/log?from=2026-11-01&to=2026-11-30")
    assert 'data-stage="started">1<' in page(admin, "/coordinator/funnel?from=2026-12-01&to=2026-12-01")
    assert 'data-stage="started">0<' in page(admin, "/coordinator/funnel?from=2026-11-01&to=2026-11-30")
    rows = csv_rows(download(admin, "/coordinator/log.csv", "/coordinator/log", **{"from": "2026-12-01"}))
    assert [r["started_on"] for r in rows] == ["2026-12-01"]


def test_a_purged_01_30_screening_still_counts_on_its_beijing_day(app: Flask, admin: FlaskClient) -> None:
    add_screening(app, at=NIGHT)
    result = app.test_cli_runner().invoke(args=["purge", "--now", (NIGHT + timedelta(days=200)).isoformat()])
    assert result.exit_code == 0, result.output
    db = db_of(app)
    try:
        assert db.execute("SELECT count(*) FROM screenings").fetchone()[0] == 0  # only the log row is left
    finally:
        db.close()
    assert login(admin, "admin@pumch.example").status_code == 302  # the moved clock ended the session too
    assert "2026-12-01" in page(admin, "/coordinator/log?from=2026-12-01&to=2026-12-01")
    assert 'data-stage="started">1<' in page(admin, "/coordinator/funnel?from=2026-12-01&to=2026-12-01")
    assert 'data-stage="started">0<' in page(admin, "/coordinator/funnel?from=2026-11-01&to=2026-11-30")


def test_the_period_filter_counts_only_screenings_started_in_it(app: Flask, admin: FlaskClient) -> None:
    add_screening(app, at=datetime(2026, 10, 10, 2, tzinfo=UTC))
    add_screening(app, NOT_ELIGIBLE, at=datetime(2026, 11, 10, 2, tzinfo=UTC))
    add_screening(app, NOT_ELIGIBLE, at=datetime(2026, 11, 20, 2, tzinfo=UTC))

    def started(query: str) -> int:
        return int(re.search(r'data-stage="started">(\d+)<', page(admin, "/coordinator/funnel" + query)).group(1))

    assert (started(""), started("?from=2026-11-01&to=2026-11-30"), started("?to=2026-10-31")) == (3, 2, 1)
    assert started("?from=2026-11-30&to=2026-11-01") == 2  # reversed ends are read the right way round
    with_period = page(admin, "/coordinator/log?from=2026-11-01&to=2026-11-30")
    assert "2026-11-10" in with_period and "2026-10-10" not in with_period


def test_reasons_use_the_reason_wording_and_say_only_the_first_counts(app: Flask, admin: FlaskClient) -> None:
    add_screening(app, NOT_ELIGIBLE)
    add_screening(app, NOT_ELIGIBLE)
    funnel = page(admin, "/coordinator/funnel")
    assert BELIMUMAB_REASON in funnel
    assert BELIMUMAB_LABEL not in funnel and "exc_prior_belimumab" not in funnel
    assert "第一个" in funnel or "first reason" in funnel
    reasons = re.findall(r"<th scope=\"row\">([^<]+)</th><td data-reason>(\d+)<", funnel)
    assert reasons == [(BELIMUMAB_REASON, "2")]
    log = page(admin, "/coordinator/log")
    assert BELIMUMAB_REASON in log and "exc_prior_belimumab" not in log


def test_the_screen_fail_reason_shows_in_the_log_its_csv_and_the_funnel(app: Flask, admin: FlaskClient) -> None:
    ref = add_referral(app)
    screen_fail(app, ref["id"], "exc_hbv_sag")
    log = page(admin, "/coordinator/log")
    assert HBV_REASON in log and "exc_hbv_sag" not in log
    rows = csv_rows(download(admin, "/coordinator/log.csv"))
    assert rows[0]["screen_fail_criterion"] == "exc_hbv_sag"
    assert rows[0]["screen_fail_reason"] == HBV_REASON
    funnel = page(admin, "/coordinator/funnel")
    assert re.search(rf"<th scope=\"row\">{re.escape(HBV_REASON)}</th><td data-screen-fail>1<", funnel)
    assert 'data-status="screen_failed">1<' in funnel
    assert HBV_REASON in page(admin, "/coordinator/reports")
    assert HBV_REASON in page(admin, f"/coordinator/referrals/{ref['id']}")  # the family page says why too


def test_outcomes_are_not_steps_and_steps_carry_conversion_percentages(app: Flask, admin: FlaskClient) -> None:
    for _ in range(3):
        add_referral(app)
    add_screening(app, NOT_ELIGIBLE)
    for _ in range(4):
        add_screening(app, complete=False)
    funnel = page(admin, "/coordinator/funnel")
    steps = re.findall(r'<g class="bar bar-(\w+)">', funnel.split('id="funnel-title"')[1].split("</svg>")[0])
    assert steps == ["started", "completed", "referred", "contacted", "visit_scheduled", "enrolled"]
    shares = dict(re.findall(r'data-share="(\w+)">([^<]+)<', funnel))
    assert shares["completed"] == "50%"  # 4 of 8 finished
    assert shares["referred"] == "75%"  # 3 of the 4
    assert shares["contacted"] == "0%" and shares["visit_scheduled"] == "—"  # nothing to compare with


def test_the_log_shows_the_approved_version_label_beside_the_hash(
    app: Flask, admin: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = study_registry.of(app).studies[STUDY_ID]
    add_screening(app)
    assert study.version in page(admin, "/coordinator/log")
    monkeypatch.setitem(study.meta, "version_label", "V1.0 2026-01-15")
    log = page(admin, "/coordinator/log")
    assert "V1.0 2026-01-15" in log and study.version in log
    assert "ICH E6(R3)" in log and "8.3.20" not in log
    assert csv_rows(download(admin, "/coordinator/log.csv"))[0]["version_label"] == "V1.0 2026-01-15"


def test_reports_page_monthly_target_median_and_counts(
    app: Flask, admin: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(study_registry.of(app).studies[STUDY_ID].meta, "enrolment_target", "20")
    start = datetime(2026, 11, 2, 1, tzinfo=UTC)
    hours = [2, 4, 30]
    made = [add_referral(app, at=start + timedelta(days=i)) for i in range(3)]
    add_referral(app, at=datetime(2026, 10, 5, 1, tzinfo=UTC), locale="en")
    for ref, h in zip(made, hours, strict=True):
        sql(
            app,
            "UPDATE referrals SET first_contact_at = ? WHERE id = ?",
            (start + timedelta(days=made.index(ref), hours=h)).isoformat().replace("+00:00", "Z"),
            ref["id"],
        )
    sql(
        app, "UPDATE referrals SET status = 'enrolled', updated_at = '2026-11-20T02:00:00Z' WHERE id = ?", made[0]["id"]
    )
    html = page(admin, "/coordinator/reports?from=2026-11-01&to=2026-11-30")
    assert re.search(r'data-number="received">3<', html)
    assert "4.0 小时" in html or "4.0 hours" in html  # median of 2, 4 and 30 hours
    assert re.search(r'data-month-referrals="2026-11">3<', html) and re.search(
        r'data-month-enrolled="2026-11">1<', html
    )
    assert "1 / 20" in html or "1 of 20" in html or re.search(r"1\D+20\D+5%", html)
    assert re.search(r'data-language="zh">3<', html) and 'data-language="en"' not in html
    assert re.search(r'data-respondent="guardian">3<', html) and re.search(r'data-source="referral">3<', html)
    assert "<svg" in html and "<script" not in html.split("<main")[1]  # drawn on the server, no chart script
    everything = page(admin, "/coordinator/reports")
    assert re.search(r'data-language="en">1<', everything)


def test_report_downloads_are_chinese_labelled_csv_and_xlsx_and_audited(app: Flask, admin: FlaskClient) -> None:
    add_referral(app)
    xlsx = download(admin, "/coordinator/reports.xlsx", "/coordinator/reports", range="all")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    # the download's language follows the reader: ask in Chinese
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page(admin, "/coordinator/reports")).group(1)
    xlsx = admin.post("/coordinator/reports.xlsx", data={"csrf_token": token}, headers=ZH)
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    assert book.sheetnames == ["概况", "按月", "语言", "填写人", "来源", "筛选失败原因", "在哪一题停下", "按来源"]
    summary = book[book.sheetnames[0]]
    assert summary["A2"].value and summary["B2"].value == 1
    text = admin.post("/coordinator/reports.csv", data={"csrf_token": token}, headers=ZH).get_data(as_text=True)
    assert text.startswith("\ufeff") and "中文" in text and "王小明" not in text and "13800138000" not in text
    db = db_of(app)
    try:
        formats = [
            json.loads(d)["format"] for (d,) in db.execute("SELECT detail FROM audit WHERE action = 'export.report'")
        ]
    finally:
        db.close()
    assert formats == ["xlsx", "xlsx", "csv"]


def test_the_weekly_email_has_counts_and_codes_only_and_is_queued_once_a_week(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(STUDY_TEAM_EMAIL="team@pumch.example")
    monday = datetime(2026, 12, 7, 1, tzinfo=UTC)  # 09:00 Beijing, Monday 7 December
    fresh = add_referral(app, at=monday - timedelta(days=2), name="张三妈妈", phone="+8613911112222")
    late = add_referral(app, at=monday - timedelta(days=20))
    visit = add_referral(app, at=monday - timedelta(days=30))
    sql(app, "UPDATE referrals SET status = 'visit_scheduled', visit_date = '2026-12-09' WHERE id = ?", visit["id"])
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reports", "weekly", "--now", "2026-12-07T01:00:00Z"])
    assert first.exit_code == 0 and "queued the weekly summary for 2026-W50" in first.output
    again = runner.invoke(args=["reports", "weekly", "--now", "2026-12-10T01:00:00Z"])
    assert again.exit_code == 0 and "queued already" in again.output
    db = db_of(app)
    try:
        rows = list(db.query("SELECT * FROM outbox WHERE kind = 'weekly-summary'"))
    finally:
        db.close()
    assert len(rows) == 1 and rows[0]["to_addr"] == "team@pumch.example"
    body = rows[0]["body_text"]
    assert fresh["reference"] in body and late["reference"] in body and visit["reference"] in body
    new_line = next(line for line in body.splitlines() if fresh["reference"] in line)
    assert late["reference"] not in new_line  # 20 days old: overdue, not new
    overdue_line = next(line for line in body.splitlines() if late["reference"] in line)
    assert ": 1" in overdue_line or "：1" in overdue_line
    for private in ("张三", "13911112222", "parent@example.cn", "wxid", "贝利尤单抗", "2015"):
        assert private not in body and private not in rows[0]["subject"]
    next_week = runner.invoke(args=["reports", "weekly", "--now", "2026-12-14T01:00:00Z"])
    assert "2026-W51" in next_week.output and "queued the weekly" in next_week.output


def test_weekly_without_a_team_address_queues_nothing(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["reports", "weekly"])
    assert result.exit_code == 0 and "nothing queued" in result.output


def test_the_audit_trail_filters_by_person_record_and_days_in_words(app: Flask, admin: FlaskClient) -> None:
    ref = add_referral(app)
    other = add_referral(app)
    add_user(app, "coord@pumch.example")
    coord = app.test_client()
    assert login(coord, "coord@pumch.example").status_code == 302
    coord.get(f"/coordinator/referrals/{ref['id']}")
    show_contacts(coord, ref["id"])
    coord.get(f"/coordinator/referrals/{other['id']}")
    screen_fail(app, ref["id"], "exc_hbv_sag")
    download(admin, "/coordinator/log.csv")

    everything = page(admin, "/coordinator/audit")
    for code in ("referral.view", "referral.status", "export.log", "login.success", "exc_hbv_sag", '{"'):
        assert code not in everything, code
    for words in ("查看了联系方式", HBV_REASON, ref["reference"]):
        assert words in everything, words

    mine = page(admin, f"/coordinator/audit?record={ref['reference'].lower()}")
    assert ref["reference"] in mine and other["reference"] not in mine
    assert len(re.findall(r"<tr>", mine)) - 1 == 4  # viewed, contacts shown, viewed again, screen failed
    coords = page(admin, "/coordinator/audit?who=user:2")
    assert "admin@pumch.example</td>" not in coords and "coord@pumch.example</td>" in coords
    assert (
        "<tr>"
        not in page(admin, "/coordinator/audit?from=2020-01-01&to=2020-01-31").split("<tbody>")[1].split("</tbody>")[0]
    )

    rows = csv_rows(download(admin, "/coordinator/audit.csv", "/coordinator/audit", record=ref["reference"]))
    assert len(rows) == 4 and all(ref["reference"] in r[list(r)[4]] for r in rows)
    assert not any("referral." in value for r in rows for value in r.values())


def test_the_audit_trail_is_for_admins_only(app: Flask, client: FlaskClient) -> None:
    add_user(app)
    login(client)
    assert client.get("/coordinator/audit").status_code == 403
    assert client.post("/coordinator/audit.csv").status_code in (400, 403)


def test_chinese_family_page_labels_best_time_actor_and_mends_the_listing_quote(app: Flask, admin: FlaskClient) -> None:
    ref = add_referral(app)
    sql(app, "UPDATE referrals SET best_time = 'evening', relationship = 'mother' WHERE id = ?", ref["id"])
    db = db_of(app)
    try:
        audit.record(db, "family", "referral.create", "referral", ref["id"], {"outcome": "likely_eligible"})
    finally:
        db.close()
    html = page(admin, f"/coordinator/referrals/{ref['id']}")
    show = admin.post(
        f"/coordinator/referrals/{ref['id']}/contact",
        data={"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)},
        headers=ZH,
    ).get_data(as_text=True)
    text = visible(show)
    for code in ("evening", "mother", "(family)", "significantabnormal", "109/L", "exc_"):
        assert code not in text, code
    assert "晚上" in show and "significant abnormal" in show and "10⁹/L" in show
    assert "无明显异常的化验结果（由研究者判断）" in show


def test_m0017_moves_old_log_rows_to_beijing_days_and_copies_the_screen_fail_criterion(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.sqlite3")
    db.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, module in migration_modules():
        if version >= "m0017":
            break
        with transaction(db):
            module.up(db)  # type: ignore[attr-defined]
            db.execute("INSERT INTO schema_migrations VALUES (?, 'x')", [version])
    night, noon = "2026-11-30T17:30:00Z", "2026-11-30T04:00:00Z"
    with transaction(db):
        for sid, at in ((1, night), (2, noon), (3, night)):
            db.execute(
                "INSERT INTO screenings (id, token_hash, study_id, version, locale, status, created_at, updated_at, "
                "completed_at) VALUES (?, ?, 's', 'v', 'zh', 'completed', ?, ?, ?)",
                [sid, f"h{sid}", at, at, at],
            )
        db.execute(
            "INSERT INTO referrals (screening_id, study_id, reference, status, screen_fail_criterion, created_at, "
            "updated_at) VALUES (1, 's', 'PS-OLD001', 'screen_failed', 'exc_hbv_sag', ?, ?)",
            [night, night],
        )
        db.execute("DELETE FROM screenings WHERE id = 3")  # purged before m0017: only its UTC day is left
    old = db.execute("SELECT started_on, completed_on FROM screening_log ORDER BY id").fetchall()
    assert old == [("2026-11-30", "2026-11-30")] * 3
    assert "m0017_log_beijing_days" in migrate(db)
    rows = db.execute("SELECT started_on, completed_on, screen_fail_criterion FROM screening_log ORDER BY id")
    assert rows.fetchall() == [
        ("2026-12-01", "2026-12-01", "exc_hbv_sag"),
        ("2026-11-30", "2026-11-30", None),
        ("2026-11-30", "2026-11-30", None),  # cannot be recovered: no time of day was kept
    ]
    with transaction(db):  # the renewed triggers: new rows in Beijing days, a criterion chosen later kept
        db.execute(
            "INSERT INTO screenings (id, token_hash, study_id, version, locale, status, created_at, updated_at) "
            "VALUES (4, 'h4', 's', 'v', 'zh', 'in_progress', ?, ?)",
            [night, night],
        )
        db.execute("UPDATE screenings SET status = 'completed', completed_at = ? WHERE id = 4", [night])
        db.execute(
            "INSERT INTO referrals (screening_id, study_id, reference, status, created_at, updated_at) "
            "VALUES (4, 's', 'PS-NEW001', 'visit_scheduled', ?, ?)",
            [night, night],
        )
        db.execute("UPDATE referrals SET status = 'screen_failed', screen_fail_criterion = 'exc_tb' WHERE id = 2")
        db.execute("UPDATE referrals SET screen_fail_criterion = NULL WHERE id = 2")  # never wiped in the log
    row = db.execute("SELECT started_on, completed_on, screen_fail_criterion FROM screening_log WHERE screening_id = 4")
    assert row.fetchone() == ("2026-12-01", "2026-12-01", "exc_tb")
    db.close()


def _audit_calls() -> list[tuple[str, ast.Call, ast.AST | None]]:
    """Every ``audit.record(...)`` the app can write: (file, call, the function around it)."""
    found = []
    for path in sorted(Path(prescreen.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] + [tree]:
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit"
                ):
                    found.append((path.name, node, func))
    return found


def _detail_keys(detail: ast.AST | None, func: ast.AST | None) -> set[str]:
    """The keys an audit row's detail can hold: its dict literal, or what the function puts in that name."""
    if detail is None:
        return set()

    def of_dict(d: ast.Dict) -> set[str]:
        keys = {k.value for k in d.keys if isinstance(k, ast.Constant)}
        for k, v in zip(d.keys, d.values, strict=True):
            if k is None and isinstance(v, ast.Call) and getattr(v.func, "attr", "") == "audit_detail":
                keys |= {"period_from", "period_to"}
            elif k is None and isinstance(v, ast.Dict):
                keys |= of_dict(v)
        return keys

    if isinstance(detail, ast.Dict):
        return of_dict(detail)
    assert isinstance(detail, ast.Name), ast.dump(detail)
    keys: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id == detail.id and isinstance(node.value, ast.Dict):
                    keys |= of_dict(node.value)
                if isinstance(t, ast.Subscript) and getattr(t.value, "id", "") == detail.id:
                    keys.add(t.slice.value)  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "update":
            if getattr(node.func.value, "id", "") == detail.id:  # type: ignore[attr-defined]
                keys |= {kw.arg for kw in node.keywords if kw.arg}
    return keys


def _chinese(text: object) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in str(text))


def test_every_audit_action_and_detail_key_the_app_writes_has_a_chinese_label(app: Flask) -> None:
    from prescreen.coordinator import shared

    calls = _audit_calls()
    assert len(calls) > 40  # the walk found the app's audit rows
    missing = []
    with app.test_request_context(headers=ZH), force_locale("zh"):
        for where, call, func in calls:
            args = call.args
            action = args[2]
            if isinstance(action, ast.JoinedStr):  # f"study.{new_status}": every action with that prefix
                prefix = action.values[0].value  # type: ignore[attr-defined]
                actions = [a for a in shared.ACTION_LABELS if a.startswith(prefix)]
            else:  # a literal, or "user.enable" if active else "user.disable"
                actions = [
                    n.value for n in ast.walk(action) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
            assert actions, where
            for name in actions:
                if not _chinese(shared.ACTION_LABELS.get(name, "")):
                    missing.append(f"{where}: action {name}")
            if isinstance(args[3], ast.Constant) and not _chinese(shared.RECORD_TYPE_LABELS.get(args[3].value, "")):
                missing.append(f"{where}: record type {args[3].value}")
            detail = args[5] if len(args) > 5 else None
            for key in sorted(_detail_keys(detail, func)):
                if key not in shared.HIDDEN_DETAILS and not _chinese(shared.DETAIL_LABELS.get(key, "")):
                    missing.append(f"{where}: {actions[0]} detail {key}")
        for label_map in (shared.VERDICT_LABELS, shared.SOURCE_LABELS, shared.VIEW_LABELS, shared.REMINDER_LABELS):
            missing += [f"value {k}" for k, v in label_map.items() if not _chinese(v)]
        missing += [f"kind {k}" for k, v in shared.ACTION_KIND_LABELS.items() if not _chinese(v)]
    assert not missing, missing
    grouped = [a for group in shared.ACTION_KINDS.values() for a in group]
    assert sorted(grouped) == sorted(shared.ACTION_LABELS), "each action in exactly one kind of action"
    assert set(shared.ACTION_KINDS) | {"not_view"} == set(shared.ACTION_KIND_LABELS)


def test_the_audit_trail_says_checks_views_and_visits_in_words_and_filters_by_kind(
    app: Flask, admin: FlaskClient
) -> None:
    ref = add_referral(app)
    page(admin, f"/coordinator/referrals/{ref['id']}")
    page(admin, f"/coordinator/referrals/{ref['id']}/print")
    page(admin, f"/coordinator/referrals/{ref['id']}/eligibility")
    db = db_of(app)
    try:
        checklist.mark(db, ref["id"], "exc_hbv_sag", "confirmed", "lab_report", None, 1, "user:1")
        detail = {"from": "contacted", "to": "visit_scheduled", "date": "2026-12-05", "time": "09:30"}
        audit.record(db, "user:1", "referral.visit", "referral", ref["id"], {**detail, "reminders": ["family", "team"]})
    finally:
        db.close()
    label = study_registry.of(app).studies[STUDY_ID].criterion("exc_hbv_sag").label("zh")

    html = page(admin, "/coordinator/audit")
    details = html.split("<tbody>")[1]
    for code in ("confirmed", "lab_report", "eligibility_sheet", ">print<", "<dt>其他</dt>", "2项"):
        assert code not in details, code
    assert HBV_REASON not in details  # a confirmed check never reads as the reason that rules a child out
    for words in (label, "已核实", "化验单", "打印版", "就诊日期", "2026-12-05", "09:30", "家长/患者本人、研究团队"):
        assert words in visible(details), words

    hidden = page(admin, "/coordinator/audit?kind=not_view")
    assert "查看了家庭详情页" not in hidden and label in hidden and "登录" in hidden
    views = page(admin, "/coordinator/audit?kind=view").split("<tbody>")[1]
    assert views.count("<tr>") == 3 and label not in views
    assert 'name="kind" value="view"' in page(admin, "/coordinator/audit?kind=view&page=1").replace(
        'type="hidden" ', ""
    )


def test_reports_chart_has_room_for_the_tallest_count_and_no_file_names(app: Flask, admin: FlaskClient) -> None:
    for _ in range(3):
        add_referral(app)
    html = page(admin, "/coordinator/reports")
    chart = html.split('class="columns"')[1].split("</svg>")[0]
    ys = [float(y) for y in re.findall(r'<text[^>]*y="(-?[\d.]+)"[^>]*class="count"', chart)]
    assert ys and min(ys) >= 13  # the 13 px count is drawn inside the chart, not above it
    assert "study.csv" not in html and "enrolment_target" not in html
    assert "尚未设定入组目标" in html and "管理员" in html
    form = html.split('class="filters"')[1].split("</form>")[0]
    assert form.index('id="p-to"') < form.index('type="submit"') < form.index('class="presets"')


def test_an_empty_version_label_is_said_in_words_on_the_log_and_the_sheet(app: Flask, admin: FlaskClient) -> None:
    ref = add_referral(app)
    version = study_registry.of(app).studies[STUDY_ID].version
    for path in ("/coordinator/log", f"/coordinator/referrals/{ref['id']}/eligibility"):
        html = page(admin, path)
        assert version in html and "未填写伦理批准的版本号" in html, path


def test_the_funnel_counts_where_families_stopped_and_downloads_hide_small_counts(
    app: Flask, admin: FlaskClient
) -> None:
    now = datetime.now(UTC)
    for _ in range(6):  # stopped at the first question two days ago
        add_screening(app, {}, at=now - timedelta(days=2), complete=False)
    for _ in range(2):  # stopped at the diagnosis three days ago
        add_screening(app, {"dob": "2015-03"}, at=now - timedelta(days=3), complete=False)
    add_screening(app, {"dob": "2015-03"}, at=now - timedelta(hours=2), complete=False)  # may still be typing
    add_screening(app, {"dob": "2015-03"}, at=now - timedelta(days=60), complete=False)  # before the period
    add_screening(app, at=now - timedelta(days=2))  # finished: not a drop-off
    since = (now - timedelta(days=20)).astimezone(prescreen.clock.TEAM_TZ).date().isoformat()

    def stopped(html: str) -> dict[str, tuple[str, int]]:
        found = re.findall(r'<th scope="row">([^<]+)</th><td data-stopped="(\w+)">(\d+)<', html)
        return {key: (label, int(n)) for label, key, n in found}

    zh = stopped(page(admin, f"/coordinator/funnel?from={since}"))
    assert zh == {
        "dob": ("1. 孩子是哪年哪月出生的？", 6),
        "diagnosis": ("2. 医生有没有诊断过孩子是干燥综合征（舍格伦综合征）？", 2),
    }
    assert stopped(page(admin, "/coordinator/funnel?range=all"))["diagnosis"][1] == 3  # the older one too
    html = admin.get(f"/coordinator/funnel?from={since}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert stopped(html)["dob"] == ("1. In what month and year was your child born?", 6)
    assert 'id="stopped-title"' in html and "2015-03" not in html  # the chart, and never an answer

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page(admin, "/coordinator/reports")).group(1)
    form = {"csrf_token": token, "from": since}
    text = admin.post("/coordinator/reports.csv", data=form, headers=ZH).get_data(as_text=True)
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if r[0] == "在哪一题停下"]
    assert [(r[1], r[3]) for r in rows] == [
        ("1. 孩子是哪年哪月出生的？", "6"),
        ("2. 医生有没有诊断过孩子是干燥综合征（舍格伦综合征）？", "<5"),
    ]
    book = load_workbook(io.BytesIO(admin.post("/coordinator/reports.xlsx", data=form, headers=ZH).get_data()))
    assert [[c.value for c in r] for r in book["在哪一题停下"].iter_rows(min_row=2)] == [
        ["1. 孩子是哪年哪月出生的？", 6],
        ["2. 医生有没有诊断过孩子是干燥综合征（舍格伦综合征）？", "<5"],
    ]

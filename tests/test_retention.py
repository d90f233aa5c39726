"""Retention of finished screenings and open referrals: `prescreen purge` with a moved clock.

A finished screening nobody was referred from goes after ``RETENTION_SCREENING_DAYS``, an open
referral nobody has worked on is closed and erased after ``RETENTION_OPEN_REFERRAL_DAYS``; the
de-identified log keeps counting both, and the consent notices state both periods.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from prescreen.store import outbox, queue_reports, transaction
from tests.helpers.staff import (
    NOT_ELIGIBLE,
    STUDY_ID,
    add_referral,
    add_screening,
    add_user,
    days_ago,
    db_of,
    iso,
    login,
)

PHONE = "+8613912345678"


def purge_at(app: Flask, days_from_now: float) -> str:
    """Run ``prescreen purge`` as if it were *days_from_now* days later; returns its output."""
    moment = (datetime.now(UTC) + timedelta(days=days_from_now)).isoformat()
    result = app.test_cli_runner().invoke(args=["purge", "--now", moment])
    assert result.exit_code == 0, result.output
    return result.output


def one(app: Flask, sql: str, *params: object) -> tuple:
    db = db_of(app)
    try:
        return db.execute(sql, list(params)).fetchone()
    finally:
        db.close()


def test_a_finished_screening_never_referred_goes_after_90_days_and_the_log_keeps_counting(app: Flask) -> None:
    screening = add_screening(app, NOT_ELIGIBLE, at=days_ago(10))
    db = db_of(app)
    funnel_before = queue_reports.funnel(db, STUDY_ID)
    db.close()
    assert funnel_before["reasons"]  # the criterion that was not met is counted

    # 89 days after the family last used it: still there, answers and all.
    assert "finished screenings: 0" in purge_at(app, 79)
    assert one(app, "SELECT answers != '{}' FROM screenings WHERE id = ?", screening["id"]) == (1,)

    # 91 days: gone, with its consents; the log row keeps the outcome and the failed criteria.
    assert "finished screenings: 1" in purge_at(app, 81)
    assert one(app, "SELECT count(*) FROM screenings WHERE id = ?", screening["id"]) == (0,)
    assert one(app, "SELECT count(*) FROM consents WHERE screening_id = ?", screening["id"]) == (0,)
    status, outcome, failed = one(app, "SELECT status, outcome, failed FROM screening_log")
    assert (status, outcome) == ("completed", "not_eligible")
    assert json.loads(failed) == json.loads(screening["failed"]) != []
    db = db_of(app)
    assert queue_reports.funnel(db, STUDY_ID) == funnel_before
    db.close()


def test_the_screening_period_counts_from_the_last_use_and_spares_referred_families(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RETENTION_SCREENING_DAYS=30)
    recent = add_screening(app, at=days_ago(20))
    referred = add_referral(app, at=days_ago(20))
    assert "finished screenings: 0" in purge_at(app, 5)
    assert "finished screenings: 1" in purge_at(app, 15)
    assert one(app, "SELECT count(*) FROM screenings WHERE id = ?", recent["id"]) == (0,)
    # A referred family's answers follow the referral's periods, not this one.
    assert one(app, "SELECT answers != '{}' FROM screenings WHERE id = ?", referred["screening_id"]) == (1,)


def test_a_pending_recheck_reminder_keeps_its_consent_on_record_until_it_is_sent(app: Flask) -> None:
    screening = add_screening(app, NOT_ELIGIBLE, at=days_ago(100))
    db = db_of(app)
    with transaction(db):
        db.execute(
            "INSERT INTO consents (screening_id, kind, text_version, locale, role, created_at) "
            "VALUES (?, 'recheck_reminder', 'v1', 'zh', 'guardian', ?)",
            [screening["id"], iso(days_ago(100))],
        )
        outbox.enqueue(
            db,
            key=f"recheck-reminder:{screening['id']}",
            kind="recheck-reminder",
            to_addr="parent@example.cn",
            locale="zh",
            subject="s",
            body_text="b",
        )
    db.close()

    # Past 90 days: the answers go at once, the row and its consents wait for the e-mail.
    assert "finished screenings: 1" in purge_at(app, 0)
    assert one(app, "SELECT answers, criteria FROM screenings WHERE id = ?", screening["id"]) == ("{}", None)
    assert one(app, "SELECT kind FROM consents WHERE screening_id = ?", screening["id"]) == ("recheck_reminder",)
    assert "finished screenings: 0" in purge_at(app, 0)  # nothing more to do while it waits

    db = db_of(app)
    with transaction(db):
        db.execute("UPDATE outbox SET status = 'sent'")
    db.close()
    assert "finished screenings: 1" in purge_at(app, 0)
    assert one(app, "SELECT count(*) FROM screenings WHERE id = ?", screening["id"]) == (0,)
    assert one(app, "SELECT count(*) FROM screening_log WHERE outcome = 'not_eligible'") == (1,)


def test_an_open_referral_nobody_worked_on_is_closed_and_erased_after_180_days_not_before(app: Flask) -> None:
    referral = add_referral(app, at=days_ago(100), phone=PHONE)
    db = db_of(app)
    with transaction(db):
        db.execute(
            "INSERT INTO notes (referral_id, body, created_at) VALUES (?, 'rang twice', ?)", [referral["id"], "x"]
        )
        db.execute(
            "INSERT INTO contact_attempts (referral_id, channel, result, at) VALUES (?, 'phone', 'no_answer', ?)",
            [referral["id"], iso(days_ago(100))],
        )
    db.close()

    # 179 days without activity: untouched.
    assert "stale open referrals: 0" in purge_at(app, 79)
    assert one(app, "SELECT phone, status FROM referrals WHERE id = ?", referral["id"]) == (PHONE, "new")

    # 181 days: closed as "could not reach" for the retention period, everything personal gone.
    assert "stale open referrals: 1" in purge_at(app, 81)
    row = one(
        app,
        "SELECT guardian_name, phone, email, wechat, best_time, status, closed_reason, closed_at IS NOT NULL, "
        "purged_at IS NOT NULL FROM referrals WHERE id = ?",
        referral["id"],
    )
    assert row == (None, None, None, None, None, "unreachable", "retention", 1, 1)
    assert one(app, "SELECT answers, criteria FROM screenings WHERE id = ?", referral["screening_id"]) == ("{}", None)
    assert one(app, "SELECT count(*) FROM notes") == (0,)
    assert one(app, "SELECT count(*) FROM contact_attempts") == (0,)
    # The log counts the referral with its new status; the audit says what happened, by code only.
    assert one(app, "SELECT referred, referral_status FROM screening_log") == (1, "unreachable")
    (detail,) = one(
        app, "SELECT detail FROM audit WHERE action = 'referral.status' AND record_id = ?", str(referral["id"])
    )
    assert json.loads(detail) == {"erased": True, "from": "new", "reason": "retention", "to": "unreachable"}
    assert one(app, "SELECT count(*) FROM audit WHERE detail LIKE ? OR detail LIKE '%rang%'", f"%{PHONE}%") == (0,)


def test_the_queue_shows_why_a_referral_was_closed(app: Flask) -> None:
    referral = add_referral(app, at=days_ago(200))
    purge_at(app, 0)
    add_user(app)
    client = app.test_client()
    assert login(client).status_code == 302
    page = client.get(f"/coordinator/referrals/{referral['id']}?lang=en").get_data(as_text=True)
    assert "closed by the retention period" in page and "180 days" in page
    listing = client.get("/coordinator/?status=unreachable&lang=en").get_data(as_text=True)
    assert referral["reference"] in listing and "closed by the retention period" in listing
    zh = client.get(f"/coordinator/referrals/{referral['id']}?lang=zh").get_data(as_text=True)
    assert "因超过保存期限而关闭" in zh


@pytest.mark.parametrize(
    ("status", "updated_days_ago", "visit_in_days", "closed"),
    [
        ("attempt_2", 170, None, False),  # an attempt 170 days ago is activity
        ("attempt_2", 190, None, True),
        ("visit_scheduled", 250, 30, False),  # a visit still to come keeps it open
        ("visit_scheduled", 250, -190, True),  # a visit long past with nothing since does not
        ("contacted", 181, None, True),
    ],
)
def test_activity_or_a_visit_ahead_keeps_a_referral_open(
    app: Flask, status: str, updated_days_ago: int, visit_in_days: int | None, closed: bool
) -> None:
    referral = add_referral(app, at=days_ago(400))
    visit = (date.today() + timedelta(days=visit_in_days)).isoformat() if visit_in_days is not None else None
    db = db_of(app)
    with transaction(db):
        db.execute(
            "UPDATE referrals SET status = ?, updated_at = ?, visit_date = ? WHERE id = ?",
            [status, iso(days_ago(updated_days_ago)), visit, referral["id"]],
        )
    db.close()
    output = purge_at(app, 0)
    assert f"stale open referrals: {int(closed)}" in output
    assert one(app, "SELECT status FROM referrals WHERE id = ?", referral["id"]) == (
        ("unreachable",) if closed else (status,)
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_notices_state_every_period_from_the_configuration(make_app, lang: str) -> None:  # type: ignore[no-untyped-def]
    from prescreen.public.text import notice_context, render_in

    app = make_app(
        RETENTION_INCOMPLETE_DAYS=21,
        RETENTION_SCREENING_DAYS=77,
        RETENTION_OPEN_REFERRAL_DAYS=133,
        RETENTION_CLOSED_REFERRAL_DAYS=166,
    )
    with app.test_request_context():
        health = render_in(lang, "public/_notice.html", **notice_context())
        share = render_in(lang, "public/_share_notice.html", **notice_context())
    for days in ("21", "77", "133", "166"):
        assert days in health
    for days in ("133", "166"):
        assert days in share
    # and the page a family actually sees says the same
    body = app.test_client().get(f"/s/{STUDY_ID}/consent?as=guardian&lang={lang}").get_data(as_text=True)
    assert "77" in body and "133" in body

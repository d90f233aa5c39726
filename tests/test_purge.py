"""Retention: `prescreen purge` with a moved clock deletes what has expired, keeps the log rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from prescreen.store.users import iso
from tests.helpers.public import raw_connection
from tests.helpers.staff import add_referral, add_screening, days_ago, db_of


def count(app: Flask, sql: str, *params: object) -> int:
    db = db_of(app)
    try:
        return db.execute(sql, list(params)).fetchone()[0]
    finally:
        db.close()


def close_referral(app: Flask, referral_id: int, status: str, days: float) -> None:
    db = db_of(app)
    db.execute(
        "UPDATE referrals SET status = ?, closed_at = ?, updated_at = ? WHERE id = ?",
        [status, iso(days_ago(days)), iso(days_ago(days)), referral_id],
    )
    db.close()


def test_purge_with_a_moved_clock(app: Flask) -> None:
    fresh_incomplete = add_screening(app, complete=False, at=days_ago(1))
    old_incomplete = add_screening(app, complete=False, at=days_ago(10))
    finished = add_screening(app, at=days_ago(10))  # anonymous and complete: goes after 90 days
    closed = add_referral(app, at=days_ago(100), phone="+8613100000001")
    open_ = add_referral(app, at=days_ago(100), phone="+8613100000002")
    close_referral(app, closed["id"], "not_interested", 5)
    db = db_of(app)
    db.execute("INSERT INTO notes (referral_id, body, created_at) VALUES (?, 'note', 'x')", [closed["id"]])
    db.execute(
        "INSERT INTO contact_attempts (referral_id, channel, result, at) VALUES (?, 'phone', 'reached', 'x')",
        [closed["id"]],
    )
    db.execute(
        "INSERT INTO consents (screening_id, kind, text_version, locale, role, created_at) "
        "VALUES (?, 'share', 'v1', 'zh', 'guardian', 'x')",
        [closed["screening_id"]],
    )
    db.close()
    log_before = count(app, "SELECT count(*) FROM screening_log")
    runner = app.test_cli_runner()

    # Today nothing has expired.
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert count(app, "SELECT count(*) FROM screenings") == 5

    # 25 days on: the 10-day-old unfinished screening passes 30 days; nothing else.
    later = (datetime.now(UTC) + timedelta(days=25)).isoformat()
    result = runner.invoke(args=["purge", "--now", later])
    assert "incomplete screenings: 1" in result.output and "closed referrals: 0" in result.output
    assert "finished screenings: 0" in result.output and "stale open referrals: 0" in result.output
    ids = {r[0] for r in db_of(app).execute("SELECT id FROM screenings")}
    assert old_incomplete["id"] not in ids and fresh_incomplete["id"] in ids

    # 180 days after it closed, the closed referral goes with everything about that family; the
    # finished anonymous screening is long past 90 days, and the open referral has had no
    # activity for 276 days (past 180): closed and erased too.
    much_later = (datetime.now(UTC) + timedelta(days=176)).isoformat()
    result = runner.invoke(args=["purge", "--now", much_later])
    assert "closed referrals: 1" in result.output
    assert "finished screenings: 1" in result.output and "stale open referrals: 1" in result.output
    assert count(app, "SELECT count(*) FROM referrals WHERE phone = '+8613100000001'") == 0
    shell = db_of(app).execute(
        "SELECT guardian_name, email, wechat, best_time, status, purged_at IS NOT NULL FROM referrals WHERE id = ?",
        [closed["id"]],
    )
    assert shell.fetchone() == (None, None, None, None, "not_interested", 1)
    answers = db_of(app).execute("SELECT answers, criteria FROM screenings WHERE id = ?", [closed["screening_id"]])
    assert answers.fetchone() == ("{}", None)
    assert count(app, "SELECT count(*) FROM notes") == 0
    assert count(app, "SELECT count(*) FROM contact_attempts") == 0
    # consents hold no personal data: they stay as the record of what was agreed
    assert count(app, "SELECT count(*) FROM consents WHERE screening_id = ?", closed["screening_id"]) == 1
    # a second run finds nothing more to do
    result = runner.invoke(args=["purge", "--now", much_later])
    assert "closed referrals: 0" in result.output and "stale open referrals: 0" in result.output
    # the stale open referral stays as a closed shell; the finished anonymous screening is gone
    assert count(app, "SELECT count(*) FROM referrals WHERE id = ? AND phone IS NULL", open_["id"]) == 1
    assert count(app, "SELECT count(*) FROM screenings WHERE id = ?", finished["id"]) == 0
    # the de-identified log still counts every screening, with the referrals' last status
    assert count(app, "SELECT count(*) FROM screening_log") == log_before == 5
    assert count(app, "SELECT count(*) FROM screening_log WHERE referral_status = 'not_interested'") == 1
    assert count(app, "SELECT count(*) FROM screening_log WHERE referral_status = 'unreachable'") == 1
    audit = count(app, "SELECT count(*) FROM audit WHERE action = 'purge' AND detail NOT LIKE '%+86%'")
    assert audit == 4


def test_purge_removes_expired_staff_sessions(app: Flask) -> None:
    from tests.helpers.staff import add_user, login

    add_user(app)
    client = app.test_client()
    login(client)
    assert count(app, "SELECT count(*) FROM staff_sessions") == 1
    later = (datetime.now(UTC) + timedelta(minutes=31)).isoformat()
    result = app.test_cli_runner().invoke(args=["purge", "--now", later])
    assert "staff sessions: 1" in result.output
    assert count(app, "SELECT count(*) FROM staff_sessions") == 0


def test_purge_refuses_a_bad_clock(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["purge", "--now", "next tuesday"])
    assert result.exit_code != 0 and "not an ISO date" in result.output


def test_a_new_screening_reusing_a_purged_id_gets_its_own_log_row(app: Flask) -> None:
    """SQLite reuses the highest rowid once it is deleted; the old log row must not be overwritten."""
    from tests.helpers.staff import NOT_ELIGIBLE

    add_screening(app, NOT_ELIGIBLE, at=days_ago(3))
    last = add_screening(app, complete=False, at=days_ago(40))
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert "incomplete screenings: 1" in app.test_cli_runner().invoke(args=["purge", "--now", later]).output
    reused = add_screening(app)
    assert reused["id"] == last["id"]  # the id came back
    db = db_of(app)
    rows = db.execute("SELECT screening_id, status, outcome FROM screening_log ORDER BY id").fetchall()
    db.close()
    assert rows == [(1, "completed", "not_eligible"), (None, "in_progress", None), (2, "completed", "likely_eligible")]


def test_purge_also_removes_sign_ups_never_confirmed_once_their_link_expired(app):
    from datetime import UTC, datetime, timedelta

    from tests.test_volunteer import sign_up

    client = app.test_client()
    assert sign_up(client, "late.parent@example.com").status_code in (200, 302, 303)
    db = raw_connection(app)
    try:
        assert db.execute("SELECT count(*) FROM volunteers").fetchone()[0] == 1
        runner = app.test_cli_runner()
        soon = runner.invoke(args=["purge", "--now", (datetime.now(UTC) + timedelta(hours=1)).isoformat()])
        assert soon.exit_code == 0 and db.execute("SELECT count(*) FROM volunteers").fetchone()[0] == 1
        later = runner.invoke(args=["purge", "--now", (datetime.now(UTC) + timedelta(days=3)).isoformat()])
        assert later.exit_code == 0, later.output
        assert "unconfirmed volunteers: 1" in later.output
        assert db.execute("SELECT count(*) FROM volunteers").fetchone()[0] == 0
    finally:
        db.close()

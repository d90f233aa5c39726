"""The store: pragmas on every connection, transactions, migrations, audit, backup."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from prescreen import clock, store
from prescreen.store import INTEGRITY_ERRORS, audit, connect, insert, migrate, transaction
from tests.helpers.staff import count_rows


def _pragmas(db) -> dict[str, object]:
    return {
        name: db.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys", "secure_delete")
    }


@pytest.mark.sqlite_only
def test_every_connection_is_wal_full_sync_with_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    for _ in range(2):  # a fresh file, then an existing one
        db = connect(path)
        assert _pragmas(db) == {
            "journal_mode": "wal",
            "busy_timeout": 5000,
            "synchronous": 2,
            "foreign_keys": 1,
            "secure_delete": 1,
        }
        db.close()


@pytest.mark.sqlite_only
def test_request_connection_has_the_same_pragmas_and_is_reused_by_the_next_request(app: Flask) -> None:
    with app.test_request_context():
        db = store.get_db()
        assert store.get_db() is db
        pragmas = _pragmas(db)
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["busy_timeout"] >= 5000
    assert pragmas["synchronous"] == 2
    assert pragmas["foreign_keys"] == 1
    assert pragmas["secure_delete"] == 1
    with app.test_request_context():
        assert store.get_db() is db


@pytest.mark.sqlite_only
def test_a_transaction_left_open_by_a_request_is_rolled_back_not_handed_on(app: Flask) -> None:
    with app.test_request_context():
        db = store.get_db()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ('left-open', 'x')")
    with app.test_request_context():
        again = store.get_db()
        assert not again.conn.in_transaction
        assert again.execute("SELECT count(*) FROM schema_migrations WHERE version = 'left-open'").fetchone()[0] == 0
        # and the write lock is free for another connection
        other = connect(app.config["DATABASE"])
        with transaction(other):
            other.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ('other', 'x')")
        other.close()


@pytest.mark.sqlite_only
def test_a_connection_from_a_failed_request_is_closed_not_reused(app: Flask) -> None:
    ctx = app.test_request_context()
    ctx.push()
    db = store.get_db()
    ctx.pop(RuntimeError("the view failed"))
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")
    with app.test_request_context():
        assert store.get_db() is not db


@pytest.mark.sqlite_only
def test_a_database_file_replaced_on_disk_gets_fresh_connections(app: Flask, tmp_path: Path) -> None:
    with app.test_request_context():
        old = store.get_db()
    copy = tmp_path / "restored.sqlite3"
    store.backup(connect(app.config["DATABASE"]), copy)
    Path(app.config["DATABASE"]).unlink()
    copy.rename(app.config["DATABASE"])
    with app.test_request_context():
        assert store.get_db() is not old
        assert store.get_db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")


@pytest.mark.sqlite_only
def test_pooled_connections_serve_many_threads_one_at_a_time(app: Flask) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> str:
        with app.test_request_context():
            db = store.get_db()
            with transaction(db):
                db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'x')", [f"t{i}"])
            return db.execute("SELECT version FROM schema_migrations WHERE version = ?", [f"t{i}"]).fetchone()[0]

    with ThreadPoolExecutor(8) as workers:
        assert sorted(workers.map(one, range(200))) == sorted(f"t{i}" for i in range(200))
    assert len(store.pool._idle) <= 8


@pytest.mark.sqlite_only
def test_migrations_are_recorded_and_run_once(tmp_path: Path) -> None:
    db = connect(tmp_path / "m.sqlite3")
    applied = migrate(db)
    assert applied[0] == "m0001_base"
    assert applied == sorted(applied)
    assert migrate(db) == []
    recorded = [r["version"] for r in db.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded == applied
    assert {"screenings", "consents", "referrals", "contact_attempts", "notes", "users", "audit", "outbox"} <= set(
        db.table_names()
    )


def _migrate_in_child(path: str) -> None:
    db = connect(path)
    migrate(db)
    db.close()


@pytest.mark.sqlite_only
def test_workers_starting_together_migrate_exactly_once(tmp_path: Path) -> None:
    path = str(tmp_path / "race.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate_in_child, args=(path,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    db = connect(path)
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations").fetchall()]
    assert len(versions) == len(set(versions)) == len(store.migration_modules())


def _open_in_step(
    kind: str, paths: list[str], barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue
) -> None:
    """Open each new file at the same instant as the other processes (a barrier per file): the
    database (``connect``), or the rate-limit counters (their first ``incr``)."""
    from prescreen.store.ratelimits import Counters

    failures = []
    for path in paths:
        barrier.wait(timeout=60)
        try:
            if kind == "database":
                connect(path).close()
            else:
                Counters(path).incr("client", 60)
        except sqlite3.OperationalError as error:
            failures.append(str(error))
    results.put(failures)


def _open_together(kind: str, paths: list[str]) -> list[list[str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_in_step, args=(kind, paths, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    failures = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    return failures


@pytest.mark.sqlite_only
def test_processes_opening_a_new_database_at_the_same_instant_all_get_wal(tmp_path: Path) -> None:
    """gunicorn's workers start together; on a new file, switching to WAL used to fail for some of
    them with "database is locked" at once (about 1 open in 20 here), and a worker that fails
    to boot stops gunicorn."""
    paths = [str(tmp_path / f"new-{i}.sqlite3") for i in range(60)]
    assert _open_together("database", paths) == [[], [], [], []]
    for path in paths:
        db = connect(path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


@pytest.mark.sqlite_only
def test_workers_counting_in_a_new_rate_limit_file_at_the_same_instant_all_count(tmp_path: Path) -> None:
    """The same race in the rate-limit counters' own file: a family's POST failed instead of counting."""
    paths = [str(tmp_path / f"limits-{i}.sqlite3") for i in range(60)]
    assert _open_together("counters", paths) == [[], [], [], []]
    for path in paths:
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count FROM counters WHERE key = 'client'").fetchone()[0] == 4
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def _screening(db, token_hash: str = "t1") -> int:
    now = clock.utc_text()
    row = {"token_hash": token_hash, "study_id": "s", "version": "v", "locale": "zh", "created_at": now}
    return insert(db, "screenings", {**row, "updated_at": now})


def test_transaction_rolls_back_everything_on_error(database: str) -> None:
    db = connect(database)
    migrate(db)
    with pytest.raises(RuntimeError), transaction(db):
        _screening(db, "a")
        raise RuntimeError("boom")
    assert count_rows(db, "screenings") == 0
    with transaction(db):
        _screening(db, "b")
    assert count_rows(db, "screenings") == 1
    assert not db.conn.in_transaction


def test_audit_rows_cannot_be_updated_or_deleted(database: str) -> None:
    db = connect(database)
    migrate(db)
    row_id = audit.record(db, "user:1", "view_contact", "referral", 7, {"fields": ["phone"]})
    row = next(db.query("SELECT * FROM audit WHERE id = ?", [row_id]))
    expected = ("user:1", "view_contact", "referral", "7")
    assert (row["actor"], row["action"], row["record_type"], row["record_id"]) == expected
    assert row["at"].endswith("Z")
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("UPDATE audit SET actor = 'someone else' WHERE id = ?", [row_id])
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("DELETE FROM audit WHERE id = ?", [row_id])
    assert count_rows(db, "audit") == 1


def test_audit_record_joins_the_callers_transaction(database: str) -> None:
    db = connect(database)
    migrate(db)
    with pytest.raises(RuntimeError), transaction(db):
        audit.record(db, "system", "purge", "screening", 1)
        raise RuntimeError("the change failed, so its audit row must not stay")
    assert count_rows(db, "audit") == 0


def test_consents_cannot_be_updated_but_leave_with_their_screening(database: str) -> None:
    db = connect(database)
    migrate(db)
    with transaction(db):
        sid = _screening(db)
        row = {"screening_id": sid, "kind": "sensitive", "text_version": "abc", "locale": "zh", "role": "guardian"}
        insert(db, "consents", {**row, "created_at": clock.utc_text()})
    with pytest.raises(INTEGRITY_ERRORS, match="never updated"):
        db.execute("UPDATE consents SET role = 'patient'")
    with transaction(db):
        db.execute("DELETE FROM screenings WHERE id = ?", [sid])
    assert count_rows(db, "consents") == 0


@pytest.mark.sqlite_only
def test_db_init_and_backup_commands(tmp_path: Path, make_app) -> None:
    app = make_app(DATABASE=str(tmp_path / "sub" / "live.sqlite3"), MIGRATE_ON_START=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert "m0001_base" in result.output
    assert "schema up to date" in runner.invoke(args=["db", "init"]).output
    db = connect(app.config["DATABASE"])
    with transaction(db):
        _screening(db, "x")
        _screening(db, "y")
    target = tmp_path / "backup.sqlite3"
    result = runner.invoke(args=["db", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity_check ok" in result.output
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT count(*) FROM screenings").fetchone()[0] == 2
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()
    again = runner.invoke(args=["db", "backup", str(target)])
    assert again.exit_code != 0 and "already exists" in again.output


def test_sql_is_never_built_from_strings_and_debug_is_never_on() -> None:
    """bandit B608 (SQL built by string formatting) and B201 (Flask debug=True) stay clean."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", str(root / "prescreen"), "-t", "B201,B608"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_deleted_screenings_id_is_never_given_to_the_next_family(app):
    from prescreen.store import connect
    from prescreen.store import screenings as screening_store

    db = connect(app.config["DATABASE"])
    try:
        made = {"study_id": "pumch-pediatric-sjogren", "version": "v", "locale": "zh", "respondent": "guardian"}
        first, _ = screening_store.create(db, **made, consent_version="c", resume_days=30)
        newest, _ = screening_store.create(db, **made, consent_version="c", resume_days=30)
        screening_store.delete(db, newest)  # the newest row: SQLite alone would reuse its id
        again, _ = screening_store.create(db, **made, consent_version="c", resume_days=30)
        assert again == newest + 1 and first < newest
        deleted = db.execute(
            "SELECT count(*) FROM audit WHERE action = 'screening.delete' AND record_id = ?", [str(newest)]
        ).fetchone()[0]
        assert deleted == 1
    finally:
        db.close()


def _write_without_sqlite_waiting(path: str, rounds: int, results: multiprocessing.Queue) -> None:
    """Threads writing with SQLite's busy timeout at 0: any writer that reached SQLite while
    another held the write lock would fail at once with "database is locked"."""
    import threading

    failures: list[str] = []

    def one(n: int) -> None:
        db = connect(path)
        db.conn.execute("PRAGMA busy_timeout = 0")
        try:
            for i in range(rounds):
                with transaction(db):
                    db.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'x')", [f"{n}-{i}-{id(db)}"]
                    )
        except sqlite3.OperationalError as error:
            failures.append(str(error))
        finally:
            db.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(failures)


@pytest.mark.sqlite_only
def test_writers_queue_on_the_writer_lock_not_in_sqlites_busy_handler(tmp_path: Path) -> None:
    """SQLite's busy handler sleeps up to 100 ms at a time; writers must queue on our lock instead,
    across threads and processes, so none of them ever finds SQLite's write lock taken."""
    path = str(tmp_path / "writers.sqlite3")
    migrate(connect(path))
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_write_without_sqlite_waiting, args=(path, 50, results)) for _ in range(4)]
    for p in procs:
        p.start()
    failures = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert failures == [[], [], [], []]
    db = connect(path)
    assert db.execute("SELECT count(*) FROM schema_migrations WHERE applied_at = 'x'").fetchone()[0] == 4 * 4 * 50


def _mode(path: Path | str) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.mark.sqlite_only
def test_database_wal_backup_and_mail_files_are_private(tmp_path: Path, make_app) -> None:
    """Created 0600 whatever the umask: the answers, addresses and alerts are nobody else's to read."""
    from email.message import EmailMessage

    from prescreen.mail.send import FileBackend

    old_umask = os.umask(0o022)  # the usual default, which made every file 0644
    try:
        app = make_app(DATABASE=str(tmp_path / "live.sqlite3"))
        app.test_client().get("/healthz")
        live = app.config["DATABASE"]
        db = connect(live)
        with transaction(db):
            _screening(db, "x")
        for path in (live, f"{live}-wal", f"{live}-shm", f"{live}.writelock"):
            assert _mode(path) == 0o600, path
        target = tmp_path / "backup.sqlite3"
        assert app.test_cli_runner().invoke(args=["db", "backup", str(target)]).exit_code == 0
        assert _mode(target) == 0o600
        db.close()

        message = EmailMessage()
        message["To"] = "parent@example.cn"
        message.set_content("hello")
        backend = FileBackend(tmp_path / "mail")
        backend.send(message, "parent@example.cn", 7)
        assert _mode(tmp_path / "mail" / "00000007.eml") == 0o600
        assert _mode(tmp_path / "mail") == 0o700
    finally:
        os.umask(old_umask)


@pytest.mark.sqlite_only
def test_a_database_made_world_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = connect(path)
    migrate(db)
    db.close()
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if each.exists():
            each.chmod(0o644)
    connect(path).close()
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if each.exists():
            assert _mode(each) == 0o600, each


def _on_disk(path: str) -> bytes:
    """Every byte SQLite keeps for *path*: the database file, its WAL and its shared-memory index."""
    found = b""
    for each in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(each):
            found += Path(each).read_bytes()
    return found


@pytest.mark.sqlite_only
@pytest.mark.parametrize("how", ["withdraw", "delete", "purge"])
def test_erased_values_leave_the_database_file_and_the_wal(app: Flask, how: str) -> None:
    """secure_delete zeroes the old cells, and a checkpoint after the erasure empties the WAL."""
    from prescreen.store import referrals as referral_store
    from prescreen.store import screenings as screening_store
    from tests.helpers.staff import add_referral, add_screening, days_ago

    phone = "+8613987654321"
    marker = "2014-03-erase-me-7f3a"  # stands for a birth month among the answers
    path = app.config["DATABASE"]
    if how == "delete":
        row = add_screening(app)
        screening_id = row["id"]
    else:
        row = add_referral(app, phone=phone, at=days_ago(400))
        screening_id = row["screening_id"]
    # A worker's pooled connection stays open, as on a server: closing the last connection would
    # checkpoint and remove the WAL by itself, and hide a missing checkpoint.
    server = connect(path)
    server.execute("SELECT count(*) FROM screenings").fetchone()
    db = connect(path)
    with transaction(db):
        db.execute("UPDATE screenings SET answers = json_set(answers, '$.dob', ?) WHERE id = ?", [marker, screening_id])
    # written, so a later absence means erased, not never there
    assert marker.encode() in _on_disk(path)
    assert how == "delete" or phone.encode() in _on_disk(path)

    if how == "withdraw":
        assert referral_store.withdraw_referral(db, row["id"])
    elif how == "delete":
        screening_store.delete(db, row["id"])
    else:
        result = app.test_cli_runner().invoke(args=["purge"])
        assert "stale open referrals: 1" in result.output
    db.close()
    assert phone.encode() not in _on_disk(path)
    assert marker.encode() not in _on_disk(path)
    server.close()


@pytest.mark.sqlite_only
def test_opening_a_connection_keeps_the_other_connections_locks(tmp_path):
    """A worker's threads open connections while others are in use; none may lose its lock.

    Closing any descriptor of a database file drops every POSIX lock the process holds on it. In
    WAL mode the shared lock is what tells another process's last connection not to checkpoint
    and delete the WAL under a connection still using it: losing it corrupted the benchmark's
    database ("database disk image is malformed").
    """
    path = tmp_path / "locks.sqlite3"
    first = connect(path)
    first.execute("CREATE TABLE t (x)")
    first.execute("INSERT INTO t VALUES (1)")
    second = connect(path)  # another thread's new pooled connection, in the same process
    probe = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM t'); c.close()"
    subprocess.run([sys.executable, "-c", probe, str(path)], check=True)
    assert os.path.exists(f"{path}-wal"), "another process thought it was the last and removed the WAL"
    assert first.execute("SELECT count(*) FROM t").fetchone() == (1,)
    second.close()
    first.close()


def test_a_nested_transaction_is_a_savepoint_inside_the_callers(database: str) -> None:
    """A store helper called inside a caller's transaction commits or rolls back with it."""
    db = connect(database)
    migrate(db)
    with transaction(db):
        _screening(db, "kept")
        with pytest.raises(RuntimeError), transaction(db):
            _screening(db, "undone")
            raise RuntimeError("inner write failed")
        assert db.conn.in_transaction  # the caller's transaction goes on
        with transaction(db), transaction(db):
            _screening(db, "deep")
    assert sorted(r["token_hash"] for r in db.query("SELECT token_hash FROM screenings")) == ["deep", "kept"]
    with pytest.raises(RuntimeError), transaction(db):
        with transaction(db):
            _screening(db, "inner")
        raise RuntimeError("outer fails after the inner block finished")
    assert count_rows(db, "screenings") == 2
    assert not db.conn.in_transaction


def test_consents_suppressions_and_erasure_each_have_one_writer() -> None:
    """One module writes each of these, so a rule about them (never updated, erased together) holds in one place."""
    store_dir = Path(__file__).resolve().parent.parent / "prescreen" / "store"
    sources = {p.name: p.read_text(encoding="utf-8") for p in store_dir.glob("*.py")}

    def writers(pattern: str) -> list[str]:
        return sorted(name for name, text in sources.items() if re.search(pattern, text))

    assert writers(r"(INSERT INTO|UPDATE|DELETE FROM) consents\b") == ["screenings.py"]
    assert writers(r"(INSERT INTO|UPDATE|DELETE FROM) suppressions\b") == ["volunteers.py"]
    assert writers(r"phone = NULL") == ["referrals.py"]  # a referral's contact details are erased in one place
    assert writers(r"(INSERT INTO|UPDATE|DELETE FROM) referrals\b") == ["referrals.py"]  # status, activity too


def test_reports_only_read(tmp_path: Path) -> None:
    """A report never writes; the audited exports (store/exports.py) are where reading leaves a trace."""
    from prescreen.store import exports, queue_reports

    source = Path(queue_reports.__file__).read_text(encoding="utf-8")
    assert not re.search(r"INSERT INTO|UPDATE \w+ SET|DELETE FROM|transaction\(|audit\.record", source)
    db = connect(tmp_path / "reports.sqlite3")
    migrate(db)
    screening_id = _screening(db, "r")
    db.execute(
        "INSERT INTO referrals (screening_id, study_id, reference, status, age_band, created_at, updated_at) "
        "VALUES (?, 'demo', 'PS-AAAAAA', 'new', 'unknown', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        [screening_id],
    )
    referral_id = db.execute("SELECT id FROM referrals").fetchone()[0]
    before = db.conn.total_changes
    assert len(queue_reports.identified(db, None)) == 1
    assert queue_reports.subject_record(db, referral_id) is not None
    assert db.conn.total_changes == before
    assert exports.subject_record(db, referral_id, "user:1") is not None
    assert [r["action"] for r in db.query("SELECT action FROM audit")] == ["export.subject"]

"""Tokens: one stored hash for every table, equal to what rows written before hold."""

from __future__ import annotations

from pathlib import Path

from prescreen import tokens
from prescreen.clock import now
from prescreen.store import connect, migrate, screenings, sessions, users, volunteers


def test_token_hash_is_plain_sha256_hex_as_stored_since_the_first_release():
    assert tokens.token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_new_tokens_are_url_safe_and_as_long_as_before():
    assert len(tokens.new_token()) == 43 and len(tokens.new_token(tokens.SHORT)) == 32
    assert tokens.new_token() != tokens.new_token()
    assert set(tokens.new_token()) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_every_table_finds_its_row_by_the_same_hash(tmp_path: Path):
    db = connect(tmp_path / "t.db")
    migrate(db)
    screening_id, token = screenings.create(
        db, study_id="demo", version="v1", locale="en", respondent="guardian", consent_version="c", resume_days=30
    )
    stored = db.execute("SELECT token_hash FROM screenings WHERE id = ?", [screening_id]).fetchone()[0]
    assert stored == tokens.token_hash(token)
    session_id = sessions.create(db, users.create(db, "s@example.com", "x", "admin", [], "test"), now())
    assert db.execute("SELECT id_hash FROM staff_sessions").fetchone()[0] == tokens.token_hash(session_id)
    volunteer_id, _ = volunteers.sign_up(
        db,
        email="a@example.com",
        locale="en",
        categories=["x"],
        age_band=None,
        consent_version="c",
        consent_locale="en",
    )
    link = tokens.new_token()
    volunteers.add_token(db, volunteer_id, "confirm", link, None)
    assert db.execute("SELECT token_hash FROM volunteer_tokens").fetchone()[0] == tokens.token_hash(link)

"""Publishing a study: who is told (categories incl. parents, age band), once, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from prescreen import studies as study_registry
from prescreen.engine import Category
from prescreen.mail import notify
from prescreen.store import connect, volunteers

STUDY = "pumch-pediatric-sjogren"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_URL="https://prescreen.test")


def add_volunteer(db: Any, email: str, categories: list[str], band: str | None = None, confirmed: bool = True) -> int:
    volunteer_id, _ = volunteers.sign_up(
        db,
        email=email,
        locale="en",
        categories=categories,
        age_band=band,
        consent_version="test",
        consent_locale="en",
    )
    if confirmed:
        volunteers.confirm(db, volunteer_id)
    return volunteer_id


def test_followers_include_every_ancestor_but_not_siblings() -> None:
    taxonomy = [
        Category("rheumatology", "", {"en": "R", "zh": "风"}),
        Category("sjogren", "rheumatology", {"en": "S", "zh": "干"}),
        Category("lupus", "rheumatology", {"en": "L", "zh": "狼"}),
    ]
    assert notify.followers_of(["sjogren"], taxonomy) == {"sjogren", "rheumatology"}


@pytest.mark.parametrize(
    ("band", "fits"),
    [(None, True), ("under-5", False), ("5-9", True), ("10-13", True), ("14-18", True), ("over-18", False)],
)
def test_age_band_must_overlap_the_study_ages(band: str | None, fits: bool) -> None:
    assert volunteers.band_fits(band, 5, 18) is fits


def test_publish_queues_only_matching_confirmed_unsuppressed_volunteers_once(app: Flask) -> None:
    db = connect(app.config["DATABASE"])
    with app.app_context():
        study = study_registry.of(app).studies[STUDY]
        match = add_volunteer(db, "a@example.com", ["sjogren"], "10-13")
        parent = add_volunteer(db, "b@example.com", ["rheumatology", "asthma"])
        add_volunteer(db, "c@example.com", ["lupus"])
        add_volunteer(db, "d@example.com", ["sjogren"], "under-5")
        add_volunteer(db, "e@example.com", ["sjogren"], confirmed=False)
        gone = add_volunteer(db, "f@example.com", ["sjogren"])
        volunteers.unsubscribe(db, gone)
        add_volunteer(db, "g@example.com", ["dermatomyositis"])  # the study's second category
        volunteers.suppress(db, "h@example.com", "bounce: 550")
        add_volunteer(db, "h@example.com", ["sjogren"])
        assert notify.publish_study(db, study, "admin:1") == 3
        assert notify.publish_study(db, study, "admin:1") == 0
    keys = [r[0] for r in db.execute("SELECT idempotency_key FROM outbox WHERE kind = 'study-posted' ORDER BY 1")]
    assert keys == sorted(f"study-posted:{v}:{STUDY}" for v in (match, parent, 7))
    assert db.execute("SELECT status, published_at IS NOT NULL FROM study_states").fetchall() == [("recruiting", 1)]
    db.close()


def test_publish_is_one_transaction(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    db = connect(app.config["DATABASE"])
    calls = []

    def fail_on_second(db: Any, volunteer: dict[str, Any], study: Any) -> bool:
        calls.append(volunteer["id"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(db, volunteer, study)

    original = notify.queue_study_posted
    monkeypatch.setattr(notify, "queue_study_posted", fail_on_second)
    with app.app_context():
        add_volunteer(db, "a@example.com", ["sjogren"])
        add_volunteer(db, "b@example.com", ["sjogren"])
        with pytest.raises(RuntimeError):
            notify.publish_study(db, study_registry.of(app).studies[STUDY], "admin:1")
    assert db.execute("SELECT count(*) FROM outbox WHERE kind = 'study-posted'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM study_states").fetchone() == (0,)
    db.close()


def test_close_and_unknown_study_on_the_command_line(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["studies", "close", STUDY])
    assert result.exit_code == 0 and "closed" in result.output
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT status FROM study_states").fetchall() == [("closed",)]
    db.close()
    unknown = runner.invoke(args=["studies", "publish", "no-such-study"])
    assert unknown.exit_code != 0 and "unknown study 'no-such-study'" in unknown.output

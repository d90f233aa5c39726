"""The one clock: Beijing's date whatever the server's zone, and a clock tests can stop."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from click.testing import CliRunner

from prescreen import clock
from prescreen.cli import main
from tests.helpers.study import ELIGIBLE


def test_today_is_beijing_date_while_utc_is_still_yesterday(frozen_clock):
    frozen_clock(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))  # 01:00 on 1 January in Beijing
    assert clock.today() == date(2027, 1, 1)
    assert clock.utc_text() == "2026-12-31T17:00:00Z"
    assert clock.now() == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)


def test_stored_text_is_utc_to_the_second_whatever_zone_the_moment_is_in():
    moment = datetime(2027, 1, 1, 1, 0, 30, 999, tzinfo=clock.TEAM_TZ)
    assert clock.iso(moment) == "2026-12-31T17:00:30Z"


def test_the_real_clock_is_back_after_a_frozen_block():
    with clock.frozen(datetime(2000, 1, 1)):
        assert clock.today() == date(2000, 1, 1)
    assert clock.now().year >= 2026


def test_screen_without_today_screens_on_beijing_date(frozen_clock, tmp_path, monkeypatch):
    """A month answered as this month in Beijing is not "in the future" for a server on UTC."""
    monkeypatch.delenv("PRESCREEN_QUESTIONS_DIR", raising=False)
    frozen_clock(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({**ELIGIBLE, "rituximab": "yes", "rituximab_last": "2027-01"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["screen", "pumch-pediatric-sjogren", "--answers", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["criteria"]["exc_rituximab_6m"] == "not_met"

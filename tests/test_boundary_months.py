"""Boundary months: the form asks months, never days, so the month on a waiting period's line is unknown.

STUDY-NOTES §4.2: a family that says "the last dose was in May" may mean 1 May or 31 May. For a
waiting period, the month whose days fall on both sides of the line is ``needs_review`` (a doctor asks
for the day), never ``not_met``; only a month whose every day is inside the window is ``not_met``
(with a re-check date), and only a month whose every day is past it is ``met``. Each of the six
waiting periods of the PUMCH study is walked here month by month, the re-check date a family is
given is checked against the rule it comes from (on that date the rule must pass, the month
before it must not), and the day-by-day truth behind each month is worked out from the calendar.

The age rule is the one deliberate exception: it counts the birthday from the 1st of the birth
month (the generous reading of STUDY-NOTES Q1), so a child turning 5 this month is 5, and an
under-5's re-check date is the 1st of the 5th-birthday month — the day the rule starts to pass.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from prescreen.engine import Flow, Month, State, Study, load_study
from tests.helpers.study import ELIGIBLE

STUDY_DIR = Path(__file__).resolve().parent.parent / "questions" / "pumch-pediatric-sjogren"
TODAY = date(2026, 11, 25)
MET, NOT_MET, REVIEW = "met", "not_met", "needs_review"


@dataclass(frozen=True)
class Window:
    """One waiting period: its criterion, the month question, what leads to it, and its line."""

    criterion: str
    month_question: str
    leads_in: dict[str, Any]
    months: int  # the window's length in calendar months: the month this many months ago is on the line
    days: int | None = None  # the listing counts this one in days (then ``months`` is its calendar length)


WINDOWS = (
    Window("inc_res_tx_gt3m", "tx_start", {"tx_duration": "up_to_3m"}, 3),
    Window("exc_rituximab_6m", "rituximab_last", {"rituximab": "yes"}, 6),
    Window("exc_other_trial_6m", "trial_end", {"other_trial": "yes"}, 6),
    Window("exc_hosp_infection_60d", "hospital_month", {"hospital": "yes"}, 2, days=60),
    Window("exc_parenteral_antimicrobial_30d", "iv_month", {"iv_drugs": "yes"}, 1, days=30),
    Window("exc_live_vaccine_3m", "vaccine_month", {"vaccine": "live"}, 3),
)
IDS = [w.criterion for w in WINDOWS]


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(STUDY_DIR)


@pytest.fixture(scope="module")
def flow(study: Study) -> Flow:
    return Flow(study)


def months_ago(n: int, today: date = TODAY) -> str:
    return str(Month.of(today) - n)


def walk(flow: Flow, window: Window, month: str, today: date = TODAY) -> State:
    answers = {**ELIGIBLE, **window.leads_in, window.month_question: month}
    state = flow.run(answers, "guardian", today)
    assert state.outcome is not None and not state.errors
    return state


def test_every_waiting_period_of_the_study_is_walked_here(study: Study) -> None:
    waiting = {c.id for c in study.criteria if c.waiting_period}
    assert waiting == {*IDS, "inc_age_5_18"}


# -- month by month -----------------------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_the_month_on_the_line_needs_review_never_not_met(flow: Flow, window: Window) -> None:
    """Exactly N calendar months ago: some of that month's days are past the line, some are not."""
    state = walk(flow, window, months_ago(window.months))
    outcome = state.outcome
    assert outcome.criteria[window.criterion] == REVIEW
    assert outcome.status == "needs_review"
    assert outcome.recheck_after is None and not outcome.waiting


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_a_month_clearly_inside_waits_until_the_rule_passes(flow: Flow, window: Window) -> None:
    """Every month before the line: not met, and the re-check date is the 1st of the month after the line."""
    for n in range(window.months):
        answered = Month.of(TODAY) - n
        outcome = walk(flow, window, str(answered)).outcome
        assert outcome.criteria[window.criterion] == NOT_MET, n
        assert outcome.waiting, n
        # answered + N is the month on the line; the first day after it is the first day the rule passes
        assert outcome.recheck_after == (answered + window.months).first_day_after(), n


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_a_month_clearly_past_the_line_is_met(flow: Flow, window: Window) -> None:
    for n in (window.months + 1, window.months + 2, window.months + 12):
        outcome = walk(flow, window, months_ago(n)).outcome
        assert outcome.criteria[window.criterion] == MET, n
        assert outcome.status == "likely_eligible", n


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_the_recheck_date_agrees_with_the_rule(flow: Flow, window: Window) -> None:
    """Coming back on the re-check date passes; coming back the month before does not (yet)."""
    for n in range(window.months):
        answered = months_ago(n)
        recheck = walk(flow, window, answered).outcome.recheck_after
        on_the_day = walk(flow, window, answered, today=recheck).outcome
        assert on_the_day.criteria[window.criterion] == MET, (n, recheck)
        day_before = walk(flow, window, answered, today=recheck - timedelta(days=1)).outcome
        assert day_before.criteria[window.criterion] != MET, (n, recheck)


# -- the calendar behind each month -------------------------------------------------------------------


def _days(month: Month) -> list[date]:
    return [date(month.year, month.month, d) for d in range(1, calendar.monthrange(month.year, month.month)[1] + 1)]


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    target = Month.of(day) + months
    last = calendar.monthrange(target.year, target.month)[1]
    return date(target.year, target.month, min(day.day, last))


def _past_the_line(window: Window, event: date, today: date) -> bool:
    """Whether, on ``today``, the day-exact window that started on ``event`` is over."""
    if window.days is not None:
        return (today - event).days > window.days
    # "within six months" of a dose still holds on the day six months later; "more than three months"
    # of treatment does not yet hold on the day three months after the start: past the line is after it
    return today > _add_months(event, window.months)


def _truth(window: Window, answered: Month, today_month: Month) -> set[bool]:
    """For every day of the answered month and every day of this month: past the line or not."""
    return {_past_the_line(window, e, t) for e in _days(answered) for t in _days(today_month)}


@pytest.mark.parametrize("window", [w for w in WINDOWS if w.days is None], ids=lambda w: w.criterion)
@pytest.mark.parametrize("today", [date(2026, 11, 25), date(2027, 3, 10), date(2028, 2, 29)], ids=str)
def test_calendar_month_windows_match_the_days_exactly(flow: Flow, window: Window, today: date) -> None:
    """Not met only when every day pair is inside; met only when every pair is past; otherwise review."""
    for n in range(window.months + 3):
        answered = Month.of(today) - n
        truth = _truth(window, answered, Month.of(today))
        status = walk(flow, window, str(answered), today=today).outcome.criteria[window.criterion]
        expected = {frozenset({False}): NOT_MET, frozenset({True}): MET}.get(frozenset(truth), REVIEW)
        assert status == expected, (n, truth)


@pytest.mark.parametrize("window", [w for w in WINDOWS if w.days is not None], ids=lambda w: w.criterion)
def test_day_counted_windows_are_never_more_than_a_day_or_two_off(flow: Flow, window: Window) -> None:
    """The listing counts these two in days (60 and 30) up to Day 0, which comes after the visit.

    A month cannot be cut finer, so the line is drawn at N calendar months (STUDY-NOTES §4.2: "a
    hospital stay two months ago" is the boundary). Over four years of calendar, a not-met month is
    never more than one day past the line (a stay that ended on 1 July, asked on 31 August: 61 days),
    a met month never more than two days inside it (a drip on 30 or 31 January, asked on 1 or 2
    March), and Day 0 comes later still; the month on the line truly has days on both sides.
    """
    worst_inside_met = worst_past_not_met = 0
    for ordinal in range(Month(2026, 1).ordinal, Month(2030, 1).ordinal):
        now = Month.from_ordinal(ordinal)
        today = date(now.year, now.month, 15)
        for n in range(window.months + 3):
            answered = now - n
            status = walk(flow, window, str(answered), today=today).outcome.criteria[window.criterion]
            gaps = [(t - e).days for e in _days(answered) for t in _days(now)]
            if status == NOT_MET:
                worst_past_not_met = max(worst_past_not_met, max(gaps) - window.days)
            elif status == MET:
                worst_inside_met = max(worst_inside_met, window.days + 1 - min(gaps))
            else:
                assert status == REVIEW and n == window.months
                assert min(gaps) <= window.days < max(gaps), answered
    assert worst_past_not_met <= 1
    assert worst_inside_met <= 2


# -- age ----------------------------------------------------------------------------------------------


def _age(flow: Flow, born: str, today: date = TODAY) -> State:
    state = flow.run({**ELIGIBLE, "consent_guardian_adult": "yes", "dob": born}, "guardian", today)
    assert state.outcome is not None
    return state


def test_turning_5_this_month_is_5_and_last_month_s_under_5_comes_back_on_the_1st(flow: Flow) -> None:
    """The rule counts the birthday from the 1st of the birth month, and so does the re-check date."""
    assert _age(flow, months_ago(60)).outcome.criteria["inc_age_5_18"] == MET
    under = _age(flow, months_ago(59)).outcome
    assert under.criteria["inc_age_5_18"] == NOT_MET
    assert under.recheck_after == date(2026, 12, 1)  # born 2021-12: 5th birthday month December 2026


@pytest.mark.parametrize("months_old", [0, 12, 40, 59])
def test_the_age_recheck_date_is_the_first_day_the_age_rule_passes(flow: Flow, months_old: int) -> None:
    born = months_ago(months_old)
    recheck = _age(flow, born).outcome.recheck_after
    fifth_birthday_month = Month.of(TODAY) - months_old + 60
    assert recheck == date(fifth_birthday_month.year, fifth_birthday_month.month, 1)
    assert _age(flow, born, today=recheck).outcome.criteria["inc_age_5_18"] == MET
    assert _age(flow, born, today=recheck - timedelta(days=1)).outcome.criteria["inc_age_5_18"] == NOT_MET


def test_the_19th_birthday_month_still_counts_as_18_and_after_it_there_is_no_recheck(flow: Flow) -> None:
    assert _age(flow, months_ago(228)).outcome.criteria["inc_age_5_18"] == MET
    over = _age(flow, months_ago(229)).outcome
    assert over.criteria["inc_age_5_18"] == NOT_MET
    assert over.recheck_after is None

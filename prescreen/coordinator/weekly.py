"""The weekly summary e-mail to the study team, and ``prescreen reports weekly`` that queues it.

What it says: how many referrals came in during the last 7 days, how many families are overdue
for a call, and how many screening visits are booked this week (Monday to Sunday, Beijing time),
each with its reference codes. Never a name, a phone number, an answer or anything about a
child's health: an e-mail may be forwarded or read on a shared screen.

It goes through the outbox like every e-mail, under the key ``weekly-summary:<ISO week>``, so
running the command twice in a week (a cron job and a person, or a retry) queues one message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import clock, studies, team
from ..mail.render import sender_names
from ..store import connect, outbox, queue, queue_list, queue_reports

KIND = "weekly-summary"


def week_of(now: datetime) -> tuple[str, Any, Any]:
    """The ISO week (``2026-W49``) of *now* in Beijing, and its Monday and Sunday."""
    today = now.astimezone(clock.TEAM_TZ).date()
    monday = today - timedelta(days=today.weekday())
    year, week, _day = today.isocalendar()
    return f"{year}-W{week:02d}", monday, monday + timedelta(days=6)


def rules() -> queue_list.Rules:
    """The queue's overdue rule for every study (the same one the 待联系名单 marks)."""
    retry = int(current_app.config["OVERDUE_WORKING_DAYS"])
    promised = {sid: team.contact_of(sid).reply_working_days for sid in studies.all()}
    return queue_list.Rules(
        default_days=retry, retry_days=retry, reply_days={s: d for s, d in promised.items() if d is not None}
    )


def summary(db: Any, now: datetime) -> dict[str, Any]:
    """The week's numbers as reference codes: new, overdue, visits this week."""
    name, monday, sunday = week_of(now)
    data = queue_reports.week_rows(db, clock.iso(now - timedelta(days=7)), (monday, sunday), list(queue.OPEN))
    due = rules()
    overdue = [r["reference"] for r in data["open"] if queue_list.next_due(r, now, due)[1]]
    return {
        "week": name,
        "monday": monday,
        "sunday": sunday,
        "new": data["new"],
        "overdue": overdue,
        "visits": data["visits"],
    }


def _lines(data: dict[str, Any]) -> str:
    def line(label: str, refs: list[str]) -> str:
        return f"{label}: {len(refs)}" + (f" — {', '.join(refs)}" if refs else "")

    return "\n".join(
        [
            _(
                "Week %(week)s (%(monday)s to %(sunday)s, Beijing time)",
                **{k: str(data[k]) for k in ("week", "monday", "sunday")},
            ),
            "",
            line(_("New referrals in the last 7 days"), data["new"]),
            line(_("Overdue for a call"), data["overdue"]),
            line(_("Screening visits this week"), data["visits"]),
            "",
            _("Reference codes only: open the list to see a family."),
        ]
    )


def message(data: dict[str, Any]) -> tuple[str, str]:
    """Subject and body, Chinese first then English (the team reads either)."""
    url = current_app.config["PUBLIC_URL"].rstrip("/") + "/coordinator/"
    site = sender_names()
    parts = {}
    for lang in ("zh", "en"):
        with force_locale(lang):
            subject = _("%(site)s: %(subject)s", site=site[lang], subject=_("weekly summary for the study team"))
            body = _lines(data) + "\n" + _("Open the list: %(url)s", url=url)
            footer = _("You get it because this address is the study team's alert address there.")
            parts[lang] = (subject, body + "\n\n--\n" + footer)
    return f"{parts['zh'][0]} / {parts['en'][0]}", f"{parts['zh'][1]}\n\n{parts['en'][1]}\n"


def queue_weekly(db: Any, now: datetime, to_addr: str) -> tuple[bool, dict[str, Any]]:
    """Queue this week's summary unless it is queued already; returns (queued now, the numbers)."""
    data = summary(db, now)
    subject, body = message(data)
    queued = outbox.enqueue(
        db,
        key=f"{KIND}:{data['week']}",
        kind=KIND,
        to_addr=to_addr,
        locale="zh",
        subject=subject,
        body_text=body,
    )
    return queued, data


@click.group("reports", cls=AppGroup)
def reports_cli() -> None:
    """Reports for the study team."""


@reports_cli.command("weekly")
@click.option("--now", "at", metavar="ISO", help="pretend it is this moment (UTC), e.g. 2026-12-07T01:00:00Z")
def weekly_command(at: str | None) -> None:
    """Queue the weekly summary e-mail to STUDY_TEAM_EMAIL (once per week; safe to run again)."""
    to_addr = current_app.config.get("STUDY_TEAM_EMAIL")
    if not to_addr:
        click.echo("STUDY_TEAM_EMAIL is not set: nothing queued")
        return
    now = datetime.fromisoformat(at) if at else clock.now()
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    db = connect(current_app.config["DATABASE"])
    try:
        queued, data = queue_weekly(db, now, to_addr)
    finally:
        db.close()
    counts = f"new {len(data['new'])}, overdue {len(data['overdue'])}, visits {len(data['visits'])}"
    if queued:
        click.echo(f"queued the weekly summary for {data['week']} to the team address ({counts})")
    else:
        click.echo(f"the weekly summary for {data['week']} was queued already: nothing new queued")

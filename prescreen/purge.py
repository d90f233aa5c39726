"""``prescreen purge``: apply the retention periods (run it daily from cron).

Deletes unfinished anonymous screenings, and finished ones never sent to the study team, closes
and erases open referrals nobody has worked on for too long, erases closed referrals' personal
data once their time is up (the policy: :mod:`prescreen.store.retention`), deletes expired staff
sessions, never-confirmed volunteer sign-ups and the addresses and text of mail sent long ago
(the same mail retention every ``prescreen mail send`` round applies, so a site that sends no
mail still purges); the de-identified pre-screening log keeps counting. Then the WAL is
checkpointed and truncated, so the erased values are not left in it. ``--now`` moves the clock
(to preview what a later run would delete, and for the tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from . import clock
from .store import checkpoint, get_db, retention


def run(now: datetime) -> dict[str, int]:
    """Purge with the configured periods as of *now*; returns what was deleted."""
    from .mail.send import tidy  # mail retention lives with the mail sender

    config = current_app.config
    counts = retention.purge(
        get_db(),
        now,
        incomplete_days=int(config["RETENTION_INCOMPLETE_DAYS"]),
        screening_days=int(config["RETENTION_SCREENING_DAYS"]),
        open_days=int(config["RETENTION_OPEN_REFERRAL_DAYS"]),
        closed_days=int(config["RETENTION_CLOSED_REFERRAL_DAYS"]),
        idle=timedelta(minutes=int(config["STAFF_IDLE_MINUTES"])),
        absolute=timedelta(hours=int(config["STAFF_MAX_HOURS"])),
    )
    mail = tidy(current_app, get_db(), now)
    checkpoint(get_db())
    return {**counts, "unconfirmed_volunteers": mail["unconfirmed"], "old_mail_scrubbed": mail["scrubbed"]}


@click.command("purge")
@with_appcontext
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="act as if it were this UTC time")
def purge_command(now_text: str | None) -> None:
    """Delete what the retention periods no longer allow us to keep."""
    now = clock.now()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.ClickException(f"--now {now_text!r} is not an ISO date or datetime") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    counts = run(now)
    click.echo(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items()))

"""Publishing a study: open recruiting and tell the volunteers who asked to hear about it.

``publish_study`` is called by ``prescreen studies publish`` and by the coordinator admin's
"open recruiting" action. The status change and every notice commit in ONE transaction, and each
notice's idempotency key (``study-posted:<volunteer>:<study>``) makes publishing again, or after
closing and reopening, queue nothing new for anyone already told.
"""

from __future__ import annotations

from collections.abc import Iterable

import click
import sqlite_utils
from flask import current_app
from flask.cli import AppGroup

from .. import studies, team
from ..config import ConfigError
from ..engine import Category, Study
from ..store import audit, connect, outbox, recruiting, transaction, volunteers
from .render import queue_study_posted


def followers_of(study_categories: Iterable[str], taxonomy: Iterable[Category]) -> set[str]:
    """The categories whose followers hear about a study: its own and every ancestor.

    Someone following "rheumatology and immune diseases" wants to hear about a Sjögren's study;
    someone following only Sjögren's does not want every rheumatology study.
    """
    parent = {c.id: c.parent for c in taxonomy}
    found: set[str] = set()
    for category in study_categories:
        while category and category not in found:
            found.add(category)
            category = parent.get(category, "")
    return found


def _age(study: Study, key: str) -> int | None:
    value = (study.meta.get(key) or "").strip()
    return int(value) if value.isdigit() else None


def publish_study(db: sqlite_utils.Database, study: Study, actor: str) -> int:
    """Set *study* recruiting and queue one notice per matching volunteer; return how many were queued.

    Matching: confirmed, not unsubscribed, address not suppressed, following one of the study's
    categories (or a parent of one), and, if they gave an age band, a band that overlaps the
    study's ``min_age``–``max_age``. Joins the caller's transaction when there is one.

    :raises ConfigError: in production, when families would have no way to reach the study's team.
    """
    team.require_reachable(study.id)
    wanted = followers_of(study.categories, studies.categories())
    with transaction(db):
        recruiting.set_status(db, study.id, "recruiting", actor)
        recruiting.mark_published(db, study.id)
        queued = 0
        for volunteer in volunteers.matching(db, wanted, _age(study, "min_age"), _age(study, "max_age")):
            queued += queue_study_posted(db, volunteer, study)
        audit.record(db, actor, "study.publish", "study", study.id, {"queued": queued})
    return queued


def would_notify(db: sqlite_utils.Database, study: Study) -> int:
    """How many volunteers opening *study* now would e-mail (for the admin's confirmation step).

    The same matching as :func:`publish_study`, less those already told about this study.
    """
    wanted = followers_of(study.categories, studies.categories())
    matching = volunteers.matching(db, wanted, _age(study, "min_age"), _age(study, "max_age"))
    return sum(1 for volunteer in matching if not outbox.is_queued(db, f"study-posted:{volunteer['id']}:{study.id}"))


def _study(study_id: str) -> Study:
    known = studies.all()
    if study_id not in known:
        raise click.ClickException(f"unknown study '{study_id}' (studies: {', '.join(sorted(known)) or 'none'})")
    return known[study_id]


@click.group("studies", cls=AppGroup)
def studies_cli() -> None:
    """Open (publish) or close recruiting for a study."""


@studies_cli.command("publish")
@click.argument("study_id")
def publish_command(study_id: str) -> None:
    """Open recruiting for STUDY_ID and queue e-mails to matching volunteers (once each)."""
    study = _study(study_id)
    db = connect(current_app.config["DATABASE"])
    try:
        queued = publish_study(db, study, "cli")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(f"{study_id}: recruiting; {queued} volunteer e-mail(s) queued (send with `prescreen mail send`)")


@studies_cli.command("close")
@click.argument("study_id")
def close_command(study_id: str) -> None:
    """Close recruiting for STUDY_ID (its page then says so and takes no new screening)."""
    _study(study_id)
    db = connect(current_app.config["DATABASE"])
    try:
        changed = recruiting.set_status(db, study_id, "closed", "cli")
    finally:
        db.close()
    click.echo(f"{study_id}: {'closed' if changed else 'was already closed'}")

"""The studies list: recruiting or closed, referrals waiting; admins open and close recruiting.

Opening goes through :func:`prescreen.mail.notify.publish_study`, so the people who asked to
hear about such a study are told (idempotently); closing only changes the status. A closed
study's public page stops taking new screenings (the chat area checks it). Both go through a
confirmation page first that says what will happen.
"""

from __future__ import annotations

import sqlite_utils
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import studies
from ..config import ConfigError
from ..engine import Study
from ..mail import notify
from ..store import get_db, queue, recruiting
from .shared import require_admin, visible_studies


def studies_page() -> str:
    """Every study this person may see, with its status and waiting referrals."""
    visible = visible_studies()
    db = get_db()
    states = recruiting.statuses(db, {sid: s.status for sid, s in visible.items()})
    open_counts = {}
    for sid in visible:
        _rows, total, _counts = queue.listing(db, current_user.visible_studies, {"study": sid, "status": "open"})
        open_counts[sid] = total
    return render_template("coordinator/studies.html", studies=visible, states=states, open_counts=open_counts)


def set_study_status(study_id: str) -> ResponseReturnValue:
    """Open or close recruiting (admins only; audited by the store), after a confirmation step.

    The buttons on the studies page only lead here (a GET that changes nothing): this page says
    what will happen (opening e-mails N volunteers at once) and only its own button, which posts
    ``confirm=yes``, acts. A post without it shows the same page again, so no single click, with
    or without JavaScript, opens or closes a study.
    """
    require_admin()
    study = studies.get(study_id)
    if study is None:
        abort(404)
    db = get_db()
    action = request.values.get("action")
    if action is None and request.method == "GET":  # no choice made: offer the change from the current status
        action = "close" if recruiting.status(db, study.id, study.status) == "recruiting" else "open"
    if action not in ("open", "close"):
        abort(400)
    if request.method != "POST" or request.form.get("confirm") != "yes":
        return confirm_page(db, study, action)
    if action == "close":
        recruiting.set_status(db, study_id, "closed", current_user.actor)
        flash(_("Recruiting is closed. The public page no longer takes new screenings."), "info")
    else:
        try:
            queued = notify.publish_study(db, study, current_user.actor)
        except ConfigError:  # production: nobody could reach the team; nothing changed
            flash(_("Recruiting stays closed: set the study team's phone, e-mail or WeChat first."), "error")
        else:
            flash(_("Recruiting is open. Notifications queued for volunteers: %(n)d", n=queued), "info")
    return redirect(url_for("coordinator.studies_page"))


def confirm_page(db: sqlite_utils.Database, study: Study, action: str) -> str:
    """What opening or closing will do, with the one button that does it."""
    status = recruiting.status(db, study.id, study.status)
    waiting = 0
    if action == "close":
        _rows, waiting, _counts = queue.listing(db, current_user.visible_studies, {"study": study.id, "status": "open"})
    return render_template(
        "coordinator/studies_confirm.html",
        study=study,
        action=action,
        already=(status == "recruiting") == (action == "open"),
        volunteers=notify.would_notify(db, study) if action == "open" else 0,
        waiting=waiting,
    )

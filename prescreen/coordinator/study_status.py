"""The studies list: recruiting or closed, referrals waiting; admins open and close recruiting.

Opening goes through :func:`prescreen.mail.notify.publish_study`, so the people who asked to
hear about such a study are told (idempotently); closing only changes the status. A closed
study's public page stops taking new screenings (the chat area checks it).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import studies
from ..config import ConfigError
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
    """Open or close recruiting (admins only; audited by the store)."""
    require_admin()
    study = studies.get(study_id)
    action = request.form.get("action")
    if study is None:
        abort(404)
    if action not in ("open", "close"):
        abort(400)
    db = get_db()
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

"""Accounts in the web UI (admins): list, create, disable and enable, reset a password, unlock,
change role and studies. ``prescreen users`` stays for the shell.

An admin never chooses or sees someone's own password: creating an account or resetting one
shows a random one-time password once, to hand over in person or by phone (never by e-mail);
the person replaces it at the first sign-in (``auth.choose_password``). Every change is audited
by the store, which also refuses any change that would leave no active admin.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from .. import clock, studies
from ..auth import passwords
from ..auth.forms import ROLE_LABELS, AccessForm, NewAccountForm
from ..store import get_db, users
from ..web.i18n import current_locale
from .shared import require_admin

#: How long a one-time password works if nobody signs in with it.
ONE_TIME_HOURS = 72
#: The tick box for every study (stored as no study at all, as ``prescreen users create`` without
#: ``--study`` does). It is its own choice: a forgotten tick no longer gives a one-study CRC every
#: study's families (walk of issue 18, finding 10).
ALL_STUDIES = "all_studies"


def chosen_studies(form: AccessForm) -> list[str] | None:
    """The studies to store (``[]``: every study), or None after putting the error on the form.

    A coordinator or PI needs "All studies" or at least one study ticked, not both. An
    administrator sees every study whatever is ticked, so nothing is required.
    """
    picked = list(form.studies.data or [])
    every = request.form.get(ALL_STUDIES) == "yes"
    if form.role.data == "admin":
        return [] if every else picked
    if every and picked:
        form.studies.errors = [_("Tick either “All studies” or some studies, not both.")]
        return None
    if not every and not picked:
        form.studies.errors = [_("Tick the studies this person works on, or “All studies”.")]
        return None
    return [] if every else picked


def study_choices() -> dict[str, str]:
    """Every study an account can be limited to, by id, with its title in the reader's language."""
    lang = current_locale()
    return {sid: study.text("title", lang) for sid, study in sorted(studies.all().items())}


def account_or_404(user_id: int) -> dict[str, Any]:
    """The account, or 404."""
    account = users.by_id(get_db(), user_id)
    if account is None:
        abort(404)
    return account


def state_of(account: dict[str, Any]) -> dict[str, Any]:
    """What the list and the account page say about an account (no secrets)."""
    locked_until = account.get("locked_until")
    locked = bool(locked_until) and clock.now() < datetime.fromisoformat(locked_until)
    return {
        "active": bool(account["active"]),
        "locked": locked,
        "one_time": bool(account.get("must_change_password")),
        "studies": json.loads(account["studies"] or "[]"),
    }


def accounts_page() -> str:
    """Every account, enabled first, with its role, studies and state."""
    require_admin()
    rows = [{**row, **state_of(row)} for row in users.all_users(get_db())]
    return render_template(
        "coordinator/accounts.html",
        accounts=rows,
        role_labels=ROLE_LABELS,
        titles=study_choices(),
        totp_required=bool(current_app.config["ADMIN_TOTP_REQUIRED"]),
    )


def one_time_password_page(account: dict[str, Any], password: str, created: bool) -> str:
    """The one time the new password is shown (the response is no-store, like every staff page)."""
    return render_template(
        "coordinator/accounts_password.html",
        account=account,
        password=password,
        created=created,
        hours=ONE_TIME_HOURS,
        role_labels=ROLE_LABELS,
    )


def new_account() -> ResponseReturnValue:
    """Create an account with a one-time password; a disabled address is re-created."""
    require_admin()
    form = NewAccountForm()
    form.fill_choices(users.ROLES, study_choices())
    valid = form.validate_on_submit()
    chosen = chosen_studies(form) if request.method == "POST" else None  # said with the other errors
    if valid:
        db = get_db()
        email = form.email.data.strip()
        existing = users.by_email(db, email)
        if existing is not None and existing["active"]:
            form.email.errors = [_("An account for this address already exists.")]
        elif chosen is not None:
            password = passwords.one_time_password()
            until = clock.iso(clock.now() + timedelta(hours=ONE_TIME_HOURS))
            user_id = users.create(
                db,
                email,
                passwords.hash_password(password),
                form.role.data,
                chosen,
                current_user.actor,
                one_time_until=until,
            )
            return one_time_password_page(users.by_id(db, user_id) or {}, password, created=True)
    every = request.method == "POST" and request.form.get(ALL_STUDIES) == "yes"
    return render_template("coordinator/accounts_new.html", form=form, existing_id=_existing_id(form), every=every)


def _existing_id(form: NewAccountForm) -> int | None:
    """The id of the enabled account the typed address already has (to link to it), if any."""
    email = (form.email.data or "").strip()
    if not email or not form.email.errors:
        return None
    existing = users.by_email(get_db(), email)
    return int(existing["id"]) if existing and existing["active"] else None


def account_page(user_id: int) -> str:
    """One account: change role and studies, disable or enable, reset the password, unlock."""
    require_admin()
    account = account_or_404(user_id)
    state = state_of(account)
    form = AccessForm(formdata=None, data={"role": account["role"], "studies": state["studies"]})
    form.fill_choices(users.ROLES, study_choices())
    return render_template(
        "coordinator/accounts_edit.html",
        account=account,
        state=state,
        form=form,
        role_labels=ROLE_LABELS,
        is_self=user_id == current_user.id,
        every=not state["studies"],
    )


def last_admin_refused() -> None:
    """Say why a change was refused (the store rolled it back)."""
    flash(_("Not changed: the team must keep at least one active administrator."), "error")


def change_access(user_id: int) -> Response:
    """Change the role and studies; it applies from the person's next click."""
    require_admin()
    account_or_404(user_id)
    form = AccessForm()
    form.fill_choices(users.ROLES, study_choices())
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return redirect(url_for("coordinator.account_page", user_id=user_id))
    chosen = chosen_studies(form)
    if chosen is None:
        for message in form.studies.errors:
            flash(message, "error")
        return redirect(url_for("coordinator.account_page", user_id=user_id))
    try:
        changed = users.set_access(get_db(), user_id, form.role.data, chosen, current_user.actor)
    except users.LastAdminError:
        last_admin_refused()
    else:
        flash(_("Role and studies saved.") if changed else _("Nothing changed."), "info")
    return redirect(url_for("coordinator.account_page", user_id=user_id))


def change_active(user_id: int) -> Response:
    """Disable (its sessions end at once) or enable an account."""
    require_admin()
    account_or_404(user_id)
    action = request.form.get("action")
    if action not in ("disable", "enable"):
        abort(400)
    try:
        users.set_active(get_db(), user_id, action == "enable", current_user.actor)
    except users.LastAdminError:
        last_admin_refused()
    else:
        if action == "enable":
            flash(_("The account is enabled. The person can sign in again with their password."), "info")
        else:
            flash(_("The account is disabled. Its sessions have ended."), "info")
    if action == "disable" and user_id == current_user.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("coordinator.account_page", user_id=user_id))


def reset_password(user_id: int) -> ResponseReturnValue:
    """A new one-time password, shown once; the old password and every session stop working."""
    require_admin()
    account_or_404(user_id)
    password = passwords.one_time_password()
    until = clock.iso(clock.now() + timedelta(hours=ONE_TIME_HOURS))
    db = get_db()
    users.reset_password(db, user_id, passwords.hash_password(password), until, current_user.actor)
    return one_time_password_page(users.by_id(db, user_id) or {}, password, created=False)


def unlock(user_id: int) -> Response:
    """End a sign-in lockout now (after the person proved who they are, e.g. by phone)."""
    require_admin()
    account_or_404(user_id)
    users.unlock(get_db(), user_id, current_user.actor)
    flash(_("The account is unlocked."), "info")
    return redirect(url_for("coordinator.account_page", user_id=user_id))

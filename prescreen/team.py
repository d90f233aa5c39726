"""The study team as families see it: who runs a study, where, and how to reach them.

What the listing says (centre, department, street address, registry and ethics approval numbers)
lives in ``study.csv``. How to reach the team (phone, e-mail, WeChat) and how soon they call back
are instance configuration and never invented: :func:`contact_of` is the one place that reads
them, :func:`block` puts both together for a page or an e-mail (the ``study_team`` template
global), and :func:`init_app` keeps production from serving a recruiting study nobody can reach.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from . import studies
from .config import ConfigError, is_development
from .engine import Study
from .store import MISSING_SCHEMA, connect, pg, recruiting

#: How a family reaches the team, in the order pages list them.
CONTACT_KEYS = ("phone", "email", "wechat")
#: What one entry of ``STUDY_CONTACTS`` may hold.
ENTRY_KEYS = (*CONTACT_KEYS, "reply_working_days")


@dataclass(frozen=True)
class TeamContact:
    """A study team's configured contacts; an empty field was not configured."""

    phone: str = ""
    email: str = ""
    wechat: str = ""
    #: "The team will call you within N working days"; None: no promise is made.
    reply_working_days: int | None = None

    @property
    def reachable(self) -> bool:
        """Whether a family has at least one way to reach the team."""
        return bool(self.phone or self.email or self.wechat)


def contact_of(study_id: str, config: Mapping[str, Any] | None = None) -> TeamContact:
    """The contacts of *study_id*'s team: its ``STUDY_CONTACTS`` entry, else the ``STUDY_CONTACT_*`` set.

    An entry replaces the shared set entirely (never mixed field by field), so one team's
    number is never shown for another team's study.
    """
    config = current_app.config if config is None else config
    entry = (config.get("STUDY_CONTACTS") or {}).get(study_id)
    if entry is None:
        entry = {key: config.get(f"STUDY_CONTACT_{key.upper()}") for key in CONTACT_KEYS}
        entry["reply_working_days"] = config.get("STUDY_REPLY_WORKING_DAYS")
    days = entry.get("reply_working_days")
    return TeamContact(
        **{key: str(entry.get(key) or "").strip() for key in CONTACT_KEYS},
        reply_working_days=int(days) if days not in (None, "") else None,
    )


def block(study: Study, lang: str) -> dict[str, Any]:
    """Everything the team block shows for *study* in *lang* (pages, the summary, e-mails).

    ``not_configured`` is true only in development, where a study without contacts is allowed
    and the page says so plainly instead of leaving a blank.
    """
    meta = study.meta
    contact = contact_of(study.id)
    return {
        "centre": meta.get(f"centre::{lang}", ""),
        "department": meta.get(f"department::{lang}", ""),
        "address": meta.get(f"address::{lang}", ""),
        "registry_id": meta.get("registry_id", ""),
        "ethics_approval": meta.get("ethics_approval", ""),
        "contact": contact,
        "not_configured": not contact.reachable and is_development(current_app),
    }


def check_settings(config: Mapping[str, Any], study_ids: set[str]) -> None:
    """Refuse a ``STUDY_CONTACTS`` or ``STUDY_REPLY_WORKING_DAYS`` that cannot mean what was meant.

    A misspelt key or study id would otherwise hide a phone number without a word.
    """
    entries = config.get("STUDY_CONTACTS") or {}
    if not isinstance(entries, Mapping):
        raise ConfigError("PRESCREEN_STUDY_CONTACTS must map study ids to {phone, email, wechat, reply_working_days}")
    for study_id, entry in entries.items():
        if study_id not in study_ids:
            hint = suggest(str(study_id), study_ids)
            raise ConfigError(f"PRESCREEN_STUDY_CONTACTS names an unknown study {study_id!r}{hint}")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"PRESCREEN_STUDY_CONTACTS[{study_id!r}] must be a mapping of {', '.join(ENTRY_KEYS)}")
        for key in entry:
            if key not in ENTRY_KEYS:
                raise ConfigError(
                    f"PRESCREEN_STUDY_CONTACTS[{study_id!r}] has an unknown key {key!r}{suggest(str(key), ENTRY_KEYS)}"
                )
        _check_days(f"PRESCREEN_STUDY_CONTACTS[{study_id!r}]['reply_working_days']", entry.get("reply_working_days"))
    _check_days("PRESCREEN_STUDY_REPLY_WORKING_DAYS", config.get("STUDY_REPLY_WORKING_DAYS"))


def _check_days(name: str, value: Any) -> None:
    if value in (None, ""):
        return
    if isinstance(value, bool) or not str(value).isdigit() or not 1 <= int(value) <= 30:
        raise ConfigError(f"{name} must be a whole number of working days from 1 to 30, not {value!r}")


def suggest(word: str, candidates: Any) -> str:
    """ " (did you mean 'x'?)" when a close candidate exists, as the sheet checker says it."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def recruiting_studies(app: Flask) -> list[str]:
    """The ids of the studies taking screenings: each sheet's status, unless the app changed it."""
    sheet = {sid: study.status for sid, study in studies.of(app).studies.items()}
    current = {sid: status or "recruiting" for sid, status in sheet.items()}
    target = app.config["DATABASE"]
    if pg.is_postgres(target) or Path(target).exists():
        db = connect(target)
        try:
            current = recruiting.statuses(db, sheet)
        except MISSING_SCHEMA:
            pass  # not migrated yet: nothing has been changed in the app
        finally:
            db.close()
    return sorted(sid for sid, status in current.items() if status == "recruiting")


def unreachable_message(study_id: str) -> str:
    """One line for the operator: which study, and which settings would fix it."""
    return (
        f"study {study_id!r} is recruiting but families have no way to reach its team: set"
        " PRESCREEN_STUDY_CONTACT_PHONE, _EMAIL or _WECHAT (or its entry in STUDY_CONTACTS),"
        f" or set its status to closed in questions/{study_id}/study.csv"
    )


def require_reachable(study_id: str) -> None:
    """Refuse, in production, to open recruiting for a study whose team families cannot reach.

    :raises ConfigError: with the operator's one-line message.
    """
    if not is_development(current_app) and not contact_of(study_id).reachable:
        raise ConfigError(unreachable_message(study_id))


def init_app(app: Flask) -> None:
    """Check the contact settings, refuse an unreachable recruiting study in production, add ``study_team``.

    Call after the studies are installed and the database migrated.
    """
    check_settings(app.config, set(studies.of(app).studies))
    if not is_development(app):
        for study_id in recruiting_studies(app):
            if not contact_of(study_id, app.config).reachable:
                raise ConfigError(unreachable_message(study_id))
    app.jinja_env.globals["study_team"] = block

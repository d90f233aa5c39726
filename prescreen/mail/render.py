"""Writing volunteer e-mails: rendered once, in the recipient's language, into outbox rows.

Rendering happens when the row is queued (inside the transaction that causes it), so the sender
only ever delivers finished messages, including those other areas queue (referral alerts).
Every volunteer e-mail carries its own manage token: the link to change categories and language,
and the RFC 8058 one-click unsubscribe, both for that one person only. No message holds health
data or anybody else's address.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

import sqlite_utils
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from .. import clock, team, tokens
from ..engine import Study
from ..store import outbox, volunteers

#: Every subject names the hospital, so a parent knows at a glance who writes (and that it is not spam).
SUBJECTS = {
    "volunteer-confirm": _l("Peking Union Medical College Hospital: please confirm your e-mail for study news"),
    "volunteer-already": _l("Peking Union Medical College Hospital: you are already signed up for study news"),
    "study-posted": _l("Peking Union Medical College Hospital: a new study is looking for volunteers"),
    "recheck-reminder": _l("Peking Union Medical College Hospital: your reminder to check again for a study"),
}
#: The sender's display name (the address stays MAIL_FROM's) and the site every e-mail says it is from.
SENDER_NAME = _l("PUMCH children's clinical study pre-screening")


def sender_names() -> dict[str, str]:
    """The sender's display name in each language, for the ``From`` header of that language's e-mails."""
    names = {}
    for locale in ("zh", "en"):
        with force_locale(locale):
            names[locale] = str(SENDER_NAME)
    return names


def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute link for an e-mail, built on ``PUBLIC_URL`` (no request needed: the CLI queues mail too)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def public_path(path: str) -> str:
    """An absolute link to a fixed path of the public site."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def render(kind: str, template: str, locale: str, **context: Any) -> tuple[str, str, str]:
    """Return ``(subject, text, html)`` of ``templates/email/<template>.{txt,html}`` in *locale*."""
    with force_locale(locale):
        subject = str(SUBJECTS[kind])
        # Who sent it (the site, by name and address) for the footer every e-mail carries.
        sender = {"site": str(SENDER_NAME), "site_url": public_path("/")}
        text = render_template(f"email/{template}.txt", locale=locale, subject=subject, **sender, **context)
        html = render_template(f"email/{template}.html", locale=locale, subject=subject, **sender, **context)
    return subject, text, html


def unsubscribe_headers(token: str) -> dict[str, str]:
    """``List-Unsubscribe`` (https and mailto, RFC 2369) and one-click ``List-Unsubscribe-Post`` (RFC 8058)."""
    https = absolute_url("volunteer.unsubscribe", token=token)
    address = parseaddr(current_app.config["MAIL_FROM"])[1]
    mailto = f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
    return {"List-Unsubscribe": f"<{https}>, <{mailto}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _links(db: sqlite_utils.Database, volunteer_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """A fresh manage token for one e-mail: its links for the body and its unsubscribe headers."""
    token = tokens.new_token()
    volunteers.add_token(db, volunteer_id, "manage", token)
    links = {
        "manage_url": absolute_url("volunteer.manage", token=token),
        "unsubscribe_url": absolute_url("volunteer.unsubscribe", token=token),
    }
    return links, unsubscribe_headers(token)


def queue_volunteer_mail(
    db: sqlite_utils.Database,
    *,
    key: str,
    kind: str,
    template: str,
    volunteer: dict[str, Any],
    extra_tokens: dict[str, str] | None = None,
    **context: Any,
) -> bool:
    """Queue one volunteer e-mail under *key* (idempotent); returns whether a row was added.

    Tokens are written only when the row is new, so a repeated action neither queues a second
    message nor leaves unused tokens behind. Call inside the causing transaction.
    """
    if outbox.is_queued(db, key):
        return False
    links, headers = _links(db, volunteer["id"])
    for purpose, token in (extra_tokens or {}).items():
        hours = current_app.config["VOLUNTEER_CONFIRM_HOURS"]
        expires = clock.iso(clock.now() + timedelta(hours=int(hours)))
        volunteers.add_token(db, volunteer["id"], purpose, token, expires)
    subject, text, html = render(kind, template, volunteer["locale"], **links, **context)
    return outbox.enqueue(
        db,
        key=key,
        kind=kind,
        to_addr=volunteer["email"],
        locale=volunteer["locale"],
        subject=subject,
        body_text=text,
        body_html=html,
        headers=headers,
    )


def queue_confirmation(db: sqlite_utils.Database, volunteer: dict[str, Any], day: str) -> bool:
    """The double opt-in e-mail: at most one per address per day, whatever is submitted."""
    token = tokens.new_token()
    return queue_volunteer_mail(
        db,
        key=f"volunteer-confirm:{volunteer['id']}:{day}",
        kind="volunteer-confirm",
        template="confirm",
        volunteer=volunteer,
        extra_tokens={"confirm": token},
        confirm_url=absolute_url("volunteer.confirm", token=token),
        hours=int(current_app.config["VOLUNTEER_CONFIRM_HOURS"]),
    )


def queue_already_signed_up(db: sqlite_utils.Database, volunteer: dict[str, Any], day: str) -> bool:
    """Tell a confirmed volunteer (only them, at their address) that someone signed up again."""
    return queue_volunteer_mail(
        db,
        key=f"volunteer-already:{volunteer['id']}:{day}",
        kind="volunteer-already",
        template="already",
        volunteer=volunteer,
    )


def study_context(study: Study, locale: str) -> dict[str, Any]:
    """What a study notice says: title, plain summary, the team block, and the link to its pre-screener."""
    return {
        "title": study.text("title", locale),
        "summary": study.text("summary", locale),
        "team": team.block(study, locale),
        "study_url": public_path(f"/s/{study.id}/"),
    }


def queue_study_posted(db: sqlite_utils.Database, volunteer: dict[str, Any], study: Study) -> bool:
    """One notice per volunteer and study, however often the study is published."""
    return queue_volunteer_mail(
        db,
        key=f"study-posted:{volunteer['id']}:{study.id}",
        kind="study-posted",
        template="study_posted",
        volunteer=volunteer,
        **study_context(study, volunteer["locale"]),
    )


def study_code(study_id: str) -> str:
    """An opaque code for a study in a reminder's link: an HMAC of its id under the secret key.

    A study's own address names the illness (``/s/pumch-pediatric-sjogren/``); a reminder's link
    passes through mail servers, filters and shared inboxes, so it must not. The code cannot be
    read back without the key; :func:`prescreen.volunteer.views.again` finds the study it stands for.
    """
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, f"recheck:{study_id}".encode(), hashlib.sha256).hexdigest()[:20]


def reminder_message(locale: str, study_id: str) -> tuple[str, str, str]:
    """The re-check reminder: that they asked, and a link that names no study; nothing about the child."""
    again_url = absolute_url("volunteer.again", code=study_code(study_id))
    return render("recheck-reminder", "reminder", locale, again_url=again_url)

"""The day-before visit reminders, rendered once when the visit is booked (e-mail only: no SMS).

The family's reminder goes only to an address they gave, in their language, and says where and
when: the hospital, the day and time, the address and how to reach the team. It never names the
study or anything about the child's health (an e-mail may be read by anyone in the family), and
the subject only names the hospital. The team's reminder is bilingual like the referral alert and
names the family by reference code only. A family without an e-mail is listed as "call to remind"
on the week's page instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from .. import clock, team
from ..engine import Study
from ..store.visits import FAMILY, TEAM, Reminder

#: When the reminders go: the day before the visit, at this Beijing time.
SEND_AT = time(9, 0)


def send_after(day: date, at: time = SEND_AT) -> datetime:
    """The moment the reminders are due: the day before *day* at *at*, Beijing time, as UTC."""
    return datetime.combine(day - timedelta(days=1), at, tzinfo=clock.TEAM_TZ).astimezone(UTC)


def visit_moment(day: date, hhmm: str) -> datetime:
    """The visit's start as an aware UTC moment."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=clock.TEAM_TZ).astimezone(UTC)


def _day(day: date, lang: str) -> str:
    with force_locale(lang):
        return format_date(day, "medium")


def _when(day: date, hhmm: str, lang: str) -> str:
    with force_locale(lang):
        return f"{format_date(day, 'full')} {hhmm}"


def family_reminder(row: dict[str, Any], study: Study | None, day: date, hhmm: str) -> Reminder | None:
    """The family's reminder, or None without an e-mail address (they get a call instead)."""
    address = (row.get("email") or "").strip()
    if not address:
        return None
    lang = row.get("contact_locale") or row.get("screening_locale") or "zh"
    lang = lang if lang in ("zh", "en") else "zh"
    meta = study.meta if study else {}
    hospital = meta.get(f"centre::{lang}", "")
    place = " ".join(p for p in (hospital, meta.get(f"department::{lang}", "")) if p)
    contact = team.contact_of(row["study_id"])
    with force_locale(lang):
        # Never "tomorrow": a visit booked for later today is reminded at once.
        # TRANSLATORS: a reminder e-mail's subject: never the study's name or anything about health.
        subject = _("%(hospital)s: a reminder of your appointment on %(date)s", hospital=hospital, date=_day(day, lang))
        lines = [
            _("Hello,"),
            "",
            _(
                "This is a reminder of your appointment on %(when)s at %(place)s.",
                when=_when(day, hhmm, lang),
                place=place,
            ),
            _("Your reference: %(ref)s", ref=row["reference"]),
        ]
        if meta.get(f"address::{lang}"):
            lines.append(_("Address: %(address)s", address=meta[f"address::{lang}"]))
        lines += ["", _("Please bring earlier medical records and test reports.")]
        reach = [
            text
            for value, text in (
                (contact.phone, _("phone %(value)s", value=contact.phone)),
                (contact.email, _("e-mail %(value)s", value=contact.email)),
                (contact.wechat, _("WeChat %(value)s", value=contact.wechat)),
            )
            if value
        ]
        if reach:
            ways = ("；" if lang == "zh" else "; ").join(reach)
            lines.append(_("To change the time or ask a question, contact the team: %(ways)s.", ways=ways))
        lines += ["", "--", _("You get this e-mail because an appointment was booked for you with this address.")]
    return Reminder(FAMILY, address, lang, subject, "\n".join(lines) + "\n", send_after(day))


def team_reminder(row: dict[str, Any], day: date, hhmm: str, url: str) -> Reminder | None:
    """The team's reminder (reference code only, both languages), or None without a team address."""
    address = current_app.config.get("STUDY_TEAM_EMAIL")
    if not address:
        return None
    phone_only = not (row.get("email") or "").strip()
    parts = {}
    for lang in ("zh", "en"):
        with force_locale(lang):
            subject = _("Screening visit on %(date)s: %(ref)s", date=_day(day, lang), ref=row["reference"])
            body = [_("Screening visit: %(ref)s, %(when)s.", ref=row["reference"], when=_when(day, hhmm, lang))]
            if phone_only:
                body.append(_("The family gave no e-mail address: call them to remind them."))
            else:
                body.append(_("The family was sent an e-mail reminder."))
            body.append(_("Open the family's page: %(url)s", url=url))
            parts[lang] = (subject, "\n".join(body))
    subject = f"{parts['zh'][0]} / {parts['en'][0]}"
    body = f"{parts['zh'][1]}\n\n{parts['en'][1]}\n"
    return Reminder(TEAM, address, "zh", subject, body, send_after(day))

"""The study team's forms on a family's page: a contact attempt, a status change, a note, erasing.

The screening visit is booked in its own form (``visits.py``: day, time, reminders), so the status
menu neither offers "visit scheduled" nor asks for a visit date.

Every menu starts blank ("choose one"): a menu that preselects its first option records a
successful call when the coordinator only meant to save a "no answer". Erasing is its own form,
never an option of the status menu, and needs the family's reference code typed in.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..engine import Study
from ..store import queue
from ..web.forms import TextForm
from .shared import CHANNEL_LABELS, ERASE_REASON_LABELS, RESULT_LABELS, STATUS_LABELS, criterion_reason

#: The blank first option of every menu (never a real choice).
CHOOSE = _l("— choose one —")
CHOOSE_ERROR = _l("Choose one.")


def _menu(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice("", CHOOSE)] + [SelectChoice(k, v) for k, v in labels.items()]


class AttemptForm(TextForm):
    """One contact attempt: when, how, what happened, and a short note for the team."""

    channel = SelectField(_l("Channel"), choices=_menu(CHANNEL_LABELS), validators=[DataRequired(CHOOSE_ERROR)])
    result = SelectField(
        _l("Outcome of the attempt"), choices=_menu(RESULT_LABELS), validators=[DataRequired(CHOOSE_ERROR)]
    )
    at = DateTimeLocalField(_l("When (Beijing time; empty means now)"), validators=[Optional()])
    note = TextAreaField(
        _l("Note on this attempt (team only, optional)"),
        validators=[
            Optional(),
            Length(max=queue.ATTEMPT_NOTE_MAX, message=_l("Keep the note under 500 characters.")),
        ],
    )


class StatusForm(TextForm):
    """Move the referral on (the next steps), or correct its status (any other, with a reason)."""

    status = SelectField(_l("New status"), validators=[DataRequired(CHOOSE_ERROR)])
    reason = TextAreaField(
        _l("Reason for the change (needed for a correction)"),
        validators=[Optional(), Length(max=queue.REASON_MAX, message=_l("Keep the reason under 300 characters."))],
    )
    criterion = SelectField(_l("Criterion that failed (for screen failed)"), validators=[Optional()])
    consent_date = DateField(_l("Date consent was signed (for enrolled)"), validators=[Optional()])
    subject_id = StringField(
        _l("Subject number (for enrolled)"),
        validators=[Optional(), Length(max=queue.SUBJECT_ID_MAX, message=_l("Keep it under 40 characters."))],
    )


class EraseForm(TextForm):
    """The family withdrew consent: erase their details (typed confirmation, reason)."""

    reason = SelectField(
        _l("How did the family tell you?"),
        choices=_menu(ERASE_REASON_LABELS),
        validators=[DataRequired(CHOOSE_ERROR)],
    )
    confirm = StringField(
        _l("Type the family's reference code to confirm"),
        validators=[DataRequired(_l("Type the reference code to confirm."))],
    )


class NoteForm(TextForm):
    """A free-text note for the team (never exported in the de-identified log)."""

    body = TextAreaField(_l("Note"), validators=[DataRequired(message=_l("Write the note first.")), Length(max=2000)])


def status_choices(row: dict[str, Any]) -> dict[str | None, list[SelectChoice]]:
    """The status menu: blank, then the next steps, then the corrections (a reason needed).

    Never "visit scheduled": the booking form sets it with the visit's time and reminders.
    """
    groups: dict[str | None, list[SelectChoice]] = {None: [SelectChoice("", str(CHOOSE))]}
    steps, fixes = queue.status_menu(row["kind"], row["status"])
    if steps:
        groups[_("Next step")] = [SelectChoice(s, STATUS_LABELS[s]) for s in steps]
    if fixes:
        groups[_("Correct the status (give the reason)")] = [SelectChoice(s, STATUS_LABELS[s]) for s in fixes]
    return groups


def forms_for(row: dict[str, Any], study: Study | None, lang: str) -> dict[str, FlaskForm]:
    """The action forms, with the choices this referral allows now."""
    status_form = StatusForm(prefix="status")
    status_form.status.choices = status_choices(row)
    # The reason wording the reports use ("active tuberculosis rules the child out"), never the
    # criterion's positive label ("no active tuberculosis"), which reads as the opposite here.
    reasons = [SelectChoice(c.id, criterion_reason(study.id, c.id, lang)) for c in study.criteria] if study else []
    status_form.criterion.choices = [SelectChoice("", str(CHOOSE)), *reasons]
    return {
        "attempt": AttemptForm(prefix="attempt"),
        "status": status_form,
        "note": NoteForm(prefix="note"),
        "erase": EraseForm(prefix="erase"),
    }

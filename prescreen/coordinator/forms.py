"""The study team's forms on a family's page: a contact attempt, a status change, a note."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..engine import Study
from ..store import queue
from ..web.forms import TextForm
from .shared import CHANNEL_LABELS, RESULT_LABELS, STATUS_LABELS

WITHDRAW_LABEL = _l("Withdrawn (deletes their contact details, answers and notes)")


class AttemptForm(TextForm):
    """One contact attempt: when, how, and what happened."""

    channel = SelectField(_l("Channel"), choices=[SelectChoice(k, v) for k, v in CHANNEL_LABELS.items()])
    result = SelectField(_l("Outcome of the attempt"), choices=[SelectChoice(k, v) for k, v in RESULT_LABELS.items()])
    at = DateTimeLocalField(_l("When (Beijing time; empty means now)"), validators=[Optional()])


class StatusForm(TextForm):
    """Move the referral along the flow."""

    status = SelectField(_l("New status"), validators=[DataRequired()])
    visit_date = DateField(_l("Screening visit date (for a scheduled visit)"), validators=[Optional()])
    criterion = SelectField(_l("Criterion that failed (for screen failed)"), validators=[Optional()])


class NoteForm(TextForm):
    """A free-text note for the team (never exported in the de-identified log)."""

    body = TextAreaField(_l("Note"), validators=[DataRequired(message=_l("Write the note first.")), Length(max=2000)])


def forms_for(row: dict[str, Any], study: Study | None, lang: str) -> dict[str, FlaskForm]:
    """The three action forms, with the choices this referral allows now."""
    status_form = StatusForm(prefix="status")
    status_form.status.choices = [
        SelectChoice(s, WITHDRAW_LABEL if s == "withdrawn" else STATUS_LABELS[s])
        for s in queue.transitions(row["kind"], row["status"])
    ]
    criteria = study.criteria if study else ()
    status_form.criterion.choices = [SelectChoice("", "—")] + [
        SelectChoice(c.id, f"{c.id} · {c.label(lang)}") for c in criteria
    ]
    return {"attempt": AttemptForm(prefix="attempt"), "status": status_form, "note": NoteForm(prefix="note")}

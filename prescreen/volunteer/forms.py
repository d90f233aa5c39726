"""Forms of the volunteer pages: sign-up, preferences, re-check reminder.

The consent boxes render unticked and are required; the category and age-band choices come
from ``questions/categories.csv`` and the referral age bands, so an unknown value posted by hand
is a form error, never a stored row.
"""

from __future__ import annotations

import hashlib
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectChoice, SelectMultipleField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..web.forms import TextForm, TickBox

LANGUAGES = [SelectChoice("zh", "中文"), SelectChoice("en", "English")]
AGE_BAND_CHOICES = [
    SelectChoice("", _l("I'd rather not say")),
    SelectChoice("under-5", _l("Under 5")),
    SelectChoice("5-9", _l("5 to 9")),
    SelectChoice("10-13", _l("10 to 13")),
    SelectChoice("14-18", _l("14 to 18")),
    SelectChoice("over-18", _l("Over 18")),
]
SIGNUP_CONSENT = _l(
    "I agree that this service keeps my e-mail address, my language, the kinds of studies I chose "
    "and (if I gave it) my child's age group, to e-mail me when a matching study starts looking for "
    "volunteers."
)
#: Only a hand-made POST can pick something we did not offer.
NOT_OFFERED = _l("Choose from the options shown.")
REMINDER_CONSENT = _l(
    "I agree that this service keeps my e-mail address until the date above, to send me one "
    "reminder on that date. Then it is deleted."
)


def consent_version(*texts: Any) -> str:
    """A short hash of the exact consent wording shown (in the shown language), stored with the consent."""
    return hashlib.sha256("\n".join(str(t) for t in texts).encode("utf-8")).hexdigest()[:16]


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes, one per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _address(form: FlaskForm, field: EmailField) -> None:
    """Accept only an address we can deliver to over plain SMTP, and keep it normalised."""
    try:
        checked = validate_email(field.data or "", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValidationError(_l("Enter an e-mail address like name@example.com.")) from None
    field.data = checked.normalized


def email_field() -> EmailField:
    """The e-mail box, the same on every form."""
    return EmailField(
        _l("E-mail address"),
        validators=[
            InputRequired(message=_l("Enter your e-mail address.")),
            Length(max=254, message=_l("This e-mail address is too long.")),
            _address,
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "off"},
    )


class PreferencesForm(TextForm):
    """What a volunteer follows, and in which language they read our e-mails."""

    language = RadioField(
        _l("Language of our e-mails"),
        choices=LANGUAGES,
        invalid_choice_message=NOT_OFFERED,
        validators=[InputRequired(message=_l("Choose a language."))],
    )
    categories = MultiCheckboxField(
        _l("Kinds of studies"),
        invalid_choice_message=NOT_OFFERED,
        validators=[DataRequired(message=_l("Choose at least one kind of study."))],
    )
    age_band = RadioField(
        _l("Your child's age (optional)"), choices=AGE_BAND_CHOICES, default="", invalid_choice_message=NOT_OFFERED
    )

    def set_categories(self, choices: list[tuple[str, str]]) -> None:
        """Offer the taxonomy's categories (labels in the page's language)."""
        self.categories.choices = [SelectChoice(value, label) for value, label in choices]

    def age_band_value(self) -> str | None:
        """The chosen band, or None for "rather not say"."""
        return self.age_band.data or None


class SignupForm(PreferencesForm):
    """Sign-up: preferences, the address, and the separate consent."""

    email = email_field()
    consent = TickBox(SIGNUP_CONSENT, validators=[DataRequired(message=_l("Tick the box to agree."))])


class ResubscribeForm(PreferencesForm):
    """Subscribing again from a link in one of our e-mails: fresh choices and a fresh consent."""

    consent = TickBox(SIGNUP_CONSENT, validators=[DataRequired(message=_l("Tick the box to agree."))])


class ReminderForm(TextForm):
    """A single re-check reminder: the address and its own consent."""

    email = email_field()
    consent = TickBox(REMINDER_CONSENT, validators=[DataRequired(message=_l("Tick the box to agree."))])


class ButtonForm(TextForm):
    """A form that is only a button (confirm, unsubscribe): CSRF-protected, nothing else."""

"""Forms of the volunteer pages: sign-up, preferences, re-check reminder.

The consent boxes render unticked and are required; the category and age-band choices come
from ``questions/categories.csv`` and the referral age bands, so an unknown value posted by hand
is a form error, never a stored row.
"""

from __future__ import annotations

import hashlib
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..mail import sms
from ..public.forms import MAINLAND_MOBILE_DIGITS, PHONE_SEPARATORS_RE, strip_text
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
    "I agree that this service keeps my mobile number or e-mail address until the date above, to send "
    "me one reminder on that date, as a text message or an e-mail as I chose. Then it is deleted."
)
#: How a re-check reminder reaches the family: a text first (issue 19: most families read texts,
#: not e-mail), or an e-mail.
REMINDER_CHANNELS = [
    SelectChoice("sms", _l("A text message (SMS) to a mainland China mobile")),
    SelectChoice("email", _l("An e-mail")),
]


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


def mainland_mobile(raw: str) -> str:
    """A mainland China mobile as typed (``138 0013 8000``, ``+86 138…``) in E.164, or ValidationError.

    Texts go to mainland mobiles only (the provider's domestic service); the message says so and
    points to e-mail instead.
    """
    digits = PHONE_SEPARATORS_RE.sub("", raw or "")
    if digits.isdigit() and len(digits) != MAINLAND_MOBILE_DIGITS and not digits.startswith("86"):
        raise ValidationError(
            _l("A mainland mobile number has 11 digits, and this one has %(count)s.", count=len(digits))
        )
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        number = None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else ""
    if number is None or not phonenumbers.is_valid_number(number) or not sms.is_mainland_mobile(e164):
        raise ValidationError(
            _l("We can send text messages only to a mainland China mobile (11 digits, starting with 1).")
        )
    return e164


class ReminderForm(TextForm):
    """A single re-check reminder: by text or by e-mail, the number or the address, and its own consent.

    Only the chosen channel's box is read; the other may hold anything (a family that changed its
    mind), and is neither checked nor kept.
    """

    channel = RadioField(
        _l("How should we remind you?"), choices=REMINDER_CHANNELS, default="sms", invalid_choice_message=NOT_OFFERED
    )
    phone = StringField(
        _l("Mobile number (for a text message)"),
        filters=[strip_text],
        validators=[Length(max=32, message=_l("That number is too long."))],
        render_kw={"autocomplete": "tel", "inputmode": "tel", "type": "tel"},
    )
    email = EmailField(
        _l("E-mail address (for an e-mail)"),
        validators=[Length(max=254, message=_l("This e-mail address is too long."))],
        render_kw={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "off"},
    )
    consent = TickBox(REMINDER_CONSENT, validators=[DataRequired(message=_l("Tick the box to agree."))])

    def validate_channel(self, field: RadioField) -> None:
        # Only a page from before texts were offered posts no choice (ours always checks one): it
        # had the e-mail box alone, so it asks for an e-mail.
        if not field.raw_data:
            field.data = "email"

    def validate_phone(self, field: StringField) -> None:
        if self.channel.data != "sms":
            return
        if not field.data:
            raise ValidationError(_l("Enter your mobile number, or choose e-mail."))
        field.data = mainland_mobile(field.data)

    def validate_email(self, field: EmailField) -> None:
        if self.channel.data != "email":
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Enter your e-mail address."))
        _address(self, field)


class ButtonForm(TextForm):
    """A form that is only a button (confirm, unsubscribe): CSRF-protected, nothing else."""

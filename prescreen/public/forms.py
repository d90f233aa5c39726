"""The fixed screens' forms: consent, referral, withdraw, the guardian taking over.

Error messages are lazy (``_l``) so they render in the request's language. Every free-text field
has a length cap before any parsing (ASVS 5.1.x), and unknown extra fields are simply not read.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, StopValidation, ValidationError

from ..mail import sms
from ..store.referrals import WORDS_MAX
from ..web.forms import TextForm, TickBox

RESPONDENTS = ("guardian", "patient")
BEST_TIMES = ("morning", "afternoon", "evening", "any")
RELATIONSHIPS = ("mother", "father", "guardian", "self")
#: WeChat IDs: 6-20 characters, starting with a letter (letters, digits, _ and -); many
#: families' WeChat is found by their mobile number, so digits alone are accepted too.
WECHAT_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_-]{5,19}|\+?[0-9]{6,20})$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Control characters other than a line break or a tab (free text keeps its lines).
TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: What people type between the digits of a phone number: spaces (full-width too), dashes, brackets.
PHONE_SEPARATORS_RE = re.compile(r"[\s\u3000\-\u2010-\u2015()（）.]")
#: A mainland China mobile number is 11 digits (138 1234 5678).
MAINLAND_MOBILE_DIGITS = 11
#: The referral form's own tick for the SMS receipt: what the text says, and that it is a text.
SMS_RECEIPT_CONSENT = _l(
    "Yes, send a text message (SMS) to this mobile with my reference number, and when and from which "
    "number the team will call. It says nothing else."
)


def visible_text(value: str) -> str:
    """*value* without invisible format characters (Unicode category Cf), spaces collapsed.

    Bidi overrides and isolates (U+202E …) reorder what the study team's queue and a spreadsheet
    show, and zero-width spaces, joiners and the BOM (often pasted along from a chat app) make
    two names that look alike differ: a name is stored as it is seen.
    """
    kept = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    return " ".join(kept.split())


class ConsentForm(TextForm):
    """The separate consent to health information about a child (unticked by default)."""

    respondent = HiddenField(validators=[DataRequired()])
    #: One per rendered form: the screening token is derived from it, so a double tap or a
    #: replayed POST of the same form finds the same screening instead of starting another.
    #: A form posted without one (an old page, a script) still works, just without that guard.
    nonce = HiddenField(validators=[Optional(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    agree = TickBox(validators=[DataRequired(_l("Please tick the box to agree, or leave this page."))])

    def validate_respondent(self, field: HiddenField) -> None:
        if field.data not in RESPONDENTS:
            raise ValidationError(_l("Please choose who is filling in the questions."))


class GuardianForm(TextForm):
    """A parent or guardian continues for a patient under 14, with their own consent."""

    agree = TickBox(
        validators=[DataRequired(_l("Please tick the box to confirm you are the parent or guardian and agree."))]
    )


def strip_text(value: object) -> object:
    """Trim spaces, including the full-width space a Chinese keyboard types, from free text."""
    return value.strip() if isinstance(value, str) else value


class WithdrawForm(TextForm):
    """Confirm withdrawing (one button; the token is in the URL, or the screening in the session)."""


class LeaveForm(TextForm):
    """ "I'm finished on this device" (one button)."""


class ResumeForm(TextForm):
    """Continue a saved screening on this browser, with this browser's own consent."""

    agree = TickBox()

    def __init__(self, *args: object, needs_consent: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.needs_consent = needs_consent

    def validate_agree(self, field: TickBox) -> None:
        if self.needs_consent and not field.data:
            raise ValidationError(_l("Please tick the box to agree, or leave this page."))


class ReferralForm(TextForm):
    """Contact details for the study team, with the explicit share consent."""

    name = StringField(
        validators=[
            DataRequired(_l("Please write a name the team can ask for.")),
            Length(max=80, message=_l("Please keep the name under 80 characters.")),
        ]
    )
    #: Required, with a message in the voice of whoever fills in the form (validate_relationship).
    relationship = RadioField(choices=list(RELATIONSHIPS))
    phone = StringField(
        validators=[
            DataRequired(_l("Please give a mobile number.")),
            Length(max=32, message=_l("That number is too long.")),
        ]
    )
    email = StringField(
        filters=[strip_text],
        validators=[Optional(), Length(max=254, message=_l("That e-mail address is too long."))],
    )
    wechat = StringField(
        filters=[strip_text],
        validators=[Optional(), Length(max=40, message=_l("That WeChat ID is too long."))],
    )
    best_time = RadioField(
        choices=list(BEST_TIMES),
        default="any",
        validators=[InputRequired(_l("Please choose when to call."))],
    )
    language = RadioField(choices=["zh", "en"], validators=[InputRequired()])
    #: Required: ticked by the person themselves (validate_share says so in their voice).
    share = TickBox()
    guardian = TickBox()
    #: Offered only when the team's number and call-back days are configured (the view decides).
    sms_receipt = TickBox(SMS_RECEIPT_CONSENT)

    def __init__(self, *args: object, under_14: bool = False, voice: str = "guardian", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.under_14 = under_14
        #: ``patient``: a teen (14 or older) or an adult patient sends their own details (PIPL art. 31).
        self.voice = voice

    def validate_name(self, field: StringField) -> None:
        field.data = visible_text(field.data or "")
        if CONTROL_RE.search(field.data):
            raise ValidationError(_l("Please write the name in plain text."))
        if not field.data:
            raise ValidationError(_l("Please write a name the team can ask for."))

    def validate_relationship(self, field: RadioField) -> None:
        if not field.data:
            field.errors[:] = []  # not "Not a valid choice": nothing was chosen
            if self.voice == "patient":
                raise StopValidation(_l("Please say who this person is."))
            raise StopValidation(_l("Please say who you are to the child."))
        if self.under_14 and field.data == "self":
            raise ValidationError(_l("For a child under 14, a parent or guardian must send the details."))

    def validate_phone(self, field: StringField) -> None:
        """Chinese mobiles as typed (``138 1234 5678``); other countries with ``+`` and code.

        A mainland number typed with a digit too few or too many is by far the commonest slip:
        it is told how many digits it has, not sent off to look for a country code.
        """
        raw = (field.data or "").strip()
        digits = PHONE_SEPARATORS_RE.sub("", raw)
        if digits.isdigit() and not digits.startswith("0") and len(digits) != MAINLAND_MOBILE_DIGITS:
            raise ValidationError(
                _l(
                    "A mainland mobile number has 11 digits, and this one has %(count)s. "
                    "For a number outside mainland China, start with + and the country code.",
                    count=len(digits),
                )
            )
        try:
            number = phonenumbers.parse(raw, "CN")
        except phonenumbers.NumberParseException:
            raise ValidationError(_l("Please check the mobile number.")) from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(
                _l(
                    "Please check the mobile number. "
                    "For a number outside mainland China, start with + and the country code."
                )
            )
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_email(self, field: StringField) -> None:
        raw = (field.data or "").strip()
        try:
            field.data = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_l("Please check the e-mail address, e.g. name@example.com.")) from None

    def validate_wechat(self, field: StringField) -> None:
        raw = (field.data or "").strip()
        if not WECHAT_RE.match(raw):
            raise ValidationError(_l("A WeChat ID has 6 to 20 letters, numbers, _ or -, and starts with a letter."))
        field.data = raw

    def validate_share(self, field: TickBox) -> None:
        if not field.data:
            if self.voice == "patient":
                raise StopValidation(lazy_pgettext("patient", "Please tick the box so we may send your details."))
            raise StopValidation(_l("Please tick the box so we may send your details."))

    def validate_guardian(self, field: TickBox) -> None:
        if self.under_14 and not field.data:
            raise ValidationError(_l("For a child under 14, please confirm you are the parent or guardian and agree."))

    def validate_sms_receipt(self, field: TickBox) -> None:
        # After validate_phone (declared earlier): the number is E.164 here unless it has its own error.
        if field.data and not self.phone.errors and not sms.is_mainland_mobile(self.phone.data or ""):
            raise ValidationError(
                _l(
                    "We can send a text message only to a mainland China mobile. "
                    "Untick the box, or give a mainland mobile number."
                )
            )


class ReviewForm(ReferralForm):
    """Ask a person to check the result: the referral's details and consents, and the family's own words.

    The words are optional (a family that cannot explain may still ask) but the form asks for
    them. A browser counts a line break as one character and sends two, so the length is checked
    on the text as stored; the cap before any parsing is twice that.
    """

    words = TextAreaField(
        filters=[strip_text],
        validators=[Length(max=2 * WORDS_MAX, message=_l("Please keep this under 1000 characters."))],
        render_kw={"maxlength": WORDS_MAX, "rows": 5},
    )

    def validate_words(self, field: TextAreaField) -> None:
        text = "".join(ch for ch in (field.data or "") if unicodedata.category(ch) != "Cf")
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if TEXT_CONTROL_RE.search(text):
            raise ValidationError(_l("Please write in plain text."))
        if len(text) > WORDS_MAX:
            raise ValidationError(_l("Please keep this under 1000 characters."))
        field.data = text

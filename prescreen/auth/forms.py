"""Staff forms: sign-in, choosing a new password after a one-time one, and an admin's account forms."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, RadioField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from ..web.forms import TextForm
from . import passwords


class LoginForm(TextForm):
    """E-mail and password; no "remember me": a shared ward computer must not stay signed in."""

    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Enter your e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=passwords.MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Authenticator code"),
        validators=[Optional(), Length(max=16)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )


#: Why a new password is refused, in the reader's language (keys of ``passwords.PROBLEMS``).
PASSWORD_PROBLEMS = {
    "short": _l("Use at least %(n)d characters.", n=passwords.MIN_LENGTH),
    "long": _l("Use at most %(n)d characters.", n=passwords.MAX_LENGTH),
    "breached": _l("This password is on a list of common or leaked passwords. Choose another."),
    "email_name": _l("The password must not contain the name part of your e-mail address."),
}


class ChoosePasswordForm(TextForm):
    """A new password, typed twice, after signing in with a one-time password from an admin."""

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Enter a new password.")), Length(max=passwords.MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(message=_l("Enter the new password again.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


#: The roles an admin can give, as the accounts pages name them.
ROLE_LABELS = {
    # TRANSLATORS: a clinical research coordinator (CRC) who calls the families; in Chinese 研究协调员.
    "coordinator": _l("Coordinator"),
    # TRANSLATORS: manages accounts and studies, sees the audit trail.
    "admin": _l("Administrator"),
    # TRANSLATORS: principal investigator (主要研究者): signs off eligibility.
    "pi": _l("Principal investigator"),
}


def valid_email(form: Any, field: Any) -> None:
    """One address: an @, no spaces (the same rule as ``prescreen users create``)."""
    value = (field.data or "").strip()
    if "@" not in value or any(char.isspace() for char in value) or not all(value.split("@", 1)):
        raise ValidationError(_l("Enter an e-mail address, like name@pumch.cn."))


class AccessForm(TextForm):
    """An account's role and the studies it is limited to (none ticked: every study)."""

    role = RadioField(_l("Role"), validators=[DataRequired(message=_l("Choose a role."))])
    studies = SelectMultipleField(_l("Studies"), validators=[Optional()])

    def fill_choices(self, roles: tuple[str, ...], study_titles: dict[str, str]) -> None:
        """Offer the roles the store knows and the studies that exist now."""
        self.role.choices = [(role, str(ROLE_LABELS.get(role, role))) for role in roles]
        self.studies.choices = list(study_titles.items())


class NewAccountForm(AccessForm):
    """A new account: the address, role and studies; the app makes a one-time password."""

    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Enter the e-mail address.")), Length(max=254), valid_email],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )

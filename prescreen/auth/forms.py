"""The staff sign-in form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

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

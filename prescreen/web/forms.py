"""The base of our HTML forms: fields read only the posted text fields (``request.form``).

Flask-WTF also fills a form from a JSON body or from uploaded files. Our pages only ever post
text, and a JSON number or an uploaded file where WTForms expects a string made validators crash
(``len(5)``, ``FileStorage.split``): a 500 for anyone with curl (found by tests/test_fuzz_hostile.py).
Reading only ``request.form`` turns such a post into ordinary "please fill this in" errors.
"""

from __future__ import annotations

from typing import Any

from babel import support
from flask import request
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.i18n import messages_path

#: The methods Flask-WTF treats as a submission (flask_wtf.form.SUBMIT_METHODS).
SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WTFormsTranslations:
    """WTForms' own messages ("Not a valid choice") in the request's language, read once per process.

    Flask-WTF's stand-in reads and parses the ``wtforms`` catalogue again for every request that
    builds a form (a twentieth of a consent page's time); the catalogue never changes while the
    process runs, so it is kept per locale.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, support.NullTranslations] = {}

    def _current(self) -> support.NullTranslations:
        locale = str(get_locale() or "en")
        translations = self._loaded.get(locale)
        if translations is None:
            translations = self._loaded[locale] = support.Translations.load(messages_path(), [locale], domain="wtforms")
        return translations

    def gettext(self, string: str) -> str:
        return self._current().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._current().ungettext(singular, plural, n)


WTFORMS_TRANSLATIONS = WTFormsTranslations()


class TextForm(FlaskForm):
    """A FlaskForm fed from ``request.form`` only: never JSON values, never uploaded files."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> WTFormsTranslations:
            return WTFORMS_TRANSLATIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs:
            kwargs["formdata"] = request.form if request.method in SUBMIT_METHODS else None
        super().__init__(*args, **kwargs)


class TickBox(BooleanField):
    """A consent checkbox that counts as ticked only when it posts the value our pages send.

    WTForms' ``BooleanField`` treats anything but ``false`` and an empty string as ticked, so a
    hand-made ``agree=off``, ``0`` or ``n`` would have recorded a consent nobody gave.
    """

    #: What ``<input type="checkbox" value="y">`` sends when ticked, and nothing else.
    TICKED = "y"

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = bool(valuelist) and valuelist[0] == self.TICKED

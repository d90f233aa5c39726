"""The base of our HTML forms: fields read only the posted text fields (``request.form``).

Flask-WTF also fills a form from a JSON body or from uploaded files. Our pages only ever post
text, and a JSON number or an uploaded file where WTForms expects a string made validators crash
(``len(5)``, ``FileStorage.split``): a 500 for anyone with curl (found by tests/test_fuzz_hostile.py).
Reading only ``request.form`` turns such a post into ordinary "please fill this in" errors.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm

#: The methods Flask-WTF treats as a submission (flask_wtf.form.SUBMIT_METHODS).
SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TextForm(FlaskForm):
    """A FlaskForm fed from ``request.form`` only: never JSON values, never uploaded files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs:
            kwargs["formdata"] = request.form if request.method in SUBMIT_METHODS else None
        super().__init__(*args, **kwargs)

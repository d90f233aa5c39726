"""The family's year-long display preferences (language, large text) as cookies.

Both hold a preference, never a person: one name, one short value, kept for a year so a
grandparent who chose 大字 or English finds it again next month. They are ``HttpOnly`` (no
script reads them), ``SameSite=Lax`` and ``Secure`` wherever the session cookie is (the
deployment's ``SESSION_COOKIE_SECURE``, or a request that arrived over HTTPS), so every cookie
this site sets follows the same rules in one place.
"""

from __future__ import annotations

from flask import current_app, request
from werkzeug.wrappers import Response

#: How long a display preference is remembered.
YEAR = 365 * 24 * 3600


def _secure() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def remember(response: Response, name: str, value: str) -> None:
    """Keep the preference *name* = *value* for a year."""
    response.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="Lax", secure=_secure())


def forget(response: Response, name: str) -> None:
    """Drop the preference *name* (the browser deletes a cookie with the same attributes)."""
    response.delete_cookie(name, httponly=True, samesite="Lax", secure=_secure())

"""The two places where prescreen steps past a framework's public API, each for a measured reason.

Everything else uses Flask, Flask-Login and Flask-WTF only through their documented interfaces.
These two are kept here, together, so a framework upgrade has one file to check.

1. :func:`reuse_checked_csrf_token` — an answer POST re-uses the CSRF token it arrived with for
   the next question instead of signing a new one. Signing (itsdangerous HMAC + base64) cost about
   a twentieth of an answer's server time under ``make bench`` when this was measured. Flask-WTF
   has no public way to say "this token is fine for the rest of the request", so the token is put
   where ``flask_wtf.csrf.generate_csrf`` looks first (``g.csrf_token``).
2. :func:`without_remember_cookie_hook` — Flask-Login's remember-me hook reads the session on every
   response, so every response, static files included, said ``Vary: Cookie``, and a phone's cached
   stylesheet stopped matching whenever the session cookie changed (about 0.4 s per page on a slow
   mobile network, ``make bench-slow``). There is no "remember me" here, so the hook has nothing to
   do; Flask-Login offers no switch for it.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import LoginManager


def reuse_checked_csrf_token() -> None:
    """Give the rest of this request the CSRF token the POST came with (already checked).

    Tokens never expire here (``WTF_CSRF_TIME_LIMIT`` is None) and this one just passed
    Flask-WTF's check against this session, so it is as good as a new one. Only for answers:
    nothing here changes the session's own token.
    """
    token = request.form.get("csrf_token")
    if g.get("csrf_valid") and token:
        g.csrf_token = token


def without_remember_cookie_hook(app: Flask, login_manager: LoginManager) -> None:
    """Take Flask-Login's remember-me response hook off *app* (see the module docstring)."""
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)  # noqa: SLF001

"""Staff sign-in and sign-out, choosing a password after a one-time one, and "stay signed in".

There is no sign-up page: admins create accounts (the accounts pages or ``prescreen users``).

This file holds the blueprint, its hook and routes; the views and the sign-in rule are in
:mod:`.views`, passwords and authenticator codes in :mod:`.passwords`, the CLI in :mod:`.cli`.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..extensions import login_manager
from ..web.fastpaths import without_remember_cookie_hook
from ..web.limits import limiter_for
from . import views

bp = Blueprint("auth", __name__, url_prefix="/staff")
bp.after_request(views.no_store)
bp.add_url_rule("/login", view_func=views.login, methods=["GET", "POST"])
bp.add_url_rule("/logout", view_func=views.logout, methods=["POST"])
bp.add_url_rule("/password", view_func=views.choose_password, methods=["GET", "POST"])
bp.add_url_rule("/session", view_func=views.keep_alive, methods=["POST"])


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the sign-in rate limits."""
    # Flask-Login's own context processor looks the user up for every template, the public
    # chat's included (a tenth of its render time). The proxy as a global is resolved only by
    # the coordinator templates that read it.
    login_manager.init_app(app, add_context_processor=False)
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["staff_idle"] = views.idle_settings
    # There is no "remember me" here: its hook only made every response say "Vary: Cookie".
    without_remember_cookie_hook(app, login_manager)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # the flash goes into the cookie: a plain string, not a lazy one
    # The server-side session is the protection; Flask-Login's IP/browser hash would only add
    # derived personal data to the cookie.
    login_manager.session_protection = None
    # Each sign-in post costs a scrypt hash (about 0.1 s of a core and 32 MB): counted across all
    # workers per client address, and for everyone together so a flood from many addresses cannot
    # slow the families' pages. Only POSTs count; a refusal is the translated 429 page.
    limiter = limiter_for(app)
    limit_per_address = limiter.limit(views.login_limit_per_address, methods=["POST"], scope="staff-login")
    limit_global = limiter.limit(
        views.login_limit_global, key_func=views.everyone, methods=["POST"], scope="staff-login-all"
    )
    app.view_functions["auth.login"] = limit_global(limit_per_address(app.view_functions["auth.login"]))

"""Volunteers: sign up for notices of new studies in chosen categories, confirm, manage, leave in
one click; and a family's re-check reminder. This file holds the blueprint, its hook and routes;
the views are in :mod:`.views`, the forms in :mod:`.forms`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request

from ..web.limits import limiter_for, public_post_limit
from . import views

bp = Blueprint("volunteer", __name__, url_prefix="/volunteer")
bp.after_request(views.no_store)
bp.add_url_rule("/", view_func=views.signup, methods=["GET", "POST"])
bp.add_url_rule("/check-email", view_func=views.check_email, methods=["GET"])
bp.add_url_rule("/confirm/<token>", view_func=views.confirm, methods=["GET", "POST"])
bp.add_url_rule("/manage/<token>", view_func=views.manage, methods=["GET", "POST"])
bp.add_url_rule("/unsubscribe/<token>", view_func=views.unsubscribe, methods=["GET", "POST"])
bp.add_url_rule("/resubscribe/<token>", view_func=views.resubscribe, methods=["GET", "POST"])
bp.add_url_rule("/reminder", view_func=views.reminder, methods=["GET", "POST"])
bp.add_url_rule("/again/<code>", view_func=views.again, methods=["GET"])


def init_app(app: Flask) -> None:
    """Rate-limit posts (the category taxonomy is loaded with the studies, see :mod:`prescreen.studies`)."""
    # Sign-ups and reminders count toward the same per-client allowance as the chat's posts. The
    # one-click unsubscribe does not: mail providers post it from a few shared servers.
    limiter_for(app).limit(
        public_post_limit,
        methods=["POST"],
        scope="public-post",
        exempt_when=lambda: request.endpoint == "volunteer.unsubscribe",
    )(bp)

"""The families' side: study pages, who is filling in, consent, the chat, the result and referral.

Everything works as plain HTML forms (POST, then a redirect, so refresh and back never resubmit);
``static/chat.js`` only enhances it. This file holds the blueprint, its hooks and its routes; the
views live in :mod:`.study`, :mod:`.chat`, :mod:`.result` and :mod:`.referral`, the rules of a chat
step in :mod:`.steps`, what the chat page shows in :mod:`.page`, the helpers they share in
:mod:`.session`, and none of them imports the blueprint.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from ..web.limits import limiter_for, made_a_referral, public_post_limit, referral_post_limit, resume_code_limit
from . import chat, page, referral, result, resume_code, session, source_link, study

bp = Blueprint("public", __name__)
bp.before_request(session.load_screening)
bp.after_request(session.no_store)
bp.context_processor(session.fast_translations)
bp.add_app_template_global(page.question_block)
bp.add_app_template_global(resume_code.panel, "resume_code_panel")

# The study page, who is filling in, consent, a saved screening.
bp.add_url_rule("/s/<study_id>/", view_func=study.study, methods=["GET"])
bp.add_url_rule("/s/<study_id>/start", view_func=study.who, methods=["GET"])
bp.add_url_rule("/s/<study_id>/consent", view_func=study.consent, methods=["GET", "POST"])
bp.add_url_rule("/r/<token>", view_func=study.resume, methods=["GET", "POST"])
bp.add_url_rule("/q/<code>", view_func=source_link.from_source, methods=["GET"])
bp.add_url_rule("/resume", view_func=resume_code.resume_with_code, methods=["GET", "POST"])
bp.add_url_rule("/s/<study_id>/leave", view_func=study.leave, methods=["POST"])
bp.add_url_rule("/s/<study_id>/forget", view_func=study.forget, methods=["GET", "POST"])
# The chat.
bp.add_url_rule("/s/<study_id>/chat", view_func=chat.chat, methods=["GET"])
bp.add_url_rule("/s/<study_id>/answer", view_func=chat.answer, methods=["POST"])
bp.add_url_rule("/s/<study_id>/change", view_func=chat.change, methods=["POST"])
bp.add_url_rule("/s/<study_id>/handoff", view_func=chat.handoff, methods=["GET", "POST"])
bp.add_url_rule("/s/<study_id>/early", view_func=chat.early_choice, methods=["POST"])
# The result.
bp.add_url_rule("/s/<study_id>/result", view_func=result.result, methods=["GET"])
bp.add_url_rule("/s/<study_id>/summary", view_func=result.summary, methods=["GET"])
# Sending details to the study team, and withdrawing them.
bp.add_url_rule("/s/<study_id>/refer", view_func=referral.refer, methods=["GET", "POST"])
bp.add_url_rule("/s/<study_id>/sent", view_func=referral.sent, methods=["GET"])
bp.add_url_rule("/withdraw/<token>", view_func=referral.withdraw, methods=["GET", "POST"])
bp.add_url_rule("/s/<study_id>/withdraw", view_func=referral.withdraw_here, methods=["GET", "POST"])


def init_app(app: Flask) -> None:
    """Rate-limit every public POST per client, counted across workers (see prescreen.web.limits)."""
    limiter = limiter_for(app)
    limiter.limit(public_post_limit, methods=["POST"], scope="public-post")(bp)
    per_referral = limiter.limit(
        referral_post_limit,
        methods=["POST"],
        scope="public-referral",
        deduct_when=made_a_referral,
        override_defaults=False,  # the general allowance still applies too
    )
    app.view_functions["public.refer"] = per_referral(app.view_functions["public.refer"])
    per_code = limiter.limit(
        resume_code_limit,
        methods=["POST"],
        scope="public-resume-code",
        override_defaults=False,  # the general allowance still applies too
    )
    app.view_functions["public.resume_with_code"] = per_code(app.view_functions["public.resume_with_code"])

"""The routes and template globals of visits, the checklist, the call guide and the print views.

Kept apart from the blueprint's own list so the areas other people work on at the same time
(the queue, the status model) and this one touch ``__init__.py`` by one line each.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from . import call_guide, checklist, printing, visits


def add_routes(bp: Blueprint) -> None:
    """Visit booking, "visits this week", checks, sign-off and the two print views."""
    bp.add_url_rule("/visits", view_func=visits.visits_week, methods=["GET"])
    bp.add_url_rule("/referrals/<id:referral_id>/visit", view_func=visits.book_visit, methods=["POST"])
    bp.add_url_rule("/referrals/<id:referral_id>/visit/cancel", view_func=visits.cancel_visit, methods=["POST"])
    bp.add_url_rule("/referrals/<id:referral_id>/checks", view_func=checklist.mark_criterion, methods=["POST"])
    bp.add_url_rule("/referrals/<id:referral_id>/signoff", view_func=checklist.sign_off, methods=["POST"])
    bp.add_url_rule(
        "/referrals/<id:referral_id>/signoff/withdraw", view_func=checklist.withdraw_signoff, methods=["POST"]
    )
    bp.add_url_rule("/referrals/<id:referral_id>/print", view_func=printing.print_family, methods=["GET"])
    bp.add_url_rule("/referrals/<id:referral_id>/eligibility", view_func=printing.eligibility_sheet, methods=["GET"])


def template_globals(app: Flask) -> None:
    """What the family page's added blocks (``_visit.html``, ``_checklist_*.html``, ``_call_guide.html``) call."""
    app.jinja_env.globals.update(visit_panel=visits.panel, checklist_panel=checklist.panel, call_guide=call_guide.guide)

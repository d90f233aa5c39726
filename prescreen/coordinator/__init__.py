"""The study team's pages, behind the staff login: the queue, one family's page, the log, funnel,
exports and audit trail, and the studies list. Every route sits behind the same login check and
the same ``Cache-Control: no-store``. The views live in :mod:`.queue`, :mod:`.family`,
:mod:`.reports` and :mod:`.study_status`; what they share in :mod:`.shared`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from . import (
    accounts,
    audit_view,
    branching_page,
    downloads,
    exports,
    family,
    fhir_export,
    queue,
    report_page,
    reports,
    shared,
    sources,
    study_preview,
    study_status,
    study_versions,
    visit_routes,
)

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
bp.before_request(shared.require_login)
bp.after_request(shared.no_store)

# The 待联系名单: GET with filters; POST with a search (a phone or name never goes in a URL).
bp.add_url_rule("/", endpoint="queue", view_func=queue.queue_page, methods=["GET", "POST"])
bp.add_url_rule("/bulk", view_func=queue.bulk, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/assign", view_func=queue.assign_one, methods=["POST"])
bp.add_url_rule("/export/call-list.xlsx", view_func=exports.call_list, methods=["POST"])
# One family.
bp.add_url_rule("/referrals/<id:referral_id>", view_func=family.referral, methods=["GET"])
bp.add_url_rule("/referrals/<id:referral_id>/contact", view_func=family.contact_details, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/attempts", view_func=family.add_attempt, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/status", view_func=family.change_status, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/notes", view_func=family.add_note, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/erase", view_func=family.erase, methods=["POST"])
# The pre-screening log, funnel, audit trail and downloads.
bp.add_url_rule("/log", view_func=reports.log, methods=["GET"])
bp.add_url_rule("/log.csv", view_func=reports.log_csv, methods=["POST"])
bp.add_url_rule("/funnel", view_func=reports.funnel, methods=["GET"])
bp.add_url_rule("/audit", view_func=audit_view.audit_trail, methods=["GET"])
bp.add_url_rule("/audit.csv", view_func=audit_view.audit_csv, methods=["POST"])
bp.add_url_rule("/reports", endpoint="reports_page", view_func=report_page.page, methods=["GET"])
bp.add_url_rule("/reports.csv", endpoint="report_csv", view_func=report_page.download_csv, methods=["POST"])
bp.add_url_rule("/reports.xlsx", endpoint="report_xlsx", view_func=report_page.download_xlsx, methods=["POST"])
bp.add_url_rule("/export/referrals.csv", endpoint="export_identified", view_func=exports.identified, methods=["POST"])
bp.add_url_rule("/referrals/<id:referral_id>/export.json", view_func=reports.export_subject, methods=["POST"])
bp.add_url_rule(
    "/referrals/<id:referral_id>/questionnaire-response.json", view_func=fhir_export.export_response, methods=["POST"]
)
# Visits, the checklist's checks and sign-off, print views (visit_routes.py).
visit_routes.add_routes(bp)
# Opening and closing studies (admins).
bp.add_url_rule("/studies", view_func=study_status.studies_page, methods=["GET"])
bp.add_url_rule("/studies/<study_id>/status", view_func=study_status.set_study_status, methods=["GET", "POST"])
# Questionnaire versions: upload, check, publish, retire (admins; study_versions.py).
study_versions.add_routes(bp)
bp.add_url_rule("/studies/<study_id>/branching", view_func=branching_page.branching_page, methods=["GET"])
# Walking a questionnaire version as a family would, in either language and voice; nothing stored (admins).
bp.add_url_rule("/studies/<study_id>/preview/<version>", view_func=study_preview.study_preview, methods=["GET", "POST"])
# Sources and their QR codes (admins).
bp.add_url_rule("/sources", view_func=sources.sources_page, methods=["GET", "POST"])
bp.add_url_rule("/sources/<id:source_id>/qr.png", view_func=sources.source_qr, methods=["GET"])
bp.add_url_rule("/sources/<id:source_id>/poster.pdf", view_func=sources.source_poster, methods=["GET"])
bp.add_url_rule("/sources/<id:source_id>/share.png", view_func=sources.source_share_image, methods=["GET"])
bp.add_url_rule("/sources/<id:source_id>/active", view_func=sources.set_source_active, methods=["POST"])
# Accounts (admins).
bp.add_url_rule("/accounts", view_func=accounts.accounts_page, methods=["GET"])
bp.add_url_rule("/accounts/new", view_func=accounts.new_account, methods=["GET", "POST"])
bp.add_url_rule("/accounts/<id:user_id>", view_func=accounts.account_page, methods=["GET"])
bp.add_url_rule("/accounts/<id:user_id>/access", view_func=accounts.change_access, methods=["POST"])
bp.add_url_rule("/accounts/<id:user_id>/active", view_func=accounts.change_active, methods=["POST"])
bp.add_url_rule("/accounts/<id:user_id>/password", view_func=accounts.reset_password, methods=["POST"])
bp.add_url_rule("/accounts/<id:user_id>/unlock", view_func=accounts.unlock, methods=["POST"])


def init_app(app: Flask) -> None:
    """The labels and filters the study team's templates use."""
    shared.template_helpers(app)
    visit_routes.template_globals(app)
    app.jinja_env.globals.update(assign_choices=queue.assign_choices)
    # a phone as the call list writes it ("138 0013 8001"); its tel: link keeps the full number
    app.jinja_env.filters.update(dial_text=downloads.dial_text)

"""One family's answers as an HL7 FHIR R4 ``QuestionnaireResponse``, for the study team.

The response points at the study's ``Questionnaire`` (``prescreen questions export-fhir``) by its
url and the version the family answered, so a hospital system can read the answers against the
questions. It holds the answers only: no name, phone or reference. It is still health data, so it
is a POST from the family's page with the CSRF token, for staff who may open that page, and every
download writes an audit row (ids only).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Response, abort
from flask_login import current_user

from .. import studies
from ..fhir import questionnaire_response
from ..store import audit, get_db
from .downloads import attachment
from .family import the_referral

FHIR_JSON = "application/fhir+json"


def export_response(referral_id: int) -> Response:
    """The referral's screening as a QuestionnaireResponse (JSON download), audited."""
    row = the_referral(referral_id)  # another study's referral is a 404
    study = studies.of_screening(row)  # the version the family answered, so its codes match its Questionnaire
    answers = json.loads(row["answers"] or "{}")
    if study is None or not answers:
        abort(404)  # the study's sheets are gone, or the answers were erased
    taken = datetime.fromisoformat(row["completed_at"] or row["screening_created_at"])
    taken = taken if taken.tzinfo else taken.replace(tzinfo=UTC)  # stored times are UTC
    state = studies.flow(study).run(answers, respondent=row["respondent"] or "guardian", today=taken.date())
    resource = questionnaire_response(
        study, state, row["version"] or study.version, authored=taken, completed=bool(row["completed_at"])
    )
    audit.record(get_db(), current_user.actor, "export.fhir_response", "referral", row["id"])
    body = json.dumps(resource, ensure_ascii=False, indent=2)
    return attachment(Response(body, mimetype=FHIR_JSON), f"questionnaire-response-{row['id']}.json")

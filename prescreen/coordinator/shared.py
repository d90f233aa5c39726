"""What every study-team page shares: labels in both languages, the login and admin checks,
the studies a staff member may see, and how times and waits are shown. Never imports the blueprint."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Flask, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from .. import clock, studies
from ..auth.views import login_manager, referring_page
from ..engine import Study
from ..web.i18n import current_locale

#: Every referral status in the words a mainland CRC uses (store.queue.STATUSES has the codes,
#: store.queue.transitions/correctable the ways between them). The other helpers' pages use these.
STATUS_LABELS = {
    # TRANSLATORS: a referral status: the family's details came in and nobody has tried to call yet.
    "new": _l("New, not called yet"),
    # TRANSLATORS: a referral status: one call or message so far and the family was not reached.
    "attempt_1": _l("Tried once, not reached"),
    "attempt_2": _l("Tried twice, not reached"),
    "attempt_3": _l("Tried 3 times, not reached"),
    # TRANSLATORS: a closed referral status: after several tries the team gave up reaching the family.
    "unreachable": _l("Could not reach (closed)"),
    "contacted": _l("Contacted"),
    "visit_scheduled": _l("Screening visit scheduled"),
    "enrolled": _l("Enrolled"),
    # TRANSLATORS: the screening visit found the child does not meet a criterion (筛选失败 in trials).
    "screen_failed": _l("Screen failed"),
    # TRANSLATORS: a closed referral status: the family said they do not want to take part.
    "not_interested": _l("Not interested"),
    # TRANSLATORS: a closed referral status: the family stopped taking part; all records are kept.
    "dropped_out": _l("Dropped out (records kept)"),
    # TRANSLATORS: a final referral status: the family withdrew consent and their data was deleted.
    "withdrawn": _l("Withdrew consent (data deleted)"),
    # TRANSLATORS: a review request: a person on the team is checking the automated result.
    "in_review": _l("Being checked"),
    # TRANSLATORS: a review request closed: the automated result stands and the team explained it to the family.
    "result_explained": _l("Result stands, explained"),
    # TRANSLATORS: a review request: a person found the child may qualify after all and invited them to screening.
    "invited_to_screening": _l("Invited to screening"),
}
#: What a family sent: their details, or a request that a person check the automated result.
KIND_LABELS = {
    "referral": _l("Referral"),
    # TRANSLATORS: the family asked a person on the study team to check the form's automated result (PIPL art. 24).
    "review": _l("Review request"),
}
OUTCOME_LABELS = {
    # TRANSLATORS: the pre-screening result: nothing rules the child out so far (not a diagnosis).
    "likely_eligible": _l("Likely eligible"),
    # TRANSLATORS: the pre-screening result: the study team must look again before anyone decides.
    "needs_review": lazy_pgettext("outcome", "Needs review"),
    # TRANSLATORS: the pre-screening result: a rule of the study rules the child out (perhaps only for now).
    "not_eligible": _l("Not eligible"),
}
#: How the family told the team they withdraw consent (the erase form; store.queue.ERASE_REASONS).
ERASE_REASON_LABELS = {
    "phone": _l("They told us on the phone"),
    "in_person": _l("They told us in person"),
    "message": _l("They told us by WeChat, text or e-mail"),
    "other": _l("Another way"),
}
CHANNEL_LABELS = {"phone": _l("Phone"), "wechat": _l("WeChat"), "email": _l("E-mail")}
RESULT_LABELS = {
    "reached": _l("Reached the family"),
    "no_answer": _l("No answer"),
    "left_message": _l("Left a message"),
    "wrong_details": _l("Wrong number or address"),
}
CRITERION_LABELS = {
    "not_met": _l("Not met"),
    # TRANSLATORS: one inclusion or exclusion criterion whose answer was "not sure": check it with the family.
    "needs_review": lazy_pgettext("criterion", "Needs review"),
    # TRANSLATORS: a criterion only the study team can check (a lab value, records) at the screening visit.
    "confirm_at_visit": _l("Confirm at the visit"),
    "met": _l("Met"),
}
ACTION_LABELS = {
    "referral.create": _l("Referral received"),
    "referral.view": _l("Family page viewed"),
    "referral.view_contact": _l("Contact details viewed"),
    "referral.status": _l("Status changed"),
    "referral.attempt": _l("Contact attempt"),
    "referral.note": _l("Note added"),
    "referral.withdraw": _l("Withdrawn by the family"),
    "export.subject": _l("Full record exported"),
    # TRANSLATORS: the audit row of one family's answers downloaded as FHIR (a hospital data format).
    "export.fhir_response": _l("Answers exported as FHIR"),
    "export.identified": _l("Referrals exported with contact details"),
    "export.log": _l("Pre-screening log exported"),
    "export.report": _l("Report downloaded"),
    "export.audit": _l("Audit trail downloaded"),
    "export.call_list": _l("Call list downloaded"),
    "referral.assign": _l("Assigned to a coordinator"),
    # TRANSLATORS: the audit row of a search on the 待联系名单; what was typed is never kept.
    "queue.search": _l("Searched the list of families (what was typed is not kept)"),
    "referral.visit": _l("Screening visit booked"),
    "referral.visit_cancel": _l("Screening visit cancelled"),
    "referral.check": _l("Checklist item checked"),
    "referral.signoff": _l("Eligibility signed off"),
    "referral.signoff_withdraw": _l("Eligibility sign-off withdrawn"),
    "login.success": _l("Signed in"),
    "login.failure": _l("Sign-in failed"),
    "logout": _l("Signed out"),
    "user.create": _l("Account created"),
    "user.recreate": _l("Account created again"),
    "user.disable": _l("Account disabled"),
    "user.enable": _l("Account enabled"),
    "user.password": _l("Password set"),
    "user.password_chosen": _l("Password chosen by its owner"),
    "user.reset_password": _l("Password reset"),
    "user.unlock": _l("Account unlocked"),
    "user.access": _l("Role or studies changed"),
    "user.totp": _l("Authenticator set up"),
    "screening.resume": _l("Screening reopened by the family"),
    "screening.delete": _l("Screening deleted by the family"),
    "study.publish": _l("Volunteers told of a new study"),
    "study.recruiting": _l("Study opened for recruiting"),
    "study.closed": _l("Study closed to recruiting"),
    # TRANSLATORS: audit rows of questionnaire versions (a workbook uploaded, checked and kept as a draft …).
    "study_version.upload": _l("Questionnaire version uploaded"),
    "study_version.publish": _l("Questionnaire version published"),
    "study_version.retire": _l("Questionnaire version retired"),
    # TRANSLATORS: audit row: an admin walked a questionnaire version in the preview (nothing stored).
    "study.preview": _l("Questionnaire previewed"),
    "source.create": _l("Source and QR code added"),
    "source.deactivate": _l("Source taken out of use (its link opens the home page)"),
    "source.activate": _l("Source back in use"),
    "volunteer.sign_up": _l("Volunteer signed up"),
    "volunteer.confirm": _l("Volunteer confirmed their e-mail"),
    "volunteer.preferences": _l("Volunteer changed their choices"),
    "volunteer.unsubscribe": _l("Volunteer unsubscribed"),
    "volunteer.resubscribe": _l("Volunteer signed up again"),
    "volunteer.purge_unconfirmed": _l("Unconfirmed volunteer deleted"),
    "purge": _l("Retention clean-up"),
}
#: What kind of record an audit row is about (for an action without a label of its own).
RECORD_TYPE_LABELS = {
    "referral": _l("Family"),
    "screening": _l("Screening"),
    "user": _l("Staff account"),
    "study": _l("Study"),
    "volunteer": _l("Volunteer"),
    "retention": _l("Retention"),
    "audit": _l("Audit trail"),
    # TRANSLATORS: the audit row of a search: the record is the list of families to contact (待联系名单).
    "queue": _l("List of families to contact"),
    "source": _l("Source (link and QR code)"),
}
#: Who did it, when it was not a staff account.
ACTOR_LABELS = {
    "family": _l("The family"),
    "volunteer": _l("The volunteer"),
    "system": _l("The system"),
    "system:purge": _l("The system (retention clean-up)"),
    "cli": _l("A command on the server"),
    "anonymous": _l("Unknown person"),
}
#: The fields of an audit row's detail, in the order they are shown.
DETAIL_LABELS = {
    "from": _l("From"),
    "to": _l("To"),
    "channel": _l("Channel"),
    "result": _l("Outcome of the attempt"),
    "criterion": _l("Reason"),
    "reason": _l("Why"),
    "erased": _l("Personal data deleted"),
    "outcome": _l("Pre-screening result"),
    "kind": _l("Sent as"),
    "rows": _l("Rows"),
    "referrals": _l("Families in the file"),
    "matches": _l("Families found"),
    "bulk": _l("Closed with others in one go"),
    "note": _l("Note"),
    "role": _l("Role"),
    "studies": _l("Studies"),
    "address": _l("Network address"),
    "queued": _l("E-mails queued"),
    "visit_date": _l("Visit date"),
    "visit_time": _l("Visit time"),
    "verdict": _l("Verdict"),
    "source": _l("Source"),
    "correction": _l("Correction"),
    "consent_date": _l("Consent date"),
    "subject_id": _l("Subject number"),
    "format": _l("File type"),
    "period_from": _l("Period from"),
    "period_to": _l("Period to"),
    "record": _l("Family reference code"),
    # TRANSLATORS: audit detail: which page of a family's record was opened (print view, eligibility sheet).
    "view": _l("Page opened"),
    "date": _l("Visit date"),
    "time": _l("Visit time"),
    "rebooked": _l("Visit moved to another day"),
    # TRANSLATORS: audit detail: who will get a reminder e-mail the day before the visit.
    "reminders": _l("Reminder e-mails to"),
    "erase_reason": _l("How the family told us"),
    "before": _l("Before"),
    "after": _l("After"),
    "incomplete_screenings": _l("Unfinished questionnaires deleted"),
    "finished_screenings": _l("Finished questionnaires deleted"),
    "stale_open_referrals": _l("Families closed after no contact"),
    "closed_referrals": _l("Closed families' details deleted"),
    "staff_sessions": _l("Expired staff sign-ins removed"),
    # TRANSLATORS: audit detail: the short code in a source's /q/ link (e.g. K7PX2M).
    "code": _l("Link code"),
    # TRANSLATORS: audit details of a questionnaire version: the sheets’ fingerprint, the label the ethics
    # committee approved (V1.1), and the fingerprint of the version it replaced.
    "fingerprint": _l("Questionnaire fingerprint"),
    "version_label": _l("Ethics-approved version"),
    "replaces": _l("Replaces version"),
    "study": _l("Study"),
    # TRANSLATORS: audit detail: which questionnaire version (its fingerprint) was previewed.
    "version": _l("Questionnaire version"),
}
#: Audit detail fields that say nothing to a reader (internal row ids, the text of a note).
HIDDEN_DETAILS = frozenset({"note", "signoff"})
#: A check of one criterion on the checklist (store.checklist.VERDICTS and SOURCES).
VERDICT_LABELS = {"confirmed": _l("Confirmed"), "not_met": _l("Not met")}
SOURCE_LABELS = {
    "lab_report": _l("Lab report"),
    "records": _l("Medical records"),
    "family": _l("Family's report"),
    "other": _l("Other"),
}
#: Which page of a family's record an audit "viewed" row is about (absent: the family page).
VIEW_LABELS = {"print": _l("Print view"), "eligibility_sheet": _l("Eligibility sheet")}
#: Who gets a visit reminder (store.visits.FAMILY / TEAM).
REMINDER_LABELS = {"family": _l("The family"), "team": _l("The study team")}
#: The audit trail's "kind of action" filter: each kind and the actions it holds. Every action in
#: ACTION_LABELS is in exactly one kind (a test checks), so hiding the many "viewed" rows is one choice.
ACTION_KINDS: dict[str, tuple[str, ...]] = {
    "view": ("referral.view", "referral.view_contact", "queue.search", "study.preview"),
    "change": (
        "referral.status",
        "referral.attempt",
        "referral.note",
        "referral.assign",
        "referral.visit",
        "referral.visit_cancel",
        "referral.check",
        "referral.signoff",
        "referral.signoff_withdraw",
        "study.publish",
        "study.recruiting",
        "study.closed",
        "study_version.upload",
        "study_version.publish",
        "study_version.retire",
        "source.create",
        "source.deactivate",
        "source.activate",
    ),
    "export": (
        "export.subject",
        "export.fhir_response",
        "export.identified",
        "export.log",
        "export.report",
        "export.audit",
        "export.call_list",
    ),
    "account": (
        "login.success",
        "login.failure",
        "logout",
        "user.create",
        "user.recreate",
        "user.disable",
        "user.enable",
        "user.password",
        "user.password_chosen",
        "user.reset_password",
        "user.unlock",
        "user.access",
        "user.totp",
    ),
    "family": (
        "referral.create",
        "referral.withdraw",
        "screening.resume",
        "screening.delete",
        "volunteer.sign_up",
        "volunteer.confirm",
        "volunteer.preferences",
        "volunteer.unsubscribe",
        "volunteer.resubscribe",
    ),
    "system": ("purge", "volunteer.purge_unconfirmed"),
}
ACTION_KIND_LABELS = {
    # TRANSLATORS: audit trail filter: every row except "viewed" ones (family pages, contact details, searches).
    "not_view": _l("Everything except viewing"),
    "view": _l("Viewing (pages, contact details, searches)"),
    "change": _l("Changes to a family or study"),
    "export": _l("Downloads"),
    "account": _l("Accounts and sign-ins"),
    "family": _l("Sent by families and volunteers"),
    "system": _l("Automatic clean-up"),
}
#: When the family asked to be called (the referral form's choices).
BEST_TIME_LABELS = {
    "morning": _l("Morning"),
    "afternoon": _l("Afternoon"),
    "evening": _l("Evening"),
    "any": _l("Any time"),
}
#: Why a staff sign-in failed (the audit detail's codes).
LOGIN_FAILURE_LABELS = {
    "bad_password": _l("Wrong password"),
    "unknown_account": _l("No such account"),
    "locked": _l("Account locked"),
    "locked_now": _l("Wrong password; the account is now locked"),
    "disabled": _l("Account disabled"),
    "bad_code": _l("Wrong authenticator code"),
    "reused_code": _l("Authenticator code already used"),
    "totp_required": _l("Authenticator needed"),
    "one_time_expired": _l("One-time password expired"),
}
ROLE_LABELS = {"admin": _l("Administrator"), "coordinator": _l("Coordinator")}
RESPONDENT_LABELS = {"guardian": _l("Parent or guardian"), "patient": _l("The patient")}
#: Who sent the contact details, as the referral form asked it (the guardian's identity).
RELATIONSHIP_LABELS = {
    "mother": _l("Mother"),
    "father": _l("Father"),
    "guardian": _l("Another legal guardian"),
    "self": _l("The patient themself"),
}
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
AGE_BAND_LABELS = {"under-5": _l("under 5"), "over-18": _l("over 18"), "unknown": _l("unknown")}


#: Words the registry listing runs together (its line breaks were lost when it was copied), as
#: the criteria sheet quotes them verbatim; shown to the team with the spaces put back.
LISTING_GLUED = {
    "moreimmunosuppressants": "more immunosuppressants",
    "+immunosuppressive": "+ immunosuppressive",
    "involvement:polyarthritis": "involvement: polyarthritis",
    "kidney,lung": "kidney, lung",
    "chain,high": "chain, high",
    "sustainedincreased": "sustained increased",
    "withother": "with other",
    "Bsurface": "B surface",
    "Cantibody": "C antibody",
    "screeningfor": "screening for",
    "herpeszoster": "herpes zoster",
    "infectionwithin": "infection within",
    "intramuscular)antibiotics": "intramuscular) antibiotics",
    "agents)within": "agents) within",
    "ofDay": "of Day",
    "forinfection": "for infection",
    "withaspiration": "with aspiration",
    "recurrentsevere": "recurrent severe",
    "haematological,gastrointestinal": "haematological, gastrointestinal",
    "theinvestigator's": "the investigator's",
    "significantabnormal": "significant abnormal",
    "inthis": "in this",
    "orneutrophils": "or neutrophils",
}
#: "1.5 × 109/L" in the listing is 1.5 × 10⁹/L (the superscript was lost).
LISTING_POWER = re.compile(r"(×\s*)109/L")


def listing_quote(text: str) -> str:
    """A criterion's registry wording with the listing's copy errors mended (glued words, 10⁹/L)."""
    for glued, mended in LISTING_GLUED.items():
        text = text.replace(glued, mended)
    return LISTING_POWER.sub(r"\g<1>10⁹/L", text)


def criterion_reason(study_id: str, criterion_id: str, lang: str | None = None) -> str:
    """Why a criterion rules a child out, in the sheets' reason wording ("a positive hepatitis B
    surface antigen rules out this study"), never its positive label or code: a screen fail or a
    not-eligible count reads as the reason it is."""
    study = studies.get(study_id)
    if study is None or not any(c.id == criterion_id for c in study.criteria):
        # an earlier version's criterion (the folder's, or an upload this worker has read): its own words
        earlier = [s for (sid, _v), s in studies.of().versions.items() if sid == study_id]
        study = next((s for s in earlier if any(c.id == criterion_id for c in s.criteria)), None)
        if study is None:
            return str(_l("A criterion no longer in the questionnaire"))
    return study.criterion(criterion_id).reason(lang or current_locale())


def actor_label(actor: str, email: str | None = None) -> str:
    """Who did something: a staff account's e-mail, else "the family", "the system" … (never a code)."""
    if email:
        return email
    if actor in ACTOR_LABELS:
        return str(ACTOR_LABELS[actor])
    if actor.startswith("user:"):
        return str(_l("Staff account no. %(id)s", id=actor.split(":", 1)[1]))
    if actor.startswith("system"):
        return str(ACTOR_LABELS["system"])
    return str(_l("Unknown person"))


def require_login() -> ResponseReturnValue | None:
    """Every coordinator page needs a live staff session; anonymous requests go to sign-in."""
    if not current_user.is_authenticated:
        if request.method != "GET":
            # After signing in, the browser would GET a form's target: send it back to the page
            # the form was on instead (a draft kept by staff.js waits there), or to the queue.
            return redirect(url_for("auth.login", next=referring_page()))
        return login_manager.unauthorized()
    return None


def no_store(response: Response) -> Response:
    """Pages with families' data are never stored by a browser or proxy (ASVS 8.2.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response


def visible_studies() -> dict[str, Study]:
    """The studies this staff member may see, by id."""
    allowed = current_user.visible_studies
    return {sid: s for sid, s in studies.all().items() if allowed is None or sid in allowed}


def study_title(study_id: str, lang: str) -> str:
    """A study's title in *lang*, or its id when the sheet is gone."""
    study = studies.get(study_id)
    return study.text("title", lang) if study else study_id


def require_admin() -> None:
    """Admins only (exports with identifiers, the audit trail, opening and closing studies)."""
    if not current_user.is_admin:
        abort(403)


def waiting(created_at: str, now: datetime | None = None, closed_at: str | None = None) -> str:
    """How long a family has waited: whole days, hours on the first day, minutes in the first hour.

    A closed referral stopped waiting when it closed (*closed_at*), so the time stops there.
    """
    end = datetime.fromisoformat(closed_at) if closed_at else (now or clock.now())
    delta = end - datetime.fromisoformat(created_at)
    days = delta.days
    if days < 1:
        seconds = max(int(delta.total_seconds()), 0)
        if seconds < 60:
            return str(_l("under a minute"))
        if seconds < 3600:
            return ngettext("%(num)d minute", "%(num)d minutes", seconds // 60)
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d day", "%(num)d days", days)


def local_time(value: str | None) -> str:
    """An ISO UTC timestamp as Beijing time, ``YYYY-MM-DD HH:MM`` (the team's clock)."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(clock.TEAM_TZ).strftime("%Y-%m-%d %H:%M")


def age_band_label(value: str | None) -> str:
    """An age band for display (``10-13`` stays as it is)."""
    if not value:
        return ""
    return str(AGE_BAND_LABELS.get(value, value))


def template_helpers(app: Flask) -> None:
    """Labels and formatting the study team's templates use."""
    app.jinja_env.filters.update(local_time=local_time, age_band_label=age_band_label, listing_quote=listing_quote)
    app.jinja_env.globals.update(
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
        outcome_labels=OUTCOME_LABELS,
        language_names=LANGUAGE_NAMES,
        study_title=study_title,
        action_labels=ACTION_LABELS,
        respondent_labels=RESPONDENT_LABELS,
        relationship_labels=RELATIONSHIP_LABELS,
        best_time_labels=BEST_TIME_LABELS,
        actor_label=actor_label,
        criterion_reason=criterion_reason,
    )

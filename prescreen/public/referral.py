"""The referral offer (likely eligible / needs review), the review request, its confirmation, withdrawing.

Two kinds of request go through the one form at ``/s/<study>/refer``: a family with a hopeful
result sends their details; any family, whatever the result, may ask a person on the study team
to check it (``?kind=review``, a flag and never data): PIPL art. 24 lets a person refuse a
decision made only by automated means, and an eligible child turned away is the worst error
here. A family that does not qualify is asked for a name or number only when they ask for that
check themselves. The referral, its consents, the audit row and the study team's alert are
written in one transaction (:func:`prescreen.store.referrals.create`); the alert names no one and
holds no health data, and the family's words never leave the store except to the study team.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, g, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import studies, team, tokens
from ..clock import today
from ..engine import LIKELY_ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE, Study
from ..mail import sms
from ..mail.render import sender_names
from ..store import get_db, outbox
from ..store import referrals as referral_store
from ..store import screenings as screening_store
from ..web.i18n import current_locale
from .forms import SMS_RECEIPT_CONSENT, ReferralForm, ReviewForm, WithdrawForm
from .page import flow_state
from .session import WITHDRAW_KEY, is_recruiting, let_go, screening_of, see_other, study_or_404
from .steps import GUARDIAN_AGE
from .text import consent_version, notice_context


def age_band(age: int | None) -> str:
    """The age band the team sees on a referral (never the date of birth)."""
    if age is None:
        return "unknown"
    if age < 5:
        return "under-5"
    if age <= 9:
        return "5-9"
    if age <= 13:
        return "10-13"
    if age <= 18:
        return "14-18"
    return "over-18"


def kinds_open(outcome: str, recruiting: bool) -> tuple[str, ...]:
    """What a family with this result may send now.

    Their details: after a hopeful result, while the study recruits. A request that a person
    check the result: always, whatever the result and even while the study is closed, because
    the right to have a person look again does not depend on either (the team may then only
    explain the result, and the page says so).
    """
    hopeful = outcome in (LIKELY_ELIGIBLE, NEEDS_REVIEW)
    return (referral_store.REFERRAL, referral_store.REVIEW) if hopeful and recruiting else (referral_store.REVIEW,)


def review_offer(study: Study, row: dict[str, Any], outcome: str) -> str:
    """What the result page says about a person checking the result.

    ``sent``: they asked already (the page shows the reference); ``ask``: they cannot send their
    details (not eligible, or the study is closed), so the page offers the check; ``note``: a
    person looks at everything they send (or sent) anyway, so the page only says so.
    """
    referral = referral_store.by_screening(get_db(), row["id"])
    if referral is not None:
        return "sent" if referral["kind"] == referral_store.REVIEW else "note"
    return "note" if referral_store.REFERRAL in kinds_open(outcome, is_recruiting(study)) else "ask"


def team_alert(row: dict[str, Any], kind: str = referral_store.REFERRAL) -> referral_store.Alert | None:
    """The study team's "new referral" (or "review request") e-mail, Chinese first then English.

    None if no address is configured. It names no one and never carries the family's words.
    """
    to_addr = current_app.config.get("STUDY_TEAM_EMAIL")
    if not to_addr:
        return None
    parts: dict[str, tuple[str, str]] = {}
    for lang in ("zh", "en"):
        with force_locale(lang):
            if kind == referral_store.REVIEW:
                parts[lang] = (
                    _("A review request is waiting"),
                    _("A family has asked a person to check their pre-screening result. Open the request: {url}"),
                )
            else:
                parts[lang] = (
                    _("A new referral is waiting"),
                    _("A family has sent their details for a study. Open the referral to see it: {url}"),
                )
    # Like every e-mail: the subject names the hospital, the footer who sent it and why.
    site, site_url = sender_names(), current_app.config["PUBLIC_URL"].rstrip("/") + "/"
    footer: dict[str, str] = {}
    for lang in ("zh", "en"):
        with force_locale(lang):
            # TRANSLATORS: an e-mail subject: the site's name, then what the e-mail is about.
            parts[lang] = (_("%(site)s: %(subject)s", site=site[lang], subject=parts[lang][0]), parts[lang][1])
            who = _(
                "This e-mail comes from the “%(site)s” website (%(url)s) of Peking Union Medical College Hospital.",
                site=site[lang],
                url=site_url,
            )
            footer[lang] = who + "\n" + _("You get it because this address is the study team's alert address there.")
    subject = f"{parts['zh'][0]} / {parts['en'][0]}"
    body = f"{parts['zh'][1]}\n\n{parts['en'][1]}\n\n--\n{footer['zh']}\n\n{footer['en']}\n"
    return referral_store.Alert(to_addr=to_addr, subject=subject, body=body, base_url=current_app.config["PUBLIC_URL"])


def receipt_offer(study: Study) -> referral_store.Receipt | None:
    """The SMS receipt's fixed parts for *study*, or None when it cannot be offered.

    The text promises when and from which number the team calls, so it is offered only when
    both are configured (never invented) and fit the template's parameters.
    """
    contact = team.contact_of(study.id)
    days, phone = str(contact.reply_working_days or ""), contact.phone
    if not (sms.PARAM_SHAPES["days"].match(days) and sms.PARAM_SHAPES["phone"].match(phone)):
        return None
    # The tick's wording in the language it was shown in, as the volunteer consents are versioned.
    version = hashlib.sha256(str(SMS_RECEIPT_CONSENT).encode("utf-8")).hexdigest()[:16]
    return referral_store.Receipt(phone=phone, days=days, consent_version=version)


def send_details(
    row: dict[str, Any],
    outcome: str,
    form: ReferralForm,
    age: int | None,
    kind: str,
    receipt: referral_store.Receipt | None = None,
) -> None:
    """Store the referral from a valid form, with its consents, the team's alert and, if ticked, the SMS receipt.

    Once per screening. A receipt ticked on a form that did not offer it (*receipt* None) is ignored.

    Only the browser that sent the details keeps the withdraw link's secret (in its cookie).
    """
    words = form.words.data if isinstance(form, ReviewForm) else None
    contact = referral_store.Contact(
        name=form.name.data,
        relationship=form.relationship.data,
        phone=form.phone.data,
        email=form.email.data or None,
        wechat=form.wechat.data or None,
        best_time=form.best_time.data,
        locale=form.language.data,
    )
    withdraw_token = tokens.new_token(tokens.SHORT)
    _referral, created = referral_store.create(
        get_db(),
        screening={**row, "outcome": outcome},
        contact=contact,
        age_band=age_band(age),
        consent_version=consent_version("share"),
        guardian_consent=form.under_14 and bool(form.guardian.data),
        alert=team_alert(row, kind),
        withdraw_token=withdraw_token,
        kind=kind,
        family_words=words or None,
        sms_receipt=receipt if receipt is not None and form.sms_receipt.data else None,
    )
    if created:
        session[WITHDRAW_KEY] = withdraw_token


def refer(study_id: str) -> Any:
    """Offer to send the family's contact details to the study team, or to ask a person to check the result."""
    study, row = screening_of(study_or_404(study_id))
    state = flow_state(study, row)
    if state.outcome is None:
        return see_other("public.result", study_id=study.id)
    if referral_store.by_screening(get_db(), row["id"]):  # one request per screening: show what they sent
        return see_other("public.sent", study_id=study.id)
    review = request.args.get("kind") == referral_store.REVIEW
    kind = referral_store.REVIEW if review else referral_store.REFERRAL
    if kind not in kinds_open(state.outcome.status, is_recruiting(study)):  # e.g. closed since they started
        return see_other("public.result", study_id=study.id)
    age = studies.flow(study).age(row["answers"], today())
    under_14 = age is not None and age < GUARDIAN_AGE
    voice = "patient" if row["respondent"] == "patient" and not under_14 else "guardian"
    form = ReviewForm(under_14=under_14, voice=voice) if review else ReferralForm(under_14=under_14, voice=voice)
    if not form.is_submitted():
        form.language.data = current_locale()
        form.relationship.data = "self" if row["respondent"] == "patient" else None
    receipt = receipt_offer(study)
    if receipt is None:
        del form.sms_receipt  # not offered: neither drawn nor read
    if form.validate_on_submit():
        send_details(row, state.outcome.status, form, age, kind, receipt)
        return see_other("public.sent", study_id=study.id)
    page = render_template(
        "public/refer.html",
        study=study,
        form=form,
        review=review,
        voice=voice,
        not_eligible=state.outcome.status == NOT_ELIGIBLE,
        under_14=under_14,
        adult=age is not None and age >= 18,
        outcome=state.outcome,
        guardian_required=under_14,
        sms_receipt=receipt is not None,
        **notice_context(),
    )
    return (page, 400) if form.errors else page


def sent(study_id: str) -> Any:
    """The reference code and the withdraw link (shown again whenever the family comes back)."""
    study, row = screening_of(study_or_404(study_id))
    referral = referral_store.by_screening(get_db(), row["id"])
    if referral is None:
        return see_other("public.result", study_id=study.id)
    token = session.get(WITHDRAW_KEY)
    mine = referral_store.by_withdraw_token(get_db(), token) if isinstance(token, str) else None
    shown = mine is not None and mine["id"] == referral["id"]  # only the browser that sent them has it
    return render_template(
        "public/sent.html",
        study=study,
        referral=referral,
        withdraw_url=url_for("public.withdraw", token=token, _external=True) if shown else None,
        texted=outbox.is_queued(get_db(), referral_store.receipt_key(referral["id"])),
    )


def withdraw(token: str) -> Any:
    """Withdraw a referral: contact details and answers are erased; the team sees "withdrawn"."""
    referral = referral_store.by_withdraw_token(get_db(), token)
    if referral is None:
        return render_template("public/withdraw.html", referral=None, form=None), 404
    screening = g.get("screening")
    mine = screening is not None and screening["id"] == referral["screening_id"]
    if not mine:  # the link opened elsewhere: speak to whoever agreed to send the details
        roles = [
            c["role"] for c in screening_store.consents(get_db(), referral["screening_id"]) if c["kind"] == "share"
        ]
        g.voice = "patient" if roles[-1:] == ["patient"] else "guardian"
    form = WithdrawForm()
    if form.validate_on_submit():
        referral_store.withdraw_referral(get_db(), referral["id"])
        if mine:
            let_go()
        return see_other("public.withdraw", token=token)
    action = url_for("public.withdraw", token=token)
    return render_template("public/withdraw.html", referral=referral, form=form, action=action)


def withdraw_here(study_id: str) -> Any:
    """Withdraw from the browser that holds the screening (one that has no withdraw link, say after a resume)."""
    study, row = screening_of(study_or_404(study_id))
    referral = referral_store.by_screening(get_db(), row["id"])
    if referral is None:
        return see_other("public.result", study_id=study.id)
    form = WithdrawForm()
    if form.validate_on_submit():
        referral_store.withdraw_referral(get_db(), referral["id"])
        let_go()
        return see_other("public.study", study_id=study.id, withdrawn=1)
    action = url_for("public.withdraw_here", study_id=study.id)
    return render_template("public/withdraw.html", referral=referral, form=form, action=action)

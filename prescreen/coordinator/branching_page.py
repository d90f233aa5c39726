"""The branching picture's page: ``/coordinator/studies/<study_id>/branching``.

Staff who see a study (admins see all) get its questions as a flow: the picture twice (a narrow
one for a phone, a wide one for a desktop column or paper; CSS shows one), and the same content
as a list for a screen reader. The phrases of the picture are translated here and handed to
:mod:`.branching`, which stays free of Flask.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import pgettext

from .. import studies
from ..web.i18n import current_locale
from . import branching
from .shared import require_admin, visible_studies


def words() -> dict[str, str]:
    """The picture's phrases in the page's language (``{…}`` are filled in by :mod:`.branching`)."""
    return {
        # TRANSLATORS: a question's number in the branching picture, e.g. "Q2".
        "q": _("Q{n}"),
        # TRANSLATORS: a question's box in the branching picture: its number and wording.
        "title": _("{n}. {text}"),
        # TRANSLATORS: under a question in the branching picture: when the form asks it.
        "asked_if": _("Asked only if {condition}"),
        # TRANSLATORS: a band above a run of questions in the branching picture, e.g. "Q3–Q38 are asked only if …".
        "shared_if": _("{first}–{last} are asked only if {condition}"),
        # TRANSLATORS: an answer option's label in quotes in the branching picture.
        "quoted": _("“{a}”"),
        # TRANSLATORS: joins two conditions in the branching picture (keep the spaces).
        "and": _(" and "),
        # TRANSLATORS: joins two answers or conditions in the branching picture (keep the spaces).
        "or": _(" or "),
        "group": _("({a})"),
        # TRANSLATORS: a condition turned round in the branching picture.
        "not": _("not ({a})"),
        # TRANSLATORS: a condition in the branching picture: question {q} was answered with {value}.
        "is": _("{q} is {value}"),
        "is_not": _("{q} is not {value}"),
        # TRANSLATORS: {values} is a list of answers joined with "or".
        "is_one_of": _("{q} is {values}"),
        # TRANSLATORS: {values} is a list of answers joined with "or": the answer is none of them.
        "is_none_of": _("{q} is not {values}"),
        # TRANSLATORS: a tick-all question ({q}) with one option ({value}) ticked.
        "ticked": _("{q} has {value} ticked"),
        "not_ticked": _("{q} does not have {value} ticked"),
        "answered": _("{q} is answered"),
        "respondent_guardian": _("a parent fills in the form"),
        "respondent_patient": _("the young person fills in the form"),
        # TRANSLATORS: a number question compared with a number; {op} is a sign such as < or ≥.
        "number": _("{q} {op} {n}"),
        # TRANSLATORS: the age worked out from the birth month asked in {q}; {op} is a sign such as < or ≥.
        "age": _("age (from {q}) {op} {n} years"),
        # TRANSLATORS: how many months ago the month answered in {q} was; {op} is a sign such as < or ≤.
        "months_since": _("months since {q} {op} {n}"),
        # TRANSLATORS: how many of the options {values} are ticked in {q}; {op} is a sign such as < or ≥.
        "count": _("number of {values} ticked in {q} {op} {n}"),
        "count_all": _("number of options ticked in {q} {op} {n}"),
        # TRANSLATORS: how many options of {q} are ticked, not counting {values}; {op} is a sign such as < or ≥.
        "count_except": _("number of options ticked in {q} other than {values} {op} {n}"),
        # TRANSLATORS: joins the names of several criteria in the branching picture.
        "list": _("; "),
        # TRANSLATORS: the answers to a question that lead somewhere; {values} are joined with "or".
        "answer_is": _("the answer is {values}"),
        # TRANSLATORS: a knock-out in the branching picture; {reason} is the study's reason wording.
        "knockout": _("✕ If {when} → not eligible: {reason}"),
        # TRANSLATORS: a knock-out that lasts only a while (a waiting period), e.g. a recent medicine.
        "knockout_for_now": _("✕ If {when} → not eligible for now: {reason}"),
        # TRANSLATORS: answers that leave a criterion for a person to look at; {label} names the criterion.
        "review": _("? If {when} → needs review: {label}"),
        "not_eligible_title": _("Not eligible"),
        "not_eligible_rule": _(
            "Any ✕ above. A ✕ that is not “for now” ends the form at once; "
            "“for now” ones let the family try again later."
        ),
        "needs_review_title": pgettext("outcome", "Needs review"),
        "needs_review_rule": _(
            "No ✕, but the answers leave a criterion open (such as a ? above): the team looks at it before calling."
        ),
        "likely_eligible_title": _("Likely eligible"),
        "likely_eligible_rule": _(
            "No ✕ and nothing open: the team calls the family; the doctor checks the rest at the first visit."
        ),
    }


def branching_page(study_id: str) -> str:
    """One study's questions as a flow (staff who see the study; 404 for any other).

    ``?version=<fingerprint>`` draws another stored version (a draft before it is published, a
    retired one), for admins only, as the versions page and its preview are.
    """
    study = visible_studies().get(study_id)
    if study is None:
        abort(404)
    version = request.args.get("version")
    if version and version != study.version:
        require_admin()
        study = studies.version(study_id, version)
        if study is None:
            abort(404)
    lang = current_locale()
    phrases = words()
    return render_template(
        "coordinator/branching.html",
        study=study,
        lang=lang,
        narrow=branching.layout(study, lang, phrases, branching.NARROW),
        wide=branching.layout(study, lang, phrases, branching.WIDE),
        steps=branching.steps(study, lang, phrases),
        endings=branching.endings(phrases),
    )

"""The teen's own voice in Chinese: texts a parent reads with 您 and a patient with 你.

A family page says "you" to whoever fills it in. In English that word is the same for a parent
and for a 15-year-old answering alone; in Chinese a nurse says 您 to the parent and 你 to the
young patient. Where the English differs too ("your child" / "you"), the templates choose between
two texts themselves. Where only the Chinese differs, the text is listed here with the context
``patient``: its Chinese in that context is the patient's, and every page after the respondent
is known (:func:`prescreen.public.session.family_voice`) says it that way without any change to
the template (:func:`prescreen.public.text.template_i18n`). Nothing here is called at run time;
the list is what ``prescreen translate update`` extracts. The privacy and sharing notices choose
their teen wording in the template itself, because both voices are hashed into the consent version.
"""

# ruff: noqa: E501 — each text on one line, as the templates and the catalogue have it

from __future__ import annotations

from flask_babel import lazy_npgettext, lazy_pgettext

TEEN_TEXTS = (
    lazy_pgettext("patient", "Before we start: your consent"),
    lazy_pgettext("patient", "Think this result is wrong? Ask a person to check it"),
    lazy_pgettext("patient", "Would you like a person to look at your answers?"),
    lazy_pgettext(
        "patient",
        "This study is not taking new participants right now. A person can still look at your answers and explain your result.",
    ),
    lazy_pgettext("patient", "You asked a person to check this result"),
    lazy_pgettext(
        "patient", "Your reference is %(ref)s. A person on the study team will look at your answers and contact you."
    ),
    lazy_pgettext("patient", "Because you answered:"),
    lazy_pgettext("patient", "Your answer:"),
    lazy_pgettext("patient", "your answer"),
    lazy_pgettext("patient", "Your link"),
    lazy_pgettext("patient", "Your continue code"),
    lazy_pgettext(
        "patient",
        "Your continue code no longer works: someone typed the wrong birth month too many times. Use the link above instead.",
    ),
    lazy_pgettext(
        "patient",
        "Using a shared phone or computer? When you are done, close your answers here. This device then stops showing them after %(minutes)s minutes anyway.",
    ),
    lazy_pgettext(
        "patient",
        "You chose “not sure” for some of these questions. That is fine: the team will go through them with you.",
    ),
    lazy_pgettext("patient", "Your change has altered the result."),
    lazy_pgettext("patient", "Your change affects the result, so we have some more questions."),
    lazy_pgettext("patient", "Your answers so far"),
    lazy_pgettext("patient", "Delete your answers?"),
    lazy_pgettext(
        "patient",
        "We will delete every answer you gave and your consent record now. This cannot be undone. You can start again at any time.",
    ),
    lazy_pgettext("patient", "Ask a person to check your result"),
    lazy_pgettext(
        "patient",
        "A person on the study team, not this form, makes the decision. They will look at your answers and your reasons, then contact you.",
    ),
    lazy_pgettext("patient", "They may explain why the result stands, or find that the form got it wrong."),
    lazy_pgettext("patient", "The team will call to check a few things with you."),
    lazy_pgettext("patient", "The team will call to talk about the study and a visit."),
    lazy_pgettext(
        "patient",
        "In your own words: for example a test result, a date or a medicine the questions missed. If you are not sure, you can leave this empty.",
    ),
    lazy_pgettext("patient", "Your result"),
    lazy_pgettext(
        "patient", "From your answers, nothing rules this out. A doctor still checks a few things at the first visit."
    ),
    lazy_pgettext("patient", "The study team needs to check a few things with you"),
    lazy_pgettext("patient", "Nothing in your answers rules this out, but a few answers need a closer look:"),
    lazy_pgettext("patient", "Thank you for answering. This is why:"),
    lazy_pgettext("patient", "You have sent your details. Your reference is %(ref)s."),
    lazy_pgettext("patient", "Would you like the study team to contact you? You can send them your details."),
    lazy_pgettext("patient", "This is not medical advice. Please talk to your own doctor about treatment."),
    lazy_pgettext("patient", "Your answers"),
    lazy_pgettext("patient", "Your request has been sent"),
    lazy_pgettext("patient", "Your details have been sent"),
    lazy_pgettext("patient", "You have withdrawn. Your contact details and answers have been deleted."),
    lazy_pgettext("patient", "Your reference:"),
    lazy_pgettext("patient", "The study team will call you from %(phone)s."),
    lazy_pgettext("patient", "The study team at %(centre)s will contact you."),
    lazy_pgettext("patient", "Please answer calls from this number. You can also call it yourself."),
    lazy_pgettext(
        "patient", "You can withdraw at any time with this link. Your contact details and answers will be deleted."
    ),
    lazy_pgettext("patient", "You can withdraw at any time. Your contact details and answers will be deleted."),
    lazy_pgettext("patient", "You have withdrawn"),
    lazy_pgettext(
        "patient",
        "Your contact details and answers have been deleted. The study team will not contact you about this referral.",
    ),
    lazy_pgettext("patient", "Withdraw your details?"),
    lazy_pgettext(
        "patient",
        "If you withdraw, we delete your contact details and your answers, and the study team will not contact you. This cannot be undone.",
    ),
    # Told early (templates/public/_early.html, _early_notice.html).
    lazy_pgettext("patient", "We can already tell from your answers:"),
    lazy_pgettext(
        "patient",
        "You do not have to answer the other questions. You can see your result now and ask us to e-mail you a reminder on that date.",
    ),
    lazy_pgettext(
        "patient", "You chose to see your result before the last questions. It is based on the answers you gave."
    ),
    lazy_pgettext("patient", "You can still answer the remaining questions. Your answers so far are kept."),
)
TEEN_PLURALS = (
    lazy_npgettext(
        "patient",
        "If you send your details, the team will call you within %(num)s working day.",
        "If you send your details, the team will call you within %(num)s working days.",
        1,
    ),
    lazy_npgettext(
        "patient",
        "The study team will call you within %(num)s working day, from %(phone)s.",
        "The study team will call you within %(num)s working days, from %(phone)s.",
        1,
    ),
    lazy_npgettext(
        "patient",
        "The study team will contact you within %(num)s working day.",
        "The study team will contact you within %(num)s working days.",
        1,
    ),
)

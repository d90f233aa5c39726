"""The fixed words of the sheets and of a result, in one place every engine module can import.

They live apart from the model so the expression compiler, the question-type table and the model
can all use them without importing each other.
"""

from __future__ import annotations

LANGS = ("en", "zh")
VOICES = ("guardian", "patient")

MET = "met"
NOT_MET = "not_met"
CONFIRM = "confirm_at_visit"
REVIEW = "needs_review"
STATUSES = (MET, NOT_MET, CONFIRM, REVIEW)

#: the statuses a family reads about, and the name of their wording columns in ``criteria.csv``
#: (``not_met::guardian::en`` …): why it rules the child out, what needs a closer look, what the
#: doctor checks at the first visit
FAMILY_TEXTS = {NOT_MET: "not_met", REVIEW: "review", CONFIRM: "visit"}

LIKELY_ELIGIBLE = "likely_eligible"
NEEDS_REVIEW = "needs_review"
NOT_ELIGIBLE = "not_eligible"
OUTCOMES = (LIKELY_ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE)

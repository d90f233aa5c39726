"""What the print views say about one arm of an "either/or" inclusion criterion.

The engine keeps each arm of an ``any_of`` group as its own criterion with its own status
(``inc_res_tx_2is`` and ``inc_res_tx_pred_is`` are the arms of ``res_tx_drugs``) and combines
them with OR (:meth:`prescreen.engine.Flow.item_status`). The checklist files each arm under the
group's status; a sheet listing the arms one by one must not print "not met" for an arm the
family does not need because another arm is met (walk of issue 18, finding 1): the PI signs it.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _

from ..engine import Criterion, Flow
from ..engine.vocab import MET
from .shared import CRITERION_LABELS


def notes(flow: Flow, statuses: Mapping[str, str], lang: str) -> dict[str, str]:
    """For each arm of an either/or group whose own status differs from the group's: what to print.

    An arm not needed because another is met reads "another option is met (…)"; an arm of a group
    still open reads its own status and that either arm is enough. Arms that agree with their
    group, and standalone criteria, get no entry (their own status is the whole truth).
    """
    out: dict[str, str] = {}
    for item in flow.items:
        if len(item.criteria) < 2 or any(c.id not in statuses for c in item.criteria):
            continue
        combined = flow.item_status(item, statuses)
        for criterion in item.criteria:
            own = statuses[criterion.id]
            if own == combined:
                continue
            others = [c for c in item.criteria if c is not criterion]
            if combined == MET:
                met = _labels([c for c in others if statuses[c.id] == MET], lang)
                out[criterion.id] = _("Not needed: another option is met (%(others)s)", others=met)
            else:
                out[criterion.id] = _(
                    "%(status)s; meeting this or %(others)s is enough",
                    status=CRITERION_LABELS.get(own, own),
                    others=_labels(others, lang),
                )
    return out


def _labels(criteria: list[Criterion], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(c.label(lang) for c in criteria)

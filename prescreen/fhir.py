"""Export a study as an HL7 FHIR R4 ``Questionnaire``, and one screening as a ``QuestionnaireResponse``.

Hospitals and registries speak FHIR; exporting lets a study's questions be reviewed or reused in
other tools without our code, and a screening's answers be read against them. Conditions that
FHIR's ``enableWhen`` can say exactly (answer equals an option, any-of / all-of those) become
``enableWhen``; others are carried verbatim in the SDC ``enableWhenExpression`` extension so
nothing is silently dropped.
"""

from __future__ import annotations

import ast
from datetime import datetime
from typing import Any

from .engine import Month, Question, State, Study

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
ITEM_TYPES = {"single": "choice", "multiple": "choice", "number": "integer", "month": "date"}
#: A study's Questionnaire is named ``urn:prescreen:questionnaire:<study id>`` (version: the study's
#: version), the same from the CLI and from the coordinator pages, so a response can point at it.
CANONICAL_BASE = "urn:prescreen:questionnaire:"


def canonical_url(study_id: str) -> str:
    """The ``url`` of a study's Questionnaire."""
    return CANONICAL_BASE + study_id


def _zh(text: str) -> dict[str, Any]:
    """The ``_field`` companion that carries the Chinese translation of a string."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": "zh"},
                    {"url": "content", "valueString": text},
                ],
            }
        ]
    }


def _conditions(node: ast.AST) -> tuple[list[dict[str, Any]], str] | None:
    """enableWhen entries and behaviour for a condition, or None when FHIR cannot say it."""
    if isinstance(node, ast.BoolOp):
        behaviour = "all" if isinstance(node.op, ast.And) else "any"
        entries: list[dict[str, Any]] = []
        for value in node.values:
            part = _conditions(value)
            if part is None or (len(part[0]) > 1 and part[1] != behaviour):
                return None
            entries.extend(part[0])
        return entries, behaviour
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(left, ast.Name) and left.id != "respondent" and isinstance(right, ast.Constant):
        if isinstance(op, ast.Eq | ast.NotEq) and isinstance(right.value, str):
            operator = "=" if isinstance(op, ast.Eq) else "!="
            return [_entry(left.id, operator, right.value)], "all"
    if isinstance(left, ast.Constant) and isinstance(right, ast.Name) and isinstance(op, ast.In):
        return [_entry(right.id, "=", str(left.value))], "all"
    if isinstance(left, ast.Name) and isinstance(right, ast.Tuple | ast.List):
        values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
        if isinstance(op, ast.In):
            return [_entry(left.id, "=", v) for v in values], "any"
        if isinstance(op, ast.NotIn):
            return [_entry(left.id, "!=", v) for v in values], "all"
    return None


def _entry(question: str, operator: str, value: str) -> dict[str, Any]:
    return {"question": question, "operator": operator, "answerCoding": {"code": value}}


def _item(question: Question) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": question.id,
        "text": question.text("guardian", "en"),
        "_text": _zh(question.text("guardian", "zh")),
        "type": ITEM_TYPES[question.type],
        "required": True,
    }
    if question.type == "multiple":
        item["repeats"] = True
    if question.choices:
        item["answerOption"] = [
            {
                "valueCoding": {
                    "code": choice.value,
                    "display": choice.label("en"),
                    "_display": _zh(choice.label("zh")),
                }
            }
            for choice in question.choices
        ]
    if question.show_if is not None:
        converted = _conditions(ast.parse(question.show_if.source, mode="eval").body)
        if converted is not None:
            entries, behaviour = converted
            item["enableWhen"] = entries
            if len(entries) > 1:
                item["enableBehavior"] = behaviour
        else:
            item["extension"] = [
                {
                    "url": ENABLE_WHEN_EXPRESSION,
                    "valueExpression": {
                        "language": "text/x-prescreen",
                        "expression": question.show_if.source,
                    },
                }
            ]
    return item


def questionnaire(study: Study) -> dict[str, Any]:
    """The study as a FHIR R4 Questionnaire resource (a JSON-ready dict)."""
    return {
        "resourceType": "Questionnaire",
        "id": study.id,
        "url": canonical_url(study.id),
        "version": study.version,
        "name": study.id.replace("-", "_"),
        "title": study.text("title", "en"),
        "_title": _zh(study.text("title", "zh")),
        "status": "active" if study.status == "recruiting" else "retired",
        "language": "en",
        "description": study.text("summary", "en"),
        "_description": _zh(study.text("summary", "zh")),
        "item": [_item(q) for q in study.questions],
    }


def _coding(question: Question, value: str) -> dict[str, Any]:
    """An answer as the ``valueCoding`` of the Questionnaire's own answerOption (code and display)."""
    choice = question.choice(value)
    coding: dict[str, Any] = {"code": value}
    if choice is not None:
        coding["display"] = choice.label("en")
    return coding


def _answers(question: Question, value: Any) -> list[dict[str, Any]]:
    """A stored value as FHIR answers: codings in the options' order, a partial date, an integer."""
    if question.type == "multiple":
        picked = set(value)
        return [{"valueCoding": _coding(question, c.value)} for c in question.choices if c.value in picked]
    if question.type == "single":
        return [{"valueCoding": _coding(question, str(value))}]
    if isinstance(value, Month):
        return [{"valueDate": f"{value.year:04d}-{value.month:02d}"}]
    if isinstance(value, int) and not isinstance(value, bool):
        return [{"valueInteger": value}]
    return [{"valueString": str(value)}]


def questionnaire_response(
    study: Study, state: State, version: str, authored: datetime, completed: bool
) -> dict[str, Any]:
    """One screening's answers as a FHIR R4 QuestionnaireResponse (a JSON-ready dict).

    ``state`` is the flow run over the stored answers: only the questions that route asked are
    given (an answer left over from a route the family changed is not). ``version`` is the study
    version the family answered, so ``questionnaire`` names the exact Questionnaire. Nothing
    identifies the family: no subject, author or source, no name or contact detail, no reference.
    """
    items = []
    for qid in state.asked:
        if qid not in state.values or not study.has_question(qid):
            continue
        question = study.question(qid)
        answers = _answers(question, state.values[qid])
        if answers:
            items.append({"linkId": qid, "text": question.text("guardian", "en"), "answer": answers})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{canonical_url(study.id)}|{version}",
        "status": "completed" if completed else "in-progress",
        "authored": authored.isoformat(timespec="seconds"),
        "item": items,
    }

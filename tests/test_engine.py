"""The engine: loading, validation messages, expressions and the flow, on inline studies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from prescreen.engine import (
    AnswerError,
    Flow,
    Month,
    StudyError,
    check_flow,
    compile_expression,
    load_study,
)
from prescreen.engine.expr import Env
from prescreen.engine.flow import State
from tests.helpers.study import CHOICES, CRITERIA, QUESTIONS, build_study, write_study

TODAY = date(2026, 11, 25)
ROOT = Path(__file__).resolve().parent.parent


def problems(tmp_path: Path, **sheets: str) -> list[str]:
    with pytest.raises(StudyError) as caught:
        load_study(write_study(tmp_path, **sheets))
    return [str(p) for p in caught.value.problems]


def built_problems(tmp_path: Path, **sheets: list[dict[str, str]]) -> list[str]:
    """The loader's problems with a study of just these rows (other sheets: the demo's)."""
    with pytest.raises(StudyError) as caught:
        load_study(build_study(tmp_path, **sheets))
    return [str(p) for p in caught.value.problems]


def questions_rows(dx_show_if: str = "", drugs_show_if: str = "dx == 'yes'") -> list[dict[str, str]]:
    """The demo's three questions by their ids, types and criteria, with the two conditions a test varies."""
    return [
        {"id": "dob", "type": "month", "criteria": "inc_age"},
        {"id": "dx", "type": "single", "choices": "yn", "show_if": dx_show_if, "criteria": "inc_dx"},
        {"id": "drugs", "type": "multiple", "choices": "drugs", "show_if": drugs_show_if, "criteria": "exc_drug"},
    ]


def test_engine_imports_no_web_framework_or_database():
    # load the engine alone: prescreen/__init__.py (the Flask app factory) is not the engine
    code = (
        "import sys, types; pkg = types.ModuleType('prescreen'); pkg.__path__ = ['prescreen']; "
        "sys.modules['prescreen'] = pkg; import prescreen.engine; "
        "prescreen.engine.load_study('questions/pumch-pediatric-sjogren') if "
        "__import__('os').path.exists('questions/pumch-pediatric-sjogren/study.csv') else None; "
        "bad = [m for m in ('flask', 'flask_babel', 'sqlite_utils', 'sqlite3') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_demo_study_loads_with_a_stable_version(tmp_path):
    first = load_study(write_study(tmp_path))
    again = load_study(write_study(tmp_path / "b"))
    assert first.version == again.version and len(first.version) == 16
    changed = load_study(write_study(tmp_path / "c", choices=CHOICES.replace("Not sure", "Unsure")))
    assert changed.version != first.version


def test_excel_bom_sheets_load(tmp_path):
    study = load_study(write_study(tmp_path, encoding="utf-8-sig"))
    assert study.question("dx").text("guardian", "zh") == "医生说过孩子有干燥综合征吗？"


def test_gbk_sheet_is_named_not_a_unicode_error(tmp_path):
    folder = write_study(tmp_path)
    (folder / "questions.csv").write_bytes(QUESTIONS.encode("gbk"))
    with pytest.raises(StudyError) as caught:
        load_study(folder)
    assert [str(p) for p in caught.value.problems] == [
        "questions/demo/questions.csv: the file is saved as GBK/GB18030 (the Chinese 'CSV' of "
        "WPS or older Excel), not UTF-8; save it again as 'CSV UTF-8 (Comma delimited)'"
    ]


def test_every_problem_is_reported_at_once_with_row_column_and_suggestion(tmp_path):
    questions = (
        QUESTIONS.replace(",inc_age,", ",inc_agee,")
        .replace("dx == 'yes',exc_drug", "dxx == 'yes',exc_drug")
        .replace("drugs,multiple", "drugs,multi")
    )
    criteria = CRITERIA.replace("dx == 'no'", "dx == 'nope'").replace(
        "inclusion,Has SS,Diagnosis,诊断", "inclusion,Has SS,Diagnosis,"
    )
    found = problems(tmp_path, questions=questions, criteria=criteria)
    assert found == [
        "questions/demo/criteria.csv:3: column 'label::zh': empty zh cell: every wording needs "
        "both Chinese and English",
        "questions/demo/criteria.csv:3: column 'not_met_if': 'nope' is not an option of 'dx' (did you mean 'no'?)",
        "questions/demo/questions.csv:2: column 'criteria': unknown criterion 'inc_agee' (did you mean 'inc_age'?)",
        "questions/demo/questions.csv:4: column 'type': unknown type 'multi' (did you mean 'multiple'?)",
        "questions/demo/questions.csv:4: column 'show_if': unknown question 'dxx' (did you mean 'dx'?)",
    ]


@pytest.mark.parametrize(
    ("show_if", "message"),
    [
        ("drugs == 'bel'", "'drugs' is asked later; a condition can only use earlier answers"),
        ("dob == 'yes", "syntax error at character 8: unterminated string literal (detected at line 1)"),
        ("__import__('os')", "unknown function '__import__'"),
        ("dob", "this must give a condition, but gives a month (compare it, e.g. x == 'yes')"),
        ("dob > 5", "cannot order a month and a number; use months_since() or age() to turn a month into a number"),
        ("agee(dob) > 5", "unknown function 'agee' (did you mean 'age'?)"),
        ("respondent == 'parent'", "respondent is 'guardian' or 'patient', not 'parent' (did you mean 'patient'?)"),
        ("dx.upper() == 'YES'", "only age(), months_since(), count() and answered() can be called"),
        ("[x for x in dx]", "'[x for x in dx]' is not allowed in an expression"),
        ("dx == 'yes' if dob else 1", "'dx == 'yes' if dob else 1' is not allowed in an expression"),
        ("1.5 < age(dob)", "1.5 is not allowed; use text in quotes ('yes') or a whole number"),
    ],
)
def test_show_if_problems_name_the_cell(tmp_path, show_if, message):
    found = built_problems(tmp_path, questions=questions_rows(dx_show_if=show_if))
    assert found == [f"questions/demo/questions.csv:3: column 'show_if': {message}"]


def test_sheet_level_problems(tmp_path):
    folder = write_study(tmp_path)
    (folder / "extra.csv").write_text("a\n1\n", encoding="utf-8")
    (folder / "choices.csv").unlink()
    with pytest.raises(StudyError) as caught:
        load_study(folder)
    assert [str(p) for p in caught.value.problems] == [
        "questions/demo/choices.csv: sheet is missing",
        "questions/demo/extra.csv: unknown sheet 'extra.csv'; a study has study.csv, "
        "criteria.csv, questions.csv, choices.csv",
    ]


def test_unknown_and_missing_columns_and_duplicates(tmp_path):
    criteria = CRITERIA.replace("met_if,confirm_if", "met_iff,confirm_if") + CRITERIA.splitlines()[2] + "\n"
    choices = CHOICES + "yn,yes,,Yes again,是\nzz,a,,A,甲\n"
    questions = QUESTIONS.replace("dx,single,yn,", "dx,single,yns,")
    found = problems(tmp_path, criteria=criteria, choices=choices, questions=questions)
    assert found == [
        "questions/demo/criteria.csv:1: column 'met_iff': unknown column (did you mean 'met_if'?)",
        "questions/demo/criteria.csv:5: column 'id': duplicate criterion id 'inc_dx'",
        "questions/demo/questions.csv:3: column 'choices': unknown choice list 'yns' (did you mean 'yn'?)",
        "questions/demo/choices.csv:9: column 'value': duplicate value 'yes' in list 'yn'",
    ]


def test_criterion_without_rule_and_waiting_period_without_recheck(tmp_path):
    criteria = [
        {"id": "inc_age", "waiting_period": "yes", "not_met_if": "age(dob) < 5", "met_if": "age(dob) >= 5"},
        {"id": "inc_dx"},  # no rule at all
        {"id": "exc_drug", "kind": "exclusion", "not_met_if": "'bel' in drugs", "met_if": "drugs == 'none'"},
    ]
    assert built_problems(tmp_path, criteria=criteria) == [
        "questions/demo/criteria.csv:2: column 'recheck': a waiting period needs a re-check month, e.g. last_dose + 6",
        "questions/demo/criteria.csv:3: column 'met_if': criterion 'inc_dx' has no rule: fill in "
        "not_met_if, met_if or confirm_if",
    ]


def test_question_that_can_never_be_asked(tmp_path):
    # asked only after a "no" diagnosis, but "no" already ends the form
    assert built_problems(tmp_path, questions=questions_rows(drugs_show_if="dx == 'no'")) == [
        "questions/demo/questions.csv:4: column 'show_if': question 'drugs' can never be asked: no route reaches it"
    ]


def test_study_sheet_must_match_its_folder(tmp_path):
    assert built_problems(tmp_path, study=[{"id": "other", "status": "open"}]) == [
        "questions/demo/study.csv:2: column 'id': 'other' must equal the folder name 'demo'",
        "questions/demo/study.csv:2: column 'status': unknown status 'open'",
    ]


# -- expressions ------------------------------------------------------------------------------


def env(**values):
    return Env(values=values, respondent="guardian", month=Month(2026, 11))


TYPES = {"dob": "month", "dx": "single", "drugs": "multiple", "n": "number"}


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("dx == 'yes'", {"dx": "yes"}, True),
        ("dx == 'yes'", {}, None),
        ("dx == 'yes' and n > 3", {"n": 1}, False),  # unknown and false is false
        ("dx == 'yes' or n > 3", {"n": 5}, True),  # unknown or true is true
        ("not dx == 'yes'", {}, None),
        ("'bel' in drugs", {"drugs": frozenset({"bel", "rtx"})}, True),
        ("drugs == 'none'", {"drugs": frozenset({"none"})}, True),
        ("drugs in ('bel', 'rtx')", {"drugs": frozenset({"bel"})}, True),
        ("dx not in ('no', 'unsure')", {"dx": "yes"}, True),
        ("age(dob) >= 5", {"dob": Month(2021, 11)}, True),  # fifth birthday this month
        ("age(dob) >= 5", {"dob": Month(2021, 12)}, False),
        ("months_since(dob) <= 228", {"dob": Month(2007, 11)}, True),
        ("dob + 6 >= dob + 6", {"dob": Month(2026, 1)}, True),
        ("dob - dob == 0", {"dob": Month(2026, 1)}, True),
        ("count(drugs) >= 2", {"drugs": frozenset({"bel", "rtx"})}, True),
        ("count(drugs, 'bel') == 1", {"drugs": frozenset({"bel", "rtx"})}, True),
        ("answered(dx)", {}, False),
        ("5 <= n <= 18", {"n": 19}, False),
        ("-n < 0", {"n": 2}, True),
    ],
)
def test_expressions_use_three_valued_logic(source, values, expected):
    assert compile_expression(source, TYPES)(env(**values)) is expected


def test_month_arithmetic_crosses_years():
    assert Month(2026, 11) + 3 == Month(2027, 2)
    assert Month(2027, 2) - Month(2026, 11) == 3
    assert Month(2026, 12).first_day_after() == date(2027, 1, 1)


# -- answers and the flow ---------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path):
    return load_study(write_study(tmp_path))


@pytest.mark.parametrize(
    ("question", "raw", "code"),
    [
        ("dx", None, "required"),
        ("dx", "maybe", "not_an_option"),
        ("dx", ["yes"], "not_an_option"),
        ("drugs", ["bel", "none"], "exclusive"),
        ("drugs", ["bel", "<script>"], "not_an_option"),
        ("dob", "2026-12", "future_month"),
        ("dob", "2026-13", "bad_month"),
        ("dob", "1850-01", "bad_month"),
        ("dob", 2026, "bad_month"),
    ],
)
def test_answers_that_do_not_fit_are_refused_with_a_code(demo, question, raw, code):
    with pytest.raises(AnswerError) as caught:
        demo.question(question).parse(raw, TODAY)
    assert caught.value.code == code


def test_month_answers_accept_chinese_and_full_width_forms(demo):
    assert demo.question("dob").parse("２０１５年3月", TODAY) == Month(2015, 3)
    assert demo.question("dob").parse("2015/03", TODAY) == Month(2015, 3)


def test_flow_asks_in_order_and_ends_with_an_outcome(demo):
    flow = Flow(demo)
    state = flow.run({}, today=TODAY)
    # the medicines question follows only a "yes" (1 answer in 3), so it is not counted yet
    assert state.question.id == "dob" and state.outcome is None and state.remaining == 2
    state = flow.run({"dob": "2015-03", "dx": "yes", "drugs": ["rtx"]}, today=TODAY)
    assert state.outcome.status == "needs_review"  # rituximab alone is neither none nor unsure
    state = flow.run({"dob": "2015-03", "dx": "yes", "drugs": ["none"]}, today=TODAY)
    assert state.outcome.status == "likely_eligible"
    assert state.asked == ["dob", "dx", "drugs"]


def test_permanent_knock_out_stops_the_form_and_ignores_later_answers(demo):
    state = Flow(demo).run({"dob": "2015-03", "dx": "no", "drugs": ["none"]}, today=TODAY)
    assert state.outcome.status == "not_eligible"
    assert state.asked == ["dob", "dx"]
    assert state.outcome.failed == ["inc_dx"]
    assert state.outcome.criteria["exc_drug"] == "needs_review"  # never reached: never decided
    assert state.outcome.reason_texts("zh") == ["没有确诊。"]
    assert state.outcome.recheck_after is None


def test_waiting_period_keeps_asking_and_gives_the_recheck_date(demo):
    state = Flow(demo).run({"dob": "2022-03", "dx": "yes", "drugs": ["none"]}, today=TODAY)
    assert state.asked == ["dob", "dx", "drugs"]
    assert state.outcome.status == "not_eligible"
    # fifth birthday in March 2027: we promise only the first day after that month
    assert state.outcome.recheck_after == date(2027, 4, 1)


def test_waiting_period_plus_permanent_failure_has_no_recheck_date(demo):
    state = Flow(demo).run({"dob": "2022-03", "dx": "yes", "drugs": ["bel"]}, today=TODAY)
    assert state.outcome.failed == ["inc_age", "exc_drug"]
    assert state.outcome.recheck_after is None


def test_changing_an_earlier_answer_drops_answers_no_longer_reached(demo):
    flow = Flow(demo)
    before = flow.run({"dob": "2015-03", "dx": "yes", "drugs": ["bel"]}, today=TODAY)
    assert before.outcome.status == "not_eligible"
    after = flow.run({"dob": "2015-03", "dx": "unsure", "drugs": ["bel"]}, today=TODAY)
    assert after.asked == ["dob", "dx"]
    assert "drugs" not in after.values
    assert after.outcome.status == "needs_review"


def test_invalid_stored_answer_is_asked_again_not_used(demo):
    state = Flow(demo).run({"dob": "2015-03", "dx": "maybe"}, today=TODAY)
    assert state.question.id == "dx"
    assert state.errors["dx"].code == "not_an_option"


def test_flow_needs_an_explicit_today(demo):
    with pytest.raises(ValueError, match="never reads the clock"):
        Flow(demo).run({})


def test_age_helper_for_the_under_14_handoff(demo):
    assert Flow(demo).age({"dob": "2013-12"}, TODAY) == 12
    assert Flow(demo).age({}, TODAY) is None


def test_path_walk_reports_routes_and_shortest_per_outcome(demo):
    report = check_flow(demo)
    assert report.problems == []
    assert report.paths == 2  # stop after the diagnosis, or go on to the medicines
    assert report.longest == ("dob", "dx", "drugs")
    assert report.shortest["not_eligible"] == ("dob", "dx")
    assert set(report.shortest) == {"likely_eligible", "needs_review", "not_eligible"}


# -- the README documents everything the engine accepts --------------------------------------


def test_questions_readme_documents_every_sheet_column_type_and_function():
    from prescreen.engine.expr import FUNCTIONS
    from prescreen.engine.load import COLUMNS, CRITERION_KINDS, HOME_VALUES
    from prescreen.engine.model import QUESTION_TYPES

    readme = (ROOT / "questions" / "README.md").read_text(encoding="utf-8")
    wanted = [f"`{sheet}.csv`" for sheet in COLUMNS]
    for required, optional in COLUMNS.values():
        wanted += [f"`{c}`" for c in (*required, *optional)]
    wanted += [f"`{t}`" for t in QUESTION_TYPES]
    wanted += [f"`{f}(" for f in FUNCTIONS]
    wanted += [f"`{v}`" for v in (*CRITERION_KINDS, *HOME_VALUES, "respondent", "exclusive")]
    wanted += ["`==`", "`!=`", "`<`", "`<=`", "`>`", "`>=`", "`in`", "`not in`", "`and`", "`or`"]
    wanted += ["`not`", "`+`", "`-`"]
    missing = [w for w in wanted if w not in readme]
    assert missing == []


# -- the real study, exhaustively --------------------------------------------------------------

REAL = ROOT / "questions" / "pumch-pediatric-sjogren"


def test_real_study_every_route_ends_in_an_outcome():
    report = check_flow(load_study(REAL))
    assert report.problems == [] and report.never_asked == []
    assert set(report.shortest) == {"likely_eligible", "needs_review", "not_eligible"}
    assert report.paths > 100
    print(f"\nreal study: {report.paths} routes, longest {len(report.longest)} questions")


def test_several_waiting_periods_give_the_latest_recheck_date():
    from tests.helpers.study import ELIGIBLE

    study = load_study(REAL)
    answers = {
        **ELIGIBLE,
        "rituximab": "yes",
        "rituximab_last": "2026-08",  # + 6 months: from 2027-03-01
        "vaccine": "live",
        "vaccine_month": "2026-10",  # + 3 months: from 2027-02-01
    }
    outcome = Flow(study).run(answers, today=TODAY).outcome
    assert outcome.status == "not_eligible"
    assert set(outcome.failed) == {"exc_rituximab_6m", "exc_live_vaccine_3m"}
    assert outcome.recheck_after == date(2027, 3, 1)
    assert [r.recheck_after for r in outcome.reasons] == [date(2027, 3, 1), date(2027, 2, 1)]


def test_questions_left_estimate_stays_close_for_a_typical_family():
    from tests.helpers.study import ELIGIBLE

    flow = Flow(load_study(REAL))
    answers: dict[str, object] = {}
    for given, (qid, value) in enumerate(ELIGIBLE.items()):
        state = flow.run(answers, today=TODAY)
        assert state.question.id == qid
        actually_left = len(ELIGIBLE) - given
        assert abs(state.remaining - actually_left) <= 2, (qid, state.remaining, actually_left)
        answers[qid] = value


def test_a_long_lived_flow_gives_the_same_states_and_estimates_as_a_fresh_one():
    """The web app keeps one Flow per process and memoises the estimate; a family must never see
    a different "questions left" because other families answered before them."""
    import random

    study = load_study(REAL)
    shared = Flow(study)
    rng = random.Random(7)  # noqa: S311 - reproducible test answers, not secrets
    for family in range(60):
        respondent = "patient" if family % 4 == 0 else "guardian"
        answers: dict[str, object] = {}
        state = shared.run(answers, respondent=respondent, today=TODAY)
        while state.question is not None:
            fresh = Flow(study).run(answers, respondent=respondent, today=TODAY)
            assert state.remaining == fresh.remaining, (family, state.question.id)
            assert (state.question, state.asked, state.values) == (fresh.question, fresh.asked, fresh.values)
            assert state.provisional.criteria == fresh.provisional.criteria
            question = state.question
            if question.type == "single":
                answers[question.id] = rng.choice(list(question.values))
            elif question.type == "multiple":
                answers[question.id] = [rng.choice(list(question.values))]
            elif question.type == "month":
                answers[question.id] = f"{rng.randint(2009, 2026)}-{rng.randint(1, 9):02d}"
            else:
                answers[question.id] = str(rng.randint(question.min or 0, question.max or 0))
            state = shared.run(answers, respondent=respondent, today=TODAY)
    assert shared._shown_memo and shared._run_memo, "the estimate and the states are memoised"
    # a later family's answer list changed in place after the call changes nothing memoised
    answers = {"dob": "2015-03", "diagnosis": "yes"}
    before = shared.run(answers, today=TODAY)
    answers["diagnosis"] = "no"
    assert shared.run({"dob": "2015-03", "diagnosis": "yes"}, today=TODAY) is before
    assert shared.run(answers, today=TODAY).values.get("diagnosis") != before.values.get("diagnosis")


def _same_state(resumed: State, fresh: State) -> None:
    assert (resumed.question, resumed.asked, resumed.values) == (fresh.question, fresh.asked, fresh.values)
    assert resumed.remaining == fresh.remaining
    assert resumed.errors.keys() == fresh.errors.keys()
    assert resumed.provisional.criteria == fresh.provisional.criteria
    assert resumed.provisional.failed == fresh.provisional.failed
    assert (resumed.outcome is None) == (fresh.outcome is None)
    if fresh.outcome is not None:
        assert resumed.outcome.status == fresh.outcome.status
        assert resumed.outcome.recheck_after == fresh.outcome.recheck_after
        assert resumed.outcome.knocked_out_at == fresh.outcome.knocked_out_at
        assert [r.criterion for r in resumed.outcome.reasons] == [r.criterion for r in fresh.outcome.reasons]


def test_advancing_from_the_last_state_equals_walking_from_the_start():
    """The chat resumes the walk at the question just answered (Flow.advance); every family, every
    step, every outcome and every refused answer must come out as a fresh walk gives them."""
    import random

    from tests.helpers.study import ELIGIBLE

    study = load_study(REAL)
    rng = random.Random(11)  # noqa: S311 - reproducible test answers, not secrets
    outcomes = set()
    for family in range(80):
        flow = Flow(study)  # a fresh memo per family: the walk itself is what is compared
        respondent = "patient" if family % 4 == 0 else "guardian"
        answers: dict[str, object] = {}
        state = flow.run(answers, respondent=respondent, today=TODAY)
        while state.question is not None:
            question = state.question
            if rng.random() < 0.1:  # an answer the question refuses: same question, with its error
                refused = {**answers, question.id: "not-an-answer" if question.type != "multiple" else ["x"]}
                _same_state(Flow(study).advance(state, refused, TODAY), Flow(study).run(refused, respondent, TODAY))
            if question.id in ELIGIBLE and rng.random() < 0.93:
                value: object = ELIGIBLE[question.id]  # mostly eligible: every outcome occurs
            elif question.type == "single":
                value = rng.choice(list(question.values))
            elif question.type == "multiple":
                value = [rng.choice(list(question.values))]
            elif question.type == "month":
                value = f"{rng.randint(2009, 2026)}-{rng.randint(1, 9):02d}"
            else:
                value = str(rng.randint(question.min or 0, question.max or 0))
            answers = {**answers, question.id: value}
            resumed = flow.advance(state, answers, TODAY)
            _same_state(resumed, Flow(study).run(answers, respondent=respondent, today=TODAY))
            state = resumed
        outcomes.add(state.outcome.status)
    assert outcomes == {"likely_eligible", "needs_review", "not_eligible"}
    with pytest.raises(ValueError):
        Flow(study).advance(state, answers, TODAY)  # a finished walk has nothing to advance


# -- the engine's own structure ----------------------------------------------------------------


def engine_imports(folder: Path) -> dict[str, set[str]]:
    """Each engine module -> the engine modules it imports, wherever the import is written
    (top level, inside a function, or under ``if TYPE_CHECKING``)."""
    import ast

    modules = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    edges.add(node.module.split(".")[0])
                elif node.level == 1:
                    edges |= {a.name if a.name in modules else "__init__" for a in node.names}
                elif node.module and node.module.startswith("prescreen.engine."):
                    edges.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                edges |= {a.name.split(".")[2] for a in node.names if a.name.startswith("prescreen.engine.")}
        graph[path.stem] = edges - {path.stem}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the list of modules around it."""
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            cycles.append([*stack[stack.index(module) :], module])
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return cycles


def test_engine_modules_import_each_other_without_circles():
    # a circle means neither module can be read (or tested) without the other; lazy imports inside
    # functions and imports for type checkers only count too, as they hide the same knot
    graph = engine_imports(ROOT / "prescreen" / "engine")
    assert {"model", "expr", "load", "check", "flow"} <= set(graph)
    assert import_cycles(graph) == []
    assert import_cycles({"load": {"check"}, "check": {"load"}}) == [["check", "load", "check"]]


def test_engine_modules_stay_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "prescreen/engine").glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 350} == {}


# -- question types, expression codes, results as records ------------------------------------


def test_every_walk_sample_is_an_answer_the_question_accepts_and_stores_back(tmp_path):
    """The type table's parse, samples and stored form agree: what the path walk tries is what a
    family can give, and what the answers JSON keeps reads back as the same answer."""
    from prescreen.engine import QUESTION_TYPES
    from prescreen.engine.check import WALK_TODAY
    from prescreen.engine.types import Hints

    header, *rows = QUESTIONS.splitlines()
    number = "visits,number,,,,How many visits?,几次？,How many visits?,几次？,To plan.,安排。,0,30"
    demo = load_study(write_study(tmp_path, questions="\n".join([header + ",min,max", *rows, number, ""])))
    questions = [*load_study(REAL).questions, *demo.questions]
    assert {q.type for q in questions} == set(QUESTION_TYPES)
    for question in questions:
        samples = question.kind.samples(question, Hints(frozenset({1, 6, 18}), True, WALK_TODAY))
        assert samples, question.id
        for value in samples:
            stored = question.stored(value)
            assert json.loads(json.dumps(stored)) == stored
            assert question.parse(stored, WALK_TODAY) == value, (question.id, value)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("dx == 'yes", "syntax"),
        ("x" * 2001, "syntax"),
        ("dxx == 'yes'", "unknown_name"),
        ("age(dobb) > 5", "unknown_name"),
        ("agee(dob) > 5", "unknown_function"),
        ("respondent == 'parent'", "unknown_option"),
        ("age(dx) > 5", "bad_call"),
        ("count(dx) > 1", "bad_call"),
        ("dob > 5", "type_mismatch"),
        ("dob", "type_mismatch"),
        ("dx == 'yes' + 1", "type_mismatch"),
        ("[x for x in dx]", "not_allowed"),
        ("1.5 < age(dob)", "not_allowed"),
        ("dx.upper() == 'YES'", "not_allowed"),
    ],
)
def test_expression_errors_carry_a_code(source, code):
    from prescreen.engine import EXPRESSION_CODES, ExpressionError

    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, TYPES)
    assert caught.value.code == code and code in EXPRESSION_CODES
    if code == "unknown_name":
        assert caught.value.name in ("dxx", "dobb")


def test_states_and_outcomes_cannot_be_changed_by_a_caller(demo):
    """The flow hands the same memoised state to every caller with the same answers: a caller
    that changed it would change the next family's result."""
    import dataclasses

    flow = Flow(demo)
    answers = {"dob": "2022-03", "dx": "yes", "drugs": ["bel"]}
    state = flow.run(answers, today=TODAY)
    assert flow.run(dict(answers), today=TODAY) is state
    outcome = state.outcome
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.status = "likely_eligible"
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.question = demo.question("dx")
    for change in (
        lambda: outcome.failed.append("inc_dx"),
        lambda: outcome.failed.clear(),
        lambda: outcome.reasons.pop(),
        lambda: outcome.criteria.update(inc_age="met"),
        lambda: outcome.criteria.__setitem__("inc_age", "met"),
        lambda: outcome.reasons[0].texts.clear(),
        lambda: state.asked.append("dx"),
        lambda: state.values.pop("dob"),
    ):
        with pytest.raises(TypeError):
            change()
    again = flow.run(answers, today=TODAY)
    assert again.outcome.status == "not_eligible" and again.outcome.failed == ["inc_age", "exc_drug"]
    assert again.asked == ["dob", "dx", "drugs"] and again.values["dob"] == Month(2022, 3)


def test_outcome_record_is_plain_json_shared_by_the_web_and_the_cli(demo):
    state = Flow(demo).run({"dob": "2022-03", "dx": "yes", "drugs": ["none"]}, today=TODAY)
    record = state.outcome.to_record()
    assert record == {
        "status": "not_eligible",
        "criteria": {"inc_age": "not_met", "inc_dx": "met", "exc_drug": "met"},
        "failed": ["inc_age"],
        "recheck_after": "2027-04-01",
    }
    assert type(record["criteria"]) is dict and type(record["failed"]) is list
    assert json.loads(json.dumps(record)) == record
    assert state.to_record() == record
    printed = state.to_dict("en")
    assert {k: printed[k] for k in ("criteria", "failed", "recheck_after")} == {
        k: record[k] for k in ("criteria", "failed", "recheck_after")
    }
    assert printed["outcome"] == record["status"]
    assert Flow(demo).run({}, today=TODAY).to_record() is None  # nothing to store before the end


def test_validate_study_gives_the_study_and_its_walk_from_one_walk(tmp_path, monkeypatch):
    from prescreen.engine import validate, validate_study

    walks = []
    real_walk = validate.check_flow
    monkeypatch.setattr(validate, "check_flow", lambda study: walks.append(study) or real_walk(study))
    study, report = validate_study(write_study(tmp_path))
    assert walks == [study]
    assert (report.paths, report.longest, report.problems) == (2, ("dob", "dx", "drugs"), [])
    assert report.shortest == check_flow(study).shortest
    with pytest.raises(StudyError) as caught:
        validate_study(write_study(tmp_path / "b", questions=QUESTIONS.replace("dx == 'yes',exc", "dx == 'no',exc")))
    assert [p.column for p in caught.value.problems] == ["show_if"]


def test_categories_file_is_read_like_a_study_sheet(tmp_path):
    from prescreen.engine import load_categories

    path = tmp_path / "questions" / "categories.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes("id,parent,label::en,label::zh\nrheum,,Rheumatology,风湿免疫\n".encode("gbk"))
    with pytest.raises(StudyError) as caught:
        load_categories(path)
    assert [str(p) for p in caught.value.problems] == [
        "questions/categories.csv: the file is saved as GBK/GB18030 (the Chinese 'CSV' of "
        "WPS or older Excel), not UTF-8; save it again as 'CSV UTF-8 (Comma delimited)'"
    ]
    path.write_text("id,parent,label::en,label::zh,label::en\nrheum,,Rheumatology,风湿免疫,x\n", encoding="utf-8")
    with pytest.raises(StudyError) as caught:
        load_categories(path)
    assert [str(p) for p in caught.value.problems] == [
        "questions/categories.csv:1: column 'label::en': this column appears twice"
    ]

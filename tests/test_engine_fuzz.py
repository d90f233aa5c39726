"""Feed the sheet loader random and mutated CSV: only StudyError may come out, each located.

A study team edits sheets by hand in Excel or WPS; whatever they save, `prescreen questions
check` must answer with our own row-numbered messages, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prescreen.engine import StudyError, compile_expression, load_study
from tests.helpers.study import SHEETS, write_study

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("fuzz", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: problems that concern a whole file, so they have no row
FILE_LEVEL = (
    "sheet is missing",
    "is not UTF-8",
    "saved as GBK",
    "is not a valid CSV",
    "must have exactly one row",
    "a path that never reaches an outcome",
    "routes; simplify",
    "too long to walk",
    "unknown sheet",
)
CSV_NOISE = st.sampled_from([",", '"', "\n", "\r\n", "'", "::", "==", "(", ")", "yes", "no", "dob", "\ufeff", "\x00"])


@st.composite
def mutated_sheet(draw: st.DrawFn) -> tuple[str, str]:
    """One of the demo sheets with a few random edits (insert, delete, replace)."""
    name = draw(st.sampled_from(sorted(SHEETS)))
    text = SHEETS[name]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(CSV_NOISE, st.text(max_size=8)))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return name, text


def assert_only_located_study_errors(folder: Path) -> None:
    try:
        load_study(folder)
    except StudyError as error:
        assert error.problems, "a StudyError always lists its problems"
        for problem in error.problems:
            text = str(problem)
            assert text.startswith("questions/demo/"), text
            assert problem.row is not None or any(m in text for m in FILE_LEVEL), text


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edit=mutated_sheet())
def test_mutated_sheets_give_only_located_study_errors(tmp_path_factory, edit):
    root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    try:
        name, text = edit
        folder = write_study(root, **{name: text})
        assert_only_located_study_errors(folder)
    finally:
        shutil.rmtree(root)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SHEETS)), data=st.binary(max_size=400))
def test_random_bytes_in_a_sheet_give_only_study_errors(tmp_path_factory, name, data):
    root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    try:
        folder = write_study(root)
        (folder / f"{name}.csv").write_bytes(data)
        assert_only_located_study_errors(folder)
    finally:
        shutil.rmtree(root)


TYPES = {"dob": "month", "dx": "single", "drugs": "multiple", "n": "number"}


@given(source=st.text(max_size=60))
def test_arbitrary_expression_text_compiles_or_says_why(source):
    from prescreen.engine import ExpressionError

    try:
        compile_expression(source, TYPES)
    except ExpressionError as error:
        assert str(error)

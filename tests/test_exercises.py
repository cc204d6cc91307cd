"""Graded exercises: solutions pass, stubs and wrong answers fail, exercises/ is in sync and clean.

The fast tests run each assignment's test cells (hidden tests included) in this process against
simulated answers; ``tests/test_grade_pipeline.py`` grades a simulated class with real nbgrader.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS, secret_lines

from gdcourse.release import assignments, canonical, release

SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
ASSIGNMENTS = assignments()


def source_notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)


def cells_by_id(notebook) -> dict:
    return {cell.id: cell for cell in notebook.cells}


def run_in_process(notebook, replacements: dict[str, str]) -> dict[str, str | None]:
    """Execute the notebook's code in one namespace; return each test cell's failure (or None)."""
    namespace: dict = {}
    outcomes = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.id == "install":
            continue
        meta = cell.metadata.get("nbgrader", {})
        source = replacements.get(cell.id, cell.source)
        try:
            exec(compile(source, cell.id, "exec"), namespace)  # noqa: S102 - the test's own notebooks
        except Exception as error:  # noqa: BLE001 - a failing answer is what we look for
            if meta.get("grade"):
                outcomes[cell.id] = f"{type(error).__name__}: {error}"
            continue
        if meta.get("grade"):
            outcomes[cell.id] = None
    return outcomes


def test_every_chapter_with_an_exercise_has_one_assignment():
    assert len(ASSIGNMENTS) >= 4
    for name in ASSIGNMENTS:
        notebook = source_notebook(name)
        kinds = [cell.metadata.get("nbgrader", {}) for cell in notebook.cells]
        assert any(k.get("solution") for k in kinds) and any(k.get("grade") for k in kinds)
        tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
        for cell in tests:
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{name}/{cell.id} has no hidden tests"
            assert cell.metadata.nbgrader.get("points", 0) > 0


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_passes_its_own_tests_in_process(name):
    outcomes = run_in_process(source_notebook(name), {})
    assert outcomes and all(result is None for result in outcomes.values()), outcomes


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_stub_fails_every_test(name):
    notebook = source_notebook(name)
    stubs = {cell.id: re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION",
                             "raise NotImplementedError()", cell.source, flags=re.S)
             for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    outcomes = run_in_process(notebook, stubs)
    assert outcomes and all(result is not None for result in outcomes.values()), outcomes


WRONG = [(name, cell_id, kind) for name, questions in ANSWERS.items()
         for cell_id, kinds in questions.items() for kind in kinds]


@pytest.mark.parametrize(("name", "cell_id", "kind"), WRONG, ids=lambda v: str(v).replace(" ", "-"))
def test_hidden_tests_reject_wrong_answers(name, cell_id, kind):
    notebook = source_notebook(name)
    test_id = cell_id.replace("answer", "tests")
    visible_only = {test_id: cells_by_id(notebook)[test_id].source.split("### BEGIN HIDDEN TESTS")[0]}
    with_hidden = run_in_process(notebook, {cell_id: ANSWERS[name][cell_id][kind]})
    assert with_hidden[test_id] is not None, f"the hidden tests accepted the {kind} answer"
    if kind == "hard-coded":  # the point of hidden tests: this answer passes the visible ones
        visible = run_in_process(notebook, {cell_id: ANSWERS[name][cell_id][kind], **visible_only})
        assert visible[test_id] is None, visible[test_id]
    if "reference" in kind or "alias" in kind:
        assert "called the reference implementation" in with_hidden[test_id]


def test_exercises_are_in_sync_with_solutions(tmp_path):
    regenerated = release(output=tmp_path)
    assert {p.relative_to(tmp_path) for p in regenerated} == {
        p.relative_to(EXERCISES) for p in EXERCISES.rglob("*.ipynb")}
    for path in regenerated:
        committed = EXERCISES / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} is stale: run make exercises"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_solution_or_hidden_test_reaches_the_students(name):
    secrets = secret_lines(source_notebook(name))
    assert secrets
    released = (EXERCISES / name / f"{name}.ipynb").read_text()
    leaked = [line for line in secrets if line in released]
    assert not leaked, leaked
    notebook = nbformat.reads(released, as_version=4)
    assert all(c.outputs == [] for c in notebook.cells if c.cell_type == "code")
    assert "raise NotImplementedError()" in released


def test_canonical_form_is_stable():
    notebook = source_notebook(ASSIGNMENTS[0])
    assert canonical(nbformat.reads(canonical(notebook), as_version=4)) == canonical(notebook)


def test_exercise_pages_are_in_the_book_and_solutions_are_not():
    toc = (ROOT / "_toc.yml").read_text()
    for name in ASSIGNMENTS:
        assert f"exercises/{name}/{name}" in toc
    assert "solutions/" not in toc
    assert Path(ROOT / "_config.yml").read_text().count("solutions") >= 1  # excluded from the build

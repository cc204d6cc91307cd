"""Graded exercises: solutions pass, stubs and wrong answers fail, exercises/ is in sync and clean.

The fast tests run each assignment's test cells (hidden tests included) in this process against
simulated answers (``tests/exercise_students.py``). The slow ones use real nbgrader and real
kernels: the Validator on every source notebook, the release into a temporary folder, and the
built book. ``tests/test_grade_pipeline.py`` grades a simulated class end to end.
"""

from __future__ import annotations

import ast
import html as html_module
import re

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS, PASSES_VISIBLE, secret_lines

from gdcourse.edition import install_cell, settings
from gdcourse.grader.check import SourceChecks, visible_part
from gdcourse.release import (
    CHECK_ALL_TAG,
    add_check_all,
    assignments,
    canonical,
    check_all_cell,
    is_check_all,
    release,
)

pytestmark = [
    # jupyter_client/nbclient/zmq emit these while the Validator drives a kernel in this process
    pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_client"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:zmq"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:nbclient"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:traitlets"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_core"),
    pytest.mark.filterwarnings("ignore:.*datetime.datetime.utcnow.*:DeprecationWarning"),
]

SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
ASSIGNMENTS = assignments()
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
INSTALL_GUARD = install_cell(settings())  # written by `make install-cells` from _config.yml


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
            exec(compile(source, cell.id, "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - whatever a test cell raises is its outcome
            if meta.get("grade"):
                outcomes[cell.id] = f"{type(error).__name__}: {error}"
            continue
        if meta.get("grade"):
            outcomes[cell.id] = None
    return outcomes


# ------------------------------------------------------------------------------------------------
# The source notebooks
# ------------------------------------------------------------------------------------------------


def test_one_assignment_per_chapter():
    assert CHAPTERS
    assert len(ASSIGNMENTS) == len(CHAPTERS)
    assert [name[:4] for name in ASSIGNMENTS] == [f"ch{stem[:2]}" for stem in CHAPTERS]
    for name in ASSIGNMENTS:
        assert [p.name for p in (SOLUTIONS / name).iterdir()] == [f"{name}.ipynb"]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_shape(name):
    notebook = source_notebook(name)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].id == "install"
    assert INSTALL_GUARD in code[0].source
    assert code[0].source.startswith("# Colab")
    assert "try:\n    import gdcourse" in code[0].source
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    answers = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert 2 <= len(tests) <= 4
    assert len(answers) == len(tests)
    for cell in tests:
        assert cell.source.count("### BEGIN HIDDEN TESTS") == 1, f"{name}/{cell.id}: no hidden test"
        assert cell.source.rstrip().endswith("### END HIDDEN TESTS")
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert visible.strip(), f"{name}/{cell.id}: no visible test"
        assert cell.metadata.nbgrader.get("points", 0) > 0
        assert "fresh_rng()" in cell.source  # new inputs at every grading run
    for cell in answers:
        assert "### BEGIN SOLUTION" in cell.source
        assert cell.id.endswith("-answer")
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        "notebooks in git carry no outputs"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_passes_its_own_tests_in_process(name):
    outcomes = run_in_process(source_notebook(name), {})
    assert outcomes
    assert all(result is None for result in outcomes.values()), outcomes


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_stub_fails_every_test(name):
    notebook = source_notebook(name)
    stubs = {cell.id: re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION",
                             "raise NotImplementedError()", cell.source, flags=re.DOTALL)
             for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    outcomes = run_in_process(notebook, stubs)
    assert outcomes
    assert all(result is not None for result in outcomes.values()), outcomes


WRONG = [(name, cell_id, kind) for name, questions in ANSWERS.items()
         for cell_id, kinds in questions.items() for kind in kinds]


def test_every_assignment_has_wrong_answers_on_file():
    assert set(ANSWERS) == set(ASSIGNMENTS)
    assert set(WRONG) >= PASSES_VISIBLE
    for name in ASSIGNMENTS:  # every question meets an answer only the hidden tests catch
        for cell_id in ANSWERS[name]:
            assert any((name, cell_id, kind) in PASSES_VISIBLE for kind in ANSWERS[name][cell_id])
        assert len(ANSWERS[name]) == len(
            [c for c in source_notebook(name).cells if c.metadata.get("nbgrader", {}).get("grade")])


@pytest.mark.slow  # ~140 notebook runs in process: 30-90 s in all
@pytest.mark.parametrize(("name", "cell_id", "kind"), WRONG, ids=lambda v: str(v).replace(" ", "-"))
def test_hidden_tests_reject_wrong_answers(name, cell_id, kind):
    notebook = source_notebook(name)
    test_id = cell_id.replace("answer", "tests")
    test_source = cells_by_id(notebook)[test_id].source
    visible_only = {test_id: test_source.split("### BEGIN HIDDEN TESTS")[0]}
    with_hidden = run_in_process(notebook, {cell_id: ANSWERS[name][cell_id][kind]})
    assert with_hidden[test_id] is not None, f"the hidden tests accepted the {kind} answer"
    if (name, cell_id, kind) in PASSES_VISIBLE:  # only the hidden tests can catch these
        visible = run_in_process(notebook, {cell_id: ANSWERS[name][cell_id][kind], **visible_only})
        assert visible[test_id] is None, visible[test_id]
    if kind.startswith("calls"):
        assert "called the reference implementation" in with_hidden[test_id], with_hidden[test_id]


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_nbgrader_validator_passes_every_source_notebook(name, monkeypatch):
    """nbgrader's Validator API on a real kernel (``nbgrader validate`` exits 0 even on failure)."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    monkeypatch.chdir(ROOT)
    config = Config()
    config.Execute.timeout = 120
    validator = Validator(config=config)
    validator.validate_all = True  # any error or stderr output, in any code cell, fails
    results = validator.validate(str(SOLUTIONS / name / f"{name}.ipynb"))
    assert results == {}, {key: [entry.get("raw_error", entry["source"])[:800] for entry in value]
                           for key, value in results.items()}


# ------------------------------------------------------------------------------------------------
# The student notebooks
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_exercises_are_in_sync_with_solutions(tmp_path):
    regenerated = release(output=tmp_path)
    assert {p.relative_to(tmp_path) for p in regenerated} == {
        p.relative_to(EXERCISES) for p in EXERCISES.rglob("*.ipynb")}
    for path in regenerated:
        committed = EXERCISES / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} is stale: make exercises"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_solution_or_hidden_test_reaches_the_students(name):
    secrets = secret_lines(source_notebook(name))
    assert secrets
    released = (EXERCISES / name / f"{name}.ipynb").read_text()
    notebook = nbformat.reads(released, as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells)
    leaked = [line for line in secrets if line in sources or line in released]
    assert not leaked, leaked
    assert "BEGIN HIDDEN" not in released
    assert "BEGIN SOLUTION" not in released
    assert all(c.outputs == [] and c.execution_count is None
               for c in notebook.cells if c.cell_type == "code")
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    blocks = sum(c.source.count("### BEGIN SOLUTION") for c in source_notebook(name).cells)
    assert sum(source.count("raise NotImplementedError()") for source in code) == blocks
    assert INSTALL_GUARD in code[0]


# ------------------------------------------------------------------------------------------------
# The check-all cell that ends every student notebook
# ------------------------------------------------------------------------------------------------


def check_all_questions(cell) -> list[tuple]:
    """The ``(name, points, code)`` triples a check-all cell passes to ``check_all``."""
    tree = ast.parse(cell.source)
    (call,) = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "id", None) == "check_all"]
    return ast.literal_eval(call.args[0])


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_exercise_ends_with_its_check_all_cell(name):
    released = nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)
    cell = released.cells[-1]
    assert cell.cell_type == "code"
    assert cell.id == CHECK_ALL_TAG
    assert cell.metadata.get("tags") == [CHECK_ALL_TAG]
    assert "nbgrader" not in cell.metadata  # not graded, not locked, not in the gradebook
    assert sum(CHECK_ALL_TAG in c.metadata.get("tags", []) for c in released.cells) == 1
    assert "from gdcourse.grading import check_all" in cell.source
    tests = [c for c in source_notebook(name).cells if c.metadata.get("nbgrader", {}).get("grade")]
    questions = check_all_questions(cell)
    assert len(questions) == len(tests)
    for number, ((title, points, code), test) in enumerate(zip(questions, tests, strict=True),
                                                           start=1):
        assert title.startswith(f"Question {number}: "), title
        assert not re.search(r"\(\d+ points?\)", title)  # the points are printed once
        assert points == test.metadata.nbgrader.points
        assert code.strip() == visible_part(test.source).strip()
        assert "HIDDEN" not in code


def test_check_all_cell_fills_a_placeholder_or_is_appended():
    notebook = source_notebook(ASSIGNMENTS[0])
    appended = add_check_all(nbformat.from_dict(notebook))
    assert len(appended.cells) == len(notebook.cells) + 1
    assert appended.cells[-1].source == check_all_cell(notebook).source
    # a placeholder is filled where it stands
    placeholder = nbformat.v4.new_code_cell("# the check-all cell goes here", metadata={
        "tags": ["hide-input", CHECK_ALL_TAG]})
    second = nbformat.v4.new_code_cell("pass", metadata={"tags": [CHECK_ALL_TAG]})
    with_placeholder = nbformat.from_dict(notebook)
    with_placeholder.cells[2:2] = [placeholder, second]
    filled = add_check_all(with_placeholder)
    assert len(filled.cells) == len(notebook.cells) + 1  # the second one is dropped
    assert filled.cells[2].source == check_all_cell(notebook).source
    assert filled.cells[2].metadata == {"tags": ["hide-input", CHECK_ALL_TAG]}
    assert "pass" not in [cell.source for cell in filled.cells]
    # an nbgrader cell cannot be the placeholder: nbgrader would restore it and run it
    locked = nbformat.from_dict(notebook)
    locked.cells[2].metadata["tags"] = [CHECK_ALL_TAG]
    with pytest.raises(ValueError, match="cell 2 is tagged 'check-all' but is an nbgrader cell"):
        add_check_all(locked)


def test_a_graded_cell_tagged_check_all_is_still_graded():
    notebook = source_notebook("ch06_momentum")
    for cell in notebook.cells:
        cell.metadata["tags"] = [CHECK_ALL_TAG]
    assert not any(is_check_all(cell) for cell in notebook.cells)
    assert set(SourceChecks(notebook).tests) == {"q1-tests", "q2-tests", "q3-tests"}
    assert is_check_all(nbformat.v4.new_code_cell("x = 1", metadata={"tags": [CHECK_ALL_TAG]}))
    assert not is_check_all(["not", "a", "cell"])
    assert not is_check_all({"metadata": {"tags": "check-all"}})


def test_check_all_cell_refuses_what_it_cannot_compose():
    with pytest.raises(TypeError, match="notebook must be an nbformat notebook"):
        check_all_cell({"cells": []})
    with pytest.raises(ValueError, match="notebook has no nbgrader test cell"):
        check_all_cell(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))


def test_check_all_code_survives_backslashes_and_triple_quotes():
    code = "assert '\\n' != \"'''\"\nassert r'\\d' == '\\\\d'\n"
    cell = nbformat.v4.new_code_cell(code, metadata={"nbgrader": {
        "grade": True, "grade_id": "q1-tests", "points": 2}})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "## Question 1 (2 points): quoting"), cell])
    ((title, points, shown),) = check_all_questions(check_all_cell(notebook))
    assert (title, points, shown.strip("\n")) == ("Question 1: quoting", 2, code.strip("\n"))
    plain = nbformat.v4.new_code_cell("assert '\\t' == chr(9)", metadata=cell.metadata)
    notebook.cells[1] = plain
    assert "r'''" in check_all_cell(notebook).source  # readable when it can be
    assert check_all_questions(check_all_cell(notebook))[0][2].strip() == plain.source


def test_the_graders_checks_never_take_the_check_all_cell_as_setup():
    notebook = source_notebook("ch06_momentum")
    notebook.cells.append(nbformat.v4.new_code_cell(
        "raise SystemExit('run by the grader')", metadata={"tags": [CHECK_ALL_TAG]}))
    checks = SourceChecks(add_check_all(notebook))
    assert len(checks.setup) == len(SourceChecks(source_notebook("ch06_momentum")).setup)
    assert set(checks.tests) == {"q1-tests", "q2-tests", "q3-tests"}


def solution_answers(name: str) -> dict[str, str]:
    """The source notebook's answer cells, solution markers removed (a student who got it)."""
    return {cell.id: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", cell.source)
            for cell in source_notebook(name).cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def run_student_notebook(name: str, answers: dict[str, str], folder) -> list[str]:
    """Run the released notebook of ``name`` with ``answers`` in its answer cells, copied to
    ``folder`` (any folder: nothing depends on where it is), in a fresh kernel; return what the
    check-all cell printed, line by line."""
    from nbclient import NotebookClient

    notebook = nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.id in answers:
            cell.source = answers[cell.id]
    (folder / f"{name}.ipynb").write_text(nbformat.writes(notebook))
    NotebookClient(notebook, timeout=180, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    last = notebook.cells[-1]
    assert last.id == CHECK_ALL_TAG
    assert not [o for o in last.outputs if o.output_type == "error"], last.outputs
    return "".join(o.get("text", "") for o in last.outputs
                   if o.output_type == "stream" and o.name == "stdout").splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_check_all_passes_the_solution_in_a_kernel(name, tmp_path):
    lines = run_student_notebook(name, solution_answers(name), tmp_path)
    tests = [c for c in source_notebook(name).cells if c.metadata.get("nbgrader", {}).get("grade")]
    total = sum(cell.metadata.nbgrader.points for cell in tests)
    assert len(lines) == len(tests) + 1, lines
    assert all(line.endswith(": passed") for line in lines[:-1]), lines
    assert lines[-1] == (f"Visible tests passed: {total:g} of {total:g} points (the grade also "
                         f"counts hidden tests).")


@pytest.mark.slow
def test_check_all_reports_wrong_and_missing_answers_in_a_kernel(tmp_path):
    name = "ch02_gradient_descent"
    # question 1 hard-coded (passes the visible tests: only hidden ones catch it), question 2
    # with the wrong sign
    wrong = {"q1-answer": ANSWERS[name]["q1-answer"]["hard-coded"],
             "q2-answer": ANSWERS[name]["q2-answer"]["wrong sign"]}
    assert run_student_notebook(name, wrong, tmp_path) == [
        "Question 1: the gradient and a finite-difference check (3 points): passed",
        "Question 2: the gradient-descent loop (4 points): failed: AssertionError: step 1: "
        "x = 15, expected 13",
        "Question 3: how many steps does an accuracy cost? (2 points): failed: not answered yet "
        "(NotImplementedError)",
        "Visible tests passed: 3 of 9 points (the grade also counts hidden tests).",
    ]
    # nothing answered: the stubs as released
    assert run_student_notebook(name, {}, tmp_path) == [
        "Question 1: the gradient and a finite-difference check (3 points): failed: not "
        "answered yet (NotImplementedError)",
        "Question 2: the gradient-descent loop (4 points): failed: not answered yet "
        "(NotImplementedError)",
        "Question 3: how many steps does an accuracy cost? (2 points): failed: not answered yet "
        "(NotImplementedError)",
        "Visible tests passed: 0 of 9 points (the grade also counts hidden tests).",
    ]


def test_canonical_form_is_stable():
    notebook = source_notebook(ASSIGNMENTS[0])
    assert canonical(nbformat.reads(canonical(notebook), as_version=4)) == canonical(notebook)


def test_exercise_pages_are_in_the_book_and_solutions_are_not():
    toc = (ROOT / "_toc.yml").read_text()
    for name in ASSIGNMENTS:
        assert f"exercises/{name}/{name}" in toc, f"_toc.yml lacks exercises/{name}/{name}"
    assert "book/exercises" in toc
    assert "book/instructors" in toc
    assert "solutions/" not in toc
    config = (ROOT / "_config.yml").read_text()
    excluded = re.search(r"^\s*- solutions\s*$", config, re.MULTILINE)
    assert excluded, "_config.yml must exclude solutions/"
    assert "exercises/*/*.ipynb" in config, "exercise pages must not be executed by the build"
    overview = (ROOT / "book" / "exercises.md").read_text()
    for name in ASSIGNMENTS:
        assert f"{{doc}}`/exercises/{name}/{name}`" in overview


@pytest.mark.slow
def test_built_book_shows_exercises_but_no_secret(tmp_path_factory):
    from _book_build import build_once

    build = build_once(tmp_path_factory)
    if not (build.html / "index.html").is_file():
        pytest.fail("the book build produced no HTML\n" + build.failure_message())
    assert not (build.html / "solutions").exists()
    pages = {page: html_module.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
             for page in build.html.rglob("*.html")}
    for name in ASSIGNMENTS:
        page = build.html / "exercises" / name / f"{name}.html"
        assert page in pages, f"no page for {name}"
        assert "raise NotImplementedError()" in pages[page]
    # lines the chapters or the public reference code show (an update rule) are not secrets
    taught = "\n".join([cell.source for path in sorted((ROOT / "book").glob("*.ipynb"))
                        for cell in nbformat.read(path, as_version=4).cells]
                       + [path.read_text() for path in (ROOT / "gdcourse").glob("*.py")])
    secrets = {line for name in ASSIGNMENTS for line in secret_lines(source_notebook(name))
               if line not in taught}
    assert len(secrets) > 100
    for page, text in pages.items():
        leaked = [line for line in secrets if line in text]
        assert not leaked, (page, leaked[:3])

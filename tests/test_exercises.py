"""Graded exercises: solutions pass, stubs and wrong answers fail, exercises/ is in sync and clean.

The fast tests run each assignment's test cells (hidden tests included) in this process against
simulated answers (``tests/exercise_students.py``). The slow ones use real nbgrader and real
kernels: the Validator on every source notebook, the release into a temporary folder, and the
built book. ``tests/test_grade_pipeline.py`` grades a simulated class end to end.
"""

from __future__ import annotations

import html as html_module
import re

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS, PASSES_VISIBLE, secret_lines

from gdcourse.edition import install_cell, settings
from gdcourse.release import assignments, canonical, release

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

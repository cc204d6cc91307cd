"""Every committed notebook is clean, and every chapter runs top to bottom in a fresh kernel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import ROOT, chapter_notebooks

from gdcourse.edition import install_cell, settings

COMMITTED = sorted(
    path
    for folder in ("book", "solutions", "exercises")
    for path in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in path.parts
)
CHAPTERS = chapter_notebooks()


def toc_chapters() -> list[str]:
    """The chapter files of ``_toc.yml`` (``book/NN_name``), in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    return [name for name in files if re.fullmatch(r"book/\d\d_\w+", name)]


def glued_texts(notebook) -> set[str]:
    """The plain-text forms of every value a notebook glued (MyST-NB's ``scrapbook`` outputs)."""
    texts = set()
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "scrapbook" not in output.get("metadata", {}):
                continue
            texts.update(value for key, value in output.get("data", {}).items()
                         if key.endswith("text/plain"))
    return texts


def stray_reprs(notebook) -> list[str]:
    """Code cells that show a quoted string under them, e.g. ``'0.0'`` from a last ``glue_text``.

    A cell whose last line is an expression that evaluates to a ``str`` (``glue_text(...)``
    returns the formatted number) shows its repr as the cell's result, with quotes, on the page:
    never what a chapter means to show. Returns one message per such cell, naming the glued
    value when the string is one.
    """
    glued = glued_texts(notebook)
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type != "execute_result":
                continue
            text = output.get("data", {}).get("text/plain", "")
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, str):
                origin = "a glued value" if value in glued else "a string"
                problems.append(f"cell {index} shows {text} ({origin}): end the cell with a "
                                "statement, e.g. assign the result of glue_text")
    return problems


def _executed_cell(outputs):
    return nbformat.v4.new_code_cell("...", outputs=outputs)


def _glue_output(name, text):
    return nbformat.v4.new_output("display_data", data={
        "application/papermill.record/text/plain": text}, metadata={
        "scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


def test_stray_repr_detector_flags_a_glued_string_shown_under_its_cell():
    notebook = nbformat.v4.new_notebook(cells=[
        _executed_cell([_glue_output("x", "13.8944"),
                        nbformat.v4.new_output("execute_result", data={"text/plain": "'13.8944'"},
                                               execution_count=1)]),
    ])
    assert glued_texts(notebook) == {"13.8944"}
    [message] = stray_reprs(notebook)
    assert message.startswith("cell 0 shows '13.8944' (a glued value)")


def test_stray_repr_detector_accepts_glue_figures_and_non_string_results():
    notebook = nbformat.v4.new_notebook(cells=[
        _executed_cell([_glue_output("x", "0.0")]),                       # glued, not shown
        _executed_cell([nbformat.v4.new_output("execute_result", data={"text/plain": "152"},
                                               execution_count=2)]),      # a number, on purpose
        _executed_cell([nbformat.v4.new_output("execute_result",
                                               data={"text/plain": "<Figure size 640x480>",
                                                     "text/html": "<div></div>"},
                                               execution_count=3)]),
        _executed_cell([nbformat.v4.new_output("stream", name="stdout", text="'quoted'\n")]),
        nbformat.v4.new_markdown_cell("'0.0'"),
    ])
    assert stray_reprs(notebook) == []


def first_code_cell(notebook):
    return next(cell for cell in notebook.cells if cell.cell_type == "code")


def test_chapters_are_numbered_in_toc_order():
    chapters = toc_chapters()
    assert chapters, "_toc.yml lists no chapter book/NN_name"
    assert [f"book/{path.stem}" for path in CHAPTERS] == chapters, (
        "every book/NN_*.ipynb is a chapter of _toc.yml, in the order of its number")
    assert [path.name[:2] for path in CHAPTERS] == [f"{n:02d}" for n in range(1, len(CHAPTERS) + 1)]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} of {path.name} carries outputs"
            assert cell.execution_count is None, f"cell {index} of {path.name} has a count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_starts_with_guarded_install_cell(path):
    notebook = nbformat.read(path, as_version=4)
    cell = first_code_cell(notebook)
    assert "import gdcourse" in cell.source
    assert "except ImportError" in cell.source
    assert cell.source == install_cell(settings()), "run `make install-cells`"
    assert "hide-cell" in cell.metadata.get("tags", []), "the install cell must be collapsed"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_executes_in_fresh_kernel(path: Path):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    assert not stray_reprs(notebook), f"{path.name}: " + "; ".join(stray_reprs(notebook))
    # Execution time is measured by `make bench` (benchmarks/chapters.py), not asserted here.

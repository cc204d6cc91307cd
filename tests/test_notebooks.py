"""Every committed notebook is clean, and every chapter runs top to bottom in a fresh kernel."""

from __future__ import annotations

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
    # Execution time is measured by `make bench` (benchmarks/chapters.py), not asserted here.

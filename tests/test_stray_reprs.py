"""No chapter cell shows a glued string's repr (``'0.0'``) under its code.

``glue_text`` returns the formatted string so that code can reuse it; when such a call is the
last statement of a cell, Jupyter displays its repr below the cell, and the built page shows a
stray ``'0.0'``. The check is static (no kernel): the last statement of every code cell must not
be a bare ``glue_text(...)``/``glue_figure(...)`` call unless a trailing ``;`` silences it.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from conftest import chapter_notebooks

GLUE_CALLS = {"glue_text", "glue_figure", "glue"}


def displayed_glue_call(source: str) -> str | None:
    """The name of the glue function whose result the cell would display, else None."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
    tree = ast.parse(code)
    if not tree.body or source.rstrip().endswith(";"):
        return None
    last = tree.body[-1]
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        func = last.value.func
        name = getattr(func, "id", None) or getattr(func, "attr", None)
        if name in GLUE_CALLS:
            return name
    return None


def test_the_check_catches_a_displayed_glue_call():
    assert displayed_glue_call('x = 1\nglue_text("a", x, ".1f")') == "glue_text"
    assert displayed_glue_call('x = 1\nglue_text("a", x, ".1f");') is None
    assert displayed_glue_call('value = glue_text("a", 1, ".1f")') is None
    assert displayed_glue_call('glue_text("a", 1)\nplt.close(fig)') is None
    assert displayed_glue_call("%matplotlib inline\nbook.glue_figure('f', fig)") == "glue_figure"


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_no_code_cell_displays_a_glued_string(path):
    notebook = nbformat.read(path, as_version=4)
    offenders = [
        f"cell {index} ends with a bare {name}(...)"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (name := displayed_glue_call(cell.source))
    ]
    assert not offenders, f"{path.name}: " + "; ".join(offenders)

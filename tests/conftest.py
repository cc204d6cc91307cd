"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from _book_build import book_build, built_book  # noqa: F401  (session fixtures: one book build)

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
VENV_BIN = Path(sys.executable).parent

# Headless everywhere: figures render with Agg, widgets take their static fallback in builds.
os.environ.setdefault("MPLBACKEND", "Agg")
# Tools such as nbgrader and jupyter-book shell out to executables of this environment.
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def chapter_notebooks() -> list[Path]:
    """The chapter notebooks, in order (book/NN_*.ipynb)."""
    return sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

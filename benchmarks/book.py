"""Book build: a cold build (empty execution cache) and a warm rebuild after touching one chapter.

Target: warm rebuild < 15 s, because only the touched chapter re-executes. Builds go to a
temporary folder so a developer's _build is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks._timing import row

ROOT = Path(__file__).resolve().parent.parent


def _build(output: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "-W", "-n",
                    "--keep-going", "--path-output", str(output), str(ROOT)],
                   check=True, capture_output=True, env={**os.environ, "GDCOURSE_STATIC": "1"})
    return time.perf_counter() - start


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch)
        cold = _build(output)
        chapter = ROOT / "book" / "02_gradient_descent.ipynb"
        original = chapter.read_bytes()
        try:
            notebook = nbformat.read(chapter, as_version=4)
            code = next(c for c in notebook.cells if c.cell_type == "code" and "import numpy" in c.source)
            code.source += "\n# touched by the benchmark"
            nbformat.write(notebook, chapter)
            warm = _build(output)
        finally:
            chapter.write_bytes(original)
        shutil.rmtree(output / "_build", ignore_errors=True)
    return [row("book", "cold build (empty cache)", cold, "s"),
            row("book", "warm rebuild, one chapter touched", warm, "s", target="< 15 s",
                ok=warm < 15)]

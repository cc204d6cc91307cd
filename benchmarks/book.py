"""Book build: a cold build (empty execution cache) and a warm rebuild after touching one chapter.

Targets: cold build < 4 min on 2 cores (its CPU time, the build's and its kernels', is shown
beside the wall time: on a shared machine the wall time also counts other people's jobs); warm
rebuild < 15 s, because only the touched chapter re-executes; every chapter page with an
explorer (its interactive static view inside) <= 3 MB. Builds go to a temporary folder so a
developer's _build is left alone.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks._timing import row

ROOT = Path(__file__).resolve().parent.parent


EXPLORER_CALL = re.compile(r"\b(?:lr_explorer|batch_size_explorer|momentum_explorer|"
                           r"optimizer_comparison)\(")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _explorer_pages() -> list[Path]:
    return [path for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
            if any(cell.cell_type == "code" and EXPLORER_CALL.search(cell.source)
                   for cell in nbformat.read(path, as_version=4).cells)]


def _build(output: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "-W", "-n",
                    "--keep-going", "--path-output", str(output), str(ROOT)],
                   check=True, capture_output=True, env={**os.environ, "GDCOURSE_STATIC": "1"})
    return time.perf_counter() - start


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch)
        cpu0 = _children_cpu()
        cold = _build(output)
        cold_cpu = _children_cpu() - cpu0
        html = output / "_build" / "html"
        pages = [row("book", f"page size: {path.stem} (with explorer)",
                     (html / "book" / f"{path.stem}.html").stat().st_size / 1e6, "MB",
                     target="<= 3 MB",
                     ok=(html / "book" / f"{path.stem}.html").stat().st_size <= 3e6)
                 for path in _explorer_pages()]
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
    return [row("book", "cold build (empty cache)", cold, "s", target="< 240 s", ok=cold < 240,
                cpu_s=round(cold_cpu, 1)),
            *pages,
            row("book", "warm rebuild, one chapter touched", warm, "s", target="< 15 s",
                ok=warm < 15)]

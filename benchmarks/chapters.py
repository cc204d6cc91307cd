"""Chapter execution: wall time and peak memory of each chapter notebook in a fresh kernel.

Targets: every chapter < 20 s and < 500 MB resident memory (Binder gives 1-2 GB and a slow CPU);
the whole book < 2 minutes. Peak memory is the kernel process's maximum RSS, sampled every 50 ms
with psutil while the notebook runs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from benchmarks._timing import row

BOOK = Path(__file__).resolve().parent.parent / "book"


def _run(path: Path) -> tuple[float, float]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            manager = client.km
            if manager is None or not manager.has_kernel:
                continue
            try:
                process = psutil.Process(manager.provisioner.pid)
                peak[0] = max(peak[0], process.memory_info().rss)
            except (psutil.Error, AttributeError, TypeError):
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return elapsed, peak[0] / 2**20


def run() -> list[dict]:
    os.environ.setdefault("GDCOURSE_STATIC", "1")  # as in the book build
    rows, total = [], 0.0
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        seconds, megabytes = _run(path)
        total += seconds
        rows.append(row("chapters", f"{path.stem} execute", seconds, "s", target="< 20 s",
                        ok=seconds < 20))
        rows.append(row("chapters", f"{path.stem} peak kernel RSS", megabytes, "MiB",
                        target="< 500 MiB", ok=megabytes < 500))
    rows.append(row("chapters", "all chapters, sequential", total, "s", target="< 120 s",
                    ok=total < 120))
    return rows

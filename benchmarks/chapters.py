"""Chapter execution: wall time, kernel CPU time and peak memory of each chapter in a fresh kernel.

Targets: every chapter executes in < 15 s and < 500 MB resident memory (Binder gives 1-2 GB and a
slow CPU); the whole book < 2 minutes. Wall time includes starting the kernel. The kernel's CPU
time (user + system) is what the chapter's code costs: on a machine that other work is loading,
it moves much less than the wall time. Peak memory is the kernel process's maximum RSS. Both are
sampled every 50 ms with psutil while the notebook runs.
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
SECONDS, MEBIBYTES, BOOK_SECONDS = 15.0, 500.0, 120.0


def _run(path: Path) -> tuple[float, float, float]:
    """Wall seconds, kernel CPU seconds and peak kernel RSS (MiB) of executing ``path``."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    peak, cpu = [0], [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            manager = client.km
            if manager is None or not manager.has_kernel:
                continue
            try:
                process = psutil.Process(manager.provisioner.pid)
                peak[0] = max(peak[0], process.memory_info().rss)
                times = process.cpu_times()
                cpu[0] = max(cpu[0], times.user + times.system)
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
    return elapsed, cpu[0], peak[0] / 2**20


def chapter_rows(name: str, seconds: float, cpu_seconds: float, megabytes: float) -> list[dict]:
    """The rows of one chapter: its time (verdict: < 15 s) and its memory (< 500 MiB)."""
    return [
        row("chapters", f"{name} execute", seconds, "s", target=f"< {SECONDS:g} s",
            ok=seconds < SECONDS, kernel_cpu_s=cpu_seconds),
        row("chapters", f"{name} peak kernel RSS", megabytes, "MiB",
            target=f"< {MEBIBYTES:g} MiB", ok=megabytes < MEBIBYTES),
    ]


def run() -> list[dict]:
    os.environ.setdefault("GDCOURSE_STATIC", "1")  # as in the book build
    rows, total = [], 0.0
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        seconds, cpu_seconds, megabytes = _run(path)
        total += seconds
        rows.extend(chapter_rows(path.stem, seconds, cpu_seconds, megabytes))
    rows.append(row("chapters", "all chapters, sequential", total, "s",
                    target=f"< {BOOK_SECONDS:g} s", ok=total < BOOK_SECONDS))
    return rows

"""Grading speed: seconds per notebook through the real pipeline (``python -m gdcourse.grade``).

For every assignment a small class of correct submissions is graded with real nbgrader and real
kernels (nbgrader start-up, a fresh kernel, every visible and hidden test); the figure is the
median wall time per notebook. Beside it: the hidden tests alone, run in this process (what the
tests themselves cost), and ``make exercises`` (regenerating every student notebook). Target: a
class of 100 on one assignment in under 15 minutes on a 2-core machine, i.e. < 9 s per notebook.

    GDCOURSE_BENCH_STUDENTS=5 python -m benchmarks grading     # more students per assignment
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks._timing import row
from gdcourse.grade import grade
from gdcourse.release import EXERCISES, SOLUTIONS, assignments, release

TARGET_SECONDS = 9.0


def _solution_submission(name: str) -> str:
    """The student notebook with every answer cell filled in from the solution."""
    source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    answers = {cell.id: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", cell.source)
               for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        cell.source = answers.get(cell.id, cell.source)
    return nbformat.writes(notebook)


def _tests_in_process(name: str) -> float:
    """Seconds to run the source notebook's code (solutions, visible and hidden tests) here."""
    notebook = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    code = [compile(cell.source, cell.id, "exec") for cell in notebook.cells
            if cell.cell_type == "code" and cell.id != "install"]
    start = time.perf_counter()
    namespace: dict = {}
    for block in code:
        exec(block, namespace)
    return time.perf_counter() - start


def run() -> list[dict]:
    students = int(os.environ.get("GDCOURSE_BENCH_STUDENTS", "3"))
    names = assignments()
    rows = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        start = time.perf_counter()
        release(output=scratch / "release")
        rows.append(row("grading", "make exercises (all assignments)", time.perf_counter() - start,
                        "s", target="< 30 s", ok=time.perf_counter() - start < 30))
        folder = scratch / "class"
        for index in range(students):
            for name in names:
                path = folder / f"student{index}" / f"{name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(_solution_submission(name))
        start = time.perf_counter()
        results = grade(folder, names, scratch / "grading", echo=lambda line: None)
        total = time.perf_counter() - start
    per_assignment: dict[str, list[float]] = {}
    for result in results:
        if result.score != result.max_score:
            raise RuntimeError(f"a correct submission scored {result.score}/{result.max_score}: "
                               f"{result.student} {result.assignment} {result.notes}")
        per_assignment.setdefault(result.assignment, []).append(result.seconds)
    every = [seconds for values in per_assignment.values() for seconds in values]
    for name in names:
        median = statistics.median(per_assignment[name])
        rows.append(row("grading", f"autograde {name} (median of {students})", median,
                        "s/notebook", target=f"< {TARGET_SECONDS:g} s", ok=median < TARGET_SECONDS,
                        hidden_tests_s=round(_tests_in_process(name), 3)))
    rows.append(row("grading", f"autograde, all {len(every)} notebooks", statistics.median(every),
                    "s/notebook", target=f"< {TARGET_SECONDS:g} s",
                    ok=statistics.median(every) < TARGET_SECONDS, total_s=round(total, 1)))
    return rows

"""Grading throughput: seconds per submitted notebook, our pipeline next to plain nbgrader.

A simulated class hands in correct solutions to two assignments (ch06_momentum, ch08_adam); for
each class size (10, 20 and 40 students by default) the same submissions are graded twice, side
by side in this process, with real nbgrader and real kernels:

- plain nbgrader: what an instructor does without our pipeline, in a fresh course folder with the
  assignments registered (``nbgrader generate_assignment``, not timed) and the submissions in
  ``submitted/``: one sequential ``nbgrader autograde <assignment>`` over the whole class per
  assignment (nbgrader starts once per assignment; default configuration, plain kernels);
- ``gdcourse.grade``: the whole pipeline, ``grade()`` with its default number of workers (one per
  CPU available), timed from the call to its return: sandbox check, registering the assignments,
  grading in the sandbox, feedback pages, report.

Every notebook must get full marks in both, else the benchmark fails. Rows: seconds per notebook
(total wall time / notebooks) for each, the speed-up of the pipeline over plain nbgrader (target
>= 1.7x on 2 cores), and linearity. Both ways pay a fixed cost per run (starting nbgrader,
registering the assignments, checking the sandbox) and then a cost per notebook; the time is
linear in the class when every added notebook costs the same, whatever the class size. So the
linearity row divides the marginal seconds per notebook between the two largest classes by that
between the two smallest (target 0.75-1.25), with the least squares fit total = intercept +
slope x notebooks alongside. Values are medians over
``GDCOURSE_BENCH_REPEATS`` runs (default 1: a class of 40 takes minutes).

    python -m benchmarks grading                                    # 10, 20, 40 students
    GDCOURSE_BENCH_STUDENTS=10,20 python -m benchmarks grading      # a quicker run
    GDCOURSE_BENCH_REPEATS=3 python -m benchmarks grading
    GDCOURSE_BENCH_ASSIGNMENTS=ch04_minibatch,ch10_training_loop python -m benchmarks grading
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks._timing import row
from gdcourse.grade import default_workers, grade
from gdcourse.release import EXERCISES, SOLUTIONS

# GDCOURSE_BENCH_ASSIGNMENTS=ch04_minibatch,ch10_training_loop grades other assignments (the
# callback-heavy ones, where the kernel round trip weighs most)
ASSIGNMENTS = [name.strip() for name in os.environ.get(
    "GDCOURSE_BENCH_ASSIGNMENTS", "ch06_momentum,ch08_adam").split(",") if name.strip()]
TARGET_SPEEDUP = 1.7
LINEAR = (0.75, 1.25)  # marginal s/notebook, largest classes / smallest classes


def _solution_submission(name: str) -> str:
    """The student notebook with every answer cell filled in from the solution."""
    source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    answers = {cell.id: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", cell.source)
               for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        cell.source = answers.get(cell.id, cell.source)
    return nbformat.writes(notebook)


def _sizes() -> list[int]:
    text = os.environ.get("GDCOURSE_BENCH_STUDENTS", "10,20,40")
    sizes = sorted({int(part) for part in text.replace(" ", "").split(",") if part})
    if not sizes or sizes[0] < 1:
        raise ValueError(f"GDCOURSE_BENCH_STUDENTS must list class sizes >= 1, got {text!r}")
    return sizes


def _students(count: int) -> list[str]:
    return [f"student{index:03d}" for index in range(count)]


def _environment() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _nbgrader(args: list[str], course: Path) -> None:
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=course,
                         env=_environment(), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{run.stderr[-3000:]}")


def _plain_course(course: Path) -> None:
    """A fresh nbgrader course folder with the assignments registered (not timed)."""
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n")
    for name in ASSIGNMENTS:
        shutil.copytree(SOLUTIONS / name, course / "source" / name)
        _nbgrader(["generate_assignment", name], course)


def _plain(course: Path, texts: dict[str, str], students: list[str]) -> float:
    """Seconds for sequential ``nbgrader autograde`` over the class, one run per assignment."""
    from nbgrader.api import Gradebook

    for student in students:
        for name in ASSIGNMENTS:
            path = course / "submitted" / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text(texts[name])
    start = time.perf_counter()
    for name in ASSIGNMENTS:
        _nbgrader(["autograde", name], course)
    seconds = time.perf_counter() - start
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "bench") as gradebook:
        for name in ASSIGNMENTS:
            for student in students:
                notebook = gradebook.find_submission_notebook(name, name, student)
                if notebook.score != notebook.max_score:
                    raise RuntimeError(f"plain nbgrader gave a correct submission "
                                       f"{notebook.score}/{notebook.max_score}: {student} {name}")
    return seconds


def _pipeline(folder: Path, grading_dir: Path, texts: dict[str, str],
              students: list[str]) -> tuple[float, float]:
    """Seconds for ``grade()`` over the class, and the part before the first notebook started."""
    for student in students:
        for name in ASSIGNMENTS:
            path = folder / student / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(texts[name])
    marks: list[float] = []
    start = time.perf_counter()
    results = grade(folder, ASSIGNMENTS, grading_dir,
                    echo=lambda line: marks.append(time.perf_counter())
                    if line.startswith("grading ") else None)
    seconds = time.perf_counter() - start
    if len(results) != len(students) * len(ASSIGNMENTS):
        raise RuntimeError(f"{len(results)} results for {len(students)} students")
    for result in results:
        if (result.status, result.score) != ("graded", result.max_score):
            raise RuntimeError(f"the pipeline gave a correct submission {result.score}/"
                               f"{result.max_score} ({result.status}): {result.student} "
                               f"{result.assignment} {result.notes}")
    return seconds, (marks[0] - start if marks else 0.0)


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares total = intercept + slope * notebooks."""
    if len(points) < 2:
        return 0.0, points[0][1] / points[0][0]
    slope, intercept = statistics.linear_regression([n for n, _ in points],
                                                    [t for _, t in points])
    return intercept, slope


def linearity(points: list[tuple[int, float]]) -> float:
    """Seconds per added notebook between the two largest classes over that between the two
    smallest, from (notebooks, total seconds) points: 1 when the time is linear in the class."""
    points = sorted(points)
    if len(points) < 3:
        raise ValueError(f"linearity needs at least 3 class sizes, got {len(points)}")

    def marginal(a: tuple[int, float], b: tuple[int, float]) -> float:
        return (b[1] - a[1]) / (b[0] - a[0])

    return marginal(points[-2], points[-1]) / marginal(points[0], points[1])


def run() -> list[dict]:
    sizes = _sizes()
    repeats = max(1, int(os.environ.get("GDCOURSE_BENCH_REPEATS", "1")))
    workers = default_workers()
    texts = {name: _solution_submission(name) for name in ASSIGNMENTS}
    plain: dict[int, list[float]] = {size: [] for size in sizes}
    ours: dict[int, list[float]] = {size: [] for size in sizes}
    setup: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        # warm-up (untimed): both ways once on one student, so neither pays for cold caches
        _plain_course(scratch / "warm-course")
        _plain(scratch / "warm-course", texts, _students(1))
        _pipeline(scratch / "warm-class", scratch / "warm-grading", texts, _students(1))
        for repeat in range(repeats):
            for size in sizes:
                students = _students(size)
                tag = f"{size}-{repeat}"
                _plain_course(scratch / f"course-{tag}")
                plain[size].append(_plain(scratch / f"course-{tag}", texts, students))
                seconds, before = _pipeline(scratch / f"class-{tag}", scratch / f"grading-{tag}",
                                            texts, students)
                ours[size].append(seconds)
                setup[size].append(before)
    rows = []
    for size in sizes:
        notebooks = size * len(ASSIGNMENTS)
        plain_s = statistics.median(plain[size])
        ours_s = statistics.median(ours[size])
        rows.append(row("grading", f"plain nbgrader autograde, {size} students x 2",
                        plain_s / notebooks, "s/notebook", total_s=round(plain_s, 1),
                        runs=len(plain[size])))
        rows.append(row("grading", f"gdcourse.grade ({workers} workers), {size} students x 2",
                        ours_s / notebooks, "s/notebook", total_s=round(ours_s, 1),
                        setup_s=round(statistics.median(setup[size]), 1),
                        runs=len(ours[size])))
        ratio = plain_s / ours_s
        rows.append(row("grading", f"speed-up over plain nbgrader, {size} students", ratio, "x",
                        target=f">= {TARGET_SPEEDUP:g}x", ok=ratio >= TARGET_SPEEDUP))
    if len(sizes) > 2:
        for label, totals in (("plain nbgrader", plain), ("gdcourse.grade", ours)):
            points = [(size * len(ASSIGNMENTS), statistics.median(totals[size]))
                      for size in sizes]
            ratio = linearity(points)
            intercept, slope = _fit(points)
            rows.append(row("grading", f"{label}: s per added notebook, {sizes[-2]}->{sizes[-1]} "
                            f"/ {sizes[0]}->{sizes[1]} students", ratio, "x",
                            target=f"{LINEAR[0]:g}-{LINEAR[1]:g}",
                            ok=LINEAR[0] <= ratio <= LINEAR[1], slope_s=round(slope, 3),
                            intercept_s=round(intercept, 1)))
    return rows

"""Grade a class: autograde submitted notebooks with nbgrader, write grades and safe feedback.

    python -m gdcourse.grade SUBMISSIONS [--assignment NAME ...] [--grading-dir grading]
                                         [--timeout SECONDS] [--workers N] [--regrade]
                                         [--no-sandbox [--kernel NAME]]
                                                                (make grade SUBMISSIONS=...)

SUBMISSIONS is a folder holding, for each student, either

- ``<student>/<assignment>.ipynb`` or ``<student>/<assignment>/<assignment>.ipynb`` (any notebook
  whose name contains the assignment's name, e.g. ``ch08_adam (1).ipynb``), or
- a ``.zip`` exported by an LMS: Canvas style, flat files
  ``<student>_<anything>_<assignment>.ipynb`` (the student is the part before the first
  underscore), or Moodle style, one folder per student
  ``<Full Name>_<id>_assignsubmission_file_/<assignment>.ipynb``.

For every submission the pipeline copies it into ``grading/submitted``, runs ``nbgrader
autograde`` (real kernels, a per-cell timeout, test cells restored from the gradebook), reads the
scores from the gradebook and writes

- ``grading/grades.csv``: one row per student and assignment with score, maximum, status and
  notes, for every grade this grading folder has ever recorded (earlier runs included);
- ``grading/feedback/<student>/<assignment>.html``: the student's notebook with the scores, the
  visible tests and the error messages, with the hidden tests and all tracebacks removed;
- ``grading/report.json``: the same results with the submission's checksum and the history of
  earlier grades; ``grading/history/`` keeps every earlier ``grades.csv``.

Notebooks are graded ``--workers`` at a time (default: one per CPU), each by a long-lived worker
process that imported nbgrader once; the workers share the one SQLite gradebook (write-ahead
logging, a busy timeout), and only the pipeline writes the report. A notebook that runs past a
generous safety limit has its worker killed (kernel included) and scores 0, and a fresh worker
takes the next one.

Running again never loses a grade: the report is updated after every student, a submission that
did not change since it was graded (same notebook, same tests) keeps its grade without running
again (``--regrade`` runs it anyway), and a student or assignment without a new submission keeps
the earlier grade.

Bad submissions are graded, never crashed on: an infinite loop costs the timed-out question, an
exception or ``sys.exit`` the questions it breaks, a cell that kills the kernel (``os._exit``, a
crash, memory) is marked as failed and the kernel restarted to grade the rest
(:class:`ResilientExecute`), edited or deleted test cells are restored, and an invalid or missing
notebook scores 0; each gets a line in the report.

Every kernel runs in the grading sandbox (:mod:`gdcourse.grader.sandbox`: bubblewrap, no network,
``solutions/``, the gradebook and the other students' folders invisible, resource limits). Before
grading anyone the pipeline starts one sandboxed kernel and checks from inside that the sandbox
holds, and stops with the reason if it does not. ``--no-sandbox`` grades without it, with a
warning; ``--kernel NAME`` (only with ``--no-sandbox``) runs the submissions in another
kernelspec, checked the same way (:func:`check_kernel`) before grading.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from gdcourse.grader.collect import MAX_NOTEBOOK_BYTES, collect_submissions, restore_structure
from gdcourse.grader.execute import ROOT, _Nbgrader, autograde_preprocessors, check_kernel
from gdcourse.grader.feedback import QUOTED_NOTE, _write_feedback, sanitize_feedback  # noqa: F401
from gdcourse.grader.record import (
    Result,
    _checkpoint,
    _execution_notes,
    _gradebook,  # noqa: F401  (gdcourse.grade._gradebook: tests open the gradebook)
    _gradebook_scores,
    _load_report,
    _now,
    _record,
    _save_report,
    _sha256,
    _tampering_notes,
    _use_wal,
)
from gdcourse.grader.workers import REGISTER_LIMIT, _check_workers, _Pool, _serve, default_workers  # noqa: F401
from gdcourse.release import is_check_all

if TYPE_CHECKING:
    from gdcourse.grader.workers import _InProcessNbgrader

UNSANDBOXED = ("WARNING: grading WITHOUT the sandbox (--no-sandbox): student code runs with your "
               "permissions and can read solutions/, the gradebook and other submissions, write "
               "where you can and use the network")

__all__ = ["Result", "autograde_preprocessors", "check_kernel", "collect_submissions", "grade", "main",
           "sanitize_feedback"]


def _safety_limit(path: Path, timeout: int, released: Path | None = None) -> float:
    """Seconds after which the pipeline stops grading a notebook (kills its worker): twice the
    per-cell limit for every code cell of the *released* notebook (``released``; the
    submission ``path`` only when there is none) and five more, plus two minutes. A budget for
    the submission as a whole: a student's added cells share it, so a thousand cells do not buy
    hours."""
    code_cells = 0
    source = released if released is not None and released.exists() else path
    # Not a notebook (unreadable, not UTF-8, not JSON): the worker says so at once.
    with contextlib.suppress(OSError, ValueError):
        if source.stat().st_size <= MAX_NOTEBOOK_BYTES:
            notebook = json.loads(source.read_text(encoding="utf-8"))
            cells = notebook.get("cells") if isinstance(notebook, dict) else None
            if isinstance(cells, list):
                code_cells = sum(isinstance(c, dict) and c.get("cell_type") == "code"
                                 for c in cells)
    return 120 + timeout * (code_cells + 5) * 2


def _grade_one(nbgrader: _InProcessNbgrader, student: str, assignment: str, path: Path,
               released: Path, base: Result) -> Result:
    """Grade one notebook (in a worker): check it, copy it into submitted/, autograde it, read
    its scores from the gradebook and write its feedback."""
    grading_dir = nbgrader.grading_dir
    result = base
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError("larger than 20 MB")
        notebook = nbformat.read(path, as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise TypeError("no cells")
    # The file is the student's: whatever nbformat raises on it (OSError, ValueError, but also
    # KeyError, AttributeError, RecursionError... on odd JSON) means unreadable, graded 0.
    except Exception as error:  # noqa: BLE001  (untrusted file: any failure to read it scores 0)
        result.status = "invalid notebook"
        result.notes.append(f"not a valid notebook file ({type(error).__name__}); scored 0")
        return result
    released_notebook = nbformat.read(released, as_version=4)
    # The "check all" cell is the student's own tool: never run, never compared (edited or
    # deleted, it is no one's business), so it leaves both notebooks before anything else.
    notebook.cells = [cell for cell in notebook.cells if not is_check_all(cell)]
    released_notebook.cells = [cell for cell in released_notebook.cells if not is_check_all(cell)]
    tampering = _tampering_notes(notebook, released_notebook)
    try:
        notebook, repairs, recovered = restore_structure(notebook, released_notebook)
    except Exception as error:  # noqa: BLE001  (untrusted structure: too odd to repair, noted)
        repairs, recovered = [f"its structure could not be checked ({type(error).__name__})"], set()
    result.notes += [note for note in tampering
                     if not any(note.startswith(f"{name}: cell deleted") for name in recovered)]
    result.notes += repairs
    submitted = grading_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    if submitted.parent.exists():
        shutil.rmtree(submitted.parent)
    submitted.parent.mkdir(parents=True)
    try:
        nbformat.write(notebook, submitted)
    except Exception as error:  # noqa: BLE001  (untrusted metadata nbformat cannot write: 0)
        result.status = "invalid notebook"
        result.notes.append(f"not a valid notebook file ({type(error).__name__}); scored 0")
        return result
    failure = nbgrader.autograde(assignment, student)
    scores = _gradebook_scores(grading_dir, student, assignment)
    autograded = grading_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
    if failure is not None or scores is None or not autograded.exists():
        result.status = "failed"
        result.notes.append((failure or "nbgrader could not grade it") + "; scored 0")
        return result
    score, maximum, questions = scores
    result.score, result.max_score = float(score), float(maximum)
    result.questions = {name: [float(got), float(most)] for name, (got, most) in questions.items()}
    result.notes += _execution_notes(autograded, nbgrader.timeout)
    _write_feedback(autograded, grading_dir / "feedback" / student / f"{assignment}.html",
                    result, questions)
    return result


def _enter_sandbox(nbgrader: _Nbgrader, scratch: Path, limits) -> None:
    """Make every kernel of this run a sandboxed one (checked by :func:`_check_sandbox`)."""
    from gdcourse.grader import sandbox

    if sandbox.bubblewrap() is None:
        raise RuntimeError("the grading sandbox needs bubblewrap, which is not installed "
                           "(Debian/Ubuntu: apt-get install bubblewrap); --no-sandbox grades "
                           "without it, unsafely")
    folder = scratch / "jupyter"
    sandbox.install_kernelspec(folder, limits)
    env = nbgrader.env
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(folder), env.get("JUPYTER_PATH"))
                                          if p)
    env["GDCOURSE_GRADING_KERNEL"] = sandbox.KERNEL_NAME
    env["GDCOURSE_SANDBOX"] = "1"


def _check_sandbox(nbgrader: _Nbgrader, limits, echo) -> None:
    """Check from inside a sandboxed kernel that the sandbox holds (the gradebook, solutions and
    submissions invisible, no network, limits)."""
    from gdcourse.grader import sandbox
    from gdcourse.release import SOLUTIONS

    env = nbgrader.env
    canary = nbgrader.grading_dir / "submitted" / ".sandbox-check"
    canary.parent.mkdir(parents=True, exist_ok=True)
    canary.write_text("the grading sandbox must hide this file")
    try:
        found = sandbox.verify(env, limits,
                               [canary, SOLUTIONS, nbgrader.grading_dir / "gradebook.db"])
    except sandbox.SandboxError as error:
        raise RuntimeError(f"{error}; --no-sandbox grades without it, unsafely") from None
    finally:
        canary.unlink()
    echo(f"sandbox: every kernel runs in bubblewrap with no network, {limits.memory_mib} MiB, "
         f"{limits.cpu_seconds} s of CPU, {limits.processes} processes (checked); memory "
         f"bound: {found['memory_bound']}")


def grade(submissions: Path, assignments: list[str] | None = None,
          grading_dir: Path | None = None, timeout: int = 30, *, kernel: str | None = None,
          regrade: bool = False, sandbox: bool = True, limits=None, workers: int | None = None,
          echo: Callable[[str], object] = print) -> list[Result]:
    """Grade every submission in ``submissions``; return the results of this run (submissions
    graded now, missing ones, and unchanged ones whose earlier grade was kept), sorted by
    student and assignment.

    ``workers`` notebooks are graded at a time (default: one per CPU this process may use).
    Kernels run in the grading sandbox with ``limits`` (a :class:`gdcourse.grader.sandbox.Limits`,
    default ones when None); ``sandbox=False`` grades without it, with a warning, and only then
    may ``kernel`` name another kernelspec to run the submissions."""
    from gdcourse.release import SOLUTIONS
    from gdcourse.release import assignments as all_assignments

    names = assignments or all_assignments()
    unknown = [name for name in names if not (SOLUTIONS / name).is_dir()]
    if unknown:
        raise ValueError(f"no such assignment: {', '.join(unknown)}")
    if sandbox and kernel:
        raise ValueError(f"kernel={kernel!r} replaces the sandboxed kernel: pass "
                         f"sandbox=False (--no-sandbox) with it")
    if limits is not None and not sandbox:
        raise ValueError("limits apply to the sandbox: they need sandbox=True")
    workers = _check_workers(workers)
    from gdcourse.grader.sandbox import Limits

    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a gdcourse.grader.sandbox.Limits, got {type(limits).__name__}")
    grading_dir = Path(grading_dir or ROOT / "grading").resolve()
    grading_dir.mkdir(parents=True, exist_ok=True)
    nbgrader = _Nbgrader(grading_dir, timeout, kernel)
    report = _load_report(grading_dir)
    results: list[Result] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if sandbox:
            _enter_sandbox(nbgrader, scratch, limits)
        sources = {name: _sha256(SOLUTIONS / name / f"{name}.ipynb") for name in names}
        collect_notes: dict[tuple[str, str], list[str]] = {}
        found = collect_submissions(Path(submissions), names, scratch, collect_notes)
        students = sorted({student for student, _ in found})
        todo = [(s, a) for s in students for a in names]
        hashes = {key: _sha256(path) for key, path in found.items()}
        kept = {key for key in found if not regrade and (earlier := report.get("/".join(key)))
                and earlier.get("status") != "failed"  # a failed run is never kept: run again
                and earlier.get("submission_sha256") == hashes[key]
                and earlier.get("source_sha256") == sources[key[1]]}
        to_grade = [key for key in todo if key in found and key not in kept]
        # The workers start (importing nbgrader) and register the assignments while the kernel
        # or the sandbox is checked; nothing is graded before that check has passed.
        pool = _Pool(nbgrader.env, min(workers, max(1, len(to_grade))), scratch)
        try:
            pool.submit("register", {"do": "register", "names": names,
                                     "release": str(scratch / "release"),
                                     "students": sorted({s for s, _ in to_grade})},
                        REGISTER_LIMIT)
            if sandbox:
                _check_sandbox(nbgrader, limits, echo)
            else:
                echo(UNSANDBOXED)
                check_kernel(kernel or "python3", nbgrader.env)
            ((_, reply, failure, _),) = pool.wait()
            if reply is None or "max_scores" not in reply:
                detail = failure or (reply["error"].strip().splitlines() or [""])[-1]
                raise RuntimeError(f"could not register {', '.join(names)} in the gradebook: "
                                   f"{detail[-2000:]}")
            max_scores = reply["max_scores"]
            _use_wal(grading_dir)  # before two workers write to it
            echo(f"grading {len(found)} notebooks of {len(students)} students "
                 f"({', '.join(names)}) into {grading_dir}"
                 + (f" with {pool.size} workers" if pool.size > 1 else ""))
            counter = iter(range(1, len(todo) + 1))

            def finish(result: Result, shown: str) -> None:
                results.append(result)
                _record(report, result)
                _save_report(grading_dir, report)  # after every notebook: nothing is lost
                notes = f" - {'; '.join(result.notes)}" if result.notes else ""
                echo(f"[{next(counter)}/{len(todo)}] {result.student} {result.assignment}:"
                     f"{shown} {result.score:g}/{result.max_score:g} {result.status}{notes}")

            bases = {}
            for student, assignment in todo:
                key = f"{student}/{assignment}"
                earlier = report.get(key)
                base = Result(student, assignment, 0.0, max_scores[assignment],
                              notes=list(collect_notes.get((student, assignment), [])),
                              source_sha256=sources[assignment], graded_at=_now())
                if (student, assignment) not in found:
                    if earlier:
                        echo(f"[{next(counter)}/{len(todo)}] {student} {assignment}: no new "
                             f"submission, earlier grade kept "
                             f"({earlier['score']:g}/{earlier['max_score']:g})")
                        continue
                    base.status = "missing"
                    base.notes.append("no notebook submitted; scored 0")
                    finish(base, "")
                elif (student, assignment) in kept:
                    echo(f"[{next(counter)}/{len(todo)}] {student} {assignment}: unchanged since "
                         f"{earlier.get('graded_at', 'earlier')}, grade kept "
                         f"({earlier['score']:g}/{earlier['max_score']:g})")
                    results.append(Result(**{k: v for k, v in earlier.items() if k != "history"}))
                else:
                    base.submission_sha256 = hashes[student, assignment]
                    bases[student, assignment] = base
            for student, assignment in to_grade:
                path = found[student, assignment]
                pool.submit((student, assignment), {
                    "do": "grade", "student": student, "assignment": assignment,
                    "path": str(path), "released": str(scratch / "release" / assignment /
                                                       f"{assignment}.ipynb"),
                    "base": asdict(bases[student, assignment])},
                    _safety_limit(path, timeout, scratch / "release" / assignment /
                                  f"{assignment}.ipynb"))
            while pool.busy():
                for key, reply, why, seconds in pool.wait():
                    result = bases[key]
                    if reply is not None and "result" in reply:
                        result = Result(**reply["result"])
                    else:
                        result.status = "failed"
                        failure = why
                        if reply is not None:
                            lines = reply.get("error", "").strip().splitlines()
                            failure = "the grader failed" + (f" ({lines[-1][-200:]})"
                                                             if lines else "")
                        result.notes.append(f"{failure}; scored 0")
                    result.notes = list(dict.fromkeys(result.notes))
                    result.seconds = round(seconds, 3)
                    finish(result, f" ({result.seconds:.1f} s)")
        except BaseException:
            pool.close(kill=True)
            raise
        else:
            pool.close()
        finally:
            _checkpoint(grading_dir)
    csv_path = _save_report(grading_dir, report)
    echo(f"done in {time.perf_counter() - started:.0f} s; grades: {csv_path}; feedback: "
         f"{grading_dir / 'feedback'}")
    return sorted(results, key=lambda result: (result.student, result.assignment))


def _workers_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gdcourse.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of submissions (or of LMS zips)")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--grading-dir", type=Path, default=ROOT / "grading",
                        help="where grades, feedback and the gradebook live (default: grading/)")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without the sandbox (unsafe: student code runs with your "
                             "permissions); prints a warning")
    parser.add_argument("--kernel", help="with --no-sandbox: kernelspec that runs the submissions "
                                         "(default: the notebook's own, python3)")
    parser.add_argument("--workers", type=_workers_argument, default=None, metavar="N",
                        help="notebooks graded at a time (default: the number of CPUs available, "
                             f"here {default_workers()})")
    parser.add_argument("--regrade", action="store_true",
                        help="grade unchanged submissions again (fresh random test inputs)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if args.timeout < 1:
        parser.error("--timeout must be at least 1 second")
    if args.kernel and not args.no_sandbox:
        parser.error("--kernel replaces the sandboxed kernel: add --no-sandbox to confirm")

    try:
        grade(args.submissions, args.assignments, args.grading_dir, args.timeout,
              kernel=args.kernel, regrade=args.regrade, sandbox=not args.no_sandbox,
              workers=args.workers)
    except (RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

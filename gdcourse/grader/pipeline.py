"""Grade a class: autograde submitted notebooks with nbgrader, write grades and safe feedback.

    python -m gdcourse.grade SUBMISSIONS [--assignment NAME ...] [--grading-dir grading]
                                         [--timeout SECONDS] [--workers N] [--regrade]
                                         [--replay STUDENT ASSIGNMENT]
                                         [--no-sandbox [--kernel NAME]]
                                                                (make grade SUBMISSIONS=...)

SUBMISSIONS is a folder (or one LMS zip file) holding, in any mix (:mod:`gdcourse.grader.collect`),

- ``<student>/<assignment>.ipynb`` or ``<student>/<assignment>/<assignment>.ipynb`` (any notebook
  whose name contains the assignment's name, ignoring case and punctuation, e.g.
  ``Copy of ch08_adam (1).ipynb``); the student's key is the folder's name, Unicode kept;
- Canvas exports (the zip, or its files): ``<name>[_late]_<user id>_<submission id>_<file>``,
  keyed by the Canvas user id, the late mark kept;
- Moodle exports (the zip, or its folders): ``<Full Name>_<id>_assignsubmission_file_/<file>``,
  keyed by the Moodle participant id (two students of the same name stay two).

Only the assignments handed in are graded unless ``--assignment`` names them. Every file that
matched no student or assignment is listed on stderr and in ``grading/unmatched.txt``; when no
notebook is found at all (an empty folder, one student's folder) the command exits with status 1
and says what it found instead, as it does when nothing could be graded.

For every submission the pipeline copies it into ``grading/submitted``, runs ``nbgrader
autograde`` (real kernels, a per-cell timeout, test cells restored from the gradebook), reads the
scores from the gradebook and writes

- ``grading/grades.csv``: one row per student and assignment with name, score, maximum, status,
  late flag, notes and LMS id, for every grade this grading folder has ever recorded (earlier
  runs included), with the instructor's ``grading/overrides.csv`` applied; beside it the
  per-question CSV and the Canvas and Moodle import files (:mod:`gdcourse.grader.lms`);
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
did not change since it was graded keeps its grade without running again, whatever changed in
the source notebook (``--regrade`` runs it anyway, with the same grading seed), and a student or
assignment without a new submission keeps the earlier grade. Edited read-only cells are judged
against the release the student received (:mod:`gdcourse.grader.release_record`); every
submission's grading seed is recorded and ``--replay`` grades it again to compare
(:mod:`gdcourse.grader.replay`).

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
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from gdcourse.grader import check as _check
from gdcourse.grader.collect import (
    MAX_NOTEBOOK_BYTES,
    NothingToGrade,
    check_assignments,
    collect,
    collect_submissions,
    nothing_found,
    restore_structure,
)
from gdcourse.grader.execute import ROOT, _Nbgrader, autograde_preprocessors, check_kernel
from gdcourse.grader.feedback import (  # noqa: F401
    QUOTED_NOTE,
    _write_feedback,
    sanitize_feedback,
    write_note_page,
)
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
    _tampering_notes,  # noqa: F401  (gdcourse.grade._tampering_notes: against one release)
    _use_wal,
)
from gdcourse.grader.release_record import (
    RELEASES_FILE,
    checks_fingerprint,
    match_release,
    recorded_releases,
)
from gdcourse.grader.replay import grading_seed
from gdcourse.grader.salvage import failure_line, keep_log, match_by_text, readable_cells
from gdcourse.grader.workers import REGISTER_LIMIT, _check_workers, _Pool, _serve, default_workers  # noqa: F401
from gdcourse.release import is_check_all

if TYPE_CHECKING:
    from gdcourse.grader.workers import _InProcessNbgrader

UNSANDBOXED = ("WARNING: grading WITHOUT the sandbox (--no-sandbox): student code runs with your "
               "permissions and can read solutions/, the gradebook and other submissions, write "
               "where you can and use the network")

__all__ = ["NothingToGrade", "Result", "autograde_preprocessors", "check_kernel", "collect_submissions",
           "grade", "main", "sanitize_feedback"]


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
               released: Path, base: Result, releases: Path | None = None) -> Result:
    """Grade one notebook (in a worker): check it, copy it into submitted/, autograde it, read
    its scores from the gradebook and write its feedback. Tampering is judged against the
    release the notebook came from (``releases``: the release record, see
    :mod:`gdcourse.grader.release_record`)."""
    grading_dir = nbgrader.grading_dir
    result = base
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError("larger than 20 MB")
        notebook, repaired = readable_cells(path)
    # The file is the student's: whatever it holds that cannot be read as a notebook (not
    # UTF-8, not JSON, no cells...) is said in words, graded 0.
    except (OSError, ValueError) as error:
        result.status = "invalid notebook"
        log = keep_log(grading_dir, student, assignment, f"{path}: not a valid notebook file: "
                                                          f"{error}")
        result.notes.append(f"not a valid notebook file: {error}; scored 0 (log: {log})")
        return result
    result.notes += repaired
    released_notebook = nbformat.read(released, as_version=4)
    # The "check all" cell is the student's own tool: never run, never compared (edited or
    # deleted, it is no one's business), so it leaves both notebooks before anything else.
    notebook.cells = [cell for cell in notebook.cells if not is_check_all(cell)]
    released_notebook.cells = [cell for cell in released_notebook.cells if not is_check_all(cell)]
    result.notes += match_by_text(notebook, released_notebook)
    earlier = recorded_releases(assignment, releases) if releases is not None else []
    result.release, tampering = match_release(notebook, released_notebook, earlier)
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
    except Exception:  # noqa: BLE001  (untrusted metadata nbformat cannot write: 0)
        import traceback

        result.status = "invalid notebook"
        log = keep_log(grading_dir, student, assignment, traceback.format_exc())
        result.notes.append(f"not a valid notebook file: nbformat cannot write it back "
                            f"({failure_line(traceback.format_exc())[:120]}); scored 0 "
                            f"(log: {log})")
        return result
    _check.begin_notebook(result.seed)
    failure = nbgrader.autograde(assignment, student)
    result.check_inputs = _check.check_inputs()[0]
    scores = _gradebook_scores(grading_dir, student, assignment)
    autograded = grading_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
    if failure is not None or scores is None or not autograded.exists():
        result.status = "failed"
        log = keep_log(grading_dir, student, assignment, getattr(nbgrader, "last_log", ""))
        result.notes.append((failure or "nbgrader could not grade it")
                            + f"; scored 0 (log: {log})")
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
          echo: Callable[[str], object] = print,
          warn: Callable[[str], object] | None = None,
          seeds: dict | None = None) -> list[Result]:
    """Grade every submission in ``submissions``; return the results of this run (submissions
    graded now, missing ones, and unchanged ones whose earlier grade was kept), sorted by
    student and assignment.

    ``workers`` notebooks are graded at a time (default: one per CPU this process may use).
    Kernels run in the grading sandbox with ``limits`` (a :class:`gdcourse.grader.sandbox.Limits`,
    default ones when None); ``sandbox=False`` grades without it, with a warning, and only then
    may ``kernel`` name another kernelspec to run the submissions.

    ``submissions`` is a folder (or one LMS zip file, :func:`gdcourse.grader.collect.collect`).
    Only the assignments ``assignments`` names are graded; by default, those that at least one
    notebook was handed in for. Every file that matched no student or no assignment is passed
    to ``warn`` (default: printed on stderr) and listed in ``grading/unmatched.txt``; when no
    notebook at all is found, :class:`NothingToGrade` (a ValueError) says what was found
    instead. The overrides of ``grading/overrides.csv`` (:mod:`gdcourse.grader.lms`) are
    checked first and applied to every grade written.

    An unchanged submission keeps its grade, whatever changed in the source notebook since,
    unless ``regrade`` (a note says when its checks changed). Each submission's checks draw
    their random inputs from its grading seed (:func:`gdcourse.grader.replay.grading_seed`;
    ``seeds`` maps ``(student, assignment)`` to another one: a replay)."""
    from gdcourse.grader.lms import final_grades, read_overrides
    from gdcourse.release import SOLUTIONS
    from gdcourse.release import assignments as all_assignments

    known = all_assignments()
    chosen = check_assignments(assignments, known) if assignments else None
    if warn is None:
        def warn(line: str) -> None:
            print(line, file=sys.stderr)
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
    read_overrides(grading_dir)  # a mistake in overrides.csv stops the run before grading
    nbgrader = _Nbgrader(grading_dir, timeout, kernel)
    report = _load_report(grading_dir)
    results: list[Result] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if sandbox:
            _enter_sandbox(nbgrader, scratch, limits)
        collection = collect(Path(submissions), known, scratch)
        if chosen:
            collection = collection.only(chosen)
        names = chosen or collection.assignments()
        _report_unmatched(grading_dir, collection.unmatched, warn)
        if not collection.found:
            raise NothingToGrade(nothing_found(Path(submissions), collection, chosen or known))
        sources = {name: _sha256(SOLUTIONS / name / f"{name}.ipynb") for name in names}
        checks = {name: checks_fingerprint(nbformat.read(SOLUTIONS / name / f"{name}.ipynb",
                                                         as_version=4)) for name in names}
        from gdcourse.release import EXERCISES

        releases = EXERCISES / RELEASES_FILE
        collect_notes, found = collection.notes, collection.found
        students = sorted({student for student, _ in found})
        todo = [(s, a) for s in students for a in names]
        hashes = {key: _sha256(path) for key, path in found.items()}
        # An unchanged submission keeps its grade: editing the source (a sentence of the
        # instructions, a check) regrades nobody unless asked (--regrade)
        kept = {key for key in found if not regrade and (earlier := report.get("/".join(key)))
                and earlier.get("status") != "failed"  # a failed run is never kept: run again
                and earlier.get("submission_sha256") == hashes[key]}
        stale = sorted(key for key in kept
                       if report["/".join(key)].get("checks_sha256", checks[key[1]])
                       != checks[key[1]])
        for name in names:
            count = sum(assignment == name for _, assignment in stale)
            if count:
                echo(f"note: the checks of {name} changed since {count} unchanged submission(s) "
                     f"were graded; their grades are kept (--regrade grades them again)")
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

            saved = []  # one snapshot of the previous grades.csv per run, at its first change

            def finish(result: Result, shown: str) -> None:
                results.append(result)
                if result.status in ("failed", "invalid notebook"):
                    write_note_page(grading_dir / "feedback" / result.student /
                                    f"{result.assignment}.html", result)
                _record(report, result)
                # after every notebook: nothing is lost
                _save_report(grading_dir, report, keep_history=not saved)
                saved.append(True)
                notes = f" - {'; '.join(result.notes)}" if result.notes else ""
                echo(f"[{next(counter)}/{len(todo)}] {result.student} {result.assignment}:"
                     f"{shown} {result.score:g}/{result.max_score:g} {result.status}{notes}")

            bases = {}
            for student, assignment in todo:
                key = f"{student}/{assignment}"
                earlier = report.get(key)
                who = collection.people[student]
                base = Result(student, assignment, 0.0, max_scores[assignment],
                              notes=list(collect_notes.get((student, assignment), [])),
                              source_sha256=sources[assignment], graded_at=_now(),
                              name=who.name, lms=who.lms, lms_id=who.lms_id,
                              late=(student, assignment) in collection.late,
                              checks_sha256=checks[assignment])
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
                    kept_result = Result(**{k: v for k, v in earlier.items() if k != "history"})
                    kept_result.late = base.late
                    results.append(kept_result)
                else:
                    base.submission_sha256 = hashes[student, assignment]
                    base.seed = (seeds or {}).get((student, assignment))
                    if base.seed is None:
                        base.seed = grading_seed(grading_dir, student, assignment,
                                                 base.submission_sha256)
                    bases[student, assignment] = base
            for student, assignment in to_grade:
                path = found[student, assignment]
                pool.submit((student, assignment), {
                    "do": "grade", "student": student, "assignment": assignment,
                    "path": str(path), "released": str(scratch / "release" / assignment /
                                                       f"{assignment}.ipynb"),
                    "base": asdict(bases[student, assignment]), "releases": str(releases)},
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
                        details = why or ""
                        if reply is not None:
                            details = reply.get("error", "")
                            failure = "the grader failed" + (
                                f" ({line})" if (line := failure_line(details)) else "")
                        log = keep_log(grading_dir, key[0], key[1], details)
                        result.notes.append(f"{failure}; scored 0 (log: {log})")
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
    csv_path = _save_report(grading_dir, report, keep_history=False)
    for line in final_grades(grading_dir, report)[1]:
        echo(line)
    echo(f"done in {time.perf_counter() - started:.0f} s; grades: {csv_path}; feedback: "
         f"{grading_dir / 'feedback'}")
    return sorted(results, key=lambda result: (result.student, result.assignment))


def _report_unmatched(grading_dir: Path, unmatched: list[str], warn) -> None:
    """Say which files matched no student or assignment (``warn``, and unmatched.txt)."""
    path = grading_dir / "unmatched.txt"
    if not unmatched:
        path.unlink(missing_ok=True)
        return
    warn(f"{len(unmatched)} file(s) matched no student or no assignment and are NOT graded "
         f"(list in {path}):")
    for line in unmatched:
        warn(f"  - {line}")
    path.write_text("".join(f"{line}\n" for line in unmatched), encoding="utf-8")


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
    parser.add_argument("submissions", type=Path,
                        help="folder of submissions (or of LMS zips), or one LMS zip file")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="grade only this assignment (repeatable; default: every "
                             "assignment handed in)")
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
                        help="grade unchanged submissions again (with the same grading seeds)")
    parser.add_argument("--replay", nargs=2, metavar=("STUDENT", "ASSIGNMENT"),
                        help="grade one recorded submission again with its recorded seed, in a "
                             "scratch folder, and say whether inputs and score match")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    if not (args.submissions.is_dir() or zipfile.is_zipfile(args.submissions)):
        parser.error(f"{args.submissions} is neither a folder nor a zip file: pass the folder "
                     "of submissions or an LMS zip export")
    if args.timeout < 1:
        parser.error("--timeout must be at least 1 second")
    if args.kernel and not args.no_sandbox:
        parser.error("--kernel replaces the sandboxed kernel: add --no-sandbox to confirm")
    if args.replay:  # 0 when the grade is reproduced, 1 when it is not (or cannot be replayed)
        from gdcourse.grader.replay import replay

        try:
            outcome = replay(args.submissions, *args.replay, args.grading_dir, args.timeout,
                             sandbox=not args.no_sandbox, echo=lambda line: print(f"  {line}"))
        except (RuntimeError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print("\n".join(outcome.lines()))
        return 0 if outcome.matches else 1

    try:
        results = grade(args.submissions, args.assignments, args.grading_dir, args.timeout,
                        kernel=args.kernel, regrade=args.regrade, sandbox=not args.no_sandbox,
                        workers=args.workers)
    except (RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not any(result.status == "graded" for result in results):
        print("error: nothing was graded (every notebook missing, invalid or failed; see the "
              "lines above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Grade a class: autograde submitted notebooks with nbgrader, write grades and safe feedback.

    python -m gdcourse.grade SUBMISSIONS [--assignment NAME ...] [--grading-dir grading]
                                         [--timeout SECONDS] [--kernel NAME] [--regrade]
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

Running again never loses a grade: the report is updated after every student, a submission that
did not change since it was graded (same notebook, same tests) keeps its grade without running
again (``--regrade`` runs it anyway), and a student or assignment without a new submission keeps
the earlier grade.

Bad submissions are graded, never crashed on: an infinite loop costs the timed-out question, an
exception or ``sys.exit`` the questions it breaks, a cell that kills the kernel (``os._exit``, a
crash, memory) is marked as failed and the kernel restarted to grade the rest
(:class:`ResilientExecute`), edited or deleted test cells are restored, and an invalid or missing
notebook scores 0; each gets a line in the report.

Every kernel runs in the grading sandbox (:mod:`gdcourse.sandbox`: bubblewrap, no network,
``solutions/``, the gradebook and the other students' folders invisible, resource limits). Before
grading anyone the pipeline starts one sandboxed kernel and checks from inside that the sandbox
holds, and stops with the reason if it does not. ``--no-sandbox`` grades without it, with a
warning; ``--kernel NAME`` (only with ``--no-sandbox``) runs the submissions in another
kernelspec, checked the same way (:func:`check_kernel`) before grading.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
HIDDEN_NOTE = "# (further tests, hidden from students, ran here)\n"
QUOTED_NOTE = "[output removed: it quoted hidden tests]\n"
UNSANDBOXED = ("WARNING: grading WITHOUT the sandbox (--no-sandbox): student code runs with your "
               "permissions and can read solutions/, the gradebook and other submissions, write "
               "where you can and use the network")
MAX_NOTEBOOK_BYTES = 20_000_000
DEAD_KERNEL = "DeadKernelError"
TIMEOUT = "CellTimeoutError"

__all__ = [
    "Result",
    "autograde_preprocessors",
    "check_kernel",
    "collect_submissions",
    "grade",
    "main",
    "sanitize_feedback",
]


@dataclass
class Result:
    """The outcome of grading one student's assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    status: str = "graded"  # graded | invalid notebook | missing | failed
    notes: list[str] = field(default_factory=list)
    submission_sha256: str = ""
    source_sha256: str = ""
    graded_at: str = ""
    seconds: float = 0.0  # wall time of grading this notebook (0 when nothing ran)
    questions: dict[str, list[float]] = field(default_factory=dict)  # test cell: [score, max]


# ------------------------------------------------------------------------------------------------
# Execution that survives a dying or hanging kernel (plugged into nbgrader by nbgrader_config.py)
# ------------------------------------------------------------------------------------------------

_RESILIENT_EXECUTE = None


def _resilient_execute_class():
    """Build :class:`ResilientExecute` on first use (nbgrader is imported only when grading)."""
    global _RESILIENT_EXECUTE
    if _RESILIENT_EXECUTE is not None:
        return _RESILIENT_EXECUTE
    from nbclient.client import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute
    from traitlets import Integer

    class _Restart(Exception):  # control flow, not an error
        pass

    class ResilientExecute(Execute):
        """nbgrader's ``Execute``, except that a cell which kills the kernel, or leaves it busy
        after its time limit, does not end the run: the cell gets an error output (so its
        question scores 0), the kernel is restarted, the cells before it are run again (minus
        any such cell) and execution goes on with the next cell."""

        max_restarts = Integer(4, help="Kernel restarts allowed per notebook.").tag(config=True)

        def _error(self, cell, ename: str, evalue: str) -> None:
            cell.outputs = [NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                         traceback=[f"{ename}: {evalue}"])]

        def preprocess(self, nb, resources=None, km=None):
            NotebookClient.__init__(self, nb, km)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            skipped: set[int] = set()
            restarts = 0
            shutdown = self.shutdown_kernel
            while True:
                index = -1
                try:
                    with self.setup_kernel():
                        info = self.wait_for_reply(self.kc.kernel_info())
                        self.nb.metadata["language_info"] = info["content"]["language_info"]
                        for index, cell in enumerate(self.nb.cells):
                            if index in skipped:
                                continue
                            self.preprocess_cell(cell, resources, index)
                            if any(o.get("ename") == TIMEOUT for o in cell.get("outputs", [])):
                                self.shutdown_kernel = "immediate"  # it may still be busy
                                raise _Restart
                    break
                except (DeadKernelError, CellTimeoutError, _Restart) as error:
                    self.shutdown_kernel = shutdown
                    cell = self.nb.cells[index] if index >= 0 else None
                    if cell is not None and isinstance(error, DeadKernelError):
                        self._error(cell, DEAD_KERNEL,
                                    "the kernel died while running this cell (os._exit, a "
                                    "crash or too much memory); it was restarted and the rest "
                                    "of the notebook graded without this cell")
                    elif cell is not None and isinstance(error, CellTimeoutError):
                        self._error(cell, TIMEOUT, f"no reply from the kernel after "
                                                   f"{self.timeout} s")
                    if self.km is not None:  # not cleaned up on the way out: do it now
                        try:
                            self._cleanup_kernel()
                        except Exception:  # a dead kernel may not clean up
                            self.log.warning("could not clean up the stopped kernel")
                    self.km = self.kc = None
                    restarts += 1
                    if cell is None or restarts > self.max_restarts:
                        for later in self.nb.cells[max(index, 0):]:
                            if later.cell_type == "code" and not later.get("outputs"):
                                self._error(later, DEAD_KERNEL, "not run: the kernel kept failing")
                        break
                    skipped.add(index)
                    self.log.warning("cell %d stopped the kernel; restart %d", index, restarts)
            self.set_widgets_metadata()
            return self.nb, self.resources

    ResilientExecute.__module__ = __name__
    _RESILIENT_EXECUTE = ResilientExecute
    return ResilientExecute


def __getattr__(name: str):
    if name == "ResilientExecute":
        return _resilient_execute_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def autograde_preprocessors() -> list:
    """nbgrader's autograde preprocessors with ``Execute`` replaced by ``ResilientExecute``."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [_resilient_execute_class() if pp is Execute else pp for pp in default]


# ------------------------------------------------------------------------------------------------
# Finding submissions
# ------------------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-.")


def _match_assignment(filename: str, names: list[str]) -> str | None:
    stem = Path(filename).stem
    matches = [name for name in names if name in stem]
    return max(matches, key=len) if matches else None


def collect_submissions(folder: Path, names: list[str], scratch: Path,
                        notes: dict[tuple[str, str], list[str]] | None = None,
                        ) -> dict[tuple[str, str], Path]:
    """Map (student, assignment) to the submitted file, from student folders or LMS zip files.

    When a student handed in several notebooks for one assignment, the one named exactly like the
    assignment wins, else the newest; ``notes`` (if given) receives a line saying so.
    """
    candidates: dict[tuple[str, str], list[tuple[bool, float, Path, str]]] = {}

    def offer(student: str, assignment: str, path: Path, shown: str, mtime: float) -> None:
        exact = Path(shown).stem == assignment
        candidates.setdefault((student, assignment), []).append((exact, mtime, path, shown))

    for number, archive in enumerate(sorted(Path(folder).glob("*.zip"))):
        with zipfile.ZipFile(archive) as zipped:
            for index, info in enumerate(zipped.infolist()):
                member = Path(info.filename)
                if (info.is_dir() or member.suffix != ".ipynb"
                        or ".ipynb_checkpoints" in member.parts):
                    continue
                if len(member.parts) > 1:  # Moodle: <Full Name>_<id>_assignsubmission_file_/...
                    student = _slug(member.parts[0].split("_", 1)[0])
                else:  # Canvas: <student>_<ids>_<file name>
                    student = _slug(member.name.split("_", 1)[0]) if "_" in member.name else ""
                assignment = _match_assignment(member.name, names)
                if not (student and assignment):
                    continue
                target = scratch / "unzipped" / f"{number}-{index}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    target.write_text("")  # graded as an invalid notebook, with its reason
                else:
                    target.write_bytes(zipped.read(info))
                offer(student, assignment, target, f"{archive.name}:{info.filename}",
                      dt.datetime(*info.date_time).timestamp())
    for student_dir in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        student = _slug(student_dir.name)
        if not student:
            continue
        for path in sorted(student_dir.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            assignment = _match_assignment(path.name, names)
            if assignment:
                offer(student, assignment, path, str(path.relative_to(folder)),
                      path.stat().st_mtime)
    found = {}
    for key, options in sorted(candidates.items()):
        options.sort(key=lambda option: (option[0], option[1], option[3]))
        found[key] = options[-1][2]
        if len(options) > 1 and notes is not None:
            notes.setdefault(key, []).append(
                f"{len(options)} notebooks handed in for {key[1]}; graded {options[-1][3]}")
    return found


# ------------------------------------------------------------------------------------------------
# Running nbgrader and kernels
# ------------------------------------------------------------------------------------------------


def _environment(grading_dir: Path, timeout: int, kernel: str | None) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "GDCOURSE_GRADING_DIR": str(grading_dir), "GDCOURSE_CELL_TIMEOUT": str(timeout)}
    if kernel:
        env["GDCOURSE_GRADING_KERNEL"] = kernel
    else:
        env.pop("GDCOURSE_GRADING_KERNEL", None)
    env.pop("GDCOURSE_SANDBOX", None)  # set by the sandbox alone (_enter_sandbox)
    env.pop("GDCOURSE_GRADING_SEED", None)  # every grading run draws fresh test inputs
    return env


def _run(command: list[str], env: dict[str, str], limit: float,
         ) -> subprocess.CompletedProcess | None:
    """Run ``command`` in its own process group; kill the whole group after ``limit`` seconds
    (``None`` then): a stuck grader must not stop the class from being graded."""
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return None
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


_KERNEL_CHECK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
NotebookClient(nb, kernel_name=sys.argv[1], timeout=60, startup_timeout=60).execute()
sys.exit(0 if "42" in nb.cells[0].outputs[0].get("text", "") else 3)
"""


def check_kernel(kernel: str = "python3", env: dict[str, str] | None = None) -> None:
    """Start ``kernel`` once and run a cell in it; raise ``RuntimeError`` if that fails.

    The grading pipeline calls this before grading anyone, so a broken kernelspec (or, later, a
    broken sandbox) stops the run with one clear message instead of failing every student.
    """
    result = _run([sys.executable, "-c", _KERNEL_CHECK, kernel], env or dict(os.environ), 120)
    if result is None or result.returncode != 0:
        detail = "it did not answer within 120 s" if result is None else \
            (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the grading kernel {kernel!r} does not work: {detail}")


class _Nbgrader:
    def __init__(self, grading_dir: Path, timeout: int, kernel: str | None) -> None:
        self.grading_dir = grading_dir
        self.timeout = timeout
        self.executable = str(Path(sys.executable).parent / "nbgrader")
        self.env = _environment(grading_dir, timeout, kernel)

    def run(self, *args: str, limit: float = 600) -> subprocess.CompletedProcess | None:
        return _run([self.executable, *args], self.env, limit)

    def register(self, names: list[str], scratch: Path) -> dict[str, Path]:
        """Record the assignments' cells (hidden tests included) in the gradebook; return the
        freshly generated student notebooks (the reference for spotting edited test cells)."""
        from gdcourse.release import _generate

        release = scratch / "release"
        try:
            _generate(names, release, self.env, db=True)
        except RuntimeError as error:
            raise RuntimeError(f"could not register {', '.join(names)} in the gradebook: "
                               f"{str(error)[-2000:]}") from None
        return {name: release / name / f"{name}.ipynb" for name in names}


def _gradebook(grading_dir: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{grading_dir / 'gradebook.db'}")


def _gradebook_scores(grading_dir: Path, student: str, assignment: str):
    from nbgrader.api import MissingEntry

    with _gradebook(grading_dir) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return None
        questions = {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
        return notebook.score, notebook.max_score, questions


def _max_score(grading_dir: Path, assignment: str) -> float:
    with _gradebook(grading_dir) as gradebook:
        return float(gradebook.find_assignment(assignment).max_score)


# ------------------------------------------------------------------------------------------------
# Report lines
# ------------------------------------------------------------------------------------------------


def _locked_cells(notebook) -> dict[str, str]:
    cells = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and (meta.get("locked") or meta.get("grade")) \
                and not meta.get("solution"):
            cells[meta["grade_id"]] = cell.source
    return cells


def _tampering_notes(submitted, released) -> list[str]:
    """Test (and other read-only) cells the student changed or deleted: nbgrader restores them."""
    notes = []
    mine = _locked_cells(submitted)
    for grade_id, source in _locked_cells(released).items():
        if grade_id not in mine:
            notes.append(f"{grade_id}: cell deleted by the student; restored from the gradebook")
        elif mine[grade_id].strip() != source.strip():
            notes.append(f"{grade_id}: cell edited by the student; restored from the gradebook")
    return notes


def _execution_notes(path: Path, timeout: int) -> list[str]:
    """What went wrong while the autograded notebook ran, cell by cell."""
    notes = []
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "a cell")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            name = output.get("ename", "")
            message = str(output.get("evalue", "")).strip().splitlines()
            message = message[0][:200] if message else ""
            if name == TIMEOUT:
                notes.append(f"{grade_id}: timed out after {timeout} s (an infinite loop?); "
                             "the kernel was restarted")
            elif name == DEAD_KERNEL:
                notes.append(f"{grade_id}: {message}")
            elif name == "SystemExit":
                notes.append(f"{grade_id}: called sys.exit")
            elif meta.get("grade") or meta.get("solution"):
                notes.append(f"{grade_id}: {name}" + (f": {message}" if message else ""))
    return notes


# ------------------------------------------------------------------------------------------------
# Feedback without hidden tests
# ------------------------------------------------------------------------------------------------


def _output_text(output) -> str:
    data = output.get("data", {})
    parts = [output.get("text", ""), output.get("evalue", ""),  # tracebacks go anyway
             *(value if isinstance(value, str) else "".join(value)
               for key, value in data.items() if key.startswith("text/")
               or key in ("application/json", "application/javascript"))]
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


def sanitize_feedback(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove hidden tests from every cell and tracebacks from errors (they quote test code),
    and drop every output that quotes a line of hidden tests (code in the kernel may print the
    cells it sees, e.g. from an IPython ``pre_run_cell`` hook)."""
    hidden = {line.strip() for cell in notebook.cells
              for block in HIDDEN_TESTS.findall(cell.source) for line in block.splitlines()
              if len(line.strip()) > 12 and "HIDDEN TESTS" not in line}
    for cell in notebook.cells:
        cell.source = HIDDEN_TESTS.sub(HIDDEN_NOTE, cell.source)
        outputs = []
        for output in cell.get("outputs", []):
            if any(line in _output_text(output) for line in hidden):
                output = nbformat.v4.new_output("stream", name="stderr", text=QUOTED_NOTE)
            elif output.get("output_type") == "error":
                ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
                output["traceback"] = [f"{ename}: {evalue}"]
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
    notebook.metadata.pop("widgets", None)
    return notebook


def _write_feedback(autograded: Path, target: Path, result: Result, questions: dict) -> None:
    from nbconvert import HTMLExporter

    notebook = sanitize_feedback(nbformat.read(autograded, as_version=4))
    lines = [f"# Feedback: {result.assignment}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    lines += [f"- {name}: {score:g} / {maximum:g}" for name, (score, maximum) in
              sorted(questions.items())]
    lines += [f"- note: {note}" for note in result.notes]
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# The pipeline
# ------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _grade_one(nbgrader: _Nbgrader, student: str, assignment: str, path: Path,
               released: Path, base: Result) -> Result:
    grading_dir = nbgrader.grading_dir
    result = base
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError("larger than 20 MB")
        notebook = nbformat.read(path, as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise TypeError("no cells")
    except Exception as error:  # any unreadable file is graded 0
        result.status = "invalid notebook"
        result.notes.append(f"not a valid notebook file ({type(error).__name__}); scored 0")
        return result
    result.notes += _tampering_notes(notebook, nbformat.read(released, as_version=4))
    submitted = grading_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    if submitted.parent.exists():
        shutil.rmtree(submitted.parent)
    submitted.parent.mkdir(parents=True)
    try:
        nbformat.write(notebook, submitted)
    except Exception as error:  # e.g. metadata nbformat cannot write
        result.status = "invalid notebook"
        result.notes.append(f"not a valid notebook file ({type(error).__name__}); scored 0")
        return result
    code_cells = sum(cell.get("cell_type") == "code" for cell in notebook.cells)
    limit = 120 + nbgrader.timeout * (code_cells + 5) * 2
    run = nbgrader.run("autograde", assignment, "--student", student, "--force", limit=limit)
    scores = _gradebook_scores(grading_dir, student, assignment)
    autograded = grading_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
    if run is None or run.returncode != 0 or scores is None or not autograded.exists():
        if run is None:
            reason = f"grading stopped after {limit:.0f} s"
        else:
            errors = [line for line in (run.stdout + run.stderr).splitlines()
                      if "ERROR" in line and "There was an error" not in line]
            reason = "nbgrader could not grade it" + (f" ({errors[0][-200:]})" if errors else "")
        result.status = "failed"
        result.notes.append(reason + "; scored 0")
        return result
    score, maximum, questions = scores
    result.score, result.max_score = float(score), float(maximum)
    result.questions = {name: [float(got), float(most)] for name, (got, most) in questions.items()}
    result.notes += _execution_notes(autograded, nbgrader.timeout)
    _write_feedback(autograded, grading_dir / "feedback" / student / f"{assignment}.html",
                    result, questions)
    return result


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _load_report(grading_dir: Path) -> dict:
    path = grading_dir / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _save_report(grading_dir: Path, report: dict) -> Path:
    """Write report.json and grades.csv (keeping the previous grades.csv in history/)."""
    _atomic_write(grading_dir / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    csv_path = grading_dir / "grades.csv"
    lines = [["student", "assignment", "score", "max_score", "status", "notes", "graded_at"]]
    for key in sorted(report):
        entry = report[key]
        lines.append([entry["student"], entry["assignment"], f"{entry['score']:g}",
                      f"{entry['max_score']:g}", entry["status"], "; ".join(entry["notes"]),
                      entry.get("graded_at", "")])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    text = buffer.getvalue()
    if csv_path.exists():
        old = csv_path.read_text(encoding="utf-8")
        if old == text:
            return csv_path
        history = grading_dir / "history"
        history.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        (history / f"grades-{stamp}.csv").write_text(old, encoding="utf-8")
    _atomic_write(csv_path, text)
    return csv_path


def _record(report: dict, result: Result) -> None:
    key = f"{result.student}/{result.assignment}"
    entry = asdict(result)
    earlier = report.get(key)
    if earlier:
        history = earlier.pop("history", [])
        entry["history"] = [*history, earlier]
    report[key] = entry


def _enter_sandbox(nbgrader: _Nbgrader, scratch: Path, limits, echo) -> None:
    """Make every kernel of this run a sandboxed one, and check from inside one that the
    sandbox holds (the gradebook, solutions and submissions invisible, no network, limits)."""
    from gdcourse import sandbox
    from gdcourse.release import SOLUTIONS

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
    canary = nbgrader.grading_dir / "submitted" / ".sandbox-check"
    canary.parent.mkdir(parents=True, exist_ok=True)
    canary.write_text("the grading sandbox must hide this file")
    try:
        sandbox.verify(env, limits, [canary, SOLUTIONS, nbgrader.grading_dir / "gradebook.db"])
    except sandbox.SandboxError as error:
        raise RuntimeError(f"{error}; --no-sandbox grades without it, unsafely") from None
    finally:
        canary.unlink()
    echo(f"sandbox: every kernel runs in bubblewrap with no network, {limits.memory_mib} MiB, "
         f"{limits.cpu_seconds} s of CPU, {limits.processes} processes (checked)")


def grade(submissions: Path, assignments: list[str] | None = None,
          grading_dir: Path | None = None, timeout: int = 30, *, kernel: str | None = None,
          regrade: bool = False, sandbox: bool = True, limits=None,
          echo: Callable[[str], object] = print) -> list[Result]:
    """Grade every submission in ``submissions``; return the results of this run (submissions
    graded now, missing ones, and unchanged ones whose earlier grade was kept).

    Kernels run in the grading sandbox with ``limits`` (a :class:`gdcourse.sandbox.Limits`,
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
    from gdcourse.sandbox import Limits

    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a gdcourse.sandbox.Limits, got {type(limits).__name__}")
    grading_dir = Path(grading_dir or ROOT / "grading").resolve()
    grading_dir.mkdir(parents=True, exist_ok=True)
    nbgrader = _Nbgrader(grading_dir, timeout, kernel)
    report = _load_report(grading_dir)
    results: list[Result] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if sandbox:
            _enter_sandbox(nbgrader, scratch, limits, echo)
        else:
            echo(UNSANDBOXED)
            check_kernel(kernel or "python3", nbgrader.env)
        released = nbgrader.register(names, scratch)
        sources = {name: _sha256(SOLUTIONS / name / f"{name}.ipynb") for name in names}
        collect_notes: dict[tuple[str, str], list[str]] = {}
        found = collect_submissions(Path(submissions), names, scratch, collect_notes)
        students = sorted({student for student, _ in found})
        todo = [(s, a) for s in students for a in names]
        echo(f"grading {len(found)} notebooks of {len(students)} students "
             f"({', '.join(names)}) into {grading_dir}")
        for index, (student, assignment) in enumerate(todo, start=1):
            key = f"{student}/{assignment}"
            prefix = f"[{index}/{len(todo)}] {student} {assignment}:"
            earlier = report.get(key)
            base = Result(student, assignment, 0.0, _max_score(grading_dir, assignment),
                          notes=list(collect_notes.get((student, assignment), [])),
                          source_sha256=sources[assignment], graded_at=_now())
            if (student, assignment) not in found:
                if earlier:
                    echo(f"{prefix} no new submission, earlier grade kept "
                         f"({earlier['score']:g}/{earlier['max_score']:g})")
                    continue
                base.status = "missing"
                base.notes.append("no notebook submitted; scored 0")
                result = base
            else:
                path = found[student, assignment]
                base.submission_sha256 = _sha256(path)
                if (not regrade and earlier
                        and earlier.get("submission_sha256") == base.submission_sha256
                        and earlier.get("source_sha256") == base.source_sha256):
                    echo(f"{prefix} unchanged since {earlier.get('graded_at', 'earlier')}, "
                         f"grade kept ({earlier['score']:g}/{earlier['max_score']:g})")
                    results.append(Result(**{k: v for k, v in earlier.items()
                                             if k != "history"}))
                    continue
                clock = time.perf_counter()
                result = _grade_one(nbgrader, student, assignment, path, released[assignment],
                                    base)
                result.notes = list(dict.fromkeys(result.notes))
                result.seconds = round(time.perf_counter() - clock, 3)
                prefix += f" ({result.seconds:.1f} s)"
            results.append(result)
            _record(report, result)
            _save_report(grading_dir, report)  # after every student: an interruption loses nothing
            notes = f" - {'; '.join(result.notes)}" if result.notes else ""
            echo(f"{prefix} {result.score:g}/{result.max_score:g} {result.status}{notes}")
    csv_path = _save_report(grading_dir, report)
    echo(f"done in {time.perf_counter() - started:.0f} s; grades: {csv_path}; feedback: "
         f"{grading_dir / 'feedback'}")
    return results


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
              kernel=args.kernel, regrade=args.regrade, sandbox=not args.no_sandbox)
    except (RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

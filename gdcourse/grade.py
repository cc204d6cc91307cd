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
    from queue import Empty

    from jupyter_client.manager import AsyncKernelManager
    from nbclient.client import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbclient.util import ensure_async, run_hook, run_sync
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute
    from traitlets import Integer

    class _Restart(Exception):  # control flow, not an error
        pass

    class QuickKernelManager(AsyncKernelManager):
        """jupyter_client's kernel manager, looking every 10 ms (not 100 ms) whether a kernel it
        stopped has exited: grading starts and stops a kernel per notebook."""

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    async def next_reply(channel, parents: set[str], kind: str, timeout: float, state=None):
        """The first message of type ``kind`` answering one of the requests ``parents`` on
        ``channel`` within ``timeout`` seconds (other messages are dropped), or None."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                message = await ensure_async(channel.get_msg(timeout=left))
            except Empty:
                return None
            if (message["parent_header"].get("msg_id") in parents and message["msg_type"] == kind
                    and (state is None or message["content"].get("execution_state") == state)):
                return message
        return None

    from gdcourse.outputcap import CappedOutputs

    class ResilientExecute(CappedOutputs, Execute):
        """nbgrader's ``Execute``, except that a cell which kills the kernel, or leaves it busy
        after its time limit, does not end the run: the cell gets an error output (so its
        question scores 0), the kernel is restarted, the cells before it are run again (minus
        any such cell) and execution goes on with the next cell.

        It also waits less around each kernel: a kernel is ready once it has answered a
        ``kernel_info`` request and IOPub has carried that request's status (jupyter_client
        then always waits 0.2 s more for IOPub to fall quiet), and the end of a stopped kernel
        is noticed within 10 ms (:class:`QuickKernelManager`)."""

        max_restarts = Integer(4, help="Kernel restarts allowed per notebook.").tag(config=True)

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("kernel_manager_class", QuickKernelManager)
            super().__init__(*args, **kwargs)

        async def async_start_new_kernel_client(self):
            """nbclient's, with :meth:`_until_ready` as the readiness check."""
            assert self.km is not None
            try:
                self.kc = self.km.client()
                await ensure_async(self.kc.start_channels())
                await self._until_ready()
            except Exception as error:
                self.log.error("Error occurred while starting new kernel client for kernel "
                               "%s: %s", getattr(self.km, "kernel_id", None), error)
                await self._async_cleanup_kernel()
                raise
            self.kc.allow_stdin = False
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)

        async def _until_ready(self) -> None:
            """Ask for ``kernel_info`` until a reply comes on the shell channel and the idle
            status of such a request on IOPub (then IOPub is connected: no output gets lost;
            the status of the first request is often published before IOPub has connected, so
            the request is repeated after a wait that doubles from 50 ms to 1 s)."""
            kc = self.kc
            limit = self.startup_timeout
            deadline = time.monotonic() + (limit if limit is not None else float("inf"))
            sent: set[str] = set()
            wait = 0.05
            while True:
                sent.add(kc.kernel_info())
                reply = await next_reply(kc.shell_channel, sent, "kernel_info_reply", 1.0)
                if reply is not None and await next_reply(kc.iopub_channel, sent, "status",
                                                          wait, state="idle") is not None:
                    handle = getattr(kc, "_handle_kernel_info_reply", None)
                    if handle is not None:  # protocol version adaptation
                        handle(reply)
                    return
                wait = min(2 * wait, 1.0)
                if not await ensure_async(kc.is_alive()):
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {limit} seconds")

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
    """What every grading process of a run shares: the grading folder and the environment
    nbgrader runs in (read by nbgrader_config.py; it carries the per-cell time limit)."""

    def __init__(self, grading_dir: Path, timeout: int, kernel: str | None) -> None:
        self.grading_dir = grading_dir
        self.env = _environment(grading_dir, timeout, kernel)


# ------------------------------------------------------------------------------------------------
# The gradebook, shared by the grading workers
#
# Each worker is an nbgrader process writing to the one SQLite gradebook. nbgrader opens the
# gradebook, reads or writes a few rows and closes it again in every step (registering a student,
# restoring test cells, saving the scores); it never holds it open while a kernel runs. So its
# transactions last milliseconds, and what remains is to make a worker that finds the file locked
# wait for its turn instead of failing with "database is locked":
#
# - the gradebook is switched to write-ahead logging (WAL, a persistent property of the file):
#   reads never block writes and writes never block reads, only writers wait for each other;
# - every connection a worker opens waits up to BUSY_TIMEOUT seconds for a lock;
# - rows that several workers could try to create at once (a student graded on two assignments
#   at the same time) are created beforehand, by one worker, when the assignments are registered.
# ------------------------------------------------------------------------------------------------

BUSY_TIMEOUT = 300  # seconds a gradebook connection waits for another process's write


def _set_busy_timeout(dbapi_connection, connection_record) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")


def _patient_gradebook() -> None:
    """Make every SQLAlchemy connection of this process (nbgrader's included) wait for locks."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _set_busy_timeout):
        event.listen(Engine, "connect", _set_busy_timeout)


def _use_wal(grading_dir: Path) -> None:
    """Switch the gradebook to write-ahead logging (kept in the file; a no-op once done)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(grading_dir / "gradebook.db", timeout=BUSY_TIMEOUT)) as db:
        db.execute("PRAGMA journal_mode = WAL")


def _checkpoint(grading_dir: Path) -> None:
    """Move everything the write-ahead log holds into gradebook.db itself (end of a run)."""
    import sqlite3
    from contextlib import closing

    path = grading_dir / "gradebook.db"
    if path.exists():
        try:
            with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT)) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # best effort: the next connection replays the log anyway
            pass


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


# ------------------------------------------------------------------------------------------------
# Grading workers: nbgrader imported once per process, not once per notebook
#
# Starting nbgrader costs about 1.5 s, grading one notebook (a fresh kernel, every test) about
# 0.7 s: one ``nbgrader autograde`` process per notebook would spend most of its time starting.
# A worker is a long-lived process (``python -c "...; _serve()"``, started in the repository root
# like the ``nbgrader`` command, so nbgrader_config.py applies) that runs nbgrader's autograde in
# process, one notebook at a time, and answers the pipeline over a pipe. The pipeline keeps
# ``workers`` of them busy, writes the report itself (the only writer of report.json and
# grades.csv) and kills a worker whose notebook runs past its safety limit (then starts another).
# ------------------------------------------------------------------------------------------------

WORKER_STARTUP_LIMIT = 300  # seconds for a worker to import and configure nbgrader
REGISTER_LIMIT = 600


def default_workers() -> int:
    """The CPUs this process may run on (at least 1): the default number of workers."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_workers(workers) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int (notebooks graded at a time), "
                        f"got {type(workers).__name__} {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def _safety_limit(path: Path, timeout: int) -> float:
    """Seconds after which the pipeline stops grading a notebook (kills its worker): twice the
    per-cell limit for every code cell and five more, plus two minutes."""
    code_cells = 0
    try:
        if path.stat().st_size <= MAX_NOTEBOOK_BYTES:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
            code_cells = sum(isinstance(c, dict) and c.get("cell_type") == "code" for c in cells)
    except Exception:  # not a notebook: the worker says so at once
        pass
    return 120 + timeout * (code_cells + 5) * 2


def _alembic_head() -> str:
    """The gradebook schema version nbgrader stamps a new gradebook with, read in process
    (nbgrader runs ``alembic heads`` for it: 2 s, most of it starting Python)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if not head:
        raise RuntimeError("no alembic head")
    return head


class _InProcessNbgrader:
    """nbgrader in a grading worker, configured once like the ``nbgrader`` command run from the
    repository root (nbgrader_config.py, with the environment the pipeline set)."""

    def __init__(self) -> None:
        import nbgrader.api
        from nbgrader.apps.autogradeapp import AutogradeApp

        _patient_gradebook()
        shell_out = nbgrader.api.get_alembic_version

        def alembic_version() -> str:
            try:
                return _alembic_head()
            except Exception:  # any surprise: nbgrader's own way
                return shell_out()

        nbgrader.api.get_alembic_version = alembic_version
        self.grading_dir = Path(os.environ["GDCOURSE_GRADING_DIR"])
        self.timeout = int(os.environ["GDCOURSE_CELL_TIMEOUT"])
        self.app = AutogradeApp()
        self.app.initialize([])
        manager = self.app.config.get("KernelManager") or {}
        self.ipc = str(manager.get("ip", "")) if manager.get("transport") == "ipc" else ""

    def _convert(self, converter_class, assignment: str, student: str | None = None,
                 **directories: str) -> str | None:
        """Run one nbgrader converter for ``assignment`` (and ``student``); None when it
        succeeded, else the first error it logged."""
        from nbgrader.utils import capture_log

        coursedir = self.app.coursedir
        changed = {"assignment_id": assignment, **directories}
        if student is not None:
            changed["student_id"] = student
        saved = {name: getattr(coursedir, name) for name in changed}
        try:
            for name, value in changed.items():
                setattr(coursedir, name, value)
            converter = converter_class(coursedir=coursedir, parent=self.app)
            converter.force = True
            outcome = capture_log(converter)
        finally:
            for name, value in saved.items():
                setattr(coursedir, name, value)
        if outcome["success"]:
            return None
        text = outcome.get("log", "") + "\n" + outcome.get("error", "")
        errors = [line.strip() for line in text.splitlines()
                  if "ERROR" in line and "There was an error" not in line]
        return errors[0][-200:] if errors else ""

    def autograde(self, assignment: str, student: str) -> str | None:
        """``nbgrader autograde ASSIGNMENT --student STUDENT --force``, in this process: None when
        it succeeded, else why not."""
        from nbgrader.converters import Autograde

        error = self._convert(Autograde, assignment, student)
        if error is None:
            return None
        return "nbgrader could not grade it" + (f" ({error})" if error else "")

    def register(self, names: list[str], release: str, students: list[str]) -> dict:
        """Record the assignments' cells (hidden tests included) in the gradebook, generating the
        student notebooks into ``release`` (the reference for spotting edited test cells), and
        add ``students``; return the assignments' maximum scores."""
        from nbgrader.converters import GenerateAssignment

        for name in names:
            error = self._convert(GenerateAssignment, name, release_directory=release)
            if error is not None:
                raise RuntimeError(f"nbgrader generate_assignment {name} failed"
                                   + (f": {error}" if error else ""))
        with _gradebook(self.grading_dir) as gradebook:
            for student in students:
                gradebook.update_or_create_student(student)
            return {name: float(gradebook.find_assignment(name).max_score) for name in names}


def _serve() -> None:
    """A grading worker's main loop: one JSON request a line on stdin, one JSON answer a line on
    the original stdout. Anything else printed (by nbgrader, or kernels started from here) goes
    to stderr, the worker's log."""
    import traceback

    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")  # not inherited by kernels
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    try:
        grader = _InProcessNbgrader()
    except BaseException:
        answer({"error": traceback.format_exc()[-4000:]})
        raise SystemExit(1) from None
    answer({"ready": True, "ipc": grader.ipc})
    for line in requests:
        request = json.loads(line)
        try:
            if request["do"] == "register":
                reply = {"max_scores": grader.register(request["names"], request["release"],
                                                       request["students"])}
            else:
                result = _grade_one(grader, request["student"], request["assignment"],
                                    Path(request["path"]), Path(request["released"]),
                                    Result(**request["base"]))
                reply = {"result": asdict(result)}
        except Exception:
            reply = {"error": traceback.format_exc()[-4000:]}
        answer(reply)
    # End of input: every kernel has been stopped. Run the exit handlers (they remove the
    # kernels' socket folders) but skip the interpreter's teardown, which takes half a second.
    import atexit

    getattr(atexit, "_run_exitfuncs", lambda: None)()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Worker:
    """The pipeline's end of one grading worker (:func:`_serve`)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from gdcourse.grade import _serve; _serve()"], cwd=ROOT,
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=handle,
                start_new_session=True)  # its own process group: killed as one
        self.pending = b""
        self.ready = False
        self.ipc = ""
        self.job: tuple | None = None  # (key, limit) of the request it is working on
        self.started = time.perf_counter()
        self.deadline = self.started + WORKER_STARTUP_LIMIT

    def send(self, key, request: dict, limit: float) -> None:
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        self.job = (key, limit)
        now = time.perf_counter()
        if self.ready:
            self.started, self.deadline = now, now + limit
        else:  # the clock starts once it is ready
            self.deadline = now + WORKER_STARTUP_LIMIT + limit

    def receive(self) -> list[dict] | None:
        """The whole messages that arrived (call when its stdout is readable); None at EOF."""
        data = os.read(self.process.stdout.fileno(), 1 << 16)
        if not data:
            return None
        *lines, self.pending = (self.pending + data).split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1][-300:] if lines else "no output"

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap()

    def stop(self, wait: float = 15) -> None:
        """Let it finish (end of input), killing it if it does not exit within ``wait`` s."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.ipc.startswith("/tmp/gdcourse-ipc-"):  # its kernels' sockets, if it was killed
            shutil.rmtree(os.path.dirname(self.ipc), ignore_errors=True)


class _Pool:
    """Up to ``size`` workers taking jobs from a queue, each job under its own time limit."""

    def __init__(self, env: dict[str, str], size: int, logs: Path) -> None:
        import selectors

        self.env, self.size, self.logs = env, size, logs
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []
        self.queue: list[tuple] = []
        self.spawned = 0
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        import selectors

        self.spawned += 1
        worker = _Worker(self.env, self.logs / f"worker-{self.spawned}.log")
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)

    def _retire(self, worker: _Worker, kill: bool = True) -> None:
        self.selector.unregister(worker.process.stdout)
        self.workers.remove(worker)
        if kill:
            worker.kill()
        else:
            worker.stop(wait=5)

    def busy(self) -> bool:
        return bool(self.queue) or any(worker.job for worker in self.workers)

    def submit(self, key, request: dict, limit: float) -> None:
        self.queue.append((key, request, limit))
        self._dispatch()

    def _dispatch(self) -> None:
        working = sum(worker.job is not None for worker in self.workers)
        while len(self.workers) < min(self.size, working + len(self.queue)):
            self._spawn()
        for worker in list(self.workers):
            if worker.job is None and self.queue:
                key, request, limit = self.queue.pop(0)
                try:
                    worker.send(key, request, limit)
                except OSError:  # it died while idle: another one takes the job
                    self.queue.insert(0, (key, request, limit))
                    self._retire(worker)
                    self._dispatch()
                    return

    def wait(self) -> list[tuple]:
        """Block until jobs finish; return them as (key, reply or None, why not, seconds).

        A job whose worker outlives the job's limit, or dies, ends with reply None: the worker
        is killed and another one started for the jobs still queued. A worker that cannot start
        nbgrader at all raises RuntimeError (every job would fail the same way)."""
        if not self.busy():
            raise RuntimeError("no job to wait for")
        done: list[tuple] = []
        while not done:
            now = time.perf_counter()
            soonest = min((w.deadline for w in self.workers if w.job or not w.ready),
                          default=now + 60)
            for selected, _ in self.selector.select(timeout=max(0.0, soonest - now)):
                worker = selected.data
                try:
                    messages = worker.receive()
                except (OSError, ValueError):
                    messages = None
                if messages is None:  # the process ended
                    if not worker.ready:
                        self._retire(worker)
                        raise RuntimeError(f"a grading worker did not start: {worker.log_tail()}")
                    self._retire(worker, kill=False)
                    if worker.job:
                        why = (f"the grading process stopped unexpectedly (exit status "
                               f"{worker.process.returncode}, {worker.log_tail()})")
                        done.append((worker.job[0], None, why,
                                     time.perf_counter() - worker.started))
                    continue
                for message in messages:
                    if not worker.ready:
                        if not message.get("ready"):
                            self._retire(worker)
                            detail = (message.get("error") or "").strip().splitlines()
                            raise RuntimeError("a grading worker could not start nbgrader: "
                                               + (detail[-1] if detail else worker.log_tail()))
                        worker.ready, worker.ipc = True, message.get("ipc", "")
                        if worker.job:
                            worker.started = time.perf_counter()
                            worker.deadline = worker.started + worker.job[1]
                    elif worker.job:
                        done.append((worker.job[0], message, "",
                                     time.perf_counter() - worker.started))
                        worker.job = None
            now = time.perf_counter()
            for worker in list(self.workers):
                if worker.deadline > now or not (worker.job or not worker.ready):
                    continue
                self._retire(worker)
                if not worker.ready and not worker.job:
                    raise RuntimeError(f"a grading worker did not start within "
                                       f"{WORKER_STARTUP_LIMIT} s: {worker.log_tail()}")
                key, limit = worker.job
                done.append((key, None, f"grading stopped after {limit:.0f} s",
                             time.perf_counter() - worker.started))
            self._dispatch()
        return done

    def close(self, kill: bool = False) -> None:
        """Stop every worker: at the end of their input (all at once), or killed."""
        for worker in self.workers:
            self.selector.unregister(worker.process.stdout)
            if not kill:
                try:
                    worker.process.stdin.close()
                except OSError:
                    pass
        for worker in self.workers:
            if kill:
                worker.kill()
            else:
                worker.stop()
        self.workers = []
        self.selector.close()


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


_EXPORTER = None


def _write_feedback(autograded: Path, target: Path, result: Result, questions: dict) -> None:
    global _EXPORTER
    if _EXPORTER is None:  # one per process: reusing its templates halves the time per page
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(template_name="classic")
    notebook = sanitize_feedback(nbformat.read(autograded, as_version=4))
    lines = [f"# Feedback: {result.assignment}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    lines += [f"- {name}: {score:g} / {maximum:g}" for name, (score, maximum) in
              sorted(questions.items())]
    lines += [f"- note: {note}" for note in result.notes]
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
    html, _ = _EXPORTER.from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# The pipeline
# ------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


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


def _enter_sandbox(nbgrader: _Nbgrader, scratch: Path, limits) -> None:
    """Make every kernel of this run a sandboxed one (checked by :func:`_check_sandbox`)."""
    from gdcourse import sandbox

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
    from gdcourse import sandbox
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
    workers = _check_workers(workers)
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
            _enter_sandbox(nbgrader, scratch, limits)
        sources = {name: _sha256(SOLUTIONS / name / f"{name}.ipynb") for name in names}
        collect_notes: dict[tuple[str, str], list[str]] = {}
        found = collect_submissions(Path(submissions), names, scratch, collect_notes)
        students = sorted({student for student, _ in found})
        todo = [(s, a) for s in students for a in names]
        hashes = {key: _sha256(path) for key, path in found.items()}
        kept = {key for key in found if not regrade and (earlier := report.get("/".join(key)))
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
                    "base": asdict(bases[student, assignment])}, _safety_limit(path, timeout))
            while pool.busy():
                for key, reply, failure, seconds in pool.wait():
                    result = bases[key]
                    if reply is not None and "result" in reply:
                        result = Result(**reply["result"])
                    else:
                        result.status = "failed"
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

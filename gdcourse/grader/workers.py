"""Grading workers: long-lived processes that imported nbgrader once, and the pool that runs them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from gdcourse.grader.execute import ROOT
from gdcourse.grader.record import Result, _gradebook, _patient_gradebook

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
        from alembic.util import CommandError
        from nbgrader.apps.autogradeapp import AutogradeApp

        _patient_gradebook()
        shell_out = nbgrader.api.get_alembic_version

        def alembic_version() -> str:
            try:
                return _alembic_head()
            except (ImportError, OSError, RuntimeError, CommandError):  # nbgrader's own way
                return shell_out()

        nbgrader.api.get_alembic_version = alembic_version
        self.grading_dir = Path(os.environ["GDCOURSE_GRADING_DIR"])
        self.timeout = int(os.environ["GDCOURSE_CELL_TIMEOUT"])
        self.last_log = ""  # nbgrader's log of the last conversion that failed
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
        self.last_log = ""
        if outcome["success"]:
            return None
        text = outcome.get("log", "") + "\n" + outcome.get("error", "")
        self.last_log = text  # kept in grading/logs/ by the pipeline
        errors = [line.strip() for line in text.splitlines()
                  if "ERROR" in line and "There was an error" not in line
                  and not line.rstrip().endswith("Traceback (most recent call last):")]
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

    from gdcourse.grader.pipeline import _grade_one

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
    # BaseException on purpose: traitlets' initialize() ends a bad configuration with
    # SystemExit, and whatever stops the start, the pipeline must be told why (then we exit).
    except BaseException:  # noqa: BLE001  (SystemExit too: the pipeline hears why, then exit 1)
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
                                    Result(**request["base"]),
                                    Path(request["releases"]) if request.get("releases") else None)
                reply = {"result": asdict(result)}
        except Exception:  # noqa: BLE001  (one notebook's failure is its reply; the worker lives on)
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
                [sys.executable, "-c", "from gdcourse.grader.workers import _serve; _serve()"], cwd=ROOT,
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
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._reap()

    def stop(self, wait: float = 15) -> None:
        """Let it finish (end of input), killing it if it does not exit within ``wait`` s."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        if self.ipc.startswith("/tmp/gdcourse-ipc-"):  # its kernels' sockets, if it was killed
            shutil.rmtree(Path(self.ipc).parent, ignore_errors=True)


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
                with contextlib.suppress(OSError):
                    worker.process.stdin.close()
        for worker in self.workers:
            if kill:
                worker.kill()
            else:
                worker.stop()
        self.workers = []
        self.selector.close()

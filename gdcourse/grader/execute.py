"""Stage *execute*: run a submission in a fresh (sandboxed) kernel, test cells checked by the grader.

:class:`ResilientExecute` replaces nbgrader's ``Execute``: the student's cells, and the *visible*
part of each test cell, run in the kernel; each test cell's score then comes from its checks run
in this process (:mod:`gdcourse.grader.check`), which call the student's functions in the kernel
and write the cell's only output. A cell that kills or hangs the kernel fails alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent.parent
DEAD_KERNEL = "DeadKernelError"
TIMEOUT = "CellTimeoutError"


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
    from zmq import ZMQError

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
        _link = None
        _poller = None  # (kernel client, poller of its channels, channels by socket)

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

        async def async_start_new_kernel(self, **kwargs):
            """nbclient's, naming for the sandbox the modules this assignment's kernel must
            not contain (:func:`gdcourse.grader.sandbox.withheld_modules`: the reference
            implementations its hidden checks forbid): they are withheld from the kernel's
            copy of the package, whatever the student's code then does."""
            from gdcourse.grader.sandbox import WITHHELD_VARIABLE

            info = (self.resources or {}).get("nbgrader", {})
            checks = _source_checks(info.get("assignment", ""), info.get("notebook", ""))
            kwargs["env"] = {**os.environ, **(kwargs.get("env") or {}),
                             WITHHELD_VARIABLE: ",".join(checks.withholding.withheld)}
            return await NotebookClient.async_start_new_kernel(self, **kwargs)

        start_new_kernel = run_sync(async_start_new_kernel)

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

        # ---- the trust boundary: test cells are checked here, in the grader's process ----

        def _checks(self, resources) -> tuple:
            """The source checks of this notebook's assignment and, per kernel, the link to the
            kernel and the checks' namespace (rebuilt after a restart)."""
            if self._link is None:
                from gdcourse.grader.check import KernelLink

                info = (resources or {}).get("nbgrader", {})
                self._source_checks = _source_checks(info.get("assignment", ""),
                                                     info.get("notebook", ""))
                self._link = KernelLink(run_sync(self._async_start),
                                        run_sync(self._async_answer))
                self._namespace = self._source_checks.namespace(self._link)
            return self._source_checks, self._link, self._namespace

        async def _async_start(self, code: str, seconds: float) -> tuple:
            """Run ``code`` in the kernel (it may ask for input: the checks' conversation, see
            :class:`gdcourse.grader.check.KernelLink`); return what it does first."""
            self._session = self.kc.execute(code, silent=False, store_history=False,
                                            allow_stdin=True, stop_on_error=False)
            self._session_state = [False, False]  # execute_reply seen, idle status seen
            return await self._async_next(seconds)

        async def _async_answer(self, text: str, seconds: float) -> tuple:
            """Answer the kernel's pending input() prompt with ``text``; return what it does
            next."""
            self.kc.input(text)
            return await self._async_next(seconds)

        async def _async_next(self, seconds: float) -> tuple:
            """The next thing the running code does, within ``seconds``: ``("prompt", text)``
            when it asks for input, ``("done", None)`` once it has finished (execute_reply and
            idle status). Everything else the kernel sends (prints included) is dropped as it
            arrives; a dead kernel or no answer in time raises KernelGone."""
            import zmq.asyncio

            from gdcourse.grader.check import KernelGone

            kc, msg_id, state = self.kc, self._session, self._session_state
            if self._poller is None or self._poller[0] is not kc:
                poller = zmq.asyncio.Poller()
                channels = {channel.socket: channel for channel in
                            (kc.shell_channel, kc.iopub_channel, kc.stdin_channel)}
                for socket in channels:
                    poller.register(socket, zmq.POLLIN)
                self._poller = (kc, poller, channels)
            _, poller, channels = self._poller
            deadline = time.monotonic() + seconds
            while not all(state):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KernelGone("timeout")
                events = await poller.poll(timeout=int(min(left, 1.0) * 1000) + 1)
                if not events:
                    if not await ensure_async(self.km.is_alive()):
                        raise KernelGone("dead")
                    continue
                for socket, _ in events:
                    while True:  # every message waiting on this socket
                        try:
                            message = await ensure_async(channels[socket].get_msg(timeout=0))
                        except Empty:
                            break
                        if message["parent_header"].get("msg_id") != msg_id:
                            continue
                        kind = message["msg_type"]
                        if kind == "input_request":
                            return "prompt", str(message["content"].get("prompt", ""))
                        if kind == "execute_reply":
                            state[0] = True
                        elif kind == "status" and \
                                message["content"].get("execution_state") == "idle":
                            state[1] = True
            return "done", None

        def preprocess_cell(self, cell, resources, index):
            from gdcourse.release import is_check_all

            if is_check_all(cell):  # the student's self-check: never run while grading
                cell.outputs = []
                return cell, self.resources
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                return super().preprocess_cell(cell, resources, index)
            from gdcourse.grader.check import KernelGone, visible_part

            # 1. the visible tests run in the student's kernel, as the student ran them
            source = cell.source
            cell.source = visible_part(source)
            try:
                super().preprocess_cell(cell, resources, index)
            finally:
                cell.source = source
            if any(o.get("ename") == TIMEOUT for o in cell.get("outputs", [])):
                return cell, self.resources  # the caller restarts the kernel
            # 2. the score: the whole test cell run here, calling the student's functions
            checks, link, namespace = self._checks(resources)
            grade_id = meta.get("grade_id", "")
            if grade_id not in checks.tests:
                cell.outputs = [NotebookNode(
                    output_type="error", ename="UnknownTestCell",
                    evalue=f"no test cell {grade_id!r} in the source notebook",
                    traceback=[f"UnknownTestCell: no test cell {grade_id!r}"])]
                return cell, self.resources
            try:
                failure = checks.run(grade_id, namespace, link, float(self.timeout or 30))
            except KernelGone as gone:
                if str(gone) == "dead":
                    raise DeadKernelError("the kernel died while answering the checks") from gone
                self._error(cell, TIMEOUT, f"no answer from the kernel after {self.timeout} s")
                return cell, self.resources
            cell.outputs = [_check_output(failure)]
            return cell, self.resources

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
                self._link = None  # a new kernel: a new link and namespace for the checks
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
                        # a dead kernel may not clean up: a shutdown request nobody answers
                        # (RuntimeError, TimeoutError), a process or file already gone
                        # (OSError), a closed socket (ZMQError)
                        except (RuntimeError, OSError, ZMQError):
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


_SOURCE_CHECKS: dict = {}


def _source_checks(assignment: str, notebook: str):
    """The checks of a source notebook (:class:`gdcourse.grader.check.SourceChecks`), read
    once per process from ``solutions/``."""
    from gdcourse.grader.check import SourceChecks
    from gdcourse.release import SOLUTIONS

    path = SOLUTIONS / assignment / f"{notebook}.ipynb"
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _SOURCE_CHECKS:
        _SOURCE_CHECKS[key] = SourceChecks(nbformat.read(path, as_version=4))
    return _SOURCE_CHECKS[key]


def _check_output(failure: BaseException | None):
    """The one output a test cell shows: the grader's verdict, in its own words."""
    if failure is None:
        return nbformat.v4.new_output("stream", name="stdout",
                                      text="All checks of this cell passed.\n")
    from gdcourse.grader.check import CheckFailed

    ename = "AssertionError" if isinstance(failure, CheckFailed) else type(failure).__name__
    evalue = str(failure).strip() or "a check failed"
    if len(evalue) > 2000:
        evalue = evalue[:2000] + "..."
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"{ename}: {evalue}"])


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

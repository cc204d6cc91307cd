"""A sandbox for grading kernels: student code cannot read answers, touch grades or reach the network.

nbgrader runs every submission in a kernel started as the instructor's user, so without help a
submission can read ``solutions/``, the gradebook (which stores the hidden tests), other
students' notebooks, write anywhere the instructor can and open network connections. This module
closes that hole with Linux namespaces through `bubblewrap <https://github.com/containers/
bubblewrap>`_ (``apt-get install bubblewrap``), which needs no daemon and no root.

How a sandboxed kernel starts
-----------------------------
The grading pipeline installs a kernelspec named ``gdcourse-sandbox`` (:func:`install_kernelspec`)
whose argv runs this file instead of ``ipykernel_launcher``::

    python gdcourse/grader/sandbox.py --memory-mib 2048 ... -f {connection_file}

1. *Outside* (as the grader): the launcher reads the connection file. The kernel must talk to the
   grader over Unix sockets (``"transport": "ipc"``): the sandbox has no network at all, not even
   the host's loopback. It makes the kernel's own runtime folder (:func:`prepare_runtime`) and,
   where it can, a memory cgroup for the sandbox as a whole (:func:`memory_cgroup`), then starts
   ``bwrap`` with nothing inherited but ``/dev/null``, a pipe for output (copied, capped, to
   the grader's log) and the connection file, and stays as the process the grader knows as the
   kernel: when the sandbox ends it removes the cgroup and the runtime folder.
2. ``bwrap`` builds new mount, PID, network, IPC and UTS namespaces (and a user namespace when
   the grader is not root) in which the kernel sees only: the operating system and the Python
   environment, read-only; the package ``gdcourse`` itself, read-only; its runtime folder;
   size-limited scratch space on ``/tmp`` and on its working folder ``/submission`` (where
   the submission's files are mounted read-only, the notebooks blanked out: the autograded
   copy holds the restored hidden tests), gone with the sandbox. Everything else
   (``solutions/``, the gradebook, the other students' folders, the grader's log, the
   instructor's home) simply does not exist inside.
3. *Inside*: the same file, run with ``--inside``, is the sandbox's PID 1 (so
   ``/proc/1/cmdline`` shows no ``bwrap`` command line): it reaps processes and starts the
   kernel as its child, which sets the resource limits (address space, CPU seconds, processes,
   file size, no core dumps). A root grader's kernel then becomes a user of its own
   (:func:`kernel_uid`; root would ignore the process limit, and a shared user would share
   it). Then ``ipykernel_launcher`` runs.

The memory cgroup needs a writable cgroup v1 ``memory`` hierarchy (a root grader) or a cgroup
v2 that delegates the ``memory`` controller to the grader. Without one, memory is bounded per
process only (forked children each get the full address space): the launcher writes that into
the grader's log, and :func:`verify` reports it (``memory_bound``) for the grading log.

What the kernel does not contain
--------------------------------
The reference implementations the hidden checks of an assignment forbid (``gdcourse.optim``,
``torch.optim``, what a question names in ``forbid=``) are withheld: the grader names them in
the launcher's environment (:data:`WITHHELD_VARIABLE`, from :func:`withholding`), and the
launcher mounts a copy of the package in which each is a stub (:func:`build_package`: every name
raises "withheld while grading"), covers withheld third-party modules the same way
(:func:`third_party_overlays`) and the base interpreter's unused site-packages with an empty
folder (:func:`unused_site_packages`). A forbidden module the notebook itself needs stays, but
the names the hidden checks take from it as their reference (ch04: ``gdcourse.data.minibatches``)
are withheld one by one: in the copy, the definition's lines are cut out of the module's source
and the name bound to a stub that raises (:func:`stub_names`), so neither the module, its
compiled file, a reload nor a module that imported the name holds the reference, and the rest
of the module works (:func:`withholding` says which names). Code in the kernel can switch off
the in-kernel guard of :mod:`gdcourse.grading`; it cannot reach what is not there. Scores never
come from the kernel (the checks run in the grader, :mod:`gdcourse.grader.check`); the sandbox
protects everything outside the kernel and keeps the reference out of it.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "gdcourse-sandbox"
PACKAGE = Path(__file__).resolve().parent.parent  # gdcourse, mounted for the kernel to import
FIRST_KERNEL_UID = 2_000_000  # + the launcher's pid: far above any real user
CONNECTION_FILE = "/tmp/gdcourse-kernel.json"  # where the kernel reads its connection, inside
HOME = "/tmp/home"
WORKDIR = "/submission"  # the kernel's working folder, inside: no host path, no student's name
SYSTEM_FOLDERS = ("usr", "etc", "opt")  # mounted read-only as they are
MIB = 1024 * 1024
SOCKET_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
RELAY_BYTES = 64 * 1024  # of a kernel's own stdout/stderr copied to the grader's log
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "TZ", "NBGRADER_EXECUTION", "GDCOURSE_GRADING_SEED",
                      "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

__all__ = [
    "KERNEL_NAME",
    "WITHHELD_VARIABLE",
    "Limits",
    "SandboxError",
    "Withholding",
    "bubblewrap",
    "build_package",
    "bwrap_command",
    "install_kernelspec",
    "ipc_address",
    "memory_cgroup",
    "origin_of",
    "prepare_runtime",
    "remove_runtime",
    "stub_names",
    "third_party_overlays",
    "time_budget",
    "unused_site_packages",
    "verify",
    "withheld_modules",
    "withholding",
]


class SandboxError(RuntimeError):
    """The sandbox cannot be set up on this machine (or does not hold)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (``setrlimit`` inside the sandbox).

    memory_mib   address space of the kernel process (``RLIMIT_AS``)
    cpu_seconds  CPU time of the kernel over its whole life (``RLIMIT_CPU``); the per-cell
                 wall-clock timeout of the grader usually strikes first
    processes    processes and threads the kernel may run at once (``RLIMIT_NPROC``)
    file_mib     size of any one file the kernel writes (``RLIMIT_FSIZE``)
    scratch_mib  size of each of the two scratch spaces, the working folder and ``/tmp``
                 (size-limited tmpfs, gone with the sandbox)

    ``memory_mib`` also bounds the sandbox as a whole (the kernel and every process it starts,
    with its scratch files) through a memory cgroup, where the machine lets the grader make
    one (:func:`memory_cgroup`); elsewhere each process is bounded on its own.
    """

    memory_mib: int = 2048
    cpu_seconds: int = 600
    processes: int = 64
    file_mib: int = 64
    scratch_mib: int = 256

    def __post_init__(self) -> None:
        for name in ("memory_mib", "cpu_seconds", "processes", "file_mib", "scratch_mib"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Limits.{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"Limits.{name} must be at least 1, got {value}")
        if self.memory_mib < 512:
            raise ValueError(f"Limits.memory_mib must be at least 512 (a kernel with NumPy "
                             f"needs that much address space), got {self.memory_mib}")
        if self.processes < 16:
            raise ValueError(f"Limits.processes must be at least 16 (the kernel's own threads "
                             f"count), got {self.processes}")

    def arguments(self) -> list[str]:
        return ["--memory-mib", str(self.memory_mib), "--cpu-seconds", str(self.cpu_seconds),
                "--processes", str(self.processes), "--file-mib", str(self.file_mib),
                "--scratch-mib", str(self.scratch_mib)]


def bubblewrap() -> str | None:
    """The path of the ``bwrap`` executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def install_kernelspec(folder: Path, limits: Limits = Limits()) -> Path:
    """Write the ``gdcourse-sandbox`` kernelspec under ``folder/kernels``; return its folder.

    Put ``folder`` first on ``JUPYTER_PATH`` for the grader to find it, and start the kernel
    with IPC transport (:func:`ipc_address`).
    """
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(Path(__file__).resolve()), *limits.arguments(),
            "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": argv, "display_name": "Python 3 (gdcourse grading sandbox)",
        "language": "python", "interrupt_mode": "signal",
        "metadata": {"debugger": False}}, indent=1), encoding="utf-8")
    return spec


def time_budget(released: Path, cell_timeout: int, *, startup: float = 120) -> float:
    """Seconds the grader may spend on one submission as a whole (then it stops the kernel and
    scores what ran): ``startup`` plus twice the per-cell limit for every code cell of the
    RELEASED notebook and five more. Counting the student's own cells instead would let a
    notebook of a thousand cells run for hours. (The pipeline's safety limit,
    ``gdcourse.grader.pipeline._safety_limit``, applies the same rule to the released notebook.)"""
    if isinstance(cell_timeout, bool) or not isinstance(cell_timeout, (int, float)):
        raise TypeError(f"cell_timeout must be a number of seconds, got "
                        f"{type(cell_timeout).__name__}")
    if not cell_timeout > 0:
        raise ValueError(f"cell_timeout must be positive, got {cell_timeout}")
    try:
        cells = json.loads(Path(released).read_text(encoding="utf-8"))["cells"]
        code_cells = sum(isinstance(c, dict) and c.get("cell_type") == "code" for c in cells)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"released must be the released notebook, but {released} cannot be "
                         f"read as one: {error}") from None
    return startup + cell_timeout * (code_cells + 5) * 2


def ipc_address() -> str:
    """A fresh private folder for one grader's kernel sockets, as the ``ip`` of IPC transport
    (the sockets are ``<folder>/kernel-<n>``; short, because socket paths are limited to 107
    bytes). The folder is removed when this process exits."""
    folder = tempfile.mkdtemp(prefix="gdcourse-ipc-", dir="/tmp")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    atexit.register(sweep_cgroups)
    return f"{folder}/kernel"


_PROBE = r"""
import json, os, resource, socket, subprocess
found = {"user": os.getuid(), "cwd": os.getcwd()}
found["visible"] = [path for path in PATHS if os.path.exists(path)]
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
    found["network"] = True
except OSError:
    found["network"] = False
found["limits"] = {name: resource.getrlimit(getattr(resource, name))[0]
                   for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE")}
with open("written-by-the-sandbox-check", "w") as handle:
    handle.write("ok")
found["wrote"] = open("written-by-the-sandbox-check").read() == "ok"
found["scratch"] = {folder: os.statvfs(folder).f_blocks * os.statvfs(folder).f_frsize
                    for folder in ("/tmp", ".")}
found["fds"] = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        found["fds"][fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
found["pid1"] = open("/proc/1/cmdline", "rb").read().replace(b"\0", b" ").decode()
found["environment"] = dict(os.environ)
import numpy, gdcourse.optim, gdcourse.data
try:
    gdcourse.optim.Adam
    found["withheld"] = False
except ImportError:
    found["withheld"] = True
try:  # a single name: withheld, while the rest of its module works
    gdcourse.data.minibatches(4, 2, numpy.random.default_rng(0))
    found["withheld_name"] = False
except ImportError:
    found["withheld_name"] = len(gdcourse.data.linear_data(4, seed=0)[0]) == 4
print(json.dumps(found))
"""

_RUN_PROBE = """
import json, sys
import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from gdcourse.grader.sandbox import KERNEL_NAME, ipc_address
code, folder = sys.argv[1], sys.argv[2]
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=ipc_address())
NotebookClient(nb, km=km, timeout=60, startup_timeout=60,
               resources={"metadata": {"path": folder}}).execute()
print(nb.cells[0].outputs[-1]["text"])
"""


#: What :func:`verify` withholds from its kernel: a module and a single name.
_CHECK_WITHHELD = "gdcourse.optim,gdcourse.data.minibatches"


def verify(environment: dict[str, str], limits: Limits, hidden: list[Path]) -> dict:
    """Start a sandboxed kernel as the grader will (``environment`` must put the kernelspec
    on ``JUPYTER_PATH``) and check from inside that it holds: ``hidden`` paths do not exist,
    a TCP port this process listens on cannot be reached, the limits are set, the working
    folder is writable scratch space (nothing written there reaches the real folder), the
    kernel's standard streams lead to nothing of the grader's, PID 1 is not ``bwrap``, NumPy
    and gdcourse import, ``gdcourse.optim``, withheld for the check, cannot be reached, and
    neither can ``gdcourse.data.minibatches``, a single name withheld, while the rest of
    ``gdcourse.data`` works.
    Raise :class:`SandboxError` if not; return what the kernel saw, with ``memory_bound``:
    how the sandbox's memory is bounded (:func:`memory_cgroup`)."""
    import socket
    import subprocess

    if bubblewrap() is None:
        raise SandboxError("bubblewrap is not installed (Debian/Ubuntu: apt-get install "
                           "bubblewrap)")
    with socket.socket() as listener, tempfile.TemporaryDirectory() as folder:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        code = _PROBE.replace("PATHS", repr([str(p) for p in hidden])).replace(
            "PORT", str(listener.getsockname()[1]))
        try:
            run = subprocess.run([sys.executable, "-c", _RUN_PROBE, code, folder],
                                 env={**environment, WITHHELD_VARIABLE: _CHECK_WITHHELD},
                                 capture_output=True, text=True, timeout=180,
                                 check=False)
        except subprocess.TimeoutExpired:
            raise SandboxError("the sandboxed kernel did not answer within 180 s") from None
        written = Path(folder, "written-by-the-sandbox-check").exists()
    if run.returncode != 0:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        raise SandboxError("a sandboxed kernel does not start: "
                           + (lines[-1] if lines else f"exit status {run.returncode}"))
    found = json.loads(run.stdout.strip().splitlines()[-1])
    expected = {"RLIMIT_AS": limits.memory_mib * MIB, "RLIMIT_CPU": limits.cpu_seconds,
                "RLIMIT_NPROC": limits.processes, "RLIMIT_FSIZE": limits.file_mib * MIB}
    problems = [f"{path} is visible inside" for path in found["visible"]]
    if found["network"]:
        problems.append("the kernel reached a TCP port on 127.0.0.1")
    problems += [f"{name} is {found['limits'][name]}, expected {value}"
                 for name, value in expected.items() if found["limits"][name] != value]
    if found["user"] == 0:
        problems.append("the kernel runs as root")
    if not found["wrote"]:
        problems.append("the kernel could not write to its working folder")
    if written:
        problems.append("a file the kernel wrote reached the real working folder")
    problems += [f"{place} inside holds {size} bytes, expected {limits.scratch_mib} MiB"
                 for place, size in found["scratch"].items()
                 if size != limits.scratch_mib * MIB]
    problems += [f"the kernel's descriptor {fd} leads to {target}"
                 for fd, target in found["fds"].items()
                 if int(fd) <= 2 and not target.startswith(("pipe:", "/dev/null"))]
    if not found["withheld"]:
        problems.append("gdcourse.optim, withheld for the check, is reachable inside")
    if not found.get("withheld_name"):
        problems.append("gdcourse.data.minibatches, withheld for the check, is reachable "
                        "inside (or the rest of gdcourse.data is not)")
    if "bwrap" in found["pid1"] or folder in found["pid1"]:
        problems.append(f"PID 1 inside shows the sandbox's command line: {found['pid1'][:200]}")
    if problems:
        raise SandboxError("the grading sandbox does not hold: " + "; ".join(problems))
    found["memory_bound"] = memory_cgroup()[1]
    return found


# ------------------------------------------------------------------------------------------------
# Outside: from the connection file to bwrap
# ------------------------------------------------------------------------------------------------


def _system_mounts() -> list[str]:
    """The operating system, read-only; merged-/usr links recreated as links."""
    arguments = []
    for top in (f"/{name}" for name in SYSTEM_FOLDERS):
        if os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            arguments += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    return arguments


def _python_folders() -> list[Path]:
    """Folders the kernel's Python needs: the environment, the interpreter and this package."""
    package = PACKAGE
    folders = [Path(sys.prefix), Path(sys.base_prefix),
               Path(os.path.realpath(sys.executable)).parent.parent, package]
    kept: list[Path] = []
    for folder in sorted({f.resolve() for f in folders}, key=lambda f: len(f.parts)):
        if folder.parts[1:2] and folder.parts[1] in SYSTEM_FOLDERS:
            continue  # already there, read-only
        if not any(folder.is_relative_to(outer) for outer in kept):
            kept.append(folder)
    return kept


def _parents(folders: list[Path]) -> list[str]:
    """Create the folders above each mount point, traversable by the kernel's user (``bwrap``
    would make them private to root)."""
    parents = {parent for folder in folders for parent in folder.parents
               if parent != Path("/") and parent.parts[1] not in SYSTEM_FOLDERS}
    parents -= set(folders)
    arguments = []
    for parent in sorted(parents, key=lambda p: len(p.parts)):
        arguments += ["--perms", "0755", "--dir", str(parent)]
    return arguments


def kernel_uid() -> int:
    """The user id a root grader runs this kernel as: unprivileged, and unique among running
    kernels (derived from this launcher's process id), so that the process limit of one kernel
    is not shared with another graded at the same time."""
    return FIRST_KERNEL_UID + os.getpid()


def _connection(connection_file: Path) -> dict:
    info = json.loads(Path(connection_file).read_text(encoding="utf-8"))
    if info.get("transport") != "ipc":
        raise SandboxError(
            f"the sandboxed kernel has no network, so it must talk to the grader over IPC "
            f"(Unix sockets), but {connection_file} asks for transport "
            f"{info.get('transport')!r}: set KernelManager.transport = 'ipc'")
    return info


def runtime_folder(info: dict) -> Path:
    """This kernel's own runtime folder: ``runtime-<launcher pid>`` beside the sockets that the
    connection ``info`` names (made by :func:`prepare_runtime`)."""
    return Path(info["ip"]).parent / f"runtime-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(path: Path) -> int | None:
    """The launcher's pid in the name of a folder it made (``...-<pid>``)."""
    tail = path.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def prepare_runtime(info: dict) -> Path:
    """Make this kernel's own runtime folder and point the socket addresses of the connection
    ``info`` into it; return it.

    The kernel makes its sockets in a folder of its own, fresh for every kernel: owned by root
    (with group the kernel's user, who may add sockets but can neither chmod, rename nor remove
    the folder; a grader who is not root owns it itself). Inside the sandbox it is mounted where
    the connection file says the sockets are; outside, in the worker's socket folder, which no
    kernel ever sees, each socket address becomes a link into it, made by the grader. So
    nothing a kernel does to its runtime folder reaches the next kernel of the same worker."""
    sockets = Path(info["ip"]).parent
    for stale in sockets.glob("runtime-*"):  # of launchers that were killed
        pid = _owner_pid(stale)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            remove_runtime(stale)
    for stale in sockets.glob("package-*"):  # their copies of the package
        pid = _owner_pid(stale)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(stale, ignore_errors=True)
    runtime = runtime_folder(info)
    remove_runtime(runtime)
    runtime.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(runtime, 0, kernel_uid())
        os.chmod(runtime, 0o1770)
    base = Path(info["ip"]).name
    for key in SOCKET_PORTS:
        name = f"{base}-{info[key]}"
        temporary = sockets / f".{name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        os.symlink(f"{runtime.name}/{name}", temporary)
        os.replace(temporary, sockets / name)  # a link left by an earlier kernel is replaced
    return runtime


def remove_runtime(runtime: Path) -> None:
    """Remove a kernel's runtime folder and the links to it."""
    sockets = runtime.parent
    try:
        entries = list(sockets.iterdir())
    except OSError:
        return
    for link in entries:
        try:
            if link.is_symlink() and os.readlink(link).startswith(f"{runtime.name}/"):
                link.unlink()
        except OSError:
            pass
    shutil.rmtree(runtime, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Outside: the reference implementations withheld from the kernel
# ------------------------------------------------------------------------------------------------

#: The grader names the modules and single names a kernel must not reach in this variable of the
#: launcher's environment (comma-separated, set per notebook by :mod:`gdcourse.grader.execute`
#: from :attr:`Withholding.withheld`).
WITHHELD_VARIABLE = "GDCOURSE_WITHHELD"
#: What the questions forbid when they name nothing (``gdcourse.grading.REFERENCE_MODULES``).
REFERENCE_MODULES = ("gdcourse.optim", "torch.optim")
#: Always needed in the kernel: the courtesy guard and the kernel's side of the trust boundary.
KERNEL_MODULES = ("gdcourse", "gdcourse._validate", "gdcourse.grading", "gdcourse.grader",
                  "gdcourse.grader.kernel_side", "gdcourse.grader.wire")
_GUARD_CALLS = ("guarded", "compare_steps", "no_reference_calls", "forbidden_references")
_BEGIN_HIDDEN, _END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

_STUB = '''"""{module} is withheld while grading (gdcourse.grader.sandbox.build_package)."""


class WithheldError(ImportError):
    """The grader keeps this reference implementation out of the kernel."""


def __getattr__(name):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise WithheldError(
        f"{module}.{{name}} is withheld while grading: the grading kernel does not contain "
        "the reference implementation of this question, so your function must compute the "
        "answer itself")
'''

_THIRD_PARTY_STUB = ('raise ImportError("{module} is withheld while grading: the grading kernel '
                     'does not contain the reference implementation of this question")\n')

#: The module that makes the stubs of single withheld names, written into the kernel's copy only.
_NAME_STUBS_MODULE = "_withheld"
_NAME_STUBS = '''"""Stubs of single names withheld while grading (gdcourse.grader.sandbox.build_package).

This file exists only in the grading kernel's copy of the package: there, the definition of each
withheld name is replaced in its module's source by a call of :func:`withheld`.
"""


class WithheldError(ImportError):
    """The grader keeps this reference implementation out of the kernel."""


def _message(qualified):
    return (f"{qualified} is withheld while grading: the grading kernel does not contain the "
            "reference implementation of this question, so your function must compute the "
            "answer itself")


def _refuser(message):
    def refuse(*args, **kwargs):
        raise WithheldError(message)
    return refuse


def _no_attribute(message):
    def getattr_(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise WithheldError(message)
    return getattr_


_PROTOCOL = ("__call__", "__iter__", "__next__", "__len__", "__getitem__", "__setitem__",
             "__contains__", "__bool__", "__float__", "__int__", "__index__", "__complex__",
             "__array__", "__enter__", "__fspath__", "__neg__", "__pos__", "__abs__",
             "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
             "__truediv__", "__rtruediv__", "__floordiv__", "__pow__", "__matmul__",
             "__rmatmul__", "__lt__", "__le__", "__gt__", "__ge__")


def withheld(module, name, kind):
    """The stub that stands for ``module.name`` (a "function", "class" or "value"): calling
    it, instantiating it or using it raises :class:`WithheldError`."""
    qualified = f"{module}.{name}"
    message = _message(qualified)
    if kind == "function":
        stub = _refuser(message)
        stub.__name__ = stub.__qualname__ = name
        stub.__module__, stub.__doc__ = module, message
        return stub
    if kind == "class":
        meta = type("WithheldClass", (type,), {"__call__": _refuser(message),
                                               "__getattr__": _no_attribute(message)})
        return meta(name, (), {"__module__": module, "__qualname__": name, "__doc__": message})
    members = {method: _refuser(message) for method in _PROTOCOL}
    members.update({"__module__": module, "__qualname__": name, "__doc__": message,
                    "__getattr__": _no_attribute(message),
                    "__repr__": lambda self: f"<{qualified}: withheld while grading>"})
    return type(name, (), members)()
'''


@dataclass(frozen=True)
class Withholding:
    """What the kernel of one assignment may not reach.

    withheld   what is not in the kernel at all (stubs that raise instead): modules, and single
               names (``gdcourse.data.minibatches``) of modules that stay; this is what the
               grader passes to the sandbox (:data:`WITHHELD_VARIABLE`)
    reachable  modules a hidden check forbids but the notebook itself needs (its own cells or
               the visible tests import them): in the kernel, apart from their withheld names;
               for the rest of them only the in-kernel guard stands in the way
    names      the single names among ``withheld``
    """

    withheld: tuple[str, ...]
    reachable: tuple[str, ...]
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in (self.withheld, self.reachable, self.names):
            if isinstance(field, str) or not all(isinstance(name, str) for name in field):
                raise TypeError(f"a Withholding holds tuples of dotted names, got {field!r}")
        if not set(self.names) <= set(self.withheld):
            raise ValueError(f"names {self.names} must be among withheld {self.withheld}")

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules among ``withheld``."""
        return tuple(name for name in self.withheld if name not in self.names)


def _forbid_value(node: ast.AST) -> list[str] | None:
    """The module names of a ``forbid=`` argument written as a literal (strings, tuples of
    strings, ``*grading.REFERENCE_MODULES``), or None when it is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        return list(REFERENCE_MODULES) if name == "REFERENCE_MODULES" else None
    if isinstance(node, (ast.Tuple, ast.List)):
        names: list[str] = []
        for element in node.elts:
            inner = _forbid_value(element.value if isinstance(element, ast.Starred) else element)
            if inner is None:
                return None
            names += inner
        return names
    return None


def _forbidden(tree: ast.AST) -> set[str]:
    """Modules forbidden by the guard calls of a hidden test (the default when none is named,
    or when the ``forbid`` argument is not a literal)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else \
            getattr(function, "id", "")
        if called not in _GUARD_CALLS:
            continue
        forbid = next((k.value for k in node.keywords if k.arg == "forbid"), None)
        names = list(REFERENCE_MODULES) if forbid is None else _forbid_value(forbid)
        found.update(names if names is not None else REFERENCE_MODULES)
    return found


def _imported(tree: ast.AST, *, top_level_only: bool = False) -> set[str]:
    """Every module an import statement of ``tree`` may load (``import a.b`` gives ``a`` and
    ``a.b``; ``from a import b`` also ``a.b``, which may be a module). ``top_level_only``:
    only the statements that run when a module loads, not those in its functions."""
    if top_level_only:
        nodes: list[ast.AST] = []
        stack = list(getattr(tree, "body", []))
        while stack:
            node = stack.pop()
            nodes.append(node)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack += [child for child in ast.iter_child_nodes(node)
                          if isinstance(child, ast.stmt)]
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        dotted: list[str] = []
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            dotted = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names
                                      if alias.name != "*"]
        for name in dotted:
            parts = name.split(".")
            found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return found


def _package_file(module: str, package: Path) -> Path | None:
    """The file of a ``gdcourse`` module in ``package`` (``__init__.py`` for a package)."""
    parts = module.split(".")[1:]
    if not parts:
        return package / "__init__.py"
    base = package.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _split_hidden(source: str) -> tuple[str, str]:
    """A test cell's source as (what runs in the kernel, the hidden tests)."""
    visible, hidden = [], []
    rest = source
    while _BEGIN_HIDDEN in rest:
        before, rest = rest.split(_BEGIN_HIDDEN, 1)
        inside, _, rest = rest.partition(_END_HIDDEN)
        visible.append(before)
        hidden.append(inside)
    visible.append(rest)
    return "\n".join(visible), "\n".join(hidden)


def _parse(text: str) -> ast.AST | None:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


# ---- single names: where a module defines one, and its source with a stub instead -------------

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _load_time(node: ast.AST):
    """``node`` and the nodes below it that run when it runs, not those of the functions,
    classes and comprehensions it defines (their decorators, bases and defaults do run)."""
    yield node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        children = [*node.decorator_list, *node.args.defaults,
                    *(d for d in node.args.kw_defaults if d is not None)]
        if node.returns is not None:
            children.append(node.returns)
    elif isinstance(node, ast.ClassDef):
        children = [*node.decorator_list, *node.bases, *node.keywords]
    elif isinstance(node, _SCOPES):
        return
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _load_time(child)


def _binds(node: ast.AST, name: str) -> bool:
    """Whether the statement ``node`` binds ``name`` in its module's namespace as it runs."""
    for inner in _load_time(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and inner.name == name:
            return True
        if isinstance(inner, ast.Name) and inner.id == name and \
                isinstance(inner.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(inner, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name.split(".")[0]) == name or alias.name == "*"
                for alias in inner.names):
            return True
        if isinstance(inner, ast.ExceptHandler) and inner.name == name:
            return True
        if isinstance(inner, (ast.Global, ast.Nonlocal)) and name in inner.names:
            return True
    return False


@dataclass(frozen=True)
class _Definition:
    """Where a module's source binds one name: the statement, its first and last line, and what
    it binds ("function", "class", "value", or "import" of ``origin`` (module, name))."""

    node: ast.stmt
    first: int
    last: int
    kind: str
    origin: tuple[str, str] | None = None


def _definition(tree: ast.Module, module: str, name: str) -> _Definition:
    """The one top-level statement of ``module`` (parsed as ``tree``) that binds ``name``.

    Raises ValueError when the name is bound by no statement, by more than one, or by one the
    stub writer cannot replace (inside an ``if`` or ``try``, several targets, a star import),
    and when other code of the module that defines it uses the name: it would break with the
    name withheld. (Modules that import it get the stub; :func:`withholding` leaves a name in
    place when a module staying in the kernel mentions it.)"""
    qualified = f"{module}.{name}"
    binding = [node for node in tree.body if _binds(node, name)]
    if not binding:
        raise ValueError(f"{qualified}: {module} does not define {name!r} at its top level")
    if len(binding) > 1:
        raise ValueError(f"{qualified}: {module} binds {name!r} more than once (lines "
                         f"{', '.join(str(node.lineno) for node in binding)}), so no one "
                         "definition can be replaced by a stub")
    node = binding[0]
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    origin = None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
        kind = "function"
    elif isinstance(node, ast.ClassDef) and node.name == name:
        kind = "class"
    elif (isinstance(node, ast.Assign) and len(node.targets) == 1
          and isinstance(node.targets[0], ast.Name)) or \
            (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
             and node.value is not None):
        kind = "value"
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module and \
            all(alias.name != "*" for alias in node.names):  # gdcourse imports absolutely
        kind = "import"
        alias = next(a for a in node.names if (a.asname or a.name) == name)
        origin = (node.module, alias.name)
    else:
        raise ValueError(f"{qualified}: line {node.lineno} of {module} binds {name!r} in a "
                         "way the stub writer cannot replace (it replaces one top-level def, "
                         "class, single assignment or import)")
    for other in tree.body:  # no other statement may share the definition's lines
        if other is not node and other.lineno <= node.end_lineno and other.end_lineno >= first:
            raise ValueError(f"{qualified}: line {other.lineno} of {module} holds another "
                             "statement beside the definition")
    for other in tree.body:  # (a module that imports the name gets the stub: its own affair)
        if other is node or kind == "import":
            continue
        for inner in ast.walk(other):
            if isinstance(inner, ast.Name) and inner.id == name:
                raise ValueError(
                    f"{qualified}: line {inner.lineno} of {module} uses {name!r}, which "
                    "would break with the name withheld (withhold the module, or move that "
                    "use out of the package)")
    return _Definition(node, first, node.end_lineno, kind, origin)


def stub_names(source: str, module: str, names: list[str] | tuple[str, ...]) -> str:
    """``source``, the text of ``module``, with the definition of each of ``names`` (a top-level
    def, class or single assignment) replaced by a stub from the kernel copy's helper module:
    one line ``name = withheld(module, name, kind)``, then blank lines, so that every other line
    keeps its number (tracebacks from the module still point at the right lines). Raises
    ValueError for a name :func:`_definition` cannot replace, or one that is imported (its
    origin is to be withheld instead: :func:`origin_of`)."""
    if isinstance(names, str):
        raise TypeError("names must be a list of names, not one string")
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for name in sorted(set(names), key=lambda n: -_definition(tree, module, n).first):
        found = _definition(tree, module, name)
        if found.kind == "import":
            raise ValueError(f"{module}.{name} is imported from {'.'.join(found.origin)}: "
                             "withhold that name instead")
        stub = (f"{name} = __import__({f'gdcourse.{_NAME_STUBS_MODULE}'!r}, "
                f"fromlist=['withheld']).withheld({module!r}, {name!r}, {found.kind!r})"
                f"  # withheld while grading\n")
        lines[found.first - 1:found.last] = [stub] + ["\n"] * (found.last - found.first)
    return "".join(lines)


def _module_tree(module: str, package: Path) -> ast.Module | None:
    """The parsed source of a module of ``package`` (None if it has none, or cannot be read)."""
    path = _package_file(module, package)
    if path is None:
        return None
    try:
        return _parsed(str(path), path.stat().st_mtime_ns)
    except OSError:
        return None


@functools.lru_cache(maxsize=256)
def _parsed(path: str, _mtime_ns: int) -> ast.Module | None:
    """A file's syntax tree, parsed once per version (keyed by its modification time). The
    trees are only read, never changed, so sharing them is safe."""
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return None


def origin_of(qualified: str, package: Path | None = None) -> str:
    """Where the name ``qualified`` (``gdcourse.module.name``) is defined: itself, or, when its
    module imports it from another module of ``gdcourse`` (a re-export such as ``from
    gdcourse.data import minibatches`` in ``gdcourse.run``), that module's name, followed to
    its definition. Raises ValueError when it is not a name of a module of ``gdcourse`` (or
    comes from outside the package, whose names the sandbox cannot withhold one by one)."""
    package = Path(package) if package is not None else PACKAGE
    seen: list[str] = []
    while True:
        module, _, name = qualified.rpartition(".")
        if not module.startswith("gdcourse") or module.split(".")[0] != "gdcourse" or not name:
            raise ValueError(f"{qualified} is not a name of a module of gdcourse")
        if qualified in seen:
            raise ValueError(f"{seen[0]}: imports go round in a circle ({' -> '.join(seen)})")
        seen.append(qualified)
        tree = _module_tree(module, package)
        if tree is None:
            raise ValueError(f"{qualified}: {module} is not a module of gdcourse")
        found = _definition(tree, module, name)
        if found.kind != "import":
            return qualified
        qualified = ".".join(found.origin)
        if _package_file(qualified, package) is not None:
            raise ValueError(f"{seen[0]} is the module {qualified}: withhold it as a module")


def _is_module(name: str, package: Path) -> bool:
    return name == "gdcourse" or _package_file(name, package) is not None


def _split_withheld(withheld: list[str] | tuple[str, ...], package: Path,
                    ) -> tuple[list[str], dict[str, list[str]]]:
    """The ``gdcourse`` entries of ``withheld`` as (modules, {module: names}): an entry whose
    parent is a module of the package that binds its last part at the top level is a name
    (followed to its definition, :func:`origin_of`), any other a module. Names inside a
    module that is withheld whole are covered by it."""
    modules, names = [], {}
    for entry in withheld:
        if entry.split(".")[0] != "gdcourse":
            continue
        parent, _, last = entry.rpartition(".")
        tree = None if _is_module(entry, package) or not parent else _module_tree(parent,
                                                                                  package)
        if tree is None or not any(_binds(node, last) for node in tree.body):
            modules.append(entry)
            continue
        origin = entry if parent in KERNEL_MODULES else origin_of(entry, package)
        module, _, name = origin.rpartition(".")
        if module in KERNEL_MODULES:
            raise ValueError(f"cannot withhold {entry}: the kernel needs {module} whole")
        names.setdefault(module, [])
        if name not in names[module]:
            names[module].append(name)
    inside = {module: found for module, found in names.items()
              if not any(module == m or module.startswith(m + ".") for m in modules)}
    return modules, inside


# ---- the references a notebook's checks take, and the names its own code uses -----------------

def _references(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The dotted names ``tree`` reaches through its imports (``from a import b`` gives
    ``a.b``; ``import a.b as x`` then ``x.c.d`` gives ``a.b.c`` and ``a.b.c.d``; ``from a import
    *`` gives ``a.*``), and the string constants it holds (a name may be looked up by string)."""
    bound: dict[str, str] = {}
    found: set[str] = set()
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}")
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = []
        inner: ast.AST = node
        while isinstance(inner, ast.Attribute):
            chain.append(inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id in bound:
            dotted = bound[inner.id]
            for attribute in reversed(chain):
                dotted = f"{dotted}.{attribute}"
                found.add(dotted)
    return found, strings


def _identifiers(tree: ast.AST) -> set[str]:
    """Every identifier and string constant of ``tree``: what may use a name of another module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.update({node.name.split(".")[-1], node.asname or ""})
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def withholding(source_notebook, package: Path | None = None) -> Withholding:
    """What the kernel of an assignment goes without: forbidden modules, and single names.

    ``source_notebook`` is the assignment's source notebook (nbformat, from ``solutions/``).
    Forbidden: every module named by a guard call of its tests, visible or hidden (``grading.guarded``,
    ``grading.compare_steps``; :data:`REFERENCE_MODULES` when a call names none). Needed: every
    module its cells import outside the hidden tests (the released notebook's cells, the
    visible tests, the solutions), the modules of ``gdcourse`` those import as they load, and
    :data:`KERNEL_MODULES`. Withheld: forbidden, not needed and no parent of a needed one.

    A forbidden module the notebook needs stays (``reachable``), but the names the hidden
    checks take from it are their reference (ch04: ``from gdcourse.data import minibatches``
    beside ``forbid=(..., "gdcourse.data")``), and each is withheld on its own, followed to
    where it is defined (:func:`origin_of`), unless the kernel may need it: the notebook's own
    cells use it (an import, ``module.name``, or the name as a string), a module of
    ``gdcourse`` that stays in the kernel mentions it, or other code of its module uses it
    (:func:`_definition`). The same rules apply to a name the hidden checks reach through a
    re-export in a withheld module (``gdcourse.run.minibatches``). Only names of ``gdcourse``
    are withheld one by one: the sandbox rewrites its copy of the package, not third-party ones.
    ``package`` is the ``gdcourse`` folder whose imports are followed (this one by default)."""
    package = Path(package) if package is not None else PACKAGE
    forbidden: set[str] = set()
    needed: set[str] = set(KERNEL_MODULES)
    taken: set[str] = set()  # what the hidden checks reach through their imports
    used: set[str] = set()  # ... and what the notebook's own cells do
    strings: set[str] = set()
    for cell in source_notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        visible, hidden = _split_hidden("".join(source) if isinstance(source, list) else source)
        visible_tree, hidden_tree = _parse(visible), _parse(hidden)
        if visible_tree is not None:
            needed |= _imported(visible_tree)
            references, constants = _references(visible_tree)
            used |= references
            strings |= constants
        if hidden_tree is not None:
            taken |= _references(hidden_tree)[0]
        for tree in (visible_tree, hidden_tree):  # a guard in a visible test forbids as much
            if tree is not None:
                forbidden |= _forbidden(tree)
    needed |= _loaded(needed, package)
    withheld, reachable = [], []
    for module in sorted(forbidden):
        inside = any(name == module or name.startswith(module + ".") for name in needed)
        (reachable if inside else withheld).append(module)
    names = _withheld_names(forbidden, withheld, needed, taken, used, strings, package)
    return Withholding(tuple(withheld + names), tuple(reachable), tuple(names))


#: The name this function had when it withheld modules only.
withheld_modules = withholding


def _loaded(modules: set[str], package: Path, *, with_init: bool = False) -> set[str]:
    """The modules of ``gdcourse`` that ``modules`` import as they load, and so on. The
    package's ``__init__`` (which imports most modules) is followed only ``with_init``: a
    needed module needs it to run, not to hold what it imports (those may be stubs)."""
    found: set[str] = set()
    queue = [name for name in modules if name.startswith("gdcourse.")]
    if with_init:
        queue.append("gdcourse")
    while queue:
        tree = _module_tree(queue.pop(), package)
        for name in _imported(tree, top_level_only=True) if tree is not None else ():
            if name.split(".")[0] == "gdcourse" and name != "gdcourse" \
                    and name not in modules | found:
                found.add(name)
                queue.append(name)
    return found


def _withheld_names(forbidden: set[str], withheld: list[str], needed: set[str],
                    taken: set[str], used: set[str], strings: set[str],
                    package: Path) -> list[str]:
    """The names of :func:`withholding` (its docstring says which)."""
    def gone(module: str) -> bool:  # withheld as a module, or inside one
        return any(module == m or module.startswith(m + ".") for m in withheld)

    def origin(qualified: str) -> str | None:
        try:
            return origin_of(qualified, package)
        except ValueError:
            return None

    # what stays in the kernel and may mention a name: what is needed and what gdcourse's
    # own __init__ loads, except what is withheld whole
    staying = {m for m in needed | _loaded(needed, package, with_init=True)
               if m.split(".")[0] == "gdcourse" and not gone(m) and _is_module(m, package)}
    mentioned: dict[str, set[str]] = {}
    for module in staying:
        tree = _module_tree(module, package)
        mentioned[module] = _identifiers(tree) if tree is not None else set()
    used_origins = {found for name in used if name.startswith("gdcourse.")
                    for found in [origin(name)] if found is not None}
    names: list[str] = []
    for reference in sorted(taken):
        module, _, name = reference.rpartition(".")
        if module not in forbidden or name == "*" or _is_module(reference, package) \
                or module.split(".")[0] != "gdcourse":
            continue
        qualified = origin(reference)
        if qualified is None or qualified in names:
            continue
        home, _, name = qualified.rpartition(".")
        if gone(home) or qualified in used_origins or reference in used or \
                f"{home}.*" in used or name in strings or \
                any(name in mentioned[m] for m in staying if m != home):
            continue
        names.append(qualified)
    return names


def withheld_from_environment(environment: dict[str, str] | None = None) -> tuple[str, ...]:
    """The modules and single names :data:`WITHHELD_VARIABLE` names (in ``os.environ`` by
    default)."""
    text = (os.environ if environment is None else environment).get(WITHHELD_VARIABLE, "")
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise SandboxError(f"{WITHHELD_VARIABLE} must list module names separated by "
                               f"commas, got {name!r}")
        if name == "gdcourse":
            raise SandboxError(f"{WITHHELD_VARIABLE} cannot name the whole gdcourse package: "
                               "the kernel needs gdcourse.grading and its grader side")
    return names


def build_package(destination: Path, withheld: tuple[str, ...] | list[str],
                  package: Path | None = None) -> Path:
    """A copy of the ``gdcourse`` package in ``destination/gdcourse`` without what is withheld.

    Each withheld *module* of ``gdcourse`` is a stub: importing it works (``import gdcourse``
    imports its modules), reading any of its names raises ``WithheldError`` (an ImportError)
    saying it is withheld while grading. Each withheld *name* (``gdcourse.data.minibatches``:
    an entry whose parent module defines it) is cut out of its module's source in the copy: the
    definition's lines become one line that binds the name to a stub (:func:`stub_names`),
    which raises the same error when called, instantiated or used, while every other name of
    the module keeps working. A name re-exported by another module (``from gdcourse.data import
    minibatches`` in ``gdcourse.run``) is followed to its definition (:func:`origin_of`); the
    re-exporting modules then import the stub, as does ``importlib.reload``.

    Why rewriting the source and not, say, deleting the attribute after import: the kernel can
    read every file of its copy (``inspect.getsource``, ``linecache``, the file path itself,
    a reload), so the reference must not be in any of them. Neither the source nor the
    ``__pycache__`` files of a withheld or rewritten module are copied (a ``.pyc`` holds the
    original code); the others keep theirs (``copy2`` keeps them valid). The sandbox mounts
    this copy where the package is, so that no code in the kernel can reach the reference: it
    is not in the kernel's file system. ``package`` is the folder copied (this package by
    default; a test's small ``gdcourse``). Returns the copy."""
    if isinstance(withheld, str):
        raise TypeError("withheld must be a list of module names, not one string")
    source = Path(package) if package is not None else PACKAGE
    if not (source / "__init__.py").is_file():
        raise ValueError(f"{source} is not a package folder (it has no __init__.py)")
    for entry in withheld:
        if not isinstance(entry, str) or not all(part.isidentifier()
                                                 for part in entry.split(".")):
            raise ValueError(f"withheld must hold dotted module or name paths, got {entry!r}")
    ours = [name for name in withheld if name == "gdcourse" or name.startswith("gdcourse.")]
    if "gdcourse" in ours:
        raise ValueError("withheld cannot name the whole gdcourse package: the kernel needs "
                         "gdcourse.grading and gdcourse.grader.kernel_side")
    modules, names = _split_withheld(ours, source)
    rewritten = {}
    for module, found in names.items():
        path = _package_file(module, source)
        rewritten[path] = stub_names(path.read_text(encoding="utf-8"), module, found)
    if names and (source / f"{_NAME_STUBS_MODULE}.py").exists():
        raise ValueError(f"gdcourse has a module {_NAME_STUBS_MODULE}: the stubs of withheld "
                         "names need that name")
    copy = Path(destination) / "gdcourse"
    stubs = {source.joinpath(*name.split(".")[1:]) for name in modules}
    files = {stub.with_suffix(".py") for stub in stubs} | set(rewritten)

    def leave_out(folder: str, entries: list[str]) -> set[str]:
        here = Path(folder)
        out = {name for name in entries if here / name in stubs or here / name in files}
        if here.name == "__pycache__":
            stems = {path.stem for path in files if path.parent == here.parent}
            out |= {name for name in entries if name.split(".")[0] in stems}
        return out

    shutil.copytree(source, copy, ignore=leave_out, copy_function=shutil.copy2)
    for name in modules:
        relative = Path(*name.split(".")[1:])
        target = copy / relative.with_suffix(".py")
        if (source / relative).is_dir():
            target = copy / relative / "__init__.py"
            target.parent.mkdir(exist_ok=True)
        target.write_text(_STUB.format(module=name), encoding="utf-8")
    for path, text in rewritten.items():
        (copy / path.relative_to(source)).write_text(text, encoding="utf-8")
    if names:
        (copy / f"{_NAME_STUBS_MODULE}.py").write_text(_NAME_STUBS, encoding="utf-8")
    return copy


def third_party_overlays(withheld: tuple[str, ...] | list[str], stubs: Path,
                         path: list[str] | None = None) -> list[str]:
    """``bwrap`` arguments that put a stub over each withheld module outside ``gdcourse``
    found on ``path`` (``sys.path`` by default; nothing is imported to find it): over a
    package, a folder holding one ``__init__.py`` that raises ImportError; over a module, that
    file, with its compiled files blanked. A module inside a withheld package goes with it.
    Stubs are written under ``stubs``."""
    import importlib.machinery

    arguments: list[str] = []
    for name in withheld:
        if name == "gdcourse" or name.startswith("gdcourse."):
            continue
        parts = name.split(".")
        if any(".".join(parts[:end]) in withheld for end in range(1, len(parts))):
            continue  # inside a withheld package: covered with it
        spec = importlib.machinery.PathFinder.find_spec(parts[0], path)
        if spec is None or spec.origin in (None, "built-in", "frozen"):
            continue
        if spec.submodule_search_locations:  # a package: its folder, and below it
            base = Path(spec.origin).parent.joinpath(*parts[1:])
        elif len(parts) == 1:
            base = Path(spec.origin)
        else:
            continue
        text = _THIRD_PARTY_STUB.format(module=name)
        if base.is_dir():
            stub = stubs / name
            stub.mkdir(parents=True, exist_ok=True)
            stub.joinpath("__init__.py").write_text(text, encoding="utf-8")
            arguments += ["--ro-bind", str(stub), str(base)]
            continue
        module = base if base.suffix == ".py" else base.with_suffix(".py")
        if module.is_file():
            stubs.mkdir(parents=True, exist_ok=True)
            stub = stubs / f"{name}.py"
            stub.write_text(text, encoding="utf-8")
            arguments += ["--ro-bind", str(stub), str(module)]
            for compiled in sorted((module.parent / "__pycache__").glob(f"{module.stem}.*.pyc")):
                arguments += ["--ro-bind", "/dev/null", str(compiled)]
    return arguments


def unused_site_packages() -> list[Path]:
    """The base interpreter's site-packages when this virtual environment does not use them
    (``include-system-site-packages = false``). Mounted with the interpreter, they would put
    whatever is installed there (SciPy's optimizers, another copy of gdcourse) in reach of a
    kernel that adds them to ``sys.path``: the sandbox covers them with an empty folder."""
    import sysconfig

    if sys.prefix == sys.base_prefix:
        return []
    base = {"base": sys.base_prefix, "platbase": sys.base_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_prefix}
    paths = sysconfig.get_paths(scheme=sysconfig.get_default_scheme(), vars=base)
    on_path = {Path(entry).resolve() for entry in sys.path if entry}
    found: list[Path] = []
    for key in ("purelib", "platlib"):
        folder = Path(paths[key]).resolve()
        if folder.is_dir() and folder not in on_path and folder not in found \
                and not Path(sys.prefix).resolve().is_relative_to(folder):
            found.append(folder)
    return found


# ------------------------------------------------------------------------------------------------
# Outside: one memory bound for the whole sandbox
# ------------------------------------------------------------------------------------------------


def memory_cgroup(proc: Path = Path("/proc/self")) -> tuple[Path | None, str]:
    """The cgroup under which this process can make memory-limited cgroups of its own, with a
    description (``(folder, "cgroup v1 ...")``), or ``(None, why not)``.

    A cgroup bounds the memory of the sandbox as a whole: the kernel, every process it starts
    and its scratch files (tmpfs pages are charged to the cgroup that writes them). It is made
    inside the grader's own cgroup, so whatever bounds the grader still bounds its kernels.
    cgroup v1 needs a writable ``memory`` hierarchy (root); cgroup v2 needs the grader's cgroup
    to hand the ``memory`` controller to its children (``cgroup.subtree_control``), as in a
    delegated systemd scope. Without either, each process is bounded on its own
    (``RLIMIT_AS``), and ``GDCOURSE_SANDBOX_CGROUP=0`` chooses that on purpose. ``proc`` is
    where this process's ``cgroup`` and ``mountinfo`` files are read (a test's fake tree)."""
    if os.environ.get("GDCOURSE_SANDBOX_CGROUP", "1") == "0":
        return None, "turned off (GDCOURSE_SANDBOX_CGROUP=0)"
    try:
        membership = (Path(proc) / "cgroup").read_text().splitlines()
        mounts = (Path(proc) / "mountinfo").read_text().splitlines()
    except OSError as error:
        return None, f"/proc cannot be read ({error})"
    hierarchies: dict[int, tuple[str, str]] = {}
    for line in mounts:
        fields = line.split()
        if "-" not in fields:
            continue
        after = fields[fields.index("-") + 1:]
        if after[0] == "cgroup" and "memory" in after[2].split(","):
            hierarchies[1] = (fields[3], fields[4])
        elif after[0] == "cgroup2":
            hierarchies[2] = (fields[3], fields[4])
    reasons = []
    for line in membership:
        number, controllers, path = line.split(":", 2)
        version = 1 if "memory" in controllers.split(",") else 2 if number == "0" else None
        if version not in hierarchies:
            continue
        root, point = hierarchies[version]
        if os.path.commonpath([root, path]) != root:
            continue
        folder = Path(point, os.path.relpath(path, root))
        if version == 1:
            usable = (folder / "memory.limit_in_bytes").exists()
        else:
            try:
                usable = "memory" in (folder / "cgroup.subtree_control").read_text().split()
            except OSError:
                usable = False
            if not usable:
                reasons.append(f"cgroup v2: {folder} does not delegate the memory controller")
                continue
        if usable and os.access(folder, os.W_OK):
            return folder, f"cgroup v{version} memory controller under {folder}"
        reasons.append(f"cgroup v{version}: {folder} is not writable")
    return None, "; ".join(reasons) or "no memory cgroup hierarchy is mounted"


def sweep_cgroups(parent: Path | None = None) -> None:
    """Remove the memory cgroups of sandbox launchers that were killed (a killed launcher
    cannot remove its own; a kernel stopped the usual way leaves none), under ``parent``
    (:func:`memory_cgroup`'s by default)."""
    if parent is None:
        parent, _ = memory_cgroup()
    for stale in parent.glob("gdcourse-sandbox-*") if parent is not None else ():
        pid = _owner_pid(stale)
        if pid is not None and not _alive(pid):
            _remove_cgroup(stale, wait=0)


def _make_cgroup(parent: Path, limits: Limits) -> Path:
    """A new cgroup under ``parent`` holding at most ``limits.memory_mib`` (and no swap)."""
    sweep_cgroups(parent)
    folder = parent / f"gdcourse-sandbox-{os.getpid()}"
    folder.mkdir()
    limit = str(limits.memory_mib * MIB)
    try:
        # v2: every cgroup has cgroup.controllers (its parent's too: a child's files appear
        # only on a real cgroup2 mount, so the parent is asked)
        if (folder / "memory.max").exists() or (parent / "cgroup.controllers").exists():
            (folder / "memory.max").write_text(limit)
            swap = folder / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
        else:
            (folder / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # memory + swap, where swap is accounted
                (folder / "memory.memsw.limit_in_bytes").write_text(limit)
    except OSError:
        folder.rmdir()
        raise
    return folder


def _remove_cgroup(folder: Path | None, wait: float = 2.0) -> None:
    """Remove an empty cgroup, waiting up to ``wait`` s for its last processes to be reaped."""
    if folder is None:
        return
    end = time.monotonic() + wait
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= end:
                return
            time.sleep(0.02)


# ------------------------------------------------------------------------------------------------
# Outside: the bwrap command line
# ------------------------------------------------------------------------------------------------


def bwrap_command(connection_file: Path, workdir: Path, limits: Limits,
                  connection_fd: int, package: Path | None = None,
                  overlays: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The ``bwrap`` command line that runs the kernel for ``connection_file`` in ``workdir``.

    ``package`` is the copy of ``gdcourse`` mounted where the package is (:func:`build_package`:
    the withheld modules are stubs; the package itself when None); ``overlays`` are further
    ``bwrap`` arguments mounted over the Python environment (:func:`third_party_overlays`). The
    base interpreter's site-packages that the environment does not use are covered by an empty
    folder (:func:`unused_site_packages`).

    ``connection_fd`` is an open descriptor of the connection file, copied into the sandbox.
    Run by root, ``bwrap`` needs no user namespace; the kernel keeps only the capabilities to
    change its user, and drops to :func:`kernel_uid` before it runs any code. Run by anyone else,
    a user namespace maps the grader's own user, who is subject to the limits anyway.

    The kernel writes only to scratch space: a size-limited tmpfs on ``/tmp`` and another on
    its working folder, :data:`WORKDIR` inside, where the files of ``workdir`` are mounted
    read-only (notebooks blanked); both vanish with the sandbox. Its sockets go to its runtime
    folder (:func:`prepare_runtime`). The sandbox's first process (PID 1, whose command line
    any process inside can read) is this file's small init, not ``bwrap`` with its mounts.
    """
    info = _connection(connection_file)
    sockets = Path(info["ip"]).parent
    runtime = runtime_folder(info)
    workdir = Path(workdir).resolve()
    scratch = str(limits.scratch_mib * MIB)
    command = [bubblewrap() or "bwrap"]
    if os.geteuid() == 0:
        command += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                    "--unshare-cgroup-try", "--cap-drop", "ALL",
                    "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        user = ["--user", str(kernel_uid())]
    else:
        command += ["--unshare-all", "--cap-drop", "ALL"]
        user = []
    command += ["--die-with-parent", "--as-pid-1", *_system_mounts(), "--proc", "/proc",
                "--dev", "/dev", "--size", scratch, "--perms", "1777", "--tmpfs", "/tmp"]
    folders = _python_folders()
    mount_points = [*folders, sockets]
    # Mount points deep inside /tmp (the sandbox's own, writable /tmp) get their folders above
    # them on a tmpfs of their own, made read-only below like the sandbox's root.
    sealed = sorted({Path("/tmp", point.relative_to("/tmp").parts[0]) for point in mount_points
                     if point.is_relative_to("/tmp") and len(point.relative_to("/tmp").parts) > 1}
                    - set(mount_points))
    for folder in sealed:
        command += ["--perms", "0755", "--tmpfs", str(folder)]
    command += _parents(mount_points)
    for folder in folders:
        source = package if package is not None and folder == PACKAGE else folder
        command += ["--ro-bind", str(source), str(folder)]
    covered = unused_site_packages()
    for folder in covered:
        command += ["--perms", "0555", "--tmpfs", str(folder)]
    command += list(overlays)
    command += ["--bind", str(runtime), str(sockets),
                "--size", scratch, "--perms", "1777", "--tmpfs", WORKDIR]
    for entry in sorted(workdir.iterdir()):
        inside = f"{WORKDIR}/{entry.name}"
        if entry.suffix == ".ipynb":  # the autograded copy holds the hidden tests: blanked
            command += ["--ro-bind", "/dev/null", inside]
        elif not entry.is_symlink():  # a link could lead anywhere outside
            command += ["--ro-bind", str(entry), inside]
    command += ["--perms", "0444", "--file", str(connection_fd), CONNECTION_FILE]
    # The sandbox's own root and the sealed tmpfs (the folders made above for mount points)
    # read-only: in a user namespace the kernel would own them and could create files there
    # (private to the sandbox, but a submission should find nowhere to write but its scratch).
    for folder in ["/", *map(str, sealed), *map(str, covered)]:
        command += ["--remount-ro", folder]
    command += ["--chdir", WORKDIR, "--clearenv"]
    environment = {"HOME": HOME, "USER": "student", "LANG": "C.UTF-8",
                   "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                   "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
                   "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "PYTHONDONTWRITEBYTECODE": "1"}
    environment.update({name: os.environ[name] for name in PASSED_ENVIRONMENT
                        if name in os.environ})
    for name, value in sorted(environment.items()):
        command += ["--setenv", name, value]
    command += ["--", sys.executable, "-s", str(Path(__file__).resolve()), "--inside", *user,
                *limits.arguments(), "-f", CONNECTION_FILE]
    return command


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return


def _relay(source: int, process) -> None:
    """Copy what the sandbox writes to its stdout and stderr to this launcher's stderr (the
    worker's log), up to :data:`RELAY_BYTES`; drop the rest, reading on until the end. Should
    the grader process that started this launcher end first (and :func:`_die_with_parent` not
    have struck), end the sandbox and clean up."""
    import select

    parent = os.getppid()
    try:
        watch = [os.pidfd_open(parent)]  # readable once the grader has ended
    except (AttributeError, OSError):
        watch = []  # then look every second whether this launcher lost its parent
    passed = 0
    while True:
        readable, _, _ = select.select([source, *watch], [], [], 1.0)
        if (watch and watch[0] in readable) or os.getppid() != parent:
            process.kill()
            break
        if source not in readable:
            continue
        chunk = os.read(source, 1 << 16)
        if not chunk:
            break
        if passed < RELAY_BYTES:
            part = chunk[:RELAY_BYTES - passed]
            _write_all(2, part)
            passed += len(part)
            if passed >= RELAY_BYTES:
                _write_all(2, b"\n[gdcourse sandbox: the rest of this kernel's stdout and "
                              b"stderr is dropped]\n")
    for fd in (source, *watch):
        os.close(fd)


def _die_with_parent() -> None:
    """Be killed the moment the thread of the grader that started this launcher ends (as
    ``bwrap --die-with-parent`` was when it was the grader's child; ``bwrap`` then ends with
    this launcher, and the sandbox with ``bwrap``). The kernel's runtime folder and cgroup are
    then swept later (:func:`prepare_runtime`, :func:`sweep_cgroups`)."""
    import ctypes
    import signal

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        raise SandboxError(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != parent:  # the grader ended before that was set
        raise SystemExit(1)


def launch(connection_file: Path, limits: Limits) -> int:
    """Run the sandboxed kernel for ``connection_file`` and wait for it; return its exit status.

    This launcher stays outside, as the process the grader knows as the kernel. It gives the
    sandbox nothing but what the kernel needs: stdin from ``/dev/null``, stdout and stderr into
    a pipe that it copies (capped) to the grader's log, and the connection file, so that no
    descriptor of the grader (its log, its sockets) is reachable through ``/proc/self/fd``. It
    puts the sandbox in a memory cgroup of its own (:func:`memory_cgroup`) and, once the sandbox
    has ended, removes the cgroup and the kernel's runtime folder (both are also swept by the next
    launcher, should this one be killed)."""
    if bubblewrap() is None:
        raise SandboxError("bubblewrap is not installed (apt-get install bubblewrap)")
    import signal
    import subprocess

    _die_with_parent()
    connection_file = Path(connection_file)
    info = _connection(connection_file)
    runtime = prepare_runtime(info)
    cgroup = None
    parent, where = memory_cgroup()
    if parent is not None:
        try:
            cgroup = _make_cgroup(parent, limits)
        except OSError as error:
            where = f"no cgroup could be made under {parent} ({error})"
    if cgroup is None:
        _write_all(2, f"gdcourse sandbox: memory is bounded per process only: {where}\n"
                   .encode())
    withheld = withheld_from_environment()
    package = overlays = None
    if withheld:  # this kernel's copy of the package, beside its runtime folder
        shelf = runtime.parent / f"package-{os.getpid()}"
        shutil.rmtree(shelf, ignore_errors=True)
        shelf.mkdir(mode=0o755)
        try:
            package = build_package(shelf, withheld)
        except ValueError as error:  # a name the stub writer cannot cut out: say which
            shutil.rmtree(shelf, ignore_errors=True)
            raise SandboxError(f"{WITHHELD_VARIABLE}: {error}") from None
        overlays = third_party_overlays(withheld, shelf / "withheld")
    connection_fd = os.open(connection_file, os.O_RDONLY)
    read_end, write_end = os.pipe()

    def prepare_bwrap() -> None:  # in the child, before bwrap starts
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        # An interrupt goes to the whole process group: bwrap must outlive it (it would take
        # the sandbox with it); the kernel inside sets its own handler (:func:`run_inside`).
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # the grader signals the whole process group: the kernel inside acts on it; this
        # launcher waits for the sandbox to end (handlers, unlike SIG_IGN, are not inherited)
        signal.signal(signum, lambda *_: None)
    try:
        try:
            process = subprocess.Popen(
                bwrap_command(connection_file, Path.cwd(), limits, connection_fd, package,
                              overlays or ()),
                stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end,
                # preexec_fn: the launcher is single-threaded (a kernelspec's argv, nothing else
                # runs in it), so the fork-safety concern of PLW1509 does not arise here.
                pass_fds=(connection_fd,), preexec_fn=prepare_bwrap)  # noqa: PLW1509
        finally:
            os.close(write_end)
            os.close(connection_fd)
        _relay(read_end, process)
        return process.wait()
    finally:
        remove_runtime(runtime)
        if package is not None:
            shutil.rmtree(package.parent, ignore_errors=True)
        _remove_cgroup(cgroup)


# ------------------------------------------------------------------------------------------------
# Inside: an init as PID 1, limits, then the kernel
# ------------------------------------------------------------------------------------------------


def run_inside(connection_file: str, limits: Limits, user: int | None = None) -> int:
    """As the sandbox's PID 1: start the kernel as a child (:func:`enter_kernel`), reap every
    process that ends in the sandbox, and end with the kernel (which ends the sandbox)."""
    import signal
    import traceback

    if os.getpid() != 1:  # not the sandbox's first process: just be the kernel
        signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored by bwrap
        enter_kernel(connection_file, limits, user)
        return 0
    kernel = os.fork()
    if kernel == 0:
        code = 1
        signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored by bwrap
        try:
            enter_kernel(connection_file, limits, user)
            code = 0
        except SystemExit as end:
            code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        except BaseException:  # noqa: BLE001 - PID 1's child: report anything, then exit below
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: None)  # for the kernel (same process group) to act on
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == kernel:
            return os.waitstatus_to_exitcode(status)


def enter_kernel(connection_file: str, limits: Limits, user: int | None = None) -> None:
    """Set the resource limits of this process, become ``user`` (when started as root), then
    run ``ipykernel_launcher`` in this process."""
    import resource
    import runpy

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mib * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mib * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() == 0:
        if user is None:
            raise SandboxError("refusing to run a kernel as root: no --user given")
        os.setgroups([])
        os.setgid(user)
        os.setuid(user)  # drops every capability too
    os.makedirs(HOME, exist_ok=True)
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # this file's folder is not a place to import from
    sys.argv = ["ipykernel_launcher", "-f", connection_file]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start a Jupyter kernel in the grading sandbox.")
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--user", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-mib", type=int, default=Limits.memory_mib)
    parser.add_argument("--cpu-seconds", type=int, default=Limits.cpu_seconds)
    parser.add_argument("--processes", type=int, default=Limits.processes)
    parser.add_argument("--file-mib", type=int, default=Limits.file_mib)
    parser.add_argument("--scratch-mib", type=int, default=Limits.scratch_mib)
    args = parser.parse_args(argv)
    limits = Limits(args.memory_mib, args.cpu_seconds, args.processes, args.file_mib,
                    args.scratch_mib)
    try:
        if args.inside:
            return run_inside(args.connection_file, limits, args.user)
        return launch(Path(args.connection_file), limits)
    except SandboxError as error:
        print(f"gdcourse sandbox: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

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

    python gdcourse/sandbox.py --memory-mib 2048 ... -f {connection_file}

1. *Outside* (as the grader): the launcher reads the connection file. The kernel must talk to the
   grader over Unix sockets (``"transport": "ipc"``): the sandbox has no network at all, not even
   the host's loopback. Then it replaces itself with ``bwrap``.
2. ``bwrap`` builds new mount, PID, network, IPC and UTS namespaces (and a user namespace when
   the grader is not root) in which the kernel sees only: the operating system and the Python
   environment, read-only; the package ``gdcourse`` itself, read-only; the submission's working
   folder (writable, with the notebooks in it blanked out: the autograded copy holds the
   restored hidden tests); the kernel's socket folder; a private ``/tmp`` and home. Everything
   else (``solutions/``, the gradebook, the other students' folders, the instructor's home)
   simply does not exist inside.
3. *Inside*: the same file, run with ``--inside``, sets the resource limits (address space, CPU
   seconds, processes, file size, no core dumps). A root grader's kernel then becomes a user of
   its own (:func:`kernel_uid`; root would ignore the process limit, and a shared user would
   share it), which owns just its two writable folders. Then ``ipykernel_launcher`` runs.

What the sandbox cannot do
--------------------------
It protects everything *outside* the kernel. Code inside the kernel runs in the same process as
the test cells that follow it, so it can still tamper with them (replace a function the tests
call, hook IPython's cell events). The pipeline makes that harder, not impossible: test cells are
restored from the gradebook, hidden tests draw fresh random inputs on every run and check the
students' functions against the reference step by step, and feedback drops any output that
quotes hidden-test code. Reading a grade from a notebook run in the sandbox is only as
trustworthy as those tests.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "gdcourse-sandbox"
FIRST_KERNEL_UID = 2_000_000  # + the launcher's pid: far above any real user
CONNECTION_FILE = "/tmp/gdcourse-kernel.json"  # where the kernel reads its connection, inside
HOME = "/tmp/home"
SYSTEM_FOLDERS = ("usr", "etc", "opt")  # mounted read-only as they are
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "TZ", "NBGRADER_EXECUTION", "GDCOURSE_GRADING_SEED",
                      "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

__all__ = ["KERNEL_NAME", "Limits", "SandboxError", "bubblewrap", "bwrap_command",
           "install_kernelspec", "ipc_address", "verify"]


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
    """

    memory_mib: int = 2048
    cpu_seconds: int = 600
    processes: int = 64
    file_mib: int = 64

    def __post_init__(self) -> None:
        for name in ("memory_mib", "cpu_seconds", "processes", "file_mib"):
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
                "--processes", str(self.processes), "--file-mib", str(self.file_mib)]


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


def ipc_address() -> str:
    """A fresh private folder for one grader's kernel sockets, as the ``ip`` of IPC transport
    (the sockets are ``<folder>/kernel-<n>``; short, because socket paths are limited to 107
    bytes). The folder is removed when this process exits."""
    folder = tempfile.mkdtemp(prefix="gdcourse-ipc-", dir="/tmp")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
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
open("written-by-the-sandbox-check", "w").write("ok")
import numpy, gdcourse.optim
print(json.dumps(found))
"""

_RUN_PROBE = """
import json, sys
import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from gdcourse.sandbox import KERNEL_NAME, ipc_address
code, folder = sys.argv[1], sys.argv[2]
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=ipc_address())
NotebookClient(nb, km=km, timeout=60, startup_timeout=60,
               resources={"metadata": {"path": folder}}).execute()
print(nb.cells[0].outputs[-1]["text"])
"""


def verify(environment: dict[str, str], limits: Limits, hidden: list[Path]) -> dict:
    """Start a sandboxed kernel as the grader will (``environment`` must put the kernelspec
    on ``JUPYTER_PATH``) and check from inside that it holds: ``hidden`` paths do not exist,
    a TCP port this process listens on cannot be reached, the limits are set, the working
    folder is writable and NumPy and gdcourse import. Raise :class:`SandboxError` if not;
    return what the kernel saw."""
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
                                 env=environment, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            raise SandboxError("the sandboxed kernel did not answer within 180 s") from None
        written = Path(folder, "written-by-the-sandbox-check").exists()
    if run.returncode != 0:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        raise SandboxError("a sandboxed kernel does not start: "
                           + (lines[-1] if lines else f"exit status {run.returncode}"))
    found = json.loads(run.stdout.strip().splitlines()[-1])
    mib = 1024 * 1024
    expected = {"RLIMIT_AS": limits.memory_mib * mib, "RLIMIT_CPU": limits.cpu_seconds,
                "RLIMIT_NPROC": limits.processes, "RLIMIT_FSIZE": limits.file_mib * mib}
    problems = [f"{path} is visible inside" for path in found["visible"]]
    if found["network"]:
        problems.append("the kernel reached a TCP port on 127.0.0.1")
    problems += [f"{name} is {found['limits'][name]}, expected {value}"
                 for name, value in expected.items() if found["limits"][name] != value]
    if found["user"] == 0:
        problems.append("the kernel runs as root")
    if not written:
        problems.append("the kernel could not write to its working folder")
    if problems:
        raise SandboxError("the grading sandbox does not hold: " + "; ".join(problems))
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
    package = Path(__file__).resolve().parent
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
    kernels (derived from this launcher's process id, which ``bwrap`` keeps), so that the
    process limit of one kernel is not shared with another graded at the same time."""
    return FIRST_KERNEL_UID + os.getpid()


def bwrap_command(connection_file: Path, workdir: Path, limits: Limits,
                  connection_fd: int) -> list[str]:
    """The ``bwrap`` command line that runs the kernel for ``connection_file`` in ``workdir``.

    ``connection_fd`` is an open descriptor of the connection file, copied into the sandbox.
    Run by root, ``bwrap`` needs no user namespace; the kernel keeps only the capabilities to
    change its user, and drops to :func:`kernel_uid` before it runs any code. Run by anyone else,
    a user namespace maps the grader's own user, who is subject to the limits anyway.
    """
    info = json.loads(Path(connection_file).read_text(encoding="utf-8"))
    if info.get("transport") != "ipc":
        raise SandboxError(
            f"the sandboxed kernel has no network, so it must talk to the grader over IPC "
            f"(Unix sockets), but {connection_file} asks for transport "
            f"{info.get('transport')!r}: set KernelManager.transport = 'ipc'")
    sockets = Path(info["ip"]).parent
    workdir = Path(workdir).resolve()
    command = [bubblewrap() or "bwrap"]
    if os.geteuid() == 0:
        command += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                    "--unshare-cgroup-try", "--cap-drop", "ALL",
                    "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        user = ["--user", str(kernel_uid())]
    else:
        command += ["--unshare-all", "--cap-drop", "ALL"]
        user = []
    command += ["--die-with-parent", *_system_mounts(), "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--tmpfs", "/tmp"]
    folders = _python_folders()
    mount_points = folders + [sockets, workdir]
    # Mount points deep inside /tmp (the sandbox's own, writable /tmp) get their folders above
    # them on a tmpfs of their own, made read-only below like the sandbox's root.
    sealed = sorted({Path("/tmp", point.relative_to("/tmp").parts[0]) for point in mount_points
                     if point.is_relative_to("/tmp") and len(point.relative_to("/tmp").parts) > 1}
                    - set(mount_points))
    for folder in sealed:
        command += ["--perms", "0755", "--tmpfs", str(folder)]
    command += _parents(mount_points)
    for folder in folders:
        command += ["--ro-bind", str(folder), str(folder)]
    command += ["--bind", str(sockets), str(sockets), "--bind", str(workdir), str(workdir)]
    for notebook in sorted(workdir.glob("*.ipynb")):  # the autograded copy holds hidden tests
        command += ["--ro-bind", "/dev/null", str(notebook)]
    command += ["--perms", "0444", "--file", str(connection_fd), CONNECTION_FILE]
    # The sandbox's own root and the sealed tmpfs (the folders made above for mount points)
    # read-only: in a user namespace the kernel would own them and could create files there
    # (private to the sandbox, but a submission should find nowhere to write but its folder and
    # /tmp).
    for folder in ["/", *map(str, sealed)]:
        command += ["--remount-ro", folder]
    command += ["--chdir", str(workdir), "--clearenv"]
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


def _give(paths: list[Path], uid: int) -> None:
    """Hand ``paths`` (recursively) to ``uid``, the kernel's own folders, keeping group root
    with access (``bwrap`` enters them as root without capabilities)."""
    for top in paths:
        for folder, folders, files in os.walk(top):
            for name in [folder, *(os.path.join(folder, f) for f in folders + files)]:
                if os.path.islink(name):
                    continue
                os.chown(name, uid, 0)
                mode = os.stat(name).st_mode
                os.chmod(name, mode | (0o070 if os.path.isdir(name) else 0o060))


def launch(connection_file: Path, limits: Limits) -> None:
    """Replace this process by the sandboxed kernel (does not return)."""
    if bubblewrap() is None:
        raise SandboxError("bubblewrap is not installed (apt-get install bubblewrap)")
    connection_file = Path(connection_file)
    connection_fd = os.open(connection_file, os.O_RDONLY)
    os.set_inheritable(connection_fd, True)
    workdir = Path.cwd()
    command = bwrap_command(connection_file, workdir, limits, connection_fd)
    if os.geteuid() == 0:
        sockets = Path(json.loads(connection_file.read_text(encoding="utf-8"))["ip"]).parent
        _give([sockets, workdir], kernel_uid())
    os.execv(command[0], command)


# ------------------------------------------------------------------------------------------------
# Inside: limits, then the kernel
# ------------------------------------------------------------------------------------------------


def enter_kernel(connection_file: str, limits: Limits, user: int | None = None) -> None:
    """Set the resource limits of this process, become ``user`` (when started as root), then
    run ``ipykernel_launcher`` in this process."""
    import resource
    import runpy

    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mib * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mib * mib,) * 2)
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
    args = parser.parse_args(argv)
    limits = Limits(args.memory_mib, args.cpu_seconds, args.processes, args.file_mib)
    try:
        if args.inside:
            enter_kernel(args.connection_file, limits, args.user)
        else:
            launch(Path(args.connection_file), limits)
    except SandboxError as error:
        print(f"gdcourse sandbox: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

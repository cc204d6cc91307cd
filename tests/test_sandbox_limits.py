"""One student must never harm the run or the class: bounds of the grading sandbox as a whole.

Each test starts real sandboxed kernels (bubblewrap) from a process that stands in for a grading
worker: one socket address for all its kernels, its stderr a log file, like ``gdcourse.grade``'s
workers. The attacks run as a student's cell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gdcourse.grader import sandbox
from gdcourse.grader.sandbox import Limits
from gdcourse.outputcap import CappedOutputs

# Real sandboxed kernels (seconds each): not part of `make check`'s fast loop.
pytestmark = [pytest.mark.skipif(sandbox.bubblewrap() is None, reason="needs bubblewrap"),
              pytest.mark.slow]


WORKER = """
import json, os, sys
import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets.config import Config
from gdcourse.grader.sandbox import KERNEL_NAME, ipc_address

codes, workdir = json.loads(sys.argv[1]), sys.argv[2]
ip = ipc_address()  # one socket address for every kernel, as a grading worker has
config = Config({"KernelManager": {"transport": "ipc", "ip": ip}})
results = []
for code in codes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    try:  # the client owns its kernel manager: it stops the kernel when done, as nbgrader's
        NotebookClient(nb, kernel_name=KERNEL_NAME, kernel_manager_class=AsyncKernelManager,
                       config=config, timeout=60, startup_timeout=60,
                       resources={"metadata": {"path": workdir}}).execute()
        results.append("".join(o.get("text", "") + o.get("evalue", "")
                               for o in nb.cells[0].outputs))
    except Exception as error:
        results.append(f"FAILED {type(error).__name__}: {error}")
    results[-1] += f"\\nSOCKETS {sorted(os.listdir(os.path.dirname(ip)))}"
print(json.dumps(results))
"""


SMALL = Limits(memory_mib=1024)


def run_kernels(tmp_path: Path, codes: list[str], limits: Limits = SMALL,
                environment: dict | None = None, workdir: Path | None = None
                ) -> tuple[list[str], str]:
    """Run each of ``codes`` in a fresh sandboxed kernel, one after the other, from one
    worker-like process; return their outputs and the worker's log."""
    spec = tmp_path / "jupyter"
    sandbox.install_kernelspec(spec, limits)
    if workdir is None:
        workdir = tmp_path / "autograded" / "mallory" / "ch02"
        workdir.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "worker.log"
    with log.open("ab") as handle:
        run = subprocess.run([sys.executable, "-c", WORKER, json.dumps(codes), str(workdir)],
                             env={**os.environ, "JUPYTER_PATH": str(spec), **(environment or {})},
                             stdout=subprocess.PIPE, stderr=handle, text=True, timeout=600,
                             check=False)
    text = log.read_text(errors="replace")
    assert run.returncode == 0, text[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), text


# ------------------------------------------------------------------------------------------------
# Every kernel its own runtime folder
# ------------------------------------------------------------------------------------------------

SPOILS_RUNTIME = """
import json, os
info = json.load(open("/tmp/gdcourse-kernel.json"))
folder = os.path.dirname(info["ip"])
for name, action in [("chmod", lambda: os.chmod(folder, 0)),
                     ("chown", lambda: os.chown(folder, os.getuid(), os.getgid())),
                     ("rename", lambda: os.rename(folder, folder + "-gone")),
                     ("rmdir", lambda: os.rmdir(folder))]:
    try:
        action()
        print("DID", name)
    except OSError as error:
        print("REFUSED", name, type(error).__name__)
spoiled = 0
for number in range(1, 40):  # its own sockets, and files named like the next kernel's
    path = f"{info['ip']}-{number}"
    try:
        if not os.path.exists(path):
            open(path, "w").close()
        os.chmod(path, 0)
        spoiled += 1
    except OSError:
        pass
print("SPOILED", spoiled)
"""
HONEST = "print(6 * 7)"


def test_a_kernel_that_spoils_its_runtime_folder_harms_no_later_kernel(tmp_path):
    outputs, _ = run_kernels(tmp_path, [SPOILS_RUNTIME, HONEST, HONEST])
    attack, first, second = outputs
    assert "SPOILED" in attack, attack
    assert first.startswith("42\n") and second.startswith("42\n"), outputs
    if os.geteuid() == 0:  # a root grader's runtime folder belongs to root: no chmod, no rename
        assert "DID" not in attack, attack
        assert attack.count("REFUSED") == 4
    # each kernel's runtime folder went with it: once stopped, the worker's socket folder is
    # empty again (nothing the attacker made stays)
    for output in outputs:
        assert output.rsplit("SOCKETS ", 1)[1] == "[]", output


def test_the_worker_socket_folder_is_never_handed_to_a_kernel(tmp_path):
    info = {"ip": str(tmp_path / "ipc" / "kernel"), "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5}
    (tmp_path / "ipc").mkdir(mode=0o700)
    (tmp_path / "ipc" / "kernel-3").symlink_to("runtime-1/kernel-3")  # an earlier kernel's
    runtime = sandbox.prepare_runtime(info)
    assert runtime == tmp_path / "ipc" / f"runtime-{os.getpid()}"
    links = {p.name: str(p.readlink()) for p in (tmp_path / "ipc").iterdir() if p.is_symlink()}
    assert links == {f"kernel-{n}": f"{runtime.name}/kernel-{n}" for n in range(1, 6)}
    if os.geteuid() == 0:
        status = runtime.stat()
        assert (status.st_uid, status.st_gid) == (0, sandbox.kernel_uid())
        assert status.st_mode & 0o7777 == 0o1770
    assert (tmp_path / "ipc").stat().st_mode & 0o777 == 0o700
    sandbox.remove_runtime(runtime)
    assert list((tmp_path / "ipc").iterdir()) == []


# ------------------------------------------------------------------------------------------------
# Memory for the sandbox as a whole; scratch space
# ------------------------------------------------------------------------------------------------

FORKS_AND_HOLDS = """
import subprocess, sys
hold = "b = b'x' * (300 * 2**20); import time; time.sleep(6)"
children = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(4)]
codes = [child.wait() for child in children]
print("HELD", sum(code == 0 for code in codes), "KILLED", sum(code != 0 for code in codes))
"""


def _held(output: str) -> int:
    return int(output.split("HELD", 1)[1].split(maxsplit=1)[0])


def test_forked_children_share_one_memory_bound(tmp_path):
    """Four children holding 300 MiB each (1.2 GiB together) in a sandbox of 1 GiB: each stays
    below the per-process limit, so only a bound on the sandbox as a whole stops them."""
    parent, why = sandbox.memory_cgroup()
    if parent is None:
        pytest.skip(f"no memory cgroup can be made here: {why}")
    outputs, log = run_kernels(tmp_path, [FORKS_AND_HOLDS, HONEST])
    assert _held(outputs[0]) < 4, outputs[0]
    assert outputs[1].startswith("42\n")  # the next kernel starts with a fresh bound
    assert "bounded per process only" not in log
    assert not list(parent.glob("gdcourse-sandbox-*")) or all(
        sandbox._alive(sandbox._owner_pid(p)) for p in parent.glob("gdcourse-sandbox-*"))


def test_without_a_cgroup_the_fallback_bounds_each_process_and_says_so(tmp_path,
                                                                         monkeypatch):
    environment = {"GDCOURSE_SANDBOX_CGROUP": "0"}
    monkeypatch.setenv("GDCOURSE_SANDBOX_CGROUP", "0")
    parent, why = sandbox.memory_cgroup()
    monkeypatch.delenv("GDCOURSE_SANDBOX_CGROUP")
    assert parent is None and "GDCOURSE_SANDBOX_CGROUP=0" in why
    outputs, log = run_kernels(tmp_path, [FORKS_AND_HOLDS], environment=environment)
    assert _held(outputs[0]) == 4, outputs[0]  # what the cgroup is there to prevent
    assert "memory is bounded per process only: turned off (GDCOURSE_SANDBOX_CGROUP=0)" in log


FILLS_SCRATCH = """
import errno, os
for folder in ("/tmp", "."):
    written = 0
    try:
        with open(os.path.join(folder, "filler"), "wb") as handle:
            for _ in range(64):
                handle.write(b"x" * 2**20)
                handle.flush()
                written += 1
        print("FULL", folder, "never", written)
    except OSError as error:
        print("FULL", folder, errno.errorcode[error.errno], written)
print("HOME", os.access(os.path.expanduser("~"), os.W_OK))
"""


def test_scratch_space_is_bounded_and_gone_after_grading(tmp_path):
    workdir = tmp_path / "autograded" / "mallory" / "ch02"
    workdir.mkdir(parents=True)
    (workdir / "data.csv").write_text("1,2\n")
    (outputs, _) = run_kernels(tmp_path, [FILLS_SCRATCH + "print(open('data.csv').read())"],
                               Limits(memory_mib=1024, scratch_mib=16), workdir=workdir)
    lines = outputs[0].splitlines()
    # each scratch space takes 16 MiB (less what the kernel keeps there itself), then is full
    for folder in ("/tmp", "."):
        _, _, error, written = next(line for line in lines
                                    if line.startswith(f"FULL {folder} ")).split()
        assert error == "ENOSPC" and 8 <= int(written) <= 16, lines
    assert "1,2" in outputs[0]  # the folder's own files are there to read
    assert sorted(p.name for p in workdir.iterdir()) == ["data.csv"]  # nothing written stayed


# ------------------------------------------------------------------------------------------------
# Nothing of the grader visible from the kernel
# ------------------------------------------------------------------------------------------------

LOOKS_AROUND = """
import json, os
found = {"fds": {}, "cmdlines": {}}
for fd in os.listdir("/proc/self/fd"):
    try:
        found["fds"][fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        found["cmdlines"][pid] = open(f"/proc/{pid}/cmdline", "rb").read().decode(
            errors="replace").replace("\\0", " ")
    except OSError:
        pass
found["environment"] = dict(os.environ)
found["cwd"] = os.getcwd()
try:  # the grader's log, if stderr were the log; a pipe would block: do not wait
    handle = os.open("/proc/self/fd/2", os.O_RDONLY | os.O_NONBLOCK)
    found["stderr"] = os.read(handle, 100)
except OSError as error:
    found["stderr"] = type(error).__name__
os.write(2, b"FROM-THE-KERNEL " * 20000)  # 320 kB into the grader's log, if it could
print(json.dumps(found, default=repr))
"""


def test_nothing_of_the_grader_is_visible_from_the_kernel(tmp_path):
    outputs, log = run_kernels(tmp_path, [LOOKS_AROUND])
    found = json.loads(next(line for line in outputs[0].splitlines()
                            if line.startswith('{"fds"')))
    # descriptors: the standard streams are /dev/null or the launcher's pipe, nothing else is
    # a file of the grader's (the log, sockets folder, gradebook)
    for fd in ("0", "1", "2"):
        assert found["fds"][fd] == "/dev/null" or found["fds"][fd].startswith("pipe:"), found
    assert not any(str(tmp_path) in target for target in found["fds"].values()), found["fds"]
    assert "FROM-THE-KERNEL" not in str(found["stderr"])  # a pipe: no log to read back
    # the processes: the init as PID 1, the kernel; no bwrap command line with its mounts
    assert found["cmdlines"]["1"].split()[1:3] == ["-s", str(Path(sandbox.__file__))]
    for command in found["cmdlines"].values():
        assert "bwrap" not in command and str(tmp_path) not in command, command
        assert "mallory" not in command and "/gdcourse-ipc-" not in command, command
    # the environment: none of the grader's paths, and no student's name (PATH names the
    # Python environment, mounted read-only where it is outside: its interpreter needs that)
    assert found["cwd"] == sandbox.WORKDIR
    for name, value in found["environment"].items():
        assert str(tmp_path) not in value and "mallory" not in value, (name, value)
        assert "gdcourse-ipc-" not in value, (name, value)
    # the kernel's own stderr reaches the worker's log, capped
    assert "FROM-THE-KERNEL" in log
    assert log.count("FROM-THE-KERNEL") * len("FROM-THE-KERNEL ") <= sandbox.RELAY_BYTES + 16
    assert "the rest of this kernel's stdout and stderr is dropped" in log


# ------------------------------------------------------------------------------------------------
# The time budget comes from the released notebook
# ------------------------------------------------------------------------------------------------


def _notebook(path: Path, code_cells: int) -> Path:
    cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(code_cells)]
    cells.append(nbformat.v4.new_markdown_cell("text"))
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_the_time_budget_counts_the_released_cells_only(tmp_path):
    released = _notebook(tmp_path / "released.ipynb", 10)
    bigger = _notebook(tmp_path / "bigger.ipynb", 20)
    budget = sandbox.time_budget(released, 30)
    # linear in the released notebook's code cells and in the per-cell limit
    assert sandbox.time_budget(bigger, 30) - budget == pytest.approx(
        budget - sandbox.time_budget(_notebook(tmp_path / "none.ipynb", 0), 30))
    assert sandbox.time_budget(released, 60) > budget
    # a student's notebook with a thousand cells is not an argument: its budget is the release's
    assert budget < 30 * 1000


@pytest.mark.parametrize(("arguments", "error", "match"), [
    (("missing.ipynb", 30), ValueError, "released"),
    (("released.ipynb", 0), ValueError, "cell_timeout"),
    (("released.ipynb", "30"), TypeError, "cell_timeout"),
    (("garbage.ipynb", 30), ValueError, "released"),
])
def test_the_time_budget_rejects_bad_input(tmp_path, arguments, error, match):
    _notebook(tmp_path / "released.ipynb", 3)
    (tmp_path / "garbage.ipynb").write_text("not json")
    with pytest.raises(error, match=match):
        sandbox.time_budget(tmp_path / arguments[0], arguments[1])


# ------------------------------------------------------------------------------------------------
# Capped output buffering in the grader
# ------------------------------------------------------------------------------------------------

GRADER = """
import json, sys
import nbformat
from nbclient import NotebookClient
from gdcourse.outputcap import CappedOutputs

class Capped(CappedOutputs, NotebookClient):
    pass

code, capped = sys.argv[1], sys.argv[2] == "capped"
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code),
                                     nbformat.v4.new_code_cell("print('after')")])
def peak_kib():
    # VmHWM: the peak resident size of this process's own memory. (ru_maxrss would not do: Linux
    # carries the high-water mark of the forking parent, here pytest, across exec.)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

before = peak_kib()
(Capped if capped else NotebookClient)(nb, kernel_name="python3", timeout=120,
                                       allow_errors=True).execute()
print(json.dumps({"grew_kib": peak_kib() - before,
                  "outputs": [cell.outputs for cell in nb.cells]}))
"""
FLOOD = """
import sys
for _ in range(300):
    sys.stdout.write("x" * 999_999 + "\\n")  # 300 MB in all, in messages of 1 MB
    sys.stdout.flush()
raise AssertionError("the test failed after the flood")
"""
ONE_HUGE_MESSAGE = """
print("x" * 200_000_000)  # one message of 200 MB
raise AssertionError("the test failed after the flood")
"""


def _grade(code: str, capped: bool = True) -> dict:
    run = subprocess.run([sys.executable, "-c", GRADER, code, "capped" if capped else "plain"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_printing_flood_does_not_inflate_the_grader():
    capped = _grade(FLOOD)
    flood, after = capped["outputs"]
    kept = sum(len(json.dumps(output)) for output in flood)
    assert kept <= CappedOutputs.max_cell_output_bytes.default_value + 10_000
    assert "output truncated by the grader" in flood[-2]["text"]
    assert flood[-1]["output_type"] == "error"  # the failing test still fails
    assert flood[-1]["evalue"] == "the test failed after the flood"
    assert after[0]["text"] == "after\n"  # the next cell's output is kept
    assert capped["grew_kib"] < 150 * 1024
    plain = _grade(FLOOD, capped=False)  # what the cap is for
    assert plain["grew_kib"] > capped["grew_kib"] + 250 * 1024


def test_one_huge_message_is_refused_and_the_test_still_fails():
    capped = _grade(ONE_HUGE_MESSAGE)
    flood, _ = capped["outputs"]  # IOPub is gone from here on: no output of the next cell
    assert [output["output_type"] for output in flood] == ["error"]  # from the reply
    assert flood[0]["evalue"] == "the test failed after the flood"
    assert capped["grew_kib"] < 150 * 1024


def test_a_huge_traceback_is_cut_but_stays_an_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "raise ValueError('v' * 5_000_000)")])

    from nbclient import NotebookClient

    class Capped(CappedOutputs, NotebookClient):
        pass

    Capped(nb, kernel_name="python3", timeout=60, allow_errors=True,
           max_cell_output_bytes=100_000).execute()
    (error,) = nb.cells[0].outputs
    assert error["output_type"] == "error" and error["ename"] == "ValueError"
    assert len(json.dumps(error)) < 110_000


# ------------------------------------------------------------------------------------------------
# The launcher in between: interrupts reach the kernel; the sandbox ends with its grader
# ------------------------------------------------------------------------------------------------

INTERRUPTS = """
import json, sys, time
from jupyter_client.manager import KernelManager
from gdcourse.grader.sandbox import KERNEL_NAME, ipc_address

km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=ipc_address())
km.start_kernel(cwd=sys.argv[1])
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
print(json.dumps({"launcher": km.provisioner.process.pid}), flush=True)
if sys.argv[2] == "interrupt":
    msg_id = kc.execute("import time; time.sleep(60)")
    time.sleep(2)
    started = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:  # kernel_info replies left over
        reply = kc.get_shell_msg(timeout=30)
    after = kc.execute_interactive("print(6 * 7)", timeout=30)
    print(json.dumps({"ename": reply["content"].get("ename"),
                      "seconds": time.monotonic() - started,
                      "after": after["content"]["status"]}), flush=True)
    km.shutdown_kernel()
else:
    time.sleep(600)  # killed by the test
"""


def _start(tmp_path: Path, mode: str) -> subprocess.Popen:
    spec = tmp_path / "jupyter"
    sandbox.install_kernelspec(spec, Limits(memory_mib=1024))
    workdir = tmp_path / "work"
    workdir.mkdir()
    return subprocess.Popen([sys.executable, "-c", INTERRUPTS, str(workdir), mode],
                            env={**os.environ, "JUPYTER_PATH": str(spec)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_an_interrupt_reaches_the_kernel_through_the_launcher(tmp_path):
    grader = _start(tmp_path, "interrupt")
    out, _ = grader.communicate(timeout=300)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ename"] == "KeyboardInterrupt" and result["seconds"] < 10, result
    assert result["after"] == "ok"  # the kernel lives on


def _kernel_processes(uid: int) -> list[int]:
    found = []
    for pid in (entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if any(line.startswith("Uid:") and str(uid) in line.split() for line in
               status.splitlines()):
            found.append(int(pid))
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="finds the kernel by the user a root grader gives it")
def test_the_sandbox_ends_with_its_grader(tmp_path):
    import signal
    import time

    grader = _start(tmp_path, "wait")
    launcher = json.loads(grader.stdout.readline())["launcher"]
    kernel_user = sandbox.FIRST_KERNEL_UID + launcher
    assert _kernel_processes(kernel_user)  # the kernel runs, as its own user
    grader.send_signal(signal.SIGKILL)  # a grading worker killed at its time limit
    grader.wait()
    grader.stdout.close()
    end = time.monotonic() + 20
    while time.monotonic() < end and (sandbox._alive(launcher) or
                                      _kernel_processes(kernel_user)):
        time.sleep(0.2)
    assert not _kernel_processes(kernel_user)
    assert not sandbox._alive(launcher)
    parent, _ = sandbox.memory_cgroup()
    if parent is not None:  # a killed launcher's cgroup goes with the next sweep
        sandbox.sweep_cgroups()
        assert not (parent / f"gdcourse-sandbox-{launcher}").exists()

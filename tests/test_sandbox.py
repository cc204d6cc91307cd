"""The grading sandbox on its own: limits, the bwrap command line, and a real sandboxed kernel.

The adversarial submissions graded through the whole pipeline are in test_sandbox_grading.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gdcourse.grader import sandbox
from gdcourse.grader.sandbox import Limits, SandboxError

ROOT = Path(__file__).resolve().parent.parent

@pytest.mark.parametrize(("field", "value", "error"), [
    ("memory_mib", 0, ValueError), ("memory_mib", 100, ValueError),
    ("cpu_seconds", -1, ValueError), ("processes", 4, ValueError), ("file_mib", 0, ValueError),
    ("memory_mib", 2048.0, TypeError), ("processes", True, TypeError),
])
def test_limits_reject_bad_values(field, value, error):
    with pytest.raises(error, match=f"Limits.{field}"):
        Limits(**{field: value})


def test_kernelspec_runs_this_launcher_with_the_limits(tmp_path):
    spec = sandbox.install_kernelspec(tmp_path, Limits(memory_mib=1024, processes=32))
    argv = json.loads((spec / "kernel.json").read_text())["argv"]
    assert spec == tmp_path / "kernels" / sandbox.KERNEL_NAME
    assert argv[:2] == [sys.executable, str(ROOT / "gdcourse" / "grader" / "sandbox.py")]
    assert argv[-2:] == ["-f", "{connection_file}"]
    assert argv[argv.index("--memory-mib") + 1] == "1024"
    assert argv[argv.index("--processes") + 1] == "32"


def _connection(tmp_path, transport="ipc") -> Path:
    sockets = tmp_path / "ipc"
    sockets.mkdir()
    path = tmp_path / "kernel.json"
    path.write_text(json.dumps({"transport": transport, "ip": str(sockets / "kernel")}))
    return path


def test_command_line_shows_only_what_the_kernel_needs(tmp_path):
    workdir = tmp_path / "autograded" / "ada" / "ch02"
    workdir.mkdir(parents=True)
    (workdir / "ch02.ipynb").write_text("{}")
    (workdir / "data.csv").write_text("1,2")
    (workdir / "link").symlink_to(ROOT / "solutions")
    command = sandbox.bwrap_command(_connection(tmp_path), workdir, Limits(scratch_mib=32), 7)
    binds = {(command[i], command[i + 2]) for i in range(len(command) - 2)
             if command[i] in ("--bind", "--ro-bind")}
    writable = {(command[i + 1], command[i + 2]) for i in range(len(command) - 2)
                if command[i] == "--bind"}
    # the only writable mount: this kernel's own runtime folder, where its sockets are expected
    assert writable == {(str(tmp_path / "ipc" / f"runtime-{os.getpid()}"),
                         str(tmp_path.resolve() / "ipc"))}
    # scratch: size-limited tmpfs on /tmp and on the working folder, its files read-only on it
    tmpfs = {command[i + 1]: command[i - 3] for i in range(3, len(command) - 1)
             if command[i] == "--tmpfs" and command[i - 4] == "--size"}
    assert tmpfs == {"/tmp": str(32 * 2**20), sandbox.WORKDIR: str(32 * 2**20)}
    assert ("--ro-bind", f"{sandbox.WORKDIR}/data.csv") in binds
    assert not any(target.endswith("/link") for _, target in binds)
    assert command[command.index("--chdir") + 1] == sandbox.WORKDIR
    assert not any(str(workdir) in argument for argument in command
                   if not argument.startswith(str(workdir) + "/"))  # only as a mount's source
    assert ("--ro-bind", str(Path(sys.prefix).resolve())) in binds
    assert ("--ro-bind", str(ROOT / "gdcourse")) in binds
    assert ("--ro-bind", f"{sandbox.WORKDIR}/ch02.ipynb") in binds  # blanked by /dev/null
    mounted = [target for _, target in binds]
    assert str(ROOT) not in mounted and str(ROOT / "solutions") not in mounted
    needed = (sys.prefix, sys.base_prefix, str(ROOT / "gdcourse"))  # may live in the home
    assert not any(target.startswith(str(Path.home())) and target != str(Path.home())
                   and not target.startswith(needed) for target in mounted)
    assert "--clearenv" in command and "--die-with-parent" in command
    remount = command.index("--remount-ro")  # the sandbox's root, after every mount on it
    assert command[remount + 1] == "/"
    assert remount > max(i for i, arg in enumerate(command) if arg in ("--bind", "--ro-bind",
                                                                       "--dir", "--file"))
    assert any(flag in command for flag in ("--unshare-all", "--unshare-net"))
    inside = command[command.index("--") + 1:]
    assert "--inside" in inside and inside[-2:] == ["-f", sandbox.CONNECTION_FILE]
    if os.geteuid() == 0:  # root is exempt from process limits: the kernel changes user
        assert int(inside[inside.index("--user") + 1]) >= sandbox.FIRST_KERNEL_UID


def test_command_line_refuses_a_network_transport(tmp_path):
    with pytest.raises(SandboxError, match=r"transport 'tcp'.*KernelManager\.transport = 'ipc'"):
        sandbox.bwrap_command(_connection(tmp_path, "tcp"), tmp_path, Limits(), 7)


@pytest.fixture(scope="module")
def sandbox_environment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jupyter")
    sandbox.install_kernelspec(folder, Limits(memory_mib=1024, processes=48))
    return {**os.environ, "JUPYTER_PATH": str(folder)}


@pytest.mark.slow  # starts sandboxed kernels
def test_a_sandboxed_kernel_runs_and_holds(sandbox_environment, tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("hidden tests")
    found = sandbox.verify(sandbox_environment, Limits(memory_mib=1024, processes=48),
                           [secret, ROOT / "solutions", ROOT / ".git"])
    assert found["visible"] == [] and found["network"] is False
    assert found["user"] != 0
    assert found["withheld"] is True and found["withheld_name"] is True


@pytest.mark.slow  # starts sandboxed kernels
def test_the_check_fails_when_the_sandbox_does_not_hold(sandbox_environment):
    # the Python environment is meant to be visible: a check asking for it hidden must fail
    with pytest.raises(SandboxError, match=f"{sys.prefix}.* is visible inside"):
        sandbox.verify(sandbox_environment, Limits(memory_mib=1024, processes=48),
                       [Path(sys.prefix)])
    # and so must a check expecting other limits than the kernelspec sets
    with pytest.raises(SandboxError, match="RLIMIT_AS is 1073741824, expected 2147483648"):
        sandbox.verify(sandbox_environment, Limits(), [])


AS_GRADER = """
import json, sys
from pathlib import Path
from gdcourse.grader import sandbox
from gdcourse.grader.sandbox import Limits

folder, secret = Path(sys.argv[1]), Path(sys.argv[2])
sandbox.install_kernelspec(folder / "jupyter", Limits())
environment = {"JUPYTER_PATH": str(folder / "jupyter"), "HOME": str(folder),
               "PATH": sys.argv[3]}
print(json.dumps(sandbox.verify(environment, Limits(), [secret, Path(sys.argv[4])])))
"""


@pytest.mark.slow  # starts sandboxed kernels
@pytest.mark.skipif(os.geteuid() != 0, reason="as any other user the whole suite runs this way")
def test_a_grader_who_is_not_root_gets_the_same_sandbox(tmp_path):
    """Instructors rarely grade as root; then bubblewrap runs in a user namespace instead. Here
    the grader runs as user 1000 of a user namespace of its own (``unshare``), which owns this
    machine's files as the instructor owns theirs, and the check that runs before grading must
    pass there too."""
    import shutil
    import subprocess

    as_user = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    userns = subprocess.run([*as_user, sandbox.bubblewrap() or "bwrap", "--unshare-all",
                             "--ro-bind", "/", "/", "true"], capture_output=True, check=False)
    if userns.returncode != 0:
        pytest.skip("this kernel refuses nested user namespaces")
    secret = tmp_path / "gradebook.db"
    secret.write_text("hidden tests")
    run = subprocess.run(
        [*as_user, sys.executable, "-c", AS_GRADER, str(tmp_path), str(secret),
         os.environ["PATH"], str(ROOT / "solutions")],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["visible"] == [] and found["network"] is False
    assert found["user"] == 1000  # no user change: the namespace maps the grader's own


# ------------------------------------------------------------------------------------------------
# The memory cgroup on fake cgroup trees (this machine has cgroup v1 without a writable memory
# hierarchy for every grader; the real v2 path is exercised only where v2 delegates memory)
# ------------------------------------------------------------------------------------------------


def _fake_proc(tmp_path, membership: str, mount: str):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(membership)
    (proc / "mountinfo").write_text(
        "23 1 0:21 / / rw,relatime - overlay overlay rw\n" + mount)
    return proc


def _cgroup2(tmp_path, delegated: str = "memory pids"):
    root = tmp_path / "cgroup2"
    scope = root / "user.slice" / "grader.scope"
    scope.mkdir(parents=True)
    (scope / "cgroup.controllers").write_text("cpu io memory pids\n")
    (scope / "cgroup.subtree_control").write_text(delegated + "\n")
    proc = _fake_proc(tmp_path, "0::/user.slice/grader.scope\n",
                      f"30 23 0:27 / {root} rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw\n")
    return proc, scope


def test_cgroup2_with_the_memory_controller_delegated_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("GDCOURSE_SANDBOX_CGROUP", raising=False)
    proc, scope = _cgroup2(tmp_path)
    assert sandbox.memory_cgroup(proc) == (scope, f"cgroup v2 memory controller under {scope}")


def test_cgroup2_without_the_memory_controller_is_refused_with_the_reason(tmp_path,
                                                                           monkeypatch):
    monkeypatch.delenv("GDCOURSE_SANDBOX_CGROUP", raising=False)
    proc, scope = _cgroup2(tmp_path, delegated="pids")
    assert sandbox.memory_cgroup(proc) == (
        None, f"cgroup v2: {scope} does not delegate the memory controller")
    monkeypatch.setenv("GDCOURSE_SANDBOX_CGROUP", "0")
    assert sandbox.memory_cgroup(_cgroup2(tmp_path / "again")[0])[0] is None


def test_a_cgroup2_sandbox_cgroup_gets_the_memory_limit_and_stale_ones_are_swept(tmp_path):
    _, scope = _cgroup2(tmp_path)
    dead = scope / "gdcourse-sandbox-999999999"  # a launcher that was killed (no such pid)
    dead.mkdir()
    alive = scope / f"gdcourse-sandbox-{os.getppid()}"  # still running: kept
    alive.mkdir()
    folder = sandbox._make_cgroup(scope, Limits(memory_mib=1024))
    assert folder == scope / f"gdcourse-sandbox-{os.getpid()}"
    assert (folder / "memory.max").read_text() == str(1024 * 1024 * 1024)
    assert not (folder / "memory.limit_in_bytes").exists()  # not the v1 file
    assert not dead.exists() and alive.exists()
    with pytest.raises(FileExistsError):  # one cgroup per launcher
        sandbox._make_cgroup(scope, Limits())


def test_cgroup_v1_memory_hierarchy_is_used_when_writable(tmp_path, monkeypatch):
    monkeypatch.delenv("GDCOURSE_SANDBOX_CGROUP", raising=False)
    root = tmp_path / "memory"
    grader = root / "grader"
    grader.mkdir(parents=True)
    (grader / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    proc = _fake_proc(tmp_path, "4:memory:/grader\n1:name=systemd:/\n",
                      f"35 31 0:33 / {root} rw,relatime - cgroup cgroup rw,memory\n")
    assert sandbox.memory_cgroup(proc) == (grader, f"cgroup v1 memory controller under {grader}")
    folder = sandbox._make_cgroup(grader, Limits(memory_mib=512))
    assert (folder / "memory.limit_in_bytes").read_text() == str(512 * 1024 * 1024)
    assert not (folder / "memory.max").exists()

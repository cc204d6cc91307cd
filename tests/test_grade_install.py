"""What grading installs: the ``grade`` extra, ``make grade`` on a fresh copy, and the grading
container image (``Containerfile``) built and run with podman.

The fast tests read the files: the ``grade`` extra (with the package's own dependencies and
what those require) covers every third-party module the grader imports; the Containerfile
installs exactly that extra, bubblewrap and the files the grader reads, and its entry point is
the grader's command line; ``make grade`` installs ``.[grade]``, never ``.[dev,book]``. The slow
ones install for real: ``make grade`` in a copy of the repository with no ``.venv`` grades a
notebook with the sandbox and leaves no book, browser, lint or test tool installed; the image is
built (from a Debian base made with debootstrap when Docker Hub is out of reach, as here) and
grades a notebook in its sandbox, and refuses to grade without the capabilities bubblewrap needs.
"""

from __future__ import annotations

import ast
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from _venv_support import ROOT, clean_env, repository_files
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_grade_pipeline import correct, submission

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
GRADE_EXTRA = PYPROJECT["project"]["optional-dependencies"]["grade"]
CONTAINERFILE = (ROOT / "Containerfile").read_text()
# The modules a grading run imports: the grader, the sandbox, and what the test cells import.
GRADING_MODULES = [*sorted((ROOT / "gdcourse" / "grader").glob("*.py")),
                   *(ROOT / "gdcourse" / name for name in
                     ("sandbox.py", "grading.py", "release.py", "outputcap.py", "_validate.py",
                      "optim.py", "losses.py", "schedules.py", "run.py", "data.py"))]
NOT_FOR_GRADING = {"jupyter-book", "torch", "playwright", "ruff", "pytest", "hypothesis", "build"}
ASSIGNMENT = "ch01_gradients"


def _third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names
            if name not in sys.stdlib_module_names and name not in ("gdcourse", "__future__")}


def _closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` install, following the installed metadata."""
    seen: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        extras = requirement.extras or {""}
        todo += [r for r in map(Requirement, requires)
                 if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras)]
    return seen


def test_grade_extra_covers_what_the_grader_imports():
    installs = _closure([*PYPROJECT["project"]["dependencies"], *GRADE_EXTRA])
    providers = metadata.packages_distributions()
    missing = {}
    for path in GRADING_MODULES:
        for module in _third_party_imports(path):
            dists = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not dists & installs:
                missing[module] = path.name
    assert not missing, f"imported by grading but not installed by the grade extra: {missing}"
    assert not {canonicalize_name(n) for n in NOT_FOR_GRADING} & {
        canonicalize_name(Requirement(r).name) for r in GRADE_EXTRA}


def test_containerfile_installs_the_grade_extra_and_runs_the_grader():
    # the dependencies are read from pyproject.toml's own lists, then the package in place
    assert "['project']['dependencies']" in CONTAINERFILE
    assert "['optional-dependencies']['grade']" in CONTAINERFILE
    assert re.search(r"pip install .*\n?.*-e '\.\[grade\]'", CONTAINERFILE)
    assert "[dev" not in CONTAINERFILE and "book]" not in CONTAINERFILE
    assert re.search(r"apt-get install [^\n]*\n\s*bubblewrap", CONTAINERFILE)
    for folder in ("gdcourse", "solutions", "exercises", "nbgrader_config.py"):
        assert re.search(rf"^COPY {folder} ", CONTAINERFILE, re.M), folder
    entry = re.search(r"^ENTRYPOINT (.*)$", CONTAINERFILE, re.M).group(1)
    assert ast.literal_eval(entry) == ["python", "-m", "gdcourse.grade", "/submissions",
                                       "--grading-dir", "/grading"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "grading", ".git", "_build"} <= set(ignored)


def test_entry_point_as_the_container_invokes_it(tmp_path):
    """The image's command line, with arguments appended as `podman run IMAGE ...` appends them."""
    command = [sys.executable, "-m", "gdcourse.grade", str(tmp_path / "submissions"),
               "--grading-dir", str(tmp_path / "grading")]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=tmp_path,
                           check=False)
    assert shown.returncode == 0 and "--assignment" in shown.stdout
    missing = subprocess.run([*command, "--assignment", ASSIGNMENT], capture_output=True,
                             text=True, cwd=tmp_path, check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def _fresh_copy(base: Path) -> Path:
    repo = base / "repo"
    for path in repository_files():
        target = repo / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return repo


def _one_submission(base: Path) -> Path:
    folder = base / "submissions" / "alice"
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(submission(ASSIGNMENT, correct(ASSIGNMENT)))
    return folder.parent


def _grade_row(grading: Path) -> dict[str, str]:
    with (grading / "grades.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["assignment"] == ASSIGNMENT]
    assert len(rows) == 1, rows
    return rows[0]


def test_make_grade_dry_run_installs_only_the_grade_extra(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy2(ROOT / "Makefile", repo / "Makefile")
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    plan = subprocess.run(["make", "-n", "grade", "SUBMISSIONS=x"], cwd=repo, capture_output=True,
                          text=True, check=True, env=clean_env()).stdout
    assert "-e '.[grade]'" in plan and "gdcourse.grade" in plan
    assert "[dev" not in plan and "book]" not in plan and "jupyter-book" not in plan


@pytest.mark.slow
def test_make_grade_on_a_fresh_copy_installs_the_lean_environment_and_grades(tmp_path):
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is missing: `make test` installs it (apt-get install bubblewrap)")
    repo = _fresh_copy(tmp_path)
    submissions = _one_submission(tmp_path)
    run = subprocess.run(["make", "grade", f"SUBMISSIONS={submissions}"], cwd=repo,
                         capture_output=True, text=True, check=False, env=clean_env(),
                         timeout=1200)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "sandbox: every kernel runs in bubblewrap" in run.stdout
    row = _grade_row(repo / "grading")
    assert (row["status"], float(row["score"]), float(row["max_score"])) == ("graded", 11.0, 11.0)
    listed = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-m", "pip", "list",
                             "--format=freeze"], capture_output=True, text=True, check=True,
                            env=clean_env()).stdout
    installed = {canonicalize_name(line.split("==")[0]) for line in listed.split()}
    assert "nbgrader" in installed and "ipykernel" in installed
    assert not installed & {canonicalize_name(n) for n in NOT_FOR_GRADING}
    assert not (repo / ".venv" / ".installed-stamp").exists()


# ------------------------------------------------------------------------------------------------
# The image itself, with podman
# ------------------------------------------------------------------------------------------------

BASE_IMAGE = "localhost/gdcourse-debian-base:bookworm"
IMAGE = "localhost/gdcourse-grade:test"
# What bubblewrap needs in the container (book/instructors.md): new namespaces (SYS_ADMIN) and
# the loopback of the sandbox's empty network namespace (NET_ADMIN).
CAPS = ["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN"]


def _podman() -> list[str]:
    """podman, with what this kind of machine needs: runc (crun refuses its hybrid cgroups) and
    resource limits no higher than this process's (it may not raise them)."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman is not installed (apt-get install podman runc debootstrap): "
                    "the image is not built here")
    command = [podman]
    if shutil.which("runc"):
        command += ["--runtime", "runc"]
    return command


def _limits() -> list[str]:
    files = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 4096)
    processes = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 8192)
    return ["--ulimit", f"nofile={files}:{files}", "--ulimit", f"nproc={processes}:{processes}"]


def _base_image(podman: list[str], scratch: Path) -> str:
    """Debian bookworm made locally with debootstrap: the Containerfile's default base
    (docker.io's debian:bookworm-slim) is the same distribution, unreachable here."""
    if subprocess.run([*podman, "image", "exists", BASE_IMAGE], check=False).returncode == 0:
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        pytest.skip("no base image and no debootstrap to make one (apt-get install debootstrap)")
    root = scratch / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root),
                    "http://deb.debian.org/debian"], check=True, capture_output=True,
                   timeout=900)
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run([*podman, "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True,
                   capture_output=True, timeout=600)
    tar.wait()
    return BASE_IMAGE


@pytest.mark.slow
def test_container_image_grades_in_its_sandbox(tmp_path):
    podman = _podman()
    base = _base_image(podman, tmp_path)
    build = [*podman, "build", *_limits(), "-f", "Containerfile", "--build-arg", f"BASE={base}",
             "-t", IMAGE]
    if os.environ.get("PIP_CERT"):  # a network that re-signs TLS: hand pip its CA bundle
        build += ["-v", f"{os.environ['PIP_CERT']}:/run/ca.crt:ro",
                  "--build-arg", "CA_BUNDLE=/run/ca.crt"]
    built = subprocess.run([*build, "."], cwd=ROOT, capture_output=True, text=True, check=False,
                           timeout=1800)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]

    submissions = _one_submission(tmp_path)
    grading = tmp_path / "grading"
    grading.mkdir()
    run = [*podman, "run", "--rm", *_limits(), "-v", f"{submissions}:/submissions:ro",
           "-v", f"{grading}:/grading"]
    refused = subprocess.run([*run, IMAGE, "--assignment", ASSIGNMENT], capture_output=True,
                             text=True, check=False, timeout=600)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "sandboxed kernel does not start" in refused.stderr
    assert not (grading / "grades.csv").exists()

    graded = subprocess.run([*run, *CAPS, IMAGE, "--assignment", ASSIGNMENT],
                            capture_output=True, text=True, check=False, timeout=900)
    assert graded.returncode == 0, (graded.stdout + graded.stderr)[-3000:]
    assert "sandbox: every kernel runs in bubblewrap" in graded.stdout
    row = _grade_row(grading)
    assert (row["status"], float(row["score"]), float(row["max_score"])) == ("graded", 11.0, 11.0)
    assert (grading / "feedback" / "alice" / f"{ASSIGNMENT}.html").is_file()

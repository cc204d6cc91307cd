"""Binder: the environment repo2docker builds from ``binder/``, rebuilt here in a fresh venv.

repo2docker reads only ``binder/`` when that folder exists. For a pip configuration it:
takes the Python of ``runtime.txt`` (``python-3.X``); starts from an image that already holds
Jupyter and ipykernel; runs ``pip install -r binder/requirements.txt`` from the repository's root
(so ``.`` and ``-e .`` mean the repository); then runs ``binder/postBuild`` if there is one (an
executable script; ``set -e`` so that a failing step fails the build). This test does the same,
in that order, on a copy of what a clone of the repository holds, and then runs a chapter and an
exercise in the result the way a student does: in their own folders, top to bottom.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from _venv_support import ROOT, Venv, repository_files

BINDER = ROOT / "binder"
# What the repo2docker image has before the repository's own files are read (Jupyter itself);
# ipykernel and nbclient stand in for it here, to run the notebooks.
IMAGE_PACKAGES = ["ipykernel", "nbclient"]
SUPPORTED = {"requirements.txt", "runtime.txt", "postBuild"}
CHAPTER = "03_learning_rate"  # uses the live widgets (ipywidgets) and the plots


def test_binder_folder_is_a_pip_configuration():
    files = {path.name for path in BINDER.iterdir() if not path.name.startswith(".")}
    assert "requirements.txt" in files or "postBuild" in files
    assert files <= SUPPORTED | {"README.md"}, (
        f"this test rebuilds only pip configurations: {sorted(files - SUPPORTED)}")
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    assert any(line.strip() in (".", "-e .") for line in requirements), (
        "binder/requirements.txt must install the repository's own package (`-e .` or `.`)")
    post_build = BINDER / "postBuild"
    if post_build.exists():
        assert os.access(post_build, os.X_OK), "repo2docker runs postBuild as an executable"
        head = post_build.read_text().splitlines()[:3]
        assert head[0].startswith("#!"), "postBuild needs a #! line"
        assert "set -e" in head or "-e" in head[0], "postBuild must stop at the first failure"


def binder_python() -> str:
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    python = shutil.which(f"python{version}")
    if python is None:
        pytest.fail(f"binder/runtime.txt asks for Python {version}, which this machine lacks")
    return python


def pick_exercise() -> Path | None:
    exercises = sorted((ROOT / "exercises").glob("*/*.ipynb"))
    number = CHAPTER[:2]
    return next((path for path in exercises if path.parent.name.startswith(f"ch{number}_")),
                exercises[0] if exercises else None)


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    """(venv, repository copy): the Binder image, rebuilt."""
    started = time.perf_counter()
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    for path in repository_files():
        target = repo / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    venv = Venv(base / "venv", python=binder_python())
    venv.pip("install", "--quiet", *IMAGE_PACKAGES)
    if (repo / "binder" / "requirements.txt").exists():
        venv.pip("install", "--quiet", "-r", "binder/requirements.txt", cwd=repo)
    if (repo / "binder" / "postBuild").exists():
        venv.run([str(repo / "binder" / "postBuild")], cwd=repo)
    venv.build_seconds = time.perf_counter() - started
    return venv, repo


@pytest.mark.slow
def test_binder_chapter_runs(binder_env):
    venv, repo = binder_env
    notebook = repo / "book" / f"{CHAPTER}.ipynb"
    if not notebook.exists():
        notebook = min((repo / "book").glob("[0-9][0-9]_*.ipynb"))
    run = venv.execute(notebook, cwd=notebook.parent)
    assert run.failure is None, run.failure
    assert run.errors == []
    probe = run.probe
    assert Path(probe["prefix"]) == venv.path, "the kernel is not the Binder environment's Python"
    # `-e .`: the package is the repository checkout itself
    assert Path(probe["gdcourse"]).is_relative_to(repo), probe


ENVIRONMENT_ERRORS = ("ModuleNotFoundError", "ImportError", "FileNotFoundError")


@pytest.mark.slow
def test_binder_exercise_runs_as_a_student_finds_it(binder_env):
    """Unanswered, an exercise stops only at its answer cells; everything it needs is there."""
    venv, repo = binder_env
    exercise = pick_exercise()
    if exercise is None:
        pytest.skip("no exercise in exercises/ yet")
    notebook = repo / exercise.relative_to(ROOT)
    run = venv.execute(notebook, cwd=notebook.parent, allow_errors=True)
    assert run.failure is None, run.failure
    first_answer = next((index for index, cell in enumerate(run.notebook.cells)
                         if cell.metadata.get("nbgrader", {}).get("solution")), None)
    assert first_answer is not None, "an exercise with no answer cell"
    for index, _meta, error in run.errors:
        assert not error.startswith(ENVIRONMENT_ERRORS), f"cell {index}: {error}"
        assert index >= first_answer, f"cell {index} fails before the first question: {error}"
    answer_errors = [error for _, meta, error in run.errors if meta.get("solution")]
    assert all(error.startswith("NotImplementedError") for error in answer_errors), answer_errors
    assert run.probe, "the probe cell did not run"

    # and the reference solution runs clean in the same environment
    solution = repo / "solutions" / exercise.relative_to(ROOT / "exercises")
    if solution.exists():
        solved = venv.execute(solution, cwd=solution.parent)
        assert solved.failure is None, solved.failure
        assert solved.errors == []

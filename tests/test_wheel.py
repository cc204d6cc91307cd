"""Colab and pip: ``gdcourse`` as a wheel and an sdist, and a chapter run on the wheel alone.

A Colab student opens one notebook, with nothing of the repository beside it; its guarded first
cell installs the package when it is missing. Here the package is built with ``python -m build``
from a copy of what a clone holds, the wheel is installed into a fresh venv with nothing else
from the repository (plus ipykernel and nbclient to run a kernel), and a chapter notebook copied
to an empty folder is executed there. The install URL of that first cell is checked against
``_config.yml`` for every exercise and solution notebook (``tests/test_notebooks.py`` does the
chapters).
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from _book_config import install_cell_problems
from _venv_support import ROOT, Venv, clean_env, repository_files
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport, which `build` depends on
    import tomli as tomllib

CHAPTER = "02_gradient_descent"  # plots, an animation and glued numbers
PACKAGE_FILES = sorted(path.relative_to(ROOT).as_posix() for path in repository_files()
                       if path.relative_to(ROOT).parts[0] == "gdcourse" and path.suffix == ".py")
NOTEBOOKS = sorted(path for folder in ("exercises", "solutions")
                   for path in (ROOT / folder).glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """``python -m build`` (sdist, then the wheel from the sdist) of a clean copy."""
    base = tmp_path_factory.mktemp("dist")
    repo = base / "repo"
    for path in repository_files():
        target = repo / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(base / "out"),
                             str(repo)], capture_output=True, text=True, check=False,
                            env=clean_env())
    if result.returncode != 0:
        pytest.fail("python -m build failed:\n" + (result.stdout + result.stderr)[-3000:])
    built = {"sdist": next((base / "out").glob("*.tar.gz")),
             "wheel": next((base / "out").glob("*.whl"))}
    built["seconds"] = time.perf_counter() - started
    return built


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.slow
def test_sdist_holds_the_package(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    missing = [name for name in [*PACKAGE_FILES, "README.md", "pyproject.toml"]
               if name not in names]
    assert missing == []
    assert not [name for name in names if name.startswith(("tests/", "book/", "solutions/"))]


@pytest.mark.slow
def test_wheel_holds_the_package_and_its_dependencies(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(wheel.read(metadata_name))
    assert [name for name in PACKAGE_FILES if name not in names] == []
    assert {name.split("/")[0] for name in names} <= {"gdcourse", metadata_name.split("/")[0]}
    assert metadata["Name"] == project()["name"]

    def normalised(requirements):
        return sorted((canonicalize_name(r.name), str(r.specifier), str(r.marker or ""))
                      for r in map(Requirement, requirements))

    required = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert normalised(required) == normalised(project()["dependencies"])


@pytest.mark.slow
def test_chapter_runs_on_the_wheel_alone(dist, tmp_path):
    venv = Venv(tmp_path / "venv")
    venv.pip("install", "--quiet", str(dist["wheel"]), "ipykernel", "nbclient")
    chapter = ROOT / "book" / f"{CHAPTER}.ipynb"
    if not chapter.exists():
        chapter = min((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    alone = tmp_path / "student"
    alone.mkdir()
    shutil.copy(chapter, alone / chapter.name)
    run = venv.execute(alone / chapter.name, cwd=alone)
    assert run.failure is None, run.failure
    assert run.errors == []
    probe = run.probe
    assert Path(probe["prefix"]) == venv.path, "the kernel is not the fresh venv's Python"
    assert Path(probe["gdcourse"]).is_relative_to(venv.path), (
        f"gdcourse was imported from {probe['gdcourse']}, not from the installed wheel")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_exercise_install_cell_matches_config(path):
    assert install_cell_problems(path) == []

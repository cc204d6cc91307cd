"""The student edition (``make student-edition``) and the install cell (``make install-cells``).

The edition is built for real, with its own git repository and release tag, and searched for
anything of ``solutions/``; its table of contents and cross-references are checked by a real
``jupyter-book build`` of the copy. The install cell runs in a real kernel in a fresh venv set up
as Colab is (ipywidgets 7.7.1, ipykernel 6): it must stop with one message when it cannot install
(an unreachable address, a release tag that does not exist), and install exactly the pinned
release from the edition's repository when it can, after which the live explorers work on
ipywidgets 7.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import exercise_students
import nbformat
import pytest
import yaml
from _book_config import book_config
from _venv_support import Venv
from conftest import ROOT

from gdcourse import edition
from gdcourse.edition import Settings, install_cell, settings
from gdcourse.release import assignments

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENTS = assignments()
# What Colab ships (and what pip must leave alone when the install cell runs there).
COLAB = ["ipywidgets==7.7.1", "ipykernel==6.17.1", "nbclient", "numpy", "matplotlib"]


def all_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted([*(root / "book").glob("*.ipynb"), *(root / "solutions").glob("*/*.ipynb"),
                   *(root / "exercises").glob("*/*.ipynb")])


# ------------------------------------------------------------------------------------------------
# The setting and the install cell of every notebook
# ------------------------------------------------------------------------------------------------


def test_one_setting_for_the_buttons_and_the_install_cell():
    config = settings()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert config.release == f"v{version}", (
        "gdcourse.release in _config.yml must be the tag of the package version in pyproject.toml")
    assert config.repository == book_config().repository_url  # the Binder/Colab/GitHub buttons
    assert config.install_spec == f"gdcourse @ git+{config.repository}@{config.release}"


def test_every_notebook_has_the_install_cell_of_the_setting():
    notebooks = all_notebooks()
    assert len(notebooks) == len(CHAPTERS) + 2 * len(ASSIGNMENTS)
    expected = install_cell(settings())
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert first.source == expected, f"{path.relative_to(ROOT)}: run `make install-cells`"
        assert f'"{settings().install_spec}"' in first.source
        assert "%pip" not in first.source  # pip's own output (a clone log) never reaches the page


@pytest.mark.parametrize(("repository", "release"), [
    ("github.com/gdcourse/gdcourse", "v0.1.0"),
    ("https://github.com/gdcourse/gdcourse", "main"),
    ("https://github.com/gdcourse/gdcourse", ""),
])
def test_settings_refuse_an_address_or_release_that_is_not_one(tmp_path, repository, release):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["url"] = repository
    config["gdcourse"] = {"release": release}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"repository\.url|gdcourse\.release"):
        settings(tmp_path)


def without_install_source(path: Path) -> dict:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")["source"] = []
    return notebook


def test_install_cells_follow_the_setting_and_change_nothing_else(tmp_path):
    for name in ("book", "solutions"):
        shutil.copytree(ROOT / name, tmp_path / name)
    text = (ROOT / "_config.yml").read_text()
    text = text.replace(f"url: {settings().repository}", "url: https://github.com/my-uni/gd-class")
    text = re.sub(r"^  release: .*$", "  release: v2.3.4", text, flags=re.MULTILINE)
    (tmp_path / "_config.yml").write_text(text)
    changed = edition.write_install_cells(tmp_path)
    assert changed == edition.install_notebooks(tmp_path)
    assert len(changed) == len(CHAPTERS) + len(ASSIGNMENTS)
    for path in changed:
        original = ROOT / path.relative_to(tmp_path)
        assert without_install_source(path) == without_install_source(original)
        first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert '"gdcourse @ git+https://github.com/my-uni/gd-class@v2.3.4"' in first.source
        assert edition.install_cell_problems(path, settings(tmp_path)) == []
        assert edition.install_cell_problems(original, settings(tmp_path)) != []
    assert edition.write_install_cells(tmp_path) == []  # a second run changes nothing


# ------------------------------------------------------------------------------------------------
# The student edition
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory) -> Path:
    """``python -m gdcourse.edition student-edition DIR --git`` (what ``make student-edition
    GIT=1`` runs), into a new folder."""
    output = tmp_path_factory.mktemp("edition") / "gd-class"
    result = subprocess.run([sys.executable, "-m", "gdcourse.edition", "student-edition",
                             str(output), "--git"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def edition_files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and ".git" not in path.relative_to(folder).parts)


@pytest.mark.slow
def test_student_edition_holds_what_students_need(student_edition):
    files = edition_files(student_edition)
    for chapter in CHAPTERS:
        assert f"book/{chapter}.ipynb" in files
    for name in ASSIGNMENTS:
        assert f"exercises/{name}/{name}.ipynb" in files
        assert (student_edition / "exercises" / name / f"{name}.ipynb").read_bytes() == (
            ROOT / "exercises" / name / f"{name}.ipynb").read_bytes()
    for name in ("_config.yml", "_toc.yml", "binder/requirements.txt", "pyproject.toml",
                 "gdcourse/__init__.py", "gdcourse/optim.py", "gdcourse/grading.py",
                 "README.md", "Makefile", "references.bib"):
        assert name in files
    readme = (student_edition / "README.md").read_text()
    assert settings().install_spec in readme
    assert "solutions" not in readme
    # a git repository with one commit on main, tagged with the release the install cells pin
    tags = subprocess.run(["git", "tag", "--points-at", "HEAD"], cwd=student_edition,
                          capture_output=True, text=True, check=True).stdout.split()
    assert tags == [settings().release]
    tracked = subprocess.run(["git", "ls-files"], cwd=student_edition, capture_output=True,
                             text=True, check=True).stdout.split()
    assert sorted(tracked) == files


@pytest.mark.slow
def test_student_edition_holds_no_secret(student_edition):
    files = edition_files(student_edition)
    tops = {name.split("/")[0] for name in files}
    assert not tops & {"solutions", "tests", "benchmarks", ".ci"}
    for name in ("nbgrader_config.py", "CONTRIBUTING.md", "book/instructors.md"):
        assert name not in files
    originals = {path.read_bytes() for path in (ROOT / "solutions").rglob("*") if path.is_file()}
    # the test suite's own list of secret lines (independent of gdcourse.edition.secret_lines),
    # minus the lines the chapters or the reference package show on purpose (an update rule), as
    # in tests/test_exercises.py
    taught = "\n".join([cell.source for path in sorted((ROOT / "book").glob("*.ipynb"))
                        for cell in nbformat.read(path, as_version=4).cells]
                       + [path.read_text() for path in (ROOT / "gdcourse").glob("*.py")])
    secrets = {line for name in ASSIGNMENTS for line in exercise_students.secret_lines(
        nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4))
        if line not in taught}
    assert len(secrets) > 10 * len(ASSIGNMENTS)
    for name in files:
        data = (student_edition / name).read_bytes()
        assert data not in originals, f"{name} is a copy of a file in solutions/"
        if name.endswith((".ipynb", ".md", ".yml", ".txt")):
            text = data.decode("utf-8")
            assert "BEGIN SOLUTION" not in text, name
            assert "BEGIN HIDDEN TESTS" not in text, name
            leaked = sorted(line for line in secrets if line in text)
            assert leaked == [], f"{name} holds solution or hidden-test lines: {leaked[:3]}"
    assert edition.leaks(student_edition) == []


@pytest.mark.slow
def test_leaks_finds_what_was_planted(student_edition, tmp_path):
    """The check the build relies on finds a hidden-test line, a hidden-check file of a future
    ``solutions/<assignment>/checks.py`` and a solution notebook put into an edition."""
    root = tmp_path / "instructors"
    for name in ("solutions", "book", "gdcourse"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    checks = root / "solutions" / ASSIGNMENTS[0] / "checks.py"
    checks.write_text("def hidden_check_of_question_one(answer):\n"
                      "    assert abs(answer - 0.123456789) < 1e-9\n")
    planted = tmp_path / "planted"
    shutil.copytree(student_edition, planted, ignore=shutil.ignore_patterns(".git"))
    assert edition.leaks(planted, root) == []
    hidden = min(edition.secret_lines(root / "solutions"))
    exercise = planted / "exercises" / ASSIGNMENTS[1] / f"{ASSIGNMENTS[1]}.ipynb"
    notebook = nbformat.read(exercise, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(hidden))
    nbformat.write(notebook, exercise)
    shutil.copy(checks, planted / "gdcourse" / "extra.py")
    shutil.copy(root / "solutions" / ASSIGNMENTS[2] / f"{ASSIGNMENTS[2]}.ipynb",
                planted / "book" / "answers.ipynb")
    found = "\n".join(edition.leaks(planted, root))
    assert f"exercises/{ASSIGNMENTS[1]}/{ASSIGNMENTS[1]}.ipynb: secret line" in found
    assert "gdcourse/extra.py: a copy of a file in solutions/" in found
    assert "assert abs(answer - 0.123456789) < 1e-9" in found
    assert "book/answers.ipynb: '### BEGIN SOLUTION'" in found
    with pytest.raises(ValueError, match="not empty"):
        edition.build(planted)


@pytest.mark.slow
def test_student_edition_points_only_to_the_student_repository(student_edition):
    config = yaml.safe_load((student_edition / "_config.yml").read_text())
    assert config["repository"]["url"] == settings().repository
    assert settings(student_edition) == settings()
    notebooks = all_notebooks(student_edition)
    assert len(notebooks) == len(CHAPTERS) + len(ASSIGNMENTS)  # no solutions/
    for path in notebooks:
        assert edition.install_cell_problems(path, settings()) == []
        urls = set(re.findall(r"git\+(\S+?)@", path.read_text()))
        assert urls == {settings().repository}, path
    # the table of contents lists exactly the pages the edition has, the instructors' page gone
    toc = (student_edition / "_toc.yml").read_text()
    listed = re.findall(r"(?:root|file): (\S+)", toc)
    assert "book/instructors" not in listed
    for name in listed:
        assert [p for p in student_edition.glob(f"{name}.*") if p.suffix in (".md", ".ipynb")], name
    for page in (student_edition / "book").glob("*.md"):
        for target in re.findall(r"\{doc\}`(?:[^`<]*<)?(/?[\w/]+)>?`", page.read_text()):
            relative = target.lstrip("/") if target.startswith("/") else f"book/{target}"
            assert list(student_edition.glob(f"{relative}.*")), f"{page.name}: {target}"


@pytest.mark.slow
def test_student_edition_book_resolves_every_page_and_reference(student_edition, tmp_path):
    """A real ``jupyter-book build`` of the edition's copy, without executing the notebooks (the
    full strict build of the same pages is ``tests/test_book.py``): no page missing from the table
    of contents, no reference to a page the edition lacks. (Labels of glued figures exist only
    once the notebooks run, so undefined labels are not checked here.)"""
    source = tmp_path / "book"
    shutil.copytree(student_edition, source, ignore=shutil.ignore_patterns(".git"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", "--path-output", ".", ".",
         "--config", str(_no_execution_config(source))],
        cwd=source, capture_output=True, text=True, check=False, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert (source / "_build" / "html" / "book" / "exercises.html").is_file()
    assert not (source / "_build" / "html" / "book" / "instructors.html").exists()
    broken = [line for line in log.splitlines()
              if re.search(r"nonexisting document|unknown document|"
                           r"isn't included in any toctree|reference target not found", line)]
    assert broken == []


def _no_execution_config(folder: Path) -> Path:
    config = yaml.safe_load((folder / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------------
# The install cell in a real kernel, in a session set up like Colab's
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Venv:
    """A fresh venv with what Colab ships (ipywidgets 7.7.1, ipykernel 6), without gdcourse."""
    venv = Venv(tmp_path_factory.mktemp("colab") / "venv")
    # Colab's pip is recent; the pip bundled with Python 3.11 (23.2) refuses the `git+file://`
    # address of the local student repository below (github.com addresses it takes).
    venv.pip("install", "--quiet", "--upgrade", "pip")
    venv.pip("install", "--quiet", *COLAB)
    return venv


def run_install_cell(venv: Venv, config: Settings, later: list[str], folder: Path):
    """Run the install cell written for ``config``, then the ``later`` cells, in ``venv``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(install_cell(config)),
                      *(nbformat.v4.new_code_cell(source) for source in later)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "student.ipynb"
    nbformat.write(notebook, path)
    return venv.execute(path, cwd=folder, timeout=300)


def outputs(run, index: int) -> list:
    return run.notebook.cells[index].get("outputs", [])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["offline", "no such release"])
def test_install_cell_stops_with_one_message(colab, student_edition, tmp_path, case):
    if case == "offline":  # nothing listens on port 9 (discard): as with no network
        config = Settings("https://127.0.0.1:9/gdcourse/gdcourse", "v0.1.0")
        reason = "fatal: unable to access"
    else:  # the student repository exists, the tag is a typo
        config = Settings(student_edition.as_uri(), "v0.1.0-typo")
        reason = "v0.1.0-typo"
    run = run_install_cell(colab, config, ["from gdcourse.optim import GD", "GD(lr=0.1)"],
                           tmp_path)
    assert run.failure is not None  # "Run all" stops here
    assert "RuntimeError" in run.failure
    (error,) = outputs(run, 0)  # one output: no pip or git log before it
    assert error.output_type == "error"
    assert error.ename == "RuntimeError"
    assert error.evalue.startswith(f"Could not install gdcourse {config.release}, the course's "
                                   f"helper package, from {config.repository}: check that this "
                                   "session is online")
    assert "tell your instructor" in error.evalue
    assert "pip said: " in error.evalue
    assert reason in error.evalue.split("pip said: ")[1]
    traceback = "\n".join(error.traceback)
    assert "ModuleNotFoundError" not in traceback  # not chained to the failed import
    assert traceback.count("Traceback") <= 1
    for index in range(1, len(run.notebook.cells)):  # the later cells never ran: no NameError
        assert outputs(run, index) == []
        assert run.notebook.cells[index].execution_count is None


@pytest.mark.slow
def test_install_cell_installs_the_pinned_release_and_widgets_work_on_ipywidgets_7(
        colab, student_edition, tmp_path):
    """From the edition's own repository (``file://``, as pip reads github.com), at its tag: a
    commit made on main after the tag is not installed, and Colab's ipywidgets 7.7.1 is kept."""
    clone = tmp_path / "repository"
    subprocess.run(["git", "clone", "--quiet", str(student_edition), str(clone)], check=True)
    (clone / "gdcourse" / "after_the_release.py").write_text("NEWER = True\n")
    identity = ["-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(["git", *identity, "commit", "-qm", "after the release"], cwd=clone, check=True)
    config = Settings(clone.as_uri(), settings().release)
    later = [
        ("import importlib.metadata, importlib.util, ipywidgets\n"
         "print('version', importlib.metadata.version('gdcourse'))\n"
         "print('ipywidgets', ipywidgets.__version__)\n"
         "print('newer', importlib.util.find_spec('gdcourse.after_the_release') is not None)"),
        ("from gdcourse.widgets import lr_explorer\n"
         "explorer = lr_explorer(static=False)\n"
         "explorer"),
        ("before = explorer.widget.children[1].value\n"
         "explorer.controls['lr'].value = 0.5\n"
         "print('status', explorer.status)\n"
         "print('redrawn', explorer.widget.children[1].value != before)"),
    ]
    run = run_install_cell(colab, config, later, tmp_path / "student")
    assert run.failure is None, run.failure
    assert run.errors == []
    assert outputs(run, 0) == []  # a quiet install
    printed = "".join(out.get("text", "") for cell in run.notebook.cells
                      for out in cell.get("outputs", []) if out.output_type == "stream")
    version = settings().release.removeprefix("v")
    assert f"version {version}" in printed
    assert "ipywidgets 7.7.1" in printed  # pip did not upgrade Colab's ipywidgets
    assert "newer False" in printed       # the tag, not the branch
    (shown,) = [out for out in outputs(run, 2) if out.output_type == "execute_result"]
    assert shown.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert shown.data["text/plain"].startswith("<")
    assert "status lr = 0.5" in printed
    assert "redrawn True" in printed
    assert Path(run.probe["gdcourse"]).is_relative_to(colab.path)


# ------------------------------------------------------------------------------------------------
# Contributors
# ------------------------------------------------------------------------------------------------


def test_contributing_points_only_inside_the_repository():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "../" not in text, "CONTRIBUTING.md names something outside the repository"
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        assert link.startswith("https://") or (ROOT / link).exists(), link
    named = set(re.findall(r"`([\w.-]*/[\w./-]*|[\w.-]+\.(?:md|py|yml|toml|bib|ipynb))`", text))
    placeholders = re.compile(r"NN|\bK\b|qK|<|\.\.\.")
    concrete = sorted({name.strip("/") for name in named if not placeholders.search(name)} - {""})
    assert "_toc.yml" in concrete
    assert "tests/exercise_students.py" in concrete
    missing = [name for name in concrete
               if not (ROOT / name).exists() and not list(ROOT.glob(f"{name}.*"))]
    assert missing == [], f"CONTRIBUTING.md names files the repository lacks: {missing}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in sorted(set(re.findall(r"`make ([\w-]+)", text))):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no `make {target}`"
    assert "## Adding a chapter" in text
    assert "## Adding an exercise" in text

"""The student edition of the course, and the install cell every notebook starts with.

    python -m gdcourse.edition install-cells                      (make install-cells)
    python -m gdcourse.edition student-edition [DIR] [--git]      (make student-edition)

Two settings of ``_config.yml`` drive both:

``repository.url``   the **student repository**: public, without ``solutions/``. Jupyter Book's
                     repository, Binder and Colab buttons point there, and so does the install cell.
``gdcourse.release`` the release the install cell pins: a tag of the student repository, ``v``
                     followed by the package version of ``pyproject.toml`` (``v0.1.0``).

``install-cells`` writes the first code cell of every chapter (``book/*.ipynb``) and every source
notebook (``solutions/*/*.ipynb``) from these settings, changing nothing else in the file;
``make install-cells`` then regenerates ``exercises/``. The cell installs the pinned release when
``gdcourse`` is missing (Colab, a fresh Binder or JupyterHub session) and, when it cannot (offline,
a wrong address or tag), raises one exception with a plain explanation, which also stops "Run all".

``student-edition`` copies what students may see into a folder ready to be pushed to the student
repository: the book sources, ``exercises/``, the package, ``binder/``, the configuration and a
README written for students; never ``solutions/`` (nor any file in it, such as hidden checks), the
tests, the benchmarks, nbgrader's configuration or the instructors' page. It refuses to start
when ``exercises/`` is not what ``make exercises`` makes of ``solutions/`` (a forgotten release),
and to finish when the copy holds anything of ``solutions/`` (see :func:`leaks`).
``--git`` also makes the folder a git repository with one commit, tagged with the release.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Settings", "build", "install_cell", "install_cell_problems", "install_notebooks",
           "leaks", "secret_lines", "settings", "write_install_cells"]

# What a student edition holds: these files and folders of the repository (tracked or new, not
# git-ignored), minus INSTRUCTOR_ONLY; the README and Makefile are written for students instead.
STUDENT_FILES = ("_config.yml", "_toc.yml", "_ext", "_static", "binder", "book", "exercises",
                 "gdcourse", "references.bib", "pyproject.toml", ".gitignore", ".github", "LICENSE")
INSTRUCTOR_ONLY = ("book/instructors.md",)
DEFAULT_EDITION = ROOT / "_build" / "student-edition"


@dataclass(frozen=True)
class Settings:
    """Where students get the course from (read from ``_config.yml`` by :func:`settings`)."""

    repository: str  # the student repository, https://github.com/<org>/<name>
    release: str     # the tag the install cell pins, v<package version>

    @property
    def install_spec(self) -> str:
        """The pip requirement of the install cell."""
        return f"gdcourse @ git+{self.repository}@{self.release}"


def settings(root: Path = ROOT) -> Settings:
    """The student repository and the pinned release, from ``root/_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = str((config.get("repository") or {}).get("url", "")).rstrip("/").removesuffix(".git")
    release = str((config.get("gdcourse") or {}).get("release", ""))
    if not re.fullmatch(r"(https|file)://\S+", url):
        raise ValueError(f"repository.url in _config.yml must be the student repository's "
                         f"https:// address, got {url!r}")
    if not re.fullmatch(r"v\d+(\.\d+)*\S*", release):
        raise ValueError(f"gdcourse.release in _config.yml must be a release tag such as "
                         f"'v0.1.0', got {release!r}")
    return Settings(url, release)


def install_cell(config: Settings) -> str:
    """The source of the install cell for ``config``."""
    return f'''\
# Colab and fresh Binder sessions: install the course's helper package if it is missing.
# Written by `make install-cells` from _config.yml (do not edit): release {config.release}.
try:
    import gdcourse
except ImportError:
    import importlib
    import subprocess
    import sys

    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                           "{config.install_spec}"],
                          capture_output=True, text=True, check=False)
    if _pip.returncode != 0:
        _why = [line.strip() for line in _pip.stderr.splitlines()
                if line.strip().startswith(("fatal:", "ERROR:"))] or ["(no reason given)"]
        raise RuntimeError(
            "Could not install gdcourse {config.release}, the course's helper package, from "
            "{config.repository}: check that this session is online (in Colab: Runtime > "
            "Connect) and run this cell again; if it is, tell your instructor. pip said: "
            + _why[0]) from None
    importlib.invalidate_caches()
    import gdcourse  # noqa: F401'''


def install_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks whose install cell :func:`write_install_cells` writes: the chapters and the
    source notebooks (``exercises/`` is generated from the latter by ``make exercises``)."""
    return sorted([*(root / "book").glob("*.ipynb"), *(root / "solutions").glob("*/*.ipynb")])


def _is_install_cell(cell: dict) -> bool:
    source = "".join(cell.get("source", ""))
    return "import gdcourse" in source and "except ImportError" in source


def install_cell_problems(path: Path, config: Settings) -> list[str]:
    """What is wrong with the install cell of the notebook at ``path`` (empty when it is right)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    if not code or not _is_install_cell(code[0]):
        return [f"{path.name}: the first code cell is not the install cell"]
    if "".join(code[0]["source"]) != install_cell(config):
        return [(f"{path.name}: the install cell differs from _config.yml's settings "
                 f"({config.install_spec}): run `make install-cells`")]
    return []


def write_install_cells(root: Path = ROOT) -> list[Path]:
    """Write the install cell of every notebook of :func:`install_notebooks`; return those that
    changed. Only that cell's source changes: the files keep Jupyter's layout (one-space
    indentation, non-ASCII characters as they are)."""
    text = install_cell(settings(root))
    lines = text.splitlines(keepends=True)
    changed = []
    for path in install_notebooks(root):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        if not code or not _is_install_cell(code[0]):
            raise ValueError(f"{path}: its first code cell is not the install cell "
                             "(`try: import gdcourse ... except ImportError: ...`)")
        if "".join(code[0]["source"]) == text:
            continue
        code[0]["source"] = lines
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        changed.append(path)
    return changed


# ------------------------------------------------------------------------------------------------
# The student edition
# ------------------------------------------------------------------------------------------------

_SECRET_BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.DOTALL)
_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")


def secret_lines(solutions: Path) -> set[str]:
    """Every line of ``solutions/`` that students must not see: the lines of solution and hidden-
    test blocks of the source notebooks that appear nowhere in their visible parts, and every line
    of the other files there (hidden checks). Short lines (12 characters or fewer), comments and
    imports are left out: they say nothing and occur everywhere."""
    secret, visible = set(), []
    for path in sorted(p for p in solutions.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                source = "".join(cell.get("source", ""))
                secret.update(line for _, body in _SECRET_BLOCK.findall(source)
                              for line in body.splitlines())
                visible.append(_SECRET_BLOCK.sub("", source))
        else:
            try:
                secret.update(path.read_text(encoding="utf-8").splitlines())
            except UnicodeDecodeError:
                continue
    shown = "\n".join(visible)
    return {line.strip() for line in secret
            if len(line.strip()) > 12 and not line.strip().startswith(("from ", "import ", "#"))
            and line.strip() not in shown}


def _notebook_text(text: str) -> str:
    return "\n".join("".join(cell.get("source", "")) for cell in json.loads(text)["cells"])


def leaks(edition: Path, root: Path = ROOT) -> list[str]:
    """What of ``root/solutions`` the folder ``edition`` gives away (empty when nothing): a path
    under ``solutions/`` or ``tests/``, a file identical to one in ``solutions/``, a solution or
    hidden-test marker in a notebook, or a secret line (:func:`secret_lines`) in any text file.

    A line that the chapters (``root/book/*.ipynb``) or the reference package (``root/gdcourse``)
    show on purpose, such as an update rule, gives nothing away (the policy of the book's own
    tests)."""
    solutions = root / "solutions"
    package = "\n".join(module.read_text(encoding="utf-8")
                        for module in sorted((root / "gdcourse").rglob("*.py")))
    taught = "\n".join([package] + [_notebook_text(path.read_text(encoding="utf-8"))
                                    for path in sorted((root / "book").glob("*.ipynb"))])
    secrets = {line for line in secret_lines(solutions) if line not in taught}
    originals = {p.read_bytes() for p in solutions.rglob("*") if p.is_file()}
    found = []
    for path in sorted(p for p in edition.rglob("*") if p.is_file() and ".git" not in p.parts):
        name = path.relative_to(edition).as_posix()
        if name.split("/")[0] in ("solutions", "tests"):
            found.append(f"{name}: instructor-only folder")
        data = path.read_bytes()
        if data in originals:
            found.append(f"{name}: a copy of a file in solutions/")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".ipynb":
            text = _notebook_text(text)
            found += [f"{name}: {marker!r}" for marker in _MARKERS if marker in text]
        found += [f"{name}: secret line {line!r}" for line in sorted(secrets) if line in text]
    return found


def _files(root: Path) -> list[str]:
    """The repository's files as a fresh clone would have them (tracked, or new and not ignored)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, check=True).stdout.decode()
    return sorted(name for name in listing.split("\0") if name and (root / name).is_file())


def _excluded_links(text: str, excluded: list[str]) -> str:
    """``text`` (a markdown page) without the paragraphs that link to an excluded page."""
    targets = [name.rsplit(".", 1)[0] for name in excluded]
    paragraphs = re.split(r"(\n\s*\n)", text)
    kept = [part for part in paragraphs
            if not any(f"{target}`" in part or f"{target}.md" in part for target in targets)]
    return "".join(kept).rstrip("\n") + "\n"


def _drop_from_toc(entries: list, excluded: set[str]) -> list:
    kept = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("file") in excluded:
            continue
        if isinstance(entry, dict):
            pruned = {key: _drop_from_toc(value, excluded) if isinstance(value, list) else value
                      for key, value in entry.items()}
            if "chapters" in pruned and not pruned["chapters"]:
                continue
            kept.append(pruned)
        else:
            kept.append(entry)
    return kept


STUDENT_README = """\
# {title}

The student edition of an open course-book on gradient descent: the chapters (`book/`), the
exercises (`exercises/`) and the course's helper package (`gdcourse/`). Read the book online, or
open any chapter or exercise in Binder or Colab from the rocket icon at the top of its page.

## Running the notebooks

- **Binder or Colab**: run the cells from the top. The first cell installs the helper package,
  release {release} of this repository, when it is missing; if it cannot (no network, for
  instance) it stops with a message saying so.
- **Your own machine** (Python 3.10 or newer): `pip install "{spec}"`, then open the notebooks
  with Jupyter. Or clone this repository and run `make book` to build the HTML book into
  `_build/html`.

## Exercises

Each exercise checks itself with visible tests as you work; your instructor grades it with
further tests. Hand in your notebook as your course asks.

This repository is generated from the instructors' repository (`make student-edition`): changes
belong there, not here.
"""

STUDENT_MAKEFILE = """\
# Student edition: `make book` builds the HTML book into _build/html (creates .venv first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)

.PHONY: venv book clean

$(STAMP): pyproject.toml
\ttest -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --quiet --upgrade pip
\t$(BIN)/python -m pip install --quiet -e '.[dev]'
\t$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
\ttouch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
\tGDCOURSE_STATIC=1 $(BIN)/jupyter-book build -W -n --keep-going --path-output . .

clean:
\trm -rf _build
"""


def _stale_exercises(root: Path) -> list[str]:
    """The student notebooks of ``root/exercises`` that differ from a fresh ``make exercises``."""
    from gdcourse import release

    if root.resolve() != release.ROOT.resolve():
        raise ValueError(f"root: the exercises can be regenerated only in {release.ROOT}")
    with tempfile.TemporaryDirectory() as scratch:
        fresh = {path.relative_to(scratch).as_posix(): path.read_bytes()
                 for path in release.release(output=Path(scratch))}
    committed = {path.relative_to(root / "exercises").as_posix(): path.read_bytes()
                 for path in (root / "exercises").glob("*/*.ipynb")}
    return sorted(name for name in fresh.keys() | committed.keys()
                  if fresh.get(name) != committed.get(name))


def build(output: Path, root: Path = ROOT, *, git: bool = False,
          check_exercises: bool = True) -> list[str]:
    """Write the student edition of ``root`` into ``output`` (which must not exist, or be empty);
    return the files written, relative to ``output``. Raises ``RuntimeError`` when a notebook's
    install cell does not match the settings, when ``exercises/`` is not what ``make exercises``
    makes of ``solutions/`` (checked with nbgrader unless ``check_exercises`` is false) or when
    :func:`leaks` finds anything."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise ValueError(f"output: {output} is not empty")
    config = settings(root)
    stale = [problem for path in install_notebooks(root) + sorted(
        (root / "exercises").glob("*/*.ipynb")) for problem in install_cell_problems(path, config)]
    if stale:
        raise RuntimeError("install cells out of date:\n" + "\n".join(stale))
    if check_exercises:
        stale = _stale_exercises(root)
        if stale:
            raise RuntimeError("exercises/ is out of date with solutions/ (run `make exercises`): "
                               + ", ".join(stale))
    names = [name for name in _files(root)
             if name.split("/")[0] in STUDENT_FILES and name not in INSTRUCTOR_ONLY
             and "__pycache__" not in name]
    for name in names:
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    # the pages and the table of contents without the instructor-only pages
    for name in names:
        if name.endswith(".md") and name.startswith("book/"):
            page = output / name
            page.write_text(_excluded_links(page.read_text(encoding="utf-8"),
                                            list(INSTRUCTOR_ONLY)), encoding="utf-8")
    toc_path = output / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    excluded = {name.rsplit(".", 1)[0] for name in INSTRUCTOR_ONLY}
    toc["parts"] = _drop_from_toc(toc.get("parts", []), excluded)
    toc_path.write_text("# Table of contents of the student edition (written by "
                        "`make student-edition`)\n" + yaml.safe_dump(toc, sort_keys=False),
                        encoding="utf-8")
    title = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")).get("title", "")
    (output / "README.md").write_text(STUDENT_README.format(
        title=title, release=config.release, spec=config.install_spec), encoding="utf-8")
    (output / "Makefile").write_text(STUDENT_MAKEFILE, encoding="utf-8")
    names += ["README.md", "Makefile"]
    found = leaks(output, root)
    if found:
        raise RuntimeError("the student edition would give away:\n" + "\n".join(found))
    if git:
        _git(output, config.release)
    return sorted(set(names))


def _git(folder: Path, tag: str) -> None:
    """Make ``folder`` a git repository: one commit on ``main``, tagged ``tag``."""
    identity = ["-c", "user.name=gdcourse", "-c", "user.email=gdcourse@localhost"]
    for command in (["init", "--quiet", "-b", "main"], ["add", "--all"],
                    [*identity, "commit", "--quiet", "-m", f"Student edition {tag}"],
                    [*identity, "tag", "-a", tag, "-m", f"Student edition {tag}"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gdcourse.edition", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install-cells", help="write the install cell of book/ and solutions/")
    edition = commands.add_parser("student-edition", help="export the student edition")
    edition.add_argument("output", nargs="?", type=Path, default=None,
                         help="a new or empty folder (default: _build/student-edition, which is "
                              "rebuilt from scratch)")
    edition.add_argument("--git", action="store_true",
                         help="make it a git repository: one commit, tagged with the release")
    args = parser.parse_args(argv)
    if args.command == "install-cells":
        changed = write_install_cells()
        for path in changed:
            print(f"wrote the install cell of {path.relative_to(ROOT)}")
        print(f"{len(changed)} notebook(s) changed; install: {settings().install_spec}")
        return 0
    if args.output is None:
        args.output = DEFAULT_EDITION
        shutil.rmtree(DEFAULT_EDITION, ignore_errors=True)
    try:
        files = build(args.output, git=args.git)
    except (ValueError, RuntimeError) as error:
        print(f"student-edition: {error}", file=sys.stderr)
        return 1
    print(f"wrote the student edition ({len(files)} files) to {args.output}")
    print(f"push it to {settings().repository} and tag it {settings().release}"
          + (" (done: git repository, tag made)" if args.git else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

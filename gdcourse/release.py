"""Regenerate the student notebooks in ``exercises/`` from the sources in ``solutions/``.

    python -m gdcourse.release [--output DIR] [ASSIGNMENT ...]      (make exercises)

Runs ``nbgrader generate_assignment`` for every assignment (no gradebook is touched: the grading
pipeline registers assignments itself), strips outputs and execution counts, and writes the
notebooks in a canonical form, so that regenerating gives byte-identical files and a test can
check that ``exercises/`` is in sync with ``solutions/``. Each release's locked cells are
fingerprinted in ``exercises/releases.json`` (a release is added only when they changed), so the
grader judges a submission against the release the student received
(:mod:`gdcourse.grader.release_record`).

nbgrader runs one more preprocessor of ours at the end (:func:`generate_preprocessors`, set in
``nbgrader_config.py``): :class:`CheckAllCell` ends every released notebook with the "check all"
cell (:func:`check_all_cell`), which reruns the visible tests of every question and prints one
line per question (:func:`gdcourse.grading.check_all`). The grader ignores that cell
(:func:`is_check_all`).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from gdcourse.grader.check import visible_part
from gdcourse.grader.release_record import RELEASES_FILE, record_release

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

__all__ = ["CHECK_ALL_TAG", "add_check_all", "assignments", "canonical", "check_all_cell",
           "generate_preprocessors", "is_check_all", "release"]

#: The tag (and cell id) of the "check all" cell; a source notebook may hold a placeholder cell
#: with this tag, which the release fills, else the cell is appended.
CHECK_ALL_TAG = "check-all"

_CHECK_ALL_HEADER = """\
# Check all: run this cell last, before you hand in. It runs the visible tests of every
# question again (the same code as the test cells above) and prints one line per question.
# It is not graded: the grader ignores this cell and grades with hidden tests as well.
from gdcourse.grading import check_all

"""


def assignments(source: Path = SOLUTIONS) -> list[str]:
    """The assignment names: folders of ``solutions/`` that hold a notebook."""
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def canonical(notebook: nbformat.NotebookNode) -> str:
    """A notebook as stable text: no outputs, no execution counts, sorted keys."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def _tagged(cell) -> bool:
    """Whether ``cell`` carries the check-all tag or cell id (any cell, possibly malformed)."""
    if not isinstance(cell, dict):
        return False
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return (isinstance(tags, list) and CHECK_ALL_TAG in tags) or cell.get("id") == CHECK_ALL_TAG


def is_check_all(cell) -> bool:
    """Whether ``cell`` (any notebook cell, possibly malformed) is the "check all" cell: tagged
    :data:`CHECK_ALL_TAG` (or with that cell id) and not an nbgrader cell. A test or answer cell
    a student tagged so stays what it is: graded, and restored if edited."""
    if not _tagged(cell):
        return False
    metadata = cell.get("metadata")
    return not (isinstance(metadata, dict) and metadata.get("nbgrader"))


def _question_title(markdown: str) -> str | None:
    """``Question 1: the gradient`` from a heading ``## Question 1 (3 points): the gradient``."""
    for line in markdown.splitlines():
        match = re.match(r"#+\s+(.+)", line.strip())
        if match:
            return re.sub(r"\s*\(\d+(?:\.\d+)?\s+points?\)", "", match.group(1)).strip()
    return None


def _code_literal(code: str) -> str:
    """``code`` as a readable Python string literal: a raw triple-quoted block when that
    round-trips, else ``repr``."""
    block = "\n" + code.strip("\n") + "\n"
    literal = f"r'''{block}'''"
    try:
        if "'''" not in block and ast.literal_eval(literal) == block:
            return literal
    except (SyntaxError, ValueError):
        pass
    return repr(block)


def check_all_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The "check all" code cell for ``notebook`` (a source or released nbgrader notebook): a
    call of :func:`gdcourse.grading.check_all` with, for every test cell, the question's title
    (the heading of the markdown cell before it, else its grade id), its points and the
    *visible* part of its code (:func:`gdcourse.grader.check.visible_part`: hidden tests are
    never in it)."""
    if not isinstance(notebook, nbformat.NotebookNode):
        raise TypeError(f"notebook must be an nbformat notebook, got {type(notebook).__name__}")
    entries, title = [], None
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown":
            title = _question_title(cell.source) or title
        elif cell.cell_type == "code" and meta.get("grade") and not is_check_all(cell):
            name = title or meta.get("grade_id") or f"test cell {len(entries) + 1}"
            points = meta.get("points", 0)
            entries.append(f"    ({name!r}, {points!r}, {_code_literal(visible_part(cell.source))}),")
            title = None  # one title, one question
    if not entries:
        raise ValueError("notebook has no nbgrader test cell: nothing to check")
    source = _CHECK_ALL_HEADER + "check_all([\n" + "\n".join(entries) + "\n])"
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [CHECK_ALL_TAG]})
    cell.id = CHECK_ALL_TAG
    return cell


def add_check_all(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """End ``notebook`` with its "check all" cell, in place: fill the placeholder cell tagged
    :data:`CHECK_ALL_TAG` (the first; any other such cell is dropped), else append it.
    Returns the notebook. A placeholder that is an nbgrader cell is refused (ValueError):
    nbgrader would record it in the gradebook as a cell to restore and run."""
    fresh = check_all_cell(notebook)
    placeholders = [index for index, cell in enumerate(notebook.cells) if _tagged(cell)]
    for index in placeholders:
        if notebook.cells[index].get("metadata", {}).get("nbgrader"):
            raise ValueError(f"notebook: cell {index} is tagged {CHECK_ALL_TAG!r} but is an "
                             f"nbgrader cell; the check-all placeholder must be a plain code "
                             f"cell (it is never graded)")
    if not placeholders:
        notebook.cells.append(fresh)
        return notebook
    first = notebook.cells[placeholders[0]]
    first.source, first.outputs, first.execution_count = fresh.source, [], None
    tags = first.metadata.setdefault("tags", [])
    if CHECK_ALL_TAG not in tags:
        tags.append(CHECK_ALL_TAG)
    notebook.cells = [cell for index, cell in enumerate(notebook.cells)
                      if index == placeholders[0] or index not in placeholders]
    return notebook


_PREPROCESSOR = None


def generate_preprocessors() -> list:
    """nbgrader's ``GenerateAssignment`` preprocessors followed by :class:`CheckAllCell`, which
    adds the "check all" cell to the released notebook (``nbgrader_config.py`` sets this)."""
    global _PREPROCESSOR
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import NbGraderPreprocessor

    if _PREPROCESSOR is None:
        class CheckAllCell(NbGraderPreprocessor):
            """Ends the released notebook with its "check all" cell (:func:`add_check_all`)."""

            def preprocess(self, nb, resources):
                return add_check_all(nb), resources

        CheckAllCell.__module__ = __name__
        _PREPROCESSOR = CheckAllCell
    default = GenerateAssignment.class_traits()["preprocessors"].default()
    return [*default, _PREPROCESSOR]


def _nbgrader() -> str:
    return str(Path(sys.executable).parent / "nbgrader")


def _generate(names: list[str], release_dir: Path, env: dict[str, str]) -> None:
    """Run ``nbgrader generate_assignment`` for ``names``, without a gradebook: one process for
    all of them when they are all the assignments there are (nbgrader's start-up dominates),
    else one per name."""
    patterns = ["*"] if sorted(names) == assignments() else names
    for pattern in patterns:
        command = [_nbgrader(), "generate_assignment", pattern, "--force", "--no-db",
                   f"--CourseDirectory.release_directory={release_dir}"]
        result = subprocess.run(command, cwd=ROOT, env=env,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {pattern} failed:\n{result.stderr}")


def release(names: list[str] | None = None, output: Path = EXERCISES) -> list[Path]:
    """Generate the release version of ``names`` (all by default) into ``output``."""
    names = list(names or assignments())
    for name in names:
        if not (SOLUTIONS / name).is_dir():
            raise ValueError(f"no assignment {name!r} in {SOLUTIONS}")
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, "GDCOURSE_GRADING_DIR": str(Path(scratch) / "grading")}
        _generate(names, Path(scratch) / "release", env)
        for name in names:
            target = output / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            generated = sorted((Path(scratch) / "release" / name).glob("*.ipynb"))
            if not generated:
                raise RuntimeError(f"nbgrader generated no notebook for {name}")
            for path in generated:
                notebook = nbformat.read(path, as_version=4)
                target_path = target / path.name
                target_path.write_text(canonical(notebook), encoding="utf-8")
                written.append(target_path)
                record_release(name if path.stem == name else f"{name}/{path.stem}",
                               notebook, output / RELEASES_FILE)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gdcourse.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", help="assignments to release (default: all)")
    parser.add_argument("--output", type=Path, default=EXERCISES, help="release folder")
    args = parser.parse_args(argv)
    for path in release(args.assignments, args.output):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

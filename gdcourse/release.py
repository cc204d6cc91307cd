"""Regenerate the student notebooks in ``exercises/`` from the sources in ``solutions/``.

    python -m gdcourse.release [--output DIR] [ASSIGNMENT ...]      (make exercises)

Runs ``nbgrader generate_assignment`` for every assignment (no gradebook is touched: the grading
pipeline registers assignments itself), strips outputs and execution counts, and writes the
notebooks in a canonical form, so that regenerating gives byte-identical files and a test can
check that ``exercises/`` is in sync with ``solutions/``. Each release's locked cells are
fingerprinted in ``exercises/releases.json`` (a release is added only when they changed), so the
grader judges a submission against the release the student received
(:mod:`gdcourse.grader.release_record`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from gdcourse.grader.release_record import RELEASES_FILE, record_release

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

__all__ = ["assignments", "canonical", "release"]



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

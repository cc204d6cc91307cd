"""Grade a class: autograde submitted notebooks with nbgrader, write grades and safe feedback.

    python -m gdcourse.grade SUBMISSIONS [--assignment NAME ...] [--grading-dir grading]
                                         [--timeout SECONDS]            (make grade SUBMISSIONS=...)

SUBMISSIONS is a folder holding, for each student, either

- ``<student>/<assignment>.ipynb`` or ``<student>/<assignment>/<assignment>.ipynb``, or
- a ``.zip`` exported by an LMS with files named ``<student>_<anything>_<assignment>.ipynb``
  (Canvas style: the student id is the part before the first underscore).

For every submission the pipeline copies it into ``grading/submitted``, runs ``nbgrader
autograde`` (real kernels, a per-cell timeout, deleted test cells restored from the gradebook),
reads the scores from the gradebook, and writes

- ``grading/grades.csv``: one row per student and assignment, with every grade the gradebook holds
  (earlier runs included: grading again never loses a grade), and
- ``grading/feedback/<student>/<assignment>.html``: the student's notebook with scores, the
  visible tests and the error messages, and with the hidden tests and their tracebacks removed.

Bad submissions are graded, never crashed on: an infinite loop costs the timed-out question, an
exception or ``sys.exit`` costs the questions it breaks, a dying kernel, an invalid notebook or a
missing one score 0 with a line in the report saying why.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")

__all__ = ["Result", "collect_submissions", "grade", "main", "sanitize_feedback"]


@dataclass
class Result:
    """The outcome of grading one student's assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    status: str = "graded"
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# Finding submissions
# ------------------------------------------------------------------------------------------


def _match_assignment(filename: str, names: list[str]) -> str | None:
    stem = Path(filename).stem
    matches = [name for name in names if name in stem]
    return max(matches, key=len) if matches else None


def collect_submissions(folder: Path, names: list[str], scratch: Path) -> dict[tuple[str, str], Path]:
    """Map (student, assignment) to the submitted file, from folders or LMS zip files."""
    found: dict[tuple[str, str], Path] = {}
    for archive in sorted(folder.glob("*.zip")):
        target = scratch / archive.stem
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                base = Path(member).name
                if not base.endswith(".ipynb") or "_" not in base or ".." in member:
                    continue
                assignment = _match_assignment(base, names)
                student = base.split("_", 1)[0]
                if assignment and STUDENT_ID.match(student):
                    path = target / student / f"{assignment}.ipynb"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(zipped.read(member))
                    found[student, assignment] = path
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        student = student_dir.name
        if not STUDENT_ID.match(student):
            continue
        for path in sorted(student_dir.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            assignment = _match_assignment(path.name, names)
            if assignment:
                found[student, assignment] = path
    return found


# ------------------------------------------------------------------------------------------
# Running nbgrader
# ------------------------------------------------------------------------------------------


class _Nbgrader:
    def __init__(self, grading_dir: Path, timeout: int) -> None:
        self.grading_dir = grading_dir
        bin_dir = Path(sys.executable).parent
        self.executable = str(bin_dir / "nbgrader")
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                    "GDCOURSE_GRADING_DIR": str(grading_dir),
                    "GDCOURSE_CELL_TIMEOUT": str(timeout)}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.executable, *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, check=False)

    def register(self, assignment: str, scratch: Path) -> None:
        """Record the assignment's cells (hidden tests included) in the gradebook."""
        result = self.run("generate_assignment", assignment, "--force",
                          f"--CourseDirectory.release_directory={scratch / 'release'}")
        if result.returncode != 0:
            raise RuntimeError(f"could not register {assignment} in the gradebook:\n{result.stderr}")


def _gradebook_scores(grading_dir: Path, student: str, assignment: str):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{grading_dir / 'gradebook.db'}") as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return None
        questions = {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
        return notebook.score, notebook.max_score, questions


def _max_score(grading_dir: Path, assignment: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{grading_dir / 'gradebook.db'}") as gradebook:
        return float(gradebook.find_assignment(assignment).max_score)


def _execution_notes(path: Path) -> list[str]:
    """What went wrong while the autograded notebook ran, question by question."""
    notes = []
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            name = output.get("ename", "")
            if "Timeout" in name:
                notes.append(f"{grade_id}: timed out (infinite loop?)")
            elif name == "SystemExit":
                notes.append(f"{grade_id}: called sys.exit")
            elif cell.metadata.get("nbgrader", {}).get("grade"):
                message = str(output.get("evalue", "")).splitlines()[0][:160] if output.get("evalue") else ""
                notes.append(f"{grade_id}: {name}" + (f": {message}" if message else ""))
    return notes


# ------------------------------------------------------------------------------------------
# Feedback without hidden tests
# ------------------------------------------------------------------------------------------


def sanitize_feedback(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove hidden tests from test cells and tracebacks from errors (they quote test code)."""
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if meta.get("grade") or meta.get("locked"):
            cell.source = HIDDEN_TESTS.sub("# (further tests, hidden from students, ran here)\n",
                                           cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    return notebook


def _write_feedback(autograded: Path, target: Path, result: Result, questions: dict) -> None:
    from nbconvert import HTMLExporter

    notebook = sanitize_feedback(nbformat.read(autograded, as_version=4))
    lines = [f"# Feedback: {result.assignment}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    lines += [f"- {name}: {score:g} / {maximum:g}" for name, (score, maximum) in sorted(questions.items())]
    lines += [f"- note: {note}" for note in result.notes]
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# The pipeline
# ------------------------------------------------------------------------------------------


def _grade_one(nbgrader: _Nbgrader, student: str, assignment: str, path: Path,
               max_score: float) -> Result:
    grading_dir = nbgrader.grading_dir
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file is graded 0
        return Result(student, assignment, 0.0, max_score, "invalid notebook",
                      [f"not a valid notebook file ({type(error).__name__})"])
    submitted = grading_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    if submitted.parent.exists():
        shutil.rmtree(submitted.parent)
    submitted.parent.mkdir(parents=True)
    nbformat.write(notebook, submitted)
    run = nbgrader.run("autograde", assignment, "--student", student, "--force")
    scores = _gradebook_scores(grading_dir, student, assignment)
    autograded = grading_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
    log = run.stdout + run.stderr
    if run.returncode != 0 or scores is None or not autograded.exists():
        reason = "the kernel died" if re.search(r"[Kk]ernel (died|restart)|DeadKernel", log) \
            else "nbgrader could not grade it"
        return Result(student, assignment, 0.0, max_score, "failed", [reason])
    score, maximum, questions = scores
    result = Result(student, assignment, float(score), float(maximum), "graded",
                    _execution_notes(autograded))
    _write_feedback(autograded, grading_dir / "feedback" / student / f"{assignment}.html",
                    result, questions)
    return result


def _write_reports(grading_dir: Path, results: list[Result]) -> Path:
    """Merge this run into report.json (earlier results kept) and rewrite grades.csv from it."""
    report_path = grading_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    for result in results:
        report[f"{result.student}/{result.assignment}"] = asdict(result)
    report_path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    csv_path = grading_dir / "grades.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "notes"])
        for key in sorted(report):
            entry = report[key]
            writer.writerow([entry["student"], entry["assignment"], f"{entry['score']:g}",
                             f"{entry['max_score']:g}", entry["status"], "; ".join(entry["notes"])])
    return csv_path


def grade(submissions: Path, assignments: list[str] | None = None,
          grading_dir: Path | None = None, timeout: int = 30, echo=print) -> list[Result]:
    """Grade every submission in ``submissions``; return the results of this run."""
    from gdcourse.release import assignments as all_assignments

    names = assignments or all_assignments()
    grading_dir = Path(grading_dir or ROOT / "grading").resolve()
    grading_dir.mkdir(parents=True, exist_ok=True)
    nbgrader = _Nbgrader(grading_dir, timeout)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name in names:
            nbgrader.register(name, scratch)
        found = collect_submissions(Path(submissions), names, scratch)
        students = sorted({student for student, _ in found})
        earlier = json.loads((grading_dir / "report.json").read_text()) \
            if (grading_dir / "report.json").exists() else {}
        todo = [(s, a) for s in students for a in names]
        for index, (student, assignment) in enumerate(todo, start=1):
            max_score = _max_score(grading_dir, assignment)
            if (student, assignment) in found:
                result = _grade_one(nbgrader, student, assignment, found[student, assignment],
                                    max_score)
            elif f"{student}/{assignment}" in earlier:
                echo(f"[{index}/{len(todo)}] {student} {assignment}: no new submission, "
                     "earlier grade kept")
                continue
            else:
                result = Result(student, assignment, 0.0, max_score, "missing",
                                ["no notebook submitted"])
            results.append(result)
            notes = f" ({'; '.join(result.notes)})" if result.notes else ""
            echo(f"[{index}/{len(todo)}] {student} {assignment}: {result.score:g}/"
                 f"{result.max_score:g} {result.status}{notes}")
    csv_path = _write_reports(grading_dir, results)
    echo(f"grades: {csv_path}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gdcourse.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of submissions (or of LMS zips)")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--grading-dir", type=Path, default=ROOT / "grading")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per cell")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    grade(args.submissions, args.assignments, args.grading_dir, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

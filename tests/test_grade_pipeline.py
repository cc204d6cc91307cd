"""End to end: grade a small simulated class with real nbgrader and real kernels.

Two assignments, a class of students who each do something different (right, blank, hard-coded,
plausibly wrong, calling the reference, looping forever, raising, exiting, killing the kernel,
editing or deleting test cells, handing in broken JSON or nothing). Scores are asserted exactly.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS

from gdcourse.grade import collect_submissions, grade

pytestmark = [pytest.mark.slow]

EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = ["ch06_momentum", "ch08_adam"]


def solution_code(assignment: str) -> dict[str, str]:
    source = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    return {cell.id: re.sub(r" *### (BEGIN|END) SOLUTION\n", "", cell.source)
            for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}


def submission(assignment: str, answers: dict[str, str] | None = None, edit=None) -> str:
    """The released notebook with the given answer cells filled in (the rest left as stubs)."""
    notebook = nbformat.read(EXERCISES / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in notebook.cells:
        if answers and cell.id in answers:
            cell.source = answers[cell.id]
    if edit:
        edit(notebook)
    return nbformat.writes(notebook)


def correct(assignment):
    return solution_code(assignment)


def with_answer(assignment, cell_id, code):
    return {**correct(assignment), cell_id: code}


def gut_test_cell(notebook):  # the student "makes the tests pass" by emptying them
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"


def delete_test_cells(notebook):
    notebook.cells = [c for c in notebook.cells if not c.metadata.get("nbgrader", {}).get("grade")]


MOMENTUM_MAX, ADAM_MAX = 8.0, 6.0
# student -> {assignment: (notebook text or None for missing, expected score)}
CLASS = {
    "alice": {"ch06_momentum": (submission("ch06_momentum", correct("ch06_momentum")), 8.0),
              "ch08_adam": (submission("ch08_adam", correct("ch08_adam")), 6.0)},
    "bob": {"ch06_momentum": (submission("ch06_momentum"), 0.0),
            "ch08_adam": (submission("ch08_adam"), 0.0)},
    "carol": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                  "ch06_momentum", "q1-answer", ANSWERS["ch06_momentum"]["q1-answer"]["hard-coded"])), 4.0),
              "ch08_adam": (submission("ch08_adam", {"q1-answer": ANSWERS["ch08_adam"]["q1-answer"]["hard-coded"]}), 0.0)},
    "dave": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                 "ch06_momentum", "q1-answer", ANSWERS["ch06_momentum"]["q1-answer"]["buffer starts at zero"])), 4.0),
             "ch08_adam": (submission("ch08_adam", {"q1-answer": ANSWERS["ch08_adam"]["q1-answer"]["no bias correction"]}), 0.0)},
    "erin": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                 "ch06_momentum", "q1-answer", ANSWERS["ch06_momentum"]["q1-answer"]["calls the reference"])), 4.0),
             "ch08_adam": (submission("ch08_adam", {"q1-answer": ANSWERS["ch08_adam"]["q1-answer"]["eps inside the root"]}), 0.0)},
    "frank": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                  "ch06_momentum", "q2-answer", "def nesterov_step(x, grad, state, lr, momentum=0.9):\n    while True:\n        pass\n")), 4.0),
              "ch08_adam": (submission("ch08_adam", {"q1-answer": ANSWERS["ch08_adam"]["q1-answer"]["calls torch-style alias"]}), 0.0)},
    "grace": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                  "ch06_momentum", "q1-answer", correct("ch06_momentum")["q1-answer"] + "\nimport sys\nsys.exit(1)\n")), 8.0),
              "ch08_adam": (submission("ch08_adam", {"q1-answer": "raise RuntimeError('I give up')"}), 0.0)},
    "heidi": {"ch06_momentum": (submission("ch06_momentum", correct("ch06_momentum"), edit=gut_test_cell), 8.0),
              "ch08_adam": (submission("ch08_adam", {"q1-answer": "def adam_step(*args, **kwargs):\n    raise ValueError('bad')\n"}, edit=gut_test_cell), 0.0)},
    "ivan": {"ch06_momentum": (submission("ch06_momentum", correct("ch06_momentum"), edit=delete_test_cells), 8.0),
             "ch08_adam": ("{ this is not json", 0.0)},
    "judy": {"ch06_momentum": (submission("ch06_momentum", with_answer(
                 "ch06_momentum", "q2-answer", "import os\nos._exit(3)\n")), 0.0),
             "ch08_adam": (None, 0.0)},
}


def read_grades(grading_dir):
    with (grading_dir / "grades.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for student, work in CLASS.items():
        for assignment, (text, _) in work.items():
            if text is None or student == "ivan":
                continue
            path = folder / student / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    # ivan hands in through the LMS: a zip with Canvas-style file names
    with zipfile.ZipFile(folder / "lms_export.zip", "w") as archive:
        archive.writestr("ivan_10234_55555_ch06_momentum.ipynb", CLASS["ivan"]["ch06_momentum"][0])
        archive.writestr("ivan_10234_55556_ch08_adam.ipynb", CLASS["ivan"]["ch08_adam"][0])
    grading_dir = tmp_path_factory.mktemp("grading")
    log: list[str] = []
    results = grade(folder, ASSIGNMENTS, grading_dir, timeout=10, echo=log.append)
    return {"results": {(r.student, r.assignment): r for r in results}, "dir": grading_dir,
            "log": log, "folder": folder}


def test_every_submission_is_collected(graded, tmp_path):
    found = collect_submissions(graded["folder"], ASSIGNMENTS, tmp_path)
    assert ("ivan", "ch06_momentum") in found and ("ivan", "ch08_adam") in found
    assert ("judy", "ch08_adam") not in found


@pytest.mark.parametrize(("student", "assignment"),
                         [(s, a) for s, work in CLASS.items() for a in work])
def test_exact_score(graded, student, assignment):
    result = graded["results"][student, assignment]
    assert result.score == CLASS[student][assignment][1], (result.status, result.notes)
    assert result.max_score == {"ch06_momentum": MOMENTUM_MAX, "ch08_adam": ADAM_MAX}[assignment]


def test_report_lines_explain_bad_submissions(graded):
    results = graded["results"]
    assert any("timed out" in note for note in results["frank", "ch06_momentum"].notes)
    assert "called the reference implementation" in " ".join(results["erin", "ch06_momentum"].notes)
    assert results["ivan", "ch08_adam"].status == "invalid notebook"
    assert results["judy", "ch08_adam"].status == "missing"
    assert results["judy", "ch06_momentum"].status == "failed"
    assert "kernel died" in results["judy", "ch06_momentum"].notes[0]
    assert any("sys.exit" in note for note in results["grace", "ch06_momentum"].notes)
    assert len(graded["log"]) == 2 * len(CLASS) + 1 and graded["log"][0].startswith("[1/")


def test_grades_csv_lists_everyone(graded):
    rows = read_grades(graded["dir"])
    scores = {(row["student"], row["assignment"]): float(row["score"]) for row in rows}
    assert scores == {(s, a): expected for s, work in CLASS.items() for a, (_, expected) in work.items()}


def test_feedback_never_shows_hidden_tests_or_solutions(graded):
    secrets = set()
    for assignment in ASSIGNMENTS:
        source = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in source.cells:
            for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END", cell.source, re.S):
                secrets |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
    pages = list((graded["dir"] / "feedback").rglob("*.html"))
    assert len(pages) >= 12
    import html as html_module
    for page in pages:
        text = html_module.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in secrets if line in text]
        assert not leaked, (page, leaked[:3])
    alice = (graded["dir"] / "feedback" / "alice" / "ch06_momentum.html").read_text()
    assert "Score: 8 / 8" in alice


def test_grading_again_keeps_earlier_grades(graded, tmp_path):
    # a late submission from a new student only: everyone else's grade must survive
    late = tmp_path / "late"
    (late / "mallory").mkdir(parents=True)
    (late / "mallory" / "ch08_adam.ipynb").write_text(CLASS["alice"]["ch08_adam"][0])
    grade(late, ["ch08_adam"], graded["dir"], timeout=10, echo=lambda _: None)
    rows = read_grades(graded["dir"])
    scores = {(row["student"], row["assignment"]): float(row["score"]) for row in rows}
    assert scores["mallory", "ch08_adam"] == 6.0
    assert scores["alice", "ch06_momentum"] == 8.0 and scores["carol", "ch06_momentum"] == 4.0
    assert len(scores) == 2 * len(CLASS) + 1
    report = json.loads((graded["dir"] / "report.json").read_text())
    assert report["judy/ch08_adam"]["status"] == "missing"

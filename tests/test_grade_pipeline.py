"""End to end: grade a small simulated class with real nbgrader and real kernels.

Two assignments, a class of students who each do something different: right, blank, hard-coded,
plausibly wrong, calling the reference, looping forever (interruptibly or not), raising, exiting,
killing the kernel (in a test cell), editing or deleting test cells, handing in broken JSON, two
copies, or nothing, through student folders, a Canvas zip and a Moodle zip. The class is graded
once (module fixture) and scores are asserted exactly; then it is graded again to check that no
grade is ever lost. The fast tests at the end check the pieces (collecting, feedback sanitising,
reports) directly.
"""

from __future__ import annotations

import csv
import html as html_module
import json
import os
import re
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ALSO_CORRECT, ANSWERS, secret_lines

from gdcourse import grade as grade_module
from gdcourse.grade import Result, collect_submissions, grade, sanitize_feedback

EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = ["ch06_momentum", "ch08_adam"]
MAXIMUM = {"ch06_momentum": 10.0, "ch08_adam": 11.0}
TIMEOUT = 8  # seconds per cell: long enough for the hidden tests on a loaded 2-core machine


def solution_code(assignment: str) -> dict[str, str]:
    source = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    return {cell.id: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", cell.source)
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


def correct(assignment: str, **changes: str) -> dict[str, str]:
    """The solution's answers, with some cells (``q1_answer=...``) replaced."""
    return {**solution_code(assignment), **{k.replace("_", "-"): v for k, v in changes.items()}}


def wrong(assignment: str, question: str, kind: str) -> str:
    return ANSWERS[assignment][f"{question}-answer"][kind]


def gut_test_cells(notebook):  # the student "makes the tests pass" by emptying them
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"


def delete_test_cells(notebook):
    notebook.cells = [c for c in notebook.cells if not c.metadata.get("nbgrader", {}).get("grade")]


STUCK = """import time
while True:  # swallows the grader's interrupt: only a kernel restart ends this
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
"""

M, A = "ch06_momentum", "ch08_adam"
LOOP = "def nesterov_step(x, grad, state, lr, momentum=0.9):\n    while True:\n        pass\n"
EXITS = solution_code(M)["q1-answer"] + "\nimport sys\nsys.exit(1)\n"
RAISES = "def adam_step(*args, **kwargs):\n    raise ValueError('bad')\n"
REGISTRY = wrong(A, "q1", "calls the reference through a registry")
IN_PLACE = ALSO_CORRECT[A]["q1-answer"]["updates the state in place"]
KILLS = "def nesterov_step(x, grad, state, lr, momentum=0.9):\n    import os\n    os._exit(3)\n"
# student -> {assignment: (notebook text, or None when nothing is handed in, expected score)}
CLASS = {
    "alice": {M: (submission(M, correct(M)), 10.0), A: (submission(A, correct(A)), 11.0)},
    "bob": {M: (submission(M), 0.0), A: (submission(A), 0.0)},
    "carol": {M: (submission(M, correct(M, q1_answer=wrong(M, "q1", "hard-coded"))), 6.0),
              A: (submission(A, {"q1-answer": wrong(A, "q1", "hard-coded")}), 0.0)},
    "dave": {M: (submission(M, correct(M, q1_answer=wrong(M, "q1", "buffer starts at zero"))), 6.0),
             A: (submission(A, correct(A, q2_answer=wrong(A, "q2", "L2 added to the gradient"))),
                 8.0)},
    "erin": {M: (submission(M, correct(M, q1_answer=wrong(M, "q1", "calls the reference"))), 6.0),
             A: (submission(A, correct(A, q1_answer=REGISTRY)), 2.0)},
    "frank": {M: (submission(M, correct(M, q2_answer=LOOP)), 6.0),
              # a slip in Adam costs Question 1 only: AdamW and Question 3 keep their points
              A: (submission(A, correct(A, q1_answer=wrong(A, "q1", "eps inside the root"))), 5.0)},
    "grace": {M: (submission(M, correct(M, q1_answer=EXITS)), 10.0),
              A: (submission(A, correct(A, q1_answer="raise RuntimeError('I give up')")), 2.0)},
    "heidi": {M: (submission(M, correct(M), edit=gut_test_cells), 10.0),
              A: (submission(A, {"q1-answer": RAISES}, edit=gut_test_cells), 0.0)},
    "10234": {M: (submission(M, correct(M), edit=delete_test_cells), 10.0),
             A: ("{ this is not json", 0.0)},
    "judy": {M: (submission(M, correct(M, q2_answer=KILLS)), 6.0),
             A: (None, 0.0)},
    "kim": {M: (submission(M, correct(M, q2_answer=STUCK)), 6.0),
            A: (submission(A, correct(A, q1_answer=IN_PLACE)), 11.0)},  # updates the state in place
    "4711": {M: (submission(M, correct(M)), 10.0), A: (None, 0.0)},
}
ZIPPED = {"10234", "4711"}


def read_grades(grading_dir):
    with (grading_dir / "grades.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_class(folder):
    for student, work in CLASS.items():
        for assignment, (text, _) in work.items():
            if text is None or student in ZIPPED:
                continue
            path = folder / student / f"{assignment}.ipynb"
            if student == "kim" and assignment == A:  # nbgrader's layout, plus a stray copy
                path = folder / student / assignment / f"{assignment}.ipynb"
                (folder / student).mkdir(parents=True, exist_ok=True)
                (folder / student / f"{assignment}-Copy1.ipynb").write_text(submission(A))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    # ivan (Canvas user 10234) hands in through Canvas: flat files <name>_<id>_<id>_<file>
    with zipfile.ZipFile(folder / "canvas_export.zip", "w") as archive:
        archive.writestr("ivan_10234_55555_ch06_momentum.ipynb", CLASS["10234"][M][0])
        archive.writestr("ivan_late_10234_55556_ch08_adam.ipynb", CLASS["10234"][A][0])
    # Leo (Moodle participant 4711): one folder per student, <Full Name>_<id>_assignsubmission_file_
    with zipfile.ZipFile(folder / "moodle_export.zip", "w") as archive:
        archive.writestr("Leo Smith_4711_assignsubmission_file_/ch06_momentum.ipynb",
                         CLASS["4711"][M][0])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    write_class(folder)
    grading_dir = tmp_path_factory.mktemp("grading")
    log: list[str] = []
    started = time.perf_counter()
    results = grade(folder, ASSIGNMENTS, grading_dir, timeout=TIMEOUT, workers=2,
                    echo=log.append)
    return {"results": {(r.student, r.assignment): r for r in results}, "dir": grading_dir,
            "log": log, "folder": folder, "seconds": time.perf_counter() - started,
            "csv": (grading_dir / "grades.csv").read_text()}


EXPECTED = [(student, assignment, score) for student, work in CLASS.items()
            for assignment, (_, score) in work.items()]


@pytest.mark.slow
@pytest.mark.parametrize(("student", "assignment", "score"), EXPECTED)
def test_exact_score(graded, student, assignment, score):
    result = graded["results"][student, assignment]
    assert result.score == score, (result.status, result.notes)
    assert result.max_score == MAXIMUM[assignment]


@pytest.mark.slow
def test_report_lines_explain_every_bad_submission(graded):
    results = graded["results"]

    def notes(student, assignment):
        return " | ".join(results[student, assignment].notes)

    assert results["alice", M].notes == []
    assert results["alice", A].notes == []
    assert "q1-tests: AssertionError" in notes("carol", M)
    assert "called the reference implementation" in notes("erin", M)
    assert "called the reference implementation" in notes("erin", A)
    assert "q2-tests: timed out" in notes("frank", M)
    assert "q2-answer: timed out" in notes("kim", M)
    assert "restarted" in notes("kim", M)
    assert "q1-answer: called sys.exit" in notes("grace", M)
    assert "q1-answer: RuntimeError: I give up" in notes("grace", A)
    assert "q1-tests: cell edited by the student; restored from the gradebook" in notes("heidi", M)
    assert "q2-tests: cell deleted by the student; restored from the gradebook" in notes("10234", M)
    assert results["10234", A].status == "invalid notebook"
    assert "not a valid notebook" in notes("10234", A)
    assert results["judy", M].status == "graded"
    assert "q2-tests: the kernel died while running this cell" in notes("judy", M)
    assert results["judy", A].status == "missing"
    assert "no notebook submitted" in notes("judy", A)
    assert "2 notebooks handed in for ch08_adam; graded kim/ch08_adam/ch08_adam.ipynb" in \
        notes("kim", A)
    assert all(r.status == "graded" for (s, a), r in results.items()
               if (s, a) not in {("10234", A), ("judy", A), ("4711", A)})


@pytest.mark.slow
def test_progress_is_shown(graded):
    log = graded["log"]
    lines = [line for line in log if line.startswith("[")]
    total = 2 * len(CLASS)
    assert len(lines) == total
    # numbered in the order they finish (workers grade side by side), one line per notebook
    assert [line.split("]")[0] for line in lines] == [f"[{i}/{total}" for i in range(1, total + 1)]
    assert sorted(tuple(line.split("] ", 1)[1].split(":")[0].split()) for line in lines) == sorted(
        (student, assignment) for student in CLASS for assignment in ASSIGNMENTS)
    assert any(re.fullmatch(rf"\[\d+/{total}\] 4711 ch06_momentum: \(\d+\.\d s\) 10/10 graded",
                            line) for line in lines)
    assert "4711 ch08_adam: 0/11 missing - no notebook submitted; scored 0" in "\n".join(lines)
    assert log[0].startswith("sandbox: every kernel runs in bubblewrap")
    assert log[1].startswith("grading 22 notebooks of 12 students")
    assert log[1].endswith("with 2 workers")
    assert log[-1].startswith("done in")


@pytest.mark.slow
def test_grades_csv_lists_everyone(graded):
    rows = read_grades(graded["dir"])
    assert {(row["student"], row["assignment"]): float(row["score"]) for row in rows} == {
        (s, a): score for s, a, score in EXPECTED}
    assert {row["max_score"] for row in rows} == {"10", "11"}
    assert "; " in next(r["notes"] for r in rows if r["student"] == "judy" and r["assignment"] == M)


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    hidden = set()
    for assignment in ASSIGNMENTS:
        source = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in source.cells:
            for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END", cell.source, re.DOTALL):
                hidden |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
    pages = sorted((graded["dir"] / "feedback").rglob("*.html"))
    # one per notebook handed in (an invalid one says why), none for the two missing notebooks
    assert len(pages) == 2 * len(CLASS) - 2
    for page in pages:
        text = html_module.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in hidden if line in text]
        assert not leaked, (page, leaked[:3])
        assert "BEGIN HIDDEN TESTS" not in text
        assert "most recent call last" not in text
    alice = (graded["dir"] / "feedback" / "alice" / "ch06_momentum.html").read_text()
    assert "Score: 10 / 10" in alice
    assert "hidden from students" in alice
    carol = html_module.unescape((graded["dir"] / "feedback" / "carol" / f"{M}.html").read_text())
    assert "step 1 (" in carol
    assert "expected" in carol
    # a blank student's feedback holds no solution line either
    bob = html_module.unescape((graded["dir"] / "feedback" / "bob" / "ch08_adam.html").read_text())
    secrets = secret_lines(nbformat.read(SOLUTIONS / A / f"{A}.ipynb", as_version=4))
    assert not [line for line in secrets if line in bob]


@pytest.mark.slow
def test_grading_again_never_loses_a_grade(graded, tmp_path):
    grading_dir = graded["dir"]
    # 1. the same folder again: nothing changed, nothing runs, every grade is kept
    log: list[str] = []
    started = time.perf_counter()
    again = grade(graded["folder"], ASSIGNMENTS, grading_dir, timeout=TIMEOUT, echo=log.append)
    assert time.perf_counter() - started < graded["seconds"] / 2
    assert sum("unchanged since" in line for line in log) == 2 * len(CLASS) - 2
    assert sum("no new submission, earlier grade kept" in line for line in log) == 2
    assert {(r.student, r.assignment): r.score for r in again if r.status != "missing"} == {
        (s, a): score for s, a, score in EXPECTED if CLASS[s][a][0] is not None}
    assert (grading_dir / "grades.csv").read_text() == graded["csv"]
    # 2. a late submission from a new student, and bob hands in a corrected notebook
    late = tmp_path / "late"
    (late / "mallory").mkdir(parents=True)
    (late / "mallory" / "ch08_adam.ipynb").write_text(CLASS["alice"][A][0])
    (late / "bob").mkdir()
    (late / "bob" / "ch06_momentum.ipynb").write_text(CLASS["alice"][M][0])
    log = []
    grade(late, ASSIGNMENTS, grading_dir, timeout=TIMEOUT, echo=log.append)
    scores = {(row["student"], row["assignment"]): float(row["score"])
              for row in read_grades(grading_dir)}
    assert scores.pop(("mallory", "ch08_adam")) == 11.0
    assert scores.pop(("mallory", "ch06_momentum")) == 0.0  # missing: nothing earlier to keep
    assert scores.pop(("bob", "ch06_momentum")) == 10.0
    assert scores == {(s, a): score for s, a, score in EXPECTED if (s, a) != ("bob", M)}
    assert any("bob ch08_adam: no new submission, earlier grade kept (0/11)" in line for line in log)
    report = json.loads((grading_dir / "report.json").read_text())
    assert [entry["score"] for entry in report["bob/ch06_momentum"]["history"]] == [0.0]
    assert len(list((grading_dir / "history").glob("grades-*.csv"))) >= 1


@pytest.mark.slow
def test_scores_per_question_are_recorded(graded):
    report = json.loads((graded["dir"] / "report.json").read_text())
    assert report["judy/ch06_momentum"]["questions"] == {
        "q1-tests": [4.0, 4.0], "q2-tests": [0.0, 4.0], "q3-tests": [2.0, 2.0]}
    assert report["alice/ch08_adam"]["questions"] == {
        "q1-tests": [6.0, 6.0], "q2-tests": [3.0, 3.0], "q3-tests": [2.0, 2.0]}


SLOW_ANSWER = "import time\ntime.sleep(6)  # within the cell limit, past the run's limit\n" + \
    solution_code(M)["q1-answer"]


def grading_processes() -> list[str]:
    """Command lines of grading workers and sandboxed kernels still running."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if str(ROOT) in line and ("_serve()" in line or "gdcourse-sandbox" in line
                                  or "gdcourse/grader/sandbox.py" in line):  # this checkout's only
            found.append(line)
    return found


@pytest.mark.slow
def test_one_worker_grades_like_two_and_a_stuck_worker_is_replaced(graded, tmp_path,
                                                                   monkeypatch):
    """Sequential grading gives the grades the parallel run gave; a notebook that outlives the
    run's safety limit has its worker (and kernel) killed and scores 0, and the others are still
    graded by a fresh worker."""
    folder = tmp_path / "in"
    chosen = ["alice", "carol", "dave", "judy"]
    for student in chosen:
        for assignment, (text, _) in CLASS[student].items():
            if text is not None:
                (folder / student).mkdir(parents=True, exist_ok=True)
                (folder / student / f"{assignment}.ipynb").write_text(text)
    (folder / "slowpoke").mkdir()
    (folder / "slowpoke" / f"{M}.ipynb").write_text(
        submission(M, correct(M, q1_answer=SLOW_ANSWER)))
    real_limit = grade_module._safety_limit
    monkeypatch.setattr(grade_module, "_safety_limit", lambda path, timeout, *released: 3.0
                        if "slowpoke" in str(path) else real_limit(path, timeout, *released))
    log: list[str] = []
    results = grade(folder, ASSIGNMENTS, tmp_path / "grading", timeout=TIMEOUT, workers=1,
                    echo=log.append)
    assert not log[1].endswith("workers")
    scores = {(r.student, r.assignment): r.score for r in results}
    assert scores.pop(("slowpoke", M)) == 0.0
    assert scores.pop(("slowpoke", A)) == 0.0  # missing
    assert scores == {key: graded["results"][key].score for key in scores}
    assert all(graded["results"][key].status == r.status for r in results
               if (key := (r.student, r.assignment)) in graded["results"])
    (slow,) = [r for r in results if (r.student, r.assignment) == ("slowpoke", M)]
    assert slow.status == "failed"
    assert f"grading stopped after 3 s; scored 0 (log: logs/slowpoke/{M}.log)" in slow.notes
    assert "grading stopped after 3 s" in (tmp_path / "grading" / "logs" / "slowpoke" /
                                           f"{M}.log").read_text()  # the log is kept
    assert not grading_processes()
    with grade_module._gradebook(tmp_path / "grading") as gradebook:
        graded_notebooks = {(s.student.id, s.assignment.name)
                            for a in ASSIGNMENTS for s in gradebook.assignment_submissions(a)}
    assert graded_notebooks >= {(s, a) for s in chosen for a in ASSIGNMENTS
                                if CLASS[s][a][0] is not None}
    # a plain rerun grades the failed notebook again (a failed grade is never kept) and keeps
    # the others
    monkeypatch.setattr(grade_module, "_safety_limit", real_limit)
    log = []
    again = {(r.student, r.assignment): r for r in grade(
        folder, ASSIGNMENTS, tmp_path / "grading", timeout=TIMEOUT, workers=1, echo=log.append)}
    assert (again["slowpoke", M].status, again["slowpoke", M].score) == ("graded", 10.0)
    assert sum("unchanged since" in line for line in log) == len(
        [(s, a) for s, a in scores if CLASS[s][a][0] is not None])


WRAPPED_ANSWER = """import os
assert os.environ.get("GDCOURSE_KERNEL_MARK") == "wrapped", "not run by the wrapping kernel"
""" + solution_code(M)["q1-answer"]


@pytest.mark.slow
def test_a_wrapping_kernel_slots_in(tmp_path, monkeypatch):
    """Without the sandbox (an explicit choice, warned about) --kernel selects another
    kernelspec, and a kernel that does not start stops the run before anyone is graded."""
    spec = tmp_path / "jupyter" / "kernels" / "gdcourse-wrapped"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "wrapped", "language": "python",
        "env": {"GDCOURSE_KERNEL_MARK": "wrapped"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    folder = tmp_path / "in"
    (folder / "una").mkdir(parents=True)
    (folder / "una" / f"{M}.ipynb").write_text(submission(M, correct(M, q1_answer=WRAPPED_ANSWER)))
    with pytest.raises(ValueError, match="pass sandbox=False"):
        grade(folder, [M], tmp_path / "refused", kernel="gdcourse-wrapped", echo=print)
    log: list[str] = []
    (result,) = grade(folder, [M], tmp_path / "grading", timeout=TIMEOUT,
                      kernel="gdcourse-wrapped", sandbox=False, echo=log.append)
    assert result.score == 10.0, result.notes
    assert log[0].startswith("WARNING: grading WITHOUT the sandbox")
    (result,) = grade(folder, [M], tmp_path / "plain", timeout=TIMEOUT, echo=lambda _: None)
    assert result.score == 6.0  # the sandboxed kernel lacks the mark: question 1 fails
    assert "not run by the wrapping kernel" in " ".join(result.notes)
    with pytest.raises(RuntimeError, match="the grading kernel 'no-such-kernel' does not work"):
        grade(folder, [M], tmp_path / "none", kernel="no-such-kernel", sandbox=False,
              echo=lambda _: None)
    assert not (tmp_path / "none" / "grades.csv").exists()


@pytest.mark.slow
def test_make_grade_command_line(tmp_path):
    folder = tmp_path / "submissions"
    (folder / "zoe").mkdir(parents=True)
    (folder / "zoe" / "ch06_momentum.ipynb").write_text(CLASS["carol"][M][0])
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "gdcourse.grade", str(folder), "--assignment", M,
         "--grading-dir", str(tmp_path / "grading"), "--timeout", str(TIMEOUT)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sandbox: every kernel runs in bubblewrap" in result.stdout
    assert "[1/1] zoe ch06_momentum: (" in result.stdout
    assert "6/10 graded" in result.stdout
    assert read_grades(tmp_path / "grading")[0]["score"] == "6"
    assert (tmp_path / "grading" / "feedback" / "zoe" / "ch06_momentum.html").exists()


def check_all_cell_edited(source: str):
    def edit(notebook):
        (cell,) = [c for c in notebook.cells if "check-all" in c.metadata.get("tags", [])]
        cell.source = source
    return edit


def check_all_cell_deleted(notebook):
    notebook.cells = [c for c in notebook.cells if "check-all" not in c.metadata.get("tags", [])]


def tag_a_test_cell_check_all(notebook):  # a test cell emptied and tagged: still restored
    (cell,) = [c for c in notebook.cells if c.id == "q1-tests"]
    cell.source = "pass"
    cell.metadata["tags"] = ["check-all"]


def check_all_cell_moved_up(notebook):  # the answer to question 1, after its stub: never run
    (cell,) = [c for c in notebook.cells if "check-all" in c.metadata.get("tags", [])]
    notebook.cells.remove(cell)
    cell.source = solution_code(M)["q1-answer"]
    notebook.cells.insert([c.id for c in notebook.cells].index("q1-answer") + 1, cell)


@pytest.mark.slow
def test_the_check_all_cell_is_never_graded_run_or_called_tampering(tmp_path):
    """The check-all cell is the student's: kept, edited, deleted or moved, it is not run (a
    cell that kills the kernel would be noted, one that answers question 1 would score), not
    compared with the release (no tampering note) and not shown in the feedback."""
    folder = tmp_path / "in"
    work = {
        "kept": (correct(M), None, 10.0),
        "edited": (correct(M), check_all_cell_edited("import os\nos._exit(3)\n"), 10.0),
        "deleted": (correct(M), check_all_cell_deleted, 10.0),
        "moved": (None, check_all_cell_moved_up, 0.0),
        "tagged": ({"q1-answer": correct(M)["q1-answer"]}, tag_a_test_cell_check_all, 4.0),
    }
    for student, (answers, edit, _) in work.items():
        (folder / student).mkdir(parents=True)
        (folder / student / f"{M}.ipynb").write_text(submission(M, answers, edit=edit))
    results = {r.student: r for r in grade(folder, [M], tmp_path / "grading", timeout=TIMEOUT,
                                           echo=lambda _: None)}
    for student, (_, _, score) in work.items():
        result = results[student]
        assert (result.status, result.score) == ("graded", score), (student, result.notes)
    for student in ("kept", "edited", "deleted"):
        assert results[student].notes == [], (student, results[student].notes)
    assert all("edited" not in note and "deleted" not in note for note in results["moved"].notes)
    assert "q1-tests: cell edited by the student; restored from the gradebook" in \
        results["tagged"].notes
    for student in work:
        page = (tmp_path / "grading" / "feedback" / student / f"{M}.html").read_text()
        assert "check_all" not in page and "os._exit" not in page


# ------------------------------------------------------------------------------------------------
# The pieces, without kernels
# ------------------------------------------------------------------------------------------------


def test_collect_submissions_from_folders_and_lms_zips(tmp_path):
    folder = tmp_path / "in"
    write_class(folder)
    notes: dict = {}
    found = collect_submissions(folder, ASSIGNMENTS, tmp_path / "scratch", notes)
    expected = {(s, a) for s, work in CLASS.items() for a, (text, _) in work.items()
                if text is not None}
    assert set(found) == expected
    assert found["kim", A].name == f"{A}.ipynb"
    assert found["kim", A].parent.name == A
    assert list(notes) == [("kim", A)]
    assert nbformat.reads(found["4711", M].read_text(), as_version=4).cells
    assert found["10234", A].read_text() == "{ this is not json"


def test_collect_reads_only_regular_files_inside_the_submissions_folder(tmp_path):
    """The submissions folder is untrusted: a symbolic link (to a classmate's notebook, to a
    solution) or a folder named like a notebook is not read; it fails alone, with a note."""
    folder = tmp_path / "in"
    (folder / "ann").mkdir(parents=True)
    (folder / "ann" / f"{A}.ipynb").write_text(CLASS["alice"][A][0])
    (folder / "bob" / f"{M}.ipynb").mkdir(parents=True)  # a folder named like a notebook
    (folder / "carl").mkdir()
    (folder / "carl" / f"{A}.ipynb").symlink_to(folder / "ann" / f"{A}.ipynb")
    (folder / "dora").symlink_to(folder / "ann")  # a whole student folder borrowed
    (folder / "eve").mkdir()
    (folder / "eve" / f"{M}.ipynb").symlink_to(SOLUTIONS / M / f"{M}.ipynb")
    notes: dict = {}
    found = collect_submissions(folder, ASSIGNMENTS, tmp_path / "scratch", notes)
    assert set(found) == {("ann", A), ("bob", M), ("carl", A), ("eve", M)}
    assert found["ann", A] == (folder / "ann" / f"{A}.ipynb").resolve()
    for key in (("bob", M), ("carl", A), ("eve", M)):
        assert found[key].read_text() == ""  # graded as an invalid notebook
    assert notes["bob", M] == [f"bob/{M}.ipynb is a folder, not a notebook file: not read"]
    assert notes["carl", A] == [f"carl/{A}.ipynb is a symbolic link, not a notebook file: "
                                "not read"]
    assert "symbolic link" in notes["eve", M][0]


def test_the_time_budget_comes_from_the_released_notebook(tmp_path):
    released = EXERCISES / A / f"{A}.ipynb"
    padded = nbformat.read(released, as_version=4)
    padded.cells += [nbformat.v4.new_code_cell("pass") for _ in range(1000)]
    path = tmp_path / f"{A}.ipynb"
    path.write_text(nbformat.writes(padded))
    budget = grade_module._safety_limit(path, 30, released)
    assert budget == grade_module._safety_limit(released, 30) < 3600
    assert grade_module._safety_limit(path, 30) > 3600 * 10  # what the cells alone would buy


def test_command_line_refuses_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade_module.main([str(tmp_path / "nowhere")])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no such assignment"):
        grade(tmp_path, ["ch99_nothing"], tmp_path / "grading")
    for workers in (0, -1):
        with pytest.raises(ValueError, match="workers must be a whole number of at least 1"):
            grade(tmp_path, ["ch06_momentum"], tmp_path / "grading", workers=workers)
    for workers in (1.5, True, "2"):
        with pytest.raises(TypeError, match="workers must be an int"):
            grade(tmp_path, ["ch06_momentum"], tmp_path / "grading", workers=workers)
    with pytest.raises(SystemExit):
        grade_module.main([str(tmp_path), "--workers", "0"])
    assert "--workers: must be a whole number of at least 1, got '0'" in capsys.readouterr().err


def test_sanitize_feedback_removes_hidden_tests_and_tracebacks():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "check(1)\n### BEGIN HIDDEN TESTS\nsecret_check(2)\n### END HIDDEN TESTS\n")])
    notebook.cells[0].outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="step 3: x = 5.2, expected 5",
        traceback=["Traceback ...", "secret_check(2)", "AssertionError: step 3"])]
    cleaned = sanitize_feedback(notebook)
    assert "secret_check" not in cleaned.cells[0].source
    assert "check(1)" in cleaned.cells[0].source
    assert cleaned.cells[0].outputs[0]["traceback"] == [
        "AssertionError: step 3: x = 5.2, expected 5"]


def test_sanitize_feedback_drops_outputs_that_quote_hidden_tests():
    """Code in the kernel can print the cells it sees (an IPython pre_run_cell hook)."""
    source = "check(1)\n### BEGIN HIDDEN TESTS\nsecret_check(x, expected=2)\n### END HIDDEN TESTS\n"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="leaked: secret_check(x, expected=2)"),
        nbformat.v4.new_output("display_data", data={"text/plain": "secret_check(x, expected=2)"}),
        nbformat.v4.new_output("stream", name="stdout", text="an honest print"),
    ]
    outputs = sanitize_feedback(notebook).cells[0].outputs
    assert [o.get("text") for o in outputs] == [grade_module.QUOTED_NOTE] * 2 + ["an honest print"]


def test_tampering_notes_name_edited_and_deleted_cells():
    released = nbformat.read(EXERCISES / M / f"{M}.ipynb", as_version=4)
    submitted = nbformat.reads(submission(M, edit=gut_test_cells), as_version=4)
    submitted.cells = [c for c in submitted.cells if c.id != "q2-tests"]
    assert grade_module._tampering_notes(submitted, released) == [
        "q1-tests: cell edited by the student; restored from the gradebook",
        "q2-tests: cell deleted by the student; restored from the gradebook",
        "q3-tests: cell edited by the student; restored from the gradebook"]


def test_reports_keep_history_and_earlier_csv(tmp_path):
    report: dict = {}
    grade_module._record(report, Result("amy", M, 2.0, 8.0, graded_at="t1"))
    grade_module._save_report(tmp_path, report)
    grade_module._record(report, Result("amy", M, 8.0, 8.0, graded_at="t2"))
    grade_module._save_report(tmp_path, report)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["amy/ch06_momentum"]["score"] == 8.0
    assert [h["score"] for h in saved["amy/ch06_momentum"]["history"]] == [2.0]
    (old,) = (tmp_path / "history").glob("grades-*.csv")
    assert ",2,8," in old.read_text()
    assert ",8,8," in (tmp_path / "grades.csv").read_text()

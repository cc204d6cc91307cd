"""Adversarial submissions graded through the real pipeline, in the sandbox.

Every attacker hands in a correct solution plus an attack in the first answer cell, written the
way a student would (errors caught, so that the attack alone costs nothing). Each attack must fail
to do what it tries and the notebook must be graded normally otherwise; the rest of the class must
keep exact grades; the gradebook must hold nothing but grades written by nbgrader; no secret may
reach the autograded notebook's outputs or the feedback.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from exercise_students import secret_lines
from test_grade_pipeline import correct, solution_code, submission

from gdcourse.grade import grade, main

pytestmark = pytest.mark.slow  # grades a class of attackers in sandboxed kernels

M = "ch06_momentum"
FULL = 10.0
TIMEOUT = 8

# What each attack prints when it is stopped; the test reads these lines back.
ATTACKS = {
    "reads-solution": """
try:
    print("GOT", open({solution!r}).read()[:20000])
except OSError as error:
    print("STOPPED", type(error).__name__)
""",
    "reads-gradebook": """
try:
    data = open({gradebook!r}, "rb").read()
    print("GOT", data[:20000])
except OSError as error:
    print("STOPPED", type(error).__name__)
""",
    "edits-gradebook": """
import sqlite3
try:
    db = sqlite3.connect({gradebook!r})
    db.execute("update grade set manual_score = 100")
    db.execute("update submitted_assignment set extension = 1000")
    db.commit()
    print("GOT write")
except Exception as error:
    print("STOPPED", type(error).__name__)
try:
    with open({gradebook!r}, "ab") as handle:
        handle.write(b"{marker}")
    print("GOT append")
except OSError as error:
    print("STOPPED", type(error).__name__)
""",
    "reads-classmate": """
for path in ({classmate_submitted!r}, {classmate_autograded!r}):
    try:
        print("GOT", open(path).read()[:20000])
    except OSError as error:
        print("STOPPED", type(error).__name__)
""",
    "writes-outside": """
for path in ({outside_files},):
    try:
        with open(path, "w") as handle:
            handle.write("{marker}")
        print("WROTE", path)  # only a private /tmp may take it: checked from outside
    except OSError as error:
        print("STOPPED", type(error).__name__)
""",
    "opens-socket": """
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"{marker}")
    print("GOT connection")
except OSError as error:
    print("STOPPED", type(error).__name__)
""",
    "allocates-8gb": """
import numpy as np
try:
    hog = np.ones(10**9)  # 8 GB of float64, touched
    print("GOT", hog.nbytes)
    del hog
except MemoryError as error:
    print("STOPPED", type(error).__name__)
""",
    "starts-processes": """
import subprocess
started = []
try:
    for _ in range(300):  # bounded: far past the limit, never a fork bomb
        started.append(subprocess.Popen(["sleep", "60"]))
    print("GOT", len(started))
except OSError as error:
    print("STOPPED", type(error).__name__, len(started))
finally:
    for process in started:
        process.kill()
        process.wait()
""",
    "reads-own-autograded-copy": """
import glob
for path in glob.glob("*.ipynb"):  # the autograded copy, with the restored hidden tests
    try:
        text = open(path).read()
        print("GOT" if "HIDDEN" in text else "STOPPED", len(text))
    except OSError as error:
        print("STOPPED", type(error).__name__)
""",
    "hooks-test-cells": """
def _leak(info):
    print(info.raw_cell)
get_ipython().events.register("pre_run_cell", _leak)
print("STOPPED hook registered")
""",
}
SPINS = "def nesterov_step(x, grad, state, lr, momentum=0.9):\n    while True:\n        pass\n"
STUDENTS = ["alice", *ATTACKS, "spins-forever", "zoe"]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    grading_dir = tmp_path_factory.mktemp("grading")
    outside = tmp_path_factory.mktemp("outside")
    marker = uuid.uuid4().hex
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    values = {
        "solution": str(ROOT / "solutions" / M / f"{M}.ipynb"),
        "gradebook": str(grading_dir / "gradebook.db"),
        "classmate_submitted": str(grading_dir / "submitted" / "alice" / M / f"{M}.ipynb"),
        "classmate_autograded": str(grading_dir / "autograded" / "alice" / M / f"{M}.ipynb"),
        "outside_files": ", ".join(repr(str(p)) for p in (
            grading_dir / "pwned.txt", outside / "pwned.txt", ROOT / f"pwned-{marker}.txt",
            f"/tmp/pwned-{marker}.txt")),
        "port": listener.getsockname()[1], "marker": marker,
    }
    first_answer = solution_code(M)["q1-answer"]
    texts = {"alice": submission(M, correct(M)), "zoe": submission(M, correct(M)),
             "spins-forever": submission(M, correct(M, q2_answer=SPINS))}
    for student, attack in ATTACKS.items():
        code = attack.format(**values)
        texts[student] = submission(M, correct(M, q1_answer=first_answer + "\n" + code))
    for student, text in texts.items():
        (folder / student).mkdir()
        (folder / student / f"{M}.ipynb").write_text(text)
    log: list[str] = []
    results = grade(folder, [M], grading_dir, timeout=TIMEOUT, echo=log.append)
    connections = []
    try:
        while True:
            connections.append(listener.accept())
    except BlockingIOError:
        pass
    listener.close()
    yield {"results": {r.student: r for r in results}, "dir": grading_dir, "log": log,
           "outside": outside, "marker": marker, "connections": connections, "values": values}
    for path in (ROOT / f"pwned-{marker}.txt", Path(f"/tmp/pwned-{marker}.txt")):
        path.unlink(missing_ok=True)


def _outputs(grading_dir, student) -> str:
    notebook = nbformat.read(grading_dir / "autograded" / student / M / f"{M}.ipynb", 4)
    return "\n".join(output.get("text", "") + str(output.get("evalue", ""))
                     for cell in notebook.cells for output in cell.get("outputs", []))


def test_the_log_says_grading_is_sandboxed(attacked):
    assert any("sandbox" in line and "bubblewrap" in line for line in attacked["log"])


@pytest.mark.parametrize("student", [s for s in STUDENTS if s != "spins-forever"])
def test_every_attacker_is_graded_normally(attacked, student):
    result = attacked["results"][student]
    assert (result.score, result.max_score, result.status) == (FULL, FULL, "graded"), result.notes


@pytest.mark.parametrize("student", list(ATTACKS))
def test_every_attack_is_stopped(attacked, student):
    text = _outputs(attacked["dir"], student)
    assert "STOPPED" in text, text[-2000:]
    assert "GOT" not in text, text[-2000:]


def test_a_kernel_that_spins_forever_loses_only_that_question(attacked):
    result = attacked["results"]["spins-forever"]
    assert result.score == FULL - 4.0  # question 2 (4 points) spins
    assert any("timed out" in note for note in result.notes)


def test_no_process_escaped_the_limit(attacked):
    text = _outputs(attacked["dir"], "starts-processes")
    count = int(text.split("STOPPED", 1)[1].split()[1])
    assert 0 < count < 64  # the kernel's own threads count towards the limit


def test_nothing_was_written_outside_the_submission_folder(attacked):
    marker = attacked["marker"]
    assert not (attacked["dir"] / "pwned.txt").exists()
    assert not (attacked["outside"] / "pwned.txt").exists()
    assert not (ROOT / f"pwned-{marker}.txt").exists()
    assert not Path(f"/tmp/pwned-{marker}.txt").exists()  # private /tmp
    assert marker.encode() not in (attacked["dir"] / "gradebook.db").read_bytes()


def test_no_connection_reached_the_host(attacked):
    assert attacked["connections"] == []


def test_the_gradebook_holds_only_nbgrader_grades(attacked):
    db = sqlite3.connect(attacked["dir"] / "gradebook.db")
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert db.execute("select count(*) from grade where manual_score is not null").fetchone() \
        == (0,)
    assert db.execute("select count(*) from submitted_assignment where extension is not null"
                      ).fetchone() == (0,)
    # the hidden tests it stores are the instructor's, untouched
    stored = "\n".join(source for (source,) in db.execute("select source from source_cell"))
    assert "BEGIN HIDDEN TESTS" in stored


def test_no_secret_reaches_outputs_or_feedback(attacked):
    # solution lines are no secret here (the attackers hand in the solution): hidden tests are
    source = nbformat.read(ROOT / "solutions" / M / f"{M}.ipynb", as_version=4)
    hidden = "\n".join(re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS",
                                  "\n".join(cell.source for cell in source.cells), re.DOTALL))
    secrets = {line.strip() for line in secret_lines(source) if line.strip() in hidden}
    assert len(secrets) > 5
    for student in STUDENTS:
        outputs = _outputs(attacked["dir"], student)
        feedback = (attacked["dir"] / "feedback" / student / f"{M}.html").read_text()
        for line in secrets:
            assert line not in outputs, (student, line)  # never in the kernel at all
            assert line not in html.unescape(feedback), (student, line)
    # the gradebook file's own bytes never came back to a student
    digest = hashlib.sha256((attacked["dir"] / "gradebook.db").read_bytes()).hexdigest()
    assert digest not in json.dumps(attacked["values"])


def test_the_hooked_test_cells_never_show_hidden_tests(attacked):
    # the hook printed the cells the kernel ran (test cells arrive without their hidden part:
    # the checks run in the grader); a test cell shows only the grader's verdict
    outputs = _outputs(attacked["dir"], "hooks-test-cells")
    assert "def nesterov_step" in outputs  # the hook ran, and printed the student's own cell
    assert "BEGIN HIDDEN TESTS" not in outputs
    feedback = html.unescape(
        (attacked["dir"] / "feedback" / "hooks-test-cells" / f"{M}.html").read_text())
    assert "All checks of this cell passed." in feedback


def test_grading_refuses_to_run_without_bubblewrap(tmp_path):
    folder = tmp_path / "class"
    (folder / "ada").mkdir(parents=True)
    (folder / "ada" / f"{M}.ipynb").write_text(submission(M, correct(M)))
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no /usr/bin: no bwrap
    run = subprocess.run([sys.executable, "-m", "gdcourse.grade", str(folder), "--assignment", M,
                          "--grading-dir", str(tmp_path / "grading")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1
    assert "needs bubblewrap" in run.stderr and "--no-sandbox" in run.stderr
    assert not (tmp_path / "grading" / "grades.csv").exists()


def test_another_kernel_needs_the_explicit_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--kernel", "python3"])
    assert "add --no-sandbox to confirm" in capsys.readouterr().err

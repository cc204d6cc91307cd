"""The exercises of chapters 1-5 grade each question on its own (issue 13, issue 16 item 9).

- A slip in an earlier question costs that question only: ch02 Q2 (the gradient-descent loop) is
  checked with an exact gradient rather than the student's ``grad_L``, and ch04 Q2 (mini-batch
  SGD) also scores when it runs correctly over the batches of the student's own, wrong,
  ``minibatch_indices``.
- The questions that check each chapter's idea have an exact grade through the real pipeline
  (real nbgrader, sandboxed kernels, the checks in the grader's process).

The wrong answers themselves are in ``tests/exercise_students.py``; ``tests/test_exercises.py``
checks that the hidden tests reject each of them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from exercise_students import ANSWERS
from test_exercises import run_in_process, source_notebook
from test_grade_pipeline import correct, submission

from gdcourse import grading
from gdcourse.grade import grade

# assignment, the earlier question's wrong answer, the later question that builds on it
CASCADES = [
    ("ch02_gradient_descent", "wrong sign", "q2"),
    ("ch04_minibatch", "last batch dropped", "q2"),
    ("ch04_minibatch", "with replacement", "q2"),
]


@pytest.mark.parametrize(("name", "slip", "later"), CASCADES)
def test_a_slip_in_q1_costs_q1_only(name, slip, later):
    outcomes = run_in_process(source_notebook(name), {"q1-answer": ANSWERS[name]["q1-answer"][slip]})
    assert outcomes["q1-tests"] is not None, f"the {slip} answer to q1 passed"
    assert outcomes[f"{later}-tests"] is None, outcomes[f"{later}-tests"]
    assert all(result is None for cell, result in outcomes.items() if cell != "q1-tests"), outcomes


def test_the_fallback_to_the_students_batches_still_rejects_a_wrong_loop():
    """With a wrong question 1, a wrong question 2 (same batches every epoch) still fails."""
    name = "ch04_minibatch"
    outcomes = run_in_process(source_notebook(name), {
        "q1-answer": ANSWERS[name]["q1-answer"]["last batch dropped"],
        "q2-answer": ANSWERS[name]["q2-answer"]["same order every epoch"]})
    assert outcomes["q2-tests"] is not None
    assert "expected" in outcomes["q2-tests"], outcomes["q2-tests"]


FLOAT32 = [("ch02_gradient_descent", "q2", "float32 arithmetic"),
           ("ch04_minibatch", "q2", "float32 weights")]


@pytest.mark.parametrize(("name", "question", "kind"), FLOAT32)
def test_visible_tests_show_a_float32_near_miss_with_its_digits(name, question, kind):
    """float32 arithmetic is off by about 1e-7: the visible test fails, and its message shows
    the digits where the values differ and the relative error (not "12.1, expected 12.1")."""
    notebook = source_notebook(name)
    test_id = f"{question}-tests"
    visible = notebook_cell(notebook, test_id).split("### BEGIN HIDDEN TESTS")[0]
    outcome = run_in_process(notebook, {f"{question}-answer": ANSWERS[name][f"{question}-answer"][kind],
                                        test_id: visible})[test_id]
    assert outcome is not None, f"the visible tests accepted {kind}"
    match = re.search(r"= (.+), expected (.+) \(relative error ([0-9.e+-]+)\)$", outcome)
    assert match, outcome
    shown, expected, relative = match.groups()
    assert shown != expected
    assert 1e-9 < float(relative) < 1e-6, outcome


def notebook_cell(notebook, cell_id: str) -> str:
    return next(cell.source for cell in notebook.cells if cell.id == cell_id)


# ------------------------------------------------------------------------------------------------
# Exact grades through the real pipeline
# ------------------------------------------------------------------------------------------------

G, M = "ch02_gradient_descent", "ch04_minibatch"
MAXIMUM = {G: 9.0, M: 11.0}
# student -> assignment -> (answers, expected score, expected points per test cell that differ
# from full marks)
CLASS = {
    "ada": {G: (correct(G), 9.0, {}), M: (correct(M), 11.0, {})},
    "ben": {G: (correct(G, q1_answer=ANSWERS[G]["q1-answer"]["wrong sign"]), 6.0, {"q1-tests": 0}),
            M: (correct(M, q1_answer=ANSWERS[M]["q1-answer"]["last batch dropped"]), 8.0,
                {"q1-tests": 0})},
    "cy": {G: (correct(G, q3_answer=ANSWERS[G]["q3-answer"]["lr = 1 forgotten"]), 7.0,
               {"q3-tests": 0}),
           M: (correct(M, q4_answer=ANSWERS[M]["q4-answer"]["plain 1/B law"]), 8.0,
               {"q4-tests": 0})},
    "dee": {G: (correct(G, q3_answer=ANSWERS[G]["q3-answer"]["hard-coded"]), 7.0,
                {"q3-tests": 0}),
            M: (correct(M, q3_answer=ANSWERS[M]["q3-answer"]["floor division"]), 10.0,
                {"q3-tests": 0})},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ideas-class")
    for student, work in CLASS.items():
        for assignment, (answers, _, _) in work.items():
            path = folder / student / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(submission(assignment, answers))
    results = grade(folder, [G, M], tmp_path_factory.mktemp("ideas-grading"), timeout=20,
                    workers=2, echo=lambda _line: None)
    return {(r.student, r.assignment): r for r in results}


EXPECTED = [(student, assignment, score, lost) for student, work in CLASS.items()
            for assignment, (_, score, lost) in work.items()]


@pytest.mark.slow
@pytest.mark.parametrize(("student", "assignment", "score", "lost"), EXPECTED)
def test_exact_grade(graded, student, assignment, score, lost):
    result = graded[student, assignment]
    assert result.status == "graded", result.notes
    assert (result.score, result.max_score) == (score, MAXIMUM[assignment]), result.notes
    for cell, (points, maximum) in result.questions.items():
        assert points == lost.get(cell, maximum), (cell, points, result.notes)


# ------------------------------------------------------------------------------------------------
# The message of a near miss
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("actual", "expected", "message"), [
    (5.2, 5.0, "step 3: x = 5.2, expected 5"),  # an ordinary mistake: six digits, as before
    (13.620002, 13.62, "step 3: x = 13.620002, expected 13.62 (relative error 1.5e-07)"),
    ([np.inf, 2.0000031], [np.inf, 2.0], "step 3: x = [     inf 2.000003], expected [inf  2.] (relative error 1.5e-06)"),
    ([np.nan, 1.0], [np.nan, 1.0], "step 3: x = [nan  1.], expected [nan  1.]"),
])
def test_check_close_shows_the_digits_where_a_near_miss_differs(actual, expected, message):
    with pytest.raises(AssertionError) as failure:
        grading.check_close("x", actual, expected, where="step 3")
    assert str(failure.value) == message

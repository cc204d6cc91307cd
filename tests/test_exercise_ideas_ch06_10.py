"""The exercises of chapters 6 to 10: the questions on each chapter's idea, no cascade from one
question to the next, in-place and pure steps, and failure messages that show the difference.

The fast tests run the source notebooks in this process (like ``tests/test_exercises.py``); the
slow one grades a small class through the real pipeline (sandboxed kernels, checks in the
grader's process).
"""

from __future__ import annotations

import re

import pytest
from exercise_students import ALSO_CORRECT, ANSWERS
from test_exercises import run_in_process, source_notebook

A, D = "ch08_adam", "ch07_adaptive"
#: Adam with one slip each: only the hidden tests of Question 1 may fail for them. (Not float32:
#: its rounding, 1e-7 of x, swamps the decay lr * weight_decay * x that Question 2 checks.)
ADAM_SLIPS = ["eps inside the root", "no bias correction", "betas swapped", "off by one",
              "wrong sign"]


@pytest.mark.parametrize("slip", ADAM_SLIPS)
def test_a_slip_in_adam_costs_question_1_only(slip):
    outcomes = run_in_process(source_notebook(A), {"q1-answer": ANSWERS[A]["q1-answer"][slip]})
    assert outcomes["q1-tests"] is not None
    assert outcomes["q2-tests"] is None, outcomes["q2-tests"]  # AdamW built on it keeps its points
    assert outcomes["q3-tests"] is None


@pytest.mark.parametrize("kind", ["L2 added to the gradient", "decay after the step", "hard-coded"])
def test_a_wrong_adamw_still_fails_on_a_slipped_adam(kind):
    """The no-cascade check is not a way around Question 2: with a slip in Adam, a wrong AdamW
    fails the hidden tests (the decoupled part is checked against the student's own Adam)."""
    outcomes = run_in_process(source_notebook(A), {
        "q1-answer": ANSWERS[A]["q1-answer"]["eps inside the root"],
        "q2-answer": ANSWERS[A]["q2-answer"][kind]})
    assert outcomes["q2-tests"] is not None


def test_an_adamw_that_ignores_x_on_a_hard_coded_adam_fails():
    """A hard-coded Adam ignores x, so 'AdamW = my Adam' would match 'my Adam from the shrunk x':
    the check compares adamw_step(x) - adam_step(x) with the decay instead."""
    no_decay = ("def adamw_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, "
                "weight_decay=1e-2):\n    return adam_step(x, grad, state, lr=lr, betas=betas, eps=eps)\n")
    outcomes = run_in_process(source_notebook(A), {
        "q1-answer": ANSWERS[A]["q1-answer"]["hard-coded"], "q2-answer": no_decay})
    assert outcomes["q2-tests"] is not None


@pytest.mark.parametrize(("name", "cell_id", "kind"), [
    (name, cell_id, kind) for name, questions in ALSO_CORRECT.items()
    for cell_id, kinds in questions.items() for kind in kinds])
def test_in_place_steps_pass_like_pure_ones(name, cell_id, kind):
    outcomes = run_in_process(source_notebook(name), {cell_id: ALSO_CORRECT[name][cell_id][kind]})
    assert all(result is None for result in outcomes.values()), outcomes


@pytest.mark.parametrize(("name", "cell_id", "entries"), [(A, "q1-answer", '"m": zeros, "v": zeros'),
                                                          (D, "q3-answer", '"v": zeros, "u": zeros')])
def test_a_shared_zeros_array_would_fail_the_in_place_step(name, cell_id, entries):
    """Why each buffer needs its own array: the init of the earlier release fails a correct
    in-place step (this test fails if the in-place fixture stops updating in place)."""
    notebook = source_notebook(name)
    imports = next(cell for cell in notebook.cells if cell.id == "imports")
    shared = ("    zeros = np.zeros_like(np.asarray(x, dtype=float))\n"
              f'    return {{"t": 0, {entries}}}')
    old = re.sub(r"    shape = np\.shape\(x\).*\n    return \{.*np\.zeros\(shape\)\}", shared,
                 imports.source)
    assert old != imports.source
    (kind,) = ALSO_CORRECT[name][cell_id]
    outcomes = run_in_process(notebook, {"imports": old, cell_id: ALSO_CORRECT[name][cell_id][kind]})
    assert outcomes[cell_id.replace("answer", "tests")] is not None


def test_float32_arithmetic_is_caught_by_the_visible_tests_with_the_digits_that_differ():
    notebook = source_notebook(D)
    source = next(cell for cell in notebook.cells if cell.id == "q2-tests").source
    visible = {"q2-tests": source.split("### BEGIN HIDDEN TESTS")[0]}
    outcomes = run_in_process(notebook, {"q2-answer": ANSWERS[D]["q2-answer"]["float32 arithmetic"],
                                         **visible})
    message = outcomes["q2-tests"]
    assert message is not None
    shown = re.search(r"x = ([0-9.]+), expected ([0-9.]+) \(relative error ([0-9.e+-]+)\)", message)
    assert shown, message
    assert shown.group(1) != shown.group(2)
    assert 1e-9 < float(shown.group(3)) < 1e-6


@pytest.mark.parametrize(("name", "cell_id", "kind", "says"), [
    (D, "q1-answer", "eps inside the root", "eps is added after the square root"),
    (A, "q1-answer", "eps inside the root", "eps is added after the square root"),
    ("ch06_momentum", "q1-answer", "dampening ignored", "dampening=0.5"),
    ("ch06_momentum", "q3-answer", "the rate as the momentum", "square of the optimal rate"),
    ("ch06_momentum", "q3-answer", "diagonal entries", "not its diagonal"),
    (D, "q4-answer", "steps of constant length", "not distance / lr"),
    (A, "q3-answer", "no square root", "3.16 times"),
    ("ch09_schedules", "q4-answer", "steps as large as the gradient", "whatever the size of the gradient"),
    ("ch10_training_loop", "q3-answer", "always divided by the scale", "Adam divides"),
])
def test_visible_tests_name_the_costly_mistakes(name, cell_id, kind, says):
    notebook = source_notebook(name)
    test_id = cell_id.replace("answer", "tests")
    source = next(cell for cell in notebook.cells if cell.id == test_id).source
    outcomes = run_in_process(notebook, {cell_id: ANSWERS[name][cell_id][kind],
                                         test_id: source.split("### BEGIN HIDDEN TESTS")[0]})
    assert outcomes[test_id] is not None and says in outcomes[test_id], outcomes[test_id]


def test_visible_tests_refuse_a_call_to_the_reference():
    outcomes = run_in_process(source_notebook(D), {
        "q1-answer": ANSWERS[D]["q1-answer"]["calls the reference"],
        "q1-tests": next(cell for cell in source_notebook(D).cells if cell.id == "q1-tests")
        .source.split("### BEGIN HIDDEN TESTS")[0]})
    assert "called the reference implementation" in outcomes["q1-tests"]


@pytest.mark.slow
def test_in_place_pure_and_slipped_students_through_the_grader(tmp_path):
    """Through the real pipeline: pure and in-place Adadelta score full marks on ch07; an Adam
    with a slip loses Question 1 only, its AdamW keeps its points."""
    from test_grade_pipeline import correct, submission

    from gdcourse.grade import grade

    adadelta = ALSO_CORRECT[D]["q3-answer"]["updates the state in place"]
    class_ = {("pure", D): submission(D, correct(D)),
              ("in-place", D): submission(D, correct(D, q3_answer=adadelta)),
              ("slipped", A): submission(A, correct(A, q1_answer=ANSWERS[A]["q1-answer"]["no bias correction"]))}
    for (student, assignment), text in class_.items():
        (tmp_path / "in" / student).mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / student / f"{assignment}.ipynb").write_text(text)
    results = {(r.student, r.assignment): r for r in grade(
        tmp_path / "in", [D, A], tmp_path / "grading", timeout=8, workers=2, echo=lambda _line: None)
        if (r.student, r.assignment) in class_}
    for student in ("pure", "in-place"):
        result = results[student, D]
        assert (result.score, result.max_score) == (10.0, 10.0), result.notes
    slipped = results["slipped", A]
    assert slipped.questions == {"q1-tests": [0.0, 6.0], "q2-tests": [3.0, 3.0],
                                 "q3-tests": [2.0, 2.0]}, slipped.notes

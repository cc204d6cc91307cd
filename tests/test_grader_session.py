"""The checks' conversation with a kernel (gdcourse.grader.check.KernelLink): one session per test
cell, each request one prompt answered, callbacks run in the grader's thread; a kernel that
answers out of turn, with something that is not data, too much or too late is refused.

The kernel here is :mod:`gdcourse.grader.kernel_side` itself, run in a thread of this process
with its ``input()`` wired to the link (the real pipeline is in test_trusted_grading and
test_grade_pipeline); the misbehaving kernels are scripted.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from gdcourse import grading
from gdcourse.grader import check, kernel_side, wire
from gdcourse.grader.check import CheckFailed, KernelGone, KernelLink, StudentFunction


class ThreadKernel:
    """kernel_side answering from a thread: ``start``/``answer`` as the executor provides them,
    counting what crosses (executions started, prompts answered)."""

    def __init__(self, monkeypatch, namespace: dict) -> None:
        self.prompts: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()
        self.started = 0
        self.answered = 0
        monkeypatch.setattr(kernel_side, "_namespace", lambda: namespace)
        monkeypatch.setattr(kernel_side, "input", self._input, raising=False)

    def _input(self, prompt: str) -> str:
        self.prompts.put(("prompt", prompt))
        return self.answers.get()

    def _run(self) -> None:
        kernel_side.session()
        self.prompts.put(("done", None))

    def _next(self, seconds: float) -> tuple:
        try:
            return self.prompts.get(timeout=seconds)
        except queue.Empty:
            raise KernelGone("timeout") from None

    def start(self, code: str, seconds: float) -> tuple:
        assert code.endswith(".session()")
        self.started += 1
        threading.Thread(target=self._run, daemon=True).start()
        return self._next(seconds)

    def answer(self, text: str, seconds: float) -> tuple:
        self.answered += 1
        self.answers.put(text)
        return self._next(seconds)


def _cell(link: KernelLink, body, seconds: float = 10.0):
    """Run ``body`` as the checks of one test cell (what SourceChecks.run does around them)."""
    link.start_cell(seconds)
    try:
        return body()
    finally:
        link.end_cell()


def test_a_cells_requests_and_callbacks_share_one_session(monkeypatch):
    def train(grad, w0, steps):  # the student's loop: one callback per step
        w = np.asarray(w0, dtype=float)
        for _ in range(steps):
            w = w - 0.1 * grad(w)
        return w

    def double(x):
        return 2 * x

    kernel = ThreadKernel(monkeypatch, {"train": train, "double": double})
    link = KernelLink(kernel.start, kernel.answer)
    remote_train, remote_double = StudentFunction(link, "train"), StudentFunction(link, "double")
    seen = []

    def grad(w):  # the grader's function, calling the student's in turn (a nested request)
        seen.append(w.copy())
        return remote_double(w) / 2

    def checks():
        return [remote_train(grad, np.ones(2), 30) for _ in range(3)]

    results = _cell(link, checks)
    for result in results:
        np.testing.assert_allclose(result, 0.9 ** 30 * np.ones(2))
    assert len(seen) == 90
    assert kernel.started == 1  # one execution for the whole cell
    # one prompt answered per request (3 calls + 90 nested), per callback value (90), and the end
    assert kernel.answered == 3 + 90 + 90 + 1
    assert not link.open and link.failure is None
    _cell(link, lambda: remote_double(np.ones(1)))  # the next cell: a new session
    assert kernel.started == 2


def test_student_errors_and_the_graders_errors_cross_as_data(monkeypatch):
    def calls_back(function):
        try:
            function(1)
        except RuntimeError as error:
            return f"caught: {error}"
        return "no error"

    def fails(x):
        raise ValueError(f"bad {x}")

    kernel = ThreadKernel(monkeypatch, {"calls_back": calls_back, "fails": fails})
    link = KernelLink(kernel.start, kernel.answer)

    def grader_function(x):
        raise KeyError("the grader's own failure")

    def checks():
        with pytest.raises(ValueError, match="fails raised ValueError: bad 3"):
            StudentFunction(link, "fails")(3)
        return StudentFunction(link, "calls_back")(grader_function)

    # the grader's error crosses by its type only: its message (here "the grader's own
    # failure"; in a hidden check, perhaps an expected value) never enters the kernel
    assert _cell(link, checks) == "caught: the function the grader passed failed: KeyError " \
                                  "(its message stays with the grader)"
    assert link.failure is None and not link.open


def test_in_place_changes_and_the_reference_guard_survive_the_session(monkeypatch):
    def shuffle(rng, values):
        values[:] = rng.permutation(values)
        return len(values)

    kernel = ThreadKernel(monkeypatch, {"shuffle": shuffle})
    link = KernelLink(kernel.start, kernel.answer)
    rng, mine = np.random.default_rng(3), np.random.default_rng(3)
    values = np.arange(5.0)
    assert _cell(link, lambda: grading.guarded(StudentFunction(link, "shuffle"), "shuffle")(
        rng, values)) == 5
    np.testing.assert_array_equal(values, mine.permutation(np.arange(5.0)))
    assert rng.random() == mine.random()


class Scripted:
    """A kernel that answers the session as a script says: ``script(request_text)`` returns
    the next event (or raises); the ready prompt comes first."""

    def __init__(self, script) -> None:
        self.script = script
        self.answered: list[str] = []

    def start(self, code, seconds):
        return "prompt", kernel_side.READY_PROMPT

    def answer(self, text, seconds):
        self.answered.append(text)
        if text == check.END:
            return "done", None
        return self.script(text, seconds)


def _refused(script, match, seconds=10.0):
    kernel = Scripted(script)
    link = KernelLink(kernel.start, kernel.answer)
    with pytest.raises(CheckFailed, match=match):
        _cell(link, lambda: StudentFunction(link, "f")(1.0), seconds)
    return link, kernel


@pytest.mark.parametrize(("reply", "says"), [
    ("[1, 2, 3]", "not data"),                                     # not a dict
    ('{"value": {"__gd_pickle__": "x"}}', "not plain data"),      # a tag nobody sends
    ("NaN", "not data"),                                           # no NaN literals
    ('{"value": {"__gd_list_array__": ["float64", [9], [1.0]]}}', "not plain data"),  # shape
    ("{", "not data"),                                             # not JSON
])
def test_a_wrongly_shaped_reply_is_refused_with_a_note(reply, says):
    link, _ = _refused(lambda _text, _seconds: ("prompt", kernel_side.REPLY_PROMPT + reply), says)
    assert link.failure is None  # the kernel lives on: only this check failed


def test_a_reply_that_is_too_large_is_refused_before_parsing():
    huge = kernel_side.REPLY_PROMPT + '{"value": "' + "x" * wire.MAX_BYTES + '"}'
    _refused(lambda _text, _seconds: ("prompt", huge), "too large")


def test_a_kernel_that_stops_answering_ends_the_session():
    _refused(lambda _text, _seconds: ("done", None), "sent no answer")


def test_a_callback_nobody_passed_and_stray_prompts_are_answered_with_errors():
    def script(text, seconds):
        if text.startswith('{"do"'):  # the request: first ask for callback 7, then input()
            return "prompt", kernel_side.CALLBACK_PROMPT + '{"callback": 7, "args": ' \
                '{"__gd_list__": []}, "kwargs": {"__gd_dict__": {}}}'
        if "malformed request" in text:
            return "prompt", "Your name? "
        assert "may not ask for input" in text
        return "prompt", kernel_side.REPLY_PROMPT + '{"value": 2.0}'

    kernel = Scripted(script)
    link = KernelLink(kernel.start, kernel.answer)
    assert _cell(link, lambda: StudentFunction(link, "f")(1.0)) == 2.0
    assert len(kernel.answered) == 4  # request, callback error, input error, end


def test_a_kernel_too_slow_for_the_cells_budget_is_gone():
    def slow(text, seconds):
        time.sleep(min(seconds, 0.2))
        raise KernelGone("timeout")  # what the executor raises when no prompt comes in time

    kernel = Scripted(slow)
    link = KernelLink(kernel.start, kernel.answer)
    start = time.monotonic()
    with pytest.raises(KernelGone):
        _cell(link, lambda: StudentFunction(link, "f")(1.0), seconds=0.2)
    assert time.monotonic() - start < 2
    assert isinstance(link.failure, KernelGone)
    with pytest.raises(KernelGone):  # no further request goes to a kernel that is gone
        StudentFunction(link, "f")(1.0)


def test_the_budget_covers_the_whole_cell_not_each_prompt():
    budgets = []

    def script(text, seconds):
        budgets.append(seconds)
        time.sleep(0.05)
        return "prompt", kernel_side.REPLY_PROMPT + '{"value": 1}'

    kernel = Scripted(script)
    link = KernelLink(kernel.start, kernel.answer)

    def checks():
        for _ in range(20):
            StudentFunction(link, "f")(1.0)

    with pytest.raises(KernelGone):
        _cell(link, checks, seconds=0.3)
    assert len(budgets) < 10 and budgets == sorted(budgets, reverse=True)


def test_a_session_that_will_not_end_is_gone():
    def answer(text, seconds):  # the end too is answered with a reply: it never stops
        return "prompt", kernel_side.REPLY_PROMPT + '{"value": 1}'

    link = KernelLink(lambda _code, _seconds: ("prompt", kernel_side.READY_PROMPT), answer)
    link.start_cell(10.0)
    assert StudentFunction(link, "f")(1.0) == 1
    with pytest.raises(KernelGone):
        link.end_cell()
    assert isinstance(link.failure, KernelGone)


def test_a_session_that_never_starts_fails_the_check():
    link = KernelLink(lambda _code, _seconds: ("done", None),
                      lambda _text, _seconds: ("done", None))
    with pytest.raises(CheckFailed, match="sent no answer"):
        _cell(link, lambda: StudentFunction(link, "f")(1.0))
    assert link.failure is None


def _sgd(grad, w0, steps, batch_size):  # a student's loop over the grader's problem.grad
    w = np.asarray(w0, dtype=float)
    for step in range(steps):
        batch = np.arange(step, step + batch_size) % 20
        w = w - 0.1 * grad(w, batch)
    return w


def test_a_problems_gradient_runs_in_the_kernel_without_round_trips(monkeypatch):
    from gdcourse.data import LinearRegression

    rng = np.random.default_rng(4)
    problem = LinearRegression(rng.normal(size=(20, 2)), rng.normal(size=20))
    kernel = ThreadKernel(monkeypatch, {"sgd": _sgd})
    link = KernelLink(kernel.start, kernel.answer)
    got = _cell(link, lambda: StudentFunction(link, "sgd")(problem.grad, np.zeros(3), 50, 4))
    np.testing.assert_array_equal(got, _sgd(problem.grad, np.zeros(3), 50, 4))
    assert kernel.answered == 2  # the request and the end: no callback crossed
    assert link.callbacks_run == 0

    # the same digest of check inputs as when the gradient was a callback (replays compare it)
    check.begin_notebook(0)
    _cell(link, lambda: StudentFunction(link, "sgd")(problem.grad, np.zeros(3), 5, 4))
    local_digest = check.check_inputs()
    monkeypatch.setattr(check, "_library_method", lambda _function: None)
    check.begin_notebook(0)
    _cell(link, lambda: StudentFunction(link, "sgd")(problem.grad, np.zeros(3), 5, 4))
    assert check.check_inputs() == local_digest
    assert link.callbacks_run == 5  # this time each call was a round trip


def test_a_problem_the_kernel_cannot_rebuild_is_a_callback_and_errors_read_the_same(monkeypatch):
    from gdcourse.data import LinearRegression

    problem = LinearRegression(np.arange(6.0), np.ones(6))

    def bad_batch(grad):
        try:
            grad(np.zeros(2), [99])
        except RuntimeError as error:
            return str(error)
        return "no error"

    kernel = ThreadKernel(monkeypatch, {"bad_batch": bad_batch, "sgd": _sgd})
    link = KernelLink(kernel.start, kernel.answer)
    local = _cell(link, lambda: StudentFunction(link, "bad_batch")(problem.grad))
    assert link.callbacks_run == 0
    monkeypatch.setattr(kernel_side, "_local_method", lambda _description: None)  # withheld
    remote = _cell(link, lambda: StudentFunction(link, "bad_batch")(problem.grad))
    assert link.callbacks_run == 1
    assert local == remote == ("the function the grader passed failed: ValueError (its "
                               "message stays with the grader)")


def test_only_gdcourse_problems_methods_are_run_in_the_kernel():
    from gdcourse.data import LinearRegression, LogisticRegression

    problem = LinearRegression(np.arange(4.0), np.ones(4))

    class Lookalike(LinearRegression):  # a subclass: its grad may be anything
        def grad(self, params, batch=None):
            return super().grad(params, batch) * 0

    assert check._library_method(problem.grad)[:2] == ["LinearRegression", "grad"]
    assert check._library_method(LogisticRegression(np.ones((3, 2)), [0, 1, 1]).loss)
    assert check._library_method(Lookalike(np.arange(4.0), np.ones(4)).grad) is None
    assert check._library_method(problem.solution) is None  # not one of the listed methods
    def wrapped(w, batch):  # a check's own function: always a callback
        return problem.grad(w, batch)

    assert check._library_method(wrapped) is None

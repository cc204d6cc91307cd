"""Stage *check*: run each test cell in the grader's process, the student's functions in the kernel.

This is the trust boundary. A test cell of the source notebook (visible tests and the hidden
region alike) is executed **here**, in the grading worker, in a namespace built from the source
notebook's locked cells (the instructor's ``imports`` cell: NumPy, :mod:`gdcourse.grading`,
helpers such as ``adam_init``). Every name a solution cell defines (``adam_step``, ...) is
bound instead to a :class:`StudentFunction`: calling it sends the function's name and the
inputs, as plain data, to the student's kernel (:mod:`gdcourse.grader.kernel_side`), which
calls the student's function and sends back what it returned, checked again as plain data
(:mod:`gdcourse.grader.wire`). Comparisons, tolerances, expected values, random settings and
reference implementations never leave this process; nothing the kernel prints while answering
is read.

All requests of one test cell share one conversation with the kernel (:class:`KernelLink`): a
function a check passes to the student's code is a callback, run here when the student's code
calls it, except the ``grad``/``loss`` of gdcourse's own learning problems, whose library code
the kernel runs itself on the problem's data (:func:`_library_method`): round trips, not data,
were the cost of grading training loops.

A test cell passes when its code runs here without an exception; the message of the exception
(written by the checks: "step 3 (lr=0.05, ...): x = 13.62, expected 13.71") is the feedback.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import json
import re
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from gdcourse.grader import wire
from gdcourse.grader.kernel_side import CALLBACK_PROMPT, READY_PROMPT, REPLY_PROMPT
from gdcourse.grader.sandbox import withheld_modules

HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
MAX_CALLBACKS = 200_000  # per test cell

__all__ = ["CheckFailed", "KernelLink", "SourceChecks", "StudentFunction", "visible_part"]


def visible_part(source: str) -> str:
    """A test cell as students see it: the hidden region removed (what runs in the kernel)."""
    return HIDDEN_TESTS.sub("", source)


def callback_error(error: BaseException) -> str:
    """What the student's code is told when a function the checks passed to it raises: the
    error's type and no message (the message of an error raised in check code could quote an
    expected value). The kernel's own copy of a problem's method says the same
    (:func:`gdcourse.grader.kernel_side`), so both routes read alike."""
    return f"{type(error).__name__} (its message stays with the grader)"

class KernelGone(Exception):
    """The kernel died or did not answer in time while a check was calling into it."""


class CheckFailed(AssertionError):
    """A check failed; the message is the grader's own."""


def _student_error(name: str, kind: str, message: str) -> Exception:
    """The exception a student's function raised, rebuilt here as a builtin of the same name
    (so ``except ValueError`` in a check still works), or a RuntimeError naming it."""
    text = f"{name} raised {kind}: {message}" if message else f"{name} raised {kind}"
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and \
            cls.__init__ is not None and kind not in ("KeyboardInterrupt", "SystemExit"):
        with contextlib.suppress(TypeError):  # a class that needs more arguments
            return cls(text)
    return RuntimeError(text)


class _Notebook:
    """The notebook a grading worker is grading: its grading seed (each test cell's checks
    draw their random inputs from it, see :func:`gdcourse.grading.seeded`) and a digest of
    every request sent to the student's kernel, in order (the check inputs, to show that a
    replayed grade asked the same questions)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.inputs = hashlib.sha256()
        self.requests = 0

    def observe(self, text: str) -> None:
        self.inputs.update(text.encode("utf-8") + b"\0")
        self.requests += 1


_NOTEBOOK = _Notebook()


def begin_notebook(seed: int | None) -> None:
    """Start grading a new notebook in this process: checks seeded from ``seed`` (fresh
    random inputs when None), a new digest of check inputs."""
    global _NOTEBOOK
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    _NOTEBOOK = _Notebook(seed)


def check_inputs() -> tuple[str, int]:
    """The digest of the check inputs sent to the kernel since :func:`begin_notebook` (16 hex
    digits) and how many requests they were."""
    return _NOTEBOOK.inputs.hexdigest()[:16], _NOTEBOOK.requests


class KernelLink:
    """The checks' conversation with one running kernel, with a time budget per test cell.

    The executor (it owns the kernel client) provides two functions: ``start(code, seconds)``
    runs ``code`` in the kernel, ``answer(text, seconds)`` answers the kernel's pending
    ``input()`` prompt with ``text``; both wait for what the kernel does next and return it as
    ``("prompt", text)`` (a new prompt) or ``("done", None)`` (the code finished), or raise
    :class:`KernelGone`.

    The first request of a test cell starts a session (:func:`kernel_side.session`); every
    request is then one prompt answered and one prompt back: the kernel's reply
    (:data:`REPLY_PROMPT`) or, first, any number of callback prompts (the student's code
    calling a function the checks passed it, run here, in this thread, and answered with its
    value; it may call the student's functions in turn: such a nested request is answered by
    the kernel the same way, one level deeper). :meth:`end_cell` ends the session. Nothing
    the kernel sends is trusted: every prompt is parsed as plain data, must be the kind of
    message expected at that point of the conversation and arrive within the cell's time
    budget, else the check fails with a note (or, for no answer in time, the kernel is
    restarted)."""

    def __init__(self, start: Callable[[str, float], tuple], answer: Callable[[str, float], tuple],
                 ) -> None:
        self.start, self.answer = start, answer
        self.deadline = float("inf")
        self.failure: BaseException | None = None  # set once the kernel is gone
        self.callbacks: list[Callable] = []
        self.callbacks_run = 0
        self.open = False  # a session runs in the kernel, waiting at a prompt
        self.round_trips = 0  # prompts answered (requests, callback values) in this cell
        self.depth = 0  # callbacks running (a request made meanwhile is a nested one)
        self.local: dict[str, list] = {}  # callbacks the kernel may run itself, not yet sent

    def start_cell(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.callbacks, self.callbacks_run, self.round_trips = [], 0, 0
        self.local = {}

    def _register(self, function: Callable) -> dict:
        if isinstance(function, StudentFunction):  # the kernel's own function, by name
            return {"__gd_student__": function.__name__}
        if not callable(function):
            raise wire.NotData(wire.describe(function))
        self.callbacks.append(function)
        local = _library_method(function)
        if local is not None:
            self.local[str(len(self.callbacks) - 1)] = local
        return {"__gd_callback__": len(self.callbacks) - 1}

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise KernelGone("timeout")
        return left

    def _guarded(self, step: Callable[[], tuple]) -> tuple:
        """One step of the conversation; a KernelGone (dead, or no answer in time) ends it."""
        if self.failure is not None:
            raise self.failure
        try:
            event = step()
        except BaseException as error:
            self.failure, self.open = error, False
            raise
        if type(event) is not tuple or len(event) != 2 or event[0] not in ("prompt", "done"):
            raise TypeError(f"the executor returned {event!r}")  # a bug of ours, not the kernel's
        if event[0] == "done":
            self.open = False
        return event

    def _open(self) -> None:
        code = "__import__('gdcourse.grader.kernel_side', fromlist=['session']).session()"
        kind, prompt = self._guarded(lambda: self.start(code, self._left()))
        if kind == "prompt" and prompt == READY_PROMPT:
            self.open = True
            return
        if kind == "prompt":  # not our prompt: whatever asked is answered with the end
            self.open = True
            self._end()
        raise CheckFailed("the kernel sent no answer (did the notebook change how cells run?)")

    def _send(self, text: str) -> tuple:
        if not self.open:  # the session ended under us (code in the kernel returned early)
            return "done", None
        self.round_trips += 1
        return self._guarded(lambda: self.answer(text, self._left()))

    def request(self, payload: dict) -> dict:
        """Send one request and return the kernel's reply (a dict of plain data), running the
        callbacks the kernel asks for meanwhile."""
        if self.failure is not None:
            raise self.failure
        text = wire.dumps(payload)
        # the digest of the inputs as recorded before sessions (a nested request was sent
        # wrapped, library callbacks were not described): replays of grades recorded then
        # still compare equal
        _NOTEBOOK.observe(wire.dumps({"call": payload}) if self.depth else text)
        if self.local:
            text = wire.dumps({**payload, "local": self.local})
            self.local = {}
        if not self.open:
            self._open()
        event = self._send(text)
        while True:
            kind, prompt = event
            if kind == "done":
                raise CheckFailed("the kernel sent no answer (did the notebook change how cells "
                                  "run?)")
            if prompt.startswith(REPLY_PROMPT):
                try:
                    answer = wire.loads(prompt[len(REPLY_PROMPT):])
                except wire.NotData as error:
                    raise CheckFailed(f"the kernel's answer was not data ({error})") from None
                if type(answer) is not dict:
                    raise CheckFailed("the kernel's answer was not data")
                return answer
            if prompt.startswith(CALLBACK_PROMPT):
                event = self._send(self._run_callback(prompt[len(CALLBACK_PROMPT):]))
            else:  # the student's own input(): not while graded
                event = self._send(json.dumps({"error": "this kernel may not ask for input "
                                                        "while graded"}))

    def _run_callback(self, text: str) -> str:
        """Run a function the checks passed to the student's code, called there with ``text``
        (its inputs, as data); the answer is its value as data, or the error it raised."""
        try:
            message = wire.loads(text)
            if type(message) is not dict or type(message.get("callback")) is not int or \
                    not 0 <= message["callback"] < len(self.callbacks):
                raise wire.NotData("malformed request")
            self.callbacks_run += 1
            if self.callbacks_run > MAX_CALLBACKS:
                raise wire.NotData("too many calls")
            args, kwargs = wire.decode(message.get("args")), wire.decode(message.get("kwargs"))
            if type(args) is not list or type(kwargs) is not dict:
                raise wire.NotData("malformed call")
        # A request that is not one: said back in full (it speaks of the kernel's own text).
        except Exception as error:  # noqa: BLE001  (any error is the answer, sent as data)
            return json.dumps({"error": f"{type(error).__name__}: {str(error)[:200]}"})
        self.depth += 1
        try:
            value = self.callbacks[message["callback"]](*args, **kwargs)
            return wire.dumps({"value": wire.encode(value, callback=self._register)})
        # The grader's function runs on the student's inputs: whatever it raises goes back to
        # the student's code as its error (a lost kernel stops the conversation instead), by
        # its type only: a message raised in check code may hold expected values or check text,
        # and nothing of a hidden check enters the kernel.
        except Exception as error:  # noqa: BLE001  (any error is the answer, sent as data)
            if self.failure is not None:
                raise self.failure from None
            return json.dumps({"error": callback_error(error)})
        finally:
            self.depth -= 1

    def _end(self) -> None:
        """End the session: the kernel returns from ``session()`` and is idle again. Prompts
        it shows instead (code in the kernel may replace the session) are answered with the
        end, at most a few times; a kernel that does not stop within the cell's budget is
        gone (restarted by the executor)."""
        for _ in range(8):
            if not self.open:
                return
            self._send(END)
        self.failure, self.open = KernelGone("timeout"), False
        raise self.failure

    def end_cell(self) -> None:
        """The checks of a cell are done: end the session if one runs."""
        if self.open and self.failure is None:
            self._end()


END = json.dumps({"end": True})

#: gdcourse's learning problems whose methods the kernel may run itself (see _library_method)
LOCAL_PROBLEMS = ("LinearRegression", "LogisticRegression")
LOCAL_METHODS = ("grad", "loss", "loss_and_grad")


def _library_method(function: Any) -> list | None:
    """``[class, method, fields]`` when ``function`` is a method of one of gdcourse's learning
    problems (``problem.grad``, exactly: class and method from :mod:`gdcourse.data`), else None.

    A training-loop check passes ``problem.grad`` to the student's loop, which calls it once
    per update: as a callback, every call is a round trip to this process (2-6 ms on a loaded
    machine), hundreds per notebook. The kernel has the same library code, so the request
    carries the problem's data (its fields: the inputs ``x``/``X``, ``y``, ``l2``, plain data
    the check drew, no expected value) and the kernel rebuilds the problem and calls its method
    itself, with the inputs and the value passed through the wire's encoding as a callback's
    are (:func:`gdcourse.grader.kernel_side._local_method`), falling back to the callback when
    it cannot (a kernel without gdcourse.data). This keeps the trust boundary: the method is
    library code the student has, its data are inputs, and code in the kernel that changes
    it changes only what the student's loop computes, which is compared here as before. Only
    this exact list is sent: a check's own function (a closure over hidden code, say) is
    always a callback."""
    import dataclasses

    from gdcourse import data

    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", None)
    kind = type(owner)
    if kind.__name__ not in LOCAL_PROBLEMS or getattr(data, kind.__name__, None) is not kind \
            or name not in LOCAL_METHODS or \
            getattr(function, "__func__", None) is not getattr(kind, name, None):
        return None
    try:
        fields = {field.name: wire.encode(getattr(owner, field.name))
                  for field in dataclasses.fields(owner)}
    except (wire.NotData, TypeError):
        return None
    return [kind.__name__, name, fields]


def _write_back(original: Any, after: Any) -> None:
    """Apply to ``original`` (an argument here) what the student's function did in place to its
    copy in the kernel (``after``): arrays, dicts, lists and random generators."""
    if isinstance(original, np.ndarray) and type(after) is np.ndarray:
        if original.shape == after.shape and original.flags.writeable:
            with contextlib.suppress(TypeError, ValueError):
                np.copyto(original, after, casting="unsafe")
    elif type(original) is dict and type(after) is dict:
        for key in list(original):
            if key not in after:
                del original[key]
        for key, value in after.items():
            if key in original and isinstance(original[key], (np.ndarray, dict, list)):
                _write_back(original[key], value)
            elif key not in original or not callable(original[key]):
                original[key] = value
    elif type(original) is list and type(after) is list:
        if len(original) == len(after):
            for index, value in enumerate(after):
                if isinstance(original[index], (np.ndarray, dict, list)):
                    _write_back(original[index], value)
                else:
                    original[index] = value
        else:
            original[:] = after
    elif isinstance(original, np.random.Generator) and isinstance(after, np.random.Generator):
        original.bit_generator.state = after.bit_generator.state


class StudentFunction:
    """A function the student defined, as the checks see it: calling it calls it in the kernel."""

    __gdcourse_remote__ = True  # recognised by gdcourse.grading (guarded, compare_steps)

    def __init__(self, link: KernelLink, name: str, guard: tuple | None = None) -> None:
        self.link, self.__name__, self.guard = link, name, guard
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<the student's function {self.__name__}>"

    def guarded(self, what: str, forbid: tuple[str, ...]) -> StudentFunction:
        return StudentFunction(self.link, self.__name__, (what, list(forbid)))

    def _inputs(self, value: Any) -> Any:
        try:
            return wire.encode(value, callback=self.link._register)
        except wire.NotData as error:  # the checks' own inputs: an authoring error
            raise TypeError(f"a check passed {self.__name__} {error}, which cannot be sent to "
                            f"the kernel") from None

    def _returned(self, answer: dict, what: str) -> Any:
        if "reference" in answer:
            from gdcourse.grading import ReferenceCallError

            raise ReferenceCallError(str(answer["reference"]))
        if "raised" in answer:
            kind, message = [*answer["raised"], "", ""][:2]
            raise _student_error(what, str(kind)[:60], str(message)[:400])
        if "rejected" in answer:
            raise CheckFailed(f"{what} returned {str(answer['rejected'])[:200]}, which is not "
                              f"plain data (numbers, strings, lists, tuples, dicts, NumPy "
                              f"arrays); it was not compared")
        if "value" not in answer:
            raise CheckFailed(f"calling {what} failed: {str(answer.get('failed', ''))[:300]}")
        try:
            return wire.decode(answer["value"])
        except wire.NotData as error:
            raise CheckFailed(f"{what} returned {error}, which is not plain data; it was not "
                              f"compared") from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        answer = self.link.request({
            "do": "call", "function": self.__name__, "args": self._inputs(list(args)),
            "kwargs": self._inputs(dict(kwargs)), "guard": self.guard})
        after = answer.get("after")
        if type(after) is list and len(after) == len(args) + len(kwargs):
            for original, sent in zip([*args, *kwargs.values()], after, strict=True):
                if sent is not None:
                    with contextlib.suppress(wire.NotData, ValueError, TypeError):
                        _write_back(original, wire.decode(sent))
        return self._returned(answer, self.__name__)

    def steps(self, init: Any, x0: Any, gradients: list, hyperparameters: dict,
              state_fields: list[str], forbid: tuple[str, ...], settings: str):
        """The student's ``(x, state view)`` after each step of
        :func:`gdcourse.grading.compare_steps`, run in the kernel in one request."""
        request = {"do": "steps", "step": self.__name__, "x0": self._inputs(x0),
                   "gradients": self._inputs(list(gradients)),
                   "hyperparameters": self._inputs(dict(hyperparameters)),
                   "state_fields": list(state_fields), "forbid": list(forbid)}
        if isinstance(init, StudentFunction):
            request["init"] = init.__name__
        else:  # the notebook's own init (a locked cell): run here
            request["state0"] = self._inputs(init(x0.copy() if isinstance(x0, np.ndarray)
                                                  else x0))
        answer = self.link.request(request)
        steps = answer.get("steps")
        if type(steps) is not list:
            raise CheckFailed(f"calling {self.__name__} failed: "
                              f"{str(answer.get('failed', ''))[:300]}")
        for number, entry in enumerate(steps, start=1):
            where = f"step {number} ({settings})"
            try:
                if type(entry) is not list or len(entry) != 3:
                    raise wire.NotData("malformed data")
                x, view, is_mapping = wire.decode(entry[0]), wire.decode(entry[1]), entry[2]
                if type(view) is not dict:
                    raise wire.NotData("malformed data")
            except wire.NotData as error:
                raise CheckFailed(f"{where}: your function returned {error}, which is not "
                                  f"plain data; it was not compared") from None
            yield x, (view if is_mapping is True else None)
        where = f"step {len(steps) + 1} ({settings})"
        if "reference" in answer:
            from gdcourse.grading import ReferenceCallError

            raise ReferenceCallError(str(answer["reference"])[:1000])
        if "raised" in answer:
            kind, message = [*answer["raised"], "", ""][:2]
            if answer.get("in init"):
                raise _student_error("your init function", str(kind)[:60], str(message)[:400])
            raise CheckFailed(f"{where}: your function raised {str(kind)[:60]}: "
                              f"{str(message)[:400]}")
        if "not a pair" in answer:
            raise CheckFailed(f"{where}: your function must return (x, state), got "
                              f"{str(answer['not a pair'])[:60]}")
        if "rejected" in answer:
            raise CheckFailed(f"{where}: your function returned "
                              f"{str(answer['rejected'])[:200]}, which is not plain data; it "
                              f"was not compared")


def _defined_names(source: str) -> list[str]:
    """Top-level names a cell defines (functions, classes, assignments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _is_check_all(cell) -> bool:
    from gdcourse.release import is_check_all

    return is_check_all(cell)


class SourceChecks:
    """The checks of one assignment, read from its source notebook in ``solutions/``: the
    test cells by grade id, the locked setup cells, and the names the student defines."""

    def __init__(self, source_notebook) -> None:
        self.tests: dict[str, str] = {}
        self.setup: list[Any] = []
        self.student_names: list[str] = []
        for cell in source_notebook.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or _is_check_all(cell):  # the students' self-check
                continue
            if meta.get("solution"):
                self.student_names += _defined_names(cell.source)
            elif meta.get("grade") and meta.get("grade_id"):
                self.tests[meta["grade_id"]] = cell.source
            else:  # a locked setup cell; one with IPython magics (the install cell) is skipped
                try:
                    self.setup.append(compile(cell.source, f"<setup {meta.get('grade_id')}>",
                                              "exec"))
                except SyntaxError:
                    continue
        self.compiled = {grade_id: compile(source, f"<checks {grade_id}>", "exec")
                         for grade_id, source in self.tests.items()}
        # the reference implementations the kernel of this assignment is made without
        self.withholding = withheld_modules(source_notebook)

    def namespace(self, link: KernelLink) -> dict:
        """A fresh namespace for one notebook's checks: the setup cells run, the student's
        names bound to :class:`StudentFunction`."""
        namespace: dict = {"__name__": "__gdcourse_checks__"}
        for code in self.setup:
            exec(code, namespace)  # the instructor's own cells
        for name in self.student_names:
            namespace[name] = StudentFunction(link, name)
        return namespace

    def run(self, grade_id: str, namespace: dict, link: KernelLink, seconds: float,
            ) -> BaseException | None:
        """Run the checks of one test cell; None when they pass, else the exception (a
        :class:`KernelGone` from the link is raised: the kernel must be restarted)."""
        from gdcourse.grading import seeded

        link.start_cell(seconds)
        failure: BaseException | None = None
        seed = _NOTEBOOK.seed
        # Each cell's own stream of the submission's seed: the same inputs at a replay,
        # whatever the other cells drew
        entropy = None if seed is None else [seed, zlib.crc32(grade_id.encode("utf-8"))]
        try:
            with seeded(entropy) if entropy is not None else contextlib.nullcontext():
                exec(self.compiled[grade_id], namespace)
        # A test cell fails by raising, whatever it raises (as nbgrader scores a cell): the
        # exception is the result. A KernelGone is raised on below from link.failure.
        except Exception as error:  # noqa: BLE001  (any exception is the cell's failure)
            failure = error
        with contextlib.suppress(KernelGone):  # then link.failure says so
            link.end_cell()
        if link.failure is not None:
            raise link.failure
        return failure

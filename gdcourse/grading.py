"""Helpers for the test cells of the graded exercises (nbgrader).

Visible tests use :func:`check_close` and :func:`compare_trajectories` to tell a student *where* an
implementation goes wrong ("step 3: x = 5.2, expected 5.0"). Hidden tests compare the student's
function with the reference implementation on fresh random inputs (:func:`fresh_rng`) through
:func:`compare_steps`, which runs the student's code under :func:`no_reference_calls`.

The reference guard has two layers:

- *dynamic*: a profiling hook (on this thread and on any thread started meanwhile) watches which
  code runs while the student's function runs; code from ``gdcourse.optim`` or ``torch.optim``
  (or other modules a question names) fails the test, however the module was imported, aliased,
  reached through ``importlib``, ``getattr`` or a registry. Removing the hook is detected too.
- *static*: :func:`forbidden_references` looks through the function's code objects (nested ones
  included), globals, closures and defaults for objects of those modules, so a reference hidden
  in a branch the tests do not reach is still found.

The guard is a deterrent rather than a sandbox: code running inside the kernel can tamper with
the kernel. That is why grading never reads a score from the kernel: the grading pipeline runs
each test cell in its own process, where the student's functions are handles that call into the
kernel (:mod:`gdcourse.grader.check`); :func:`guarded` and :func:`compare_steps` recognise them
and ask the kernel for the student's results only, comparing them here.

Only NumPy is needed here: this module runs in students' notebooks (Binder, Colab, a hub).
"""

from __future__ import annotations

import dis
import inspect
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REFERENCE_MODULES",
    "ReferenceCallError",
    "check_close",
    "compare_steps",
    "compare_trajectories",
    "forbidden_references",
    "fresh_rng",
    "guarded",
    "no_reference_calls",
]

#: What a student's optimizer code must not call: the reference optimizers, gdcourse's and
#: PyTorch's (``torch.optim`` includes its learning-rate schedulers).
REFERENCE_MODULES: tuple[str, ...] = ("gdcourse.optim", "torch.optim")

#: ``fresh_rng`` reads this variable to reproduce one grading run (an instructor's tool).
SEED_VARIABLE = "GDCOURSE_GRADING_SEED"


class ReferenceCallError(AssertionError):
    """The student's function called the reference implementation instead of computing."""


# ------------------------------------------------------------------------------------------------
# The reference guard
# ------------------------------------------------------------------------------------------------


def _modules(forbid: Iterable[str] | str) -> tuple[str, ...]:
    names = (forbid,) if isinstance(forbid, str) else tuple(forbid)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise TypeError(f"forbid must name modules, such as 'gdcourse.optim', got {forbid!r}")
    return names


def _path_parts(modules: Sequence[str]) -> tuple[str, ...]:
    """File-name fragments of the modules: ``a/b.py`` for a module, ``a/b/`` for a package."""
    parts = []
    for name in modules:
        relative = str(Path(*name.split(".")))
        parts += [relative + ".py", relative + os.sep]
    return tuple(parts)


def _in_modules(module_name: Any, modules: Sequence[str]) -> bool:
    return isinstance(module_name, str) and any(
        module_name == name or module_name.startswith(name + ".") for name in modules)


def _origin(value: Any) -> str | None:
    """The module an object comes from, if it says (modules, classes, functions, instances)."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return getattr(value, "__module__", None)
    module = getattr(type(value), "__module__", None)
    return module if isinstance(module, str) else None


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


_MISSING = object()


def _global_chains(code: types.CodeType, namespace: Mapping, builtins: Any,
                   cells: Mapping[str, Any]):
    """``(dotted name, object)`` for every global (or closure variable, from ``cells``) a code
    object reads, and for every attribute chain read from one (``gdcourse.optim.Adam`` gives
    ``gdcourse``, ``gdcourse.optim`` and ``gdcourse.optim.Adam``). Attributes are looked up
    statically, never called."""
    value: Any = _MISSING
    dotted = ""
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
            name = instruction.argval
            if instruction.opname == "LOAD_DEREF":
                value = cells.get(name, _MISSING)
            else:
                value = namespace.get(name, _MISSING)
                if value is _MISSING and isinstance(builtins, Mapping):
                    value = builtins.get(name, _MISSING)
            dotted = name
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and value is not _MISSING:
            try:
                value = inspect.getattr_static(value, instruction.argval)
            except AttributeError:
                value = _MISSING
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            dotted = f"{dotted}.{instruction.argval}"
        else:
            value = _MISSING
            continue
        if value is not _MISSING:
            yield dotted, value


def forbidden_references(function: Callable, forbid: Iterable[str] | str = REFERENCE_MODULES,
                         ) -> list[str]:
    """The names through which ``function`` can reach the ``forbid`` modules without running.

    Looks at the global names its code (and the code of functions and lambdas defined inside it)
    reads, its closure variables and its default arguments. Objects that merely *come from* a
    forbidden module are reported: a class, a function, an instance such as ``Adam()``, or the
    module itself under any alias.
    """
    modules = _modules(forbid)
    target = inspect.unwrap(getattr(function, "__func__", function))
    code = getattr(target, "__code__", None)
    if code is None:  # a callable object: look at its __call__
        call = inspect.getattr_static(type(target), "__call__", None)
        target = getattr(call, "__func__", call)
        code = getattr(target, "__code__", None)
        if code is None:
            return []
    namespace = getattr(target, "__globals__", {})
    builtins = namespace.get("__builtins__", {})
    cells = {}
    for name, cell in zip(code.co_freevars, getattr(target, "__closure__", None) or (),
                          strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    found: dict[str, None] = {}
    for nested in _code_objects(code):
        for name, value in _global_chains(nested, namespace, builtins,
                                          cells if nested is code else {}):
            if _in_modules(_origin(value), modules):
                found[name] = None
    for name, value in cells.items():
        if _in_modules(_origin(value), modules):
            found[name] = None
    for value in (*(getattr(target, "__defaults__", None) or ()),
                  *(getattr(target, "__kwdefaults__", None) or {}).values()):
        if _in_modules(_origin(value), modules):
            found[repr(value)[:40]] = None
    return list(found)


@contextmanager
def no_reference_calls(what: str = "your function",
                       forbid: Iterable[str] | str = REFERENCE_MODULES):
    """Fail with :class:`ReferenceCallError` if code of the ``forbid`` modules runs inside the
    block (on this thread or a thread started in it), or if the block removes the guard."""
    parts = _path_parts(_modules(forbid))
    caught: list[str] = []

    def hook(frame, event, _arg):  # sys.setprofile's signature
        if event == "call" and not caught:
            filename = frame.f_code.co_filename
            if any(part in filename for part in parts):
                caught.append(f"{frame.f_code.co_name} in {filename}")

    previous, previous_threads = sys.getprofile(), threading.getprofile()
    sys.setprofile(hook)
    threading.setprofile(hook)
    failure: BaseException | None = None
    try:
        yield
    # Not swallowed: re-raised at the end, unless a call of the reference or a removed hook
    # (which may be why the block failed) is the verdict. BaseException: a student's
    # sys.exit() or KeyboardInterrupt after calling the reference is still reported as that.
    except BaseException as error:  # noqa: BLE001  (held, then re-raised below)
        failure = error
    finally:
        still_installed = sys.getprofile() is hook and threading.getprofile() is hook
        sys.setprofile(previous)
        threading.setprofile(previous_threads)
    if caught:  # even when the reference then raised: the call is what counts
        raise ReferenceCallError(
            f"{what} called the reference implementation ({caught[0]}); implement the "
            f"computation yourself instead of calling {' or '.join(_modules(forbid))}"
        ) from failure
    if not still_installed:
        raise ReferenceCallError(f"{what} changed the profiling hook used by the grader; "
                                 "this is not allowed") from failure
    if failure is not None:
        raise failure


def _check_no_references(function: Callable, what: str, forbid: Iterable[str] | str) -> None:
    if not callable(function):
        raise TypeError(f"{what} should be a function, got {type(function).__name__}")
    names = forbidden_references(function, forbid)
    if names:
        raise ReferenceCallError(
            f"{what} called the reference implementation: it uses {', '.join(names)} from "
            f"{' or '.join(_modules(forbid))}; implement the computation yourself")


def guarded(function: Callable, what: str | None = None,
            forbid: Iterable[str] | str = REFERENCE_MODULES) -> Callable:
    """``function`` checked with :func:`forbidden_references` now and run under
    :func:`no_reference_calls` at every call: the one-liner for hidden tests.

    >>> import math
    >>> guarded(math.hypot)(3.0, 4.0)
    5.0
    """
    what = what or getattr(function, "__name__", "your function")
    remote = _remote(function)
    if remote is not None:  # a student's function in a grading kernel: guarded over there
        return remote.guarded(what, _modules(forbid))
    _check_no_references(function, what, forbid)

    def call(*args, **kwargs):
        with no_reference_calls(what, forbid):
            return function(*args, **kwargs)

    call.__name__ = call.__qualname__ = f"guarded_{what}"
    return call


# ------------------------------------------------------------------------------------------------
# Random inputs and comparisons
# ------------------------------------------------------------------------------------------------


def fresh_rng() -> np.random.Generator:
    """A generator seeded from the operating system: different inputs at every grading run.

    Setting the environment variable ``GDCOURSE_GRADING_SEED`` to an integer makes the inputs
    reproducible (to replay a grading run while investigating a student's complaint).
    """
    seed = os.environ.get(SEED_VARIABLE)
    if seed is not None and seed.strip():
        return np.random.default_rng(int(seed))
    return np.random.default_rng(int.from_bytes(os.urandom(8), "little"))


def _describe(value: Any) -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    return np.array2string(array, precision=6, threshold=8)


def _describe_apart(actual: np.ndarray, expected: np.ndarray) -> tuple[str, str, float]:
    """``actual`` and ``expected`` with as many digits as it takes to tell them apart (up to
    17), and their largest relative difference: for values that agree to six digits.

    >>> shown, wanted, relative = _describe_apart(np.float64(13.832917962175006),
    ...                                           np.float64(13.832918167114258))
    >>> shown, wanted, f"{relative:.1e}"
    ('13.8329180', '13.8329182', '1.5e-08')
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(actual - expected) / np.maximum(np.abs(expected), np.finfo(float).tiny)
    relative = float(np.nanmax(relative)) if relative.size else 0.0
    for digits in range(7, 18):
        if actual.ndim == 0:
            shown, wanted = f"{float(actual):#.{digits}g}", f"{float(expected):#.{digits}g}"
        else:
            shown, wanted = (np.array2string(value, precision=digits, threshold=8,
                                             floatmode="fixed") for value in (actual, expected))
        if shown != wanted:
            break
    return shown, wanted, relative


def check_close(name: str, actual: Any, expected: Any, *, where: str = "", rtol: float = 1e-7,
                atol: float = 1e-9) -> None:
    """Assert ``actual`` ≈ ``expected`` with a pointed message naming ``name`` and ``where``.

    >>> check_close("x", 5.2, 5.0, where="step 3")
    Traceback (most recent call last):
    ...
    AssertionError: step 3: x = 5.2, expected 5
    """
    prefix = f"{where}: " if where else ""
    if actual is None:
        raise AssertionError(f"{prefix}{name} is None: does your function end with a return?")
    try:
        actual_array = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{prefix}{name} should be a number or an array of numbers, "
                             f"got {type(actual).__name__}") from None
    expected_array = np.asarray(expected, dtype=float)
    if actual_array.shape != expected_array.shape:
        raise AssertionError(f"{prefix}{name} has shape {actual_array.shape}, expected "
                             f"{expected_array.shape}")
    if not np.allclose(actual_array, expected_array, rtol=rtol, atol=atol, equal_nan=False):
        shown, wanted = _describe(actual), _describe(expected)
        if shown == wanted:  # too close to tell apart at 6 digits (float32, eps in the root)
            shown, wanted, relative = _describe_apart(actual_array, expected_array)
            raise AssertionError(f"{prefix}{name} = {shown}, expected {wanted} "
                                 f"(relative error {relative:.1e})")
        raise AssertionError(f"{prefix}{name} = {shown}, expected {wanted}")


def compare_trajectories(actual: Iterable, expected: Iterable, *, name: str = "x",
                         rtol: float = 1e-7, atol: float = 1e-9) -> None:
    """Compare two sequences of iterates; the message names the first step that differs.

    >>> compare_trajectories([14.0, 13.0, 12.5], [14.0, 13.0, 12.1])
    Traceback (most recent call last):
    ...
    AssertionError: step 2: x = 12.5, expected 12.1
    """
    try:
        actual = list(actual)
    except TypeError:
        raise AssertionError(f"expected a list of iterates, got {type(actual).__name__}") from None
    expected = list(expected)
    if len(actual) != len(expected):
        raise AssertionError(f"expected {len(expected)} values ({name}_0 to "
                             f"{name}_{len(expected) - 1}), got {len(actual)}")
    for step, (a, e) in enumerate(zip(actual, expected, strict=True)):
        check_close(name, a, e, where=f"step {step}", rtol=rtol, atol=atol)


def _remote(function: Any):
    """The grader's handle on a student function that lives in the student's kernel
    (:class:`gdcourse.grader.check.StudentFunction`), or None for an ordinary function."""
    remote = getattr(type(function), "__gdcourse_remote__", False)
    return function if remote is True else None


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _settings(hyperparameters: Mapping[str, Any], x0: Any) -> str:
    shown = ", ".join(f"{key}={value!r}" for key, value in hyperparameters.items())
    kind = "scalar x" if np.ndim(x0) == 0 else f"x of shape {np.shape(x0)}"
    return f"{shown}; {kind}" if shown else kind


def compare_steps(
    student_step: Callable,
    student_init: Callable,
    reference: Any,
    x0: Any,
    gradients: Iterable[Any],
    *,
    hyperparameters: Mapping[str, Any],
    state_fields: Mapping[str, str] | None = None,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    forbid: Iterable[str] | str = REFERENCE_MODULES,
) -> None:
    """Run the student's ``step(x, grad, state, **hyperparameters)`` next to the reference
    optimizer for the given gradients; assert the parameters (and the state entries named in
    ``state_fields``: student key -> reference field) agree at every step.

    The student's functions get copies of the inputs (so updating in place cannot disturb the
    reference run) and run under :func:`no_reference_calls`; their code is also checked with
    :func:`forbidden_references`. Messages name the step, the settings and the values.
    """
    settings = _settings(hyperparameters, x0)
    gradients = list(gradients)
    remote = _remote(student_step)
    if remote is not None:  # the student's steps run in the kernel, compared here
        results = remote.steps(student_init, x0, gradients, hyperparameters,
                               list(state_fields or {}), _modules(forbid), settings)
    else:
        results = _local_steps(student_step, student_init, x0, gradients, hyperparameters,
                               forbid, settings)
    x_reference = _copy(x0)
    state_reference = reference.init(x_reference)
    # strict: steps missing from the student's side (none explains why) fail the check
    pairs = zip(gradients, results, strict=True)
    for step, (grad, (x_student, state_student)) in enumerate(pairs, start=1):
        where = f"step {step} ({settings})"
        x_reference, state_reference = reference.step(x_reference, _copy(grad), state_reference)
        check_close("x", x_student, x_reference, where=where, rtol=rtol, atol=atol)
        for student_key, reference_field in (state_fields or {}).items():
            if not isinstance(state_student, Mapping) or student_key not in state_student:
                raise AssertionError(f"{where}: the state should be a dict with key "
                                     f"{student_key!r}")
            check_close(f"state[{student_key!r}]", state_student[student_key],
                        getattr(state_reference, reference_field), where=where,
                        rtol=rtol, atol=atol)


def _local_steps(student_step: Callable, student_init: Callable, x0: Any, gradients: list,
                 hyperparameters: Mapping[str, Any], forbid, settings: str):
    """The student's ``(x, state)`` after each step, computed here (in the student's notebook);
    :class:`gdcourse.grader.check.StudentFunction` yields the same from a grading kernel."""
    for function, what in ((student_init, "your init function"),
                           (student_step, "your step function")):
        _check_no_references(function, what, forbid)
    x_student = _copy(x0)
    with no_reference_calls("your init function", forbid):
        state_student = student_init(_copy(x0))
    for step, grad in enumerate(gradients, start=1):
        where = f"step {step} ({settings})"
        with no_reference_calls("your step function", forbid):
            try:
                result = student_step(_copy(x_student), _copy(grad), state_student,
                                      **hyperparameters)
            except ReferenceCallError:
                raise
            except Exception as error:  # reported with the step that raised
                raise AssertionError(f"{where}: your function raised "
                                     f"{type(error).__name__}: {error}") from error
        if not (isinstance(result, tuple) and len(result) == 2):
            raise AssertionError(f"{where}: your function must return (x, state), got "
                                 f"{type(result).__name__}")
        x_student, state_student = result
        yield x_student, state_student

"""Helpers for the test cells of the graded exercises (nbgrader).

Visible tests use :func:`check_close` and :func:`compare_trajectories` to tell a student *where* an
implementation goes wrong ("step 3: x = 5.2, expected 5.0"). Hidden tests compare the student's
function with the reference implementation on fresh random inputs through
:func:`compare_steps`, which runs the student's code under :func:`no_reference_calls`: a call into
``gdcourse.optim`` or ``torch.optim`` while the student's function runs fails the test, however the
reference was imported or aliased (the check looks at the code being executed, not at names).

The guard is a profiling hook, so it is a deterrent rather than a sandbox: code that removes the
hook is detected (the hook must still be installed when the student's function returns), but code
running inside the kernel can always tamper with the kernel. ``gdcourse.grade`` adds the
process-level protections (see the instructors' page).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "ReferenceCallError",
    "check_close",
    "compare_steps",
    "compare_trajectories",
    "fresh_rng",
    "no_reference_calls",
]

_FORBIDDEN_PARTS = (
    os.path.join("gdcourse", "optim.py"),
    os.path.join("torch", "optim") + os.sep,
)


class ReferenceCallError(AssertionError):
    """The student's function called the reference implementation instead of computing."""


def _is_forbidden(filename: str) -> bool:
    return any(part in filename for part in _FORBIDDEN_PARTS)


@contextmanager
def no_reference_calls(what: str = "your function"):
    """Fail with :class:`ReferenceCallError` if code of ``gdcourse.optim`` or ``torch.optim``
    runs inside the block (or if the block removes the guard)."""
    caught: list[str] = []

    def hook(frame, event, arg):
        if event == "call" and _is_forbidden(frame.f_code.co_filename):
            caught.append(f"{frame.f_code.co_name} in {frame.f_code.co_filename}")
        return None

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        still_installed = sys.getprofile() is hook
        sys.setprofile(previous)
    if not still_installed:
        raise ReferenceCallError(f"{what} changed the profiling hook used by the grader; "
                                 "this is not allowed")
    if caught:
        raise ReferenceCallError(
            f"{what} called the reference implementation ({caught[0]}); "
            "implement the update yourself instead of calling gdcourse.optim or torch.optim")


def fresh_rng() -> np.random.Generator:
    """A generator seeded from the operating system: different inputs on every grading run."""
    return np.random.default_rng(int.from_bytes(os.urandom(8), "little"))


def _describe(value: Any) -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    return np.array2string(array, precision=6, threshold=8)


def check_close(name: str, actual: Any, expected: Any, *, where: str = "", rtol: float = 1e-7,
                atol: float = 1e-9) -> None:
    """Assert ``actual`` ≈ ``expected`` with a pointed message naming ``name`` and ``where``."""
    prefix = f"{where}: " if where else ""
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
        raise AssertionError(f"{prefix}{name} = {_describe(actual)}, expected "
                             f"{_describe(expected)}")


def compare_trajectories(actual: Iterable, expected: Iterable, *, name: str = "x",
                         rtol: float = 1e-7, atol: float = 1e-9) -> None:
    """Compare two sequences of iterates; the message names the first step that differs."""
    actual, expected = list(actual), list(expected)
    if len(actual) != len(expected):
        raise AssertionError(f"expected {len(expected)} values ({name}_0 to "
                             f"{name}_{len(expected) - 1}), got {len(actual)}")
    for step, (a, e) in enumerate(zip(actual, expected, strict=True)):
        check_close(name, a, e, where=f"step {step}", rtol=rtol, atol=atol)


def compare_steps(
    student_step: Callable,
    student_init: Callable,
    reference: Any,
    x0: Any,
    gradients: Iterable[Any],
    *,
    hyperparameters: Mapping[str, Any],
    state_fields: Mapping[str, str] = {},  # noqa: B006 - read-only default
    rtol: float = 1e-7,
    atol: float = 1e-10,
) -> None:
    """Run the student's ``step(x, grad, state, **hyperparameters)`` next to the reference
    optimizer for the given gradients; assert the parameters (and the state entries named in
    ``state_fields``: student key -> reference field) agree at every step.

    The student's calls run under :func:`no_reference_calls`.
    """
    x_student = x_reference = x0
    with no_reference_calls("your init function"):
        state_student = student_init(x0)
    state_reference = reference.init(x0)
    for step, grad in enumerate(gradients, start=1):
        with no_reference_calls("your step function"):
            result = student_step(x_student, grad, state_student, **hyperparameters)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise AssertionError(f"step {step}: your function must return (x, state), got "
                                 f"{type(result).__name__}")
        x_student, state_student = result
        x_reference, state_reference = reference.step(x_reference, grad, state_reference)
        check_close("x", x_student, x_reference, where=f"step {step}", rtol=rtol, atol=atol)
        for student_key, reference_field in state_fields.items():
            if not isinstance(state_student, Mapping) or student_key not in state_student:
                raise AssertionError(f"step {step}: the state should be a dict with key "
                                     f"{student_key!r}")
            check_close(f"state[{student_key!r}]", state_student[student_key],
                        getattr(state_reference, reference_field), where=f"step {step}",
                        rtol=rtol, atol=atol)

"""Argument checks shared by every public function of :mod:`gdcourse`.

Each check raises :class:`TypeError` (wrong kind of value) or :class:`ValueError` (right kind,
wrong value) with a message that names the argument and says what was expected, so a student who
passes ``lr=-0.1`` reads ``lr must be >= 0, got -0.1`` instead of a NaN plot three cells later.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "FLOAT64",
    "as_float_array",
    "check_int",
    "check_number",
    "check_probability",
]

FLOAT64 = np.dtype(np.float64)
"""The float64 dtype: the fast paths of every step compare dtypes to it by identity."""


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``.

    >>> check_number("lr", 0.1, minimum=0)
    0.1
    >>> check_number("lr", -1, minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be >= 0, got -1
    """
    kind = type(value)
    if kind is not float and kind is not int and (  # plain numbers skip the ABC check
            isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None:
        if min_inclusive and number < minimum:
            raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
        if not min_inclusive and number <= minimum:
            raise ValueError(f"{name} must be > {minimum:g}, got {value!r}")
    if maximum is not None:
        if max_inclusive and number > maximum:
            raise ValueError(f"{name} must be <= {maximum:g}, got {value!r}")
        if not max_inclusive and number >= maximum:
            raise ValueError(f"{name} must be < {maximum:g}, got {value!r}")
    return number


def check_probability(name: str, value: Any, *, allow_one: bool = False) -> float:
    """Return ``value`` if it lies in [0, 1) (or [0, 1] with ``allow_one``), else raise.

    >>> check_probability("momentum", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: momentum must be in [0, 1), got 1.0
    """
    number = check_number(name, value)
    upper_ok = number <= 1.0 if allow_one else number < 1.0
    if not (number >= 0.0 and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return number


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int (numpy integers welcome, bools and floats not), else raise.

    >>> check_int("steps", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: steps must be >= 1, got 0
    """
    if type(value) is not int and (  # plain ints skip the ABC check
            isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    integer = int(value)
    if minimum is not None and integer < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and integer > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return integer


def as_float_array(name: str, value: Any) -> np.ndarray:
    """Return ``value`` as a floating-point array (a 0-d array for a scalar), else raise.

    Integers are promoted to float64; float32 stays float32. Booleans, strings, objects and
    complex numbers are refused.

    >>> as_float_array("x0", 14)
    array(14.)
    >>> as_float_array("x0", "14")
    Traceback (most recent call last):
    ...
    TypeError: x0 must be a real number or an array of real numbers, got str '14'
    """
    if type(value) is np.ndarray and value.dtype.kind == "f":
        return value  # already one (the case of every step of a run): nothing to look at
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, "
            f"got {type(value).__name__} {value!r}"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise TypeError(f"{name} must be a real number or an array of real numbers: {error}") from None
    kind = array.dtype.kind  # "f" floating, "i"/"u" integer; "b" bool, "c" complex, "O", ...
    if kind not in "fiu":
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, "
            f"got {type(value).__name__} of dtype {array.dtype}"
        )
    if kind in "iu":
        array = array.astype(np.float64)
    return array

"""Iterate averaging (Polyak–Ruppert) for stochastic gradient descent.

With a constant learning rate SGD does not converge: its iterates wander in a cloud around the
minimizer whose size is set by the learning rate and the gradient noise (chapter 4, the noise
floor). The cloud is centred near the minimizer, so the *average* of the iterates is much closer
to it than a typical iterate (Ruppert 1988; Polyak & Juditsky 1992):

.. math:: \\bar\\theta_t = \\frac{1}{t - s + 1} \\sum_{k=s}^{t} \\theta_k ,

averaged from a burn-in step :math:`s` on, so that the early iterates, still far from the
cloud, do not drag the mean. The average is computed on the side; it never feeds back into
the updates. Book: chapter 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gdcourse._validate import as_float_array, check_int

__all__ = ["iterate_average"]


def iterate_average(params: Any, start: int = 0) -> np.ndarray:
    """Running averages :math:`\\bar\\theta_t` of the iterates from index ``start`` on.

    ``params`` holds one iterate per row (shape ``(T,)`` or ``(T, d)``, for instance
    ``History.params``). Row ``k`` of the result is the mean of ``params[start:start + k + 1]``,
    so the last row averages every iterate from ``start`` to the end.

    >>> iterate_average([4.0, 0.0, 2.0, 1.0], start=1)
    array([0., 1., 1.])
    """
    array = as_float_array("params", params)
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise ValueError(
            f"params must have one iterate per row (shape (T,) or (T, d)), got {array.shape}"
        )
    first = check_int("start", start, minimum=0, maximum=array.shape[0] - 1)
    tail = array[first:]
    counts = np.arange(1, tail.shape[0] + 1).reshape((-1,) + (1,) * (tail.ndim - 1))
    return np.cumsum(tail, axis=0) / counts

"""Second-order views of a loss: the Newton step and gradient descent's stability bound.

Chapter 3's sidebar on convexity and Newton's method uses these two formulas. Near a point
:math:`\\theta` with gradient :math:`g` and Hessian :math:`H` a smooth loss is approximately the
quadratic :math:`L(\\theta) + g^\\top\\delta + \\tfrac12\\delta^\\top H\\delta`. When :math:`H` is
positive definite (the loss is strictly convex there) that model has its minimum at

.. math:: \\theta_{\\text{Newton}} = \\theta - H^{-1} g ,

the **Newton step**. On a quadratic it lands on the minimizer in one step. Gradient descent
instead moves by :math:`-\\eta g` with one scalar :math:`\\eta` for every direction; on a
quadratic it converges exactly when :math:`0 < \\eta < 2/\\lambda_{\\max}(H)`, twice the Newton
step :math:`1/\\lambda_{\\max}` of the steepest direction (chapter 3, equation eq-lr-bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gdcourse._validate import as_float_array

__all__ = ["gd_stability_bound", "newton_step"]


def _hessian_matrix(hessian: Any, dim: int) -> np.ndarray:
    matrix = as_float_array("hessian", hessian)
    if matrix.ndim == 0:
        matrix = matrix.reshape(1, 1)
    if matrix.shape != (dim, dim):
        raise ValueError(f"hessian must have shape ({dim}, {dim}), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("hessian must be finite")
    if not np.allclose(matrix, matrix.T, rtol=1e-10, atol=1e-12 * np.abs(matrix).max()):
        raise ValueError("hessian must be symmetric")
    return matrix


def newton_step(theta: Any, grad: Any, hessian: Any) -> Any:
    """Return the Newton step :math:`\\theta - H^{-1} g` (a float for scalar ``theta``).

    ``theta`` and ``grad`` are numbers or 1-D arrays of the same shape, ``hessian`` the
    symmetric matrix of second derivatives at ``theta`` (a number in one dimension). The step
    needs a positive definite Hessian: at a saddle or a maximum the quadratic model has no
    minimum and the formula would jump *towards* the stationary point, so a Hessian with an
    eigenvalue <= 0 raises ``ValueError``. Book: chapter 3 (convexity and Newton's method).

    >>> newton_step(14.0, 10.0, 1.0)       # ½(x − 4)² from x = 14: straight to the minimum
    4.0
    >>> newton_step([1.0, 1.0], [2.0, 20.0], [[2.0, 0.0], [0.0, 20.0]])
    array([0., 0.])
    """
    x = as_float_array("theta", theta)
    g = as_float_array("grad", grad)
    if x.ndim > 1:
        raise ValueError(f"theta must be a number or a 1-D array, got shape {x.shape}")
    if g.shape != x.shape:
        raise ValueError(f"grad must have the shape of theta {x.shape}, got {g.shape}")
    H = _hessian_matrix(hessian, max(x.size, 1) if x.ndim else 1)
    if np.linalg.eigvalsh(H).min() <= 0:
        raise ValueError("hessian must be positive definite (the loss convex around theta)")
    step = np.linalg.solve(H, np.atleast_1d(g))
    new = np.atleast_1d(x) - step
    return float(new[0]) if x.ndim == 0 else new


def gd_stability_bound(hessian: Any) -> float:
    """Return :math:`2/\\lambda_{\\max}(H)`, the largest stable learning rate on the quadratic.

    Gradient descent on :math:`\\tfrac12\\theta^\\top H\\theta - b^\\top\\theta` converges from
    every start exactly when :math:`0 < \\eta <` this bound (chapter 3). ``hessian`` is a
    number or a symmetric matrix whose largest eigenvalue must be positive (otherwise no
    learning rate is stable and ``ValueError`` is raised).

    >>> gd_stability_bound([[1.0, 0.0], [0.0, 10.0]])
    0.2
    """
    H = as_float_array("hessian", hessian)
    H = _hessian_matrix(H, 1 if H.ndim == 0 else H.shape[0])
    largest = float(np.linalg.eigvalsh(H).max())
    if largest <= 0:
        raise ValueError(f"hessian must have a positive eigenvalue, its largest is {largest:g}")
    return 2.0 / largest

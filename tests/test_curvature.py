"""The Newton step and the stability bound of chapter 3's sidebar, checked against GD runs."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from gdcourse.curvature import gd_stability_bound, newton_step
from gdcourse.losses import Quadratic, Rosenbrock
from gdcourse.optim import GD
from gdcourse.run import minimize


def test_newton_lands_on_the_minimizer_of_any_quadratic_in_one_step():
    rng = np.random.default_rng(0)
    for dim in (1, 2, 5):
        G = rng.standard_normal((dim, dim))
        A = G @ G.T + 0.5 * np.eye(dim)
        loss = Quadratic(A, rng.standard_normal(dim))
        theta = rng.standard_normal(dim)
        landed = newton_step(theta, loss.grad(theta), A)
        np.testing.assert_allclose(landed, loss.minimizer, atol=1e-10)


def test_newton_on_a_parabola_is_gd_with_lr_one_over_the_curvature():
    curvature = 3.0
    loss = Quadratic(np.array([[curvature]]), np.array([12.0]))     # minimizer 4
    x = np.array([14.0])
    gd = minimize(loss, x, GD(lr=1 / curvature), steps=1).final_params
    np.testing.assert_allclose(newton_step(x, loss.grad(x), curvature), gd)
    assert isinstance(newton_step(14.0, 10.0, 1.0), float)


def test_newton_iterates_converge_quadratically_on_rosenbrock_near_the_minimum():
    loss = Rosenbrock()
    theta = np.array([1.05, 1.1])
    errors = []
    for _ in range(5):
        x, y = theta
        hessian = np.array([[2 - 400 * (y - 3 * x**2), -400 * x], [-400 * x, 200.0]])
        theta = newton_step(theta, loss.grad(theta), hessian)
        errors.append(np.linalg.norm(theta - np.array([1.0, 1.0])))
    assert errors[-1] < 1e-11
    for before, after in pairwise(errors[1:]):
        assert after < 10 * before**2  # the error is squared at every step


def test_stability_bound_separates_converging_from_diverging_runs():
    A = np.array([[3.0, 1.0], [1.0, 8.0]])
    loss = Quadratic(A, np.zeros(2))
    bound = gd_stability_bound(A)
    assert bound == pytest.approx(2 / np.linalg.eigvalsh(A).max())
    start = np.array([1.0, -2.0])
    below = minimize(loss, start, GD(lr=0.97 * bound), steps=400)
    above = minimize(loss, start, GD(lr=1.03 * bound), steps=400)
    assert np.linalg.norm(below.final_params) < 1e-3
    assert above.diverged or np.linalg.norm(above.final_params) > 1e3
    assert gd_stability_bound(4.0) == 0.5


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: newton_step([1.0, 2.0], [1.0], np.eye(2)), ValueError, "grad must have"),
        (lambda: newton_step([1.0, 2.0], [1.0, 1.0], np.eye(3)), ValueError, "shape"),
        (lambda: newton_step(1.0, 1.0, -2.0), ValueError, "positive definite"),
        (lambda: newton_step([0.0, 0.0], [1.0, 1.0], [[1.0, 0.0], [0.0, -1.0]]), ValueError,
         "positive definite"),
        (lambda: newton_step([0.0, 0.0], [1.0, 1.0], [[1.0, 2.0], [0.0, 1.0]]), ValueError,
         "symmetric"),
        (lambda: newton_step("1", 1.0, 1.0), TypeError, "theta"),
        (lambda: gd_stability_bound([[-1.0, 0.0], [0.0, -2.0]]), ValueError, "positive eigenvalue"),
        (lambda: gd_stability_bound([[1.0, np.nan], [np.nan, 1.0]]), ValueError, "finite"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()

"""Toy losses: exact gradients (finite differences), minimizers, vectorised values, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdcourse.losses import (
    Beale,
    Himmelblau,
    MultiMinimum,
    Parabola,
    Plateau,
    Quadratic,
    Rosenbrock,
    Saddle,
)

ONE_D = [Parabola(), Parabola(center=-2.0, curvature=3.0), MultiMinimum(), Plateau()]
TWO_D = [Rosenbrock(), Rosenbrock(a=2.0, b=10.0), Beale(), Himmelblau(), Saddle(),
         Quadratic.ill_conditioned(20.0), Quadratic([[2.0, 0.5], [0.5, 1.0]], [1.0, -1.0], 3.0)]
ALL = ONE_D + TWO_D


def central_difference(loss, x, h):
    x = np.atleast_1d(np.asarray(x, dtype=float))
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        plus, minus = (x + step, x - step) if x.size > 1 else (float(x[0] + h), float(x[0] - h))
        grad[i] = (loss.value(plus) - loss.value(minus)) / (2 * h)
    return grad


def point_in_window(loss, fractions):
    lows, highs = np.array([w[0] for w in loss.window]), np.array([w[1] for w in loss.window])
    point = lows + np.array(fractions[: len(lows)]) * (highs - lows)
    return float(point[0]) if loss.dim == 1 else point


@pytest.mark.parametrize("loss", ALL, ids=repr)
@settings(max_examples=40, deadline=None)
@given(fractions=st.lists(st.floats(0.02, 0.98), min_size=2, max_size=2))
def test_gradient_matches_central_differences(loss, fractions):
    x = point_in_window(loss, fractions)
    exact = np.atleast_1d(loss.grad(x))
    numeric = central_difference(loss, x, h=1e-6)
    scale = max(1.0, np.abs(exact).max())
    np.testing.assert_allclose(exact, numeric, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("loss", ALL, ids=repr)
def test_values_agree_with_value_on_a_grid(loss):
    if loss.dim == 1:
        (lo, hi), = loss.window
        points = np.linspace(lo, hi, 7)
        expected = [loss.value(float(p)) for p in points]
    else:
        (x0, x1), (y0, y1) = loss.window
        X, Y = np.meshgrid(np.linspace(x0, x1, 4), np.linspace(y0, y1, 3))
        points = np.stack([X, Y], axis=-1)
        expected = [[loss.value(p) for p in row] for row in points]
    np.testing.assert_allclose(loss.values(points), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", [loss for loss in ALL if loss.minimizers], ids=repr)
def test_minimizers_are_stationary_with_listed_value(loss):
    for minimizer in loss.minimizers:
        assert np.all(np.abs(loss.grad(minimizer)) < 1e-9)
    assert loss.value(loss.minimizers[0]) == pytest.approx(loss.minimum_value, abs=1e-12)
    assert all(loss.value(m) >= loss.minimum_value - 1e-12 for m in loss.minimizers)


@pytest.mark.parametrize("loss", ALL, ids=repr)
def test_window_contains_start_and_minimizers(loss):
    for point in (loss.default_start, *loss.minimizers):
        coordinates = np.atleast_1d(point)
        for value, (low, high) in zip(coordinates, loss.window, strict=False):
            assert low < value < high


def test_parabola_worked_example_numbers():
    loss = Parabola()
    assert loss(14.0) == 50.0 and loss.grad(14.0) == 10.0
    assert loss.lipschitz == 1.0 and loss.default_start == 14.0
    assert loss.value(np.array([14.0, 4.0])) == 50.0  # sum over entries
    np.testing.assert_array_equal(loss.grad(np.array([14.0, 4.0])), [10.0, 0.0])


def test_quadratic_constants_match_numpy():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + 0.1 * np.eye(4)
    q = Quadratic(A, rng.normal(size=4))
    eigenvalues = np.linalg.eigvals(A).real
    assert q.lipschitz == pytest.approx(eigenvalues.max())
    assert q.strong_convexity == pytest.approx(eigenvalues.min())
    assert q.condition_number == pytest.approx(eigenvalues.max() / eigenvalues.min())
    np.testing.assert_allclose(A @ q.minimizer, q.b, atol=1e-10)
    assert q.dim == 4 and q.window and len(q.window) == 2


def test_multiminimum_traps_plain_gd_in_a_local_valley():
    from gdcourse.optim import GD
    from gdcourse.run import minimize

    loss = MultiMinimum()
    end = minimize(loss, loss.default_start, GD(lr=0.05), 500).final_params
    nearest_local = min(loss.minimizers, key=lambda m: abs(m - loss.default_start))
    assert end == pytest.approx(nearest_local, abs=1e-6)
    assert nearest_local != loss.minimizers[0]  # not the global minimum
    assert loss(end) > loss.minimum_value + 1.0


def test_himmelblau_has_four_distinct_zero_minima():
    minima = Himmelblau().minimizers
    assert len(minima) == 4
    assert len({tuple(np.round(m, 6)) for m in minima}) == 4
    assert all(Himmelblau()(m) < 1e-20 for m in minima)


def test_saddle_has_no_minimum():
    assert Saddle().minimizers == () and Saddle().minimum_value is None
    np.testing.assert_array_equal(Saddle().grad(Saddle().saddle_points[0]), [0.0, 0.0])


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Parabola(curvature=0.0), ValueError, "curvature must be > 0"),
        (lambda: Parabola(center="4"), TypeError, "center"),
        (lambda: Quadratic([[1.0, 2.0]], [1.0]), ValueError, "A must be a square matrix"),
        (lambda: Quadratic([[1.0, 2.0], [0.0, 1.0]], [1.0, 1.0]), ValueError, "symmetric"),
        (lambda: Quadratic([[1.0, 0.0], [0.0, -1.0]], [1.0, 1.0]), ValueError, "semi-definite"),
        (lambda: Quadratic(np.eye(2), [1.0]), ValueError, r"b must have shape \(2,\)"),
        (lambda: Quadratic.ill_conditioned(0.5), ValueError, "condition_number"),
        (lambda: Rosenbrock(b=-1.0), ValueError, "b must be > 0"),
        (lambda: MultiMinimum(minima=(0.0, 1.0, 2.0), maxima=(3.0, 4.0)), ValueError, "minima"),
        (lambda: Rosenbrock().value([1.0, 2.0, 3.0]), ValueError, r"x must have shape \(2,\)"),
        (lambda: Rosenbrock().values(np.zeros((3, 3))), ValueError, "points"),
        (lambda: Parabola().grad("x"), TypeError, "x must be a real number"),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()

"""Toy losses: exact gradients (finite differences), minimizers, vectorised values, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdcourse.losses import (
    Beale,
    Himmelblau,
    Loss,
    MultiMinimum,
    Parabola,
    Plateau,
    Quadratic,
    Rosenbrock,
    Saddle,
)

ONE_D = [Parabola(), Parabola(center=-2.0, curvature=3.0), MultiMinimum(), Plateau(),
         MultiMinimum(minima=(-5.0, 0.0, 2.0), maxima=(-2.0, 1.0), scale=0.2),
         Plateau(center=1.0, width=0.5, slope=0.0)]
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
    assert loss(14.0) == 50.0
    assert loss.grad(14.0) == 10.0
    assert loss.lipschitz == 1.0
    assert loss.default_start == 14.0
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
    assert q.dim == 4
    assert q.window
    assert len(q.window) == 2


def test_multiminimum_traps_plain_gd_in_a_local_valley():
    from gdcourse.optim import GD
    from gdcourse.run import minimize

    loss = MultiMinimum()
    end = minimize(loss, loss.default_start, GD(lr=0.05), 500).final_params
    nearest_local = min(loss.minimizers, key=lambda m: abs(m - loss.default_start))
    assert end == pytest.approx(nearest_local, abs=1e-6)
    assert nearest_local != loss.minimizers[0]  # not the global minimum
    assert loss(end) > loss.minimum_value + 1.0


def test_himmelblau_has_four_distinct_zero_minima_to_full_precision():
    loss = Himmelblau()
    minima = loss.minimizers
    assert len(minima) == 4
    assert minima[0].tolist() == [3.0, 2.0]
    assert len({tuple(np.round(m, 6)) for m in minima}) == 4
    for m in minima:
        assert loss(m) < 1e-25
        assert np.abs(loss.grad(m)).max() < 1e-12
        # one more Newton step moves the point by at most a few units in the last place
        newton_step = np.linalg.solve(loss.hessian(m), loss.grad(m))
        assert np.all(np.abs(newton_step) <= 4 * np.spacing(np.abs(m)))
        assert np.all(np.linalg.eigvalsh(loss.hessian(m)) > 0)  # minima, not saddles
    # the well-known 6-digit approximations
    np.testing.assert_allclose(minima[1:], [[-2.805118, 3.131312], [-3.779310, -3.283186],
                                            [3.584428, -1.848126]], atol=2e-6)


def test_shared_minimizer_arrays_are_read_only():
    with pytest.raises(ValueError, match="read-only"):
        Himmelblau().minimizers[0][0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        Beale().minimizers[0][0] = 0.0
    q = Quadratic.ill_conditioned(4.0)
    q.minimizer[0] = 99.0  # a fresh copy: the loss is unaffected
    assert q.minimizer.tolist() == [0.0, 0.0]


def test_loss_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Loss()

    class OnlyValue(Loss):
        def value(self, x):
            return 0.0

    with pytest.raises(TypeError, match="abstract"):
        OnlyValue()


@pytest.mark.parametrize("loss", ONE_D, ids=repr)
def test_one_dimensional_losses_return_floats_and_keep_shapes(loss):
    x = float(loss.default_start)
    assert type(loss.value(x)) is float
    assert type(loss.grad(x)) is float
    assert loss(x) == loss.value(x)
    grid = np.linspace(*loss.window[0], 6).reshape(2, 3)
    assert loss.values(grid).shape == (2, 3)
    assert loss.grad(grid).shape == (2, 3)
    expected = [[loss.grad(float(p)) for p in row] for row in grid]
    np.testing.assert_allclose(loss.grad(grid), expected)


@pytest.mark.parametrize("loss", TWO_D, ids=repr)
def test_two_dimensional_losses_shapes(loss):
    start = loss.default_start
    assert type(loss.value(start)) is float
    assert loss.grad(start).shape == (2,)
    assert loss.grad(list(start)).shape == (2,)
    assert loss.values(np.zeros((4, 5, 2))).shape == (4, 5)
    assert loss.values(np.zeros(2)).shape == ()


def test_multiminimum_is_exact_and_ordered():
    loss = MultiMinimum()
    assert loss.minimizers == (-3.0, 4.0, 1.0)
    depths = [loss(m) for m in loss.minimizers]
    assert depths == sorted(depths)
    assert len(set(depths)) == 3
    assert loss.minimum_value == depths[0]
    for point in (*loss.minimizers, *loss.maximizers):
        assert loss.grad(point) == 0.0  # exactly: the gradient is the product of the factors
    xs = np.linspace(*loss.window[0], 2001)
    assert loss.values(xs).min() >= loss.minimum_value  # nothing deeper in the window
    assert loss == MultiMinimum(minima=[-3, 1, 4], maxima=[-1, 2.5])  # normalised to floats
    assert hash(loss) == hash(MultiMinimum())
    assert repr(loss) == "MultiMinimum(minima=(-3.0, 1.0, 4.0), maxima=(-1.0, 2.5), scale=0.05)"


def test_plateau_is_flat_far_away_and_has_one_stationary_point():
    loss = Plateau()
    assert abs(loss.grad(loss.default_start)) < 0.01 < abs(loss.grad(1.0))
    xs = np.linspace(*loss.window[0], 4001)
    slopes = loss.grad(xs)
    assert np.all(slopes[xs < 0] < 0)
    assert np.all(slopes[xs > 0] > 0)
    assert loss.values(xs).min() == loss.minimum_value == 0.0


def test_windows_follow_the_parameters():
    assert Parabola().window == ((-8.0, 16.0),)
    assert Parabola().default_start == 14.0
    assert Parabola(center=-2.0).window == ((-14.0, 10.0),)
    assert Plateau(center=1.0, width=0.5).window == ((-3.0, 5.0),)
    assert Rosenbrock().window == ((-2.0, 2.0), (-1.0, 3.0))
    assert Rosenbrock().default_start.tolist() == [-1.5, 2.0]
    assert Rosenbrock(a=2.0).window != Rosenbrock().window
    assert MultiMinimum(minima=(0.0, 2.0, 8.0), maxima=(1.0, 5.0)).window == ((-2.0, 10.0),)
    shifted = Quadratic.ill_conditioned(10.0, center=(5.0, -1.0))
    np.testing.assert_array_equal(shifted.minimizer, [5.0, -1.0])
    assert shifted.window == ((1.25, 8.75), (-4.75, 2.75))


def test_quadratic_singular_and_caller_arrays():
    A = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.array([2.0, 0.0])
    q = Quadratic(A, b)
    assert q.condition_number == np.inf
    assert q.strong_convexity == 0.0
    np.testing.assert_allclose(q.minimizer, [2.0, 0.0])
    assert q.minimum_value == pytest.approx(-2.0)
    A[0, 0] = 5.0  # the caller's array stays writable and the loss keeps its own copy
    assert q.A[0, 0] == 1.0
    with pytest.raises(ValueError, match="b must lie in the range of A"):
        Quadratic([[1.0, 0.0], [0.0, 0.0]], [1.0, 1.0])


def test_reprs():
    assert repr(Parabola(center=4, curvature=2)) == "Parabola(center=4.0, curvature=2.0)"
    assert repr(Rosenbrock()) == "Rosenbrock(a=1.0, b=100.0)"
    assert repr(Beale()) == "Beale()"
    assert repr(Saddle()) == "Saddle()"
    assert repr(Quadratic([[2.0]], [1.0])) == "Quadratic(A=[[2.0]], b=[1.0], c=0.0)"


def test_saddle_has_no_minimum():
    assert Saddle().minimizers == ()
    assert Saddle().minimum_value is None
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
        (lambda: MultiMinimum(minima=(0.0, 1.0, 2.0), maxima=(3.0, 4.0)), ValueError,
         "minima and maxima must interleave"),
        (lambda: MultiMinimum(minima=(0.0, 1.0)), ValueError, "minima must hold 3 numbers"),
        (lambda: MultiMinimum(maxima=3.0), TypeError, "maxima must be a sequence"),
        (lambda: MultiMinimum(minima=(-3.0, "1", 4.0)), TypeError, r"minima\[1\]"),
        (lambda: MultiMinimum(scale=0.0), ValueError, "scale must be > 0"),
        (lambda: Plateau(width=-1.0), ValueError, "width must be > 0"),
        (lambda: Quadratic([[np.nan, 0.0], [0.0, 1.0]], [1.0, 1.0]), ValueError,
         "A must be finite"),
        (lambda: Quadratic.ill_conditioned(10.0, center=(1.0, 2.0, 3.0)), ValueError,
         r"center must have shape \(2,\)"),
        (lambda: Quadratic.ill_conditioned(10.0, curvature=0.0), ValueError, "curvature"),
        (lambda: Quadratic(np.eye(2), [1.0, 1.0], c="0"), TypeError, "c must be a real number"),
        (lambda: Rosenbrock().value([1.0, 2.0, 3.0]), ValueError, r"x must have shape \(2,\)"),
        (lambda: Rosenbrock().values(np.zeros((3, 3))), ValueError, "points"),
        (lambda: Parabola().grad("x"), TypeError, "x must be a real number"),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


def _beale_by_the_sums(x, y):
    # the docstring's formulas, summed over k as written: r_k = c_k - x + x y^k
    constants = (1.5, 2.25, 2.625)
    residuals = [c - x + x * y**k for k, c in enumerate(constants, start=1)]
    value = sum(r**2 for r in residuals)
    dx = sum(2 * r * (y**k - 1) for k, r in enumerate(residuals, start=1))
    dy = sum(2 * r * k * x * y ** (k - 1) for k, r in enumerate(residuals, start=1))
    return value, dx, dy


@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_beale_is_its_docstring_sums_bit_for_bit(x, y):
    # written out term by term for speed, the same numbers as the sums over k (signed zeros too)
    value, dx, dy = _beale_by_the_sums(np.float64(x), np.float64(y))
    point = np.array([x, y])
    assert np.float64(Beale()(point)).tobytes() == np.float64(value).tobytes()
    assert Beale().grad(point).tobytes() == np.array([dx, dy]).tobytes()


def test_beale_values_on_a_grid_are_its_docstring_sums():
    grid = np.stack(np.meshgrid(np.linspace(-4.5, 4.5, 41), np.linspace(-4.5, 4.5, 41)), -1)
    grid[0, 0] = [3.0, 0.5]  # the minimum, where the gradient is exactly zero
    value, *_ = _beale_by_the_sums(grid[..., 0], grid[..., 1])
    assert Beale().values(grid).tobytes() == value.tobytes()
    assert Beale().grad([3.0, 0.5]).tobytes() == np.zeros(2).tobytes()  # +0, not -0

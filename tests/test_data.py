"""Synthetic data, the minibatch iterator and the learning problems."""

from __future__ import annotations

import numpy as np
import pytest

from gdcourse.data import (
    LinearRegression,
    LogisticRegression,
    linear_data,
    minibatches,
    two_class_data,
)


def test_linear_data_is_seeded_bit_for_bit():
    a, b = linear_data(50, seed=7), linear_data(50, seed=7)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(linear_data(50, seed=8)[1], a[1])


def test_linear_data_follows_the_line():
    x, y = linear_data(20_000, noise=0.5, seed=0)
    slope, intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(2.0, abs=0.03) and intercept == pytest.approx(1.0, abs=0.03)
    assert np.std(y - (2 * x + 1)) == pytest.approx(0.5, rel=0.05)


def test_two_class_data_balanced_and_separated():
    X, y = two_class_data(400, separation=4.0, seed=1)
    assert X.shape == (400, 2) and y.sum() == 200
    assert X[y == 1].mean() > 1.5 and X[y == 0].mean() < -1.5


def test_minibatches_cover_each_index_once_and_reshuffle():
    rng = np.random.default_rng(0)
    first = list(minibatches(10, 4, rng))
    second = list(minibatches(10, 4, rng))
    assert [len(b) for b in first] == [4, 4, 2]  # last partial batch kept
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert sorted(np.concatenate(second).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: list(minibatches(10, 0, np.random.default_rng())), ValueError, "batch_size must be >= 1"),
        (lambda: list(minibatches(10, 11, np.random.default_rng())), ValueError, "batch_size must be <= 10"),
        (lambda: list(minibatches(10, 2, None)), TypeError, "rng"),
        (lambda: linear_data(0), ValueError, "n must be >= 1"),
        (lambda: linear_data(10, noise=-1), ValueError, "noise"),
        (lambda: linear_data(10, x_range=(2, 1)), ValueError, "x_range"),
        (lambda: LinearRegression([1.0, 2.0], [1.0]), ValueError, "same length"),
        (lambda: LogisticRegression(np.zeros((3, 2)), [0, 1, 2]), ValueError, "labels 0 and 1"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).loss([1.0]), ValueError, "params"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).loss([1.0, 1.0], [5]), ValueError, "batch"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def finite_difference(f, w, h=1e-6):
    return np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(w.size)])


@pytest.mark.parametrize("batch", [None, np.array([0, 3, 5, 9])])
def test_linear_regression_gradient(batch):
    problem = LinearRegression(*linear_data(30, seed=2))
    w = np.array([0.7, -0.3])
    numeric = finite_difference(lambda v: problem.loss(v, batch), w)
    np.testing.assert_allclose(problem.grad(w, batch), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_logistic_regression_gradient_and_stability(l2):
    problem = LogisticRegression(*two_class_data(40, seed=3), l2=l2)
    w = np.array([0.5, -1.0, 0.2])
    numeric = finite_difference(problem.loss, w)
    np.testing.assert_allclose(problem.grad(w), numeric, rtol=1e-6, atol=1e-8)
    huge = np.array([1e4, 1e4, 0.0])
    assert np.isfinite(problem.loss(huge)) and np.all(np.isfinite(problem.grad(huge)))


def test_linear_regression_solution_is_least_squares():
    x, y = linear_data(100, seed=4)
    problem = LinearRegression(x, y)
    np.testing.assert_allclose(problem.solution(), np.polyfit(x, y, 1), rtol=1e-10)
    assert np.linalg.norm(problem.grad(problem.solution())) < 1e-10

"""Synthetic data, the minibatch iterator and the learning problems."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdcourse.data import (
    LinearRegression,
    LogisticRegression,
    linear_data,
    minibatches,
    two_class_data,
)


def test_linear_data_is_seeded_bit_for_bit():
    a, b = linear_data(50, seed=7), linear_data(50, seed=7)
    assert a[0].tobytes() == b[0].tobytes()
    assert a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(linear_data(50, seed=8)[1], a[1])


def test_linear_data_follows_the_line():
    x, y = linear_data(20_000, noise=0.5, seed=0)
    slope, intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(2.0, abs=0.03)
    assert intercept == pytest.approx(1.0, abs=0.03)
    assert np.std(y - (2 * x + 1)) == pytest.approx(0.5, rel=0.05)


def test_two_class_data_balanced_and_separated():
    X, y = two_class_data(400, separation=4.0, seed=1)
    assert X.shape == (400, 2)
    assert y.sum() == 200
    assert X[y == 1].mean() > 1.5
    assert X[y == 0].mean() < -1.5


def test_two_class_data_is_seeded_bit_for_bit():
    (X1, y1), (X2, y2) = two_class_data(50, seed=3), two_class_data(50, seed=3)
    assert X1.tobytes() == X2.tobytes()
    assert y1.tobytes() == y2.tobytes()
    assert not np.array_equal(two_class_data(50, seed=4)[0], X1)


def test_minibatches_checks_arguments_at_the_call():
    with pytest.raises(ValueError, match="batch_size must be <= 10"):
        minibatches(10, 11, np.random.default_rng())  # no list(): raised before iteration
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        minibatches(10, 2, np.random.RandomState(0))


def test_minibatches_same_seed_same_order_and_unshuffled_needs_no_rng():
    first = [b.tolist() for b in minibatches(7, 3, np.random.default_rng(5))]
    again = [b.tolist() for b in minibatches(7, 3, np.random.default_rng(5))]
    assert first == again
    assert [b.tolist() for b in minibatches(7, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 60), data=st.data())
def test_minibatches_partition_every_epoch(n, data):
    batch_size = data.draw(st.integers(1, n))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32)))
    for _ in range(2):
        batches = list(minibatches(n, batch_size, rng))
        assert len(batches) == -(-n // batch_size)
        assert all(len(b) == batch_size for b in batches[:-1])
        assert len(batches[-1]) == n - batch_size * (len(batches) - 1)
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))


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
        (lambda: minibatches(10, 0, np.random.default_rng()), ValueError,
         "batch_size must be >= 1"),
        (lambda: minibatches(10, 11, np.random.default_rng()), ValueError,
         "batch_size must be <= 10"),
        (lambda: minibatches(10, 2, None), TypeError, "rng"),
        (lambda: linear_data(0), ValueError, "n must be >= 1"),
        (lambda: linear_data(10, noise=-1), ValueError, "noise"),
        (lambda: linear_data(10, x_range=(2, 1)), ValueError, "x_range"),
        (lambda: LinearRegression([1.0, 2.0], [1.0]), ValueError, "same length"),
        (lambda: LogisticRegression(np.zeros((3, 2)), [0, 1, 2]), ValueError, "labels 0 and 1"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).loss([1.0]), ValueError, "params"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).loss([1.0, 1.0], [5]), ValueError,
         r"batch indices must lie in \[0, 2\)"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).loss([1.0, 1.0], [-1]), ValueError,
         r"batch indices must lie in \[0, 2\)"),
        (lambda: LinearRegression([1.0, 2.0], [1.0, 2.0]).grad([1.0, 1.0], [0.5]), ValueError,
         "batch must be a non-empty 1-D array"),
        (lambda: LinearRegression([1.0, np.nan], [1.0, 2.0]), ValueError, "x must be finite"),
        (lambda: LinearRegression(np.zeros((2, 2, 2)), [1.0, 2.0]), ValueError, "x must be"),
        (lambda: LogisticRegression(np.zeros((3, 2)), [0, 1]), ValueError,
         r"y must have shape \(3,\)"),
        (lambda: LogisticRegression(np.zeros((3, 2)), [0, 1, 1], l2=-1.0), ValueError, "l2"),
        (lambda: LogisticRegression(np.zeros((3, 2)), [0, 1, 1]).grad(np.zeros(2)), ValueError,
         r"params must have shape \(3,\)"),
        (lambda: two_class_data(1), ValueError, "n must be >= 2"),
        (lambda: two_class_data(10, separation=-1.0), ValueError, "separation"),
        (lambda: linear_data(10, seed=1.5), TypeError, "seed must be an integer"),
        (lambda: linear_data(10, x_range=3.0), TypeError, "x_range"),
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
    assert np.isfinite(problem.loss(huge))
    assert np.all(np.isfinite(problem.grad(huge)))


@settings(max_examples=30, deadline=None)
@given(w=st.lists(st.floats(-3, 3), min_size=3, max_size=3),
       rows=st.lists(st.integers(0, 39), min_size=1, max_size=10), l2=st.sampled_from([0.0, 0.3]))
def test_logistic_regression_gradient_matches_finite_differences(w, rows, l2):
    problem = LogisticRegression(*two_class_data(40, separation=1.0, seed=5), l2=l2)
    w, batch = np.array(w), np.array(rows)
    numeric = finite_difference(lambda v: problem.loss(v, batch), w)
    np.testing.assert_allclose(problem.grad(w, batch), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("problem", [LinearRegression(*linear_data(30, seed=1)),
                                     LogisticRegression(*two_class_data(30, seed=1), l2=0.2)])
@pytest.mark.parametrize("batch", [None, np.array([4, 0, 4, 29])])
def test_loss_and_grad_is_loss_and_grad(problem, batch):
    w = np.linspace(-0.5, 0.7, problem.dim)
    loss, grad = problem.loss_and_grad(w, batch)
    assert loss == problem.loss(w, batch)
    np.testing.assert_array_equal(grad, problem.grad(w, batch))
    assert problem.default_start.tolist() == [0.0] * problem.dim


def test_linear_regression_with_several_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + 0.1 * rng.normal(size=50)
    problem = LinearRegression(X, y)
    assert problem.dim == 4
    assert problem.n_samples == 50
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(50)]), y, rcond=None)[0]
    np.testing.assert_allclose(problem.solution(), expected, rtol=1e-12)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(problem.grad(w), finite_difference(problem.loss, w), rtol=1e-6)


def test_logistic_regression_accepts_boolean_labels_and_scores_accuracy():
    X, y = two_class_data(200, separation=6.0, seed=2)
    problem = LogisticRegression(X, y == 1)
    assert problem.loss(np.zeros(3)) == pytest.approx(np.log(2))
    assert problem.accuracy(np.array([1.0, 1.0, 0.0])) > 0.95
    assert problem.accuracy(np.array([-1.0, -1.0, 0.0])) < 0.05


def test_linear_regression_solution_is_least_squares():
    x, y = linear_data(100, seed=4)
    problem = LinearRegression(x, y)
    np.testing.assert_allclose(problem.solution(), np.polyfit(x, y, 1), rtol=1e-10)
    assert np.linalg.norm(problem.grad(problem.solution())) < 1e-10

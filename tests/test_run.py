"""minimize and train: closed forms, divergence, batch sizes, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdcourse.data import (
    LinearRegression,
    LogisticRegression,
    linear_data,
    minibatches,
    two_class_data,
)
from gdcourse.losses import Parabola, Quadratic, Rosenbrock
from gdcourse.optim import GD, Adam, Momentum
from gdcourse.run import DivergenceError, _finite, minimize, train


def test_gd_on_parabola_matches_closed_form_and_prints_worked_example():
    trajectory = minimize(Parabola(), 14.0, GD(lr=0.1), steps=100)
    t = np.arange(101)
    np.testing.assert_allclose(trajectory.params, 4 + 0.9**t * 10, rtol=1e-12)
    np.testing.assert_allclose(trajectory.losses, 0.5 * (0.9**t * 10) ** 2, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(trajectory.grad_norms, 0.9**t * 10, rtol=1e-10)
    assert f"x_min = {trajectory.final_params:.3f}" == "x_min = 4.000"
    assert f"{trajectory.final_loss:.3f}" == "0.000"
    assert trajectory.steps == 100
    assert not trajectory.diverged
    assert trajectory.label == "GD(lr=0.1)"


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(0.01, 1.95), x0=st.floats(-50.0, 50.0), center=st.floats(-5.0, 5.0),
       steps=st.integers(0, 60))
def test_gd_on_a_parabola_follows_the_closed_form_at_every_step(lr, x0, center, steps):
    trajectory = minimize(Parabola(center=center), x0, GD(lr=lr), steps)
    t = np.arange(steps + 1)
    closed_form = center + (1 - lr) ** t * (x0 - center)
    scale = abs(x0) + abs(center) + 1.0
    np.testing.assert_allclose(trajectory.params, closed_form, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(trajectory.losses, 0.5 * (closed_form - center) ** 2,
                               rtol=1e-9, atol=1e-12 * scale**2)
    assert trajectory.steps == steps
    assert type(trajectory.final_params) is float
    assert not trajectory.diverged
    assert trajectory.diverged_at is None


def test_zero_steps_keeps_the_start():
    trajectory = minimize(Rosenbrock(), [-1.5, 2.0], GD(lr=1e-3), steps=0)
    assert trajectory.params.tolist() == [[-1.5, 2.0]]
    assert trajectory.losses.tolist() == [12.5]
    assert trajectory.steps == 0


def test_arrays_keep_their_shape():
    loss = Quadratic.ill_conditioned(10.0)
    trajectory = minimize(loss, loss.default_start, Momentum(lr=0.05), 30)
    assert trajectory.params.shape == (31, 2)
    assert trajectory.final_params.shape == (2,)


def test_divergence_is_flagged_at_the_right_step():
    # error 10·1.5^t, loss 50·2.25^t exceeds 1e10 · 50 first at t = 29
    trajectory = minimize(Parabola(), 14.0, GD(lr=2.5), steps=100)
    assert trajectory.diverged
    assert trajectory.diverged_at == 29
    assert trajectory.steps == 28
    assert np.all(np.isfinite(trajectory.params))
    with pytest.raises(DivergenceError, match="diverged at step 29: loss = ") as info:
        minimize(Parabola(), 14.0, GD(lr=2.5), steps=100, on_divergence="raise")
    assert isinstance(info.value, ArithmeticError)
    assert info.value.step == 29
    assert f"loss = {50 * 2.25**29:.3g} (lr too large?)" in str(info.value)


@pytest.mark.parametrize("lr", [2.2, 3.0, 5.0, 21.0])
@pytest.mark.parametrize("threshold", [1e3, 1e10])
def test_divergence_step_follows_the_documented_rule(lr, threshold):
    # L(x_t) = 50 (lr - 1)^(2t): the first t with L(x_t) > threshold * L(x_0)
    expected = next(t for t in range(1, 1000) if (lr - 1) ** (2 * t) > threshold)
    trajectory = minimize(Parabola(), 14.0, GD(lr=lr), steps=1000, divergence_threshold=threshold)
    assert trajectory.diverged_at == expected
    assert trajectory.steps == expected - 1
    assert trajectory.losses.max() <= threshold * 50


def test_nonfinite_start_is_refused():
    with pytest.raises(ValueError, match="x0 must be a finite point"):
        minimize(Parabola(), math.nan, GD(lr=0.1), steps=3)
    with pytest.raises(ValueError, match="x0 must be a finite point"):
        train(LinearRegression(*linear_data(10)), [np.inf, 0.0], GD(lr=0.1), 5, 1)


def test_overflow_in_the_loss_itself_is_silent_and_flagged():
    trajectory = minimize(Parabola(), 1e150, GD(lr=1e10), steps=5, divergence_threshold=1e300)
    assert trajectory.diverged
    assert trajectory.diverged_at == 1
    assert trajectory.params.tolist() == [1e150]


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_the_finiteness_shortcut_agrees_with_isfinite(array):
    # a finite sum of squares settles it; an overflowing one (|x| > 1e154) looks entry by entry
    # (runs ask inside np.errstate(all="ignore"), as here)
    with np.errstate(all="ignore"):
        assert _finite(array) == bool(np.isfinite(array).all())
        assert _finite(array.T) == bool(np.isfinite(array).all())


class _Plateau:
    """A flat loss whose gradient is huge: iterates far beyond 1e154, all finite."""

    def value(self, x):
        return 1.0

    def grad(self, x):
        return np.full(np.shape(x), 1e200)


def test_huge_finite_iterates_are_not_divergence_but_infinite_ones_are():
    run = minimize(_Plateau(), [0.0, 0.0], GD(lr=1.0), steps=3)
    assert not run.diverged
    assert run.params[:, 0].tolist() == [0.0, -1e200, -2e200, -3e200]
    assert run.grad_norms[0] == math.inf  # sqrt(2) * 1e200 overflows: the norm says so
    run = minimize(_Plateau(), [0.0, 0.0], GD(lr=1e110), steps=3)
    assert run.diverged and run.diverged_at == 1  # 1e310 is inf


def test_overflow_to_infinity_is_caught_without_warnings():
    trajectory = minimize(Rosenbrock(), [-1.5, 2.0], GD(lr=0.1), steps=200)
    assert trajectory.diverged
    assert np.all(np.isfinite(trajectory.losses))


def test_minimize_validation():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        minimize(Parabola(), 14.0, GD(lr=0.1), steps=-1)
    with pytest.raises(TypeError, match="optimizer must have init"):
        minimize(Parabola(), 14.0, "gd", steps=1)
    with pytest.raises(TypeError, match="loss must have value"):
        minimize(lambda x: x, 14.0, GD(lr=0.1), steps=1)
    with pytest.raises(ValueError, match="on_divergence"):
        minimize(Parabola(), 14.0, GD(lr=0.1), steps=1, on_divergence="ignore")
    with pytest.raises(TypeError, match="x0"):
        minimize(Parabola(), "14", GD(lr=0.1), steps=1)


def test_batch_gd_equals_minimize_on_full_problem():
    problem = LinearRegression(*linear_data(40, seed=1))

    class FullLoss:
        def value(self, w):
            return problem.loss(w)

        def grad(self, w):
            return problem.grad(w)

    history = train(problem, [0.0, 0.0], GD(lr=0.3), batch_size=40, epochs=25)
    trajectory = minimize(FullLoss(), np.zeros(2), GD(lr=0.3), steps=25)
    np.testing.assert_array_equal(history.params, trajectory.params)  # bit for bit
    np.testing.assert_array_equal(history.update_losses, trajectory.losses[:-1])
    np.testing.assert_array_equal(history.epoch_losses, trajectory.losses)
    assert history.label == "batch GD"
    assert history.updates_per_epoch == 1
    np.testing.assert_array_equal(history.grad_evals, 40 * np.arange(26))


def test_train_matches_a_hand_written_minibatch_loop():
    problem = LinearRegression(*linear_data(23, seed=3))
    history = train(problem, [0.5, -0.5], Momentum(lr=0.1), batch_size=5, epochs=3, seed=11)
    rng, optimizer = np.random.default_rng(11), Momentum(lr=0.1)
    w = np.array([0.5, -0.5])
    state = optimizer.init(w)
    params, batch_losses, epoch_losses = [w], [], [problem.loss(w)]
    for _ in range(3):
        for batch in minibatches(23, 5, rng):
            batch_losses.append(problem.loss(w, batch))
            w, state = optimizer.step(w, problem.grad(w, batch), state)
            params.append(w)
        epoch_losses.append(problem.loss(w))
    np.testing.assert_array_equal(history.params, params)
    np.testing.assert_array_equal(history.update_losses, batch_losses)
    np.testing.assert_array_equal(history.epoch_losses, epoch_losses)
    assert history.seed == 11
    assert history.epochs == 3
    assert history.batch_size == 5


def test_train_accepts_problems_without_loss_and_grad():
    problem = LinearRegression(*linear_data(12, seed=0))

    class Plain:
        n_samples, dim = problem.n_samples, problem.dim

        def loss(self, w, batch=None):
            return problem.loss(w, batch)

        def grad(self, w, batch=None):
            return problem.grad(w, batch)

    plain = train(Plain(), [0.0, 0.0], GD(lr=0.1), batch_size=4, epochs=2, seed=1)
    fast = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=4, epochs=2, seed=1)
    np.testing.assert_array_equal(plain.params, fast.params)


def test_unshuffled_training_ignores_the_seed():
    problem = LinearRegression(*linear_data(20, seed=0))
    a = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=3, epochs=2, seed=0, shuffle=False)
    b = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=3, epochs=2, seed=9, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)


def test_partial_batches_and_gradient_evaluation_counts():
    problem = LinearRegression(*linear_data(10, seed=0))
    history = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=4, epochs=2)
    assert history.updates_per_epoch == 3
    assert history.updates == 6
    np.testing.assert_array_equal(history.grad_evals, [0, 4, 8, 10, 14, 18, 20])
    assert history.epoch_losses.shape == (3,)
    assert history.params.shape == (7, 2)
    assert history.label == "mini-batch (4)"


def test_train_is_reproducible_bit_for_bit():
    problem = LogisticRegression(*two_class_data(100, seed=0))
    runs = [train(problem, np.zeros(3), Adam(lr=0.05), batch_size=8, epochs=3, seed=5)
            for _ in range(2)]
    assert runs[0].params.tobytes() == runs[1].params.tobytes()
    assert runs[0].update_losses.tobytes() == runs[1].update_losses.tobytes()
    other = train(problem, np.zeros(3), Adam(lr=0.05), batch_size=8, epochs=3, seed=6)
    assert not np.array_equal(other.params, runs[0].params)


def test_sgd_reaches_least_squares_neighbourhood():
    problem = LinearRegression(*linear_data(500, seed=2))
    history = train(problem, [0.0, 0.0], GD(lr=0.02), batch_size=1, epochs=20, seed=0)
    assert history.label == "SGD"
    np.testing.assert_allclose(history.final_params, problem.solution(), atol=0.15)
    exact = train(problem, [0.0, 0.0], GD(lr=0.5), batch_size=500, epochs=2000)
    np.testing.assert_allclose(exact.final_params, problem.solution(), atol=1e-6)


@pytest.mark.parametrize(("lr", "batch_size", "threshold"),
                         [(50.0, 10, 1e10),   # caught by a mini-batch loss, mid-epoch
                          (1.1, 10, 1e10),    # ... at an epoch boundary (drops that epoch too)
                          (2.0, 50, 1e4),     # caught by the full-data loss after an epoch
                          (1e200, 10, 1e10),  # the batch loss overflows to inf
                          (1e308, 10, 1e10)])  # the parameters themselves overflow
def test_train_divergence_keeps_the_updates_before_it(lr, batch_size, threshold):
    problem = LinearRegression(*linear_data(50, seed=0))
    history = train(problem, [0.0, 0.0], GD(lr=lr), batch_size=batch_size, epochs=50,
                    divergence_threshold=threshold)
    k = history.diverged_at
    assert history.diverged
    assert k >= 1
    assert len(history.params) == k
    assert history.updates == k - 1
    assert len(history.grad_evals) == k
    assert len(history.epoch_losses) == 1 + (k - 1) // history.updates_per_epoch
    assert np.all(np.isfinite(history.params))
    assert np.all(np.isfinite(history.update_losses))
    limit = threshold * problem.loss(np.zeros(2))
    assert history.epoch_losses.max() <= limit
    assert max(problem.loss(w) for w in history.params) <= limit * problem.n_samples
    with pytest.raises(DivergenceError, match=f"diverged at step {k}: loss = "):
        train(problem, [0.0, 0.0], GD(lr=lr), batch_size=batch_size, epochs=50,
              divergence_threshold=threshold, on_divergence="raise")


def test_train_validation():
    problem = LinearRegression(*linear_data(50, seed=0))
    with pytest.raises(ValueError, match="batch_size must be <= 50"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=51, epochs=1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=0, epochs=1)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\)"):
        train(problem, [0.0], GD(lr=0.1), batch_size=5, epochs=1)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5.0, epochs=1)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=1, seed=-1)
    with pytest.raises(ValueError, match="divergence_threshold"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=1, divergence_threshold=0.5)
    with pytest.raises(ValueError, match="on_divergence"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=1, on_divergence="warn")
    with pytest.raises(TypeError, match="problem must have loss"):
        train(Parabola(), [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=1)
    with pytest.raises(TypeError, match="optimizer must have init"):
        train(problem, [0.0, 0.0], None, batch_size=5, epochs=1)
    with pytest.raises(ValueError, match="lr"):
        train(problem, [0.0, 0.0], GD(lr=-0.1), batch_size=5, epochs=1)

"""minimize and train: closed forms, divergence, batch sizes, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from gdcourse.data import LinearRegression, LogisticRegression, linear_data, two_class_data
from gdcourse.losses import Parabola, Quadratic, Rosenbrock
from gdcourse.optim import GD, Adam, Momentum
from gdcourse.run import DivergenceError, minimize, train


def test_gd_on_parabola_matches_closed_form_and_prints_worked_example():
    trajectory = minimize(Parabola(), 14.0, GD(lr=0.1), steps=100)
    t = np.arange(101)
    np.testing.assert_allclose(trajectory.params, 4 + 0.9**t * 10, rtol=1e-12)
    np.testing.assert_allclose(trajectory.losses, 0.5 * (0.9**t * 10) ** 2, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(trajectory.grad_norms, 0.9**t * 10, rtol=1e-10)
    assert f"x_min = {trajectory.final_params:.3f}" == "x_min = 4.000"
    assert f"{trajectory.final_loss:.3f}" == "0.000"
    assert trajectory.steps == 100 and not trajectory.diverged
    assert trajectory.label == "GD(lr=0.1)"


def test_arrays_keep_their_shape():
    loss = Quadratic.ill_conditioned(10.0)
    trajectory = minimize(loss, loss.default_start, Momentum(lr=0.05), 30)
    assert trajectory.params.shape == (31, 2)
    assert trajectory.final_params.shape == (2,)


def test_divergence_is_flagged_at_the_right_step():
    # error 10·1.5^t, loss 50·2.25^t exceeds 1e10 · 50 first at t = 29
    trajectory = minimize(Parabola(), 14.0, GD(lr=2.5), steps=100)
    assert trajectory.diverged and trajectory.diverged_at == 29
    assert trajectory.steps == 28 and np.all(np.isfinite(trajectory.params))
    with pytest.raises(DivergenceError, match="diverged at step 29: loss = "):
        minimize(Parabola(), 14.0, GD(lr=2.5), steps=100, on_divergence="raise")


def test_overflow_to_infinity_is_caught_without_warnings():
    trajectory = minimize(Rosenbrock(), [-1.5, 2.0], GD(lr=0.1), steps=200)
    assert trajectory.diverged and np.all(np.isfinite(trajectory.losses))


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
    np.testing.assert_allclose(history.params, trajectory.params, rtol=1e-14)
    assert history.label == "batch GD"
    np.testing.assert_array_equal(history.grad_evals, 40 * np.arange(26))


def test_partial_batches_and_gradient_evaluation_counts():
    problem = LinearRegression(*linear_data(10, seed=0))
    history = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=4, epochs=2)
    assert history.updates_per_epoch == 3 and history.updates == 6
    np.testing.assert_array_equal(history.grad_evals, [0, 4, 8, 10, 14, 18, 20])
    assert history.epoch_losses.shape == (3,) and history.params.shape == (7, 2)
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


def test_train_divergence_and_validation():
    problem = LinearRegression(*linear_data(50, seed=0))
    history = train(problem, [0.0, 0.0], GD(lr=50.0), batch_size=10, epochs=50)
    assert history.diverged and history.diverged_at is not None
    assert np.all(np.isfinite(history.params))
    with pytest.raises(DivergenceError):
        train(problem, [0.0, 0.0], GD(lr=50.0), batch_size=10, epochs=50, on_divergence="raise")
    with pytest.raises(ValueError, match="batch_size must be <= 50"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=51, epochs=1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=0, epochs=1)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=5, epochs=0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\)"):
        train(problem, [0.0], GD(lr=0.1), batch_size=5, epochs=1)

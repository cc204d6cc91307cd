"""Polyak–Ruppert iterate averaging (chapter 4): definition, shapes, and the noise it removes."""

from __future__ import annotations

import numpy as np
import pytest

from gdcourse.averaging import iterate_average
from gdcourse.data import LinearRegression, linear_data
from gdcourse.optim import GD
from gdcourse.run import train


def test_running_average_matches_the_definition():
    rng = np.random.default_rng(0)
    params = rng.standard_normal((50, 3))
    for start in (0, 7, 49):
        averages = iterate_average(params, start=start)
        assert averages.shape == (50 - start, 3)
        for k in (0, 5, len(averages) - 1):
            if k < len(averages):
                np.testing.assert_allclose(averages[k], params[start:start + k + 1].mean(axis=0))
    np.testing.assert_allclose(iterate_average([4.0, 0.0, 2.0, 1.0], start=1), [0.0, 1.0, 1.0])


def test_averaging_lowers_the_noise_floor_of_constant_rate_sgd():
    x, y = linear_data(500, noise=1.0, seed=0)
    problem = LinearRegression(x, y)
    solution = problem.solution()
    best = problem.loss(solution)
    history = train(problem, solution, GD(lr=0.05), batch_size=1, epochs=6, seed=0)
    n = problem.n_samples
    last = np.mean([problem.loss(p) for p in history.params[-n:]]) - best
    averaged = problem.loss(iterate_average(history.params, start=n)[-1]) - best
    assert averaged < last / 10


@pytest.mark.parametrize(
    ("params", "start", "error", "match"),
    [
        (np.zeros((0, 2)), 0, ValueError, "params"),
        (np.zeros((2, 2, 2)), 0, ValueError, "params"),
        (np.zeros(5), 5, ValueError, "start"),
        (np.zeros(5), -1, ValueError, "start"),
        (np.zeros(5), 1.0, TypeError, "start"),
        ("abc", 0, TypeError, "params"),
    ],
)
def test_bad_input_names_the_argument(params, start, error, match):
    with pytest.raises(error, match=match):
        iterate_average(params, start=start)

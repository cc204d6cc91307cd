"""Learning-rate schedules: closed forms and validation (agreement with torch: test_optim_torch)."""

from __future__ import annotations

import itertools
import math

import pytest

from gdcourse.schedules import (
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseTimeDecay,
    LinearWarmup,
    SequentialSchedule,
    StepDecay,
)


def test_closed_forms():
    assert [StepDecay(1.0, 3, 0.5)(k) for k in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert ExponentialDecay(2.0, 0.5)(4) == 0.125
    cosine = CosineAnnealing(1.0, t_max=8, eta_min=0.2)
    assert cosine(0) == 1.0 and cosine(8) == pytest.approx(0.2)
    assert cosine(4) == pytest.approx(0.6)
    assert cosine(12) == pytest.approx(0.6)  # rises again after t_max, like torch
    warmup = LinearWarmup(1.0, start_factor=0.25, total_iters=3)
    assert [warmup(k) for k in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert Constant(0.3)(10**6) == 0.3
    inverse = InverseTimeDecay(2.0, tau=4.0)
    assert [inverse(k) for k in (0, 4, 12)] == [2.0, 1.0, 0.5]


def test_cosine_is_monotone_on_its_first_half_period():
    cosine = CosineAnnealing(0.1, t_max=50)
    values = [cosine(k) for k in range(51)]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_sequential_switches_and_restarts_count():
    schedule = SequentialSchedule([Constant(1.0), ExponentialDecay(0.5, 0.5)], milestones=[3])
    assert [schedule(k) for k in range(6)] == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Constant(-1), ValueError, "lr must be >= 0"),
        (lambda: StepDecay(0.1, step_size=0), ValueError, "step_size must be >= 1"),
        (lambda: StepDecay(0.1, step_size=2.5), TypeError, "step_size must be an integer"),
        (lambda: ExponentialDecay(0.1, gamma=math.nan), ValueError, "gamma must be finite"),
        (lambda: CosineAnnealing(0.1, t_max=0), ValueError, "t_max"),
        (lambda: InverseTimeDecay(0.1, tau=0.0), ValueError, "tau must be > 0"),
        (lambda: CosineAnnealing(0.1, t_max=5, eta_min=-1), ValueError, "eta_min"),
        (lambda: LinearWarmup(0.1, start_factor=0.0), ValueError, "start_factor must be > 0"),
        (lambda: LinearWarmup(0.1, end_factor=1.5), ValueError, "end_factor"),
        (lambda: SequentialSchedule([Constant(1.0)], milestones=[3]), ValueError, "milestones"),
        (lambda: SequentialSchedule([], milestones=[]), TypeError, "schedules"),
        (lambda: Constant(0.1)(-1), ValueError, "k"),
        (lambda: Constant(0.1)(1.5), TypeError, "k"),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()

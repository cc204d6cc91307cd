"""AdaMax (chapter 8): an independent oracle, its defining properties, and torch.optim.Adamax.

The oracle below is written from Kingma & Ba's algorithm 2 with PyTorch's placement of ε, one
scalar at a time in plain Python floats, so it shares no code with ``gdcourse.optim.AdaMax``.
The live comparison with ``torch.optim.Adamax`` (float64) runs when torch is installed, as it is
for the book build (the ``book`` extra), and is skipped otherwise.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from gdcourse import optim
from gdcourse.optim import Adam, AdaMax, AdaMaxState
from gdcourse.schedules import StepDecay

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from cases import STEPS, X0, test_gradient


def oracle(x0, gradient, steps, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
           lr_at=None):
    """AdaMax coordinate by coordinate in Python floats; returns the path x_0 .. x_steps."""
    x = [float(v) for v in x0]
    m = [0.0] * len(x)
    u = [0.0] * len(x)
    path = [list(x)]
    for t in range(1, steps + 1):
        g = [float(v) for v in gradient(np.array(x))]
        rate = lr if lr_at is None else lr_at(t - 1)
        for i in range(len(x)):
            gi = g[i] + weight_decay * x[i]
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            u[i] = max(beta2 * u[i], abs(gi) + eps)
            x[i] = x[i] - rate / (1 - beta1**t) * m[i] / u[i]
        path.append(list(x))
    return np.array(path)


def ours(optimizer, x0, gradient, steps):
    x = np.array(x0, dtype=float)
    state = optimizer.init(x)
    path = [x]
    for _ in range(steps):
        x, state = optimizer.step(x, gradient(x), state)
        path.append(x)
    return np.array(path), state


CASES = {
    "defaults": ({}, {}),
    "lr-betas": ({"lr": 0.05, "betas": (0.8, 0.99)}, {"lr": 0.05, "beta1": 0.8, "beta2": 0.99}),
    "weight-decay": ({"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.05, "weight_decay": 0.1}),
    "large-eps": ({"lr": 0.05, "eps": 0.5}, {"lr": 0.05, "eps": 0.5}),
}


@pytest.mark.parametrize("case", CASES)
def test_adamax_matches_the_oracle(case):
    kwargs, oracle_kwargs = CASES[case]
    path, state = ours(AdaMax(**kwargs), X0, test_gradient, STEPS)
    expected = oracle(X0, test_gradient, STEPS, **oracle_kwargs)
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-14)
    assert state.t == STEPS


def test_adamax_with_a_schedule_matches_the_oracle():
    schedule = StepDecay(0.1, step_size=7, gamma=0.5)
    path, _ = ours(AdaMax(lr=schedule), X0, test_gradient, STEPS)
    np.testing.assert_allclose(path, oracle(X0, test_gradient, STEPS, lr_at=schedule), rtol=1e-12)


def test_first_step_is_lr_times_sign_whatever_the_gradient_size():
    opt = AdaMax(lr=0.1)
    for g in (1e-3, 1.0, 1e4, -7.0):
        x, state = opt.step(5.0, g, opt.init(5.0))
        assert x == pytest.approx(5.0 - 0.1 * math.copysign(1.0, g), abs=1e-6)
        assert state.u == pytest.approx(abs(g) + 1e-8, rel=1e-15)


def test_u_is_a_decaying_maximum_not_an_average():
    # after one large gradient, u decays by beta2 per step while the gradients stay small
    opt = AdaMax(lr=0.0, betas=(0.9, 0.5))
    x, state = opt.step(0.0, 8.0, opt.init(0.0))
    for halvings in (1, 2, 3):
        x, state = opt.step(x, 0.1, state)
        assert state.u == pytest.approx((8.0 + 1e-8) * 0.5**halvings, rel=1e-12)
    x, state = opt.step(x, 3.0, state)             # a gradient above the decayed maximum takes over
    assert state.u == pytest.approx(3.0, rel=1e-8)


def test_adamax_differs_from_adam_after_the_first_step():
    # same first step (lr·sign g), different denominators from then on
    grads = [10.0, 1.0, 1.0]
    paths = []
    for opt in (AdaMax(lr=0.1), Adam(lr=0.1)):
        x, state = 0.0, opt.init(0.0)
        xs = []
        for g in grads:
            x, state = opt.step(x, g, state)
            xs.append(x)
        paths.append(xs)
    assert paths[0][0] == pytest.approx(paths[1][0], abs=1e-9)
    assert abs(paths[0][2] - paths[1][2]) > 1e-3


def test_scalar_array_float32_and_purity():
    opt = AdaMax(lr=0.05)
    x, state = opt.step(14.0, 10.0, opt.init(14.0))
    assert isinstance(x, float) and isinstance(state.m, float) and isinstance(state.u, float)
    array = np.full((2, 3), 14.0)
    new, array_state = opt.step(array, np.full((2, 3), 10.0), opt.init(array))
    np.testing.assert_array_equal(new, np.full((2, 3), x))
    assert isinstance(array_state, AdaMaxState)
    single = np.ones(4, dtype=np.float32)
    new32, state32 = opt.step(single, single, opt.init(single))
    assert new32.dtype == np.float32 and state32.u.dtype == np.float32
    before = (array.copy(), [np.copy(v) for v in array_state])
    opt.step(array, np.ones((2, 3)), array_state)
    np.testing.assert_array_equal(array, before[0])
    for saved, current in zip(before[1], array_state, strict=True):
        np.testing.assert_array_equal(saved, current)


def test_defaults_are_torch_defaults_and_it_is_exported():
    assert AdaMax() == AdaMax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    assert {"AdaMax", "AdaMaxState"} <= set(optim.__all__)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"lr": -1.0}, ValueError, "lr must be >= 0"),
    ({"betas": (0.9, 1.0)}, ValueError, r"betas\[1\]"),
    ({"betas": 0.9}, TypeError, "betas must be a pair"),
    ({"eps": 0.0}, ValueError, "eps must be > 0"),
    ({"weight_decay": -0.1}, ValueError, "weight_decay"),
])
def test_bad_hyperparameters_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        AdaMax(**kwargs)


@pytest.mark.parametrize("case", CASES)
def test_adamax_matches_live_torch(case):
    torch = pytest.importorskip("torch")
    kwargs, _ = CASES[case]
    param = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adamax([param], **kwargs)
    expected = [param.detach().numpy().copy()]
    for _ in range(STEPS):
        param.grad = torch.from_numpy(test_gradient(param.detach().numpy().copy()))
        optimizer.step()
        expected.append(param.detach().numpy().copy())
    path, _ = ours(AdaMax(**kwargs), X0, test_gradient, STEPS)
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-10, atol=1e-12)

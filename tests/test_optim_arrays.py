"""Reference optimizers on arrays: purity, memory, agreement with the one-line forms, threads.

The updates compute into fresh arrays with ``out=`` arguments (see the docstring of
:mod:`gdcourse.optim`). These tests pin down what that must preserve: inputs are never written,
returned arrays share no memory with the inputs or with each other, results equal the one-line
NumPy expressions bit for bit, and the scratch buffer that large arrays reuse is private to a
thread. "Large" means at least 1 MiB, from where the scratch buffer is kept between steps.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gdcourse.optim import GD, Adadelta, AdaGrad, Adam, AdamW, Momentum, NAdam, Nesterov, RMSProp

SMALL, LARGE = 7, 150_001  # LARGE float64: 1.2 MB

# Every optimizer, and every option that changes which arrays a step computes.
VARIANTS = [
    GD(lr=0.05),
    GD(lr=0.05, weight_decay=0.1),
    Momentum(lr=0.05),
    Momentum(lr=0.05, dampening=0.3, weight_decay=0.1),
    Nesterov(lr=0.05),
    Nesterov(lr=0.05, weight_decay=0.1),
    AdaGrad(lr=0.05, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.2),
    RMSProp(lr=0.05),
    RMSProp(lr=0.05, centered=True),
    RMSProp(lr=0.05, momentum=0.5, weight_decay=0.1),
    RMSProp(lr=0.05, centered=True, momentum=0.5, weight_decay=0.1),
    Adadelta(),
    Adadelta(weight_decay=0.1),
    Adam(lr=0.05),
    Adam(lr=0.05, amsgrad=True, weight_decay=0.1),
    AdamW(lr=0.05),
    AdamW(lr=0.05, amsgrad=True, weight_decay=0.3),
    NAdam(lr=0.05),
    NAdam(lr=0.05, weight_decay=0.1),
]
SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])


def arrays_of(state) -> list[np.ndarray]:
    return [value for value in state if isinstance(value, np.ndarray)]


# ---------------------------------------------------------------- purity and memory


@SIZES
@pytest.mark.parametrize("optimizer", VARIANTS, ids=str)
def test_array_step_writes_no_input_and_shares_no_memory(optimizer, size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=size)
    state = optimizer.init(x)
    for step in range(4):
        grad = rng.normal(size=size)
        inputs = [x, grad, *arrays_of(state)]
        copies = [array.copy() for array in inputs]
        new_x, new_state = optimizer.step(x, grad, state)
        for before, after in zip(copies, inputs, strict=True):
            assert after.tobytes() == before.tobytes(), f"step {step + 1} wrote to an input"
        computed = [new_x]
        for old, new in zip(state, new_state, strict=True):
            if not isinstance(new, np.ndarray):
                continue
            if new is old:  # a buffer these settings do not use: the zeros from init, untouched
                assert not new.any()
            else:
                computed.append(new)
        for i, array in enumerate(computed):
            assert array.shape == x.shape
            assert array.dtype == x.dtype
            assert not any(np.shares_memory(array, other) for other in inputs)
            assert not any(np.shares_memory(array, other) for other in computed[i + 1:])
        x, state = new_x, new_state  # the next step also checks that this one's results stay put


# ---------------------------------------------------------------- the one-line forms, bit for bit


def one_line_step(opt, x, g, state, lr):
    """The update of ``opt`` as one-line NumPy expressions (a new array for every operator)."""
    t = state.t + 1
    if opt.weight_decay != 0 and not isinstance(opt, AdamW):
        g = g + opt.weight_decay * x
    if isinstance(opt, (Momentum, Nesterov)):
        dampening = getattr(opt, "dampening", 0.0)
        b = g.copy() if state.t == 0 else opt.momentum * state.b + (1.0 - dampening) * g
        step = g + opt.momentum * b if isinstance(opt, Nesterov) else b
        return x - lr * step, (t, b)
    if isinstance(opt, GD):
        return x - lr * g, (t,)
    if isinstance(opt, AdaGrad):
        s = state.s + g * g
        decayed_lr = lr / (1.0 + (t - 1) * opt.lr_decay)
        return x - decayed_lr * g / (np.sqrt(s) + opt.eps), (t, s)
    if isinstance(opt, RMSProp):
        v = opt.alpha * state.v + (1.0 - opt.alpha) * g * g
        g_avg, b = state.g_avg, state.b
        if opt.centered:
            g_avg = opt.alpha * g_avg + (1.0 - opt.alpha) * g
        scaled_g = g / (np.sqrt(v - g_avg * g_avg if opt.centered else v) + opt.eps)
        if opt.momentum > 0:
            b = opt.momentum * b + scaled_g
        return x - lr * (b if opt.momentum > 0 else scaled_g), (t, v, g_avg, b)
    if isinstance(opt, Adadelta):
        v = opt.rho * state.v + (1.0 - opt.rho) * g * g
        delta = np.sqrt(state.u + opt.eps) / np.sqrt(v + opt.eps) * g
        u = opt.rho * state.u + (1.0 - opt.rho) * delta * delta
        return x - lr * delta, (t, v, u)
    beta1, beta2 = opt.betas
    m = beta1 * state.m + (1.0 - beta1) * g
    v = beta2 * state.v + (1.0 - beta2) * g * g
    if isinstance(opt, NAdam):
        mu, mu_next = opt.mu(t), opt.mu(t + 1)
        mu_product = state.mu_product * mu
        denom = np.sqrt(v / (1.0 - beta2**t)) + opt.eps
        new_x = (x - lr * (1.0 - mu) / (1.0 - mu_product) * g / denom
                 - lr * mu_next / (1.0 - mu_product * mu_next) * m / denom)
        return new_x, (t, m, v, mu_product)
    if isinstance(opt, AdamW):
        x = x * (1.0 - lr * opt.weight_decay)
    v_max = np.maximum(state.v_max, v) if opt.amsgrad else state.v_max
    v_hat = (v_max if opt.amsgrad else v) / (1.0 - beta2**t)
    return x - lr * (m / (1.0 - beta1**t)) / (np.sqrt(v_hat) + opt.eps), (t, m, v, v_max)


@SIZES
@pytest.mark.parametrize("optimizer", VARIANTS, ids=str)
def test_updates_equal_the_one_line_forms_bit_for_bit(optimizer, size):
    rng = np.random.default_rng(1)
    x = rng.normal(size=size) * 3
    state = optimizer.init(x)
    for step in range(5):
        grad = rng.normal(size=size) * 10.0 ** rng.integers(-3, 3, size=size)
        expected_x, expected_state = one_line_step(optimizer, x, grad, state, optimizer.lr)
        x, state = optimizer.step(x, grad, state)
        assert x.tobytes() == expected_x.tobytes(), f"x differs at step {step + 1}"
        for field, actual, expected in zip(state._fields, state, expected_state, strict=True):
            assert np.asarray(actual).tobytes() == np.asarray(expected).tobytes(), (
                f"{field} differs at step {step + 1}")


# ---------------------------------------------------------------- threads


def test_threads_stepping_at_once_do_not_disturb_each_other():
    # Large arrays compute their intermediate terms in a scratch buffer kept per thread; NumPy
    # releases the GIL inside its loops, so a shared buffer would mix up concurrent steps.
    rng = np.random.default_rng(2)
    grads = rng.normal(size=(4, 6, LARGE))

    def final_x(run: int) -> bytes:
        optimizer = NAdam(lr=0.05) if run % 2 else RMSProp(lr=0.05, centered=True)
        x = np.full(LARGE, float(run))
        state = optimizer.init(x)
        for grad in grads[run]:
            x, state = optimizer.step(x, grad, state)
        return x.tobytes()

    one_at_a_time = [final_x(run) for run in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        at_once = list(pool.map(final_x, range(4)))
    assert at_once == one_at_a_time

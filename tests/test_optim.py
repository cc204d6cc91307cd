"""Reference optimizers: closed forms, hand-computed steps, convergence, purity, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdcourse import optim, schedules
from gdcourse.optim import (
    GD,
    OPTIMIZERS,
    Adadelta,
    AdaGrad,
    Adam,
    AdamW,
    Momentum,
    NAdam,
    Nesterov,
    RMSProp,
    get_optimizer,
)


def parabola_grad(x):
    """Gradient of ½(x − 4)²."""
    return x - 4.0


# An ill-conditioned quadratic ½ xᵀ diag(1, 50) x: condition number 50, minimum at 0.
CURVATURES = np.array([1.0, 50.0])


def quadratic_grad(x):
    return CURVATURES * x


def run(optimizer, grad, x0, steps):
    x, state = x0, optimizer.init(x0)
    path = [x]
    for _ in range(steps):
        x, state = optimizer.step(x, grad(x), state)
        path.append(x)
    return path, state


def steps_to_tolerance(optimizer, grad, x0, tol, max_steps=5000):
    x, state = x0, optimizer.init(x0)
    for step in range(1, max_steps + 1):
        x, state = optimizer.step(x, grad(x), state)
        if np.linalg.norm(x) < tol:
            return step
    return math.inf


# ---------------------------------------------------------------- closed forms and hand steps


def test_gd_on_parabola_follows_closed_form():
    lr, x0 = 0.1, 14.0
    path, state = run(GD(lr=lr), parabola_grad, x0, 100)
    expected = [4.0 + (1.0 - lr) ** t * (x0 - 4.0) for t in range(101)]
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-12)
    assert state.t == 100
    x_min = path[-1]
    assert f"x_min = {x_min:.3f}" == "x_min = 4.000"
    assert f"{0.5 * (x_min - 4.0) ** 2:.3f}" == "0.000"
    assert isinstance(x_min, float)


def test_first_two_adam_steps_by_hand():
    # L(x) = ½(x − 4)², x0 = 14, lr = 0.1, default betas and eps.
    opt = Adam(lr=0.1)
    x, state = opt.step(14.0, 10.0, opt.init(14.0))
    # m1 = 0.1·10 = 1, v1 = 0.001·100 = 0.1, m̂ = 1/0.1 = 10, v̂ = 0.1/0.001 = 100
    assert state.m == pytest.approx(1.0, rel=1e-15)
    assert state.v == pytest.approx(0.1, rel=1e-15)
    assert x == pytest.approx(14.0 - 0.1 * 10 / (10 + 1e-8), rel=1e-15)
    g2 = x - 4.0  # 9.9000000001
    x2, state2 = opt.step(x, g2, state)
    m2 = 0.9 * 1.0 + 0.1 * g2
    v2 = 0.999 * 0.1 + 0.001 * g2**2
    m_hat = m2 / (1 - 0.9**2)
    v_hat = v2 / (1 - 0.999**2)
    assert state2.t == 2
    assert state2.m == pytest.approx(m2, rel=1e-14)
    assert state2.v == pytest.approx(v2, rel=1e-14)
    assert x2 == pytest.approx(x - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8), rel=1e-14)


def test_momentum_buffer_starts_at_first_gradient_without_dampening():
    opt = Momentum(lr=0.1, momentum=0.5, dampening=0.5)
    x, state = opt.step(14.0, 10.0, opt.init(14.0))
    assert state.b == 10.0  # b1 = g1, no dampening at t = 1
    x, state = opt.step(x, 8.0, state)
    assert state.b == pytest.approx(0.5 * 10.0 + 0.5 * 8.0)


def test_nesterov_equals_lookahead_form_with_constant_lr():
    # Sutskever's look-ahead form: v ← μv − η∇L(θ + μv); θ ← θ + v, with φ = θ + μv tracked by
    # PyTorch's form. Compare the sequence of look-ahead points φ with Nesterov's parameters.
    lr, mu = 0.02, 0.9
    theta, v = np.array([3.0, 1.0]), np.zeros(2)
    phi_path = []
    for _ in range(40):
        v = mu * v - lr * quadratic_grad(theta + mu * v)
        theta = theta + v
        phi_path.append(theta + mu * v)
    path, _ = run(Nesterov(lr=lr, momentum=mu), quadratic_grad, np.array([3.0, 1.0]), 40)
    np.testing.assert_allclose(np.array(path[1:]), np.array(phi_path), rtol=1e-10, atol=1e-12)


def test_momentum_equals_velocity_form_with_constant_lr():
    lr, beta = 0.01, 0.9
    x, v = np.array([3.0, 1.0]), np.zeros(2)
    velocity_path = []
    for _ in range(30):
        v = beta * v + lr * quadratic_grad(x)
        x = x - v
        velocity_path.append(x)
    path, _ = run(Momentum(lr=lr, momentum=beta), quadratic_grad, np.array([3.0, 1.0]), 30)
    np.testing.assert_allclose(np.array(path[1:]), np.array(velocity_path), rtol=1e-10)


def test_adagrad_eps_outside_root_and_lr_decay():
    opt = AdaGrad(lr=1.0, lr_decay=0.5, eps=0.5)
    x, state = opt.step(0.0, 2.0, opt.init(0.0))
    assert x == pytest.approx(-2.0 / (2.0 + 0.5))  # ε outside √s; sqrt(4 + 0.5) would differ
    x, state = opt.step(x, 2.0, state)
    assert x == pytest.approx(-2.0 / 2.5 - (1.0 / 1.5) * 2.0 / (math.sqrt(8.0) + 0.5))


def test_rmsprop_centered_uses_variance():
    opt = RMSProp(lr=0.1, alpha=0.5, eps=1e-8, centered=True)
    x, state = opt.step(0.0, 2.0, opt.init(0.0))
    # v = 0.5·4 = 2, ḡ = 0.5·2 = 1, √(v − ḡ²) = 1
    assert state.v == pytest.approx(2.0) and state.g_avg == pytest.approx(1.0)
    assert x == pytest.approx(-0.1 * 2.0 / (1.0 + 1e-8))


def test_adadelta_eps_inside_roots():
    opt = Adadelta(lr=1.0, rho=0.5, eps=0.25)
    x, state = opt.step(0.0, 1.0, opt.init(0.0))
    delta = math.sqrt(0.0 + 0.25) / math.sqrt(0.5 + 0.25) * 1.0
    assert x == pytest.approx(-delta)
    assert state.u == pytest.approx(0.5 * delta**2)


def test_amsgrad_uses_running_max_of_v():
    opt = Adam(lr=0.1, betas=(0.0, 0.5), amsgrad=True)
    x, state = opt.step(0.0, 4.0, opt.init(0.0))
    x, state = opt.step(x, 0.0, state)  # v falls, v_max stays
    assert state.v == pytest.approx(4.0) and state.v_max == pytest.approx(8.0)
    _, state_plain = Adam(lr=0.1, betas=(0.0, 0.5)).step(0.0, 4.0, Adam().init(0.0))
    assert state_plain.v_max == 0.0


def test_adamw_decays_before_adam_step_and_adam_couples():
    g = 0.0  # with zero gradient only the decay acts
    x, _ = AdamW(lr=0.1, weight_decay=0.5).step(2.0, g, AdamW().init(2.0))
    assert x == pytest.approx(2.0 * (1 - 0.05))
    x, _ = Adam(lr=0.1, weight_decay=0.5).step(2.0, g, Adam().init(2.0))
    assert x == pytest.approx(2.0 - 0.1)  # coupled: g = 0.5·2 = 1, Adam's first step is lr·sign


def test_nadam_momentum_schedule():
    opt = NAdam()
    assert opt.mu(1) == pytest.approx(0.9 * (1 - 0.5 * 0.96**0.004))
    assert opt.mu(1) < opt.mu(1000) < 0.9


# ---------------------------------------------------------------- convergence, table-driven

CONVERGENCE = [
    (GD(lr=0.5), 200),
    (Momentum(lr=0.1, momentum=0.5), 300),
    (Nesterov(lr=0.1, momentum=0.5), 300),
    (AdaGrad(lr=2.0), 2000),
    (RMSProp(lr=0.01), 4000),
    (RMSProp(lr=0.01, centered=True, momentum=0.5), 4000),
    (Adadelta(lr=0.2), 6000),  # slow, and it hovers at a level set by lr and eps
    (Adam(lr=0.1), 2000),
    (Adam(lr=0.1, amsgrad=True), 2000),
    (AdamW(lr=0.1, weight_decay=0.0), 2000),
    (NAdam(lr=0.1), 2000),
]


@pytest.mark.parametrize(("optimizer", "steps"), CONVERGENCE, ids=str)
def test_every_optimizer_converges_on_the_parabola(optimizer, steps):
    path, _ = run(optimizer, parabola_grad, 14.0, steps)
    assert abs(path[-1] - 4.0) < 1e-2


@pytest.mark.parametrize(("optimizer", "steps"), CONVERGENCE, ids=str)
def test_every_optimizer_converges_on_ill_conditioned_quadratic(optimizer, steps):
    if isinstance(optimizer, (GD, Momentum, Nesterov)):
        # GD needs lr < 2/L = 0.04 here; Nesterov with μ = 0.5 needs lr·L < 2(1+μ)/(1+2μ) = 1.5
        optimizer = type(optimizer)(**{**optimizer.__dict__, "lr": 0.025})
        steps = 2000
    path, _ = run(optimizer, quadratic_grad, np.array([3.0, 1.0]), steps)
    assert np.linalg.norm(path[-1]) < 1e-2, path[-1]


def test_momentum_beats_gd_on_ill_conditioned_quadratic():
    x0 = np.array([3.0, 1.0])
    gd_steps = steps_to_tolerance(GD(lr=0.035), quadratic_grad, x0, 1e-6)
    momentum_steps = steps_to_tolerance(Momentum(lr=0.035, momentum=0.7), quadratic_grad, x0, 1e-6)
    assert momentum_steps < gd_steps / 2 < math.inf


def test_gd_diverges_above_stability_bound():
    path, _ = run(GD(lr=2.1), parabola_grad, 14.0, 50)  # L = 1, bound 2/L
    assert abs(path[-1] - 4.0) > abs(14.0 - 4.0) * 1.05**50 / 10


# ---------------------------------------------------------------- schedules inside optimizers


def test_schedule_drives_gd_learning_rate():
    schedule = schedules.StepDecay(0.5, step_size=2, gamma=0.1)
    opt = GD(lr=schedule)
    x, state = 1.0, opt.init(1.0)
    lrs = []
    for _ in range(5):
        new_x, state = opt.step(x, 1.0, state)  # gradient 1: the step is the lr
        lrs.append(x - new_x)
        x = new_x
    np.testing.assert_allclose(lrs, [0.5, 0.5, 0.05, 0.05, 0.005])


def test_schedule_returning_bad_value_is_reported():
    opt = GD(lr=lambda k: -1.0 if k == 2 else 0.1)
    x, state = 1.0, opt.init(1.0)
    x, state = opt.step(x, 1.0, state)
    x, state = opt.step(x, 1.0, state)
    with pytest.raises(ValueError, match="lr schedule value at step 3"):
        opt.step(x, 1.0, state)


# ---------------------------------------------------------------- scalars, arrays, purity

ALL_DEFAULTS = [cls(lr=0.05) for cls in OPTIMIZERS.values()]


@pytest.mark.parametrize("optimizer", ALL_DEFAULTS, ids=str)
def test_scalar_and_array_give_the_same_numbers(optimizer):
    scalar_path, scalar_state = run(optimizer, parabola_grad, 14.0, 20)
    array_path, _ = run(optimizer, parabola_grad, np.full((2, 3), 14.0), 20)
    assert all(isinstance(x, float) for x in scalar_path)
    assert all(not isinstance(v, np.ndarray) for v in scalar_state)
    for scalar, array in zip(scalar_path, array_path, strict=True):
        assert array.shape == (2, 3)
        np.testing.assert_array_equal(array, np.full((2, 3), scalar))


@pytest.mark.parametrize("optimizer", ALL_DEFAULTS, ids=str)
def test_float32_stays_float32(optimizer):
    x = np.ones(4, dtype=np.float32)
    new_x, state = optimizer.step(x, x, optimizer.init(x))
    assert new_x.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state if isinstance(v, np.ndarray))


@pytest.mark.parametrize("optimizer", ALL_DEFAULTS, ids=str)
@settings(max_examples=25, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-100, 100)),
    seed=st.integers(0, 2**32 - 1),
)
def test_step_never_mutates_its_inputs(optimizer, x, seed):
    rng = np.random.default_rng(seed)
    state = optimizer.init(x)
    for _ in range(2):  # also from a non-initial state
        x, state = optimizer.step(x, rng.normal(size=x.shape), state)
    grad = rng.normal(size=x.shape)
    copies = (x.copy(), grad.copy(), [np.copy(v) for v in state])
    new_x, new_state = optimizer.step(x, grad, state)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(grad, copies[1])
    for before, after in zip(copies[2], state, strict=True):
        np.testing.assert_array_equal(before, after)
    assert new_x is not x
    assert new_state.t == state.t + 1


@pytest.mark.parametrize("optimizer", ALL_DEFAULTS, ids=str)
def test_same_inputs_same_outputs_bit_for_bit(optimizer):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(30, 3))
    paths = []
    for _ in range(2):
        x, state = np.zeros(3), optimizer.init(np.zeros(3))
        for g in grads:
            x, state = optimizer.step(x, g, state)
        paths.append(x)
    assert paths[0].tobytes() == paths[1].tobytes()


def test_registry_and_labels():
    assert set(OPTIMIZERS) == {"gd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
                               "adam", "adamw", "nadam", "adamax"}
    assert get_optimizer("Adam", lr=0.1) == Adam(lr=0.1)
    assert str(Adam(lr=0.1)) == "Adam(lr=0.1)"
    assert str(Momentum(lr=0.1, momentum=0.5)) == "Momentum(lr=0.1, momentum=0.5)"
    assert "CosineAnnealing" in str(GD(lr=schedules.CosineAnnealing(0.1, 10)))


def test_defaults_match_torch():
    assert GD().lr == 1e-3 and Momentum().momentum == 0.9
    assert AdaGrad() == AdaGrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                                eps=1e-10)
    assert RMSProp() == RMSProp(lr=1e-2, alpha=0.99, eps=1e-8, centered=False)
    assert Adadelta() == Adadelta(lr=1.0, rho=0.9, eps=1e-6)
    assert Adam() == Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, amsgrad=False)
    assert AdamW().weight_decay == 1e-2
    assert NAdam() == NAdam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3)


# ---------------------------------------------------------------- bad input

BAD_HYPERPARAMETERS = [
    (GD, {"lr": -0.1}, ValueError, "lr must be >= 0"),
    (GD, {"lr": float("nan")}, ValueError, "lr must be finite"),
    (GD, {"lr": float("inf")}, ValueError, "lr must be finite"),
    (GD, {"lr": "0.1"}, TypeError, "lr must be a real number"),
    (GD, {"weight_decay": -1}, ValueError, "weight_decay"),
    (Momentum, {"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\)"),
    (Momentum, {"momentum": -0.1}, ValueError, "momentum"),
    (Momentum, {"dampening": 1.5}, ValueError, "dampening"),
    (Nesterov, {"momentum": 1.2}, ValueError, "momentum"),
    (AdaGrad, {"eps": 0.0}, ValueError, "eps must be > 0"),
    (AdaGrad, {"lr_decay": -1}, ValueError, "lr_decay"),
    (AdaGrad, {"initial_accumulator_value": -1}, ValueError, "initial_accumulator_value"),
    (RMSProp, {"alpha": 1.0}, ValueError, "alpha"),
    (RMSProp, {"centered": "yes"}, TypeError, "centered"),
    (Adadelta, {"rho": 1.5}, ValueError, "rho"),
    (Adam, {"betas": (0.9, 1.0)}, ValueError, r"betas\[1\] must be in \[0, 1\)"),
    (Adam, {"betas": (-0.1, 0.9)}, ValueError, r"betas\[0\]"),
    (Adam, {"betas": 0.9}, TypeError, "betas must be a pair"),
    (Adam, {"eps": -1e-8}, ValueError, "eps"),
    (Adam, {"amsgrad": 1}, TypeError, "amsgrad"),
    (AdamW, {"weight_decay": -0.01}, ValueError, "weight_decay"),
    (NAdam, {"momentum_decay": -1}, ValueError, "momentum_decay"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "message"), BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_bad_step_arguments_raise():
    opt = Adam()
    state = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grad must have the shape of x \(3,\), got shape \(2,\)"):
        opt.step(np.zeros(3), np.zeros(2), state)
    with pytest.raises(TypeError, match="state must be the AdamState"):
        opt.step(np.zeros(3), np.zeros(3), GD().init(np.zeros(3)))
    with pytest.raises(TypeError, match="x must be a real number"):
        opt.step("14", 1.0, opt.init(1.0))
    with pytest.raises(TypeError, match="grad must be a real number"):
        opt.step(1.0, None, opt.init(1.0))
    with pytest.raises(TypeError, match="x must be a real number"):
        opt.init(np.array([True, False]))


def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="name must be one of gd, momentum"):
        get_optimizer("sgd")
    with pytest.raises(TypeError, match="name must be a string"):
        get_optimizer(3)


def test_module_exports_every_public_name():
    assert set(optim.__all__) >= {cls.__name__ for cls in OPTIMIZERS.values()}

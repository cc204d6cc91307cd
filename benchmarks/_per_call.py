"""Per-call cost of the reference optimizers on the book's problem sizes (2 to 10⁴ parameters).

A step of ``gdcourse.optim`` against the same equations written as plain NumPy lines in a loop
(no class, no checks, no state tuple), and against ``torch.optim`` on the 2-parameter problems
when torch is installed (one thread; the gradient is assigned to ``.grad`` before each step,
as a training loop does). Both run the same chained steps on the same precomputed gradients, side
by side, and the figure is the median over repeated runs of ``STEPS`` steps; the NumPy variants
are timed in the same interleaved rounds (:func:`~benchmarks._timing.interleaved_median_seconds`),
torch on its own just after.
Targets: ≤ 1.5x the plain lines at every size; ≥ 3x faster than torch.optim at 2 parameters.

Beside the ratio, ``interface_floor_ratio`` (information, no target) is the ratio that the plain
lines would reach if each step were one bare Python call returning a fresh state tuple
(:func:`interface_floor`): the cost of the ``step(x, g, state) -> (x, state)`` interface
itself, with no argument checks. For an update of two NumPy operations on a 2-vector (GD) this
floor alone is about 1.4-1.5x, so the 1.5x target cannot hold there with any check of the
arguments; for updates of four or more operations the floor is well below it.
``unchecked_ratio`` (information) times the same steps through the update itself
(:func:`unchecked`), without the argument check and learning-rate lookup of ``step``.
"""

from __future__ import annotations

import numpy as np

from benchmarks._timing import interleaved_median_seconds, median_seconds, row
from gdcourse import optim

SIZES = (2, 100, 10_000)
STEPS = 200
PLAIN_RATIO, TORCH_SPEEDUP = 1.5, 3.0


def plain_gd(x, grads, lr=1e-3):
    for _t, g in enumerate(grads, start=1):  # the step count, as the state keeps it
        x = x - lr * g
    return x


def plain_momentum(x, grads, lr=1e-3, mu=0.9, tau=0.0):
    b = None
    for g in grads:
        b = g.copy() if b is None else mu * b + (1 - tau) * g  # the class's equation, dampening τ
        x = x - lr * b
    return x


def plain_nesterov(x, grads, lr=1e-3, mu=0.9):
    b = None
    for g in grads:
        b = g.copy() if b is None else mu * b + g  # torch's Nesterov has no dampening
        x = x - lr * (g + mu * b)
    return x


def plain_adagrad(x, grads, lr=1e-2, eps=1e-10):
    s = np.zeros_like(x)
    for g in grads:
        s = s + g * g
        x = x - lr * g / (np.sqrt(s) + eps)
    return x


def plain_rmsprop(x, grads, lr=1e-2, alpha=0.99, eps=1e-8):
    v = np.zeros_like(x)
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g
        x = x - lr * (g / (np.sqrt(v) + eps))
    return x


def plain_adadelta(x, grads, lr=1.0, rho=0.9, eps=1e-6):
    v, u = np.zeros_like(x), np.zeros_like(x)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        x = x - lr * delta
        u = rho * u + (1 - rho) * delta * delta
    return x


def plain_adam(x, grads, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, decay=0.0):
    m, v = np.zeros_like(x), np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        if decay:
            x = x * (1 - lr * decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
    return x


def plain_adamw(x, grads):
    return plain_adam(x, grads, decay=1e-2)


def plain_nadam(x, grads, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, psi=4e-3):
    m, v, mu_product = np.zeros_like(x), np.zeros_like(x), 1.0
    for t, g in enumerate(grads, start=1):
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = mu_product * mu
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2**t)) + eps
        g_coef = lr * (1 - mu) / (1 - mu_product)
        m_coef = lr * mu_next / (1 - mu_product * mu_next)
        x = x - g_coef * g / denom - m_coef * m / denom
    return x


# name: (our optimizer, the plain lines, torch class, torch kwargs); every one at its defaults
CASES = {
    "GD": (optim.GD(), plain_gd, "SGD", {"lr": 1e-3}),
    "Momentum": (optim.Momentum(), plain_momentum, "SGD", {"lr": 1e-3, "momentum": 0.9}),
    "Nesterov": (optim.Nesterov(), plain_nesterov, "SGD",
                 {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    "AdaGrad": (optim.AdaGrad(), plain_adagrad, "Adagrad", {}),
    "RMSProp": (optim.RMSProp(), plain_rmsprop, "RMSprop", {}),
    "Adadelta": (optim.Adadelta(), plain_adadelta, "Adadelta", {}),
    "Adam": (optim.Adam(), plain_adam, "Adam", {}),
    "AdamW": (optim.AdamW(), plain_adamw, "AdamW", {}),
    "NAdam": (optim.NAdam(), plain_nadam, "NAdam", {}),
}


def ours(optimizer, x, grads):
    state = optimizer.init(x)
    for g in grads:
        x, state = optimizer.step(x, g, state)
    return x


def unchecked(optimizer, x, grads):
    """The same steps through the optimizer's update itself, ``_update(x, g, state, lr)``, with
    none of what :meth:`~gdcourse.optim.Optimizer.step` adds (the argument check, the
    learning-rate lookup and one call): what a step would cost without checking its input.
    Information for the owner's choice on GD's target, no target of its own. Every case of
    :data:`CASES` has a constant learning rate, which is passed as it is."""
    state, lr = optimizer.init(x), optimizer.lr
    for g in grads:
        x, state = optimizer._update(x, g, state, lr)
    return x


def interface_floor(optimizer, x, grads):
    """A function timing what any ``step(x, g, state) -> (x, state)`` interface costs per step
    on top of the arithmetic: one Python call that takes the arguments and returns the same
    parameters with a fresh state tuple of the optimizer's type (no checks, no NumPy work).
    Plain lines plus this is the least a step of such an interface can cost."""
    state = optimizer.init(x)
    state_type = type(state)

    def step(x, g, state):  # noqa: ARG001 - the interface takes g; the floor does no arithmetic
        return x, state_type(*state)

    def run():
        params, current = x, state
        for g in grads:
            params, current = step(params, g, current)
        return params

    return run


def torch_run(name: str, kwargs: dict, x: np.ndarray, grads: np.ndarray):
    """A function running ``torch.optim.<name>`` over ``grads`` from ``x``, or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    start = torch.tensor(x)
    tensors = list(torch.tensor(grads))

    def run():
        param = start.clone().requires_grad_(True)
        optimizer = getattr(torch.optim, name)([param], **kwargs)
        for g in tensors:
            param.grad = g
            optimizer.step()
        return param

    return run


def verdict(ratio_plain: float, speedup_torch: float | None) -> bool:
    """A size passes when the step costs at most 1.5x the plain lines and, where torch was
    timed, is at least 3x faster than torch.optim."""
    return ratio_plain <= PLAIN_RATIO and (speedup_torch is None or speedup_torch >= TORCH_SPEEDUP)


def run(repeats: int = 15) -> list[dict]:
    rows = []
    for size in SIZES:
        rng = np.random.default_rng(size)
        x, grads = rng.normal(size=size), rng.normal(size=(STEPS, size))
        for name, (optimizer, plain, torch_name, torch_kwargs) in CASES.items():
            expected = plain(x, grads)
            actual = ours(optimizer, x, grads)
            if actual.tobytes() != expected.tobytes():  # the same equations, or no comparison
                raise AssertionError(f"{name}: plain lines and gdcourse.optim disagree")
            gradients = list(grads)
            runs = {
                "ours": lambda o=optimizer, x=x, g=gradients: ours(o, x, g),
                "plain": lambda p=plain, x=x, g=gradients: p(x, g),
                "floor": interface_floor(optimizer, x, gradients),
                "unchecked": lambda o=optimizer, x=x, g=gradients: unchecked(o, x, g),
            }
            seconds = {variant: total / STEPS for variant, total in
                       interleaved_median_seconds(runs, repeats=repeats).items()}
            our_s, plain_s, floor_s = seconds["ours"], seconds["plain"], seconds["floor"]
            unchecked_s = seconds["unchecked"]
            # torch on its own: its 100-fold longer runs would evict the others' code and data
            # from the caches between their samples, which a training loop never does
            torch_fn = torch_run(torch_name, torch_kwargs, x, grads) if size == 2 else None
            torch_s = (None if torch_fn is None
                       else median_seconds(torch_fn, repeats=repeats) / STEPS)
            speedup = None if torch_s is None else torch_s / our_s
            rows.append(row(
                "optimizers", f"{name} step, {size} float64", our_s * 1e6, "µs",
                target="<=1.5x plain lines" + (", >=3x faster than torch" if size == 2 else ""),
                ok=verdict(our_s / plain_s, speedup),
                plain_us=plain_s * 1e6, ratio_vs_plain=our_s / plain_s,
                interface_floor_ratio=(plain_s + floor_s) / plain_s,
                unchecked_ratio=unchecked_s / plain_s,
                torch_us=None if torch_s is None else torch_s * 1e6,
                torch_over_ours=speedup,
            ))
    return rows

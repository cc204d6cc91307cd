r"""Reference optimizers, written to be read beside the equations of the book.

Every optimizer is a frozen dataclass of hyperparameters with two pure methods::

    opt = Adam(lr=0.1)
    state = opt.init(x)                  # AdamState(t=0, m=0.0, v=0.0, v_max=0.0)
    x, state = opt.step(x, grad, state)  # returns new parameters and new state, mutates nothing

The state is a :class:`~typing.NamedTuple` whose fields are the symbols of the maths (``t`` counts
the steps taken, ``m`` and ``v`` are Adam's moment estimates, ``b`` a momentum buffer, ...). A
scalar ``x`` gives scalar (``float``) parameters and buffers; an array gives arrays of the same
shape and floating dtype.

Conventions follow PyTorch's :mod:`torch.optim` exactly (names, defaults, where ε sits, how the
buffers start), so a trajectory computed here matches ``torch.optim`` in float64 to rounding
error; ``tests/test_optim_torch.py`` checks it. ``g`` is the gradient at the current parameters θ
and ``t`` counts steps from 1 inside :meth:`step`.

A step never writes to its inputs: every line of an update is one equation of the book written
as a NumPy expression (``m = beta1 * m + (1 - beta1) * g``), which makes a fresh array, in the
order of operations of ``torch.optim``, so the two agree to rounding error (and these one-line
forms are what ``tests/test_optim_arrays.py`` checks the updates against, bit for bit). Buffers
that an optimizer's settings do not use (RMSProp's ``g_avg`` when not centered and ``b`` without
momentum, Adam's ``v_max`` without AMSGrad) stay the zeros made by ``init`` and are passed on.

Writing a new optimizer takes a frozen dataclass of hyperparameters, a state ``NamedTuple``
(its first field the step count ``t``), ``init(x)`` and the update
``_update(x, g, state, lr) -> (x, state)``, where ``x`` and ``g`` are arrays (0-d for a scalar)
of one floating dtype and ``lr`` is this step's learning rate. :class:`Optimizer` does the rest:
it checks the hyperparameters by name when the optimizer is made (``lr``, ``betas``, ``eps``,
``weight_decay``, ``momentum``, ...; see ``HYPERPARAMETER_CHECKS``), and in :meth:`~Optimizer.step`
checks the arguments, looks up the learning rate, and gives scalars back as floats.

The learning rate ``lr`` of any optimizer is either a number or a schedule: a callable that takes
the number of updates already made (0 for the first update) and returns the learning rate, such as
those in :mod:`gdcourse.schedules`. This is what PyTorch computes when a scheduler's ``step()`` is
called once after every ``optimizer.step()``.

The book introduces these classes in chapters 2 (GD), 6 (Momentum, Nesterov), 7 (AdaGrad, RMSProp,
Adadelta) and 8 (Adam, AdamW, NAdam, AdaMax).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple, TypeAlias

import numpy as np

from gdcourse._validate import FLOAT64, as_float_array, check_number, check_probability

__all__ = [
    "GD",
    "OPTIMIZERS",
    "AdaGrad",
    "AdaGradState",
    "AdaMax",
    "AdaMaxState",
    "Adadelta",
    "AdadeltaState",
    "Adam",
    "AdamState",
    "AdamW",
    "GDState",
    "Momentum",
    "MomentumState",
    "NAdam",
    "NAdamState",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "RMSPropState",
    "get_optimizer",
]

Schedule: TypeAlias = Callable[[int], float]
"""A learning-rate schedule: number of updates already made -> learning rate."""

LearningRate: TypeAlias = "float | Schedule"
Params: TypeAlias = "float | np.ndarray"


# --------------------------------------------------------------------------------------------
# Shared machinery: argument checks and the scalar/array convention
# --------------------------------------------------------------------------------------------


def _check_lr(name: str, lr: Any) -> None:
    if not callable(lr):
        check_number(name, lr, minimum=0.0)


def _check_betas(name: str, betas: Any) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (check_probability(f"{name}[0]", betas[0]), check_probability(f"{name}[1]", betas[1]))


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _probability(name: str, value: Any) -> None:
    check_probability(name, value)


def _fraction(name: str, value: Any) -> None:
    check_probability(name, value, allow_one=True)


def _nonnegative(name: str, value: Any) -> None:
    check_number(name, value, minimum=0.0)


def _positive(name: str, value: Any) -> None:
    check_number(name, value, minimum=0.0, min_inclusive=False)


HYPERPARAMETER_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "lr": _check_lr,
    "betas": _check_betas,
    "eps": _positive,
    "weight_decay": _nonnegative,
    "momentum": _probability,
    "dampening": _fraction,
    "alpha": _probability,
    "rho": _probability,
    "lr_decay": _nonnegative,
    "initial_accumulator_value": _nonnegative,
    "momentum_decay": _nonnegative,
    "amsgrad": _check_flag,
    "centered": _check_flag,
}
"""How :class:`Optimizer` checks a hyperparameter, by field name. A check raises naming the
argument; ``betas``' check also returns the pair as floats, which is stored."""


def _as_float(value: Any) -> Any:
    """A 0-d array or NumPy scalar as a Python float (scalar in, scalar out); others unchanged."""
    return float(value) if isinstance(value, (np.ndarray, np.floating)) else value


@dataclass(frozen=True)
class Optimizer:
    """Base class: what every optimizer shares, so that subclasses hold only their update.

    A subclass declares its hyperparameters as dataclass fields (checked by name in
    ``__post_init__`` with :data:`HYPERPARAMETER_CHECKS`), its ``name`` and ``state_type``, and
    defines ``init(x)`` and ``_update(x, g, state, lr)``. :meth:`step` checks the arguments,
    resolves the learning rate for this step (a number or a schedule) and gives the results
    back in the caller's kind (floats for a scalar, arrays of x's dtype otherwise).
    """

    name: ClassVar[str] = "optimizer"
    state_type: ClassVar[type] = tuple

    def __post_init__(self) -> None:
        for field in fields(self):
            check = HYPERPARAMETER_CHECKS.get(field.name)
            value = check(field.name, getattr(self, field.name)) if check else None
            if value is not None:
                object.__setattr__(self, field.name, value)

    def init(self, x: Params) -> NamedTuple:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _update(self, x, g, state, lr):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def step(self, x: Params, grad: Params, state: NamedTuple) -> tuple[Params, NamedTuple]:
        """Take one update from parameters ``x`` with gradient ``grad``; return ``(x, state)``."""
        if (type(x) is type(grad) is np.ndarray and type(state) is self.state_type
                and x.dtype is FLOAT64 is grad.dtype and x.shape == grad.shape != ()):
            # The common case, checked cheaply: float64 arrays of one shape, this optimizer's
            # state (every equation keeps the dtype). All other input goes the long way.
            lr = self.lr  # type: ignore[attr-defined]
            return self._update(x, grad, state, self.lr_at(state.t) if callable(lr) else lr)
        return self._checked_step(x, grad, state)

    def _checked_step(self, x: Params, grad: Params, state: NamedTuple):
        """:meth:`step` for any other input: check it, convert it, convert the results back."""
        scalar = np.ndim(x) == 0
        params = as_float_array("x", x)
        g = as_float_array("grad", grad)
        if g.shape != params.shape:
            raise ValueError(f"grad must have the shape of x {params.shape}, got shape {g.shape}")
        if not isinstance(state, self.state_type):
            raise TypeError(
                f"state must be the {self.state_type.__name__} returned by "
                f"{type(self).__name__}.init or .step, got {type(state).__name__}"
            )
        g = g.astype(params.dtype, copy=False)
        new_x, new_state = self._update(params, g, state, self.lr_at(state.t))
        convert = _as_float if scalar else (lambda value: np.asarray(value, dtype=params.dtype))
        values = [convert(value) if isinstance(value, (np.ndarray, np.floating)) else value
                  for value in new_state]
        return convert(new_x), type(new_state)(*values)

    def lr_at(self, updates_done: int) -> float:
        """The learning rate of the update that follows ``updates_done`` earlier updates."""
        lr = self.lr  # type: ignore[attr-defined]
        if not callable(lr):
            return lr
        value = lr(updates_done)
        return check_number(f"lr schedule value at step {updates_done + 1}", value, minimum=0.0)

    def _zeros(self, x: Params) -> Params:
        """Zeros shaped like ``x``: a float for a scalar, an array of x's dtype otherwise."""
        array = as_float_array("x", x)
        return 0.0 if array.ndim == 0 else np.zeros_like(array)

    def __str__(self) -> str:
        """A short label for legends: only the hyperparameters that differ from the defaults."""
        parts = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "lr" or value != field.default:
                shown = getattr(value, "label", None) or (
                    f"{value:g}" if isinstance(value, float) else repr(value)
                )
                parts.append(f"{field.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


# --------------------------------------------------------------------------------------------
# Gradient descent, momentum, Nesterov
# --------------------------------------------------------------------------------------------


class GDState(NamedTuple):
    """State of :class:`GD`: only the step counter ``t`` (used by learning-rate schedules)."""

    t: int


@dataclass(frozen=True)
class GD(Optimizer):
    r"""Gradient descent: step against the gradient.

    .. math:: \theta \leftarrow \theta - \eta\, g

    With exact gradients this is (full-batch) gradient descent; fed mini-batch gradients by
    :func:`gdcourse.run.train` it is stochastic or mini-batch gradient descent.

    Parameters
    ----------
    lr:
        Learning rate η (a number ≥ 0 or a schedule). Default 1e-3, as ``torch.optim.SGD``.
    weight_decay:
        Coupled L2 penalty: :math:`g \leftarrow g + \lambda\theta` before the update. Default 0.

    Notes
    -----
    Equals ``torch.optim.SGD(params, lr, momentum=0, weight_decay=weight_decay)``.

    References
    ----------
    Cauchy (1847); Robbins & Monro (1951) for the stochastic version. Book chapter 2.

    Examples
    --------
    On L(x) = ½(x − 4)², whose gradient is x − 4, from x = 14 with η = 0.1:

    >>> opt = GD(lr=0.1)
    >>> x, state = 14.0, opt.init(14.0)
    >>> x, state = opt.step(x, x - 4.0, state)
    >>> x, state
    (13.0, GDState(t=1))
    """

    lr: LearningRate = 1e-3
    weight_decay: float = 0.0

    name: ClassVar[str] = "gd"
    state_type: ClassVar[type] = GDState

    def init(self, x: Params) -> GDState:
        as_float_array("x", x)
        return GDState(t=0)

    def _update(self, x, g, state, lr):
        if self.weight_decay:
            g = g + self.weight_decay * x      # coupled L2: g + λθ
        x = x - lr * g                         # θ ← θ − η g
        return x, GDState(state.t + 1)


class MomentumState(NamedTuple):
    """State of :class:`Momentum` and :class:`Nesterov`: step count ``t`` and buffer ``b``."""

    t: int
    b: Params


@dataclass(frozen=True)
class Momentum(Optimizer):
    r"""Gradient descent with (heavy-ball) momentum, in PyTorch's form.

    .. math::

        b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t \quad (t > 1), \qquad
        \theta \leftarrow \theta - \eta\, b_t

    with momentum μ and dampening τ.

    Parameters
    ----------
    lr:
        Learning rate η. Default 1e-3.
    momentum:
        μ in [0, 1). Default 0.9.
    dampening:
        τ in [0, 1]. Default 0.
    weight_decay:
        Coupled L2 penalty added to g. Default 0.

    Notes
    -----
    The literature (Polyak 1964; Sutskever et al. 2013) often writes
    :math:`v \leftarrow \beta v + \alpha g,\ \theta \leftarrow \theta - v`. With a constant
    learning rate this is the same sequence of parameters, with :math:`v = \eta b`; the two
    differ when η changes over time, because PyTorch's buffer does not carry the old learning
    rate. PyTorch also starts the buffer at the first gradient (not at zero, and without
    dampening). Equals ``torch.optim.SGD(params, lr, momentum, dampening, weight_decay)``.

    References
    ----------
    Polyak, B. T. (1964). Some methods of speeding up the convergence of iteration methods.
    Book chapter 6.

    Examples
    --------
    >>> opt = Momentum(lr=0.1, momentum=0.9)
    >>> x, state = 14.0, opt.init(14.0)
    >>> x, state = opt.step(x, x - 4.0, state)   # b = g = 10
    >>> x, state = opt.step(x, x - 4.0, state)   # b = 0.9*10 + 9 = 18
    >>> round(x, 10), state
    (11.2, MomentumState(t=2, b=18.0))
    """

    lr: LearningRate = 1e-3
    momentum: float = 0.9
    dampening: float = 0.0
    weight_decay: float = 0.0

    name: ClassVar[str] = "momentum"
    state_type: ClassVar[type] = MomentumState

    def init(self, x: Params) -> MomentumState:
        return MomentumState(t=0, b=self._zeros(x))

    def _update(self, x, g, state, lr):
        mu, tau = self.momentum, self.dampening
        if self.weight_decay:
            g = g + self.weight_decay * x      # coupled L2: g + λθ
        if state.t == 0:
            b = g.copy()                       # b₁ = g₁
        else:
            b = mu * state.b + (1 - tau) * g   # b ← μ b + (1 − τ) g
        x = x - lr * b                         # θ ← θ − η b
        return x, MomentumState(state.t + 1, b)


@dataclass(frozen=True)
class Nesterov(Optimizer):
    r"""Nesterov's accelerated gradient, in PyTorch's form.

    .. math::

        b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + g_t, \qquad
        \theta \leftarrow \theta - \eta\,(g_t + \mu\, b_t)

    Notes
    -----
    Nesterov's method evaluates the gradient at a look-ahead point
    :math:`\theta - \eta\mu b`. Substituting the look-ahead point as the new variable gives the
    form above, which needs only the gradient at the current parameters (Sutskever et al., 2013;
    the book derives it in chapter 6). Equals
    ``torch.optim.SGD(params, lr, momentum, nesterov=True, weight_decay)`` (dampening 0).

    References
    ----------
    Nesterov, Y. (1983). A method for solving the convex programming problem with convergence
    rate O(1/k²). Sutskever, Martens, Dahl & Hinton (2013).

    Examples
    --------
    >>> opt = Nesterov(lr=0.1, momentum=0.9)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))   # b = 10, step 0.1*(10 + 9)
    >>> round(x, 10), state
    (12.1, MomentumState(t=1, b=10.0))
    """

    lr: LearningRate = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0

    name: ClassVar[str] = "nesterov"
    state_type: ClassVar[type] = MomentumState

    def init(self, x: Params) -> MomentumState:
        return MomentumState(t=0, b=self._zeros(x))

    def _update(self, x, g, state, lr):
        mu = self.momentum
        if self.weight_decay:
            g = g + self.weight_decay * x      # coupled L2: g + λθ
        if state.t == 0:
            b = g.copy()                       # b₁ = g₁
        else:
            b = mu * state.b + g               # b ← μ b + g
        x = x - lr * (g + mu * b)              # θ ← θ − η (g + μ b)
        return x, MomentumState(state.t + 1, b)


# --------------------------------------------------------------------------------------------
# Adaptive step sizes: AdaGrad, RMSProp, Adadelta
# --------------------------------------------------------------------------------------------


class AdaGradState(NamedTuple):
    """State of :class:`AdaGrad`: step count ``t`` and the running sum of squares ``s``."""

    t: int
    s: Params


@dataclass(frozen=True)
class AdaGrad(Optimizer):
    r"""AdaGrad: per-coordinate steps scaled by the history of squared gradients.

    .. math::

        s_t = s_{t-1} + g_t^2, \qquad
        \eta_t = \frac{\eta}{1 + (t - 1)\,\delta}, \qquad
        \theta \leftarrow \theta - \eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    with learning-rate decay δ (``lr_decay``) and :math:`s_0` = ``initial_accumulator_value``.

    Notes
    -----
    ε is added *outside* the square root, as in PyTorch (some texts write
    :math:`\sqrt{s + \epsilon}`). Equals ``torch.optim.Adagrad``.

    References
    ----------
    Duchi, Hazan & Singer (2011). Adaptive subgradient methods for online learning and
    stochastic optimization. JMLR 12. Book chapter 7.

    Examples
    --------
    The first step of AdaGrad has length lr whatever the size of the gradient:

    >>> opt = AdaGrad(lr=0.5)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))
    >>> round(x, 6), state
    (13.5, AdaGradState(t=1, s=100.0))
    """

    lr: LearningRate = 1e-2
    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10

    name: ClassVar[str] = "adagrad"
    state_type: ClassVar[type] = AdaGradState

    def init(self, x: Params) -> AdaGradState:
        return AdaGradState(t=0, s=self._zeros(x) + self.initial_accumulator_value)

    def _update(self, x, g, state, lr):
        t = state.t + 1
        if self.weight_decay:
            g = g + self.weight_decay * x              # coupled L2: g + λθ
        s = state.s + g * g                            # s ← s + g²
        lr_t = lr / (1 + (t - 1) * self.lr_decay)      # η_t = η / (1 + (t − 1) δ)
        x = x - lr_t * g / (np.sqrt(s) + self.eps)     # θ ← θ − η_t g / (√s + ε)
        return x, AdaGradState(t, s)


class RMSPropState(NamedTuple):
    """State of :class:`RMSProp`: ``t``, mean square ``v``, mean gradient ``g_avg`` (centered
    only) and momentum buffer ``b`` (momentum > 0 only); unused buffers stay zero."""

    t: int
    v: Params
    g_avg: Params
    b: Params


@dataclass(frozen=True)
class RMSProp(Optimizer):
    r"""RMSProp: divide the step by a running root-mean-square of recent gradients.

    .. math::

        v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2, \qquad
        \theta \leftarrow \theta - \eta\, \frac{g_t}{\sqrt{v_t} + \epsilon}

    Centered variant: also track :math:`\bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t` and use
    :math:`\sqrt{v_t - \bar g_t^2}` (an estimate of the gradient's standard deviation). With
    ``momentum`` μ > 0 the scaled gradient feeds a buffer
    :math:`b_t = \mu b_{t-1} + g_t / (\sqrt{\cdot} + \epsilon)` and :math:`\theta \leftarrow
    \theta - \eta b_t`.

    Notes
    -----
    All buffers start at zero, there is no bias correction, and ε sits outside the root, as in
    ``torch.optim.RMSprop`` (TensorFlow puts ε inside). Default α = 0.99 is PyTorch's; Hinton's
    lecture suggested 0.9.

    References
    ----------
    Hinton, Srivastava & Swersky (2012). Neural Networks for Machine Learning, lecture 6e.
    Graves (2013) for the centered form. Book chapter 7.

    Examples
    --------
    >>> opt = RMSProp(lr=0.01)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))   # v = 0.01 * 100 = 1
    >>> round(x, 6), round(state.v, 12)
    (13.9, 1.0)
    """

    lr: LearningRate = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False

    name: ClassVar[str] = "rmsprop"
    state_type: ClassVar[type] = RMSPropState

    def init(self, x: Params) -> RMSPropState:
        zeros = self._zeros(x)
        return RMSPropState(t=0, v=zeros, g_avg=zeros, b=zeros)

    def _update(self, x, g, state, lr):
        alpha, mu, eps = self.alpha, self.momentum, self.eps
        v, g_avg, b = state.v, state.g_avg, state.b
        if self.weight_decay:
            g = g + self.weight_decay * x                  # coupled L2: g + λθ
        v = alpha * v + (1 - alpha) * g * g                # v ← α v + (1 − α) g²
        if self.centered:
            g_avg = alpha * g_avg + (1 - alpha) * g        # ḡ ← α ḡ + (1 − α) g
            scaled_g = g / (np.sqrt(v - g_avg * g_avg) + eps)   # g / (√(v − ḡ²) + ε)
        else:
            scaled_g = g / (np.sqrt(v) + eps)              # g / (√v + ε)
        if mu > 0:
            b = mu * b + scaled_g                          # b ← μ b + g / (√v + ε)
            x = x - lr * b                                 # θ ← θ − η b
        else:
            x = x - lr * scaled_g                          # θ ← θ − η g / (√v + ε)
        return x, RMSPropState(state.t + 1, v, g_avg, b)


class AdadeltaState(NamedTuple):
    """State of :class:`Adadelta`: ``t``, mean square gradient ``v``, mean square update ``u``."""

    t: int
    v: Params
    u: Params


@dataclass(frozen=True)
class Adadelta(Optimizer):
    r"""Adadelta: RMSProp whose step size is the RMS of recent updates (units match θ).

    .. math::

        v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
        \theta \leftarrow \theta - \eta\, \Delta_t

    Notes
    -----
    ε sits *inside* both roots (Zeiler's paper; PyTorch too). Zeiler's method has no learning
    rate; PyTorch keeps a multiplier η with default 1.0, which recovers it. Equals
    ``torch.optim.Adadelta``.

    References
    ----------
    Zeiler, M. D. (2012). ADADELTA: an adaptive learning rate method. arXiv:1212.5701.

    Examples
    --------
    The first step is tiny, about √ε: Adadelta starts slowly.

    >>> opt = Adadelta()
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))
    >>> round(14.0 - x, 6)
    0.003162
    """

    lr: LearningRate = 1.0
    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0

    name: ClassVar[str] = "adadelta"
    state_type: ClassVar[type] = AdadeltaState

    def init(self, x: Params) -> AdadeltaState:
        zeros = self._zeros(x)
        return AdadeltaState(t=0, v=zeros, u=zeros)

    def _update(self, x, g, state, lr):
        rho, eps = self.rho, self.eps
        v, u = state.v, state.u
        if self.weight_decay:
            g = g + self.weight_decay * x                        # coupled L2: g + λθ
        v = rho * v + (1 - rho) * g * g                          # v ← ρ v + (1 − ρ) g²
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g          # Δ = √(u + ε) / √(v + ε) · g
        x = x - lr * delta                                       # θ ← θ − η Δ
        u = rho * u + (1 - rho) * delta * delta                  # u ← ρ u + (1 − ρ) Δ²
        return x, AdadeltaState(state.t + 1, v, u)


# --------------------------------------------------------------------------------------------
# Adam and relatives
# --------------------------------------------------------------------------------------------


class AdamState(NamedTuple):
    """State of :class:`Adam`/:class:`AdamW`: ``t``, first moment ``m``, second moment ``v``
    and, for AMSGrad, the running maximum ``v_max`` of ``v`` (zero otherwise)."""

    t: int
    m: Params
    v: Params
    v_max: Params


@dataclass(frozen=True)
class Adam(Optimizer):
    r"""Adam: momentum on the gradient, RMSProp on its square, both bias-corrected.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \\
        \hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
        \theta \leftarrow \theta - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    AMSGrad (``amsgrad=True``) keeps :math:`v^{\max}_t = \max(v^{\max}_{t-1}, v_t)` and uses
    :math:`\hat v_t = v^{\max}_t / (1-\beta_2^t)`, so the effective step never grows.

    Notes
    -----
    ε is added to :math:`\sqrt{\hat v_t}` (after bias correction), as in PyTorch and the paper;
    the paper's "efficient" variant that adds ε to :math:`\sqrt{v_t}` differs slightly.
    ``weight_decay`` adds λθ to the gradient (L2, coupled); for decoupled decay use
    :class:`AdamW`. Equals ``torch.optim.Adam``.

    References
    ----------
    Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
    Reddi, Kale & Kumar (2018). On the convergence of Adam and beyond. ICLR (AMSGrad).

    Examples
    --------
    Bias correction makes the first step exactly lr·sign(g) (up to ε):

    >>> opt = Adam(lr=0.1)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))
    >>> round(x, 6), round(state.m, 12), round(state.v, 12)
    (13.9, 1.0, 0.1)
    """

    lr: LearningRate = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False

    name: ClassVar[str] = "adam"
    state_type: ClassVar[type] = AdamState
    decoupled: ClassVar[bool] = False  # AdamW: weight decay shrinks θ instead of entering g

    def init(self, x: Params) -> AdamState:
        zeros = self._zeros(x)
        return AdamState(t=0, m=zeros, v=zeros, v_max=zeros)

    def _update(self, x, g, state, lr):
        beta1, beta2 = self.betas
        t = state.t + 1
        m, v, v_max = state.m, state.v, state.v_max
        if self.weight_decay and not self.decoupled:
            g = g + self.weight_decay * x             # coupled L2: g + λθ
        m = beta1 * m + (1 - beta1) * g               # m ← β1 m + (1 − β1) g
        v = beta2 * v + (1 - beta2) * g * g           # v ← β2 v + (1 − β2) g²
        m_hat = m / (1 - beta1**t)                    # m̂ = m / (1 − β1ᵗ)
        if self.amsgrad:
            v_max = np.maximum(v_max, v)              # AMSGrad: v_max ← max(v_max, v)
            v_hat = v_max / (1 - beta2**t)            #          v̂ = v_max / (1 − β2ᵗ)
        else:
            v_hat = v / (1 - beta2**t)                # v̂ = v / (1 − β2ᵗ)
        x = x - lr * m_hat / (np.sqrt(v_hat) + self.eps)   # θ ← θ − η m̂ / (√v̂ + ε)
        return x, AdamState(t, m, v, v_max)


# Chapter 8 prints the Adam update by this name (it was once a function shared with AdamW).
_adam_step = Adam._update


@dataclass(frozen=True)
class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay.

    .. math::

        \theta \leftarrow \theta\,(1 - \eta\lambda) \quad\text{then the Adam update of }
        \theta \text{ with the plain gradient } g_t

    Notes
    -----
    The decay shrinks the weights directly instead of entering :math:`m` and :math:`v` through
    the gradient, so it is not rescaled by the adaptive denominator. Default λ = 0.01, as
    ``torch.optim.AdamW``.

    References
    ----------
    Loshchilov, I. & Hutter, F. (2019). Decoupled weight decay regularization. ICLR.

    Examples
    --------
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))   # 14*(1 - 0.05) = 13.3, then Adam
    >>> round(x, 6)
    13.2
    """

    weight_decay: float = 1e-2

    name: ClassVar[str] = "adamw"
    decoupled: ClassVar[bool] = True

    def _update(self, x, g, state, lr):
        x = x * (1 - lr * self.weight_decay)          # θ ← θ (1 − ηλ)
        return super()._update(x, g, state, lr)       # then Adam, with the plain gradient


class NAdamState(NamedTuple):
    """State of :class:`NAdam`: ``t``, moments ``m`` and ``v``, and the running product
    ``mu_product`` of the momentum schedule μ₁⋯μₜ (starts at 1)."""

    t: int
    m: Params
    v: Params
    mu_product: float


@dataclass(frozen=True)
class NAdam(Optimizer):
    r"""NAdam: Adam with a Nesterov-style look-ahead on the first moment (Dozat, 2016).

    With the momentum schedule :math:`\mu_t = \beta_1\,(1 - \tfrac12\, 0.96^{t\psi})`
    (ψ = ``momentum_decay``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \hat v_t = \frac{v_t}{1-\beta_2^t}, \\
        \theta \leftarrow \theta
            - \eta\,\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,\frac{g_t}{\sqrt{\hat v_t}+\epsilon}
            - \eta\,\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,\frac{m_t}{\sqrt{\hat v_t}+\epsilon}

    Notes
    -----
    This is PyTorch's ``torch.optim.NAdam`` (with its μₜ schedule and ε outside
    :math:`\sqrt{\hat v_t}`); ``weight_decay`` is coupled L2 as in Adam.

    References
    ----------
    Dozat, T. (2016). Incorporating Nesterov momentum into Adam. ICLR workshop.

    Examples
    --------
    >>> opt = NAdam(lr=0.1)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))
    >>> round(x, 4), state.t
    (13.8944, 1)
    """

    lr: LearningRate = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum_decay: float = 4e-3

    name: ClassVar[str] = "nadam"
    state_type: ClassVar[type] = NAdamState

    def init(self, x: Params) -> NAdamState:
        zeros = self._zeros(x)
        return NAdamState(t=0, m=zeros, v=zeros, mu_product=1.0)

    def mu(self, t: int) -> float:
        """The momentum schedule μ_t = β₁(1 − ½·0.96^(t·ψ))."""
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _update(self, x, g, state, lr):
        beta1, beta2 = self.betas
        t = state.t + 1
        m, v = state.m, state.v
        if self.weight_decay:
            g = g + self.weight_decay * x                 # coupled L2: g + λθ
        mu, mu_next = self.mu(t), self.mu(t + 1)          # μ_t and μ_{t+1}
        mu_product = state.mu_product * mu                # Π_t = μ_1 ⋯ μ_t
        m = beta1 * m + (1 - beta1) * g                   # m ← β1 m + (1 − β1) g
        v = beta2 * v + (1 - beta2) * g * g               # v ← β2 v + (1 − β2) g²
        denom = np.sqrt(v / (1 - beta2**t)) + self.eps    # √v̂ + ε, v̂ = v / (1 − β2ᵗ)
        g_coef = lr * (1 - mu) / (1 - mu_product)                 # η (1 − μ_t) / (1 − Π_t)
        m_coef = lr * mu_next / (1 - mu_product * mu_next)        # η μ_{t+1} / (1 − Π_{t+1})
        x = x - g_coef * g / denom - m_coef * m / denom   # θ ← θ − g_coef g/denom − m_coef m/denom
        return x, NAdamState(t, m, v, mu_product)


# --------------------------------------------------------------------------------------------
# AdaMax: chapter 8 meets it as a relative of Adam
# --------------------------------------------------------------------------------------------


class AdaMaxState(NamedTuple):
    """State of :class:`AdaMax`: ``t``, first moment ``m`` and the infinity-norm average ``u``."""

    t: int
    m: Params
    u: Params


@dataclass(frozen=True)
class AdaMax(Optimizer):
    r"""AdaMax: Adam with the root mean square replaced by an exponentially weighted maximum.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        u_t = \max\big(\beta_2 u_{t-1},\ |g_t| + \epsilon\big), \qquad
        \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, \frac{m_t}{u_t}

    with :math:`m_0 = u_0 = 0`.

    Notes
    -----
    Kingma & Ba derive it as the limit p → ∞ of an Adam built on the Lᵖ norm of past gradients:
    :math:`u_t` needs no bias correction, because a maximum is not dragged towards its zero start
    the way an average is. ε sits inside the maximum, as in ``torch.optim.Adamax`` (the paper has
    none); ``weight_decay`` adds λθ to the gradient (coupled L2). Defaults as PyTorch: η = 2e-3,
    β = (0.9, 0.999), ε = 1e-8. Chapter 8 of the book introduces it.

    References
    ----------
    Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR, section 7.1.

    Examples
    --------
    The first step is η·sign(g), like Adam's, whatever the size of g:

    >>> opt = AdaMax(lr=0.1)
    >>> x, state = opt.step(14.0, 10.0, opt.init(14.0))
    >>> round(x, 6), round(state.m, 12), round(state.u, 6)
    (13.9, 1.0, 10.0)
    """

    lr: LearningRate = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    name: ClassVar[str] = "adamax"
    state_type: ClassVar[type] = AdaMaxState

    def init(self, x: Params) -> AdaMaxState:
        zeros = self._zeros(x)
        return AdaMaxState(t=0, m=zeros, u=zeros)

    def _update(self, x, g, state, lr):
        beta1, beta2 = self.betas
        t = state.t + 1
        if self.weight_decay:
            g = g + self.weight_decay * x                       # coupled L2: g + λθ
        m = beta1 * state.m + (1 - beta1) * g                   # m ← β1 m + (1 − β1) g
        u = np.maximum(beta2 * state.u, np.abs(g) + self.eps)   # u ← max(β2 u, |g| + ε)
        x = x - lr / (1 - beta1**t) * (m / u)                   # θ ← θ − η/(1 − β1ᵗ) · m/u
        return x, AdaMaxState(t, m, u)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls
    for cls in (GD, Momentum, Nesterov, AdaGrad, RMSProp, Adadelta, Adam, AdamW, NAdam, AdaMax)
}
"""Every optimizer by its lower-case name (``"gd"``, ``"momentum"``, ..., ``"adamax"``)."""


def get_optimizer(name: str, **hyperparameters: Any) -> Optimizer:
    """Build an optimizer from its name, e.g. ``get_optimizer("adam", lr=0.1)``.

    >>> get_optimizer("momentum", lr=0.1)
    Momentum(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0)
    >>> get_optimizer("sgd")
    Traceback (most recent call last):
    ...
    ValueError: name must be one of gd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw, nadam, adamax; got 'sgd'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"name must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[key](**hyperparameters)

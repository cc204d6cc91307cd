r"""Reference optimizers, written to be read beside the equations of the book.

Every optimizer is a frozen dataclass of hyperparameters with two pure methods::

    opt = Adam(lr=0.1)
    state = opt.init(x)                  # AdamState(t=0, m=0.0, v=0.0)
    x, state = opt.step(x, grad, state)  # returns new parameters and new state, mutates nothing

The state is a :class:`~typing.NamedTuple` whose fields are the symbols of the maths (``t`` counts
the steps taken, ``m`` and ``v`` are Adam's moment estimates, ``b`` a momentum buffer, ...). A
scalar ``x`` gives scalar (``float``) parameters and buffers; an array gives arrays of the same
shape and floating dtype.

Conventions follow PyTorch's :mod:`torch.optim` exactly (names, defaults, where ε sits, how the
buffers start), so a trajectory computed here matches ``torch.optim`` in float64 to rounding
error; ``tests/test_optim_torch.py`` checks it. ``g`` is the gradient at the current parameters θ
and ``t`` counts steps from 1 inside :meth:`step`.

A step never writes to its inputs. It allocates one fresh array for each array it returns (the
new θ and every buffer it updates) and computes into them with NumPy's ``out=`` arguments and
in-place operators such as ``m += ...``. Intermediate terms go to a scratch array ``tmp`` (NAdam
has two), which each thread reuses from step to step and no step returns. Each equation is a
comment above its lines, and the operations run in the order of the one-line form
``m = beta1 * m + (1 - beta1) * g``, so the results agree with it to the bit. The one-line form
allocates a new array for every operator, 8 MB apiece for 10⁶ parameters, and fresh memory is
faulted in page by page, so it is slower on large arrays (``python -m benchmarks optimizers``).
A step writes the new θ's array last, so until then that array is free: a coupled
``weight_decay`` puts the decayed gradient g + λθ there, and some updates park an intermediate
term there. Buffers that an optimizer's settings do not use (RMSProp's ``g_avg`` when not
centered and ``b`` without momentum, Adam's ``v_max`` without AMSGrad) stay the zeros made by
``init`` and are passed on unchanged; no step writes to them.

The learning rate ``lr`` of any optimizer is either a number or a schedule: a callable that takes
the number of updates already made (0 for the first update) and returns the learning rate, such as
those in :mod:`gdcourse.schedules`. This is what PyTorch computes when a scheduler's ``step()`` is
called once after every ``optimizer.step()``.

The book introduces these classes in chapters 2 (GD), 6 (Momentum, Nesterov), 7 (AdaGrad, RMSProp,
Adadelta) and 8 (Adam, AdamW, NAdam).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple, TypeAlias

import numpy as np

from gdcourse._validate import as_float_array, check_number, check_probability

__all__ = [
    "GD",
    "OPTIMIZERS",
    "AdaGrad",
    "AdaGradState",
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


def _check_lr(lr: Any) -> None:
    if callable(lr):
        return
    check_number("lr", lr, minimum=0.0)


def _check_betas(betas: Any) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    check_probability("betas[0]", betas[0])
    check_probability("betas[1]", betas[1])


def _check_eps(eps: Any) -> None:
    check_number("eps", eps, minimum=0.0, min_inclusive=False)


def _check_weight_decay(weight_decay: Any) -> None:
    check_number("weight_decay", weight_decay, minimum=0.0)


def _output(value: np.ndarray, scalar: bool) -> Params:
    """Return a 0-d result as a Python float (scalar in, scalar out), arrays unchanged."""
    return float(value) if scalar else value


@dataclass(frozen=True)
class Optimizer:
    """Base class: argument handling shared by all optimizers.

    Subclasses define ``init(x)`` and ``_update(x, g, state, lr)``; :meth:`step` validates the
    inputs, resolves the learning rate for this step (a number or a schedule) and converts the
    results back to the caller's kind (float for a scalar, array otherwise).
    """

    name: ClassVar[str] = "optimizer"
    state_type: ClassVar[type] = tuple

    def init(self, x: Params) -> NamedTuple:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def step(self, x: Params, grad: Params, state: NamedTuple) -> tuple[Params, NamedTuple]:
        """Take one update from parameters ``x`` with gradient ``grad``; return ``(x, state)``."""
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
        lr = self.lr_at(state.t)
        new_x, new_state = self._update(params, g, state, lr)
        new_x = np.asarray(new_x, dtype=params.dtype)
        converted = [
            _output(np.asarray(value, dtype=params.dtype), scalar)
            if isinstance(value, (np.ndarray, np.floating))
            else value
            for value in new_state
        ]
        return _output(new_x, scalar), type(new_state)(*converted)

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
        return _output(np.zeros_like(array), array.ndim == 0)

    def _update(self, x, g, state, lr):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

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


def _fresh(x: np.ndarray, n: int) -> list[np.ndarray]:
    """``n`` new arrays shaped like ``x`` (contents undefined), for one step to compute into."""
    return [np.empty_like(x) for _ in range(n)]


_SCRATCH = threading.local()
_SCRATCH_MIN_BYTES = 1 << 20


def _scratch(x: np.ndarray, n: int = 1) -> list[np.ndarray]:
    """``n`` arrays shaped like ``x`` for a step's intermediate terms; never returned to callers.

    From 1 MiB up they are views into one buffer that each thread keeps from step to step (and
    enlarges when needed), because a fresh array that large is faulted in page by page at every
    step. Each thread has its own buffer, and a step calls this once, so no two computations ever
    share it.
    """
    if x.nbytes < _SCRATCH_MIN_BYTES:
        return _fresh(x, n)
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.nbytes < n * x.nbytes:
        buffer = _SCRATCH.buffer = np.empty(n * x.nbytes, dtype=np.uint8)
    size = x.nbytes
    return [buffer[i * size:(i + 1) * size].view(x.dtype).reshape(x.shape) for i in range(n)]


def _coupled_weight_decay(g: np.ndarray, x: np.ndarray, weight_decay: float,
                          out: np.ndarray) -> np.ndarray:
    """L2 regularisation folded into the gradient, as torch.optim does: g <- g + wd * theta.

    The decayed gradient is computed into ``out``, the array of the new θ, which every step writes
    only after its last use of g. Without decay ``g`` itself is returned.
    """
    if weight_decay == 0:
        return g
    # g + λθ
    return np.add(g, np.multiply(weight_decay, x, out=out), out=out)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        _check_weight_decay(self.weight_decay)

    def init(self, x: Params) -> GDState:
        as_float_array("x", x)
        return GDState(t=0)

    def _update(self, x, g, state, lr):
        new_x = np.empty_like(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        # θ ← θ − η g
        np.subtract(x, np.multiply(lr, g, out=new_x), out=new_x)
        return new_x, GDState(t=state.t + 1)


class MomentumState(NamedTuple):
    """State of :class:`Momentum` and :class:`Nesterov`: step count ``t`` and buffer ``b``."""

    t: int
    b: Params


def _momentum_buffer(b, g, t: int, momentum: float, dampening: float, out, tmp=None):
    """PyTorch's momentum buffer: b = g at the first step, then b <- mu*b + (1 - dampening)*g.

    Computed into ``out``. With dampening, the term (1 - dampening)*g is computed into ``tmp``,
    which may be the array holding g.
    """
    if t == 0:
        np.copyto(out, g)
    elif dampening == 0:
        # b ← μ b + g          ((1 − 0) g is g exactly)
        np.multiply(momentum, b, out=out)
        out += g
    else:
        # b ← μ b + (1 − τ) g
        np.multiply(momentum, b, out=out)
        out += np.multiply(1.0 - dampening, g, out=tmp)
    return out


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check_probability("momentum", self.momentum)
        check_probability("dampening", self.dampening, allow_one=True)
        _check_weight_decay(self.weight_decay)

    def init(self, x: Params) -> MomentumState:
        return MomentumState(t=0, b=self._zeros(x))

    def _update(self, x, g, state, lr):
        new_x, b = _fresh(x, 2)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        _momentum_buffer(state.b, g, state.t, self.momentum, self.dampening, out=b, tmp=new_x)
        # θ ← θ − η b
        np.subtract(x, np.multiply(lr, b, out=new_x), out=new_x)
        return new_x, MomentumState(t=state.t + 1, b=b)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check_probability("momentum", self.momentum)
        _check_weight_decay(self.weight_decay)

    def init(self, x: Params) -> MomentumState:
        return MomentumState(t=0, b=self._zeros(x))

    def _update(self, x, g, state, lr):
        (new_x, b), (tmp,) = _fresh(x, 2), _scratch(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        _momentum_buffer(state.b, g, state.t, self.momentum, 0.0, out=b)
        # θ ← θ − η (g + μ b)
        step = np.add(g, np.multiply(self.momentum, b, out=tmp), out=tmp)
        np.subtract(x, np.multiply(lr, step, out=tmp), out=new_x)
        return new_x, MomentumState(t=state.t + 1, b=b)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check_number("lr_decay", self.lr_decay, minimum=0.0)
        _check_weight_decay(self.weight_decay)
        check_number("initial_accumulator_value", self.initial_accumulator_value, minimum=0.0)
        _check_eps(self.eps)

    def init(self, x: Params) -> AdaGradState:
        return AdaGradState(t=0, s=self._zeros(x) + self.initial_accumulator_value)

    def _update(self, x, g, state, lr):
        t = state.t + 1
        (new_x, s), (tmp,) = _fresh(x, 2), _scratch(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        decayed_lr = lr / (1.0 + (t - 1) * self.lr_decay)
        # s ← s + g²
        np.add(state.s, np.multiply(g, g, out=s), out=s)
        # θ ← θ − η_t g / (√s + ε)
        denom = np.add(np.sqrt(s, out=tmp), self.eps, out=tmp)
        step = np.divide(np.multiply(decayed_lr, g, out=new_x), denom, out=new_x)
        np.subtract(x, step, out=new_x)
        return new_x, AdaGradState(t=t, s=s)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check_probability("alpha", self.alpha)
        _check_eps(self.eps)
        _check_weight_decay(self.weight_decay)
        check_probability("momentum", self.momentum)
        if not isinstance(self.centered, bool):
            raise TypeError(f"centered must be True or False, got {self.centered!r}")

    def init(self, x: Params) -> RMSPropState:
        zeros = self._zeros(x)
        return RMSPropState(t=0, v=zeros, g_avg=zeros, b=zeros)

    def _update(self, x, g, state, lr):
        alpha = self.alpha
        (new_x, v), (tmp,) = _fresh(x, 2), _scratch(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        # v ← α v + (1 − α) g²
        np.multiply(alpha, state.v, out=v)
        v += np.multiply(np.multiply(1.0 - alpha, g, out=tmp), g, out=tmp)
        g_avg = state.g_avg
        if self.centered:
            # ḡ ← α ḡ + (1 − α) g,  rms = √(v − ḡ²)
            g_avg = np.multiply(alpha, state.g_avg, out=np.empty_like(x))
            g_avg += np.multiply(1.0 - alpha, g, out=tmp)
            rms = np.sqrt(np.subtract(v, np.multiply(g_avg, g_avg, out=tmp), out=tmp), out=tmp)
        else:
            # rms = √v
            rms = np.sqrt(v, out=tmp)
        # g / (rms + ε)
        scaled_g = np.divide(g, np.add(rms, self.eps, out=tmp), out=tmp)
        b = state.b
        if self.momentum > 0:
            # b ← μ b + g / (rms + ε),  θ ← θ − η b
            b = np.multiply(self.momentum, state.b, out=np.empty_like(x))
            b += scaled_g
            np.subtract(x, np.multiply(lr, b, out=new_x), out=new_x)
        else:
            # θ ← θ − η g / (rms + ε)
            np.subtract(x, np.multiply(lr, scaled_g, out=new_x), out=new_x)
        return new_x, RMSPropState(t=state.t + 1, v=v, g_avg=g_avg, b=b)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check_probability("rho", self.rho)
        _check_eps(self.eps)
        _check_weight_decay(self.weight_decay)

    def init(self, x: Params) -> AdadeltaState:
        zeros = self._zeros(x)
        return AdadeltaState(t=0, v=zeros, u=zeros)

    def _update(self, x, g, state, lr):
        rho, eps = self.rho, self.eps
        (new_x, v, u), (tmp,) = _fresh(x, 3), _scratch(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        # v ← ρ v + (1 − ρ) g²
        np.multiply(rho, state.v, out=v)
        v += np.multiply(np.multiply(1.0 - rho, g, out=tmp), g, out=tmp)
        # Δ = √(u + ε) / √(v + ε) · g       (√(v + ε) is parked in the array of the new u)
        delta = np.sqrt(np.add(state.u, eps, out=tmp), out=tmp)
        delta /= np.sqrt(np.add(v, eps, out=u), out=u)
        delta *= g
        # θ ← θ − η Δ
        np.subtract(x, np.multiply(lr, delta, out=new_x), out=new_x)
        # u ← ρ u + (1 − ρ) Δ²              (the Δ² term first, while tmp still holds Δ)
        np.multiply(np.multiply(1.0 - rho, delta, out=u), delta, out=u)
        u += np.multiply(rho, state.u, out=tmp)
        return new_x, AdadeltaState(t=state.t + 1, v=v, u=u)


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


def _adam_step(x, g, state: AdamState, lr: float, betas, eps: float, amsgrad: bool,
               new_x: np.ndarray, shrink: float = 1.0):
    """One Adam update from the (already decayed) gradient: shared by Adam and AdamW.

    The new θ is computed into ``new_x`` (which may hold g). AdamW passes ``shrink`` = 1 − ηλ:
    θ is multiplied by it before the step is subtracted.
    """
    beta1, beta2 = betas
    t = state.t + 1
    (m, v), (tmp,) = _fresh(x, 2), _scratch(x)
    # m ← β1 m + (1 − β1) g
    np.multiply(beta1, state.m, out=m)
    m += np.multiply(1.0 - beta1, g, out=tmp)
    # v ← β2 v + (1 − β2) g²
    np.multiply(beta2, state.v, out=v)
    v += np.multiply(np.multiply(1.0 - beta2, g, out=tmp), g, out=tmp)
    # m̂ = m / (1 − β1^t)
    m_hat = np.divide(m, 1.0 - beta1**t, out=new_x)
    # AMSGrad: v_max ← max(v_max, v), and v̂ = v_max / (1 − β2^t)
    v_max = np.maximum(state.v_max, v, out=np.empty_like(x)) if amsgrad else state.v_max
    # v̂ = v / (1 − β2^t)
    v_hat = np.divide(v_max if amsgrad else v, 1.0 - beta2**t, out=tmp)
    # θ ← θ − η m̂ / (√v̂ + ε)        (AdamW: θ ← θ (1 − ηλ) − η m̂ / (√v̂ + ε))
    denom = np.add(np.sqrt(v_hat, out=tmp), eps, out=tmp)
    step = np.divide(np.multiply(lr, m_hat, out=new_x), denom, out=new_x)
    theta = x if shrink == 1.0 else np.multiply(x, shrink, out=tmp)
    np.subtract(theta, step, out=new_x)
    return new_x, AdamState(t=t, m=m, v=v, v_max=v_max)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        _check_betas(self.betas)
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        _check_eps(self.eps)
        _check_weight_decay(self.weight_decay)
        if not isinstance(self.amsgrad, bool):
            raise TypeError(f"amsgrad must be True or False, got {self.amsgrad!r}")

    def init(self, x: Params) -> AdamState:
        zeros = self._zeros(x)
        return AdamState(t=0, m=zeros, v=zeros, v_max=zeros)

    def _update(self, x, g, state, lr):
        new_x = np.empty_like(x)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        return _adam_step(x, g, state, lr, self.betas, self.eps, self.amsgrad, new_x=new_x)


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

    def _update(self, x, g, state, lr):
        # θ ← θ (1 − ηλ), then Adam's step with the plain gradient
        return _adam_step(x, g, state, lr, self.betas, self.eps, self.amsgrad,
                          new_x=np.empty_like(x), shrink=1.0 - lr * self.weight_decay)


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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        _check_betas(self.betas)
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        _check_eps(self.eps)
        _check_weight_decay(self.weight_decay)
        check_number("momentum_decay", self.momentum_decay, minimum=0.0)

    def init(self, x: Params) -> NAdamState:
        zeros = self._zeros(x)
        return NAdamState(t=0, m=zeros, v=zeros, mu_product=1.0)

    def mu(self, t: int) -> float:
        """The momentum schedule μ_t = β₁(1 − ½·0.96^(t·ψ))."""
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _update(self, x, g, state, lr):
        beta1, beta2 = self.betas
        t = state.t + 1
        (new_x, m, v), (tmp, tmp2) = _fresh(x, 3), _scratch(x, 2)
        g = _coupled_weight_decay(g, x, self.weight_decay, out=new_x)
        mu, mu_next = self.mu(t), self.mu(t + 1)
        mu_product = state.mu_product * mu
        # m ← β1 m + (1 − β1) g
        np.multiply(beta1, state.m, out=m)
        m += np.multiply(1.0 - beta1, g, out=tmp)
        # v ← β2 v + (1 − β2) g²
        np.multiply(beta2, state.v, out=v)
        v += np.multiply(np.multiply(1.0 - beta2, g, out=tmp), g, out=tmp)
        # v̂ = v / (1 − β2^t),  denom = √v̂ + ε
        v_hat = np.divide(v, 1.0 - beta2**t, out=tmp)
        denom = np.add(np.sqrt(v_hat, out=tmp), self.eps, out=tmp)
        # θ ← θ − η (1 − μ_t) / (1 − Π_t) · g / denom − η μ_{t+1} / (1 − Π_{t+1}) · m / denom
        # with Π_t = μ_1 ⋯ μ_t
        g_coef = lr * (1.0 - mu) / (1.0 - mu_product)
        m_coef = lr * mu_next / (1.0 - mu_product * mu_next)
        g_term = np.divide(np.multiply(g_coef, g, out=new_x), denom, out=new_x)
        m_term = np.divide(np.multiply(m_coef, m, out=tmp2), denom, out=tmp2)
        np.subtract(np.subtract(x, g_term, out=new_x), m_term, out=new_x)
        return new_x, NAdamState(t=t, m=m, v=v, mu_product=mu_product)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls
    for cls in (GD, Momentum, Nesterov, AdaGrad, RMSProp, Adadelta, Adam, AdamW, NAdam)
}
"""Every optimizer by its lower-case name (``"gd"``, ``"momentum"``, ..., ``"nadam"``)."""


def get_optimizer(name: str, **hyperparameters: Any) -> Optimizer:
    """Build an optimizer from its name, e.g. ``get_optimizer("adam", lr=0.1)``.

    >>> get_optimizer("momentum", lr=0.1)
    Momentum(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0)
    >>> get_optimizer("sgd")
    Traceback (most recent call last):
    ...
    ValueError: name must be one of gd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw, nadam; got 'sgd'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"name must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[key](**hyperparameters)



# --------------------------------------------------------------------------------------------
# AdaMax (appended: the book's chapter 8 meets it as a relative of Adam)
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

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        _check_betas(self.betas)
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        _check_eps(self.eps)
        _check_weight_decay(self.weight_decay)

    def init(self, x: Params) -> AdaMaxState:
        zeros = self._zeros(x)
        return AdaMaxState(t=0, m=zeros, u=zeros)

    def _update(self, x, g, state, lr):
        beta1, beta2 = self.betas
        t = state.t + 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * x
        m = beta1 * state.m + (1 - beta1) * g
        u = np.maximum(beta2 * state.u, np.abs(g) + self.eps)
        theta = x - lr / (1 - beta1**t) * (m / u)
        return theta, AdaMaxState(t=t, m=m, u=u)


__all__ += ["AdaMax", "AdaMaxState"]

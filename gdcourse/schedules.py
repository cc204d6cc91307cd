r"""Learning-rate schedules: the learning rate as a function of the step number.

A schedule is a callable ``schedule(k) -> lr`` where ``k`` is the number of updates already made
(0 for the first update). Pass one as the ``lr`` of any optimizer in :mod:`gdcourse.optim`::

    opt = Adam(lr=CosineAnnealing(0.1, t_max=100))

Each schedule gives the same learning rates as the PyTorch scheduler named in its docstring when
that scheduler's ``step()`` is called once after every ``optimizer.step()`` (PyTorch's
``last_epoch`` is our ``k``). They are written in closed form, so ``schedule(k)`` can be called
for any ``k`` in any order. Chapter 9 of the book compares them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gdcourse._validate import check_int, check_number

__all__ = [
    "Constant",
    "CosineAnnealing",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LinearWarmup",
    "Schedule",
    "SequentialSchedule",
    "StepDecay",
]


def _check_step(k) -> int:
    return check_int("k (updates already made)", k, minimum=0)


@dataclass(frozen=True)
class Schedule:
    """Base class of the schedules: call with the number of updates made, get a learning rate."""

    def __call__(self, k: int) -> float:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A short label for legends and optimizer descriptions."""
        return repr(self)


@dataclass(frozen=True)
class Constant(Schedule):
    r"""The same learning rate at every step: :math:`\eta_k = \eta_0`.

    Like ``torch.optim.lr_scheduler.ConstantLR`` with ``factor=1`` (or no scheduler at all).

    >>> Constant(0.1)(0), Constant(0.1)(1000)
    (0.1, 0.1)
    """

    lr: float

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)

    def __call__(self, k: int) -> float:
        _check_step(k)
        return float(self.lr)


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""Multiply the learning rate by γ every ``step_size`` steps.

    .. math:: \eta_k = \eta_0\, \gamma^{\lfloor k / s \rfloor}

    Same as ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``.

    >>> schedule = StepDecay(1.0, step_size=10, gamma=0.5)
    >>> schedule(9), schedule(10), schedule(25)
    (1.0, 0.5, 0.25)
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)
        check_int("step_size", self.step_size, minimum=1)
        check_number("gamma", self.gamma, minimum=0.0)

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        return self.lr * self.gamma ** (k // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    r"""Multiply the learning rate by γ at every step.

    .. math:: \eta_k = \eta_0\, \gamma^{k}

    Same as ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``.

    >>> ExponentialDecay(1.0, gamma=0.5)(3)
    0.125
    """

    lr: float
    gamma: float

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)
        check_number("gamma", self.gamma, minimum=0.0)

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        return self.lr * self.gamma**k


@dataclass(frozen=True)
class InverseTimeDecay(Schedule):
    r"""Decay the learning rate like :math:`1/k`, the classic stochastic-approximation schedule.

    .. math:: \eta_k = \frac{\eta_0}{1 + k / \tau}

    It satisfies the Robbins–Monro conditions :math:`\sum_k \eta_k = \infty` and
    :math:`\sum_k \eta_k^2 < \infty`, under which SGD converges to a minimizer instead of
    hovering in a noise ball (Robbins & Monro, 1951; book chapter 4). In PyTorch:
    ``LambdaLR(optimizer, lambda k: 1 / (1 + k / tau))``.

    >>> schedule = InverseTimeDecay(1.0, tau=10)
    >>> schedule(0), schedule(10), schedule(30)
    (1.0, 0.5, 0.25)
    """

    lr: float
    tau: float

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)
        check_number("tau", self.tau, minimum=0.0, min_inclusive=False)

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        return self.lr / (1.0 + k / self.tau)


@dataclass(frozen=True)
class CosineAnnealing(Schedule):
    r"""Cosine annealing from :math:`\eta_0` down to :math:`\eta_{\min}` over ``t_max`` steps.

    .. math::

        \eta_k = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi k}{T_{\max}}\right)

    Past :math:`T_{\max}` the cosine rises again (a period of :math:`2T_{\max}`), exactly as
    ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min)`` does; choose
    ``t_max`` as the length of the run to anneal once.

    References: Loshchilov & Hutter (2017), SGDR: stochastic gradient descent with warm restarts.

    >>> schedule = CosineAnnealing(1.0, t_max=10)
    >>> schedule(0), round(schedule(5), 12), schedule(10)
    (1.0, 0.5, 0.0)
    """

    lr: float
    t_max: int
    eta_min: float = 0.0

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)
        check_int("t_max", self.t_max, minimum=1)
        check_number("eta_min", self.eta_min, minimum=0.0)

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        cosine = 0.5 * (1.0 + math.cos(math.pi * k / self.t_max))
        return self.eta_min + (self.lr - self.eta_min) * cosine


@dataclass(frozen=True)
class LinearWarmup(Schedule):
    r"""Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then hold it.

    .. math::

        \eta_k = \eta_0 \left(f_0 + (f_1 - f_0)\,\frac{\min(k, K)}{K}\right)

    Same as ``torch.optim.lr_scheduler.LinearLR(optimizer, start_factor, end_factor,
    total_iters)`` (whose defaults these are). Warmup keeps the first steps small while
    adaptive optimizers' second-moment estimates are still poor (Goyal et al., 2017).

    >>> warmup = LinearWarmup(0.3, start_factor=0.1, total_iters=4)
    >>> [round(warmup(k), 6) for k in range(6)]
    [0.03, 0.0975, 0.165, 0.2325, 0.3, 0.3]
    """

    lr: float
    start_factor: float = 1.0 / 3.0
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0.0)
        check_number("start_factor", self.start_factor, minimum=0.0, maximum=1.0,
                     min_inclusive=False)
        check_number("end_factor", self.end_factor, minimum=0.0, maximum=1.0)
        check_int("total_iters", self.total_iters, minimum=1)

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        progress = min(k, self.total_iters) / self.total_iters
        return self.lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


@dataclass(frozen=True)
class SequentialSchedule(Schedule):
    """Run schedules one after another, switching at the given step numbers.

    ``SequentialSchedule([LinearWarmup(0.1, total_iters=10), CosineAnnealing(0.1, 90)],
    milestones=[10])`` warms up for 10 steps, then anneals; each schedule restarts its own
    count at its milestone, as ``torch.optim.lr_scheduler.SequentialLR`` intends.

    >>> warm_then_cosine = SequentialSchedule(
    ...     [LinearWarmup(1.0, start_factor=0.5, total_iters=2), CosineAnnealing(1.0, t_max=4)],
    ...     milestones=[2])
    >>> [round(warm_then_cosine(k), 4) for k in range(7)]
    [0.5, 0.75, 1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    schedules: Sequence[Schedule]
    milestones: Sequence[int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedules", tuple(self.schedules))
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if not self.schedules or not all(callable(s) for s in self.schedules):
            raise TypeError("schedules must be a non-empty sequence of schedules")
        if len(self.milestones) != len(self.schedules) - 1:
            raise ValueError(
                f"milestones must have one entry fewer than schedules "
                f"({len(self.schedules) - 1}), got {len(self.milestones)}"
            )
        previous = 0
        for milestone in self.milestones:
            check_int("milestones", milestone, minimum=previous + 1)
            previous = milestone

    def __call__(self, k: int) -> float:
        k = _check_step(k)
        start = 0
        for schedule, milestone in zip(self.schedules, (*self.milestones, None), strict=True):
            if milestone is None or k < milestone:
                return schedule(k - start)
            start = milestone
        raise AssertionError("unreachable")  # pragma: no cover

r"""Running optimizers: on a loss with exact gradients, or on data with mini-batch gradients.

- :func:`minimize` runs ``steps`` updates on a :mod:`gdcourse.losses` loss and returns a
  :class:`Trajectory` (every iterate, its loss and gradient norm).
- :func:`train` runs epochs over a :mod:`gdcourse.data` problem with batches of ``batch_size``
  samples and returns a :class:`History`. ``batch_size = n`` is batch gradient descent,
  ``batch_size = 1`` stochastic gradient descent, anything between mini-batch gradient descent:
  the optimizer is the same, only the gradient estimate changes.

Divergence is detected, never plotted as silent NaNs: a run *diverges* when a parameter, the loss
or the gradient stops being finite, or when the loss exceeds ``divergence_threshold`` times
max(1, |L(x₀)|). With ``on_divergence="stop"`` (the default) the run stops there and the result
says so (``diverged``, ``diverged_at``); with ``"raise"`` a :class:`DivergenceError` names the step.

Book: chapter 2 introduces :func:`minimize`, chapter 4 :func:`train`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcourse._validate import as_float_array, check_int, check_number
from gdcourse.data import minibatches

__all__ = ["DivergenceError", "History", "Trajectory", "minimize", "train"]

_ON_DIVERGENCE = ("stop", "raise")


class DivergenceError(ArithmeticError):
    """Raised by :func:`minimize` and :func:`train` with ``on_divergence="raise"``."""

    def __init__(self, step: int, loss: float, message: str = "") -> None:
        self.step = step
        self.loss = loss
        super().__init__(message or f"diverged at step {step}: loss = {loss:.3g} (lr too large?)")


def _as_output(params: np.ndarray) -> Any:
    return float(params) if params.ndim == 0 else params


def _label(optimizer: Any) -> str:
    return str(optimizer)


def _check_run_options(divergence_threshold: float, on_divergence: str) -> None:
    check_number("divergence_threshold", divergence_threshold, minimum=1.0)
    if on_divergence not in _ON_DIVERGENCE:
        raise ValueError(f"on_divergence must be 'stop' or 'raise', got {on_divergence!r}")


def _check_optimizer(optimizer: Any) -> None:
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "step", None))):
        raise TypeError("optimizer must have init(x) and step(x, grad, state) methods, e.g. "
                        f"gdcourse.optim.GD(lr=0.1); got {type(optimizer).__name__}")


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The result of :func:`minimize`.

    ``params[t]`` is :math:`x_t` for t = 0..steps (shape ``(steps + 1, *x0.shape)``);
    ``losses[t]`` and ``grad_norms[t]`` are the loss and gradient norm there. When the run
    diverged, the arrays stop at the last finite iterate and ``diverged_at`` is the step whose
    result was not acceptable.
    """

    params: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    optimizer: Any
    loss: Any
    diverged: bool = False
    diverged_at: int | None = None

    @property
    def steps(self) -> int:
        """Number of updates kept in the trajectory."""
        return len(self.losses) - 1

    @property
    def final_params(self) -> Any:
        """The last iterate (a float for scalar problems)."""
        return _as_output(self.params[-1])

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def label(self) -> str:
        """A short description for legends, e.g. ``GD(lr=0.1)``."""
        return _label(self.optimizer)


def _diverged(loss_value: float, params: np.ndarray, grad: np.ndarray, limit: float) -> bool:
    return (not np.isfinite(loss_value) or loss_value > limit
            or not np.all(np.isfinite(params)) or not np.all(np.isfinite(grad)))


def minimize(loss: Any, x0: Any, optimizer: Any, steps: int, *,
             divergence_threshold: float = 1e10, on_divergence: str = "stop") -> Trajectory:
    """Run ``steps`` updates of ``optimizer`` on ``loss`` from ``x0`` with exact gradients.

    >>> from gdcourse.losses import Parabola
    >>> from gdcourse.optim import GD
    >>> trajectory = minimize(Parabola(), 14.0, GD(lr=0.1), steps=100)
    >>> print(f"x_min = {trajectory.final_params:.3f}, L = {trajectory.final_loss:.3f}")
    x_min = 4.000, L = 0.000
    >>> minimize(Parabola(), 14.0, GD(lr=2.5), steps=100).diverged_at
    29
    """
    _check_optimizer(optimizer)
    if not (callable(getattr(loss, "value", None)) and callable(getattr(loss, "grad", None))):
        raise TypeError("loss must have value(x) and grad(x) methods, e.g. "
                        f"gdcourse.losses.Parabola(); got {type(loss).__name__}")
    steps = check_int("steps", steps, minimum=0)
    _check_run_options(divergence_threshold, on_divergence)
    x = as_float_array("x0", x0)
    with np.errstate(over="ignore", invalid="ignore"):
        loss_value, grad = loss.value(_as_output(x)), as_float_array("grad", loss.grad(_as_output(x)))
        if not np.isfinite(loss_value) or not np.all(np.isfinite(x)):
            raise ValueError(f"x0 must be a point where the loss is finite, got loss {loss_value}")
        limit = divergence_threshold * max(1.0, abs(loss_value))
        params, losses, norms = [x], [loss_value], [float(np.linalg.norm(grad))]
        state = optimizer.init(_as_output(x))
        diverged_at = None
        for step in range(1, steps + 1):
            new_x, state = optimizer.step(_as_output(x), _as_output(grad), state)
            x = as_float_array("x", new_x)
            loss_value = float(loss.value(_as_output(x))) if np.all(np.isfinite(x)) else np.inf
            grad = as_float_array("grad", loss.grad(_as_output(x))) if np.isfinite(loss_value) \
                else np.full_like(x, np.nan)
            if _diverged(loss_value, x, grad, limit):
                diverged_at = step
                break
            params.append(x)
            losses.append(loss_value)
            norms.append(float(np.linalg.norm(grad)))
    if diverged_at is not None and on_divergence == "raise":
        raise DivergenceError(diverged_at, loss_value)
    return Trajectory(np.array(params), np.array(losses), np.array(norms), optimizer, loss,
                      diverged=diverged_at is not None, diverged_at=diverged_at)


@dataclass(frozen=True, eq=False)
class History:
    """The result of :func:`train`.

    - ``params``: shape ``(updates + 1, dim)``, the parameters before the first and after every
      update;
    - ``update_losses``: shape ``(updates,)``, the loss on the batch used by each update
      (measured before that update: this is what a training loop sees);
    - ``epoch_losses``: shape ``(epochs + 1,)``, the full-data loss at the start and after every
      epoch;
    - ``grad_evals``: shape ``(updates + 1,)``, per-sample gradient evaluations so far (0 first);
      the fair x-axis for comparing batch sizes.
    """

    params: np.ndarray
    update_losses: np.ndarray
    epoch_losses: np.ndarray
    grad_evals: np.ndarray
    optimizer: Any
    batch_size: int
    epochs: int
    seed: int
    updates_per_epoch: int
    n_samples: int
    diverged: bool = False
    diverged_at: int | None = None

    @property
    def updates(self) -> int:
        return len(self.update_losses)

    @property
    def final_params(self) -> np.ndarray:
        return self.params[-1]

    @property
    def final_loss(self) -> float:
        """Full-data loss after the last completed epoch."""
        return float(self.epoch_losses[-1])

    @property
    def label(self) -> str:
        """"batch GD", "SGD" or "mini-batch (B)"."""
        if self.batch_size == self.n_samples:
            return "batch GD"
        if self.batch_size == 1:
            return "SGD"
        return f"mini-batch ({self.batch_size})"


def train(problem: Any, x0: Any, optimizer: Any, batch_size: int, epochs: int, seed: int = 0, *,
          shuffle: bool = True, divergence_threshold: float = 1e10,
          on_divergence: str = "stop") -> History:
    """Train ``problem`` with ``optimizer`` on batches of ``batch_size`` for ``epochs`` epochs.

    One generator, ``np.random.default_rng(seed)``, shuffles the samples at every epoch, so the
    same seed gives the same history bit for bit.

    >>> from gdcourse.data import LinearRegression, linear_data
    >>> from gdcourse.optim import GD
    >>> problem = LinearRegression(*linear_data(100, seed=0))
    >>> history = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=10, epochs=3)
    >>> history.updates_per_epoch, history.updates, int(history.grad_evals[-1]), history.label
    (10, 30, 300, 'mini-batch (10)')
    """
    _check_optimizer(optimizer)
    for method in ("loss", "grad", "n_samples"):
        if not hasattr(problem, method):
            raise TypeError("problem must have loss(params, batch), grad(params, batch) and "
                            f"n_samples, e.g. gdcourse.data.LinearRegression; got "
                            f"{type(problem).__name__}")
    n = problem.n_samples
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=n)
    epochs = check_int("epochs", epochs, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    _check_run_options(divergence_threshold, on_divergence)
    x = as_float_array("x0", x0)
    if x.shape != (problem.dim,):
        raise ValueError(f"x0 must have shape ({problem.dim},) for this problem, got {x.shape}")
    rng = np.random.default_rng(seed)
    updates_per_epoch = -(-n // batch_size)
    with np.errstate(over="ignore", invalid="ignore"):
        start_loss = problem.loss(x)
        limit = divergence_threshold * max(1.0, abs(start_loss))
        params, update_losses, epoch_losses, evals = [x], [], [start_loss], [0]
        state = optimizer.init(x)
        diverged_at = None
        update = 0
        for _ in range(epochs):
            for batch in minibatches(n, batch_size, rng, shuffle=shuffle):
                update += 1
                batch_loss = problem.loss(x, batch)
                grad = problem.grad(x, batch)
                x, state = optimizer.step(x, grad, state)
                if _diverged(batch_loss, x, grad, limit):
                    diverged_at = update
                    break
                params.append(x)
                update_losses.append(batch_loss)
                evals.append(evals[-1] + batch.size)
            if diverged_at is not None:
                break
            epoch_loss = problem.loss(x)
            if _diverged(epoch_loss, x, x, limit):
                diverged_at = update
                break
            epoch_losses.append(epoch_loss)
    if diverged_at is not None and on_divergence == "raise":
        raise DivergenceError(diverged_at, float(batch_loss))
    return History(np.array(params), np.array(update_losses), np.array(epoch_losses),
                   np.array(evals), optimizer, batch_size, epochs, seed, updates_per_epoch, n,
                   diverged=diverged_at is not None, diverged_at=diverged_at)

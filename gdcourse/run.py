r"""Running optimizers: on a loss with exact gradients, or on data with mini-batch gradients.

- :func:`minimize` runs ``steps`` updates on a :mod:`gdcourse.losses` loss and returns a
  :class:`Trajectory` (every iterate, its loss and gradient norm).
- :func:`train` runs epochs over a :mod:`gdcourse.data` problem with batches of ``batch_size``
  samples and returns a :class:`History`. ``batch_size = n`` is batch gradient descent,
  ``batch_size = 1`` stochastic gradient descent, anything between mini-batch gradient descent:
  the optimizer is the same, only the gradient estimate changes.

Divergence is detected, never plotted as silent NaNs. The rule: the iterate :math:`x_k` produced
by step (update) ``k`` is *divergent* when a parameter, its loss or its gradient is not finite, or
when its loss exceeds ``divergence_threshold × max(1, |L(x₀)|)`` (by default 10¹⁰ times the
starting loss, at least 10¹⁰). The first divergent iterate ends the run: with
``on_divergence="stop"`` (the default) the result keeps ``x_0 .. x_{k-1}`` and says so
(``diverged=True``, ``diverged_at=k``); with ``"raise"`` a :class:`DivergenceError` names the step
and the loss. All floating-point overflow on the way is silenced (no RuntimeWarning leaks out).

Book: chapter 2 introduces :func:`minimize`, chapter 4 :func:`train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcourse._validate import as_float_array, check_int, check_number
from gdcourse.data import minibatches

__all__ = ["DivergenceError", "History", "Trajectory", "minimize", "train"]

_ON_DIVERGENCE = ("stop", "raise")


class DivergenceError(ArithmeticError):
    """Raised by :func:`minimize` and :func:`train` with ``on_divergence="raise"``.

    ``step`` is the step (update) whose result diverged and ``loss`` the loss that gave it away.

    >>> print(DivergenceError(7, 3.2e12))
    diverged at step 7: loss = 3.2e+12 (lr too large?)
    """

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
    if not (callable(getattr(optimizer, "init", None))
            and callable(getattr(optimizer, "step", None))):
        raise TypeError("optimizer must have init(x) and step(x, grad, state) methods, e.g. "
                        f"gdcourse.optim.GD(lr=0.1); got {type(optimizer).__name__}")


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The result of :func:`minimize`.

    ``params[t]`` is :math:`x_t` for t = 0..steps (shape ``(steps + 1, *x0.shape)``);
    ``losses[t]`` and ``grad_norms[t]`` are the loss and gradient norm there. When the run
    diverged at step k (``diverged_at``), the arrays hold :math:`x_0 .. x_{k-1}`, all finite, and
    ``steps`` is k − 1.
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


def _norm(vector: np.ndarray) -> float:
    """``float(np.linalg.norm(vector))`` (the same sqrt of the same dot product), minus the
    overhead of np.linalg.norm, which a run pays at every step."""
    flat = vector.ravel()
    return float(np.sqrt(flat.dot(flat)))


def _finite(array: np.ndarray) -> bool:
    """Whether every entry of ``array`` is finite (``np.isfinite(array).all()``), checked the
    cheap way first: a sum of squares is inf or nan whenever an entry is, so a finite one
    settles it; only an infinite or nan one (a non-finite entry, or entries too large to
    square) needs the entries looked at one by one. A run asks this at every step, inside
    ``np.errstate(all="ignore")`` (so a square that overflows says nothing); on a small array
    the dot product costs a third of ``array.sum()``."""
    flat = array.ravel()
    return math.isfinite(flat.dot(flat)) or bool(np.isfinite(array).all())


def _acceptable(loss_value: float, limit: float) -> bool:
    """The loss part of the divergence rule: finite and at most ``limit``."""
    return math.isfinite(loss_value) and loss_value <= limit


def _loss_at(evaluate, x: np.ndarray) -> float:
    """The loss at a possibly non-finite point, for the divergence message (inf/nan allowed)."""
    if not _finite(x):
        return math.nan if np.isnan(x).any() else math.inf
    return float(evaluate(x))


def minimize(loss: Any, x0: Any, optimizer: Any, steps: int, *,
             divergence_threshold: float = 1e10, on_divergence: str = "stop") -> Trajectory:
    """Run ``steps`` updates of ``optimizer`` on ``loss`` from ``x0`` with exact gradients.

    ``loss`` needs ``value(x)`` and ``grad(x)`` (any :mod:`gdcourse.losses` loss); ``optimizer``
    needs ``init(x)`` and ``step(x, grad, state)`` (any :mod:`gdcourse.optim` optimizer). A scalar
    ``x0`` gives python floats to both, an array keeps its shape. Divergence follows the module's
    rule: the first divergent iterate ends the run (or raises, with ``on_divergence="raise"``).

    >>> from gdcourse.losses import Parabola
    >>> from gdcourse.optim import GD
    >>> trajectory = minimize(Parabola(), 14.0, GD(lr=0.1), steps=100)
    >>> print(f"x_min = {trajectory.final_params:.3f}, L = {trajectory.final_loss:.3f}")
    x_min = 4.000, L = 0.000
    >>> trajectory.params[:3].tolist(), trajectory.label
    ([14.0, 13.0, 12.1], 'GD(lr=0.1)')
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
    with np.errstate(all="ignore"):
        loss_value = float(loss.value(_as_output(x))) if _finite(x) else math.nan
        grad = as_float_array("grad", loss.grad(_as_output(x))) if _finite(x) else x
        if not (math.isfinite(loss_value) and _finite(grad)):
            raise ValueError(f"x0 must be a finite point where the loss and its gradient are "
                             f"finite, got x0 = {x0!r}, loss = {loss_value}")
        limit = divergence_threshold * max(1.0, abs(loss_value))
        params, losses, norms = [x], [loss_value], [_norm(grad)]
        state = optimizer.init(_as_output(x))
        diverged_at = None
        scalar = x.ndim == 0  # then the loss and the optimizer are handed python floats

        def value_at(point):
            return loss.value(float(point))

        value = value_at if scalar else loss.value

        for step in range(1, steps + 1):
            new_x, state = optimizer.step(float(x) if scalar else x,
                                          float(grad) if scalar else grad, state)
            x = as_float_array("x", new_x)
            loss_value = _loss_at(value, x)
            if _acceptable(loss_value, limit):
                grad = as_float_array("grad", loss.grad(float(x) if scalar else x))
                grad_norm = _norm(grad)  # a finite norm means a finite gradient (see _finite)
                if math.isfinite(grad_norm) or _finite(grad):
                    params.append(x)
                    losses.append(loss_value)
                    norms.append(grad_norm)
                    continue
            diverged_at = step
            break
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

    When the run diverged at update k (``diverged_at``), the arrays hold the updates before k and
    the epochs completed before k: ``params`` has k rows, ``epoch_losses`` may be shorter than
    ``epochs + 1``, and ``final_loss`` is the full-data loss after the last completed epoch.
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
        """Number of updates kept in the history."""
        return len(self.update_losses)

    @property
    def final_params(self) -> np.ndarray:
        """The parameters after the last kept update."""
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

    ``problem`` needs ``n_samples``, ``dim``, ``loss(params, batch)`` and ``grad(params, batch)``
    (and may offer ``loss_and_grad(params, batch)``, as :mod:`gdcourse.data`'s problems do, to
    share the work). Each epoch visits every sample once, in batches from
    :func:`gdcourse.data.minibatches`; the last batch of an epoch may be smaller. One generator,
    ``np.random.default_rng(seed)``, shuffles the samples at every epoch, so the same seed gives
    the same history bit for bit. ``batch_size = n_samples`` is batch gradient descent: every
    update then uses all the data in its stored order (shuffling a single batch would change
    nothing but the rounding), exactly like :func:`minimize` on the full-data loss.

    Divergence follows the module's rule, checked with what training computes anyway: parameters
    that are not finite right after an update, a mini-batch loss or gradient at them that is not
    finite or too large (at the next update), or a full-data loss that is (at the end of an
    epoch). ``diverged_at = k`` says the parameters of update k failed; the history keeps the
    updates before it and the epochs completed before it.

    >>> from gdcourse.data import LinearRegression, linear_data
    >>> from gdcourse.optim import GD
    >>> problem = LinearRegression(*linear_data(100, seed=0))
    >>> history = train(problem, [0.0, 0.0], GD(lr=0.1), batch_size=10, epochs=3)
    >>> history.updates_per_epoch, history.updates, int(history.grad_evals[-1]), history.label
    (10, 30, 300, 'mini-batch (10)')
    >>> history.params.shape, history.update_losses.shape, history.epoch_losses.shape
    ((31, 2), (30,), (4,))
    """
    _check_optimizer(optimizer)
    for attribute in ("loss", "grad", "n_samples", "dim"):
        if not hasattr(problem, attribute):
            raise TypeError("problem must have loss(params, batch), grad(params, batch), "
                            "n_samples and dim, e.g. gdcourse.data.LinearRegression; got "
                            f"{type(problem).__name__}")
    n = check_int("problem.n_samples", problem.n_samples, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=n)
    epochs = check_int("epochs", epochs, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    _check_run_options(divergence_threshold, on_divergence)
    x = as_float_array("x0", x0)
    if x.shape != (problem.dim,):
        raise ValueError(f"x0 must have shape ({problem.dim},) for this problem, got {x.shape}")
    evaluate = getattr(problem, "loss_and_grad", None)
    if not callable(evaluate):
        def evaluate(params, batch):
            return problem.loss(params, batch), problem.grad(params, batch)
    rng = np.random.default_rng(seed)
    updates_per_epoch = -(-n // batch_size)
    full_batch = batch_size == n
    with np.errstate(all="ignore"):
        start_loss, start_grad = evaluate(x, None)
        start_loss = float(start_loss)
        if not (_finite(x) and math.isfinite(start_loss) and _finite(np.asarray(start_grad))):
            raise ValueError(f"x0 must be a finite point where the loss and its gradient are "
                             f"finite, got x0 = {x0!r}, loss = {start_loss}")
        limit = divergence_threshold * max(1.0, abs(start_loss))
        params, update_losses, epoch_losses, evals = [x], [], [start_loss], [0]
        state = optimizer.init(x)
        diverged_at = bad_loss = None
        update = 0
        for _ in range(epochs):
            batches = [None] if full_batch else minibatches(n, batch_size, rng, shuffle=shuffle)
            for batch in batches:
                update += 1
                batch_loss, grad = evaluate(x, batch)
                batch_loss = float(batch_loss)
                if update > 1 and not (_acceptable(batch_loss, limit) and _finite(grad)):
                    diverged_at, bad_loss = update - 1, batch_loss  # x came from update - 1
                    break
                x, state = optimizer.step(x, grad, state)
                if type(x) is not np.ndarray:
                    x = as_float_array("x", x)
                if not _finite(x):
                    diverged_at, bad_loss = update, _loss_at(problem.loss, x)
                    break
                params.append(x)
                update_losses.append(batch_loss)
                evals.append(evals[-1] + (n if batch is None else batch.size))
            if diverged_at is not None:
                break
            epoch_loss = float(problem.loss(x))
            if not _acceptable(epoch_loss, limit):
                diverged_at, bad_loss = update, epoch_loss
                break
            epoch_losses.append(epoch_loss)
    if diverged_at is not None:
        if on_divergence == "raise":
            raise DivergenceError(diverged_at, bad_loss)
        # keep x_0 .. x_{k-1}, their batch losses and the epochs completed before update k
        del params[diverged_at:], update_losses[diverged_at - 1:], evals[diverged_at:]
        del epoch_losses[1 + (diverged_at - 1) // updates_per_epoch:]
    return History(np.array(params), np.array(update_losses), np.array(epoch_losses),
                   np.array(evals), optimizer, batch_size, epochs, seed, updates_per_epoch, n,
                   diverged=diverged_at is not None, diverged_at=diverged_at)

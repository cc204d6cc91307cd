r"""Seeded synthetic data sets and the learning problems built on them.

- :func:`linear_data` draws :math:`y = 2x + 1 + \text{noise}` (slope, intercept and noise level
  adjustable); :func:`two_class_data` draws two Gaussian clouds labelled 0 and 1.
- :func:`minibatches` yields the index arrays of one epoch: shuffled, the last partial batch kept.
- :class:`LinearRegression` and :class:`LogisticRegression` give the loss and its gradient on any
  subset (a mini-batch) of the data, which is all :func:`gdcourse.run.train` needs to run batch,
  stochastic or mini-batch gradient descent. Both are vectorised: a batch costs one matrix-vector
  product each way, whatever its size.

Every random draw goes through ``np.random.default_rng(seed)``: the same seed gives the same data,
bit for bit. Book: chapter 4 (batch, stochastic and mini-batch GD), chapters 9 and 10.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcourse._validate import FLOAT64, as_float_array, check_int, check_number

__all__ = [
    "LinearRegression",
    "LogisticRegression",
    "linear_data",
    "minibatches",
    "two_class_data",
]


def linear_data(n: int = 100, *, slope: float = 2.0, intercept: float = 1.0, noise: float = 1.0,
                x_range: tuple[float, float] = (0.0, 2.0), seed: int = 0,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points of ``y = slope·x + intercept + noise·ε`` with x uniform, ε ~ N(0, 1).

    Returns ``(x, y)``, two arrays of shape ``(n,)``.

    >>> x, y = linear_data(5, seed=1)
    >>> x.shape, y.shape
    ((5,), (5,))
    >>> bool(np.all(linear_data(5, seed=1)[1] == y))
    True
    """
    n = check_int("n", n, minimum=1)
    check_number("slope", slope)
    check_number("intercept", intercept)
    check_number("noise", noise, minimum=0.0)
    if not (isinstance(x_range, (tuple, list, np.ndarray)) and len(x_range) == 2):
        raise TypeError(f"x_range must be a pair (low, high), got {x_range!r}")
    low, high = (check_number("x_range", value) for value in x_range)
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    x = rng.uniform(low, high, size=n)
    y = slope * x + intercept + noise * rng.standard_normal(n)
    return x, y


def two_class_data(n: int = 200, *, separation: float = 2.0, seed: int = 0,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds in the plane: ``n // 2`` points around (−d/2, −d/2) labelled 0 and
    the rest around (d/2, d/2) labelled 1, with unit variance and d = ``separation`` (so the
    centres are d·√2 apart).

    Returns ``(X, y)`` with ``X`` of shape ``(n, 2)`` and labels ``y`` in {0, 1}, shuffled.

    >>> X, y = two_class_data(10, seed=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((10, 2), [0.0, 1.0])
    """
    n = check_int("n", n, minimum=2)
    check_number("separation", separation, minimum=0.0)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    labels = np.zeros(n)
    labels[n // 2:] = 1.0
    centers = (labels[:, None] - 0.5) * separation
    X = centers + rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return X[order], labels[order]


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator | None = None, *,
                shuffle: bool = True) -> Iterator[np.ndarray]:
    """Return an iterator over the index arrays of one epoch over ``n_samples`` samples.

    Each call is one epoch: with ``shuffle`` (the default) the order is a fresh permutation drawn
    from ``rng`` (a ``numpy.random.Generator``), so calling again with the same generator gives a
    new order. Batches hold ``batch_size`` indices, the last one the remaining
    ``n_samples % batch_size`` when that is not zero; every index appears exactly once. The
    arguments are checked at the call, not at the first ``next``.

    >>> [b.tolist() for b in minibatches(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    >>> rng = np.random.default_rng(0)
    >>> sorted(np.concatenate(list(minibatches(5, 2, rng))).tolist())
    [0, 1, 2, 3, 4]
    """
    n_samples = check_int("n_samples", n_samples, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=n_samples)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator such as np.random.default_rng(0), "
                        f"got {type(rng).__name__}")
    if shuffle:
        if rng is None:
            raise TypeError("rng must be a numpy.random.Generator when shuffle=True, got None")
        order = rng.permutation(n_samples)
    else:
        order = np.arange(n_samples)
    return (order[start:start + batch_size] for start in range(0, n_samples, batch_size))


class _Problem:
    """Shared checks of the learning problems: a design matrix with a bias column, targets."""

    _design: np.ndarray
    _targets: np.ndarray

    @property
    def dim(self) -> int:
        """Number of parameters (features + 1 for the intercept)."""
        return int(self._design.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self._design.shape[0])

    @property
    def default_start(self) -> np.ndarray:
        """All parameters zero."""
        return np.zeros(self.dim)

    def _params(self, params: Any) -> np.ndarray:
        if type(params) is np.ndarray and params.dtype is FLOAT64 and params.ndim == 1 \
                and params.shape[0] == self._design.shape[1]:
            return params  # the fast path taken at every update of gdcourse.run.train
        array = as_float_array("params", params)
        if array.shape != (self.dim,):
            raise ValueError(f"params must have shape ({self.dim},), got {array.shape}")
        return array

    def _batch(self, batch: Any) -> slice | np.ndarray:
        if batch is None:
            return slice(None)
        index = batch if type(batch) is np.ndarray else np.asarray(batch)
        if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
            raise ValueError("batch must be a non-empty 1-D array of sample indices or None, "
                             f"got {batch!r}")
        low, high = index.min(), index.max()
        if low < 0 or high >= self.n_samples:
            raise ValueError(f"batch indices must lie in [0, {self.n_samples}), got {low}..{high}")
        return index

    def _rows(self, params: Any, batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The checked parameters, the design rows and the targets of ``batch``."""
        w = self._params(params)
        index = self._batch(batch)
        if isinstance(index, slice):
            return w, self._design, self._targets
        # take: the rows of design[index], without the cost of fancy indexing (4x at batch 32)
        return w, self._design.take(index, axis=0), self._targets.take(index)

    def loss(self, params: Any, batch: Any = None) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def grad(self, params: Any, batch: Any = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def loss_and_grad(self, params: Any, batch: Any = None) -> tuple[float, np.ndarray]:
        """``(loss(params, batch), grad(params, batch))`` from one pass over the batch."""
        raise NotImplementedError  # pragma: no cover - overridden


def _mean(values: np.ndarray) -> float:
    """``float(np.mean(values))`` of a 1-D float array, without np.mean's per-call overhead
    (the same pairwise sum divided by the count, so the same bits)."""
    return float(np.add.reduce(values) / values.size)


def _design_matrix(name: str, features: np.ndarray) -> np.ndarray:
    if features.ndim == 1:
        features = features[:, None]
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"{name} must be an array of shape (n,) or (n, d) with n >= 1, "
                         f"got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} must be finite")
    return np.column_stack([features, np.ones(features.shape[0], dtype=features.dtype)])


def _targets(name: str, values: Any, n: int, features: str) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == bool:
        values = values.astype(float)  # boolean class labels are welcome
    targets = as_float_array(name, values)
    if targets.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one value per row of {features}; "
                         f"{features} and {name} must have the same length, got {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError(f"{name} must be finite")
    return targets


@dataclass(frozen=True, eq=False)
class LinearRegression(_Problem):
    r"""Fit a line :math:`\hat y = w_0 x + w_1` (or a plane, for several features) by least squares.

    Loss on a batch :math:`B` (*half* the mean squared error, so that the gradient has no 2):

    .. math:: L_B(w) = \frac{1}{2|B|} \sum_{i\in B} (w_0 x_i + w_1 - y_i)^2, \qquad
              \nabla L_B(w) = \frac{1}{|B|} \sum_{i\in B} (w_0 x_i + w_1 - y_i)\,(x_i, 1)

    ``x`` has shape ``(n,)`` (one feature: parameters ``w = [slope, intercept]``) or ``(n, d)``
    (parameters ``[w_1, ..., w_d, intercept]``); ``y`` has shape ``(n,)``. ``batch`` is an array
    of sample indices, ``None`` for all samples. ``solution()`` is the exact least-squares fit.

    Book: chapter 1 (a loss surface from data) and chapter 4 (batch, stochastic, mini-batch).

    >>> problem = LinearRegression(*linear_data(200, noise=0.0))
    >>> problem.n_samples, problem.dim
    (200, 2)
    >>> np.round(problem.solution(), 6).tolist()
    [2.0, 1.0]
    >>> problem.loss([2.0, 1.0]), problem.grad([2.0, 1.0], batch=np.array([0, 1])).tolist()
    (0.0, [0.0, 0.0])
    """

    x: Any
    y: Any

    def __post_init__(self) -> None:
        x = as_float_array("x", self.x)
        design = _design_matrix("x", x)
        y = _targets("y", self.y, design.shape[0], "x")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "_design", design)
        object.__setattr__(self, "_targets", y)

    def loss(self, params: Any, batch: Any = None) -> float:
        """Half the mean squared error on ``batch`` (all samples when None)."""
        w, design, y = self._rows(params, batch)
        residuals = design @ w - y
        return float(0.5 * (residuals @ residuals) / residuals.size)

    def grad(self, params: Any, batch: Any = None) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to the parameters."""
        w, design, y = self._rows(params, batch)
        residuals = design @ w - y
        return design.T @ residuals / residuals.size

    def loss_and_grad(self, params: Any, batch: Any = None) -> tuple[float, np.ndarray]:
        """``(loss(params, batch), grad(params, batch))``, sharing the residuals."""
        w, design, y = self._rows(params, batch)
        residuals = design @ w - y
        return (float(0.5 * (residuals @ residuals) / residuals.size),
                design.T @ residuals / residuals.size)

    def solution(self) -> np.ndarray:
        """The least-squares parameters (the minimizer of the full-data loss)."""
        return np.linalg.lstsq(self._design, self.y, rcond=None)[0]


@dataclass(frozen=True, eq=False)
class LogisticRegression(_Problem):
    r"""Classify with :math:`p(y=1\mid x) = \sigma(w^\top x + b)`, parameters ``[w..., b]``.

    Loss on a batch: the mean binary cross-entropy plus an optional L2 penalty on the weights
    (not on the bias),

    .. math:: L_B = \frac{1}{|B|}\sum_{i\in B} \big[\log(1 + e^{z_i}) - y_i z_i\big]
              + \frac{\lambda}{2}\lVert w\rVert^2,\quad z_i = w^\top x_i + b,

    computed stably with ``np.logaddexp``; gradient
    :math:`\frac{1}{|B|}\sum (\sigma(z_i) - y_i)(x_i, 1) + \lambda (w, 0)`.
    ``X`` has shape ``(n, d)`` (or ``(n,)`` for one feature), labels ``y`` are 0 or 1.

    Book: chapter 9 (a real small problem for the optimizer comparison).

    >>> problem = LogisticRegression(*two_class_data(100))
    >>> problem.n_samples, problem.dim
    (100, 3)
    >>> round(problem.loss(np.zeros(3)), 6)    # log 2 at zero parameters
    0.693147
    """

    X: Any
    y: Any
    l2: float = 0.0

    def __post_init__(self) -> None:
        X = as_float_array("X", self.X)
        design = _design_matrix("X", X)
        y = _targets("y", self.y, design.shape[0], "X")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y must hold labels 0 and 1 only, got the values "
                             f"{np.unique(y[(y != 0) & (y != 1)])[:5].tolist()}")
        object.__setattr__(self, "l2", check_number("l2", self.l2, minimum=0.0))
        object.__setattr__(self, "X", design[:, :-1])
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "_design", design)
        object.__setattr__(self, "_targets", y)

    def _penalty(self, w: np.ndarray) -> float:
        return 0.5 * self.l2 * float(w[:-1] @ w[:-1]) if self.l2 else 0.0

    def loss(self, params: Any, batch: Any = None) -> float:
        """Mean cross-entropy on ``batch`` (all samples when None) plus the L2 penalty."""
        w, design, y = self._rows(params, batch)
        z = design @ w
        return _mean(np.logaddexp(0.0, z) - y * z) + self._penalty(w)

    def grad(self, params: Any, batch: Any = None) -> np.ndarray:
        """Gradient of :meth:`loss`."""
        w, design, y = self._rows(params, batch)
        return self._gradient(w, design, design @ w, y)

    def loss_and_grad(self, params: Any, batch: Any = None) -> tuple[float, np.ndarray]:
        """``(loss(params, batch), grad(params, batch))``, sharing the logits."""
        w, design, y = self._rows(params, batch)
        z = design @ w
        loss = _mean(np.logaddexp(0.0, z) - y * z) + self._penalty(w)
        return loss, self._gradient(w, design, z, y)

    def _gradient(self, w, design, z, y):
        probabilities = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
        gradient = design.T @ (probabilities - y) / y.size
        if self.l2:
            gradient[:-1] += self.l2 * w[:-1]
        return gradient

    def accuracy(self, params: Any) -> float:
        """Fraction of all samples classified correctly (threshold 0.5)."""
        w, design, y = self._rows(params, None)
        return float(np.mean((design @ w > 0) == (y == 1)))

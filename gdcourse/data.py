r"""Seeded synthetic data sets and the learning problems built on them.

- :func:`linear_data` draws :math:`y = 2x + 1 + \text{noise}` (slope, intercept and noise level
  adjustable); :func:`two_class_data` draws two Gaussian clouds labelled 0 and 1.
- :func:`minibatches` yields the index arrays of one epoch: shuffled, the last partial batch kept.
- :class:`LinearRegression` and :class:`LogisticRegression` give the loss and its gradient on any
  subset (a mini-batch) of the data, which is all :func:`gdcourse.run.train` needs to run batch,
  stochastic or mini-batch gradient descent.

Every random draw goes through ``np.random.default_rng(seed)``: the same seed gives the same data,
bit for bit. Book: chapter 4 (batch, stochastic and mini-batch GD), chapters 9 and 10.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcourse._validate import as_float_array, check_int, check_number

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
    low, high = (check_number("x_range", value) for value in x_range)
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    x = rng.uniform(low, high, size=n)
    y = slope * x + intercept + noise * rng.standard_normal(n)
    return x, y


def two_class_data(n: int = 200, *, separation: float = 2.0, seed: int = 0,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds in the plane: ``n // 2`` points around (−d/2, −d/2) labelled 0 and the
    rest around (d/2, d/2) labelled 1, with unit variance and d = ``separation``.

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
    """Yield the index arrays of one epoch over ``n_samples`` samples.

    The order is a fresh permutation drawn from ``rng`` at every call when ``shuffle`` is true;
    the last batch holds the remaining ``n_samples % batch_size`` samples when that is not zero.

    >>> [b.tolist() for b in minibatches(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    n_samples = check_int("n_samples", n_samples, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=n_samples)
    if shuffle:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator when shuffle=True, "
                            f"got {type(rng).__name__}")
        order = rng.permutation(n_samples)
    else:
        order = np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start:start + batch_size]


class _Problem:
    """Shared checks of the learning problems."""

    dim: int
    n_samples: int

    def _params(self, params: Any) -> np.ndarray:
        array = as_float_array("params", params)
        if array.shape != (self.dim,):
            raise ValueError(f"params must have shape ({self.dim},), got {array.shape}")
        return array

    def _batch(self, batch: Any) -> slice | np.ndarray:
        if batch is None:
            return slice(None)
        index = np.asarray(batch)
        if index.ndim != 1 or index.size == 0 or not np.issubdtype(index.dtype, np.integer):
            raise ValueError("batch must be a non-empty 1-D array of sample indices or None")
        if index.min() < 0 or index.max() >= self.n_samples:
            raise ValueError(f"batch indices must lie in [0, {self.n_samples}), "
                             f"got {index.min()}..{index.max()}")
        return index


@dataclass(frozen=True, eq=False)
class LinearRegression(_Problem):
    r"""Fit a line :math:`\hat y = w_0 x + w_1` by least squares.

    Loss on a batch :math:`B` (half the mean squared error):

    .. math:: L_B(w) = \frac{1}{2|B|} \sum_{i\in B} (w_0 x_i + w_1 - y_i)^2, \qquad
              \nabla L_B(w) = \frac{1}{|B|} \sum_{i\in B} (w_0 x_i + w_1 - y_i)\,(x_i, 1)

    Parameters ``w = [slope, intercept]``; ``solution()`` is the exact least-squares fit.

    >>> problem = LinearRegression(*linear_data(200, noise=0.0))
    >>> np.round(problem.solution(), 6).tolist()
    [2.0, 1.0]
    """

    x: Any
    y: Any

    def __post_init__(self) -> None:
        x, y = as_float_array("x", self.x), as_float_array("y", self.y)
        if x.ndim != 1 or y.shape != x.shape or x.size == 0:
            raise ValueError(f"x and y must be 1-D arrays of the same length, got {x.shape} and "
                             f"{y.shape}")
        design = np.column_stack([x, np.ones_like(x)])
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "_design", design)

    dim = 2

    @property
    def n_samples(self) -> int:  # type: ignore[override]
        return int(self.x.size)

    def _residuals(self, params, batch):
        w = self._params(params)
        index = self._batch(batch)
        design = self._design[index]
        return design, design @ w - self.y[index]

    def loss(self, params: Any, batch: Any = None) -> float:
        """Half the mean squared error on ``batch`` (all samples when None)."""
        _, residuals = self._residuals(params, batch)
        return float(0.5 * np.mean(residuals**2))

    def grad(self, params: Any, batch: Any = None) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to ``[slope, intercept]``."""
        design, residuals = self._residuals(params, batch)
        return design.T @ residuals / residuals.size

    def solution(self) -> np.ndarray:
        """The least-squares parameters (the minimizer of the full-data loss)."""
        return np.linalg.lstsq(self._design, self.y, rcond=None)[0]

    @property
    def default_start(self) -> np.ndarray:
        return np.zeros(2)


@dataclass(frozen=True, eq=False)
class LogisticRegression(_Problem):
    r"""Classify with :math:`p(y=1\mid x) = \sigma(w^\top x + b)`, parameters ``[w..., b]``.

    Loss on a batch: the mean binary cross-entropy plus an optional L2 penalty on the weights,

    .. math:: L_B = \frac{1}{|B|}\sum_{i\in B} \big[\log(1 + e^{z_i}) - y_i z_i\big]
              + \frac{\lambda}{2}\lVert w\rVert^2,\quad z_i = w^\top x_i + b,

    computed stably with ``np.logaddexp``; gradient
    :math:`\frac{1}{|B|}\sum (\sigma(z_i) - y_i)(x_i, 1) + \lambda (w, 0)`.

    >>> problem = LogisticRegression(*two_class_data(100))
    >>> round(problem.loss(np.zeros(3)), 6)    # log 2 at zero parameters
    0.693147
    """

    X: Any
    y: Any
    l2: float = 0.0

    def __post_init__(self) -> None:
        X, y = as_float_array("X", self.X), as_float_array("y", self.y)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
            raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y must hold labels 0 and 1 only")
        check_number("l2", self.l2, minimum=0.0)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "_design", np.column_stack([X, np.ones(X.shape[0])]))

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.X.shape[1] + 1)

    @property
    def n_samples(self) -> int:  # type: ignore[override]
        return int(self.X.shape[0])

    def _logits(self, params, batch):
        w = self._params(params)
        index = self._batch(batch)
        design = self._design[index]
        return w, design, design @ w, self.y[index]

    def loss(self, params: Any, batch: Any = None) -> float:
        """Mean cross-entropy on ``batch`` (all samples when None) plus the L2 penalty."""
        w, _, z, y = self._logits(params, batch)
        penalty = 0.5 * self.l2 * float(w[:-1] @ w[:-1])
        return float(np.mean(np.logaddexp(0.0, z) - y * z)) + penalty

    def grad(self, params: Any, batch: Any = None) -> np.ndarray:
        """Gradient of :meth:`loss`."""
        w, design, z, y = self._logits(params, batch)
        probabilities = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
        gradient = design.T @ (probabilities - y) / y.size
        gradient[:-1] += self.l2 * w[:-1]
        return gradient

    def accuracy(self, params: Any) -> float:
        """Fraction of all samples classified correctly (threshold 0.5)."""
        _, _, z, y = self._logits(params, None)
        return float(np.mean((z > 0) == (y == 1)))

    @property
    def default_start(self) -> np.ndarray:
        return np.zeros(self.dim)

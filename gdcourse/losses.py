r"""Toy loss functions with exact gradients, the landscapes the book's optimizers walk on.

Every loss has

- ``value(x)`` (also ``loss(x)``) and ``grad(x)`` for one parameter point ``x`` (a float for the
  one-dimensional losses, an array of shape ``(2,)`` for the 2-D test functions, ``(n,)`` for
  :class:`Quadratic`);
- ``values(points)``, vectorised for plots: elementwise on any array for 1-D losses, and over the
  last axis of shape 2 for 2-D losses (a contour grid of shape ``(..., 2)`` gives values ``(...)``);
- ``minimizers`` (global first, then local), ``minimum_value``, ``window`` (a default plotting
  window derived from the loss's parameters), ``default_start`` and ``name``.

Chapters: the parabola ½(x − 4)² is chapter 2's worked example; :class:`Quadratic` carries
chapter 3's stability bound and condition number; Rosenbrock, Beale, Himmelblau, the saddle and
the multi-minimum loss are chapter 5's and chapter 9's obstacle courses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.polynomial import Polynomial

from gdcourse._validate import as_float_array, check_number

__all__ = [
    "Beale",
    "Himmelblau",
    "Loss",
    "MultiMinimum",
    "Parabola",
    "Plateau",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
]


def _point(x: Any, dim: int, name: str = "x") -> np.ndarray:
    """Check that ``x`` is one point of a ``dim``-dimensional loss and return it as an array."""
    array = as_float_array(name, x)
    if array.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},) for this {dim}-D loss, got {array.shape}")
    return array


def _points(points: Any, dim: int) -> np.ndarray:
    array = as_float_array("points", points)
    if array.ndim == 0 or array.shape[-1] != dim:
        raise ValueError(f"points must have shape (..., {dim}), got {array.shape}")
    return array


class Loss:
    """Base class of the toy losses (see the module docstring for the interface)."""

    name: ClassVar[str] = "loss"
    dim: int = 1
    minimizers: tuple = ()
    minimum_value: float | None = None
    saddle_points: tuple = ()

    def value(self, x: Any) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def grad(self, x: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def values(self, points: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def __call__(self, x: Any) -> float:
        return self.value(x)

    @property
    def window(self) -> tuple[tuple[float, float], ...]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def default_start(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# One-dimensional losses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parabola(Loss):
    r"""The parabola :math:`L(x) = \tfrac{c}{2}(x - x^\star)^2`, by default ½(x − 4)².

    Gradient :math:`L'(x) = c\,(x - x^\star)`; minimizer :math:`x^\star` (``center``) with
    :math:`L = 0`; curvature :math:`c` is also the gradient's Lipschitz constant, so gradient
    descent is stable for learning rates below :math:`2/c`. For an array ``x`` the loss is the sum
    over its entries (the same parabola in every coordinate).

    Book: chapter 2's worked example starts at x = 14 with learning rate 0.1.

    >>> loss = Parabola()
    >>> loss(14.0), loss.grad(14.0), loss.minimizers
    (50.0, 10.0, (4.0,))
    """

    center: float = 4.0
    curvature: float = 1.0

    name: ClassVar[str] = "parabola"
    dim: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_number("center", self.center)
        check_number("curvature", self.curvature, minimum=0.0, min_inclusive=False)

    @property
    def minimizers(self) -> tuple[float]:
        return (float(self.center),)

    @property
    def minimum_value(self) -> float:
        return 0.0

    @property
    def lipschitz(self) -> float:
        """Lipschitz constant of the gradient: the curvature c."""
        return float(self.curvature)

    def value(self, x: Any) -> float:
        array = as_float_array("x", x)
        return float(0.5 * self.curvature * np.sum((array - self.center) ** 2))

    def grad(self, x: Any) -> Any:
        array = as_float_array("x", x)
        gradient = self.curvature * (array - self.center)
        return float(gradient) if array.ndim == 0 else gradient

    def values(self, points: Any) -> np.ndarray:
        return 0.5 * self.curvature * (as_float_array("points", points) - self.center) ** 2

    @property
    def window(self) -> tuple[tuple[float, float]]:
        half_width = max(12.0, 1.2 * abs(self.default_start - self.center))
        return ((self.center - half_width, self.center + half_width),)

    @property
    def default_start(self) -> float:
        return float(self.center + 10.0)


@dataclass(frozen=True)
class MultiMinimum(Loss):
    r"""A 1-D polynomial loss with three local minima of different depths.

    It is defined through its derivative,
    :math:`L'(x) = s\,(x - m_1)(x - r_1)(x - m_2)(x - r_2)(x - m_3)`, with minima
    :math:`m_1 < m_2 < m_3` separated by maxima :math:`r_1, r_2`, and :math:`L(0) = 0`, so the
    minimizers are exact. By default the global minimum is the far-left valley; gradient descent
    started at the right (``default_start``) settles in the nearest, shallower valley.

    Book: chapter 5 (local minima, and how noise and momentum can escape them).

    >>> loss = MultiMinimum()
    >>> loss.minimizers   # deepest first
    (-3.0, 4.0, 1.0)
    >>> [abs(loss.grad(m)) < 1e-12 for m in loss.minimizers]
    [True, True, True]
    """

    minima: tuple[float, float, float] = (-3.0, 1.0, 4.0)
    maxima: tuple[float, float] = (-1.0, 2.5)
    scale: float = 0.05

    name: ClassVar[str] = "multi-minimum"
    dim: ClassVar[int] = 1
    _polynomial: Polynomial = field(init=False, repr=False, compare=False)
    _derivative: Polynomial = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.minima) != 3 or len(self.maxima) != 2:
            raise ValueError("minima must hold 3 values and maxima 2")
        m1, m2, m3 = (check_number("minima", m) for m in self.minima)
        r1, r2 = (check_number("maxima", r) for r in self.maxima)
        if not (m1 < r1 < m2 < r2 < m3):
            raise ValueError(
                f"expected minima[0] < maxima[0] < minima[1] < maxima[1] < minima[2], "
                f"got minima={self.minima}, maxima={self.maxima}"
            )
        check_number("scale", self.scale, minimum=0.0, min_inclusive=False)
        derivative = self.scale * Polynomial.fromroots([m1, r1, m2, r2, m3])
        object.__setattr__(self, "_derivative", derivative)
        object.__setattr__(self, "_polynomial", derivative.integ(lbnd=0.0))

    @property
    def minimizers(self) -> tuple[float, ...]:
        """All three minimizers, the deepest first."""
        return tuple(sorted((float(m) for m in self.minima), key=self._polynomial))

    @property
    def minimum_value(self) -> float:
        return float(self._polynomial(self.minimizers[0]))

    def value(self, x: Any) -> float:
        array = as_float_array("x", x)
        return float(np.sum(self._polynomial(array)))

    def grad(self, x: Any) -> Any:
        array = as_float_array("x", x)
        gradient = self._derivative(array)
        return float(gradient) if array.ndim == 0 else gradient

    def values(self, points: Any) -> np.ndarray:
        return self._polynomial(as_float_array("points", points))

    @property
    def window(self) -> tuple[tuple[float, float]]:
        low, high = min(self.minima), max(self.minima)
        margin = 0.25 * (high - low)
        return ((low - margin, high + margin),)

    @property
    def default_start(self) -> float:
        return float(max(self.minima) + 0.15 * (max(self.minima) - min(self.minima)))


@dataclass(frozen=True)
class Plateau(Loss):
    r"""A 1-D loss with a long, almost flat plateau before a valley.

    :math:`L(x) = 1 - \exp\!\big(-\tfrac{(x - c)^2}{2 w^2}\big) + \tfrac{\epsilon}{2}(x - c)^2`:
    a Gaussian well of width :math:`w` centred at :math:`c` on a nearly flat plain (the small
    quadratic term :math:`\epsilon` keeps a gentle slope far away). Far from the well the gradient
    is tiny, so gradient descent crawls — the plateau problem of chapter 5.

    >>> loss = Plateau()
    >>> loss.minimizers, loss.minimum_value
    ((0.0,), 0.0)
    >>> abs(loss.grad(6.0)) < 0.01
    True
    """

    center: float = 0.0
    width: float = 1.0
    slope: float = 1e-3

    name: ClassVar[str] = "plateau"
    dim: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_number("center", self.center)
        check_number("width", self.width, minimum=0.0, min_inclusive=False)
        check_number("slope", self.slope, minimum=0.0)

    @property
    def minimizers(self) -> tuple[float]:
        return (float(self.center),)

    @property
    def minimum_value(self) -> float:
        return 0.0

    def values(self, points: Any) -> np.ndarray:
        d = as_float_array("points", points) - self.center
        return 1.0 - np.exp(-(d**2) / (2 * self.width**2)) + 0.5 * self.slope * d**2

    def value(self, x: Any) -> float:
        return float(np.sum(self.values(x)))

    def grad(self, x: Any) -> Any:
        array = as_float_array("x", x)
        d = array - self.center
        gradient = d / self.width**2 * np.exp(-(d**2) / (2 * self.width**2)) + self.slope * d
        return float(gradient) if array.ndim == 0 else gradient

    @property
    def window(self) -> tuple[tuple[float, float]]:
        return ((self.center - 8 * self.width, self.center + 8 * self.width),)

    @property
    def default_start(self) -> float:
        return float(self.center + 6 * self.width)


# --------------------------------------------------------------------------------------------
# Quadratics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Quadratic(Loss):
    r"""The quadratic :math:`L(x) = \tfrac12 x^\top A x - b^\top x + c`.

    Gradient :math:`A x - b`; for symmetric positive definite :math:`A` the unique minimizer solves
    :math:`A x^\star = b`. The eigenvalues of :math:`A` decide everything about gradient descent
    here: the largest, :math:`L` (``lipschitz``), bounds stable learning rates by :math:`2/L`; the
    ratio :math:`\kappa = L/\mu` (``condition_number``) sets how slowly the flattest direction
    converges and how much the path zig-zags.

    Book: chapter 3 (stability bound, rates, conditioning) and chapter 6 (momentum).

    >>> q = Quadratic([[1.0, 0.0], [0.0, 10.0]], [0.0, 0.0])
    >>> q.lipschitz, q.strong_convexity, q.condition_number
    (10.0, 1.0, 10.0)
    """

    A: Any
    b: Any
    c: float = 0.0

    name: ClassVar[str] = "quadratic"

    def __post_init__(self) -> None:
        A = as_float_array("A", self.A)
        b = as_float_array("b", self.b)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {A.shape}")
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},) to match A, got {b.shape}")
        if not np.all(np.isfinite(A)) or not np.all(np.isfinite(b)):
            raise ValueError("A and b must be finite")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12):
            raise ValueError("A must be symmetric")
        eigenvalues = np.linalg.eigvalsh(A)
        if eigenvalues[0] < -1e-12 * max(1.0, abs(eigenvalues[-1])):
            raise ValueError(
                f"A must be positive semi-definite, its smallest eigenvalue is {eigenvalues[0]:g}"
            )
        check_number("c", self.c)
        A.setflags(write=False)
        b.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "_eigenvalues", eigenvalues)

    @classmethod
    def ill_conditioned(cls, condition_number: float = 10.0, *, curvature: float = 1.0,
                        center: tuple[float, float] = (0.0, 0.0)) -> Quadratic:
        """A 2-D diagonal quadratic with eigenvalues ``curvature`` and
        ``curvature * condition_number`` and minimizer ``center``: the zig-zag example.

        >>> Quadratic.ill_conditioned(25.0).condition_number
        25.0
        """
        check_number("condition_number", condition_number, minimum=1.0)
        check_number("curvature", curvature, minimum=0.0, min_inclusive=False)
        A = np.diag([curvature, curvature * condition_number])
        return cls(A, A @ np.asarray(center, dtype=float))

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.A.shape[0])

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of A, ascending."""
        return self._eigenvalues.copy()

    @property
    def lipschitz(self) -> float:
        """Largest eigenvalue L of A: the gradient's Lipschitz constant."""
        return float(self._eigenvalues[-1])

    @property
    def strong_convexity(self) -> float:
        """Smallest eigenvalue μ of A."""
        return float(self._eigenvalues[0])

    @property
    def condition_number(self) -> float:
        """κ = L / μ (infinite when A is singular)."""
        return self.lipschitz / self.strong_convexity if self.strong_convexity > 0 else np.inf

    @property
    def minimizer(self) -> np.ndarray:
        """The solution of A x = b (least squares when A is singular)."""
        return np.linalg.lstsq(self.A, self.b, rcond=None)[0]

    @property
    def minimizers(self) -> tuple[np.ndarray]:
        return (self.minimizer,)

    @property
    def minimum_value(self) -> float:
        return self.value(self.minimizer)

    def value(self, x: Any) -> float:
        x = _point(x, self.dim)
        return float(0.5 * x @ self.A @ x - self.b @ x + self.c)

    def grad(self, x: Any) -> np.ndarray:
        x = _point(x, self.dim)
        return self.A @ x - self.b

    def values(self, points: Any) -> np.ndarray:
        p = _points(points, self.dim)
        return 0.5 * np.einsum("...i,ij,...j->...", p, self.A, p) - p @ self.b + self.c

    @property
    def default_start(self) -> np.ndarray:
        """A start 3 units from the minimizer along the first axis and 1 along the others."""
        return self.minimizer + np.array([-3.0] + [1.0] * (self.dim - 1))

    @property
    def window(self) -> tuple[tuple[float, float], ...]:
        start = self.default_start
        center = self.minimizer
        radius = 1.25 * np.max(np.abs(start - center))
        return tuple((float(c - radius), float(c + radius)) for c in center[:2])

    def __repr__(self) -> str:
        return f"Quadratic(A={self.A.tolist()}, b={self.b.tolist()}, c={self.c})"


# --------------------------------------------------------------------------------------------
# Two-dimensional test functions
# --------------------------------------------------------------------------------------------


class _TwoD(Loss):
    """Shared plumbing of the 2-D losses: subclasses define ``_f(x, y)`` and ``_df(x, y)``."""

    dim: ClassVar[int] = 2

    def value(self, x: Any) -> float:
        px, py = _point(x, 2)
        return float(self._f(px, py))

    def grad(self, x: Any) -> np.ndarray:
        px, py = _point(x, 2)
        return np.array(self._df(px, py), dtype=float)

    def values(self, points: Any) -> np.ndarray:
        p = _points(points, 2)
        return self._f(p[..., 0], p[..., 1])

    def _f(self, x, y):  # pragma: no cover - overridden
        raise NotImplementedError

    def _df(self, x, y):  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Rosenbrock(_TwoD):
    r"""Rosenbrock's banana valley :math:`L(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    Gradient :math:`(-2(a - x) - 4bx(y - x^2),\ 2b(y - x^2))`; minimum 0 at :math:`(a, a^2)`
    at the end of a long curved valley that is easy to find and slow to follow.

    >>> Rosenbrock().grad([1.0, 1.0]).tolist() == [0.0, 0.0]
    True
    """

    a: float = 1.0
    b: float = 100.0

    name: ClassVar[str] = "Rosenbrock"

    def __post_init__(self) -> None:
        check_number("a", self.a)
        check_number("b", self.b, minimum=0.0, min_inclusive=False)

    def _f(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def _df(self, x, y):
        return (-2 * (self.a - x) - 4 * self.b * x * (y - x**2), 2 * self.b * (y - x**2))

    @property
    def minimizers(self) -> tuple[np.ndarray]:
        return (np.array([self.a, self.a**2]),)

    @property
    def minimum_value(self) -> float:
        return 0.0

    @property
    def window(self):
        a = abs(self.a)
        return ((-2.0 * max(a, 1.0), 2.0 * max(a, 1.0)), (-1.0 * max(a, 1.0), 3.0 * max(a**2, 1.0)))

    @property
    def default_start(self) -> np.ndarray:
        return np.array([-1.5 * max(abs(self.a), 1.0), 2.0 * max(self.a**2, 1.0)])


@dataclass(frozen=True)
class Beale(_TwoD):
    r"""Beale's function
    :math:`L = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2`.

    Minimum 0 at (3, 0.5) in a narrow curved valley; steep walls and flat shelves make step sizes
    hard to choose.

    >>> Beale()([3.0, 0.5]), Beale().grad([3.0, 0.5]).tolist()
    (0.0, [0.0, 0.0])
    """

    name: ClassVar[str] = "Beale"
    _constants: ClassVar[tuple[float, float, float]] = (1.5, 2.25, 2.625)

    def _f(self, x, y):
        return sum((c - x + x * y**k) ** 2 for k, c in enumerate(self._constants, start=1))

    def _df(self, x, y):
        dx = sum(2 * (c - x + x * y**k) * (y**k - 1) for k, c in enumerate(self._constants, 1))
        dy = sum(2 * (c - x + x * y**k) * k * x * y ** (k - 1)
                 for k, c in enumerate(self._constants, 1))
        return dx, dy

    minimizers: ClassVar[tuple] = (np.array([3.0, 0.5]),)
    minimum_value: ClassVar[float] = 0.0

    @property
    def window(self):
        return ((-4.5, 4.5), (-4.5, 4.5))

    @property
    def default_start(self) -> np.ndarray:
        return np.array([1.0, 1.5])


def _newton_refine(loss: _TwoD, guess: np.ndarray, hessian, steps: int = 50) -> np.ndarray:
    x = np.array(guess, dtype=float)
    for _ in range(steps):
        x = x - np.linalg.solve(hessian(*x), loss.grad(x))
    return x


@dataclass(frozen=True)
class Himmelblau(_TwoD):
    r"""Himmelblau's function :math:`L = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Four global minima, all with value 0: (3, 2) exactly and three others (refined here by
    Newton's method from their well-known approximations). Which one gradient descent finds
    depends on where it starts.

    >>> [np.round(m, 6).tolist() for m in Himmelblau().minimizers]
    [[3.0, 2.0], [-2.805118, 3.131313], [-3.77931, -3.283186], [3.584428, -1.848127]]
    """

    name: ClassVar[str] = "Himmelblau"
    minimum_value: ClassVar[float] = 0.0

    def _f(self, x, y):
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    def _df(self, x, y):
        u, v = x**2 + y - 11, x + y**2 - 7
        return 4 * x * u + 2 * v, 2 * u + 4 * y * v

    @staticmethod
    def _hessian(x, y):
        u, v = x**2 + y - 11, x + y**2 - 7
        return np.array([[4 * u + 8 * x**2 + 2, 4 * x + 4 * y],
                         [4 * x + 4 * y, 2 + 4 * v + 8 * y**2]])

    @property
    def minimizers(self) -> tuple[np.ndarray, ...]:
        guesses = ([3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126])
        return tuple(_newton_refine(self, np.array(g), self._hessian) for g in guesses)

    @property
    def window(self):
        return ((-5.0, 5.0), (-5.0, 5.0))

    @property
    def default_start(self) -> np.ndarray:
        return np.array([0.0, 0.0])


@dataclass(frozen=True)
class Saddle(_TwoD):
    r"""The saddle :math:`L(x, y) = x^2 - y^2`, stationary but not minimal at the origin.

    Gradient :math:`(2x, -2y)`; Hessian eigenvalues 2 and −2. There is no minimum
    (``minimizers`` is empty): gradient descent started exactly on the x-axis converges to the
    saddle point, any other start eventually slides away along y.

    >>> Saddle().saddle_points[0].tolist(), Saddle().minimizers
    ([0.0, 0.0], ())
    """

    name: ClassVar[str] = "saddle"
    minimizers: ClassVar[tuple] = ()
    minimum_value: ClassVar[None] = None

    @property
    def saddle_points(self) -> tuple[np.ndarray]:
        return (np.zeros(2),)

    def _f(self, x, y):
        return x**2 - y**2

    def _df(self, x, y):
        return 2 * x, -2 * y

    @property
    def window(self):
        return ((-2.0, 2.0), (-2.0, 2.0))

    @property
    def default_start(self) -> np.ndarray:
        return np.array([1.5, 1e-3])

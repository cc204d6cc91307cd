r"""Toy loss functions with exact gradients, the landscapes the book's optimizers walk on.

Every loss has

- ``value(x)`` (also as a call, ``loss(x)``) and ``grad(x)`` for one parameter point ``x`` (a
  float for the one-dimensional losses, an array of shape ``(2,)`` for the 2-D test functions,
  ``(n,)`` for :class:`Quadratic`);
- ``values(points)``, vectorised for plots: elementwise on any array for 1-D losses, and over the
  last axis of shape 2 for 2-D losses (a contour grid of shape ``(..., 2)`` gives values ``(...)``);
- ``minimizers`` (global first, then local), ``minimum_value`` (None when unbounded below),
  ``saddle_points``, ``window`` (a default plotting window derived from the loss's parameters),
  ``default_start`` (the book's usual start), ``name`` (for plot labels) and ``dim``.

Chapters: the parabola ½(x − 4)² is chapter 2's worked example; :class:`Quadratic` carries
chapter 3's stability bound and condition number; Rosenbrock, Beale, Himmelblau, the saddle and
the multi-minimum loss are chapter 5's and chapter 9's obstacle courses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.polynomial import Polynomial

from gdcourse._validate import FLOAT64, as_float_array, check_number

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
    if type(x) is np.ndarray and x.dtype is FLOAT64 and x.shape == (dim,):
        return x  # the common case, at every step of a run
    array = as_float_array(name, x)
    if array.shape != (dim,):
        raise ValueError(
            f"{name} must have shape ({dim},) for this {dim}-D loss, got {array.shape}")
    return array


def _points(points: Any, dim: int) -> np.ndarray:
    array = as_float_array("points", points)
    if array.ndim == 0 or array.shape[-1] != dim:
        raise ValueError(f"points must have shape (..., {dim}), got {array.shape}")
    return array


def _floats(name: str, values: Any, length: int) -> tuple[float, ...]:
    """Check that ``values`` is a sequence of ``length`` finite numbers; return them as floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of {length} numbers, got "
                        f"{type(values).__name__} {values!r}")
    if len(values) != length:
        raise ValueError(f"{name} must hold {length} numbers, got {len(values)}: {values!r}")
    return tuple(check_number(f"{name}[{i}]", value) for i, value in enumerate(values))


def _frozen(array: Any) -> np.ndarray:
    """A read-only float copy, for arrays shared by every instance (minimizers and the like)."""
    array = np.array(array, dtype=float)
    array.setflags(write=False)
    return array


class Loss(ABC):
    """Abstract base class of the toy losses (see the module docstring for the interface).

    Subclasses implement :meth:`value`, :meth:`grad`, :meth:`values`, :attr:`window` and
    :attr:`default_start`, and set ``name``, ``dim``, ``minimizers`` and ``minimum_value``.

    >>> Loss()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Can't instantiate abstract class Loss...
    """

    name: ClassVar[str] = "loss"
    dim: int = 1
    #: Known minimizers, the global one(s) first (floats for 1-D losses, arrays for the others).
    minimizers: tuple = ()
    #: The global minimum, or None when the loss is unbounded below.
    minimum_value: float | None = None
    #: Known saddle points (stationary points that are neither minima nor maxima).
    saddle_points: tuple = ()

    @abstractmethod
    def value(self, x: Any) -> float:
        """The loss at one parameter point ``x``, as a python float."""

    @abstractmethod
    def grad(self, x: Any) -> Any:
        """The exact gradient at ``x``: a float for a scalar ``x``, else an array shaped like x."""

    @abstractmethod
    def values(self, points: Any) -> np.ndarray:
        """The loss at many points at once (for curves and contour grids)."""

    def __call__(self, x: Any) -> float:
        return self.value(x)

    @property
    @abstractmethod
    def window(self) -> tuple[tuple[float, float], ...]:
        """Default plotting window: ``((lo, hi),)`` in 1-D, ``((xlo, xhi), (ylo, yhi))`` in 2-D."""

    @property
    @abstractmethod
    def default_start(self) -> Any:
        """The starting point the book uses for this loss."""


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
    >>> loss
    Parabola(center=4.0, curvature=1.0)
    >>> loss(14.0)
    50.0
    >>> loss.grad(14.0), loss.minimizers, loss.minimum_value, loss.window
    (10.0, (4.0,), 0.0, ((-8.0, 16.0),))
    >>> loss.values(np.array([4.0, 6.0, 14.0])).tolist()
    [0.0, 2.0, 50.0]
    """

    center: float = 4.0
    curvature: float = 1.0

    name: ClassVar[str] = "parabola"
    dim: ClassVar[int] = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", check_number("center", self.center))
        object.__setattr__(self, "curvature", check_number("curvature", self.curvature,
                                                           minimum=0.0, min_inclusive=False))

    @property
    def minimizers(self) -> tuple[float]:
        return (self.center,)

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
        """``center ± 12``: the minimizer in the middle, the default start well inside."""
        half_width = 1.2 * abs(self.default_start - self.center)
        return ((self.center - half_width, self.center + half_width),)

    @property
    def default_start(self) -> float:
        """``center + 10``: x = 14 for the default parabola, as in chapter 2."""
        return self.center + 10.0


@dataclass(frozen=True)
class MultiMinimum(Loss):
    r"""A 1-D polynomial loss with three local minima of different depths.

    It is defined through its derivative,
    :math:`L'(x) = s\,(x - m_1)(x - r_1)(x - m_2)(x - r_2)(x - m_3)`, with minima
    :math:`m_1 < m_2 < m_3` separated by maxima :math:`r_1, r_2`, and :math:`L(0) = 0`, so the
    minimizers are exact. By default the global minimum is the far-left valley; gradient descent
    started at the right (``default_start``) settles in the nearest, shallower valley.

    The value is the exact antiderivative (``numpy.polynomial``), the gradient the product above
    (exactly zero at the listed minimizers and ``maximizers``). The window spans the three valleys
    with a margin of a quarter of their spread; the default start lies just right of the rightmost
    valley (5.05 by default).

    Book: chapter 5 (local minima, and how noise and momentum can escape them).

    >>> loss = MultiMinimum()
    >>> loss.minimizers   # deepest first
    (-3.0, 4.0, 1.0)
    >>> [round(loss(m), 4) for m in loss.minimizers]
    [-4.4887, -1.7733, -0.8621]
    >>> [loss.grad(m) for m in loss.minimizers]
    [0.0, 0.0, 0.0]
    """

    minima: tuple[float, float, float] = (-3.0, 1.0, 4.0)
    maxima: tuple[float, float] = (-1.0, 2.5)
    scale: float = 0.05

    name: ClassVar[str] = "multi-minimum"
    dim: ClassVar[int] = 1
    _polynomial: Polynomial = field(init=False, repr=False, compare=False)
    _roots: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m1, m2, m3 = minima = _floats("minima", self.minima, 3)
        r1, r2 = maxima = _floats("maxima", self.maxima, 2)
        if not (m1 < r1 < m2 < r2 < m3):
            raise ValueError(
                f"minima and maxima must interleave as minima[0] < maxima[0] < minima[1] < "
                f"maxima[1] < minima[2], got minima={minima}, maxima={maxima}"
            )
        scale = check_number("scale", self.scale, minimum=0.0, min_inclusive=False)
        object.__setattr__(self, "minima", minima)
        object.__setattr__(self, "maxima", maxima)
        object.__setattr__(self, "scale", scale)
        derivative = scale * Polynomial.fromroots([m1, r1, m2, r2, m3])
        object.__setattr__(self, "_roots", (m1, r1, m2, r2, m3))
        object.__setattr__(self, "_polynomial", derivative.integ(lbnd=0.0))

    @property
    def minimizers(self) -> tuple[float, ...]:
        """All three minimizers, the deepest first."""
        return tuple(sorted(self.minima, key=self._polynomial))

    @property
    def maximizers(self) -> tuple[float, float]:
        """The two local maxima (the hilltops between the valleys), left to right."""
        return self.maxima

    @property
    def minimum_value(self) -> float:
        return float(self._polynomial(self.minimizers[0]))

    def value(self, x: Any) -> float:
        array = as_float_array("x", x)
        return float(np.sum(self._polynomial(array)))

    def grad(self, x: Any) -> Any:
        array = as_float_array("x", x)
        # the product form: exactly zero at every stationary point, unlike the power series
        gradient = self.scale * np.prod([array - root for root in self._roots], axis=0)
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
        return max(self.minima) + 0.15 * (max(self.minima) - min(self.minima))


@dataclass(frozen=True)
class Plateau(Loss):
    r"""A 1-D loss with a long, almost flat plateau before a valley.

    :math:`L(x) = 1 - \exp\!\big(-\tfrac{(x - c)^2}{2 w^2}\big) + \tfrac{\epsilon}{2}(x - c)^2`:
    a Gaussian well of width :math:`w` centred at :math:`c` on a nearly flat plain (the small
    quadratic term :math:`\epsilon` keeps a gentle slope far away). Far from the well the gradient
    is tiny, so gradient descent crawls — the plateau problem of chapter 5.

    Gradient :math:`L'(x) = \tfrac{x - c}{w^2} e^{-(x - c)^2 / (2w^2)} + \epsilon\,(x - c)`, zero
    only at :math:`x = c`: the single minimizer, with :math:`L(c) = 0`. The window is
    :math:`c \pm 8w`, the default start :math:`c + 6w`.

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
        object.__setattr__(self, "center", check_number("center", self.center))
        object.__setattr__(self, "width", check_number("width", self.width, minimum=0.0,
                                                       min_inclusive=False))
        object.__setattr__(self, "slope", check_number("slope", self.slope, minimum=0.0))

    @property
    def minimizers(self) -> tuple[float]:
        return (self.center,)

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
        return self.center + 6 * self.width


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

    ``A`` must be square, symmetric and positive semi-definite, ``b`` of matching length; when
    ``A`` is singular, ``b`` must lie in its range (otherwise the loss is unbounded below) and
    ``minimizer`` is the minimizer of smallest norm. The default start is the minimizer shifted by
    −3 along the first axis and +1 along the others; the window is the square around the minimizer
    that holds it with a 25% margin.

    Book: chapter 3 (stability bound, rates, conditioning) and chapter 6 (momentum).

    >>> q = Quadratic([[1.0, 0.0], [0.0, 10.0]], [0.0, 0.0])
    >>> q.lipschitz, q.strong_convexity, q.condition_number
    (10.0, 1.0, 10.0)
    >>> q([1.0, 1.0]), q.grad([1.0, 1.0]).tolist(), q.minimizer.tolist()
    (5.5, [1.0, 10.0], [0.0, 0.0])
    """

    A: Any
    b: Any
    c: float = 0.0

    name: ClassVar[str] = "quadratic"

    def __post_init__(self) -> None:
        A = as_float_array("A", self.A).copy()  # copies: the caller's arrays stay writable
        b = as_float_array("b", self.b).copy()
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {A.shape}")
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},) to match A, got {b.shape}")
        if A.shape[0] == 0:
            raise ValueError("A must be at least 1x1, got an empty matrix")
        if not np.all(np.isfinite(A)):
            raise ValueError("A must be finite")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must be finite")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12):
            raise ValueError("A must be symmetric")
        eigenvalues = np.linalg.eigvalsh(A)
        if eigenvalues[0] < -1e-12 * max(1.0, abs(eigenvalues[-1])):
            raise ValueError(
                f"A must be positive semi-definite, its smallest eigenvalue is {eigenvalues[0]:g}"
            )
        c = check_number("c", self.c)
        minimizer = np.linalg.lstsq(A, b, rcond=None)[0]
        scale = max(float(np.linalg.norm(b)), eigenvalues[-1] * float(np.linalg.norm(minimizer)))
        if np.linalg.norm(A @ minimizer - b) > 1e-9 * scale:
            raise ValueError("b must lie in the range of A when A is singular (otherwise the "
                             "loss is unbounded below and has no minimizer)")
        for array in (A, b, minimizer, eigenvalues):
            array.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "_eigenvalues", eigenvalues)
        object.__setattr__(self, "_minimizer", minimizer)

    @classmethod
    def ill_conditioned(cls, condition_number: float = 10.0, *, curvature: float = 1.0,
                        center: tuple[float, float] = (0.0, 0.0)) -> Quadratic:
        """A 2-D diagonal quadratic with eigenvalues ``curvature`` and
        ``curvature * condition_number`` and minimizer ``center``: the zig-zag example.

        >>> Quadratic.ill_conditioned(25.0)
        Quadratic(A=[[1.0, 0.0], [0.0, 25.0]], b=[0.0, 0.0], c=0.0)
        >>> Quadratic.ill_conditioned(25.0).condition_number
        25.0
        """
        condition_number = check_number("condition_number", condition_number, minimum=1.0)
        curvature = check_number("curvature", curvature, minimum=0.0, min_inclusive=False)
        center = as_float_array("center", center)
        if center.shape != (2,):
            raise ValueError(f"center must have shape (2,), got {center.shape}")
        if not np.all(np.isfinite(center)):
            raise ValueError(f"center must be finite, got {center.tolist()}")
        A = np.diag([curvature, curvature * condition_number])
        return cls(A, A @ center)

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
        """The solution of A x = b (of smallest norm when A is singular); a fresh copy."""
        return self._minimizer.copy()

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
        point = _point(x, 2)
        return float(self._f(point[0], point[1]))  # indexing: a quarter of unpacking's cost

    def grad(self, x: Any) -> np.ndarray:
        point = _point(x, 2)
        return np.array(self._df(point[0], point[1]), dtype=float)

    def values(self, points: Any) -> np.ndarray:
        p = _points(points, 2)
        return self._f(p[..., 0], p[..., 1])

    @abstractmethod
    def _f(self, x, y):
        """The loss at coordinates ``x``, ``y`` (floats or arrays of the same shape)."""

    @abstractmethod
    def _df(self, x, y):
        """The pair (∂L/∂x, ∂L/∂y) at ``x``, ``y``."""


@dataclass(frozen=True)
class Rosenbrock(_TwoD):
    r"""Rosenbrock's banana valley :math:`L(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    Gradient :math:`(-2(a - x) - 4bx(y - x^2),\ 2b(y - x^2))`; minimum 0 at :math:`(a, a^2)`
    at the end of a long curved valley that is easy to find and slow to follow.

    The window is :math:`[-2s, 2s] \times [-s, 3\max(a^2, 1)]` with :math:`s = \max(|a|, 1)`,
    the default start :math:`(-1.5s, 2\max(a^2, 1))`: (−1.5, 2) for the classic function.

    Book: chapter 5 (ravines) and chapters 6, 8, 9 (optimizer races).

    >>> loss = Rosenbrock()
    >>> loss([-1.5, 2.0]), loss.grad([-1.5, 2.0]).tolist(), loss.minimizers[0].tolist()
    (12.5, [-155.0, -50.0], [1.0, 1.0])
    >>> bool(np.all(loss.grad([1.0, 1.0]) == 0))
    True
    """

    a: float = 1.0
    b: float = 100.0

    name: ClassVar[str] = "Rosenbrock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_number("a", self.a))
        object.__setattr__(self, "b", check_number("b", self.b, minimum=0.0,
                                                   min_inclusive=False))

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

    Gradient, with :math:`r_k = c_k - x + xy^k` and :math:`(c_1, c_2, c_3) = (1.5, 2.25, 2.625)`:
    :math:`\partial_x L = \sum_k 2 r_k (y^k - 1)`, :math:`\partial_y L = \sum_k 2 r_k\,k x y^{k-1}`.
    Minimum 0 at (3, 0.5) in a narrow curved valley; steep walls and flat shelves make step sizes
    hard to choose. Window: the customary square [−4.5, 4.5]²; default start (1, 1.5).

    Book: chapter 9 (optimizer races).

    >>> Beale()([3.0, 0.5]), Beale().grad([3.0, 0.5]).tolist()
    (0.0, [0.0, 0.0])
    """

    name: ClassVar[str] = "Beale"
    _constants: ClassVar[tuple[float, float, float]] = (1.5, 2.25, 2.625)
    minimizers: ClassVar[tuple] = (_frozen([3.0, 0.5]),)
    minimum_value: ClassVar[float] = 0.0

    def _residuals(self, x, y):
        """The three residuals :math:`r_k = c_k - x + x y^k`, k = 1, 2, 3."""
        c1, c2, c3 = self._constants
        return c1 - x + x * y, c2 - x + x * y**2, c3 - x + x * y**3

    # The sums are written out, each residual computed once: twice as fast as generators over
    # k, and chapter 9's races evaluate Beale about 170,000 times. sum() adds from 0 as the Σ
    # does (a -0.0 term gives +0.0, as the generators did).
    def _f(self, x, y):
        r1, r2, r3 = self._residuals(x, y)
        return sum((r1**2, r2**2, r3**2))

    def _df(self, x, y):
        r1, r2, r3 = self._residuals(x, y)
        dx = sum((2 * r1 * (y - 1), 2 * r2 * (y**2 - 1), 2 * r3 * (y**3 - 1)))
        dy = sum((2 * r1 * x, 2 * r2 * 2 * x * y, 2 * r3 * 3 * x * y**2))
        return dx, dy

    @property
    def window(self):
        return ((-4.5, 4.5), (-4.5, 4.5))

    @property
    def default_start(self) -> np.ndarray:
        return np.array([1.0, 1.5])


def _himmelblau_f(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _himmelblau_df(x, y):
    u, v = x**2 + y - 11, x + y**2 - 7
    return 4 * x * u + 2 * v, 2 * u + 4 * y * v


def _himmelblau_hessian(x, y):
    u, v = x**2 + y - 11, x + y**2 - 7
    return np.array([[4 * u + 8 * x**2 + 2, 4 * x + 4 * y],
                     [4 * x + 4 * y, 4 * v + 8 * y**2 + 2]])


def _newton_minimizer(df: Callable, hessian: Callable, guess: Sequence[float],
                      max_steps: int = 100) -> np.ndarray:
    """Refine ``guess`` to a stationary point of a 2-D loss with Newton's method."""
    point = np.array(guess, dtype=float)
    for _ in range(max_steps):
        step = np.linalg.solve(hessian(*point), np.array(df(*point)))
        point = point - step
        if np.max(np.abs(step)) <= 4 * np.finfo(float).eps * max(1.0, np.max(np.abs(point))):
            break
    return _frozen(point)


#: Himmelblau's four minimizers: (3, 2) exactly, the others refined from 6-digit approximations.
_HIMMELBLAU_MINIMIZERS = tuple(
    _newton_minimizer(_himmelblau_df, _himmelblau_hessian, guess)
    for guess in ([3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126])
)


@dataclass(frozen=True)
class Himmelblau(_TwoD):
    r"""Himmelblau's function :math:`L = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Gradient, with :math:`u = x^2 + y - 11` and :math:`v = x + y^2 - 7`:
    :math:`(4xu + 2v,\ 2u + 4yv)`. Four global minima, all with value 0: (3, 2) exactly and
    three others, refined to full float precision by Newton's method (at import) from their
    well-known 6-digit approximations. Which one gradient descent finds depends on where it
    starts. Window: [−5, 5]², which holds all four; default start (0, 0).

    Book: chapter 1 (walks from several starts end in different valleys).

    >>> [np.round(m, 6).tolist() for m in Himmelblau().minimizers]
    [[3.0, 2.0], [-2.805118, 3.131313], [-3.77931, -3.283186], [3.584428, -1.848127]]
    """

    name: ClassVar[str] = "Himmelblau"
    minimizers: ClassVar[tuple] = _HIMMELBLAU_MINIMIZERS
    minimum_value: ClassVar[float] = 0.0

    def _f(self, x, y):
        return _himmelblau_f(x, y)

    def _df(self, x, y):
        return _himmelblau_df(x, y)

    def hessian(self, x: Any) -> np.ndarray:
        """The exact 2×2 Hessian at ``x`` (used to refine the minimizers)."""
        return _himmelblau_hessian(*_point(x, 2))

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

    Window [−2, 2]²; the default start (1.5, 0.001) sits just off the x-axis, so plain gradient
    descent first approaches the saddle and then, very slowly at first, escapes it.

    Book: chapter 5 (saddle points) and chapter 9 (escape races).

    >>> Saddle().saddle_points[0].tolist(), Saddle().minimizers, Saddle().minimum_value
    ([0.0, 0.0], (), None)
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

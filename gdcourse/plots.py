r"""Static figures and animations of optimization runs (matplotlib only).

Conventions, the same for every function here:

- Each plotting function takes ``ax=`` to draw into an existing Axes (a new figure otherwise) and
  returns ``(fig, ax)``. Nothing calls ``plt.show()``; the caller closes the figure.
- Each figure carries a one-sentence **alt text** describing what it shows for screen readers,
  stored as ``fig.gdcourse_alt_text`` and read with :func:`alt_text`. Drawing several plots into
  one figure keeps the text of the last call.
- Colours come from the Okabe–Ito palette (:data:`OKABE_ITO`, safe for colour-blind readers) and
  every path also has its own marker and line style (:func:`style`), so nothing depends on colour
  alone. Start points are white circles, minima black stars, saddle points black crosses.
- Windows come from the loss (``loss.window``) unless ``window=`` is given; nothing is hard-coded.
- A diverged run (``run.diverged``) is drawn up to its last finite point and labelled
  "diverged at step k" in the legend and beside its last point.

Animations (:func:`animate_descent_1d`, :func:`animate_race`) return an
:class:`IPython.display.HTML` object holding a self-contained JavaScript player
(``FuncAnimation.to_jshtml``): it plays on a static web page with no kernel and no network. Frame
counts are bounded (long runs are subsampled to ``max_frames``), frames are small palette PNGs,
the player's image carries the alt text (also ``player.gdcourse_alt_text``) and the figure is
closed afterwards, so no stray static copy is displayed.

For chapter authors::

    fig, ax = plot_contour(loss, runs)          # or plot_curve_1d, plot_loss_curves, ...
    glue_figure("fig-ch2-path", fig)             # gdcourse.book; then plt.close(fig)
    alt_text(fig)                                # a generated description: a draft for :alt:

and in the Markdown, a ``{glue:figure}`` directive with ``:alt:`` (MyST-NB takes the alt text
literally, so write it there; :func:`alt_text` says what the figure contains). An animation is
displayed by making it the cell's last expression, ``animate_race(loss, runs)``; its alt text
travels inside the player.

Book: chapter 1 (contours), 2 (1-D path, animation), 3 (learning-rate sweep), 4 (loss curves
against gradient evaluations), 5–8 (races), 9 (tuned paths).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation, HTMLWriter

from gdcourse._validate import check_int
from gdcourse.run import History, Trajectory, minimize

__all__ = [
    "MARKERS",
    "OKABE_ITO",
    "alt_text",
    "animate_descent_1d",
    "animate_race",
    "player",
    "plot_contour",
    "plot_curve_1d",
    "plot_loss_curves",
    "plot_lr_sweep",
    "style",
]

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000"]
"""The Okabe–Ito colour-blind-safe palette (blue, orange, green, vermillion, purple, sky blue,
yellow, black)."""
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), "-"]
MAX_FRAMES = 60


def style(index: int) -> dict:
    """Colour, marker and line style of the ``index``-th path (cycling)."""
    return {"color": OKABE_ITO[index % len(OKABE_ITO)], "marker": MARKERS[index % len(MARKERS)],
            "linestyle": LINESTYLES[index % len(LINESTYLES)]}


def alt_text(fig: mpl.figure.Figure) -> str:
    """The alt text a gdcourse plotting function attached to ``fig`` ("" when none)."""
    return getattr(fig, "gdcourse_alt_text", "")


def _set_alt(fig, text: str) -> None:
    fig.gdcourse_alt_text = text


def _new_axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


def _as_list(runs: Any, kinds: tuple[type, ...], name: str) -> list:
    if isinstance(runs, kinds):
        return [runs]
    if runs is None:
        return []
    runs = list(runs)
    for run in runs:
        if not isinstance(run, kinds):
            raise TypeError(f"{name} must hold {' or '.join(k.__name__ for k in kinds)} objects, "
                            f"got {type(run).__name__}")
    return runs


def _window(loss, window, dim: int):
    window = loss.window if window is None else window
    window = tuple(tuple(float(v) for v in pair) for pair in window)
    if len(window) < dim or any(low >= high for low, high in window[:dim]):
        raise ValueError(f"window must be {dim} (low, high) pairs with low < high, got {window}")
    return window


def _run_label(run) -> str:
    label = run.label
    if run.diverged:
        label += f", diverged at step {run.diverged_at}"
    return label


def _marker_label(kind: str, loss, index: int) -> str:
    """Legend label of the ``index``-th minimum/saddle marker: only the first gets one."""
    if index:
        return "_nolegend_"
    if kind == "minimum":
        return "minima" if len(loss.minimizers) > 1 else "minimum"
    return "saddle point"


_MARKER_LABELS = ("start", "minimum", "minima", "saddle point")


def _legend(ax, **kwargs):
    """A legend listing the runs first and the start/minimum markers after them."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] in _MARKER_LABELS)
    return ax.legend([handles[i] for i in order], [labels[i] for i in order], **kwargs)


def _mark_start(ax, point, color, *, first: bool) -> None:
    """A white circle edged in the path's colour; the first one gets the legend entry "start"."""
    ax.plot(*point, marker="o", markersize=9, markerfacecolor="white", markeredgecolor=color,
            markeredgewidth=2, linestyle="none", zorder=4,
            label="start" if first else "_nolegend_")


def _mark_starts(ax, points, colors) -> None:
    """Start markers of several runs: one black-edged circle when they all start together."""
    points = [np.ravel(point) for point in points]
    if len(points) > 1 and all(np.array_equal(p, points[0]) for p in points[1:]):
        _mark_start(ax, points[0], "black", first=True)
        return
    for index, (point, color) in enumerate(zip(points, colors, strict=True)):
        _mark_start(ax, point, color, first=index == 0)


# --------------------------------------------------------------------------------------------
# One-dimensional loss with iterates
# --------------------------------------------------------------------------------------------


def plot_curve_1d(loss: Any, trajectories: Trajectory | Sequence[Trajectory] = (), *, ax=None,
                  window=None, arrows: bool = True, max_arrows: int = 12, title: str | None = None):
    """Draw a 1-D loss curve with the iterates of one or more runs and arrows for the first steps.

    >>> from gdcourse.losses import Parabola
    >>> from gdcourse.optim import GD
    >>> run = minimize(Parabola(), 14.0, GD(lr=0.1), steps=20)
    >>> fig, ax = plot_curve_1d(Parabola(), run)
    >>> alt_text(fig)[:40]
    'The loss curve parabola for x from -8 to'
    """
    if getattr(loss, "dim", None) != 1:
        raise ValueError(f"plot_curve_1d needs a 1-D loss, got {getattr(loss, 'name', loss)!r} "
                         f"with dim {getattr(loss, 'dim', '?')}")
    runs = _as_list(trajectories, (Trajectory,), "trajectories")
    (low, high), = _window(loss, window, 1)
    fig, ax = _new_axes(ax, (6.4, 4.0))
    visited = [np.ravel(run.params) for run in runs]
    # the curve covers the window and every iterate (a diverging run may leave the window)
    xs = np.linspace(min([low, *(v.min() for v in visited)]),
                     max([high, *(v.max() for v in visited)]), 400)
    ax.plot(xs, loss.values(xs), color="0.35", linewidth=2, label=f"loss: {loss.name}", zorder=1)
    for index, run in enumerate(runs):
        spec = style(index)
        points = np.asarray(run.params, dtype=float).reshape(len(run.params), -1)[:, 0]
        ax.plot(points, run.losses, linestyle="none", marker=spec["marker"], color=spec["color"],
                markersize=5, label=_run_label(run), zorder=3)
        if arrows:
            for start, end, l0, l1 in list(zip(points, points[1:], run.losses,
                                               run.losses[1:], strict=False))[:max_arrows]:
                ax.annotate("", xy=(end, l1), xytext=(start, l0), zorder=2,
                            arrowprops={"arrowstyle": "->", "color": spec["color"], "lw": 1})
        if run.diverged:
            ax.annotate(f"diverged at step {run.diverged_at}", xy=(points[-1], run.losses[-1]),
                        xytext=(0, 12), textcoords="offset points", color=spec["color"],
                        ha="center", fontsize=9)
    _mark_starts(ax, [(np.ravel(run.params)[0], run.losses[0]) for run in runs],
                 [style(index)["color"] for index in range(len(runs))])
    for index, minimizer in enumerate(loss.minimizers):
        ax.plot([minimizer], [loss.value(minimizer)], marker="*", markersize=14, color="black",
                linestyle="none", zorder=4, label=_marker_label("minimum", loss, index))
    ax.set(xlabel="parameter $x$", ylabel="loss $L(x)$",
           title=title or f"Gradient descent on the {loss.name}")
    if runs:
        _legend(ax, loc="upper center", fontsize=9, framealpha=0.9)
    described = "; ".join(
        f"{run.label} moves from x = {float(np.ravel(run.params[0])[0]):.3g} to "
        f"x = {float(np.ravel(run.params[-1])[0]):.3g} in {run.steps} steps"
        + (f" and diverges at step {run.diverged_at}" if run.diverged else "")
        for run in runs)
    _set_alt(fig, f"The loss curve {loss.name} for x from {low:.3g} to {high:.3g}"
             + (f", with iterates marked: {described}." if runs else ".")
             + (" Stars mark the minima." if loss.minimizers else ""))
    return fig, ax


# --------------------------------------------------------------------------------------------
# Contour maps with paths
# --------------------------------------------------------------------------------------------


def _contour_grid(loss, window, resolution):
    (x0, x1), (y0, y1) = window[:2]
    X, Y = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    return X, Y, loss.values(np.stack([X, Y], axis=-1))


def _draw_contours(ax, loss, window, resolution=200, levels=25, filled=True):
    X, Y, Z = _contour_grid(loss, window, resolution)
    low = loss.minimum_value if loss.minimum_value is not None else Z.min()
    shifted = Z - low
    if np.all(shifted >= 0) and shifted.max() > 100 * max(np.percentile(shifted, 5), 1e-12):
        # losses spanning orders of magnitude: log-spaced levels show the valley floor
        floor = max(np.percentile(shifted, 1), 1e-6 * shifted.max(), 1e-12)
        level_values = low + np.geomspace(floor, shifted.max(), levels)
    else:
        level_values = np.linspace(Z.min(), Z.max(), levels)
    if filled:
        ax.contourf(X, Y, Z, levels=level_values, cmap="Blues_r", alpha=0.35, extend="both")
    ax.contour(X, Y, Z, levels=level_values, colors="0.45", linewidths=0.6)
    return X, Y, Z


def plot_contour(loss: Any, trajectories: Trajectory | Sequence[Trajectory] = (), *, ax=None,
                 window=None, resolution: int = 200, levels: int = 25, filled: bool = True,
                 title: str | None = None):
    """Draw the contour map of a 2-D loss with the paths of one or more runs.

    Start points are circles, minima black stars, saddle points black crosses; each path has its
    own colour, marker and line style and a legend entry.

    >>> from gdcourse.losses import Rosenbrock
    >>> from gdcourse.optim import Adam
    >>> run = minimize(Rosenbrock(), [-1.5, 2.0], Adam(lr=0.05), steps=50)
    >>> fig, ax = plot_contour(Rosenbrock(), run)
    >>> "Rosenbrock" in alt_text(fig)
    True
    """
    if getattr(loss, "dim", None) != 2:
        raise ValueError(f"plot_contour needs a 2-D loss, got {getattr(loss, 'name', loss)!r} "
                         f"with dim {getattr(loss, 'dim', '?')}; use plot_curve_1d for 1-D losses")
    runs = _as_list(trajectories, (Trajectory,), "trajectories")
    for run in runs:
        if np.asarray(run.params).shape[1:] != (2,):
            raise ValueError("every trajectory must hold 2-D parameters to be drawn on a contour map")
    check_int("resolution", resolution, minimum=10)
    window = _window(loss, window, 2)
    fig, ax = _new_axes(ax, (6.0, 5.0))
    _draw_contours(ax, loss, window, resolution, levels, filled)
    for index, run in enumerate(runs):
        spec = style(index)
        path = np.asarray(run.params)
        every = max(1, len(path) // 40)
        ax.plot(path[:, 0], path[:, 1], color=spec["color"], linestyle=spec["linestyle"],
                linewidth=1.8, marker=spec["marker"], markersize=4, markevery=every,
                label=_run_label(run))
        if run.diverged:
            ax.annotate(f"diverged at step {run.diverged_at}", xy=path[-1], xytext=(5, 5),
                        textcoords="offset points", color=spec["color"], fontsize=9)
    _mark_starts(ax, [np.asarray(run.params)[0] for run in runs],
                 [style(index)["color"] for index in range(len(runs))])
    for index, minimizer in enumerate(loss.minimizers):
        ax.plot(*minimizer[:2], marker="*", markersize=15, color="black", linestyle="none",
                zorder=5, label=_marker_label("minimum", loss, index))
    for index, saddle in enumerate(getattr(loss, "saddle_points", ())):
        ax.plot(*saddle[:2], marker="x", markersize=12, markeredgewidth=2.5, color="black",
                linestyle="none", zorder=5, label=_marker_label("saddle", loss, index))
    (x0, x1), (y0, y1) = window[:2]
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$\\theta_1$", ylabel="$\\theta_2$",
           title=title or f"Paths on the {loss.name} loss")
    if runs:
        _legend(ax, loc="best", fontsize=8, framealpha=0.9)
    described = "; ".join(
        f"{run.label} from ({run.params[0][0]:.2g}, {run.params[0][1]:.2g}) to "
        f"({run.params[-1][0]:.2g}, {run.params[-1][1]:.2g}) in {run.steps} steps"
        + (f", diverging at step {run.diverged_at}" if run.diverged else "")
        for run in runs)
    _set_alt(fig, f"Contour map of the {loss.name} loss"
             + (f" with optimizer paths: {described}." if runs else ".")
             + (" Black stars mark the minima." if loss.minimizers else "")
             + (" A black cross marks the saddle point." if getattr(loss, "saddle_points", ())
                else ""))
    return fig, ax


# --------------------------------------------------------------------------------------------
# Loss curves and learning-rate sweeps
# --------------------------------------------------------------------------------------------

_X_AXES = {"step", "grad_evals", "epoch"}


def plot_loss_curves(runs: Any, *, x: str = "step", ax=None, log: bool | None = None,
                     title: str | None = None):
    """Loss against steps, gradient evaluations or epochs for several runs.

    ``runs`` holds :class:`~gdcourse.run.Trajectory` objects (x must be "step") or
    :class:`~gdcourse.run.History` objects (per-update losses against "step" or "grad_evals",
    full-data losses against "epoch"). ``log=None`` picks a log scale when the losses are
    positive and span more than two orders of magnitude.
    """
    runs = _as_list(runs, (Trajectory, History), "runs")
    if not runs:
        raise ValueError("runs must hold at least one Trajectory or History")
    if x not in _X_AXES:
        raise ValueError(f"x must be one of {sorted(_X_AXES)}, got {x!r}")
    if x != "step" and any(isinstance(run, Trajectory) for run in runs):
        raise ValueError("a Trajectory has no gradient evaluations or epochs: use x='step'")
    fig, ax = _new_axes(ax, (6.4, 4.0))
    every_value = []
    for index, run in enumerate(runs):
        spec = style(index)
        if isinstance(run, Trajectory):
            xs, ys = np.arange(len(run.losses)), run.losses
        elif x == "epoch":
            xs, ys = np.arange(len(run.epoch_losses)), run.epoch_losses
        elif x == "grad_evals":
            xs, ys = run.grad_evals[1:], run.update_losses
        else:
            xs, ys = np.arange(1, len(run.update_losses) + 1), run.update_losses
        every_value.append(np.asarray(ys))
        ax.plot(xs, ys, color=spec["color"], linestyle=spec["linestyle"], linewidth=1.5,
                marker=spec["marker"], markevery=max(1, len(xs) // 12), markersize=4,
                label=_run_label(run))
    values = np.concatenate(every_value)
    if log is None:
        positive = values[values > 0]
        log = bool(np.all(values > 0) and positive.max() / positive.min() > 100)
    if log:
        ax.set_yscale("log")
    xlabel = {"step": "update", "grad_evals": "per-sample gradient evaluations",
              "epoch": "epoch"}[x]
    ax.set(xlabel=xlabel, ylabel="loss" + (" (log scale)" if log else ""),
           title=title or f"Loss against {xlabel}")
    ax.legend(fontsize=9)
    names = ", ".join(run.label for run in runs)
    _set_alt(fig, f"Loss against {xlabel} for {names}"
             + (", on a logarithmic loss axis." if log else "."))
    return fig, ax


def _optimizer_class(optimizer_class):
    """An optimizer class from a class or a registry name such as "adam" (default GD)."""
    from gdcourse.optim import GD, OPTIMIZERS

    if optimizer_class is None:
        return GD
    if isinstance(optimizer_class, str):
        key = optimizer_class.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer_class!r}; choose from "
                             f"{', '.join(OPTIMIZERS)}")
        return OPTIMIZERS[key]
    if not isinstance(optimizer_class, type):
        raise TypeError("optimizer_class must be an optimizer class such as GD or a name such as "
                        f"'gd', got {type(optimizer_class).__name__}")
    return optimizer_class


def lr_sweep(loss: Any, x0: Any, lrs: Iterable[float], steps: int, optimizer_class=None, **kw):
    """Final loss of ``optimizer_class(lr=lr, **kw)`` after ``steps`` steps, for each lr.

    ``optimizer_class`` is a class (default :class:`~gdcourse.optim.GD`) or a name from
    :data:`gdcourse.optim.OPTIMIZERS`. Returns ``(lrs, final_losses, diverged)`` as arrays; a
    diverged run's final loss is ``inf``.

    >>> from gdcourse.losses import Parabola
    >>> lrs, finals, diverged = lr_sweep(Parabola(), 14.0, [0.1, 1.0, 2.5], steps=40)
    >>> diverged.tolist()
    [False, False, True]
    """
    optimizer_class = _optimizer_class(optimizer_class)
    lrs = np.asarray(list(lrs), dtype=float)
    if lrs.size == 0:
        raise ValueError("lrs must hold at least one learning rate")
    finals, diverged = [], []
    for lr in lrs:
        run = minimize(loss, x0, optimizer_class(lr=float(lr), **kw), steps)
        finals.append(np.inf if run.diverged else run.final_loss)
        diverged.append(run.diverged)
    return lrs, np.array(finals), np.array(diverged)


def plot_lr_sweep(loss: Any, x0: Any, lrs: Iterable[float], steps: int, *, optimizer_class=None,
                  ax=None, title: str | None = None, **hyperparameters):
    """Final loss after ``steps`` steps against the learning rate, on log–log axes.

    The y-axis shows the loss above the minimum when the loss knows its minimum value. Diverged
    runs are drawn as crosses along the top of the plot; for losses with a Lipschitz constant L
    (parabolas, quadratics) the stability bound of gradient descent, lr = 2/L, is drawn as a
    vertical line. ``optimizer_class`` is a class or a name (default GD).
    """
    lrs, finals, diverged = lr_sweep(loss, x0, lrs, steps, optimizer_class, **hyperparameters)
    fig, ax = _new_axes(ax, (6.4, 4.0))
    ok = ~diverged
    minimum = getattr(loss, "minimum_value", None)
    excess = finals - (minimum if minimum is not None else 0.0)
    # runs that land exactly on the minimum are drawn at the rounding floor, not at 1e-308
    start_loss = abs(float(loss.value(np.asarray(x0, dtype=float))))
    floor = 1e-16 * max(1.0, start_loss)
    shown = np.maximum(excess[ok], floor)
    ax.plot(lrs[ok], shown, **{**style(0), "linestyle": "-"}, label="final loss")
    top = shown.max() * 10 if shown.size else 1.0
    if diverged.any():
        ax.plot(lrs[diverged], np.full(diverged.sum(), top), linestyle="none", marker="x",
                color=OKABE_ITO[3], markersize=9, markeredgewidth=2, label="diverged")
    lipschitz = getattr(loss, "lipschitz", None)
    if lipschitz:
        ax.axvline(2.0 / lipschitz, color="black", linestyle="--", linewidth=1.2,
                   label=f"stability bound 2/L = {2.0 / lipschitz:.3g}")
    ax.set_xscale("log")
    if np.all(shown > 0):
        ax.set_yscale("log")
    what = "loss above the minimum" if minimum not in (None, 0.0) else "loss"
    ax.set(xlabel="learning rate", ylabel=f"{what} after {steps} steps",
           title=title or f"Learning-rate sweep on the {loss.name}")
    ax.legend(fontsize=9)
    best = lrs[ok][np.argmin(finals[ok])] if ok.any() else None
    _set_alt(fig, f"Final {what} after {steps} steps against the learning rate on the {loss.name}"
             + (f"; the lowest loss is reached at lr = {best:.3g}" if best is not None else "")
             + (f"; runs with lr from {lrs[diverged].min():.3g} up diverge" if diverged.any() else "")
             + (f"; a dashed line marks the bound 2/L = {2 / lipschitz:.3g}." if lipschitz else "."))
    return fig, ax


# --------------------------------------------------------------------------------------------
# Animations
# --------------------------------------------------------------------------------------------


def _frame_indices(length: int, max_frames: int) -> np.ndarray:
    max_frames = check_int("max_frames", max_frames, minimum=2, maximum=200)
    return np.unique(np.linspace(0, length - 1, min(length, max_frames)).round().astype(int))


# matplotlib's player draws its buttons with Font Awesome loaded from a CDN, which readers offline
# (or behind a firewall) never get: swap the icons for plain characters and drop the stylesheet.
_PLAYER_ICONS = {
    # characters common fonts (DejaVu) cover; U+23EE/U+23F8/U+23ED showed as empty boxes
    "fa fa-minus": "\u2212", "fa fa-fast-backward": "|\u25c0", "fa fa-step-backward": "\u25c1",
    "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u275a\u275a", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u25b7", "fa fa-fast-forward": "\u25b6|", "fa fa-plus": "+",
}
_FONT_AWESOME = re.compile(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">\s*')


def _offline_player(html: str) -> str:
    html = _FONT_AWESOME.sub("", html)
    for icon, character in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', f'<span aria-hidden="true">{character}</span>')
    return html


def _palette_png(rgba) -> bytes:
    """Encode an RGBA pixel buffer as a PNG with an adaptive 256-colour palette.

    Plots are flat colours and antialiased edges: the palette frame is about 3x smaller than
    matplotlib's RGBA PNG (and smaller than JPEG), with no JPEG ringing around lines and text.
    """
    from PIL import Image

    image = Image.fromarray(np.asarray(rgba)).convert("RGB")
    frame = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                           dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    frame.save(buffer, format="png")
    return buffer.getvalue()


class _PlayerWriter(HTMLWriter):
    """matplotlib's HTML player, with frames drawn over a cached background.

    matplotlib's writer saves the whole figure for every frame (axes, ticks, contour map,
    legend, then a PNG). Here the artists an animation moves, those marked with
    ``set_animated(True)``, are hidden once while the rest is drawn and kept; each frame then
    restores that background, draws only the moving artists on top, and encodes the pixels as
    a palette PNG. An animation that marks no artist is drawn in full at every frame.
    """

    def setup(self, fig, outfile, dpi=None, frame_dir=None):
        super().setup(fig, outfile, dpi, frame_dir)
        self._background = None
        self._moving = [artist for artist in fig.findobj() if artist.get_animated()]

    def grab_frame(self, **_savefig_kwargs):  # the frames are pixels, not saved figures
        canvas = self.fig.canvas
        if not self._moving:
            canvas.draw()
        else:
            if self._background is None:
                shown = [artist.get_visible() for artist in self._moving]
                for artist in self._moving:
                    artist.set_visible(False)
                canvas.draw()
                self._background = canvas.copy_from_bbox(self.fig.bbox)
                for artist, visible in zip(self._moving, shown, strict=True):
                    artist.set_visible(visible)
            canvas.restore_region(self._background)
            for artist in self._moving:
                self.fig.draw_artist(artist)
        if not self._hit_limit:
            frame = base64.encodebytes(_palette_png(canvas.buffer_rgba())).decode("ascii")
            self._total_bytes += len(frame)
            if self._total_bytes >= self._bytes_limit:
                raise ValueError("the animation exceeds matplotlib's animation.embed_limit "
                                 f"({self._bytes_limit / 2**20:g} MB): use fewer frames")
            self._saved_frames.append(frame)


def _to_html(fig, animation):
    import tempfile
    from pathlib import Path

    from IPython.display import HTML

    try:
        # lay the figure out once: the animated artists move inside fixed axes, and re-solving
        # the constrained layout for every frame costs a third of the rendering time
        fig.canvas.draw()
        fig.set_layout_engine("none")
        writer = _PlayerWriter(fps=1000 / animation._interval, embed_frames=True,
                               default_mode="once")
        # Animation.save asks for a full redraw after every frame (draw_idle, which draws at
        # once on a canvas without a window); the writer draws what each frame needs itself.
        fig.canvas.draw_idle = lambda *_args, **_kwargs: None
        with tempfile.TemporaryDirectory() as folder, \
                mpl.rc_context({"animation.frame_format": "png"}):
            path = Path(folder) / "player.html"
            animation.save(str(path), writer=writer, dpi=fig.dpi)
            html = path.read_text()
    finally:
        plt.close(fig)
    html = _offline_player(html)
    description = alt_text(fig)
    # the player's frame <img> gets the figure's alt text, for screen readers
    html = html.replace('<img id="_anim_img', f'<img alt="{escape(description)}" id="_anim_img', 1)
    player = HTML(html)
    player.gdcourse_alt_text = description
    return player



def player(fig, animation, *, alt: str):
    """Turn a hand-made ``FuncAnimation`` of ``fig`` into the same offline HTML player that
    :func:`animate_descent_1d` and :func:`animate_race` return, with ``alt`` as its alt text.

    The figure is closed afterwards.
    """
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must be a non-empty description of the animation")
    _set_alt(fig, alt)
    return _to_html(fig, animation)

def animate_descent_1d(loss: Any, trajectory: Trajectory, *, max_frames: int = 40,
                       interval: int = 250, window=None):
    """Animate a point descending a 1-D loss: returns a self-contained HTML player.

    Long runs are subsampled to at most ``max_frames`` frames (first and last always shown).
    The window is the loss's, widened to hold every iterate of the run.

    >>> from gdcourse.losses import Parabola
    >>> from gdcourse.optim import GD
    >>> run = minimize(Parabola(), 14.0, GD(lr=0.1), 60)
    >>> player = animate_descent_1d(Parabola(), run, max_frames=8)
    >>> type(player).__name__, alt_text(player)[:31]
    ('HTML', 'Animation of GD(lr=0.1) descend')
    """
    fig, draw, frames = _descent_frames(loss, trajectory, max_frames=max_frames, window=window)
    animation = FuncAnimation(fig, draw, frames=frames, interval=interval, blit=False)
    return _to_html(fig, animation)


def _descent_frames(loss, trajectory, *, max_frames: int, window):
    """The figure, the frame-drawing function and the frame indices of animate_descent_1d."""
    if not isinstance(trajectory, Trajectory):
        raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
    if getattr(loss, "dim", None) != 1:
        raise ValueError(f"animate_descent_1d needs a 1-D loss, got {getattr(loss, 'name', loss)!r}"
                         f" with dim {getattr(loss, 'dim', '?')}; use animate_race for 2-D losses")
    points = np.asarray(trajectory.params, dtype=float).reshape(len(trajectory.params), -1)[:, 0]
    frames = _frame_indices(len(points), max_frames)  # checked before a figure exists
    (low, high), = _window(loss, window, 1)
    if window is None:  # a run that leaves the loss's window stays in view
        low, high = min(low, points.min()), max(high, points.max())
    with mpl.rc_context({"figure.dpi": 72}):
        fig, ax = plot_curve_1d(loss, (), window=((low, high),),
                                title=f"{trajectory.label} on the {loss.name}")
        fig.set_size_inches(5.6, 3.6)
    spec = style(0)
    losses = trajectory.losses
    _mark_start(ax, (points[0], losses[0]), spec["color"], first=False)
    trail, = ax.plot([], [], color=spec["color"], marker="o", markersize=4, linestyle=":")
    ball, = ax.plot([], [], marker="o", markersize=12, color=spec["color"], linestyle="none")
    caption = ax.text(0.02, 0.95, "", transform=ax.transAxes, va="top")
    for artist in (trail, ball, caption):
        artist.set_animated(True)  # drawn over a cached background (see _PlayerWriter)

    def draw(t):
        trail.set_data(points[: t + 1], losses[: t + 1])
        ball.set_data([points[t]], [losses[t]])
        text = f"step {t}: x = {points[t]:.3f}, L = {losses[t]:.3g}"
        if trajectory.diverged and t == len(points) - 1:
            text += f"\ndiverged at step {trajectory.diverged_at}"
        caption.set_text(text)
        return trail, ball, caption

    _set_alt(fig, f"Animation of {trajectory.label} descending the {loss.name} from "
             f"x = {points[0]:.3g} to x = {points[-1]:.3g} over {trajectory.steps} steps"
             + (f", diverging at step {trajectory.diverged_at}." if trajectory.diverged else "."))
    return fig, draw, frames


def animate_race(loss: Any, trajectories: Sequence[Trajectory], *, max_frames: int = 30,
                 interval: int = 200, window=None, resolution: int = 120):
    """Animate several optimizers racing on a 2-D contour map: a self-contained HTML player.

    Every run advances one step per step of the longest run; long runs are subsampled to at
    most ``max_frames`` frames. A diverged run stops at its last finite point and its legend
    entry says "diverged at step k".
    """
    fig, draw, frames = _race_frames(loss, trajectories, max_frames=max_frames, window=window,
                                     resolution=resolution)
    animation = FuncAnimation(fig, draw, frames=frames, interval=interval, blit=False)
    return _to_html(fig, animation)


def _race_frames(loss, trajectories, *, max_frames: int, window, resolution: int):
    """The figure, the frame-drawing function and the frame indices of animate_race."""
    runs = _as_list(trajectories, (Trajectory,), "trajectories")
    if not runs:
        raise ValueError("trajectories must hold at least one Trajectory")
    if len(runs) > len(OKABE_ITO):
        raise ValueError(f"at most {len(OKABE_ITO)} trajectories can race (one colour each), "
                         f"got {len(runs)}")
    for run in runs:
        if np.asarray(run.params).shape[1:] != (2,):
            raise ValueError("every trajectory must hold 2-D parameters to race on a contour map")
    longest = max(len(run.params) for run in runs)
    frames = _frame_indices(longest, max_frames)  # checked before a figure exists
    with mpl.rc_context({"figure.dpi": 72}):
        fig, ax = plot_contour(loss, runs[:0], window=window, resolution=resolution, levels=15,
                               title=f"Race on the {loss.name} loss")
        fig.set_size_inches(5.0, 4.2)
    lines, heads, handles = [], [], []
    for index, run in enumerate(runs):
        spec = style(index)
        line, = ax.plot([], [], color=spec["color"], linestyle=spec["linestyle"], linewidth=1.8)
        head, = ax.plot([], [], marker=spec["marker"], color=spec["color"], markersize=9,
                        linestyle="none")
        lines.append(line)
        heads.append(head)
        handles.append(((line, head), _run_label(run)))
    _mark_starts(ax, [np.asarray(run.params)[0] for run in runs],
                 [style(index)["color"] for index in range(len(runs))])
    markers = [(h, label) for h, label in zip(*ax.get_legend_handles_labels(), strict=True)
               if label in _MARKER_LABELS]
    ax.legend(*zip(*(handles + markers), strict=True), loc="best", fontsize=8, framealpha=0.9)
    caption = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=9)
    for artist in (*lines, *heads, caption):  # after the legend, whose handles copy the flag
        artist.set_animated(True)  # drawn over a cached background (see _PlayerWriter)

    def draw(t):
        for run, line, head in zip(runs, lines, heads, strict=True):
            path = np.asarray(run.params)[: t + 1]
            line.set_data(path[:, 0], path[:, 1])
            head.set_data([path[-1, 0]], [path[-1, 1]])
        caption.set_text(f"step {t}")
        return (*lines, *heads, caption)

    _set_alt(fig, f"Animation of {', '.join(_run_label(run) for run in runs)} moving over the "
             f"contour map of the {loss.name} loss for {longest - 1} steps"
             + (". Black stars mark the minima." if loss.minimizers else "."))
    return fig, draw, frames

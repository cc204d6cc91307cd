r"""Interactive explorers (ipywidgets) that also work on a static page.

Four explorers, one call each::

    lr_explorer()              # learning rate on a 1-D loss: calm, oscillating, diverging
    optimizer_comparison()     # optimizers racing on a 2-D loss, hyperparameters on sliders
    batch_size_explorer()      # batch, mini-batch and stochastic GD on linear regression
    momentum_explorer()        # lr and β on an ill-conditioned quadratic (the zig-zag)

Each returns an :class:`Explorer`: one matplotlib Figure (two panels and a status line) driven by
named controls. Make it the last expression of a cell to display it.

**Live** (Jupyter, Binder, Colab): sliders above an image of the figure. Moving a slider reruns
the optimizer, moves the existing artists (``set_data``, explicit limits) and re-renders the
*same* Figure into the image widget; the contour maps are drawn once, not on every move. No
figure is created per change and pyplot is never involved, so nothing piles up in the notebook.

**Interactive static view** (the built book, :mod:`gdcourse.explorer_view`): the same picture
for a grid of control values (:meth:`Explorer.view_grid`), computed at build time through the
same code, with ``<input type="range">`` / ``<select>`` controls, the status line in an
``aria-live`` region and a few lines of JavaScript: it moves on a page with no kernel and no
network. The learning-rate and batch-size explorers swap pre-rendered frames; the momentum
explorer and the optimizer comparison (:meth:`Explorer.view_layers`) draw their paths and loss
curves on a canvas from the runs' data, over pre-rendered backgrounds. Without JavaScript it shows the explorer's own setting as a plain image
with alt text. It is what the explorer displays when

- ``static=True`` is passed to the explorer, or
- ``static=None`` (the default) and the environment variable ``GDCOURSE_STATIC`` is ``1``
  (``make book`` and the book-build tests set it; ``jupyter-book build`` runs the notebooks
  through nbclient in a real kernel, where a live widget would show as dead sliders), or
- ipywidgets cannot be imported.

``static=False`` forces the live widget. Chapter authors write only ``lr_explorer()`` in a cell.
The small multiples of :attr:`Explorer.static_values` (:meth:`Explorer.static_png`,
:meth:`Explorer.static_figure`, with generated alt text :meth:`Explorer.alt_text`) remain for
figures that must not move, e.g. in print.

ipywidgets is imported only when a live widget is built, so ``import gdcourse.widgets`` works
without it. Live widgets work with ipywidgets 8 and with 7.7, the version Colab ships (7.x
widgets have no ``_repr_mimebundle_``: the explorer writes the widget-view bundle itself). Tests
and benchmarks drive an explorer headless: ``explorer.update(lr=0.5)`` or
``explorer.controls["lr"].value = 0.5`` (the ipywidgets observer calls :meth:`Explorer.update`);
both keep the controls, the artists and the image in step.

Book: chapter 3 (learning rate), 4 (batch size), 6 (momentum), 9 (comparison).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from gdcourse import losses as losses_module
from gdcourse.data import LinearRegression, linear_data
from gdcourse.explorer_view import grid_values
from gdcourse.optim import GD, OPTIMIZERS, Momentum
from gdcourse.plots import OKABE_ITO, _draw_contours, style
from gdcourse.run import minimize, train

__all__ = [
    "LOSSES_2D",
    "BatchSizeExplorer",
    "ComparisonExplorer",
    "Control",
    "Explorer",
    "LearningRateExplorer",
    "MomentumExplorer",
    "batch_size_explorer",
    "is_static",
    "lr_explorer",
    "momentum_explorer",
    "optimizer_comparison",
]

LOSSES_2D: dict[str, Callable[[], Any]] = {
    "rosenbrock": losses_module.Rosenbrock,
    "beale": losses_module.Beale,
    "himmelblau": losses_module.Himmelblau,
    "saddle": losses_module.Saddle,
    "ill-conditioned": lambda: losses_module.Quadratic.ill_conditioned(20.0),
}
"""The 2-D losses offered by :func:`optimizer_comparison`, by name."""

DEFAULT_LR = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5, "rmsprop": 0.01,
              "adadelta": 1.0, "adam": 0.05, "adamw": 0.05, "nadam": 0.05}
"""Starting learning rates of :func:`optimizer_comparison` (sensible on Rosenbrock)."""

_TRUE = {"1", "true", "yes", "on"}
_DPI = 80
_WARNING = OKABE_ITO[3]  # vermillion


def is_static() -> bool:
    """True when explorers should show their static fallback: ``GDCOURSE_STATIC=1`` is set.

    >>> import os
    >>> os.environ["GDCOURSE_STATIC"] = "1"; is_static()
    True
    >>> os.environ["GDCOURSE_STATIC"] = "0"; is_static()
    False
    >>> del os.environ["GDCOURSE_STATIC"]
    """
    return os.environ.get("GDCOURSE_STATIC", "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Control:
    """A control's description: ``kind`` is "log" (log slider), "float", "int" or "choice".

    >>> Control("log", 0.1, 1e-3, 3.0).check("lr", 0.5)
    0.5
    >>> Control("int", 30, 1, 100).check("steps", 0)
    Traceback (most recent call last):
    ...
    ValueError: steps must be in [1, 100], got 0
    """

    kind: str
    value: Any
    low: Any = None
    high: Any = None
    options: Sequence[Any] = ()
    description: str = ""

    def check(self, name: str, value: Any) -> Any:
        """``value`` converted to the control's type, or a ValueError/TypeError naming ``name``."""
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{name} must be one of {list(self.options)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if self.kind == "int" and float(value) != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        if not (self.low <= value <= self.high):
            raise ValueError(f"{name} must be in [{self.low:g}, {self.high:g}], got {value!r}")
        return int(value) if self.kind == "int" else float(value)

    def widget(self, name: str):
        """The ipywidgets control for this description (imports ipywidgets)."""
        import ipywidgets as widgets

        common = {"description": self.description or name, "continuous_update": False,
                  "style": {"description_width": "initial"}}
        if self.kind == "log":
            return widgets.FloatLogSlider(value=self.value, base=10, min=np.log10(self.low),
                                          max=np.log10(self.high), step=0.05,
                                          readout_format=".3g", **common)
        if self.kind == "float":
            return widgets.FloatSlider(value=self.value, min=self.low, max=self.high,
                                       step=(self.high - self.low) / 100, **common)
        if self.kind == "int":
            return widgets.IntSlider(value=self.value, min=self.low, max=self.high, **common)
        del common["continuous_update"]
        return widgets.Dropdown(options=list(self.options), value=self.value, **common)


def _two_panels(figure: Figure, *, left=0.75, right=0.2, bottom=0.55, top=0.62, gap=1.2):
    """Two side-by-side Axes with fixed margins (in inches).

    A fixed layout, not a layout engine: re-solving a constrained layout on every slider move
    would double the redraw time, and freezing one computed for the first state clips tick
    labels that grow later (a log axis switching to labels like 4×10¹).
    """
    width, height = figure.get_size_inches()
    axes_width = (width - left - right - gap) / 2
    return figure.subplots(1, 2, gridspec_kw={
        "left": left / width, "right": 1 - right / width, "bottom": bottom / height,
        "top": 1 - top / height, "wspace": gap / axes_width})


def _pin_labels(axes, offsets=(0.55, 0.75)) -> None:
    """Fix the places of titles and axis labels (a fixed distance from each Axes).

    By default matplotlib places them by measuring every tick label on every draw, a third of
    an explorer's redraw time. ``offsets`` are the y-labels' distances (inches) from the left
    and right panels: the right panels hold the log axes, whose tick labels (6×10⁻¹) are widest.
    """
    for ax, offset in zip(axes, offsets, strict=True):
        ax.set_title(ax.get_title(), y=1.0)  # an explicit y turns off the automatic placement
        figure = ax.figure
        ax.yaxis.set_label_coords(0.0, 0.5, transform=offset_copy(
            ax.transAxes, figure, x=-offset, y=0.0, units="inches"))
        ax.xaxis.set_label_coords(0.5, 0.0, transform=offset_copy(
            ax.transAxes, figure, x=0.0, y=-0.27, units="inches"))


def _log_limits(values: np.ndarray) -> tuple[float, float]:
    """Limits of a log axis showing ``values``: whole decades, with some room at both ends.

    Whole decades keep the limits (and so the cached background, see ``Explorer._pixels``) the
    same while a slider moves the curve a little."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return 1e-3, 1.0
    low, high = positive.min(), positive.max()
    if high <= low * 1.5:
        low, high = low / 2, high * 2
    return 10.0 ** np.floor(np.log10(low / 1.6)), 10.0 ** np.ceil(np.log10(high * 1.6))


_AXIS_ENDS = (1, 1.5, 2, 3, 4, 5, 6, 7)


def _steps_axis_end(steps: int) -> int:
    """The right end of a step axis: ``steps`` rounded up to 1, 1.5, 2, 3, 4, 5, 6 or 7 times
    a power of ten (450 → 500, 61 → 70, 101 → 150; 60 stays 60), so moving a steps slider by
    one mostly keeps the axis as it is. A run fills at least two thirds of the axis (101 of
    150, 201 of 300), and between 10 and 500 steps there are 14 axes, which a static view
    draws once each."""
    if steps <= 1:
        return 1
    power = 10 ** int(np.floor(np.log10(steps)))
    return next(round(end * power) for end in (*_AXIS_ENDS, 10) if end * power >= steps)


def _linear_limits(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = finite.min(), finite.max()
    pad = 0.06 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
    return low - pad, high + pad


def _excess(losses: np.ndarray, minimum: float | None) -> np.ndarray:
    """Loss above the minimum, floored at rounding level so a log axis can show it."""
    if minimum is None:
        return np.asarray(losses, dtype=float)
    floor = 1e-16 * max(1.0, abs(minimum))
    return np.maximum(np.asarray(losses, dtype=float) - minimum, floor)


def _final(run) -> str:
    at = getattr(run, "diverged_at", None)
    return f"diverged at step {at}" if run.diverged else f"{run.final_loss:.3g}"


def _final_at(run, steps: int) -> str:
    """``_final(_prefix(run, steps))`` without building the shorter run."""
    if run.diverged and run.diverged_at <= steps:
        return f"diverged at step {run.diverged_at}"
    return f"{float(run.losses[steps]):.3g}"


def _prefix(run, steps: int):
    """The run of ``steps`` steps that begins ``run`` (a longer run from the same start):
    what :func:`~gdcourse.run.minimize` returns for ``steps``, as each step depends only on
    the steps before it (a run that diverged by then is the whole run)."""
    if (run.diverged and run.diverged_at <= steps) or len(run.losses) == steps + 1:
        return run
    if len(run.losses) < steps + 1:
        raise ValueError(f"a run of {len(run.losses) - 1} steps has no prefix of {steps}")
    return dataclasses.replace(run, params=run.params[:steps + 1], losses=run.losses[:steps + 1],
                               grad_norms=run.grad_norms[:steps + 1], diverged=False,
                               diverged_at=None)


class Explorer:
    """A figure driven by named controls; subclasses implement ``_setup()`` and ``_draw(values)``.

    - ``figure`` (a :class:`matplotlib.figure.Figure`, two panels in ``axes``) is created once;
    - ``values`` holds the current control values, ``specs`` their :class:`Control` descriptions;
    - :meth:`update` validates new values, reruns and redraws the same figure in place, and
      ``status`` (shown above the panels) says what happened, including divergence;
    - ``static_values`` lists the settings the static fallback shows as small multiples.
    """

    title = "explorer"
    panels = ""  # what the two panels show, for the alt text

    def __init__(self, specs: dict[str, Control], static_values: Sequence[dict], *,
                 static: bool | None = None, figsize=(9.0, 3.8)) -> None:
        self.specs = dict(specs)
        self.values = self._checked({name: spec.value for name, spec in self.specs.items()})
        self.static_values = [self._checked(dict(values)) for values in static_values]
        if static not in (None, True, False):
            raise TypeError(f"static must be None, True or False, got {static!r}")
        self.static = static
        self.figure = Figure(figsize=figsize, dpi=_DPI)
        FigureCanvasAgg(self.figure)  # renders without pyplot: never shown twice, never leaked
        self.axes = _two_panels(self.figure)
        self._suptitle = self.figure.suptitle("", fontsize=9.5)
        self._controls: dict[str, Any] | None = None
        self._image = None
        self._view = None
        self._status_line = None  # the live view's status, as text
        self._syncing = False
        self._static_statuses: tuple[tuple, list[str]] | None = None  # (for values, statuses)
        self._background = None  # the figure without its moving artists, for _view_state()
        self._background_view: tuple | None = None
        # backgrounds of earlier views, kept while the static view renders its frames (a grid
        # returns to the same limits again and again); none are kept for the live widget
        self._keep_backgrounds = 0
        self._kept_backgrounds: dict[tuple, Any] = {}
        self.status = ""
        self._setup()
        _pin_labels(self.axes)
        self._apply(self.values)

    # -- subclass interface --------------------------------------------------------------------
    def _setup(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _draw(self, values: dict) -> str:  # pragma: no cover - overridden
        """Update the artists for ``values``; return a one-line status message."""
        raise NotImplementedError

    # -- behaviour -----------------------------------------------------------------------------
    def _checked(self, changes: dict) -> dict:
        checked = {}
        for name, value in changes.items():
            if name not in self.specs:
                raise ValueError(f"unknown control {name!r}; controls are {list(self.specs)}")
            checked[name] = self.specs[name].check(name, value)
        return checked

    def _apply(self, values: dict) -> None:
        self.status = self._draw(dict(values))
        self._suptitle.set_text(self.status)

    def update(self, **changes: Any) -> Explorer:
        """Set control values (validated), rerun and redraw the same figure in place.

        The live controls and the image follow, whether the change came from a slider or from
        code. Returns the explorer.
        """
        self.values = {**self.values, **self._checked(changes)}
        self._apply(self.values)
        self._sync_controls()
        if self._image is not None:
            self._image.value = self.render_png()
            self._status_line.value = self._status_html()
        return self

    def _sync_controls(self) -> None:
        if self._controls is None:
            return
        self._syncing = True
        try:
            for name, control in self._controls.items():
                if control.value != self.values[name]:
                    control.value = self.values[name]
        finally:
            self._syncing = False

    def _on_change(self, name: str, change: dict) -> None:
        if not self._syncing:
            self.update(**{name: change["new"]})

    @property
    def controls(self) -> dict[str, Any]:
        """The ipywidgets controls by name (built on first use); changing one calls update."""
        if self._controls is None:
            controls = {}
            for name, spec in self.specs.items():
                control = spec.widget(name)
                control.value = self.values[name]
                control.observe(lambda change, name=name: self._on_change(name, change),
                                names="value")
                controls[name] = control
            self._controls = controls
        return self._controls

    @property
    def widget(self):
        """The live widget: the controls, an image of the figure and the status line under it,
        as text (built once)."""
        if self._view is None:
            import ipywidgets as widgets

            self._image = widgets.Image(value=self.render_png(), format="png")
            self._status_line = widgets.HTML(value=self._status_html())
            self._view = widgets.VBox([
                widgets.HBox(list(self.controls.values()),
                             layout=widgets.Layout(flex_flow="row wrap")),
                self._image, self._status_line])
        return self._view

    def _status_html(self) -> str:
        return f'<span style="font-size: 0.9em">{html.escape(self.status)}</span>'

    def _moving_artists(self) -> list:
        """The artists an update may change: every line, text and legend of the panels (in
        drawing order) and the status line above them."""
        artists = []
        for ax in self.axes:
            legend = ax.get_legend()
            on_axes = [*ax.lines, *ax.texts, *([legend] if legend is not None else [])]
            artists += sorted(on_axes, key=lambda artist: artist.get_zorder())
        return artists + list(self.figure.texts)

    def _view_state(self) -> tuple:
        """Everything the background depends on: the figure's size, and for each panel its
        limits, scales, labels and the artists that are not moving (contour maps and the like,
        compared by identity)."""
        return (tuple(self.figure.get_size_inches()), self.figure.dpi,
                *((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(),
                   ax.get_title(), ax.get_xlabel(), ax.get_ylabel(),
                   tuple(ax.collections), tuple(ax.images), tuple(ax.patches))
                  for ax in self.axes))

    def _pixels(self, *, background: bool = False):
        """The figure's pixels (RGB), drawn by blitting: the background (axes, ticks, labels,
        contour maps: most of the drawing time) is drawn once per view and kept, and each update
        draws only the moving artists over a copy of it. The moving artists are therefore drawn
        on top of the axes' frames, where a full draw would put the frames on top.

        With ``background=True`` returns ``(pixels, background pixels)``."""
        canvas = self.figure.canvas
        moving = self._moving_artists()
        view = self._view_state()
        if view != self._background_view and view in self._kept_backgrounds:
            self._background, self._background_view = self._kept_backgrounds[view], view
            canvas.restore_region(self._background)
        elif view != self._background_view:
            for artist in moving:
                artist.set_animated(True)  # left out of the background
            try:
                canvas.draw()
            finally:  # so that figure.savefig() and the like still draw everything
                for artist in moving:
                    artist.set_animated(False)
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._background_view = view
            if self._keep_backgrounds:
                self._kept_backgrounds[view] = self._background
                while len(self._kept_backgrounds) > self._keep_backgrounds:
                    del self._kept_backgrounds[next(iter(self._kept_backgrounds))]
        else:
            canvas.restore_region(self._background)
        behind = np.asarray(canvas.buffer_rgba())[..., :3].copy() if background else None
        renderer = canvas.get_renderer()
        for artist in moving:
            if artist.get_visible():
                artist.draw(renderer)
        pixels = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        return (pixels, behind) if background else pixels

    def _status_band(self) -> int:
        """Rows of pixels above the panel titles (where the figure's status line sits)."""
        renderer = self.figure.canvas.get_renderer()
        titles_top = max(ax.title.get_window_extent(renderer).y1 for ax in self.axes)
        return max(0, int(self.figure.bbox.height - titles_top) - 4)

    def live_pixels(self, *, background: bool = False):
        """The live view's picture (RGB pixels): the figure without the status line and the
        band above the panel titles that holds it. With ``background=True``, ``(pixels,
        background)``, the background being the same picture without the moving artists."""
        self._suptitle.set_visible(False)
        try:
            drawn = self._pixels(background=True)
        finally:
            self._suptitle.set_visible(True)
        band = self._status_band()
        pixels, behind = drawn[0][band:], drawn[1][band:]
        return (pixels, behind) if background else pixels

    def panel_split(self) -> int:
        """The pixel column a quarter inch right of the left panel's frame: left of it the
        left panel, right of it the right one. The left panel draws nothing on its right but
        the half of its last x tick label that overhangs the frame (well under a quarter
        inch); the right panel's y label sits more than half an inch further right."""
        left = self.axes[0].get_position().transformed(self.figure.transFigure)
        return int(np.ceil(left.x1 + 0.25 * self.figure.dpi))

    def frame_pixels(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        """The live view's picture for control ``values`` (validated), with its background:
        what :meth:`update` followed by :meth:`render_png` shows, without touching the live
        controls. The explorer is left at ``values``; ``status`` says what happened."""
        self.values = {**self.values, **self._checked(values)}
        self._apply(self.values)
        return self.live_pixels(background=True)

    def render_png(self) -> bytes:
        """The live view's picture as PNG bytes (fast compression: this runs on every update).

        The status line is left out, with the band above the panel titles that holds it: the
        live view shows it as text under the image, which costs no drawing and which screen
        readers read."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.live_pixels()).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    # -- static fallback -----------------------------------------------------------------------
    def _static_rows(self, *, render: bool = True) -> list[np.ndarray]:
        """Draw the figure at each of ``static_values`` (rendering it unless ``render`` is
        false) and note the status lines; the live state is restored afterwards."""
        saved = dict(self.values)
        rows, statuses = [], []
        try:
            for overrides in self.static_values:
                self._apply({**saved, **overrides})
                if render:
                    rows.append(self._pixels())
                statuses.append(self.status)
        finally:
            self._apply(saved)
        self._static_statuses = (tuple(saved.items()), statuses)
        return rows

    def static_png(self) -> bytes:
        """The static fallback: the figure at each of ``static_values``, stacked, as a PNG.

        The rows are the live figure's own pixels (no resampling), separated by a thin rule,
        stored with a 256-colour palette.
        """
        from PIL import Image

        rows = self._static_rows()
        width = rows[0].shape[1]
        rule = np.full((9, width, 3), 255, dtype=np.uint8)
        rule[4] = 190
        stacked = [rows[0]]
        for row in rows[1:]:
            stacked += [rule, row]
        image = Image.fromarray(np.concatenate(stacked))
        image = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                               dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        image.save(buffer, format="png")
        return buffer.getvalue()

    def static_figure(self) -> Figure:
        """The static fallback as a matplotlib Figure (e.g. for ``glue_figure``), pixel-exact.

        Its alt text is set as for :mod:`gdcourse.plots` figures (``fig.gdcourse_alt_text``).
        """
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(self.static_png())).convert("RGB"))
        height, width = pixels.shape[:2]
        figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
        FigureCanvasAgg(figure)
        figure.figimage(pixels, resize=False)
        figure.gdcourse_alt_text = self.alt_text()
        return figure

    def describe(self, values: dict) -> str:
        """``values`` as text, e.g. "lr = 0.5, steps = 30"."""
        return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                         for k, v in values.items())

    def alt_text(self) -> str:
        """Alt text of the static fallback: what the panels show and the outcome of each run."""
        if self._static_statuses is None or self._static_statuses[0] != tuple(self.values.items()):
            self._static_rows(render=False)
        rows = " ".join(f"Row {index}: {status}." for index, status
                        in enumerate(self._static_statuses[1], start=1))
        return (f"{self.title}, {len(self.static_values)} settings stacked top to bottom. "
                f"{self.panels} {rows}")

    def static_html(self) -> str:
        """The static fallback as self-contained HTML: an ``<img>`` with alt text and a note."""
        data = base64.b64encode(self.static_png()).decode("ascii")
        settings = "; ".join(self.describe(values) for values in self.static_values)
        note = (f"{self.title}, shown for {settings}. Run this page as a notebook (Binder, "
                "Colab or Jupyter) to move the sliders yourself.")
        return (f'<div class="gdcourse-explorer-static">'
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt_text())}" '
                f'style="max-width:100%"/>'
                f'<p style="font-size:0.85em;margin-top:0.3em">{html.escape(note)}</p></div>')

    # -- interactive static view (gdcourse.explorer_view) ----------------------------------------
    def view_grid(self) -> dict[str, list]:  # pragma: no cover - overridden
        """The controls the interactive static view offers and the values each takes."""
        raise NotImplementedError

    def _label(self, name: str, value: Any) -> str:
        kind = self.specs[name].kind
        if kind in {"int", "choice"}:
            return str(value)
        return f"{value:.3g}"

    def view_controls(self) -> list:
        """:meth:`view_grid` as :class:`gdcourse.explorer_view.ViewControl` s."""
        from gdcourse.explorer_view import ViewControl

        controls = []
        for name, grid in self.view_grid().items():
            spec = self.specs[name]
            values = tuple(self._checked({name: v})[name] for v in grid)
            controls.append(ViewControl(
                name, spec.description or name, "select" if spec.kind == "choice" else "range",
                values, tuple(self._label(name, v) for v in values)))
        return controls

    def view_layers(self) -> list | None:
        """The layers of a *drawn* view (:func:`gdcourse.explorer_view.build_drawn_view`: the
        browser draws the paths from precomputed data), or ``None`` for a view of frames
        (:func:`gdcourse.explorer_view.build_view`). Explorers override it."""
        return None

    view_separator = ""
    """What joins the status pieces of a drawn view's layers (after the base's piece)."""

    view_prefix: str | None = None
    """The control of a drawn view that counts steps, drawn as the first steps of the longest
    runs (``build_drawn_view(prefix=...)``), or None."""

    def interactive_view(self) -> dict:
        """The interactive static view over :meth:`view_grid`, the other controls at their
        current values: drawn in the browser when the explorer has :meth:`view_layers`
        (:func:`gdcourse.explorer_view.build_drawn_view`), else frames of the live picture
        (:func:`gdcourse.explorer_view.build_view`)."""
        from gdcourse.explorer_view import build_drawn_view, build_view

        grid = self.view_grid()
        fixed = {k: v for k, v in self.values.items() if k not in grid}
        note = ("Fixed here: " + ", ".join(f"{self.specs[k].description or k} = "
                                            f"{self._label(k, v)}" for k, v in fixed.items())
                + ".") if fixed else ""
        controls = self.view_controls()
        layers = self.view_layers()
        if layers is None:
            return build_view(self, controls, fixed_note=note)
        try:
            return build_drawn_view(self, controls, layers, separator=self.view_separator,
                                    fixed_note=note, prefix=self.view_prefix)
        finally:
            self._view_done()

    def _view_done(self) -> None:
        """Undo what :meth:`view_layers` set up for a drawn view (the live state is kept)."""

    def interactive_html(self) -> str:
        """The interactive static view as one self-contained HTML output."""
        return self.interactive_view()["html"]

    def _use_static(self) -> bool:
        return is_static() if self.static is None else self.static

    def _repr_mimebundle_(self, include=None, exclude=None):
        """What Jupyter displays: the static fallback's HTML, or the live widget's view."""
        if not self._use_static():
            try:
                view = self.widget
            except ImportError:  # no ipywidgets: a picture beats a traceback
                pass
            else:
                if hasattr(view, "_repr_mimebundle_"):  # ipywidgets 8
                    return view._repr_mimebundle_(include=include, exclude=exclude)
                # ipywidgets 7 (Colab ships 7.7): widgets display through _ipython_display_
                # only, with this bundle; the front end draws the view of the model.
                return {"text/plain": repr(self),
                        "application/vnd.jupyter.widget-view+json": {
                            "version_major": 2, "version_minor": 0, "model_id": view.model_id}}
        return {"text/html": self.interactive_html(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<{self.title}: {self.status}>"


# ------------------------------------------------------------------------------------------------
# Learning-rate explorer (1-D)
# ------------------------------------------------------------------------------------------------


class LearningRateExplorer(Explorer):
    """Gradient descent on a 1-D loss: the path on the curve and the loss per step."""

    title = "Learning-rate explorer"
    panels = ("Left: the loss curve with the iterates of gradient descent joined by dotted lines; "
              "right: the loss per step.")

    def __init__(self, loss=None, *, lr: float = 0.1, x0: float | None = None, steps: int = 30,
                 static_lrs: Sequence[float] | None = None, static: bool | None = None) -> None:
        self.loss = losses_module.Parabola() if loss is None else loss
        if getattr(self.loss, "dim", None) != 1:
            raise ValueError("lr_explorer needs a 1-D loss such as Parabola() or MultiMinimum(), "
                             f"got {getattr(self.loss, 'name', type(self.loss).__name__)!r} with "
                             f"dim {getattr(self.loss, 'dim', '?')}")
        (low, high), = self.loss.window
        x0 = float(self.loss.default_start if x0 is None else x0)
        lipschitz = getattr(self.loss, "lipschitz", None)
        self.bound = 2.0 / lipschitz if lipschitz else None
        scale = self.bound / 2 if self.bound else 1.0  # 1/L: lr in units of the curvature
        if static_lrs is None:
            static_lrs = ([self.bound * f for f in (0.025, 0.25, 0.75, 1.025)] if self.bound
                          else [0.01, 0.1, 0.5])
        specs = {
            "lr": Control("log", lr, 1e-3 * scale, 3.0 * scale, description="lr"),
            "x0": Control("float", x0, min(low, x0), max(high, x0), description="start x₀"),
            "steps": Control("int", steps, 1, 200, description="steps"),
        }
        super().__init__(specs, [{"lr": v} for v in static_lrs], static=static)

    def _setup(self) -> None:
        curve_ax, loss_ax = self.axes
        spec = style(0)
        self.curve, = curve_ax.plot([], [], color="0.35", linewidth=2, zorder=1)
        for minimizer in self.loss.minimizers:
            curve_ax.plot([minimizer], [self.loss.value(minimizer)], marker="*", markersize=13,
                          color="black", linestyle="none", zorder=4)
        self.path, = curve_ax.plot([], [], color=spec["color"], marker="o", markersize=4,
                                   linestyle=":", linewidth=1, zorder=3)
        self.start, = curve_ax.plot([], [], marker="o", markersize=9, markerfacecolor="white",
                                    markeredgecolor=spec["color"], markeredgewidth=2,
                                    linestyle="none", zorder=5)
        self.warning = curve_ax.text(0.5, 0.96, "", transform=curve_ax.transAxes, ha="center",
                                     va="top", color=_WARNING, fontsize=9, fontweight="bold",
                                     bbox={"facecolor": "white", "edgecolor": _WARNING,
                                           "boxstyle": "round", "alpha": 0.9}, zorder=6)
        self.warning.set_visible(False)
        minima = "★ minimum" if len(self.loss.minimizers) == 1 else "★ minima"
        curve_ax.set(xlabel="parameter $x$", ylabel="loss $L(x)$",
                     title=f"{self.loss.name}: ○ start" + (f", {minima}" if self.loss.minimizers
                                                          else ""))
        curve_ax.ticklabel_format(scilimits=(-3, 4))  # diverging runs: 8e5, not 800000
        self.loss_line, = loss_ax.plot([], [], color=spec["color"], marker="o", markersize=3)
        self._log = self.loss.minimum_value is not None
        loss_ax.set(xlabel="step", title="loss per step",
                    ylabel="loss − minimum (log scale)" if self._log else "loss")
        if self._log:
            loss_ax.set_yscale("log")

    def view_grid(self) -> dict[str, list]:
        """lr over 40 log-spaced values, with the explorer's own lr, its static lrs and, when the
        loss has a curvature L, 1/L (one step to the minimum) and 2/L (the stability bound)."""
        spec = self.specs["lr"]
        special = [self.values["lr"], *(values["lr"] for values in self.static_values)]
        if self.bound:
            special += [self.bound / 2, self.bound]
        return {"lr": grid_values("log", spec.low, spec.high, 40, special)}

    def run(self, values: dict):
        """The gradient-descent run for ``values`` (a fresh :func:`~gdcourse.run.minimize`)."""
        return minimize(self.loss, values["x0"], GD(lr=values["lr"]), values["steps"])

    def _draw(self, values: dict) -> str:
        trajectory = self.run(values)
        self.trajectory = trajectory
        points, losses = np.ravel(trajectory.params), trajectory.losses
        self.path.set_data(points, losses)
        self.start.set_data([points[0]], [losses[0]])
        (low, high), = self.loss.window
        low, high = min(low, points.min()), max(high, points.max())
        xs = np.linspace(low, high, 400)
        curve = self.loss.values(xs)
        self.curve.set_data(xs, curve)
        curve_ax, loss_ax = self.axes
        curve_ax.set_xlim(*_linear_limits(xs))
        curve_ax.set_ylim(*_linear_limits(np.concatenate([curve, losses])))
        shown = _excess(losses, self.loss.minimum_value)
        self.loss_line.set_data(np.arange(len(shown)), shown)
        loss_ax.set_xlim(-0.5, max(len(shown) - 1, 1) + 0.5)
        loss_ax.set_ylim(*(_log_limits(shown) if self._log else _linear_limits(shown)))

        lr = values["lr"]
        beyond = (f" (stable only for lr < 2/L = {self.bound:.3g})"
                  if self.bound and lr >= self.bound else "")
        warning = ""
        if trajectory.diverged:
            warning = f"diverged at step {trajectory.diverged_at}"
            status = f"lr = {lr:.3g}: diverged at step {trajectory.diverged_at}{beyond}"
        elif losses[-1] > losses[0]:
            warning = "the loss grows: diverging"
            status = (f"lr = {lr:.3g}: the loss grew from {losses[0]:.3g} to {losses[-1]:.3g} in "
                      f"{trajectory.steps} steps{beyond}")
        self.warning.set_text(warning)
        self.warning.set_visible(bool(warning))
        if warning:
            return status
        return (f"lr = {lr:.3g}: after {trajectory.steps} steps x = {points[-1]:.4g}, "
                f"loss = {losses[-1]:.3g}")


def lr_explorer(loss=None, **kwargs) -> LearningRateExplorer:
    """Explore gradient descent's learning rate on a 1-D loss (default ½(x − 4)²).

    Keywords: ``lr=0.1``, ``x0`` (default ``loss.default_start``), ``steps=30``, ``static_lrs``
    (the learning rates of the static view; default 0.025, 0.25, 0.75 and 1.025 times the
    stability bound 2/L when the loss has one: calm, fast, oscillating, diverging) and
    ``static`` (see the module docstring).

    >>> explorer = lr_explorer(static=True)
    >>> explorer.update(lr=2.5).status
    'lr = 2.5: diverged at step 29 (stable only for lr < 2/L = 2)'
    """
    return LearningRateExplorer(loss, **kwargs)


# ------------------------------------------------------------------------------------------------
# Optimizer comparison (2-D)
# ------------------------------------------------------------------------------------------------


def _fields(cls) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) \
        else set()


def _field_default(cls, name: str):
    return next(field.default for field in dataclasses.fields(cls) if field.name == name)


class ComparisonExplorer(Explorer):
    """Several optimizers on one 2-D loss: paths on the contour map and loss curves."""

    title = "Optimizer comparison"
    panels = ("Left: the contour map of the loss with each optimizer's path from the white "
              "circle, black stars at the minima; right: the loss per step for each optimizer.")

    def __init__(self, loss: Any = "rosenbrock",
                 optimizers: Sequence[str] = ("gd", "momentum", "adam"), *, steps: int = 200,
                 lrs: dict[str, float] | None = None,
                 hyperparameters: dict[str, dict] | None = None,
                 static: bool | None = None) -> None:
        self._losses = dict(LOSSES_2D)
        if isinstance(loss, str):
            key = loss.lower()
            if key not in self._losses:
                raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(self._losses)} "
                                 "or pass a 2-D loss object")
        else:
            if getattr(loss, "dim", None) != 2:
                raise ValueError("optimizer_comparison needs a 2-D loss, got "
                                 f"{getattr(loss, 'name', type(loss).__name__)!r} with dim "
                                 f"{getattr(loss, 'dim', '?')}; use lr_explorer for 1-D losses")
            key = loss.name.lower()
            self._losses[key] = lambda: loss
        if isinstance(optimizers, str) or not optimizers:
            raise ValueError("optimizers must be a non-empty list of names such as "
                             f"['gd', 'adam'], got {optimizers!r}")
        names = [str(name).lower() for name in optimizers]
        for name in names:
            if name not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
        if len(set(names)) != len(names) or len(names) > len(OKABE_ITO):
            raise ValueError(f"optimizers must be distinct, at most {len(OKABE_ITO)}, got {names}")
        self.names = names
        self.fixed = {name: dict((hyperparameters or {}).get(name, {})) for name in names}
        unknown = set(hyperparameters or {}) - set(names)
        if unknown:
            raise ValueError(f"hyperparameters given for optimizers not in the race: {sorted(unknown)}")
        lrs = {**DEFAULT_LR, **{k.lower(): v for k, v in (lrs or {}).items()}}
        specs = {"loss": Control("choice", key, options=tuple(self._losses), description="loss"),
                 "steps": Control("int", steps, 10, 500, description="steps")}
        for name in names:
            specs[f"lr_{name}"] = Control("log", lrs[name], 1e-4, 3.0, description=f"lr {name}")
            if "momentum" in _fields(OPTIMIZERS[name]):  # the optimizer's own default (RMSProp: 0)
                default = self.fixed[name].pop("momentum", _field_default(OPTIMIZERS[name],
                                                                          "momentum"))
                specs[f"momentum_{name}"] = Control("float", default, 0.0, 0.99,
                                                    description=f"β {name}")
        for name in names:  # fail now, with the optimizer's own message, not on first draw
            self._optimizer(name, {k: s.value for k, s in specs.items()})
        order = dict.fromkeys([key, "rosenbrock", "beale", "saddle"])
        static_values = [{"loss": name} for name in list(order)[:3]]
        self._contoured = None
        self._grids: dict[str, tuple] = {}
        # the loss axis: fitted to each setting (None), or fixed per loss for a drawn view
        self.loss_limits: dict[str, tuple[float, float]] | None = None
        self.view_loss_limits: dict[str, tuple[float, float]] | None = None
        self._runs: dict[tuple, Any] | None = None  # runs remembered while a view is built
        self._view_steps = steps  # the most steps of the view being built
        super().__init__(specs, static_values, static=static, figsize=(9.5, 4.0))

    view_separator = ", "

    VIEW_BETAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
    """The β values of the static view: none, then denser towards 1, where each step of β
    lengthens the memory 1/(1 − β) most (2, 5, 10, 20, 100 steps), the usual 0.9 among them."""

    VIEW_LRS = (30, 16)
    """Learning rates per optimizer in the static view: 30, or 16 where β has a slider too (an
    lr x β grid: every run costs build time, some 5 ms, and 10 s is the budget of a view)."""

    VIEW_STEPS = 36
    """About this many values of the steps slider (log-spaced over its range, with the
    explorer's own): they cost no runs, only an axis and the status line each."""

    def view_grid(self) -> dict[str, list]:
        """Every control of the live widget, in its order: the losses of the static view (a
        dropdown), the number of steps (:attr:`VIEW_STEPS` values), each optimizer's learning
        rate (:attr:`VIEW_LRS` log-spaced values over the slider's range, with the explorer's
        own) and β (:attr:`VIEW_BETAS` and the explorer's own).
        The view draws the race in the browser (:meth:`view_layers`): each optimizer's runs are
        stored apart, so the sliders combine freely at the cost of their sum, not their
        product, and the steps slider draws the first steps of the longest runs."""
        grid = {"loss": [values["loss"] for values in self.static_values]}
        spec = self.specs["steps"]
        grid["steps"] = grid_values("int", spec.low, spec.high, self.VIEW_STEPS,
                                    [self.values["steps"]])
        for name in self.names:
            spec = self.specs[f"lr_{name}"]
            beta = f"momentum_{name}"
            grid[f"lr_{name}"] = grid_values("log", spec.low, spec.high,
                                             self.VIEW_LRS[beta in self.specs],
                                             [self.values[f"lr_{name}"]])
            if beta in self.specs:
                grid[beta] = sorted({*self.VIEW_BETAS, self.values[beta]})
        return grid

    view_prefix = "steps"

    def view_layers(self) -> list:
        """A base layer for the loss and the number of steps (contour map, axes and the head
        of the status line) and one layer per optimizer, keyed by the loss, its learning rate
        and β: its path, its head and its loss curve, cut at the number of steps, and its part
        of the status line for each number of steps. The runs are made once, at the most steps
        (see :func:`_prefix`). The loss axis is fixed per loss for the whole view (else one
        optimizer's learning rate would move every curve), see :meth:`_view_limits`."""
        from gdcourse.explorer_view import Layer

        self._runs = {}
        grid = self.view_grid()
        self._view_steps = grid["steps"][-1]
        self.view_loss_limits = self.loss_limits = {loss: self._view_limits(loss, grid)
                                                    for loss in grid["loss"]}
        layers = [Layer(("loss", "steps"), (), lambda: self._status_head(self.values))]
        for index, name in enumerate(self.names):
            controls = ("loss", f"lr_{name}", *([f"momentum_{name}"]
                                                if f"momentum_{name}" in grid else []))
            layers.append(Layer(
                controls, (self.lines[index], self.heads[index], self.loss_lines[index]),
                lambda steps, index=index, name=name:
                    f"{name} {_final_at(self.trajectories[index], steps)}",
                cuts=("prefix", "head", "prefix/10")))
        return layers

    def _view_limits(self, loss: str, grid: dict[str, list]) -> tuple[float, float]:
        """The loss axis of ``loss`` in the drawn view. On a log axis (a loss with a known
        minimum): down to the lowest loss any learning rate of ``grid`` reaches, up to a hundred
        times the starting loss. On a linear axis (the saddle, unbounded below): the curves at
        the explorer's own learning rates. Curves beyond leave the panel. Both over the most
        steps of the view."""
        values = {**self.values, "loss": loss, "steps": self._view_steps}
        self._contour(loss)
        start_loss = self.loss.value(np.asarray(self.loss.default_start, dtype=float))
        if self.loss.minimum_value is None:
            shown = [self._run(name, values).losses for name in self.names]
            return _linear_limits(np.concatenate([*shown, [start_loss]]))
        lowest = np.inf
        for name in self.names:
            for lr, beta in itertools.product(grid[f"lr_{name}"],
                                              grid.get(f"momentum_{name}", [None])):
                chosen = {f"lr_{name}": lr} if beta is None else {f"lr_{name}": lr,
                                                                  f"momentum_{name}": beta}
                run = self._run(name, {**values, **chosen})
                lowest = min(lowest, _excess(run.losses, self.loss.minimum_value).min())
        first = _excess(np.array([start_loss]), self.loss.minimum_value)[0]
        return _log_limits(np.array([lowest, 100 * first]))

    def _view_done(self) -> None:
        self.loss_limits = None
        self._runs = None
        self._apply(self.values)

    def _run(self, name: str, values: dict):
        """The run of optimizer ``name`` at ``values``. While a view is built, runs are made
        once for the view's most steps, remembered, and cut to ``values["steps"]``."""
        optimizer = self._optimizer(name, values)
        if self._runs is None:
            return minimize(self.loss, self.loss.default_start, optimizer, values["steps"])
        key = (values["loss"], repr(optimizer))
        if key not in self._runs:
            self._runs[key] = minimize(self.loss, self.loss.default_start, optimizer,
                                       self._view_steps)
        return _prefix(self._runs[key], values["steps"])

    def _status_head(self, values: dict) -> str:
        return f"{self.loss.name}, {values['steps']} steps: final loss "

    def _optimizer(self, name: str, values: dict):
        kwargs = {**self.fixed[name], "lr": values[f"lr_{name}"]}
        if f"momentum_{name}" in values:
            kwargs["momentum"] = values[f"momentum_{name}"]
        return OPTIMIZERS[name](**kwargs)

    def _setup(self) -> None:
        map_ax, loss_ax = self.axes
        self.lines, self.heads, self.loss_lines = [], [], []
        for index in range(len(self.names)):
            spec = style(index)
            line, = map_ax.plot([], [], color=spec["color"], linestyle=spec["linestyle"],
                                linewidth=1.8, zorder=3)
            head, = map_ax.plot([], [], marker=spec["marker"], color=spec["color"], markersize=8,
                                linestyle="none", zorder=4)
            curve, = loss_ax.plot([], [], color=spec["color"], linestyle=spec["linestyle"],
                                  marker=spec["marker"], markersize=4)
            self.lines.append(line)
            self.heads.append(head)
            self.loss_lines.append(curve)
        self.start, = map_ax.plot([], [], marker="o", markersize=9, markerfacecolor="white",
                                  markeredgecolor="black", markeredgewidth=1.5, linestyle="none",
                                  zorder=5)
        self.markers, = map_ax.plot([], [], marker="*", markersize=14, color="black",
                                    linestyle="none", zorder=5)
        loss_ax.legend([(line, head) for line, head in zip(self.lines, self.heads, strict=True)],
                       self.names, loc="upper right", fontsize=8, framealpha=0.9)
        loss_ax.set(xlabel="step", title="loss per step")
        map_ax.set(xlabel="$\\theta_1$", ylabel="$\\theta_2$")

    def _contour(self, name: str) -> None:
        """Draw the contour map once per loss (not on every slider move)."""
        if self._contoured == name:
            return
        map_ax, loss_ax = self.axes
        for artist in list(map_ax.collections):
            artist.remove()
        self.loss = self._losses[name]()
        (x0, x1), (y0, y1) = self.loss.window
        _draw_contours(map_ax, self.loss, self.loss.window, resolution=120, levels=20)
        points = np.array(self.loss.minimizers or self.loss.saddle_points or np.empty((0, 2)))
        self.markers.set_data(points[:, 0], points[:, 1])
        self.markers.set_marker("*" if self.loss.minimizers else "X")  # X: a saddle point
        self.start.set_data([self.loss.default_start[0]], [self.loss.default_start[1]])
        self._log = self.loss.minimum_value is not None
        loss_ax.set_yscale("log" if self._log else "linear")
        loss_ax.set_ylabel("loss − minimum (log scale)" if self._log else "loss")
        map_ax.set(xlim=(x0, x1), ylim=(y0, y1),
                   title=f"{self.loss.name}: ○ start, " + ("★ minimum" if self.loss.minimizers
                                                           else "✖ saddle point"))
        self._contoured = name

    def _draw(self, values: dict) -> str:
        self._contour(values["loss"])
        self.trajectories = []
        shown_all = []
        for name, line, head, curve in zip(self.names, self.lines, self.heads, self.loss_lines,
                                           strict=True):
            run = self._run(name, values)
            self.trajectories.append(run)
            line.set_data(run.params[:, 0], run.params[:, 1])
            head.set_data([run.params[-1, 0]], [run.params[-1, 1]])
            shown = _excess(run.losses, self.loss.minimum_value)
            curve.set_data(np.arange(len(shown)), shown)
            curve.set_markevery(max(1, len(shown) // 10))
            shown_all.append(shown)
        loss_ax = self.axes[1]
        shown = np.concatenate(shown_all)
        loss_ax.set_xlim(0, _steps_axis_end(values["steps"]))
        if self.loss_limits is not None:
            loss_ax.set_ylim(*self.loss_limits[values["loss"]])
        else:
            loss_ax.set_ylim(*(_log_limits(shown) if self._log else _linear_limits(shown)))
        return (self._status_head(values)
                + ", ".join(f"{name} {_final(run)}"
                            for name, run in zip(self.names, self.trajectories, strict=True)))


def optimizer_comparison(loss: Any = "rosenbrock",
                         optimizers: Sequence[str] = ("gd", "momentum", "adam"),
                         **kwargs) -> ComparisonExplorer:
    """Race optimizers (by name) on a 2-D loss, with their hyperparameters on sliders.

    ``loss`` is a name from :data:`LOSSES_2D` (also a control) or a 2-D loss object;
    ``optimizers`` names from :data:`gdcourse.optim.OPTIMIZERS`. Each optimizer gets a
    learning-rate slider (start values ``lrs={"adam": 0.1}``, else :data:`DEFAULT_LR`) and, for
    momentum and Nesterov, a β slider; other hyperparameters are fixed with
    ``hyperparameters={"adam": {"betas": (0.8, 0.99)}}``. ``steps`` (10–500) is a slider too.
    The static view shows the race on three losses.
    """
    return ComparisonExplorer(loss, optimizers, **kwargs)


# ------------------------------------------------------------------------------------------------
# Batch-size explorer
# ------------------------------------------------------------------------------------------------


class BatchSizeExplorer(Explorer):
    """Mini-batch GD on linear regression: the path in (slope, intercept) and the full-data loss
    against per-sample gradient evaluations (the work done), beside batch GD for reference."""

    title = "Batch-size explorer"
    panels = ("Left: the contour map of the regression loss over slope and intercept with the "
              "path of the chosen batch size and, dashed, of batch gradient descent; right: the "
              "full-data loss above its minimum against per-sample gradient evaluations.")

    def __init__(self, problem: LinearRegression | None = None, *, batch_size: int = 8,
                 lr: float = 0.1, epochs: int = 5, seed: int = 0,
                 static_batch_sizes: Sequence[int] | None = None,
                 static: bool | None = None) -> None:
        self.problem = LinearRegression(*linear_data(256, seed=0)) if problem is None else problem
        if not (callable(getattr(self.problem, "loss", None))
                and getattr(self.problem, "dim", None) == 2):
            raise ValueError("batch_size_explorer needs a 2-parameter problem such as "
                             "LinearRegression(*linear_data(256))")
        n = self.problem.n_samples
        specs = {"batch_size": Control("int", batch_size, 1, n, description="batch size"),
                 "lr": Control("log", lr, 1e-3, 1.0, description="lr"),
                 "epochs": Control("int", epochs, 1, 10, description="epochs"),
                 "seed": Control("int", seed, 0, 99, description="seed")}
        if static_batch_sizes is None:
            static_batch_sizes = list(dict.fromkeys((1, min(16, n), n)))
        self.solution = np.asarray(self.problem.solution(), dtype=float)
        self.minimum = self.problem.loss(self.solution)
        self._references: dict[tuple, Any] = {}
        super().__init__(specs, [{"batch_size": b} for b in static_batch_sizes], static=static)

    def noise_batch_size(self, lr: float | None = None, epochs: int | None = None) -> int:
        """The batch size from which gradient noise stops mattering (linear regression).

        With batches of B examples, SGD settles at an excess loss of about η·tr Σ_B / 4, where
        Σ_B = Σ (n − B) / (B (n − 1)) is the covariance of the batch gradient at the optimum
        (chapter 4, eq-mb-floor). Noise stops mattering once that floor falls below the excess
        loss that the same number of noise-free updates leaves (batch GD run for
        ``epochs · ⌈n/B⌉`` steps): from there on, fewer updates, not noise, limit the result.
        Returns the smallest such B.
        """
        lr = self.values["lr"] if lr is None else lr
        epochs = self.values["epochs"] if epochs is None else epochs
        n = self.problem.n_samples
        x, y = np.asarray(self.problem.x, dtype=float), np.asarray(self.problem.y, dtype=float)
        residuals = x * self.solution[0] + self.solution[1] - y
        trace = float(np.mean(residuals**2 * (x**2 + 1.0)))  # tr Σ of one example's gradient
        full = train(self.problem, self.problem.default_start, GD(lr=lr), n,
                     epochs=epochs * n, seed=0)
        noise_free = _excess(self.full_losses(full.params), self.minimum)
        for batch in range(1, n + 1):
            floor = lr * trace * (n - batch) / (batch * (n - 1)) / 4
            updates = epochs * -(-n // batch)
            if floor <= noise_free[min(updates, len(noise_free) - 1)]:
                return batch
        return n

    def view_grid(self) -> dict[str, list]:
        """Batch sizes from 1 to n (36 log-spaced whole numbers), with every power of two, the
        explorer's own batch size and :meth:`noise_batch_size`."""
        n = self.problem.n_samples
        special = [2**k for k in range(int(np.log2(n)) + 1)]
        special += [self.values["batch_size"], self.noise_batch_size(), n]
        return {"batch_size": grid_values("int", 1, n, 36, special)}

    def full_losses(self, params: np.ndarray) -> np.ndarray:
        """Full-data loss at each row of ``params`` (vectorised for linear regression)."""
        params = np.asarray(params, dtype=float)
        if isinstance(self.problem, LinearRegression):
            residuals = (np.outer(self.problem.x, params[:, 0]) + params[:, 1]
                         - self.problem.y[:, None])
            return 0.5 * np.mean(residuals**2, axis=0)
        return np.array([self.problem.loss(p) for p in params])

    def _setup(self) -> None:
        path_ax, loss_ax = self.axes
        start = np.asarray(self.problem.default_start, dtype=float)
        radius = 1.3 * max(np.max(np.abs(self.solution - start)), 1e-3)
        window = ((self.solution[0] - radius, self.solution[0] + radius),
                  (self.solution[1] - radius, self.solution[1] + radius))
        explorer = self

        class _FullLoss:  # the regression loss as a 2-D surface for the contour helper
            minimum_value = self.minimum

            @staticmethod
            def values(points):
                flat = np.asarray(points).reshape(-1, 2)
                return explorer.full_losses(flat).reshape(np.shape(points)[:-1])

        _draw_contours(path_ax, _FullLoss(), window, resolution=60, levels=15)
        path_ax.plot(*self.solution, marker="*", markersize=14, color="black", linestyle="none",
                     zorder=5)
        path_ax.plot(*start, marker="o", markersize=9, markerfacecolor="white",
                     markeredgecolor="black", markeredgewidth=1.5, linestyle="none", zorder=5)
        path_ax.set(xlim=window[0], ylim=window[1], xlabel="slope $w_0$",
                    ylabel="intercept $w_1$", title="parameter path: ○ start, ★ least squares")
        reference, chosen = style(7), style(0)
        self.reference_path, = path_ax.plot([], [], color=reference["color"], linestyle="--",
                                            linewidth=1.5, zorder=3)
        self.path, = path_ax.plot([], [], color=chosen["color"], linewidth=1, zorder=4)
        self.reference_curve, = loss_ax.plot([], [], color=reference["color"], linestyle="--",
                                             marker="s", markersize=4)
        self.curve, = loss_ax.plot([], [], color=chosen["color"], linewidth=1)
        self._legend = loss_ax.legend([self.curve, self.reference_curve], ["chosen", "batch GD"],
                                      loc="upper right", fontsize=8, framealpha=0.9)
        loss_ax.set(xlabel="per-sample gradient evaluations", yscale="log",
                    ylabel="full-data loss − minimum (log scale)", title="loss against work done")

    def _reference(self, values: dict):
        key = (values["lr"], values["epochs"])  # full batches: the seed changes nothing
        if key not in self._references:
            self._references[key] = train(self.problem, self.problem.default_start,
                                          GD(lr=values["lr"]), self.problem.n_samples,
                                          epochs=values["epochs"], seed=0)
        return self._references[key]

    def _draw(self, values: dict) -> str:
        history = train(self.problem, self.problem.default_start, GD(lr=values["lr"]),
                        values["batch_size"], epochs=values["epochs"], seed=values["seed"])
        reference = self._reference(values)
        self.history, self.reference = history, reference
        excess = _excess(self.full_losses(history.params), self.minimum)
        reference_excess = _excess(self.full_losses(reference.params), self.minimum)
        self.path.set_data(history.params[:, 0], history.params[:, 1])
        self.reference_path.set_data(reference.params[:, 0], reference.params[:, 1])
        self.curve.set_data(history.grad_evals, excess)
        self.reference_curve.set_data(reference.grad_evals, reference_excess)
        self._legend.get_texts()[0].set_text(history.label)
        loss_ax = self.axes[1]
        loss_ax.set_xlim(0, max(history.grad_evals[-1], reference.grad_evals[-1], 1) * 1.02)
        loss_ax.set_ylim(*_log_limits(np.concatenate([excess, reference_excess])))
        head = f"{history.label}, lr = {values['lr']:.3g}"
        if history.diverged:
            return f"{head}: diverged at update {history.diverged_at}"
        samples = "sample" if history.batch_size == 1 else "samples"
        return (f"{head}: {history.updates} updates of {history.batch_size} {samples} in "
                f"{values['epochs']} epochs; loss above the minimum {excess[-1]:.2g} "
                f"(batch GD {reference_excess[-1]:.2g})")


def batch_size_explorer(problem: LinearRegression | None = None, **kwargs) -> BatchSizeExplorer:
    """Compare batch, mini-batch and stochastic GD on linear regression by batch size.

    Keywords: ``batch_size=8``, ``lr=0.1``, ``epochs=5`` (1–10), ``seed=0``,
    ``static_batch_sizes`` (default 1, 16 and the whole data set) and ``static``.
    """
    return BatchSizeExplorer(problem, **kwargs)


# ------------------------------------------------------------------------------------------------
# Momentum explorer
# ------------------------------------------------------------------------------------------------


class MomentumExplorer(Explorer):
    """Momentum against plain GD on an ill-conditioned quadratic."""

    title = "Momentum explorer"
    panels = ("Left: the contour map of an elongated quadratic valley with the paths of plain "
              "gradient descent (dashed) and of momentum from the same start; right: the loss "
              "per step of both on a log scale.")

    def __init__(self, condition_number: float = 25.0, *, lr: float | None = None,
                 momentum: float = 0.7, steps: int = 60,
                 static_momenta: Sequence[float] = (0.0, 0.5, 0.9),
                 static: bool | None = None) -> None:
        self.loss = losses_module.Quadratic.ill_conditioned(condition_number)
        self.bound = 2.0 / self.loss.lipschitz
        # default: 7/8 of GD's stability bound, where plain GD zig-zags across the valley
        lr = 0.875 * self.bound if lr is None else lr
        specs = {"lr": Control("log", lr, self.bound / 100, 2 * self.bound, description="lr"),
                 "momentum": Control("float", momentum, 0.0, 0.99, description="β"),
                 "steps": Control("int", steps, 5, 300, description="steps")}
        # the loss axis: fitted to each setting (None), or fixed for a whole drawn view
        self.loss_limits: tuple[float, float] | None = None
        self.view_loss_limits: tuple[float, float] | None = None
        self._gd_runs: dict[tuple, Any] = {}  # GD ignores β: one run per (lr, steps)
        super().__init__(specs, [{"momentum": m} for m in static_momenta], static=static)

    def _setup(self) -> None:
        map_ax, loss_ax = self.axes
        _draw_contours(map_ax, self.loss, self.loss.window, resolution=100, levels=15)
        (x0, x1), (y0, y1) = self.loss.window
        map_ax.plot(*self.loss.minimizer, marker="*", markersize=14, color="black",
                    linestyle="none", zorder=5)
        map_ax.plot(*self.loss.default_start, marker="o", markersize=9, markerfacecolor="white",
                    markeredgecolor="black", markeredgewidth=1.5, linestyle="none", zorder=5)
        map_ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$\\theta_1$", ylabel="$\\theta_2$",
                   title=f"quadratic, condition number {self.loss.condition_number:g}")
        gd, momentum = style(1), style(0)
        self.gd_path, = map_ax.plot([], [], color=gd["color"], linestyle="--", marker="s",
                                    markersize=3, zorder=3)
        self.path, = map_ax.plot([], [], color=momentum["color"], marker="o", markersize=3,
                                 zorder=4)
        map_ax.legend([self.gd_path, self.path], ["GD", "momentum"], loc="upper right",
                      fontsize=8, framealpha=0.9)
        self.gd_curve, = loss_ax.plot([], [], color=gd["color"], linestyle="--")
        self.curve, = loss_ax.plot([], [], color=momentum["color"])
        loss_ax.set(xlabel="step", ylabel="loss − minimum (log scale)", yscale="log",
                    title="loss per step")

    def view_grid(self) -> dict[str, list]:
        """lr (40 log-spaced values from 2/L / 10 to 2 · 2/L) by β (40 values from 0 to 0.99),
        some 1700 settings, drawn in the browser (:meth:`view_layers`). On the grid: the
        explorer's own lr and β, GD's stability bound 2/L, the optimal heavy ball
        (η*, μ*) = (4/(√L + √m)², ((√κ − 1)/(√κ + 1))²), and critical damping of the flat
        direction at the explorer's lr, β = (1 − √(η m))², where its oscillation starts."""
        lipschitz, flat = self.loss.lipschitz, self.loss.strong_convexity
        kappa = lipschitz / flat
        lr_star = 4.0 / (np.sqrt(lipschitz) + np.sqrt(flat)) ** 2
        mu_star = ((np.sqrt(kappa) - 1.0) / (np.sqrt(kappa) + 1.0)) ** 2
        critical = (1.0 - np.sqrt(self.values["lr"] * flat)) ** 2
        lrs = grid_values("log", self.bound / 10, 2 * self.bound, 40,
                          [self.values["lr"], self.bound, lr_star])
        betas = grid_values("float", 0.0, 0.99, 40, [self.values["momentum"], mu_star, critical])
        return {"lr": lrs, "momentum": betas}

    def view_layers(self) -> list:
        """One layer: both paths and both loss curves, drawn in the browser for every (lr, β)
        of :meth:`view_grid` (the loss axis follows both, so every setting has its own)."""
        from gdcourse.explorer_view import Layer

        grid = self.view_grid()
        self.view_loss_limits = self.loss_limits = self._view_limits(grid)
        return [Layer(("lr", "momentum"), (self.gd_path, self.path, self.gd_curve, self.curve),
                      lambda: self.status)]

    def _view_limits(self, grid: dict[str, list]) -> tuple[float, float]:
        """The loss axis of the drawn view, the same for every setting (so that curves compare
        as the sliders move): down to the lowest loss of any setting of ``grid``, up to a
        hundred times the starting loss (a diverging curve leaves through the top)."""
        steps = self.values["steps"]
        start = self.loss.default_start
        lowest = np.inf
        for lr in grid["lr"]:
            runs = [self._gd_run(lr, steps)] + [
                minimize(self.loss, start, Momentum(lr=lr, momentum=beta), steps)
                for beta in grid["momentum"]]
            for run in runs:
                lowest = min(lowest, _excess(run.losses, self.loss.minimum_value).min())
        first = _excess(np.array([self.loss.value(start)]), self.loss.minimum_value)[0]
        return _log_limits(np.array([lowest, 100 * first]))

    def _view_done(self) -> None:
        self.loss_limits = None
        self._apply(self.values)

    def _gd_run(self, lr: float, steps: int):
        key = (lr, steps)
        if key not in self._gd_runs:
            if len(self._gd_runs) >= 256:
                self._gd_runs.clear()
            self._gd_runs[key] = minimize(self.loss, self.loss.default_start, GD(lr=lr), steps)
        return self._gd_runs[key]

    def _draw(self, values: dict) -> str:
        start = self.loss.default_start
        runs, shown_all = [], []
        for run, path, curve in (
            (self._gd_run(values["lr"], values["steps"]), self.gd_path, self.gd_curve),
            (minimize(self.loss, start, Momentum(lr=values["lr"], momentum=values["momentum"]),
                      values["steps"]), self.path, self.curve),
        ):
            path.set_data(run.params[:, 0], run.params[:, 1])
            shown = _excess(run.losses, self.loss.minimum_value)
            curve.set_data(np.arange(len(shown)), shown)
            runs.append(run)
            shown_all.append(shown)
        self.trajectories = runs
        loss_ax = self.axes[1]
        loss_ax.set_xlim(0, _steps_axis_end(values["steps"]))
        loss_ax.set_ylim(*(self.loss_limits or _log_limits(np.concatenate(shown_all))))
        gd, momentum = runs
        return (f"lr = {values['lr']:.3g} (GD stable below {self.bound:.3g}), "
                f"β = {values['momentum']:.2f}: loss after {values['steps']} steps: "
                f"GD {_final(gd)}, momentum {_final(momentum)}")


def momentum_explorer(condition_number: float = 25.0, **kwargs) -> MomentumExplorer:
    """Explore lr and β of momentum on an ill-conditioned quadratic, beside plain GD.

    Keywords: ``lr`` (default 7/8 of GD's stability bound 2/L, where GD zig-zags),
    ``momentum=0.7``, ``steps=60``, ``static_momenta`` (default β = 0, 0.5, 0.9) and
    ``static``.
    """
    return MomentumExplorer(condition_number, **kwargs)

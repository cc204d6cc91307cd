"""Interactive explorers (ipywidgets) that also work on a static page.

Four explorers, one call each::

    lr_explorer()              # learning rate on a 1-D loss: calm, oscillating, diverging
    optimizer_comparison()     # optimizers racing on a 2-D loss, hyperparameters on sliders
    batch_size_explorer()      # batch, mini-batch and stochastic GD on linear regression
    momentum_explorer()        # lr and beta on an ill-conditioned quadratic (the zig-zag)

Each returns an :class:`Explorer`. Displayed in a live kernel (Binder, Colab, Jupyter) it shows
sliders and one figure that is **updated in place**: a control change reruns the optimizer, moves
the existing lines (``set_data``) and re-renders the same Figure into an image widget.

Displayed in a static build it shows its **static fallback** instead of dead sliders: small
multiples of the same figure over representative control values, as an ``<img>`` with alt text.
The fallback is used when ``static=True`` is passed or when the environment variable
``GDCOURSE_STATIC=1`` is set (``make book`` and the book-build test set it); ``static=False``
forces the live widget.

ipywidgets is imported only when a live widget is built, so ``import gdcourse.widgets`` works
without it. Tests and benchmarks drive an explorer headless through :meth:`Explorer.update` or by
setting ``explorer.controls[name].value``.

Book: chapter 3 (learning rate), 4 (batch size), 6 (momentum), 9 (comparison).
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from gdcourse import losses as losses_module
from gdcourse.data import LinearRegression, linear_data
from gdcourse.optim import OPTIMIZERS, GD, Momentum, get_optimizer
from gdcourse.plots import OKABE_ITO, _draw_contours, style
from gdcourse.run import minimize, train

__all__ = [
    "LOSSES_2D",
    "Control",
    "Explorer",
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


def is_static() -> bool:
    """True when explorers should show their static fallback (``GDCOURSE_STATIC=1``)."""
    return os.environ.get("GDCOURSE_STATIC", "") == "1"


@dataclass(frozen=True)
class Control:
    """A control's description: ``kind`` is "log" (log slider), "float", "int" or "choice"."""

    kind: str
    value: Any
    low: Any = None
    high: Any = None
    options: Sequence[Any] = ()
    description: str = ""

    def check(self, name: str, value: Any) -> Any:
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{name} must be one of {list(self.options)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not (self.low <= value <= self.high):
            raise ValueError(f"{name} must be in [{self.low}, {self.high}], got {value!r}")
        return int(value) if self.kind == "int" else float(value)


class Explorer:
    """A figure driven by named controls; subclasses implement ``_draw(values)``.

    ``figure`` is created once; :meth:`update` changes some control values, validates them and
    redraws the same Figure in place. ``static_values`` lists the control settings shown as
    small multiples by the static fallback.
    """

    title = "explorer"

    def __init__(self, specs: dict[str, Control], static_values: Sequence[dict], *,
                 static: bool | None = None, figsize=(9.0, 3.8)) -> None:
        self.specs = specs
        self.values = {name: spec.value for name, spec in specs.items()}
        self.static_values = [dict(values) for values in static_values]
        self.static = static
        self.figure, self.axes = plt.subplots(1, 2, figsize=figsize, dpi=80, layout="constrained")
        plt.close(self.figure)  # owned by the explorer: never shown by pyplot itself
        FigureCanvasAgg(self.figure)  # render without pyplot
        self._controls: dict[str, Any] | None = None
        self._image = None
        self._setup()
        self.update()
        # Lay the figure out once, then freeze the layout: re-solving the constrained layout
        # on every slider move would double the redraw time.
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")

    # -- subclass interface --------------------------------------------------------------------
    def _setup(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _draw(self, values: dict) -> str:  # pragma: no cover - overridden
        """Update the artists for ``values``; return a one-line status message."""
        raise NotImplementedError

    def describe(self, values: dict) -> str:
        return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                         for k, v in values.items())

    # -- behaviour -----------------------------------------------------------------------------
    def update(self, **changes: Any) -> Explorer:
        """Set control values (validated), rerun and redraw the same figure in place."""
        for name, value in changes.items():
            if name not in self.specs:
                raise ValueError(f"unknown control {name!r}; controls are {list(self.specs)}")
            self.values[name] = self.specs[name].check(name, value)
        self.status = self._draw(dict(self.values))
        self.figure.suptitle(self.status, fontsize=10)
        if self._image is not None:
            self._image.value = self.render_png()
        return self

    def render_png(self) -> bytes:
        """The current figure as PNG bytes (fast compression: this runs on every update)."""
        from PIL import Image

        self.figure.canvas.draw()
        pixels = np.asarray(self.figure.canvas.buffer_rgba())[..., :3]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    @property
    def controls(self) -> dict[str, Any]:
        """The ipywidgets controls by name (built on first use); changing one calls update."""
        if self._controls is None:
            import ipywidgets as widgets

            controls = {}
            for name, spec in self.specs.items():
                description = spec.description or name
                if spec.kind == "log":
                    control = widgets.FloatLogSlider(
                        value=spec.value, base=10, min=np.log10(spec.low),
                        max=np.log10(spec.high), step=0.05, description=description,
                        continuous_update=False, readout_format=".3g")
                elif spec.kind == "float":
                    control = widgets.FloatSlider(value=spec.value, min=spec.low, max=spec.high,
                                                  step=(spec.high - spec.low) / 100,
                                                  description=description,
                                                  continuous_update=False)
                elif spec.kind == "int":
                    control = widgets.IntSlider(value=spec.value, min=spec.low, max=spec.high,
                                                description=description, continuous_update=False)
                else:
                    control = widgets.Dropdown(options=list(spec.options), value=spec.value,
                                               description=description)
                control.observe(lambda change, name=name: self.update(**{name: change["new"]}),
                                names="value")
                controls[name] = control
            self._controls = controls
        return self._controls

    @property
    def widget(self):
        """The live widget: the controls above an image of the figure."""
        import ipywidgets as widgets

        if self._image is None:
            self._image = widgets.Image(value=self.render_png(), format="png")
        return widgets.VBox([widgets.HBox(list(self.controls.values()),
                                          layout=widgets.Layout(flex_flow="row wrap")),
                             self._image])

    def static_figure(self):
        """Small multiples of the figure over ``static_values`` (one row each)."""
        rows = len(self.static_values)
        width, height = self.figure.get_size_inches()
        fig, grid = plt.subplots(rows, 1, figsize=(width, height * rows * 0.95),
                                 layout="constrained")
        plt.close(fig)
        saved = dict(self.values)
        for axis, values in zip(np.atleast_1d(grid), self.static_values, strict=True):
            self.update(**values)
            axis.imshow(plt.imread(io.BytesIO(self.render_png()), format="png"))
            axis.set_axis_off()
        self.update(**saved)
        return fig

    def alt_text(self) -> str:
        """Alt text of the static fallback."""
        settings = "; ".join(self.describe(values) for values in self.static_values)
        return (f"{self.title}, shown for {len(self.static_values)} settings ({settings}). "
                + " ".join(self.messages_for_static()))

    def messages_for_static(self) -> list[str]:
        saved = dict(self.values)
        messages = [self.update(**values).status for values in self.static_values]
        self.update(**saved)
        return messages

    def static_html(self) -> str:
        """The static fallback as an HTML ``<img>`` with alt text (self-contained)."""
        fig = self.static_figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=72)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt_text())}" '
                f'style="max-width:100%"/>')

    def _use_static(self) -> bool:
        return is_static() if self.static is None else bool(self.static)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """What Jupyter displays: the static fallback's HTML, or the live widget's view."""
        if self._use_static():
            return {"text/html": self.static_html(), "text/plain": f"<{self.title}>"}
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)


# ------------------------------------------------------------------------------------------------
# Learning-rate explorer (1-D)
# ------------------------------------------------------------------------------------------------


class LearningRateExplorer(Explorer):
    """Gradient descent on a 1-D loss: the path on the curve and the loss per step."""

    title = "Learning-rate explorer"

    def __init__(self, loss=None, *, lr: float = 0.1, x0: float | None = None, steps: int = 30,
                 static_lrs: Sequence[float] | None = None, static: bool | None = None) -> None:
        self.loss = losses_module.Parabola() if loss is None else loss
        if getattr(self.loss, "dim", None) != 1:
            raise ValueError("lr_explorer needs a 1-D loss such as Parabola() or MultiMinimum()")
        (low, high), = self.loss.window
        x0 = float(self.loss.default_start if x0 is None else x0)
        bound = 2.0 / self.loss.lipschitz if hasattr(self.loss, "lipschitz") else None
        if static_lrs is None:
            static_lrs = [0.05, 0.5, 1.5, 2.05] if bound == 2.0 else [0.01, 0.1, 0.5]
        specs = {
            "lr": Control("log", lr, 1e-3, 3.0, description="lr"),
            "x0": Control("float", x0, low, high, description="start x₀"),
            "steps": Control("int", steps, 1, 100, description="steps"),
        }
        super().__init__(specs, [{"lr": v} for v in static_lrs], static=static)

    def _setup(self) -> None:
        curve_ax, loss_ax = self.axes
        (low, high), = self.loss.window
        xs = np.linspace(low, high, 400)
        self.curve, = curve_ax.plot(xs, self.loss.values(xs), color="0.35", linewidth=2)
        spec = style(0)
        self.path, = curve_ax.plot([], [], color=spec["color"], marker="o", markersize=4,
                                   linestyle=":", linewidth=1)
        self.start, = curve_ax.plot([], [], marker="o", markersize=9, markerfacecolor="white",
                                    markeredgecolor=spec["color"], linestyle="none")
        curve_ax.set(xlabel="parameter $x$", ylabel="loss $L(x)$", title=self.loss.name)
        self.loss_line, = loss_ax.plot([], [], color=spec["color"], marker="o", markersize=3)
        loss_ax.set(xlabel="step", ylabel="loss (log scale)", yscale="log",
                    title="loss per step")

    def run(self, values: dict):
        optimizer = GD(lr=values["lr"])
        return minimize(self.loss, values["x0"], optimizer, values["steps"])

    def _draw(self, values: dict) -> str:
        trajectory = self.run(values)
        points = trajectory.params
        self.path.set_data(points, trajectory.losses)
        self.start.set_data([points[0]], [trajectory.losses[0]])
        self.loss_line.set_data(np.arange(len(points)), np.maximum(trajectory.losses, 1e-300))
        curve_ax, loss_ax = self.axes
        (low, high), = self.loss.window
        span_low, span_high = min(low, points.min()), max(high, points.max())
        xs = np.linspace(span_low, span_high, 400)
        self.curve.set_data(xs, self.loss.values(xs))
        for axis in self.axes:
            axis.relim()
            axis.autoscale_view()
        self.trajectory = trajectory
        if trajectory.diverged:
            return f"lr = {values['lr']:.3g}: diverged at step {trajectory.diverged_at}"
        return (f"lr = {values['lr']:.3g}: after {trajectory.steps} steps x = "
                f"{trajectory.final_params:.4g}, loss = {trajectory.final_loss:.3g}")


def lr_explorer(loss=None, **kwargs) -> LearningRateExplorer:
    """Explore gradient descent's learning rate on a 1-D loss (default ½(x − 4)²)."""
    return LearningRateExplorer(loss, **kwargs)


# ------------------------------------------------------------------------------------------------
# Optimizer comparison (2-D)
# ------------------------------------------------------------------------------------------------


class ComparisonExplorer(Explorer):
    """Several optimizers on one 2-D loss: paths on the contour map and loss curves."""

    title = "Optimizer comparison"

    def __init__(self, loss: str = "rosenbrock", optimizers: Sequence[str] = ("gd", "momentum",
                 "adam"), *, steps: int = 200, lrs: dict[str, float] | None = None,
                 static: bool | None = None) -> None:
        if isinstance(optimizers, str) or not optimizers:
            raise ValueError("optimizers must be a non-empty list of names such as ['gd', 'adam']")
        names = [name.lower() for name in optimizers]
        for name in names:
            if name not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
        if len(set(names)) != len(names) or len(names) > len(OKABE_ITO):
            raise ValueError("optimizers must be distinct, at most 8")
        if loss not in LOSSES_2D:
            raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES_2D)}")
        self.names = names
        lrs = {**DEFAULT_LR, **(lrs or {})}
        specs = {"loss": Control("choice", loss, options=tuple(LOSSES_2D), description="loss"),
                 "steps": Control("int", steps, 10, 1000, description="steps")}
        for name in names:
            specs[f"lr_{name}"] = Control("log", lrs[name], 1e-4, 3.0, description=f"lr {name}")
        static_values = [{"loss": key} for key in ("rosenbrock", "beale", "saddle")]
        self._contoured = None
        super().__init__(specs, static_values, static=static, figsize=(9.5, 4.0))

    def _setup(self) -> None:
        map_ax, loss_ax = self.axes
        self.lines, self.heads, self.loss_lines = [], [], []
        for index, name in enumerate(self.names):
            spec = style(index)
            line, = map_ax.plot([], [], color=spec["color"], linestyle=spec["linestyle"],
                                linewidth=1.8, label=name, zorder=3)
            head, = map_ax.plot([], [], marker=spec["marker"], color=spec["color"], markersize=8,
                                linestyle="none", zorder=4)
            curve, = loss_ax.plot([], [], color=spec["color"], linestyle=spec["linestyle"],
                                  label=name)
            self.lines.append(line)
            self.heads.append(head)
            self.loss_lines.append(curve)
        self.markers, = map_ax.plot([], [], marker="*", markersize=14, color="black",
                                    linestyle="none", zorder=5)
        map_ax.legend(loc="upper right", fontsize=8)
        loss_ax.set(xlabel="step")
        loss_ax.legend(fontsize=8)

    def _contour(self, name: str) -> None:
        """Draw the contour map once per loss (not on every slider move)."""
        if self._contoured == name:
            return
        map_ax = self.axes[0]
        for artist in list(map_ax.collections):
            artist.remove()
        self.loss = LOSSES_2D[name]()
        (x0, x1), (y0, y1) = self.loss.window
        _draw_contours(map_ax, self.loss, self.loss.window, resolution=120, levels=20)
        minima = np.array(self.loss.minimizers or self.loss.saddle_points)
        self.markers.set_data(minima[:, 0], minima[:, 1])
        self.markers.set_marker("*" if self.loss.minimizers else "X")  # X: a saddle point
        bounded = self.loss.minimum_value is not None
        self.axes[1].set_yscale("log" if bounded else "linear")
        self.axes[1].set_ylabel("loss − minimum (log scale)" if bounded else "loss")
        map_ax.set(xlim=(x0, x1), ylim=(y0, y1), title=self.loss.name)
        self._contoured = name

    def _draw(self, values: dict) -> str:
        self._contour(values["loss"])
        floor = self.loss.minimum_value
        self.trajectories = []
        finals = []
        for name, line, head, curve in zip(self.names, self.lines, self.heads, self.loss_lines,
                                           strict=True):
            optimizer = get_optimizer(name, lr=values[f"lr_{name}"])
            run = minimize(self.loss, self.loss.default_start, optimizer, values["steps"])
            self.trajectories.append(run)
            line.set_data(run.params[:, 0], run.params[:, 1])
            head.set_data([run.params[-1, 0]], [run.params[-1, 1]])
            shown = run.losses if floor is None else np.maximum(run.losses - floor, 1e-16)
            curve.set_data(np.arange(len(shown)), shown)
            finals.append(f"{name}: " + (f"diverged at {run.diverged_at}" if run.diverged
                                         else f"{run.final_loss:.3g}"))
        loss_ax = self.axes[1]
        loss_ax.relim()
        loss_ax.autoscale_view()
        return f"{self.loss.name}, {values['steps']} steps — final loss " + ", ".join(finals)


def optimizer_comparison(loss: str = "rosenbrock", optimizers: Sequence[str] = ("gd", "momentum",
                         "adam"), **kwargs) -> ComparisonExplorer:
    """Race optimizers (by name) on a 2-D loss, with a learning-rate slider for each."""
    return ComparisonExplorer(loss, optimizers, **kwargs)


# ------------------------------------------------------------------------------------------------
# Batch-size explorer
# ------------------------------------------------------------------------------------------------


class BatchSizeExplorer(Explorer):
    """Mini-batch GD on linear regression: the path in (slope, intercept) and the loss against
    per-sample gradient evaluations, beside batch GD for reference."""

    title = "Batch-size explorer"

    def __init__(self, problem: LinearRegression | None = None, *, batch_size: int = 8,
                 lr: float = 0.1, epochs: int = 5, seed: int = 0,
                 static: bool | None = None) -> None:
        self.problem = LinearRegression(*linear_data(256, seed=0)) if problem is None else problem
        n = self.problem.n_samples
        specs = {"batch_size": Control("int", batch_size, 1, n, description="batch size"),
                 "lr": Control("log", lr, 1e-3, 1.0, description="lr"),
                 "epochs": Control("int", epochs, 1, 30, description="epochs"),
                 "seed": Control("int", seed, 0, 99, description="seed")}
        static_values = [{"batch_size": b} for b in (1, min(16, n), n)]
        super().__init__(specs, static_values, static=static)

    def _setup(self) -> None:
        path_ax, loss_ax = self.axes
        solution = self.problem.solution()
        start = self.problem.default_start
        radius = 1.3 * np.max(np.abs(solution - start))
        window = ((solution[0] - radius, solution[0] + radius),
                  (solution[1] - radius, solution[1] + radius))

        class _FullLoss:
            minimum_value = self.problem.loss(solution)

            def values(_, points):
                flat = points.reshape(-1, 2)
                return np.array([self.problem.loss(p) for p in flat]).reshape(points.shape[:-1])

        _draw_contours(path_ax, _FullLoss(), window, resolution=60, levels=15)
        path_ax.plot(*solution, marker="*", markersize=14, color="black", linestyle="none")
        path_ax.set(xlim=window[0], ylim=window[1], xlabel="slope $w_0$",
                    ylabel="intercept $w_1$", title="parameter path")
        reference, chosen = style(7), style(0)
        self.reference_path, = path_ax.plot([], [], color=reference["color"], linestyle="--",
                                            label="batch GD")
        self.path, = path_ax.plot([], [], color=chosen["color"], linewidth=1, label="chosen")
        path_ax.legend(fontsize=8, loc="upper left")
        self.reference_curve, = loss_ax.plot([], [], color=reference["color"], linestyle="--",
                                             label="batch GD")
        self.curve, = loss_ax.plot([], [], color=chosen["color"], linewidth=1, label="chosen")
        loss_ax.set(xlabel="per-sample gradient evaluations", ylabel="batch loss (log scale)",
                    yscale="log", title="loss against work done")
        loss_ax.legend(fontsize=8)

    def _draw(self, values: dict) -> str:
        n = self.problem.n_samples
        kwargs = {"epochs": values["epochs"], "seed": values["seed"]}
        start = self.problem.default_start
        history = train(self.problem, start, GD(lr=values["lr"]), values["batch_size"], **kwargs)
        reference = train(self.problem, start, GD(lr=values["lr"]), n, **kwargs)
        self.history = history
        self.path.set_data(history.params[:, 0], history.params[:, 1])
        self.reference_path.set_data(reference.params[:, 0], reference.params[:, 1])
        self.curve.set_data(history.grad_evals[1:], history.update_losses)
        self.reference_curve.set_data(reference.grad_evals[1:], reference.update_losses)
        loss_ax = self.axes[1]
        loss_ax.relim()
        loss_ax.autoscale_view()
        if history.diverged:
            return f"{history.label}, lr = {values['lr']:.3g}: diverged at update {history.diverged_at}"
        return (f"{history.label}: {history.updates} updates in {values['epochs']} epochs, "
                f"final loss {history.final_loss:.4g} (batch GD: {reference.final_loss:.4g})")


def batch_size_explorer(problem: LinearRegression | None = None, **kwargs) -> BatchSizeExplorer:
    """Compare batch, mini-batch and stochastic GD on linear regression by batch size."""
    return BatchSizeExplorer(problem, **kwargs)


# ------------------------------------------------------------------------------------------------
# Momentum explorer
# ------------------------------------------------------------------------------------------------


class MomentumExplorer(Explorer):
    """Momentum against plain GD on an ill-conditioned quadratic."""

    title = "Momentum explorer"

    def __init__(self, condition_number: float = 25.0, *, lr: float = 0.035,
                 momentum: float = 0.7, steps: int = 60, static: bool | None = None) -> None:
        self.loss = losses_module.Quadratic.ill_conditioned(condition_number)
        bound = 2.0 / self.loss.lipschitz
        specs = {"lr": Control("log", min(lr, 2 * bound), 1e-3, 2 * bound, description="lr"),
                 "momentum": Control("float", momentum, 0.0, 0.99, description="β"),
                 "steps": Control("int", steps, 5, 300, description="steps")}
        static_values = [{"momentum": m} for m in (0.0, 0.5, 0.9)]
        super().__init__(specs, static_values, static=static)

    def _setup(self) -> None:
        map_ax, loss_ax = self.axes
        _draw_contours(map_ax, self.loss, self.loss.window, resolution=100, levels=15)
        (x0, x1), (y0, y1) = self.loss.window
        map_ax.plot(*self.loss.minimizer, marker="*", markersize=14, color="black",
                    linestyle="none")
        map_ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$\\theta_1$", ylabel="$\\theta_2$",
                   title=f"quadratic, condition number {self.loss.condition_number:g}")
        gd, momentum = style(1), style(0)
        self.gd_path, = map_ax.plot([], [], color=gd["color"], linestyle="--", marker="s",
                                    markersize=3, label="GD")
        self.path, = map_ax.plot([], [], color=momentum["color"], marker="o", markersize=3,
                                 label="momentum")
        map_ax.legend(fontsize=8)
        self.gd_curve, = loss_ax.plot([], [], color=gd["color"], linestyle="--", label="GD")
        self.curve, = loss_ax.plot([], [], color=momentum["color"], label="momentum")
        loss_ax.set(xlabel="step", ylabel="loss (log scale)", yscale="log", title="loss per step")
        loss_ax.legend(fontsize=8)

    def _draw(self, values: dict) -> str:
        start = self.loss.default_start
        runs = []
        for optimizer, path, curve in (
            (GD(lr=values["lr"]), self.gd_path, self.gd_curve),
            (Momentum(lr=values["lr"], momentum=values["momentum"]), self.path, self.curve),
        ):
            run = minimize(self.loss, start, optimizer, values["steps"])
            path.set_data(run.params[:, 0], run.params[:, 1])
            curve.set_data(np.arange(len(run.losses)), np.maximum(run.losses, 1e-300))
            runs.append(run)
        self.trajectories = runs
        loss_ax = self.axes[1]
        loss_ax.relim()
        loss_ax.autoscale_view()
        gd, momentum = runs
        return (f"lr = {values['lr']:.3g}, β = {values['momentum']:.2f}: loss after "
                f"{values['steps']} steps — GD "
                + (f"diverged at {gd.diverged_at}" if gd.diverged else f"{gd.final_loss:.3g}")
                + ", momentum "
                + (f"diverged at {momentum.diverged_at}" if momentum.diverged
                   else f"{momentum.final_loss:.3g}"))


def momentum_explorer(condition_number: float = 25.0, **kwargs) -> MomentumExplorer:
    """Explore lr and β of momentum on an ill-conditioned quadratic, beside plain GD."""
    return MomentumExplorer(condition_number, **kwargs)

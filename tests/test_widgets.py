"""Widgets driven headless: a control change redraws the same figure with the new run."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from gdcourse.data import LinearRegression, linear_data
from gdcourse.losses import MultiMinimum, Parabola, Quadratic, Rosenbrock
from gdcourse.optim import GD, Adam, Momentum, Nesterov
from gdcourse.run import minimize, train
from gdcourse.widgets import (
    batch_size_explorer,
    is_static,
    lr_explorer,
    momentum_explorer,
    optimizer_comparison,
)

EXPLORERS = [lr_explorer, optimizer_comparison, batch_size_explorer, momentum_explorer]


@pytest.fixture(autouse=True)
def _no_figures_left():
    plt.close("all")
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------------
# learning-rate explorer


def test_lr_explorer_slider_reruns_and_updates_in_place():
    explorer = lr_explorer(static=False)
    figure, path, loss_line = explorer.figure, explorer.path, explorer.loss_line
    explorer.controls["lr"].value = 0.5  # through the real ipywidgets observer
    expected = minimize(Parabola(), 14.0, GD(lr=0.5), 30)
    assert explorer.figure is figure
    assert explorer.path is path
    assert explorer.loss_line is loss_line
    np.testing.assert_array_equal(path.get_xdata(), expected.params)
    np.testing.assert_array_equal(path.get_ydata(), expected.losses)
    np.testing.assert_array_equal(loss_line.get_ydata(), np.maximum(expected.losses, 1e-16))
    np.testing.assert_array_equal(explorer.start.get_xydata(), [[14.0, 50.0]])
    assert explorer.status.startswith("lr = 0.5: after 30 steps x = 4,")
    assert not explorer.warning.get_visible()
    explorer.controls["lr"].value = 2.5
    assert explorer.status == "lr = 2.5: diverged at step 29 (stable only for lr < 2/L = 2)"
    assert explorer.warning.get_visible()
    assert explorer.warning.get_text() == "diverged at step 29"
    assert len(path.get_xdata()) == 29
    assert np.all(np.isfinite(path.get_xdata()))
    # the curve and the limits follow the run out of the loss's window
    assert explorer.axes[0].get_xlim()[1] >= path.get_xdata().max()
    assert explorer.figure.texts[0].get_text() == explorer.status  # the status line
    assert plt.get_fignums() == []  # the explorer never goes through pyplot


def test_lr_explorer_says_when_the_loss_grows_before_divergence_is_detected():
    explorer = lr_explorer(static=True).update(lr=2.05)
    run = explorer.trajectory
    assert not run.diverged
    assert run.losses[-1] > run.losses[0]
    assert explorer.status == ("lr = 2.05: the loss grew from 50 to 934 in 30 steps "
                               "(stable only for lr < 2/L = 2)")
    assert explorer.warning.get_visible()


def test_code_updates_move_the_sliders_and_the_image():
    explorer = lr_explorer(static=False)
    image = explorer.widget.children[1]
    before = bytes(image.value)
    calls = []
    original = explorer._draw
    explorer._draw = lambda values: calls.append(values) or original(values)
    explorer.update(lr=0.3, steps=12)
    assert calls == [{"lr": 0.3, "x0": 14.0, "steps": 12}]  # one rerun, not one per control
    assert explorer.controls["lr"].value == pytest.approx(0.3)
    assert explorer.controls["steps"].value == 12
    assert bytes(image.value) != before
    assert bytes(image.value).startswith(b"\x89PNG")
    # the status line is text under the image, not pixels in it
    status = explorer.widget.children[2]
    assert status.value.endswith(f"{explorer.status}</span>")
    assert explorer.status.startswith("lr = 0.3: after 12 steps")
    width, height = Image.open(io.BytesIO(bytes(image.value))).size
    assert width == explorer.figure.bbox.width and height < explorer.figure.bbox.height - 10
    assert explorer._suptitle.get_visible()  # the figure itself keeps it (static view, savefig)
    explorer.controls["steps"].value = 5
    assert len(calls) == 2
    assert len(explorer.path.get_xdata()) == 6


def test_lr_explorer_on_a_loss_below_zero_and_errors():
    loss = MultiMinimum()
    explorer = lr_explorer(loss, lr=0.05, steps=100)
    expected = minimize(loss, loss.default_start, GD(lr=0.05), 100)
    np.testing.assert_array_equal(explorer.path.get_xdata(), expected.params)
    # the minimum value is negative: the log axis shows the loss above it
    shown = explorer.loss_line.get_ydata()
    np.testing.assert_allclose(shown, np.maximum(expected.losses - loss.minimum_value, 1e-15))
    assert np.all(shown > 0)
    assert explorer.axes[1].get_yscale() == "log"
    with pytest.raises(ValueError, match="1-D loss"):
        lr_explorer(Rosenbrock())
    with pytest.raises(ValueError, match=r"lr must be in \[0.001, 3\], got 10.0"):
        explorer.update(lr=10.0)
    with pytest.raises(ValueError, match="unknown control 'beta'"):
        explorer.update(beta=0.5)
    with pytest.raises(TypeError, match="steps must be a number"):
        explorer.update(steps="many")
    with pytest.raises(ValueError, match="steps must be a whole number"):
        explorer.update(steps=2.5)
    with pytest.raises(ValueError, match="lr must be in"):
        lr_explorer(lr=100.0)
    np.testing.assert_array_equal(explorer.path.get_xdata(), expected.params)  # unchanged


def test_lr_range_and_static_lrs_follow_the_curvature():
    explorer = lr_explorer(Parabola(curvature=10.0), lr=0.05)
    assert explorer.specs["lr"].high == pytest.approx(0.3)
    assert [v["lr"] for v in explorer.static_values] == pytest.approx([0.005, 0.05, 0.15, 0.205])


# --------------------------------------------------------------------------------------------
# optimizer comparison


def test_comparison_changes_learning_rates_momentum_and_loss():
    explorer = optimizer_comparison("rosenbrock", ["gd", "nesterov", "adam"], steps=50,
                                    static=False)
    figure, lines = explorer.figure, list(explorer.lines)
    explorer.controls["lr_adam"].value = 0.1
    loss = explorer.loss
    expected = minimize(loss, loss.default_start, Adam(lr=explorer.values["lr_adam"]), 50)
    np.testing.assert_array_equal(explorer.lines[2].get_xydata(), expected.params)
    np.testing.assert_array_equal(explorer.heads[2].get_xydata(), expected.params[-1:])
    np.testing.assert_array_equal(explorer.loss_lines[2].get_ydata(),
                                  np.maximum(expected.losses, 1e-16))
    explorer.controls["momentum_nesterov"].value = 0.5
    expected = minimize(loss, loss.default_start, Nesterov(lr=1e-3, momentum=0.5), 50)
    np.testing.assert_array_equal(explorer.lines[1].get_xydata(), expected.params)
    assert explorer.trajectories[1].optimizer == Nesterov(lr=1e-3, momentum=0.5)
    contours = list(explorer.axes[0].collections)
    explorer.controls["loss"].value = "beale"
    assert explorer.loss.name == "Beale"
    assert explorer.figure is figure
    assert explorer.lines == lines
    assert not set(map(id, contours)) & set(map(id, explorer.axes[0].collections))  # redrawn
    assert explorer.axes[0].get_xlim() == explorer.loss.window[0]
    expected = minimize(explorer.loss, explorer.loss.default_start, GD(lr=1e-3), 50)
    np.testing.assert_array_equal(explorer.lines[0].get_ydata(), expected.params[:, 1])
    np.testing.assert_array_equal(explorer.start.get_xydata(), [explorer.loss.default_start])
    contours = list(explorer.axes[0].collections)
    explorer.update(steps=30)  # same loss: the contour map is not redrawn
    assert list(explorer.axes[0].collections) == contours
    assert explorer.status.startswith("Beale, 30 steps: final loss gd ")


def test_comparison_takes_a_loss_object_and_fixed_hyperparameters():
    loss = Quadratic.ill_conditioned(5.0)
    explorer = optimizer_comparison(loss, ["adam", "momentum"], steps=20,
                                    lrs={"adam": 0.2},
                                    hyperparameters={"adam": {"betas": (0.8, 0.99)},
                                                     "momentum": {"momentum": 0.6}})
    assert explorer.values["loss"] == "quadratic"
    assert explorer.loss is loss
    assert explorer.values["momentum_momentum"] == 0.6
    adam, momentum = explorer.trajectories
    assert adam.optimizer == Adam(lr=0.2, betas=(0.8, 0.99))
    assert momentum.optimizer == Momentum(lr=1e-3, momentum=0.6)
    expected = minimize(loss, loss.default_start, Adam(lr=0.2, betas=(0.8, 0.99)), 20)
    np.testing.assert_array_equal(explorer.lines[0].get_xydata(), expected.params)
    assert explorer.static_values[0] == {"loss": "quadratic"}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [(("rosenbrock", ["sgd"]), {}, "unknown optimizer 'sgd'; choose from gd, momentum, nesterov"),
     (("rosenbrock", []), {}, "non-empty"),
     (("rosenbrock", "adam"), {}, "non-empty list of names"),
     (("rosenbrock", ["adam", "Adam"]), {}, "distinct"),
     (("moon", ["gd"]), {}, "unknown loss 'moon'; choose from rosenbrock"),
     ((Parabola(), ["gd"]), {}, "needs a 2-D loss"),
     (("rosenbrock", ["gd"]), {"hyperparameters": {"adam": {}}}, "not in the race"),
     (("rosenbrock", ["gd"]), {"lrs": {"gd": 10.0}}, r"lr_gd must be in \[0.0001, 3\]"),
     (("rosenbrock", ["adam"]), {"hyperparameters": {"adam": {"eps": -1.0}}}, "eps")],
)
def test_comparison_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizer_comparison(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# batch-size explorer


def test_batch_size_explorer_plots_full_loss_against_work():
    explorer = batch_size_explorer(static=False)
    figure = explorer.figure
    explorer.controls["batch_size"].value = 32
    problem = LinearRegression(*linear_data(256, seed=0))
    history = train(problem, problem.default_start, GD(lr=0.1), 32, epochs=5, seed=0)
    assert explorer.history.batch_size == 32
    assert explorer.history.updates == 8 * 5
    np.testing.assert_array_equal(explorer.path.get_xydata(), history.params)
    np.testing.assert_array_equal(explorer.curve.get_xdata(), history.grad_evals)
    minimum = problem.loss(problem.solution())
    expected = [problem.loss(p) - minimum for p in history.params]
    np.testing.assert_allclose(explorer.curve.get_ydata(), expected, rtol=1e-9, atol=1e-15)
    reference = train(problem, problem.default_start, GD(lr=0.1), 256, epochs=5, seed=0)
    np.testing.assert_array_equal(explorer.reference_path.get_xydata(), reference.params)
    assert explorer.axes[1].get_legend().get_texts()[0].get_text() == "mini-batch (32)"
    explorer.update(seed=3, batch_size=1)
    assert explorer.history.label == "SGD"
    assert explorer.history.seed == 3
    assert explorer.figure is figure
    assert explorer.status.startswith("SGD, lr = 0.1: 1280 updates of 1 sample in 5 epochs")
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, 256\]"):
        explorer.update(batch_size=1000)


def test_batch_size_explorer_reports_divergence():
    explorer = batch_size_explorer(lr=1.0, batch_size=1, epochs=1)
    assert explorer.history.diverged
    assert explorer.status == f"SGD, lr = 1: diverged at update {explorer.history.diverged_at}"
    assert np.all(np.isfinite(explorer.path.get_xydata()))


# --------------------------------------------------------------------------------------------
# momentum explorer


def test_momentum_explorer_shows_the_zig_zag_and_updates():
    explorer = momentum_explorer(static=False)
    loss = explorer.loss
    assert explorer.values["lr"] == pytest.approx(0.875 * 2 / loss.lipschitz)
    # plain GD zig-zags across the valley: the steep coordinate changes sign at every step
    steep = explorer.gd_path.get_ydata()[1:12]
    assert np.all(np.sign(steep[1:]) == -np.sign(steep[:-1]))
    explorer.controls["momentum"].value = 0.9
    gd, _momentum = explorer.trajectories
    expected = minimize(loss, loss.default_start, Momentum(lr=explorer.values["lr"], momentum=0.9),
                        explorer.values["steps"])
    np.testing.assert_array_equal(explorer.path.get_xydata(), expected.params)
    np.testing.assert_array_equal(explorer.curve.get_ydata(), np.maximum(expected.losses, 1e-16))
    assert gd.optimizer == GD(lr=explorer.values["lr"])
    explorer.update(momentum=0.5)
    assert explorer.trajectories[1].final_loss < 1e-3 * explorer.trajectories[0].final_loss


# --------------------------------------------------------------------------------------------
# static fallback and display


def decode_img(html: str) -> Image.Image:
    data = re.search(r'<img src="data:image/png;base64,([^"]+)"', html).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data)))


@pytest.mark.slow  # renders every small multiple of each explorer
@pytest.mark.parametrize("make", EXPLORERS)
def test_static_fallback_renders_small_multiples_with_alt_text(make):
    explorer = make()
    values_before, status_before = dict(explorer.values), explorer.status
    data_before = explorer.figure.axes[0].get_lines()[-1].get_xydata().copy()
    html = explorer.static_html()
    image = decode_img(html)
    width, height = explorer.figure.canvas.get_width_height()
    rows = len(explorer.static_values)
    assert rows >= 3
    assert image.size == (width, rows * height + (rows - 1) * 9)
    alt = re.search(r'alt="([^"]+)"', html).group(1)
    assert alt.startswith(explorer.title)
    assert alt.count("Row ") == rows
    assert "Binder" in html
    # the fallback leaves the live state alone
    assert explorer.values == values_before
    assert explorer.status == status_before
    np.testing.assert_array_equal(explorer.figure.axes[0].get_lines()[-1].get_xydata(),
                                  data_before)
    figure = explorer.static_figure()
    assert isinstance(figure, Figure)
    assert figure.gdcourse_alt_text == explorer.alt_text()
    assert plt.get_fignums() == []


def test_static_rows_show_the_static_values():
    explorer = lr_explorer()
    alt = explorer.alt_text()
    for lr in (0.05, 0.5, 1.5):
        run = minimize(Parabola(), 14.0, GD(lr=lr), 30)
        assert f"lr = {lr:g}: after 30 steps x = {run.final_params:.4g}" in alt
    assert "lr = 2.05: the loss grew" in alt


@pytest.mark.slow  # builds the lr explorer's interactive view twice (seconds)
def test_display_gives_fallback_or_live_view(monkeypatch):
    explorer = lr_explorer()
    monkeypatch.setenv("GDCOURSE_STATIC", "1")
    assert is_static()
    static = explorer._repr_mimebundle_()
    assert set(static) == {"text/html", "text/plain"}
    assert "<img" in static["text/html"]
    assert 'alt="Learning-rate explorer' in static["text/html"]
    monkeypatch.setenv("GDCOURSE_STATIC", "0")
    assert not is_static()
    live = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live
    assert explorer._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"] == (
        live["application/vnd.jupyter.widget-view+json"])  # one view, not one per display
    monkeypatch.setenv("GDCOURSE_STATIC", "1")
    forced = lr_explorer(static=False)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in forced
    monkeypatch.delenv("GDCOURSE_STATIC")
    assert "<img" in lr_explorer(static=True)._repr_mimebundle_()["text/html"]


@pytest.mark.slow  # builds the momentum explorer's interactive view (seconds)
def test_without_ipywidgets_the_fallback_is_shown(monkeypatch):
    import sys

    explorer = momentum_explorer(static=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    bundle = explorer._repr_mimebundle_()
    assert "<img" in bundle["text/html"]


def test_alt_text_follows_the_current_settings():
    explorer = lr_explorer()
    assert "after 30 steps" in explorer.alt_text()
    explorer.update(steps=12)
    assert "after 12 steps" in explorer.alt_text()
    assert "after 30 steps" not in explorer.alt_text()


# --------------------------------------------------------------------------------------------
# drawing by blitting: the background is kept while the view stays, the picture is the same


def full_draw(explorer) -> np.ndarray:
    """The figure drawn the ordinary way, every artist in its place (then forgotten)."""
    for artist in explorer._moving_artists():
        artist.set_animated(False)
    explorer.figure.canvas.draw()
    pixels = np.asarray(explorer.figure.canvas.buffer_rgba())[..., :3].copy()
    explorer._background_view = None
    return pixels


def counting_draws(explorer) -> list:
    calls = []
    canvas = explorer.figure.canvas
    draw = canvas.draw
    canvas.draw = lambda *args, **kwargs: (calls.append(1), draw(*args, **kwargs))[1]
    return calls


DRAGS = [(lr_explorer, "lr", [0.100, 0.101, 0.102, 0.5]),
         (optimizer_comparison, "lr_adam", [0.050, 0.051, 0.052, 0.5]),
         (batch_size_explorer, "batch_size", [16, 17, 18, 1]),
         (momentum_explorer, "momentum", [0.900, 0.901, 0.902, 0.2])]


@pytest.mark.slow  # a drag and a full draw of every explorer
@pytest.mark.parametrize(("make", "control", "values"), DRAGS,
                         ids=[make.__name__ for make, *_ in DRAGS])
def test_a_drag_redraws_only_what_moves_and_looks_like_a_full_draw(make, control, values):
    explorer = make(static=False)
    explorer.update(**{control: values[0]})
    explorer._pixels()
    draws = counting_draws(explorer)
    pictures = []
    for value in values:
        explorer.update(**{control: value})
        pictures.append(explorer._pixels())
        assert explorer._pixels().tobytes() == pictures[-1].tobytes()  # idempotent
    # small moves keep the view (limits snap to whole decades): no full draw at all ...
    assert len(draws) <= 1, "a small slider move redrew the whole figure"
    # ... yet the picture follows the moving artists
    assert pictures[0].tobytes() != pictures[-1].tobytes()
    # and each picture matches a full draw of the same state, up to where a moving line
    # crosses an axis frame (drawn over it, not under it)
    blitted = explorer._pixels()
    reference = full_draw(explorer)
    assert blitted.shape == reference.shape
    assert np.mean(np.any(blitted != reference, axis=-1)) < 2e-3


def test_the_figure_still_saves_whole_after_blitting(tmp_path):
    explorer = lr_explorer(static=False)
    explorer.update(lr=0.3)
    blitted = explorer._pixels()
    explorer.figure.savefig(tmp_path / "saved.png", dpi=explorer.figure.dpi)
    saved = np.asarray(Image.open(tmp_path / "saved.png").convert("RGB"))
    assert saved.shape == blitted.shape
    assert np.mean(np.any(saved != blitted, axis=-1)) < 2e-3  # the path and status included


def test_a_new_view_redraws_the_background():
    explorer = optimizer_comparison(static=False)
    explorer._pixels()
    draws = counting_draws(explorer)
    rosenbrock = explorer._pixels()
    explorer.update(loss="beale")  # a new contour map and new limits
    beale = explorer._pixels()
    assert len(draws) == 1
    assert np.mean(np.any(rosenbrock != beale, axis=-1)) > 0.2  # the map itself changed
    assert np.mean(np.any(beale != full_draw(explorer), axis=-1)) < 2e-3


# --------------------------------------------------------------------------------------------
# the interactive static view: frames of the live picture over a grid of control values

from gdcourse.explorer_view import (  # noqa: E402
    BUDGET_BYTES,
    CLIP_PIXELS,
    PIXEL_STEPS,
    _layer_entry,
    compose,
    decode_pieces,
    decode_png,
    decode_points,
    drawn_series,
    drawn_status,
    encode_points,
)
from gdcourse.widgets import _excess  # noqa: E402

# the explorers as the chapters call them (chapters 3, 4, 6 and 9)
BOOK_EXPLORERS = {
    "lr": lr_explorer,
    "batch": lambda **kw: batch_size_explorer(LinearRegression(*linear_data(256, seed=0)),
                                              lr=0.1, **kw),
    "momentum": lambda **kw: momentum_explorer(25.0, lr=0.95 * 2 / 25, **kw),
    "comparison": lambda **kw: optimizer_comparison(
        "rosenbrock", ["gd", "nesterov", "rmsprop", "adam"], steps=300,
        lrs={"gd": 2e-3, "nesterov": 5e-4, "rmsprop": 0.02, "adam": 0.1}, **kw),
}
_VIEWS: dict = {}


def book_view(name: str):
    """The explorer ``name`` and its view, built once per session (a view takes seconds)."""
    if name not in _VIEWS:
        explorer = BOOK_EXPLORERS[name](static=True)
        before = (dict(explorer.values), explorer.status)
        view = explorer.interactive_view()
        assert (dict(explorer.values), explorer.status) == before  # the live state is restored
        _VIEWS[name] = explorer, view
    return _VIEWS[name]


def values_of(explorer, key: str) -> dict:
    controls = explorer.view_controls()
    return {c.name: c.values[int(i)] for c, i in zip(controls, key.split(","), strict=True)}


FRAME_VIEWS = ["lr", "batch"]  # views of frames (gdcourse.explorer_view.build_view)
DRAWN_VIEWS = ["momentum", "comparison"]  # drawn in the browser (build_drawn_view)


def start_indices(explorer, view) -> dict:
    if "frames" in view:
        return dict(zip([c.name for c in explorer.view_controls()],
                        map(int, view["start"].split(",")), strict=True))
    return dict(view["start"])


def expected_drawing(name: str, live) -> list[np.ndarray]:
    """What a drawn view must draw for the live widget's current setting, in picture pixels:
    the runs themselves (trajectories and losses), through the live widget's axes."""
    band = live._status_band()
    height = live.figure.bbox.height
    map_ax, loss_ax = live.axes

    def pixels(ax, xy):
        out = ax.transData.transform(np.asarray(xy, dtype=float))
        out[:, 1] = height - out[:, 1] - band
        return out

    def curve(run, minimum):
        shown = _excess(run.losses, minimum)
        return pixels(loss_ax, np.column_stack([np.arange(len(shown)), shown]))

    if name == "momentum":
        gd, momentum = live.trajectories
        minimum = live.loss.minimum_value
        return [pixels(map_ax, gd.params), pixels(map_ax, momentum.params),
                curve(gd, minimum), curve(momentum, minimum)]
    drawn = []
    for run in live.trajectories:
        drawn += [pixels(map_ax, run.params), pixels(map_ax, run.params[-1:]),
                  curve(run, live.loss.minimum_value)]
    return drawn


@pytest.mark.slow  # reruns every control state of each drawn view live (4-7 s per view)
@pytest.mark.parametrize("name", DRAWN_VIEWS)
def test_drawn_view_data_is_what_the_live_widget_runs(name):
    """Every drawn path and curve is the live widget's run for the same control values (to the
    stored 1/PIXEL_STEPS pixel), and the status line is the live widget's."""
    explorer, view = book_view(name)
    controls = explorer.view_controls()
    live = BOOK_EXPLORERS[name](static=False)
    live.loss_limits = explorer.view_loss_limits  # the view's fixed loss axis
    rng = np.random.default_rng(0)
    settings = [start_indices(explorer, view), {c.name: 0 for c in controls},
                {c.name: len(c.values) - 1 for c in controls}]
    settings += [{c.name: int(rng.integers(len(c.values))) for c in controls} for _ in range(6)]
    settings += diverging_settings(explorer, view)
    for indices in settings:
        live.update(**{c.name: c.values[indices[c.name]] for c in controls})
        assert drawn_status(view, indices) == live.status
        drawn = drawn_series(view, indices)
        expected = expected_drawing(name, live)
        assert len(drawn) == len(expected)
        for (style, points, _every), want in zip(drawn, expected, strict=True):
            inside = np.all(np.abs(want) <= CLIP_PIXELS, axis=1)
            if inside.all():
                assert points.shape == want.shape
                assert np.abs(points - want).max() <= 0.5 / PIXEL_STEPS + 1e-9
            else:  # a diverging run: the pieces inside the clip box, the iterates on them
                kept = want[inside]
                if not len(kept):  # wholly outside: whatever remains crosses the box
                    assert np.all(np.abs(points) <= CLIP_PIXELS)
                    continue
                assert len(points), "a run inside the picture was not drawn"
                distance = np.min(np.abs(kept[:, None, :] - points[None, :, :]).max(-1), 1)
                assert distance.max() <= 0.5 / PIXEL_STEPS + 1e-9
            assert style["clip"][2] > 0 and style["clip"][3] > 0
    # the sliders move the picture: other settings draw other data
    first, last = (drawn_series(view, s) for s in settings[1:3])
    assert any(a[1].shape != b[1].shape or not np.array_equal(a[1], b[1])
               for a, b in zip(first, last, strict=True))


def diverging_settings(explorer, view) -> list[dict]:
    """For a view with a steps slider: a run that diverges at step j shown for fewer steps
    (its loss at the last step shown) and for j steps or more ("diverged at step j"), at the
    slider's ends and around j, with β (where there is one) at its largest."""
    data = view["data"]
    if "prefix" not in data:
        return []
    controls = explorer.view_controls()
    names = [c.name for c in controls]
    steps_name = names[data["prefix"]["control"]]
    values = data["prefix"]["values"]
    start = start_indices(explorer, view)
    found = []
    for layer in data["layers"][1:]:
        layer_names = [names[i] for i in layer["controls"]]
        for key, (statuses, _refs) in reversed(layer["entries"].items()):
            if "diverged" in statuses[-1] and "diverged" not in statuses[0]:
                at = next(i for i, text in enumerate(statuses) if "diverged" in text)
                setting = {**start, **dict(zip(layer_names, map(int, key.split(",")),
                                               strict=True))}
                found += [{**setting, steps_name: i} for i in (0, at - 1, at, len(values) - 1)]
                break
    assert found, "no run of the view diverges within its steps"
    return found


@pytest.mark.slow  # builds each drawn view (the first test to ask for one: 4-8 s)
@pytest.mark.parametrize("name", DRAWN_VIEWS)
def test_drawn_view_backgrounds_are_the_live_picture(name):
    """Under the browser's paths, the page stacks a background per panel and a foreground:
    for settings of the base layer (a new loss, a new steps axis) they are the live widget's
    picture without those paths; the contour map is drawn once per loss and reused."""
    explorer, view = book_view(name)
    data = view["data"]
    controls = explorer.view_controls()
    base = [controls[i] for i in data["layers"][0]["controls"]]
    live = BOOK_EXPLORERS[name](static=False)
    live.loss_limits = explorer.view_loss_limits
    start = start_indices(explorer, view)
    settings = [start, {**start, **{c.name: 0 for c in base}},
                {**start, **{c.name: len(c.values) - 1 for c in base}},
                {**start, **{c.name: len(c.values) // 2 for c in base}}]
    drawn = ((*live.lines, *live.heads, *live.loss_lines) if name == "comparison"
             else (live.path, live.gd_path, live.curve, live.gd_curve))
    for indices in settings:
        live.update(**{c.name: c.values[indices[c.name]] for c in controls})
        for artist in drawn:
            artist.set_visible(False)
        try:
            expected = live.live_pixels()
        finally:
            for artist in drawn:
                artist.set_visible(True)
        entry, _ = _layer_entry(data, data["layers"][0], indices)
        picture = np.concatenate([decode_png(data["backgrounds"][entry[0]]),
                                  decode_png(data["backgrounds"][entry[1]])], axis=1)
        top = decode_png(data["foregrounds"][entry[2]])
        opaque = top[..., 3] > 0
        picture[opaque] = top[opaque]
        assert picture.shape[:2] == expected.shape[:2]
        assert np.array_equal(picture[..., :3][~opaque], expected[~opaque])
        assert np.abs(picture[..., :3][opaque].astype(int) - expected[opaque]).mean() < 4


@pytest.mark.slow  # builds the race's view (4-7 s)
def test_comparison_view_has_every_control_of_the_live_widget():
    """The static race mirrors the live widget: the same controls, in the same order, with the
    same labels, and each slider's values inside its range and including its default."""
    explorer, view = book_view("comparison")
    controls = explorer.view_controls()
    assert [c.name for c in controls] == list(explorer.specs)
    assert {"steps", "momentum_nesterov", "momentum_rmsprop"} <= set(explorer.specs)
    page = view["html"]
    for control in controls:
        spec = explorer.specs[control.name]
        assert f">{control.label}</label>" in page and control.label == spec.description
        assert explorer.values[control.name] in control.values
        if spec.kind != "choice":
            assert spec.low <= min(control.values) and max(control.values) <= spec.high
    steps = dict(zip([c.name for c in controls], controls, strict=True))["steps"].values
    assert steps[0] == 10 and steps[-1] == 500 and 30 <= len(steps) <= 60
    # β from none (0: RMSProp's own default) to 0.99, the usual 0.9 among them
    for name in ("momentum_nesterov", "momentum_rmsprop"):
        betas = next(c for c in controls if c.name == name).values
        assert {0.0, 0.9, 0.99} <= set(betas)
    assert explorer.values["momentum_rmsprop"] == 0.0  # RMSProp's default, not 0.9
    assert explorer.values["momentum_nesterov"] == 0.9
    # the steps slider costs no runs: every optimizer's run is stored once per setting of its
    # own controls, and drawn cut to the steps chosen
    for layer in view["data"]["layers"][1:]:
        assert view["data"]["controls"][view["data"]["prefix"]["control"]]["name"] == "steps"
        assert all(len(entry[0]) == len(steps) for entry in layer["entries"].values())


def test_prefix_of_a_run_is_the_shorter_run():
    from gdcourse.widgets import _final, _final_at, _prefix

    loss = Rosenbrock()
    for optimizer in (GD(lr=2e-3), GD(lr=5e-3), Nesterov(lr=1e-3, momentum=0.99)):
        long = minimize(loss, loss.default_start, optimizer, 120)
        for steps in (1, 10, 37, 119, 120):
            short = minimize(loss, loss.default_start, optimizer, steps)
            cut = _prefix(long, steps)
            assert (cut.diverged, cut.diverged_at) == (short.diverged, short.diverged_at)
            np.testing.assert_array_equal(cut.params, short.params)
            np.testing.assert_array_equal(cut.losses, short.losses)
            assert _final_at(long, steps) == _final(short)
    assert minimize(loss, loss.default_start, GD(lr=5e-3), 120).diverged  # a case of each
    with pytest.raises(ValueError, match="no prefix"):
        _prefix(minimize(loss, loss.default_start, GD(lr=1e-3), 10), 20)


def test_steps_axis_keeps_two_thirds_filled_with_few_axes():
    from gdcourse.widgets import _steps_axis_end

    ends = [_steps_axis_end(steps) for steps in range(1, 1001)]
    assert all(end >= steps for steps, end in enumerate(ends, start=1))
    assert min(steps / end for steps, end in enumerate(ends, start=1)) >= 2 / 3 - 1e-9
    assert sorted(set(ends[9:500])) == [10, 15, 20, 30, 40, 50, 60, 70, 100, 150, 200, 300,
                                        400, 500]
    assert ends[449] == 500 and ends[60] == 70 and ends[59] == 60  # 450 -> 500, 61 -> 70


def test_piece_steps_cut_a_clipped_line_at_any_step():
    from gdcourse.explorer_view import _cut, decode_series, piece_steps

    points = np.array([[0.0, 0.0], [1.0, 1.0], [1e9, 0.0], [2.0, 2.0], [3.0, 3.0]])
    count, pieces = decode_series(encode_points(points))
    assert count == 5
    # inside, leaving (an exit point on the segment to step 2), entering again (step 3)
    assert [(step, flags) for _, step, flags in pieces] == [(0, 2), (3, 1)]
    steps, original = piece_steps(len(pieces[1][0]), 3, 1)
    assert steps.tolist() == [3, 3, 4] and original.tolist() == [False, True, True]
    text = encode_points(points)
    for k, expected in [(0, 1), (1, 2), (2, 3), (3, 5), (4, 6)]:
        assert len(_cut(text, "prefix", k)[0]) == expected
    assert _cut(text, "head", 4)[0].tolist() == [[3.0, 3.0]]
    assert _cut(text, "head", 9)[0].tolist() == [[3.0, 3.0]]  # the last point of a shorter run
    assert len(_cut(text, "head", 2)[0]) == 0  # far outside the picture: not drawn
    assert _cut(encode_points(np.zeros((45, 2))), "prefix/10", 30)[1] == 3  # 31 points // 10


def test_drawn_view_encoding_round_trips_and_clips():
    points = np.array([[0.0, 0.0], [10.25, -3.5], [10.25, -3.5], [1e9, 4.0], [-1e9, 6.0],
                       [20.0, 20.0]])
    pieces = decode_pieces(encode_points(points))
    assert np.array_equal(pieces[0][:3], points[:3])
    assert all(np.abs(piece).max() <= CLIP_PIXELS for piece in pieces)
    assert np.array_equal(pieces[-1][-1], points[-1])  # back inside: drawn again
    assert len(pieces) == 3  # out, across the picture, back in: three pieces
    assert np.array_equal(decode_points(encode_points(points[:3])), points[:3])
    with pytest.raises(ValueError, match="finite"):
        encode_points([[np.nan, 0.0]])


@pytest.mark.slow  # renders every frame of a view twice (2-7 s per explorer)
@pytest.mark.parametrize("name", FRAME_VIEWS)
def test_view_frames_are_what_the_live_widget_draws(name):
    explorer, view = book_view(name)
    keys = list(view["frames"])
    assert len(keys) == np.prod([len(c.values) for c in explorer.view_controls()])
    live = BOOK_EXPLORERS[name](static=False)
    for key in dict.fromkeys([view["start"], keys[0], keys[len(keys) // 2], keys[-1]]):
        live.update(**values_of(explorer, key))
        expected = np.asarray(Image.open(io.BytesIO(live.render_png())).convert("RGB"))
        *_, overlay, status = view["frames"][key]
        assert status == live.status  # the same runs: the same numbers in the status line
        shown = compose(view, key)
        assert shown.shape == expected.shape
        opaque = decode_png(overlay)[..., 3] > 0
        # outside the overlay the backgrounds are the live pixels exactly (a palette PNG holds
        # them losslessly); on it, the paths' colours within the 64-colour palette's rounding
        assert np.array_equal(shown[~opaque], expected[~opaque])
        error = np.abs(shown[opaque].astype(int) - expected[opaque])
        assert error.mean() < 4
        # and every pixel the moving artists changed is in the overlay
        _, background = live.live_pixels(background=True)
        assert np.array_equal(opaque, np.any(expected != background, axis=-1))


@pytest.mark.slow  # builds every explorer's view (1-7 s each)
@pytest.mark.parametrize("name", list(BOOK_EXPLORERS))
def test_view_is_self_contained_accessible_and_within_budget(name):
    explorer, view = book_view(name)
    page = view["html"]
    assert len(page.encode()) <= BUDGET_BYTES
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", page)  # nothing from a network
    assert "url(http" not in page
    controls = explorer.view_controls()
    ranges = re.findall(r'<input type="range" id="([^"]+)"[^>]*max="(\d+)"[^>]*value="(\d+)"',
                        page)
    selects = re.findall(r'<select id="([^"]+)"', page)
    assert len(ranges) + len(selects) == len(controls)
    for cid, *_ in ranges:
        assert f'<label for="{cid}">' in page
        assert f'<output for="{cid}">' in page
    for cid in selects:
        assert f'<label for="{cid}">' in page
    paired = set()  # sliders of a two-dimensional grid (lr x β): dense as a pair
    for layer in view.get("data", {}).get("layers", []):
        ranges_of_layer = [controls[i] for i in layer["controls"] if controls[i].kind == "range"]
        if len(ranges_of_layer) == 2:
            assert np.prod([len(c.values) for c in ranges_of_layer]) >= 90
            assert all(len(c.values) >= 6 for c in ranges_of_layer)
            paired |= {c.name for c in ranges_of_layer}
    for control in controls:
        if control.kind == "range":
            assert 30 <= len(control.values) <= 60 or len(controls) == 2 or control.name in paired
    assert re.search(r'<p class="gdx-status" aria-live="polite">[^<]+</p>', page)
    assert "<noscript>" in page
    assert '<div class="gdx-controls" hidden>' in page  # shown by the script only
    # without JavaScript: one image with the alt text of the author's setting
    alt = re.search(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', page).group(1)
    assert alt.startswith(explorer.title)
    start = start_indices(explorer, view)
    status = (view["frames"][view["start"]][-1] if "frames" in view
              else drawn_status(view, start))
    assert html_unescape(alt).endswith(status)
    assert {c.name: c.values[start[c.name]] for c in controls} == {
        c.name: explorer.values[c.name] for c in controls}
    if "data" in view:  # drawn: the still is the live widget's picture of that setting
        live = BOOK_EXPLORERS[name](static=False)
        live.loss_limits = explorer.view_loss_limits  # the view's fixed loss axis
        live.update()
        assert np.array_equal(decode_png(view["still"])[..., :3], live.live_pixels())
        assert "<canvas" in page and "src=\"http" not in page


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_view_grids_put_the_transitions_on_frames():
    lr = lr_explorer()
    lrs = lr.view_grid()["lr"]
    assert 2.0 in lrs and 1.0 in lrs  # 2/L, the stability bound, and 1/L, one step
    assert all(v["lr"] in lrs for v in lr.static_values)
    momentum = momentum_explorer(25.0, lr=0.076)
    grid = momentum.view_grid()
    assert momentum.bound in grid["lr"]
    assert 4 / (1 + 5) ** 2 in grid["lr"]  # η* = 4/(√L + √m)², L = 25, m = 1
    assert ((5 - 1) / (5 + 1)) ** 2 in grid["momentum"]  # μ* = ((√κ − 1)/(√κ + 1))²
    assert (1 - np.sqrt(0.076)) ** 2 in grid["momentum"]  # critical damping at this lr
    assert all(30 <= len(values) <= 60 for values in grid.values())  # dense: drawn, not frames
    race = BOOK_EXPLORERS["comparison"]()
    race_grid = race.view_grid()
    for name in race.names:
        beta = f"momentum_{name}"
        assert (30 if beta not in race_grid else 16) <= len(race_grid[f"lr_{name}"]) <= 60
        assert race.values[f"lr_{name}"] in race_grid[f"lr_{name}"]
        if beta in race_grid:  # no momentum, the usual 0.9 and the slider's end
            assert {0.0, 0.9, 0.99, race.values[beta]} <= set(race_grid[beta])
    assert race.values["steps"] in race_grid["steps"]
    batch = batch_size_explorer()
    sizes = batch.view_grid()["batch_size"]
    noise = batch.noise_batch_size()
    assert 1 < noise < 256 and noise in sizes
    assert {1, 2, 4, 8, 16, 32, 64, 128, 256} <= set(sizes)
    assert sizes == sorted(set(sizes))


@pytest.mark.slow  # builds the lr explorer's view
def test_view_frames_follow_the_control_values():
    explorer, view = book_view("lr")
    lrs = explorer.view_controls()[0].values
    statuses = [view["frames"][str(i)][-1] for i in range(len(lrs))]
    assert all(status.startswith(f"lr = {lr:.3g}:") for lr, status in zip(lrs, statuses,
                                                                          strict=True))
    assert any("diverged" in status for status in statuses)
    assert len({view["frames"][str(i)][2] for i in range(len(lrs))}) == len(lrs)


def test_static_display_is_the_interactive_view(monkeypatch):
    monkeypatch.setenv("GDCOURSE_STATIC", "1")
    bundle = batch_size_explorer(epochs=1)._repr_mimebundle_()
    assert 'type="range"' in bundle["text/html"]
    assert "aria-live" in bundle["text/html"]


def test_drawn_view_rejects_bad_layers():
    from gdcourse.explorer_view import Layer, build_drawn_view

    explorer = momentum_explorer(25.0, static=True)
    controls = explorer.view_controls()
    with pytest.raises(TypeError, match="layers must be"):
        build_drawn_view(explorer, controls, [])
    with pytest.raises(TypeError, match="controls must be"):
        build_drawn_view(explorer, [], [Layer(("lr",), (), str)])
    with pytest.raises(ValueError, match="controls the view does not have: \\['steps'\\]"):
        build_drawn_view(explorer, controls, [Layer(("lr", "momentum", "steps"), (), str)])
    with pytest.raises(ValueError, match="every control of the view must belong to a layer"):
        build_drawn_view(explorer, controls, [Layer(("lr",), (), str)])
    with pytest.raises(ValueError, match="cuts need a prefix control"):
        build_drawn_view(explorer, controls, [Layer(("lr", "momentum"), (explorer.path,), str,
                                                    cuts=("prefix",))])
    with pytest.raises(ValueError, match="prefix control 'lr' must belong to the base layer"):
        build_drawn_view(explorer, controls, [Layer(("momentum",), (), str),
                                              Layer(("lr",), (explorer.path,), str,
                                                    cuts=("prefix",))], prefix="lr")
    with pytest.raises(ValueError, match="whole numbers of steps"):
        build_drawn_view(explorer, controls, [Layer(("lr", "momentum"), (), str)], prefix="lr")
    race = optimizer_comparison("rosenbrock", ["gd"], static=True)
    race_controls = race.view_controls()
    with pytest.raises(ValueError, match="needs a cut from"):
        build_drawn_view(race, race_controls, [
            Layer(("loss", "steps"), (), str),
            Layer(("loss", "lr_gd"), (race.lines[0], race.heads[0]), str,
                  cuts=("head", "prefix"))], prefix="steps")
    # a line drawn by the browser above the legend and markers: refused, not drawn wrongly
    explorer.path.set_zorder(9)
    try:
        with pytest.raises(ValueError, match="drawn under the browser's paths"):
            build_drawn_view(explorer, controls, [Layer(("lr", "momentum"), (explorer.path,),
                                                        str)])
    finally:
        explorer.path.set_zorder(4)

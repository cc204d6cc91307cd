"""Widgets driven headless: a control change redraws the same figure with the new run."""

from __future__ import annotations

import numpy as np
import pytest

from gdcourse.losses import MultiMinimum, Parabola
from gdcourse.optim import GD, Adam, Momentum
from gdcourse.run import minimize
from gdcourse.widgets import (
    batch_size_explorer,
    is_static,
    lr_explorer,
    momentum_explorer,
    optimizer_comparison,
)


def test_lr_explorer_slider_reruns_and_updates_in_place():
    explorer = lr_explorer(static=False)
    figure, path = explorer.figure, explorer.path
    explorer.controls["lr"].value = 0.5  # through the real ipywidgets observer
    expected = minimize(Parabola(), 14.0, GD(lr=0.5), 30)
    assert explorer.figure is figure and explorer.path is path
    np.testing.assert_allclose(path.get_xdata(), expected.params)
    np.testing.assert_allclose(path.get_ydata(), expected.losses)
    explorer.controls["lr"].value = 2.5
    assert explorer.status == "lr = 2.5: diverged at step 29"
    assert np.all(np.isfinite(path.get_xdata()))


def test_widget_image_is_refreshed_on_change():
    explorer = lr_explorer(static=False)
    widget = explorer.widget
    image = widget.children[1]
    before = image.value
    explorer.controls["steps"].value = 5
    assert bytes(image.value) != bytes(before) and bytes(image.value).startswith(b"\x89PNG")


def test_lr_explorer_on_other_loss_and_errors():
    explorer = lr_explorer(MultiMinimum(), lr=0.05, steps=100)
    expected = minimize(MultiMinimum(), MultiMinimum().default_start, GD(lr=0.05), 100)
    np.testing.assert_allclose(explorer.path.get_xdata(), expected.params)
    with pytest.raises(ValueError, match="1-D loss"):
        lr_explorer(object())
    with pytest.raises(ValueError, match=r"lr must be in \[0.001, 3"):
        explorer.update(lr=10.0)
    with pytest.raises(ValueError, match="unknown control 'beta'"):
        explorer.update(beta=0.5)


def test_comparison_changes_loss_and_learning_rates():
    explorer = optimizer_comparison("rosenbrock", ["gd", "adam"], steps=50, static=False)
    figure = explorer.figure
    explorer.controls["lr_adam"].value = 0.1
    loss = explorer.loss
    expected = minimize(loss, loss.default_start, Adam(lr=explorer.values["lr_adam"]), 50)
    np.testing.assert_allclose(explorer.lines[1].get_xdata(), expected.params[:, 0])
    explorer.controls["loss"].value = "beale"
    assert explorer.loss.name == "Beale" and explorer.figure is figure
    expected = minimize(explorer.loss, explorer.loss.default_start, GD(lr=1e-3), 50)
    np.testing.assert_allclose(explorer.lines[0].get_ydata(), expected.params[:, 1])


@pytest.mark.parametrize(
    ("args", "message"),
    [((("rosenbrock", ["sgd"])), "unknown optimizer 'sgd'"),
     ((("rosenbrock", [])), "non-empty"),
     ((("moon", ["gd"])), "unknown loss 'moon'")],
)
def test_comparison_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        optimizer_comparison(*args)


def test_batch_size_explorer_counts_updates():
    explorer = batch_size_explorer(static=False)
    explorer.controls["batch_size"].value = 32
    history = explorer.history
    assert history.batch_size == 32 and history.updates == 8 * explorer.values["epochs"]
    np.testing.assert_array_equal(explorer.curve.get_xdata(), history.grad_evals[1:])
    np.testing.assert_array_equal(explorer.path.get_xdata(), history.params[:, 0])


def test_momentum_explorer_beats_gd_and_updates():
    explorer = momentum_explorer(static=False)
    explorer.controls["momentum"].value = 0.9
    gd, momentum = explorer.trajectories
    loss = explorer.loss
    expected = minimize(loss, loss.default_start, Momentum(lr=explorer.values["lr"], momentum=0.9),
                        explorer.values["steps"])
    np.testing.assert_allclose(explorer.path.get_xdata(), expected.params[:, 0])
    assert gd.optimizer == GD(lr=explorer.values["lr"])


@pytest.mark.parametrize("make", [lr_explorer, optimizer_comparison, batch_size_explorer,
                                  momentum_explorer])
def test_static_fallback_renders_small_multiples_with_alt_text(make, monkeypatch):
    from IPython.core.formatters import format_display_data  # noqa: F401

    explorer = make()
    values_before = dict(explorer.values)
    html = explorer.static_html()
    assert html.startswith('<img src="data:image/png;base64,')
    assert 'alt="' in html and explorer.title in html
    assert explorer.values == values_before  # the fallback leaves the live state alone
    monkeypatch.setenv("GDCOURSE_STATIC", "1")
    assert is_static() and explorer._use_static()


def test_display_gives_fallback_or_live_view(monkeypatch):
    explorer = lr_explorer()
    monkeypatch.setenv("GDCOURSE_STATIC", "1")
    static = explorer._repr_mimebundle_()
    assert static["text/html"].startswith("<img") and "alt=" in static["text/html"]
    monkeypatch.setenv("GDCOURSE_STATIC", "0")
    live = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live

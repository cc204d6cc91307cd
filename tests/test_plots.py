"""Static figures and animations: the artists hold the data that was passed."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from gdcourse.losses import Beale, Parabola, Quadratic, Rosenbrock, Saddle
from gdcourse.optim import GD, Adam, Momentum
from gdcourse.plots import (
    OKABE_ITO,
    alt_text,
    animate_descent_1d,
    animate_race,
    plot_contour,
    plot_curve_1d,
    plot_loss_curves,
    plot_lr_sweep,
)
from gdcourse.run import minimize, train
from gdcourse.data import LinearRegression, linear_data


def lines_with_label(ax, text):
    return [line for line in ax.get_lines() if text in line.get_label()]


def test_curve_1d_draws_the_iterates_and_arrows():
    run = minimize(Parabola(), 14.0, GD(lr=0.1), steps=15)
    fig, ax = plot_curve_1d(Parabola(), run)
    assert isinstance(fig, Figure)
    iterates, = lines_with_label(ax, "GD(lr=0.1)")
    np.testing.assert_array_equal(iterates.get_xdata(), run.params)
    np.testing.assert_array_equal(iterates.get_ydata(), run.losses)
    arrows = [child for child in ax.texts if getattr(child, "arrow_patch", None)]
    assert len(arrows) == 12  # max_arrows
    assert "from x = 14 to x = 6.06 in 15 steps" in alt_text(fig)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_curve_1d_draws_into_given_axes_and_labels_divergence():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    run = minimize(Parabola(), 14.0, GD(lr=2.5), steps=60)
    returned_fig, ax = plot_curve_1d(Parabola(), run, ax=axes[1])
    assert returned_fig is fig and ax is axes[1]
    label, = [line.get_label() for line in ax.get_lines() if "GD" in line.get_label()]
    assert label == "GD(lr=2.5), diverged at step 29"
    assert any(text.get_text() == "diverged at step 29" for text in ax.texts)
    assert np.all(np.isfinite(ax.get_lines()[1].get_xdata()))
    # the curve widens to cover the diverging iterates
    curve = ax.get_lines()[0].get_xdata()
    assert curve.min() <= run.params.min() and curve.max() >= run.params.max()
    assert "diverges at step 29" in alt_text(fig)


def test_contour_paths_hold_the_trajectories_and_markers():
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 100) for opt in (Momentum(lr=1e-3), Adam(lr=0.05))]
    fig, ax = plot_contour(loss, runs)
    for index, run in enumerate(runs):
        path, = lines_with_label(ax, run.label)
        np.testing.assert_array_equal(path.get_xdata(), run.params[:, 0])
        np.testing.assert_array_equal(path.get_ydata(), run.params[:, 1])
        assert path.get_color() == OKABE_ITO[index]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    np.testing.assert_array_equal(stars[0].get_xydata()[0], [1.0, 1.0])
    (x0, x1), (y0, y1) = loss.window
    assert ax.get_xlim() == (x0, x1) and ax.get_ylim() == (y0, y1)
    assert "Momentum(lr=0.001)" in alt_text(fig)


def test_contour_window_argument_and_saddle_marker():
    fig, ax = plot_contour(Saddle(), window=((-1, 1), (-3, 3)))
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-3, 3)
    assert [line.get_marker() for line in ax.get_lines()] == ["x"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: plot_contour(Parabola()), ValueError, "needs a 2-D loss"),
        (lambda: plot_curve_1d(Beale()), ValueError, "needs a 1-D loss"),
        (lambda: plot_contour(Beale(), window=((1, 0), (0, 1))), ValueError, "window"),
        (lambda: plot_contour(Beale(), ["not a run"]), TypeError, "Trajectory"),
        (lambda: plot_loss_curves([]), ValueError, "at least one"),
        (lambda: plot_loss_curves(minimize(Parabola(), 1.0, GD(lr=0.1), 3), x="epoch"), ValueError,
         "x='step'"),
        (lambda: plot_loss_curves(minimize(Parabola(), 1.0, GD(lr=0.1), 3), x="time"), ValueError,
         "x must be one of"),
        (lambda: plot_lr_sweep(Parabola(), 14.0, [], 10), ValueError, "lrs"),
        (lambda: animate_race(Beale(), []), ValueError, "at least one"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_loss_curves_against_grad_evals_and_log_scale():
    problem = LinearRegression(*linear_data(64, seed=0))
    histories = [train(problem, [0.0, 0.0], GD(lr=0.1), b, epochs=3) for b in (1, 64)]
    fig, ax = plot_loss_curves(histories, x="grad_evals")
    sgd, = lines_with_label(ax, "SGD")
    np.testing.assert_array_equal(sgd.get_xdata(), histories[0].grad_evals[1:])
    np.testing.assert_array_equal(sgd.get_ydata(), histories[0].update_losses)
    fig, ax = plot_loss_curves(minimize(Parabola(), 14.0, GD(lr=0.3), 40))
    assert ax.get_yscale() == "log"  # 50 → 1e-12 spans many decades
    fig, ax = plot_loss_curves(histories, x="epoch", log=False)
    assert ax.get_yscale() == "linear" and ax.get_xlabel() == "epoch"


def test_lr_sweep_marks_divergence_and_stability_bound():
    loss = Quadratic.ill_conditioned(10.0)
    lrs = np.geomspace(0.01, 0.5, 12)
    fig, ax = plot_lr_sweep(loss, loss.default_start, lrs, steps=60)
    bound = [line for line in ax.get_lines() if "stability bound" in line.get_label()]
    assert bound and bound[0].get_xdata()[0] == pytest.approx(2 / loss.lipschitz)
    crosses, = lines_with_label(ax, "diverged")
    assert np.all(crosses.get_xdata() > 2 / loss.lipschitz)
    finals, = lines_with_label(ax, "final loss")
    assert np.all(finals.get_xdata() < 2 / loss.lipschitz)
    assert "2/L = 0.2" in alt_text(fig)


def frames_of(player) -> list[str]:
    return re.findall(r'frames\[\d+\] = "data:image/(?:png|jpeg);base64,', player.data)


def test_descent_animation_is_self_contained_and_bounded():
    run = minimize(Parabola(), 14.0, GD(lr=0.1), steps=200)
    player = animate_descent_1d(Parabola(), run, max_frames=25)
    assert "<script" in player.data and "_anim_img" in player.data
    assert 2 <= len(frames_of(player)) <= 25
    assert len(player.data) < 2_000_000
    assert 'alt="Animation of GD(lr=0.1)' in player.data
    # plays offline: no stylesheet, script or image fetched from the web (Font Awesome was)
    assert not re.findall(r'(?:href|src)="https?://', player.data)
    assert "\u25b6" in player.data  # the play button still has its symbol


def test_race_animation_size_and_frames():
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 300) for opt in (GD(lr=1e-3), Adam(lr=0.05))]
    player = animate_race(loss, runs)
    assert len(frames_of(player)) == 30
    assert len(player.data) < 2_000_000

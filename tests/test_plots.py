"""Static figures and animations: the artists hold the data that was passed."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from gdcourse import plots
from gdcourse.data import LinearRegression, linear_data
from gdcourse.losses import Beale, Himmelblau, MultiMinimum, Parabola, Quadratic, Rosenbrock, Saddle
from gdcourse.optim import GD, Adam, Momentum
from gdcourse.plots import (
    OKABE_ITO,
    alt_text,
    animate_descent_1d,
    animate_race,
    lr_sweep,
    plot_contour,
    plot_curve_1d,
    plot_loss_curves,
    plot_lr_sweep,
)
from gdcourse.run import minimize, train


@pytest.fixture(autouse=True)
def _no_figures_left():
    """Every test starts and ends without pyplot figures (animations close their own)."""
    plt.close("all")
    yield
    plt.close("all")


def lines_with_label(ax, text):
    return [line for line in ax.get_lines() if text in line.get_label()]


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------------------------
# 1-D curves


def test_curve_1d_draws_the_iterates_and_arrows():
    run = minimize(Parabola(), 14.0, GD(lr=0.1), steps=15)
    fig, ax = plot_curve_1d(Parabola(), run)
    assert isinstance(fig, Figure)
    iterates, = lines_with_label(ax, "GD(lr=0.1)")
    np.testing.assert_array_equal(iterates.get_xdata(), run.params)
    np.testing.assert_array_equal(iterates.get_ydata(), run.losses)
    arrows = [child for child in ax.texts if getattr(child, "arrow_patch", None)]
    assert len(arrows) == 12  # max_arrows
    start, = lines_with_label(ax, "start")
    np.testing.assert_array_equal(start.get_xydata(), [[14.0, 50.0]])
    minimum, = lines_with_label(ax, "minimum")
    np.testing.assert_array_equal(minimum.get_xydata(), [[4.0, 0.0]])
    assert legend_labels(ax) == ["loss: parabola", "GD(lr=0.1)", "start", "minimum"]
    assert "from x = 14 to x = 6.06 in 15 steps" in alt_text(fig)
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    assert ax.get_title()


def test_curve_1d_draws_into_given_axes_and_labels_divergence():
    fig, axes = plt.subplots(1, 2)
    run = minimize(Parabola(), 14.0, GD(lr=2.5), steps=60)
    returned_fig, ax = plot_curve_1d(Parabola(), run, ax=axes[1])
    assert returned_fig is fig
    assert ax is axes[1]
    label, = [line.get_label() for line in ax.get_lines() if "GD" in line.get_label()]
    assert label == "GD(lr=2.5), diverged at step 29"
    assert any(text.get_text() == "diverged at step 29" for text in ax.texts)
    iterates, = lines_with_label(ax, "GD(lr=2.5)")
    assert len(iterates.get_xdata()) == 29
    assert np.all(np.isfinite(iterates.get_xdata()))
    # the curve widens to cover the diverging iterates
    curve = ax.get_lines()[0].get_xdata()
    assert curve.min() <= run.params.min()
    assert curve.max() >= run.params.max()
    assert "diverges at step 29" in alt_text(fig)
    assert not axes[0].get_lines()  # the other panel is left alone


def test_curve_1d_several_minima_get_one_legend_entry():
    loss = MultiMinimum()
    _fig, ax = plot_curve_1d(loss, minimize(loss, loss.default_start, GD(lr=0.05), 40))
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    np.testing.assert_allclose([line.get_xdata()[0] for line in stars], loss.minimizers)
    assert legend_labels(ax).count("minima") == 1


# --------------------------------------------------------------------------------------------
# contour maps


def test_contour_paths_hold_the_trajectories_and_markers():
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 100) for opt in (Momentum(lr=1e-3), Adam(lr=0.05))]
    fig, ax = plot_contour(loss, runs)
    for index, run in enumerate(runs):
        path, = lines_with_label(ax, run.label)
        np.testing.assert_array_equal(path.get_xdata(), run.params[:, 0])
        np.testing.assert_array_equal(path.get_ydata(), run.params[:, 1])
        assert path.get_color() == OKABE_ITO[index]
    styles = {(line.get_marker(), str(line.get_linestyle()))
              for run in runs for line in lines_with_label(ax, run.label)}
    assert len(styles) == 2  # not colour alone
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    np.testing.assert_array_equal(stars[0].get_xydata()[0], [1.0, 1.0])
    # both runs start at the same point: one neutral start marker
    start, = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    np.testing.assert_array_equal(start.get_xydata(), [[-1.5, 2.0]])
    assert start.get_markeredgecolor() == "black"
    assert legend_labels(ax) == ["Momentum(lr=0.001)", "Adam(lr=0.05)", "start", "minimum"]
    (x0, x1), (y0, y1) = loss.window
    assert ax.get_xlim() == (x0, x1)
    assert ax.get_ylim() == (y0, y1)
    assert "Momentum(lr=0.001)" in alt_text(fig)


def test_contour_marks_separate_starts_in_each_paths_colour():
    loss = Himmelblau()
    runs = [minimize(loss, start, GD(lr=0.01), 20) for start in ([1.0, 1.0], [-1.0, -1.0])]
    _fig, ax = plot_contour(loss, runs)
    starts = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    np.testing.assert_array_equal([s.get_xydata()[0] for s in starts], [[1, 1], [-1, -1]])
    assert [s.get_markeredgecolor() for s in starts] == OKABE_ITO[:2]
    assert legend_labels(ax).count("start") == 1
    assert legend_labels(ax).count("minima") == 1


def test_contour_window_argument_and_saddle_marker():
    fig, ax = plot_contour(Saddle(), window=((-1, 1), (-3, 3)))
    assert ax.get_xlim() == (-1, 1)
    assert ax.get_ylim() == (-3, 3)
    assert [line.get_marker() for line in ax.get_lines()] == ["x"]
    assert "saddle point" in alt_text(fig)


def test_contour_labels_a_diverged_path():
    loss = Quadratic.ill_conditioned(10.0)
    run = minimize(loss, loss.default_start, GD(lr=0.5), 100)
    assert run.diverged
    _fig, ax = plot_contour(loss, run)
    path, = lines_with_label(ax, f"diverged at step {run.diverged_at}")
    np.testing.assert_array_equal(path.get_xydata(), run.params)
    assert np.all(np.isfinite(path.get_xydata()))
    assert any(f"diverged at step {run.diverged_at}" == t.get_text() for t in ax.texts)


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
        (lambda: lr_sweep(Parabola(), 14.0, [0.1], 10, "sgd"), ValueError,
         "unknown optimizer 'sgd'; choose from gd, momentum, nesterov"),
        (lambda: animate_race(Beale(), []), ValueError, "at least one"),
        (lambda: animate_race(Parabola(), [minimize(Parabola(), 1.0, GD(lr=0.1), 3)]), ValueError,
         "2-D"),
        (lambda: animate_descent_1d(Beale(), minimize(Beale(), [1.0, 1.0], GD(lr=0.01), 3)),
         ValueError, "needs a 1-D loss"),
        (lambda: animate_descent_1d(Parabola(), [1.0, 2.0]), TypeError, "Trajectory"),
        (lambda: animate_descent_1d(Parabola(), minimize(Parabola(), 1.0, GD(lr=0.1), 3),
                                    max_frames=1000), ValueError, "max_frames"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert plt.get_fignums() == []  # a refused call leaves no half-drawn figure behind


# --------------------------------------------------------------------------------------------
# loss curves and learning-rate sweeps


def test_loss_curves_against_grad_evals_and_log_scale():
    problem = LinearRegression(*linear_data(64, seed=0))
    histories = [train(problem, [0.0, 0.0], GD(lr=0.1), b, epochs=3) for b in (1, 64)]
    _fig, ax = plot_loss_curves(histories, x="grad_evals")
    sgd, = lines_with_label(ax, "SGD")
    np.testing.assert_array_equal(sgd.get_xdata(), histories[0].grad_evals[1:])
    np.testing.assert_array_equal(sgd.get_ydata(), histories[0].update_losses)
    _fig, ax = plot_loss_curves(minimize(Parabola(), 14.0, GD(lr=0.3), 40))
    assert ax.get_yscale() == "log"  # 50 → 1e-12 spans many decades
    _fig, ax = plot_loss_curves(histories, x="epoch", log=False)
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "epoch"
    batch, = lines_with_label(ax, "batch GD")
    np.testing.assert_array_equal(batch.get_ydata(), histories[1].epoch_losses)


def test_lr_sweep_marks_divergence_and_stability_bound():
    loss = Quadratic.ill_conditioned(10.0)
    lrs = np.geomspace(0.01, 0.5, 12)
    fig, ax = plot_lr_sweep(loss, loss.default_start, lrs, steps=60)
    bound = [line for line in ax.get_lines() if "stability bound" in line.get_label()]
    assert bound
    assert bound[0].get_xdata()[0] == pytest.approx(2 / loss.lipschitz)
    crosses, = lines_with_label(ax, "diverged")
    assert np.all(crosses.get_xdata() > 2 / loss.lipschitz)
    finals, = lines_with_label(ax, "final loss")
    assert np.all(finals.get_xdata() < 2 / loss.lipschitz)
    ok = lrs < 2 / loss.lipschitz
    expected = [minimize(loss, loss.default_start, GD(lr=lr), 60).final_loss for lr in lrs[ok]]
    np.testing.assert_allclose(finals.get_ydata(), np.maximum(expected, 1e-16 * 50.5))
    assert "2/L = 0.2" in alt_text(fig)


def test_lr_sweep_by_name_and_on_a_loss_below_zero():
    loss = MultiMinimum()
    _lrs, finals, diverged = lr_sweep(loss, loss.default_start, [0.01, 0.05], 50, "momentum",
                                     momentum=0.5)
    expected = minimize(loss, loss.default_start, Momentum(lr=0.05, momentum=0.5), 50)
    assert finals[1] == expected.final_loss
    assert not diverged.any()
    _fig, ax = plot_lr_sweep(loss, loss.default_start, [0.01, 0.05], 50)
    finals_line, = lines_with_label(ax, "final loss")
    # the minimum value is negative: the log axis shows the loss above it
    assert np.all(finals_line.get_ydata() > 0)
    assert ax.get_yscale() == "log"
    assert "above the minimum" in ax.get_ylabel()


# --------------------------------------------------------------------------------------------
# animations


def frames_of(player) -> list[bytes]:
    encoded = re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', player.data)
    return [base64.b64decode(frame) for frame in encoded]


def test_descent_animation_is_self_contained_and_bounded():
    run = minimize(Parabola(), 14.0, GD(lr=0.1), steps=200)
    player = animate_descent_1d(Parabola(), run, max_frames=12)
    assert "<script" in player.data
    assert "_anim_img" in player.data
    frames = frames_of(player)
    assert len(frames) == 12  # 201 iterates subsampled
    assert Image.open(io.BytesIO(frames[0])).mode == "P"  # palette PNG frames
    assert len(player.data) < 2_000_000
    assert 'alt="Animation of GD(lr=0.1)' in player.data
    assert alt_text(player).startswith("Animation of GD(lr=0.1)")
    # plays offline: no stylesheet, script or image fetched from the web (Font Awesome was)
    assert not re.findall(r'(?:href|src)="https?://', player.data)
    assert "\u25b6" in player.data  # the play button still has its symbol
    assert plt.get_fignums() == []  # no stray static copy


def test_descent_frames_draw_the_trajectory_and_follow_a_diverging_run():
    run = minimize(Parabola(), 14.0, GD(lr=2.5), steps=60)
    fig, draw, frames = plots._descent_frames(Parabola(), run, max_frames=10, window=None)
    assert frames[0] == 0
    assert frames[-1] == len(run.params) - 1
    assert len(frames) == 10
    trail, ball, caption = draw(frames[-1])
    np.testing.assert_array_equal(trail.get_xdata(), run.params)
    np.testing.assert_array_equal(trail.get_ydata(), run.losses)
    np.testing.assert_array_equal(ball.get_xydata(), [[run.params[-1], run.losses[-1]]])
    assert "diverged at step 29" in caption.get_text()
    curve = fig.axes[0].get_lines()[0].get_xdata()
    assert curve.min() <= run.params.min()
    assert curve.max() >= run.params.max()


def test_race_frames_draw_each_trajectory():
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 80) for opt in (GD(lr=1e-3), Adam(lr=0.05))]
    fig, draw, frames = plots._race_frames(loss, runs, max_frames=12, window=None, resolution=40)
    assert len(frames) == 12
    artists = draw(frames[5])
    for run, line in zip(runs, artists[:2], strict=True):
        np.testing.assert_array_equal(line.get_xydata(), run.params[: frames[5] + 1])
    artists = draw(frames[-1])
    for run, line, head in zip(runs, artists[:2], artists[2:4], strict=True):
        np.testing.assert_array_equal(line.get_xydata(), run.params)
        np.testing.assert_array_equal(head.get_xydata(), run.params[-1:])
    assert legend_labels(fig.axes[0]) == ["GD(lr=0.001)", "Adam(lr=0.05)", "minimum", "start"]


def test_race_animation_size_and_frames():
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 300) for opt in (GD(lr=1e-3), Adam(lr=0.05))]
    player = animate_race(loss, runs)
    assert len(frames_of(player)) == 30
    assert len(player.data) < 1_000_000
    assert "Adam(lr=0.05)" in alt_text(player)
    assert plt.get_fignums() == []


def test_race_of_several_starts_on_himmelblau():
    loss = Himmelblau()
    runs = [minimize(loss, start, GD(lr=0.01), 40) for start in ([1.0, 1.0], [-1.0, -1.0])]
    player = animate_race(loss, runs, max_frames=5)
    assert len(frames_of(player)) == 5


def test_animation_frames_show_what_a_full_draw_of_each_frame_shows():
    # the player draws the moving artists over a background drawn once: every frame must look
    # like the whole figure drawn at that step (up to the moving artists now being drawn over
    # the legend, and the palette's rounding of colours)
    loss = Rosenbrock()
    runs = [minimize(loss, loss.default_start, opt, 120) for opt in (GD(lr=1e-3), Adam(lr=0.05))]
    frames = [Image.open(io.BytesIO(frame)).convert("RGB")
              for frame in frames_of(animate_race(loss, runs, max_frames=4, resolution=60))]
    fig, draw, steps = plots._race_frames(loss, runs, max_frames=4, window=None, resolution=60)
    fig.canvas.draw()
    fig.set_layout_engine("none")
    for artist in fig.findobj(lambda a: a.get_animated()):
        artist.set_animated(False)
    assert len(frames) == len(steps) == 4
    for frame, step in zip(frames, steps, strict=True):
        draw(step)
        fig.canvas.draw()
        full = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
        fast = np.asarray(frame).astype(int)
        assert fast.shape == full.shape
        differing = (np.abs(fast - full).max(axis=2) > 40).mean()
        assert differing < 0.005, f"step {step}: {differing:.2%} of the pixels differ"
    plt.close(fig)
    # and the frames differ from each other: the runs move
    assert np.asarray(frames[0]).tobytes() != np.asarray(frames[-1]).tobytes()


def test_player_of_a_hand_made_animation_has_every_frame():
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots()
    line, = ax.plot([], [])
    ax.set(xlim=(0, 5), ylim=(0, 25))

    def draw(k):
        line.set_data(range(k + 1), [i * i for i in range(k + 1)])
        return (line,)

    html = plots.player(fig, FuncAnimation(fig, draw, frames=range(5), interval=100),
                        alt="a parabola drawn point by point")
    frames = frames_of(html)
    assert len(frames) == 5
    assert len(set(frames)) == 5  # every frame drawn anew, none repeated
    assert 'alt="a parabola drawn point by point"' in html.data
    assert plt.get_fignums() == []

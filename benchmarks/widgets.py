"""Widget responsiveness, static-fallback cost and animation sizes.

A widget update is what a reader waits for after moving a slider: rerun the optimizer(s), move
the artists, render the same figure to PNG for the image widget. The figure is drawn by blitting
(``Explorer._pixels``): axes, ticks and contour maps are kept while the limits stay, so each
explorer is timed twice: dragging its slider in small steps (the limits mostly stay; what a
reader does most) and jumping between two distant values (new limits at every update: a full
draw). Targets: < 50 ms for the 1-D
explorer, < 100 ms for the 2-D ones (contour maps are drawn once, not per move). Each explorer
is timed on a typical slider move and on its worst case (the slider at its most expensive end).
An update is single-threaded, so on an idle machine its wall time equals its CPU time; the
target is judged on the CPU time (the ``value``), which other jobs on a shared machine do not
inflate, and the wall time is shown beside it (``wall_ms``).
The static fallback, the interactive static views (``gdcourse.explorer_view``: <= 10 s to build
and <= 1.5 MB each) and the animations are paid once per book build; their size is what a reader
downloads (animations must stay well under 2 MB).
"""

from __future__ import annotations

import math
import statistics
import time

import matplotlib as mpl

from benchmarks._timing import row
from gdcourse import widgets
from gdcourse.losses import Parabola, Rosenbrock
from gdcourse.optim import GD, Adam, Momentum, RMSProp
from gdcourse.plots import animate_descent_1d, animate_race
from gdcourse.run import minimize

FOUR = ("gd", "momentum", "adam", "rmsprop")

# name: (explorer factory, fixed settings, control to move, two values to alternate, target ms)
UPDATES = {
    "lr_explorer: lr slider": (widgets.lr_explorer, {}, "lr", (0.1, 0.5), 50),
    "lr_explorer: lr slider, 200 steps (max)": (
        widgets.lr_explorer, {"steps": 200}, "lr", (0.1, 0.5), 50),
    "optimizer_comparison: lr slider (3 optimizers, 200 steps)": (
        widgets.optimizer_comparison, {}, "lr_adam", (0.05, 0.1), 100),
    "optimizer_comparison: steps slider (4 optimizers, 500 steps max)": (
        lambda **kw: widgets.optimizer_comparison("rosenbrock", FOUR, **kw), {},
        "steps", (500, 450), 100),
    "batch_size_explorer: batch-size slider (5 epochs)": (
        widgets.batch_size_explorer, {}, "batch_size", (8, 32), 100),
    "batch_size_explorer: SGD, 10 epochs (max)": (
        widgets.batch_size_explorer, {"epochs": 10}, "batch_size", (1, 2), 100),
    "momentum_explorer: β slider (60 steps)": (
        widgets.momentum_explorer, {}, "momentum", (0.5, 0.9), 100),
    "momentum_explorer: β slider, 300 steps (max)": (
        widgets.momentum_explorer, {"steps": 300}, "momentum", (0.5, 0.9), 100),
}

# the explorers as the chapters call them (3, 4, 6, 9): their interactive static views
BOOK_VIEWS = {
    "ch3 lr_explorer()": lambda: widgets.lr_explorer(static=True),
    "ch4 batch_size_explorer(lr=0.1)": lambda: widgets.batch_size_explorer(lr=0.1, static=True),
    "ch6 momentum_explorer(25, lr=0.95·2/L)": lambda: widgets.momentum_explorer(
        25.0, lr=0.95 * 2 / 25, static=True),
    "ch9 optimizer_comparison(4 optimizers, 300 steps)": lambda: widgets.optimizer_comparison(
        "rosenbrock", ["gd", "nesterov", "rmsprop", "adam"], steps=300,
        lrs={"gd": 2e-3, "nesterov": 5e-4, "rmsprop": 0.02, "adam": 0.1}, static=True),
}

FALLBACKS = {
    "lr_explorer": widgets.lr_explorer,
    "optimizer_comparison": widgets.optimizer_comparison,
    "batch_size_explorer": widgets.batch_size_explorer,
    "momentum_explorer": widgets.momentum_explorer,
}


def _medians_ms(function, *, repeats: int, warmup: int = 3) -> tuple[float, float]:
    """Median wall time and median CPU time of ``function()``, in ms.

    The wall time is what a reader waits; the CPU time is what the update costs, whatever else
    the machine is doing (on a shared 2-core box the two differ when other jobs run).
    """
    for _ in range(warmup):
        function()
    wall, cpu = [], []
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def _once(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _mover(explorer, control: str, values: tuple):
    """A function that moves ``control`` to the next of ``values`` (alternating) on each call."""
    flip = iter(values * 1000)
    return lambda: explorer.update(**{control: next(flip)})


def _dragger(explorer, control: str, values: tuple):
    """A function that drags ``control`` by one small step per call (1 % of the value, or 1 for
    whole numbers), nine steps from ``values[0]`` towards ``values[1]`` and back, as a reader
    dragging the slider does."""
    start, towards = values
    sign = 1 if towards > start else -1
    whole = isinstance(start, int)
    path = [start + sign * k if whole else start * (1 + sign * 0.01 * k) for k in range(10)]
    steps = iter((path + path[::-1]) * 1000)
    return lambda: explorer.update(**{control: next(steps)})


def run(repeats: int = 15) -> list[dict]:
    mpl.use("Agg")  # headless, whatever the environment says
    rows = []
    for name, (make, settings, control, values, target) in UPDATES.items():
        explorer = make(static=False)
        explorer.update(**settings)
        _ = explorer.widget  # the image widget exists: each update re-renders it, as live
        wall, cpu = _medians_ms(_dragger(explorer, control, values), repeats=repeats)
        rows.append(row("widgets", f"{name}: drag (CPU)", cpu, "ms", target=f"< {target} ms",
                        ok=cpu < target, wall_ms=round(wall, 1)))
        wall, cpu = _medians_ms(_mover(explorer, control, values), repeats=repeats)
        rows.append(row("widgets", f"{name}: jump {values[0]} <-> {values[1]} (CPU)", cpu, "ms",
                        target=f"< {target} ms", ok=cpu < target, wall_ms=round(wall, 1)))

    # switching the loss of the comparison redraws the contour map: a dropdown, not a slider
    explorer = widgets.optimizer_comparison(static=False)
    _ = explorer.widget
    wall, cpu = _medians_ms(_mover(explorer, "loss", ("beale", "rosenbrock")), repeats=repeats)
    rows.append(row("widgets", "optimizer_comparison: loss dropdown (new contour map): update "
                    "(CPU)", cpu, "ms", target="< 300 ms", ok=cpu < 300, wall_ms=round(wall, 1)))

    for name, make in FALLBACKS.items():
        explorer = make(static=True)
        html = ""

        def render(explorer=explorer):
            nonlocal html
            html = explorer.static_html()

        seconds = _once(render)
        rows.append(row("widgets", f"{name}: static fallback build", seconds * 1e3, "ms",
                        target="< 2000 ms", ok=seconds < 2.0))
        size = len(html.encode()) / 1024
        rows.append(row("widgets", f"{name}: static fallback size", size, "KiB",
                        target="< 300 KiB", ok=size < 300))

    # the interactive static view: what GDCOURSE_STATIC=1 puts on the page, built once per
    # book build; the budget is 10 s per view on the CPU (wall time beside it) and 1.5 MB
    for name, make in BOOK_VIEWS.items():
        explorer = make()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        view = explorer.interactive_view()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if "frames" in view:  # frames swapped (explorer_view.build_view)
            shape = {"frames": len(view["frames"]), "backgrounds": len(view["backgrounds"])}
        else:  # drawn in the browser (build_drawn_view): settings, stored entries, paths
            data = view["data"]
            shape = {"settings": math.prod(len(c["labels"]) for c in data["controls"]),
                     "stored": sum(len(layer["entries"]) for layer in data["layers"]),
                     "series": len(data["series"]), "backgrounds": len(data["backgrounds"])}
        rows.append(row("widgets", f"{name}: interactive view build (CPU)", cpu, "s",
                        target="<= 10 s", ok=cpu <= 10, wall_s=round(wall, 1), **shape))
        size = len(view["html"].encode()) / 1e6
        rows.append(row("widgets", f"{name}: interactive view size", size, "MB",
                        target="<= 1.5 MB", ok=size <= 1.5, **shape))

    parabola, rosenbrock = Parabola(), Rosenbrock()
    descent = minimize(parabola, 14.0, GD(lr=0.1), 60)
    race = [minimize(rosenbrock, rosenbrock.default_start, optimizer, 300)
            for optimizer in (GD(lr=1e-3), Momentum(lr=1e-3), Adam(lr=0.05), RMSProp(lr=0.01))]
    animations = {
        "1-D descent animation (60 steps, 40 frames)": lambda: animate_descent_1d(parabola,
                                                                                   descent),
        "4-optimizer race animation (300 steps, 30 frames)": lambda: animate_race(rosenbrock,
                                                                                  race),
    }
    for name, make in animations.items():
        player = None

        def build(make=make):
            nonlocal player
            player = make()

        seconds = _once(build)
        size = len(player.data.encode()) / 1024
        rows.append(row("widgets", f"{name}: size", size, "KiB", target="< 1024 KiB",
                        ok=size < 1024))
        rows.append(row("widgets", f"{name}: build", seconds * 1e3, "ms", target="< 10000 ms",
                        ok=seconds < 10))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run())

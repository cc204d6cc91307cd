"""Widget responsiveness and animation sizes.

A widget update is what a reader waits for after moving a slider: rerun the optimizer, move the
artists, render the same figure to PNG for the image widget. Targets: < 50 ms for the 1-D
explorers, < 100 ms for the 2-D comparisons. Animations must stay well under 2 MB.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from benchmarks._timing import median_seconds, row  # noqa: E402
from gdcourse import widgets  # noqa: E402
from gdcourse.losses import Parabola, Rosenbrock  # noqa: E402
from gdcourse.optim import GD, Adam, Momentum, RMSProp  # noqa: E402
from gdcourse.plots import animate_descent_1d, animate_race  # noqa: E402
from gdcourse.run import minimize  # noqa: E402

# (explorer factory, control to move, two values to alternate, target in ms)
WIDGETS = {
    "lr_explorer (1-D)": (widgets.lr_explorer, "lr", (0.1, 0.5), 50),
    "batch_size_explorer (1-D data)": (widgets.batch_size_explorer, "batch_size", (8, 32), 50),
    "momentum_explorer (2-D)": (widgets.momentum_explorer, "momentum", (0.5, 0.9), 100),
    "optimizer_comparison (2-D)": (widgets.optimizer_comparison, "steps", (200, 150), 100),
}


def run(repeats: int = 15) -> list[dict]:
    rows = []
    for name, (make, control, values, target) in WIDGETS.items():
        explorer = make(static=False)
        explorer.widget  # the image widget exists: each update re-renders it
        flip = iter(values * (repeats + 10))
        seconds = median_seconds(lambda: explorer.update(**{control: next(flip)}), repeats=repeats)
        rows.append(row("widgets", f"{name} update", seconds * 1e3, "ms",
                        target=f"< {target} ms", ok=seconds * 1e3 < target))
    descent = animate_descent_1d(Parabola(), minimize(Parabola(), 14.0, GD(lr=0.1), 60))
    loss = Rosenbrock()
    race = animate_race(loss, [minimize(loss, loss.default_start, optimizer, 300)
                               for optimizer in (GD(lr=1e-3), Momentum(lr=1e-3), Adam(lr=0.05),
                                                 RMSProp(lr=0.01))])
    for name, player in (("1-D descent animation", descent), ("4-optimizer race animation", race)):
        size = len(player.data.encode()) / 1024
        rows.append(row("widgets", name, size, "KiB", target="< 2048 KiB", ok=size < 2048))
    return rows

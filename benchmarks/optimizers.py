"""Time per step of every reference optimizer on 10^6 float64 parameters.

Side by side in the same run: PyTorch's torch.optim (foreach, CPU, float64) when torch is
installed, and the memory-bandwidth floor: the bytes an update must read and write divided by the
copy bandwidth NumPy reaches on this machine. Targets: within 1.5x of torch, within 3x of the floor.
"""

from __future__ import annotations

import numpy as np

from benchmarks._timing import median_seconds, row
from gdcourse import optim

N = 1_000_000

# (our optimizer, torch class name, torch kwargs, arrays read + written by one update)
CASES = {
    "GD": (optim.GD(lr=1e-3), "SGD", {"lr": 1e-3}, 3),
    "Momentum": (optim.Momentum(lr=1e-3), "SGD", {"lr": 1e-3, "momentum": 0.9}, 5),
    "Nesterov": (optim.Nesterov(lr=1e-3), "SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 5),
    "AdaGrad": (optim.AdaGrad(), "Adagrad", {}, 5),
    "RMSProp": (optim.RMSProp(), "RMSprop", {}, 5),
    "Adadelta": (optim.Adadelta(), "Adadelta", {}, 7),
    "Adam": (optim.Adam(), "Adam", {}, 7),
    "AdamW": (optim.AdamW(), "AdamW", {}, 7),
    "NAdam": (optim.NAdam(), "NAdam", {}, 7),
}


def copy_bandwidth(repeats: int = 15) -> float:
    """Bytes per second that np.copyto moves (read + write) on arrays of N float64."""
    source, target = np.random.default_rng(0).random(N), np.empty(N)
    seconds = median_seconds(lambda: np.copyto(target, source), repeats=repeats)
    return 2 * source.nbytes / seconds


def our_step_seconds(optimizer, repeats: int) -> float:
    rng = np.random.default_rng(0)
    x, grad = rng.normal(size=N), rng.normal(size=N)
    state = optimizer.init(x)
    x, state = optimizer.step(x, grad, state)  # past the first step's special cases

    def one_step():
        optimizer.step(x, grad, state)

    return median_seconds(one_step, repeats=repeats)


def torch_step_seconds(name: str, kwargs: dict, repeats: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    param = torch.randn(N, dtype=torch.float64, requires_grad=True)
    param.grad = torch.randn(N, dtype=torch.float64)
    optimizer = getattr(torch.optim, name)([param], foreach=True, **kwargs)
    optimizer.step()
    return median_seconds(optimizer.step, repeats=repeats)


def run(repeats: int = 15) -> list[dict]:
    bandwidth = copy_bandwidth(repeats)
    rows = [row("optimizers", "numpy copy bandwidth", bandwidth / 1e9, "GB/s")]
    for name, (optimizer, torch_name, torch_kwargs, arrays) in CASES.items():
        ours = our_step_seconds(optimizer, repeats)
        floor = arrays * N * 8 / bandwidth
        theirs = torch_step_seconds(torch_name, torch_kwargs, repeats)
        vs_floor = ours / floor
        vs_torch = None if theirs is None else ours / theirs
        ok = vs_floor <= 3.0 and (vs_torch is None or vs_torch <= 1.5)
        rows.append(row(
            "optimizers", f"{name} step, 1e6 float64", ours * 1e3, "ms",
            target="<=1.5x torch, <=3x floor", ok=ok,
            torch_ms=None if theirs is None else theirs * 1e3,
            ratio_vs_torch=vs_torch, floor_ms=floor * 1e3, ratio_vs_floor=vs_floor,
        ))
    return rows

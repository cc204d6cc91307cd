"""Time per step of every reference optimizer: the book's sizes (with targets), and 10⁶ (information).

The book's sizes, 2 to 10⁴ parameters, come from :mod:`benchmarks._per_call`: a step against the
same equations as plain NumPy lines, and against torch.optim on 2 parameters. Targets: ≤ 1.5x
the plain lines, ≥ 3x faster than torch.

On 10⁶ float64 parameters, a size the book never uses, the rows are information without a
target: side by side, PyTorch's torch.optim (foreach, CPU, float64) when torch is installed, and
the memory-bandwidth floor: the bytes an update must read and write divided by the copy bandwidth
NumPy reaches on this machine. The updates are one NumPy expression per equation, each making a
fresh array, so they take several passes over memory where torch's fused in-place kernels take
one.

How it measures:

- Steps are chained, ``x, state = step(x, grad, state)``, as in a training loop and as
  ``torch.optim`` advances its own state. Each sample times ``STEPS_PER_SAMPLE`` consecutive steps:
  how much fresh memory a step must fault in depends on what the allocator did at the step before
  (with glibc's defaults, a pure update that returns two or more 8 MB arrays faults them in at
  every other step), so single-step samples would jump between two values.
- The floor is the time of ``np.copyto`` into a preallocated target, moving as many bytes as the
  update reads and writes, over a working set of the same size (``arrays`` x 8 MB). With a 32 MB
  last-level cache an update of 24 MB fits in it and one of 56 MB does not; a copy of 2 x 8 MB
  always fits, and would understate the floor of the larger updates by the ratio of cache to
  memory bandwidth (about 2 on the machine this was written on).
- ``faults_per_step`` counts minor page faults (Unix only): fresh memory being zeroed by the kernel.
  How many there are depends on the allocator's state as much as on the code. glibc returns the
  free memory at the top of its heap to the system once it exceeds twice the largest block it has
  given back before (at most 64 MB): in a fresh process that has only freed 8 MB arrays that is
  16 MB, two of our arrays, while a process that has once freed an array of 32 MB or
  more keeps them. The steps are timed first, in the fresh state; the floors' large arrays come
  after.
"""

from __future__ import annotations

import numpy as np

from benchmarks import _per_call
from benchmarks._timing import median_seconds, row
from gdcourse import optim

N = 1_000_000
STEPS_PER_SAMPLE = 4

# (our optimizer, torch class name, torch kwargs, arrays of N float64 one update reads + writes).
# A pure update reads x, grad and each buffer it updates and writes a new x and new buffers:
# GD x g -> x; Momentum, Nesterov x g b -> x b; AdaGrad x g s -> x s; RMSProp (not centered, no
# momentum) x g v -> x v; Adadelta x g v u -> x v u; Adam, AdamW, NAdam x g m v -> x m v.
# Buffers the settings do not use (RMSProp's g_avg and b, Adam's v_max) are passed on untouched.
CASES = {
    "GD": (optim.GD(lr=1e-3), "SGD", {"lr": 1e-3}, 3),
    "Momentum": (optim.Momentum(lr=1e-3), "SGD", {"lr": 1e-3, "momentum": 0.9}, 5),
    "Nesterov": (optim.Nesterov(lr=1e-3), "SGD",
                 {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 5),
    "AdaGrad": (optim.AdaGrad(), "Adagrad", {}, 5),
    "RMSProp": (optim.RMSProp(), "RMSprop", {}, 5),
    "Adadelta": (optim.Adadelta(), "Adadelta", {}, 7),
    "Adam": (optim.Adam(), "Adam", {}, 7),
    "AdamW": (optim.AdamW(), "AdamW", {}, 7),
    "NAdam": (optim.NAdam(), "NAdam", {}, 7),
}


def _minor_faults() -> int | None:
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def copy_seconds(arrays: int, repeats: int = 15) -> float:
    """Seconds np.copyto takes to move ``arrays`` x N float64 (half read, half written) into a
    preallocated target: the bytes and the working set of an update touching that many arrays."""
    n = arrays * N // 2
    source, target = np.random.default_rng(0).random(n), np.empty(n)
    return median_seconds(lambda: np.copyto(target, source), repeats=repeats)


def our_step_seconds(optimizer, repeats: int) -> tuple[float, float | None]:
    """Median seconds per step, and minor page faults per step, of chained steps."""
    rng = np.random.default_rng(0)
    x, grad = rng.normal(size=N), rng.normal(size=N)
    state = optimizer.init(x)
    x, state = optimizer.step(x, grad, state)  # past the first step's special cases
    current = [x, state]

    def some_steps():
        x, state = current
        for _ in range(STEPS_PER_SAMPLE):
            x, state = optimizer.step(x, grad, state)
        current[:] = x, state

    warmup = 2
    before = _minor_faults()
    seconds = median_seconds(some_steps, repeats=repeats, warmup=warmup) / STEPS_PER_SAMPLE
    after = _minor_faults()
    steps = (repeats + warmup) * STEPS_PER_SAMPLE
    faults = None if before is None or after is None else (after - before) / steps
    return seconds, faults


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

    def some_steps():
        for _ in range(STEPS_PER_SAMPLE):
            optimizer.step()

    return median_seconds(some_steps, repeats=repeats) / STEPS_PER_SAMPLE


def run(repeats: int = 15) -> list[dict]:
    return _per_call.run(repeats) + run_large(repeats)


def run_large(repeats: int = 15) -> list[dict]:
    timings = {name: (our_step_seconds(optimizer, repeats),
                      torch_step_seconds(torch_name, torch_kwargs, repeats))
               for name, (optimizer, torch_name, torch_kwargs, _) in CASES.items()}
    # The floors last: freeing their large arrays raises glibc's threshold for returning memory
    # to the system, which would spare the steps timed afterwards most of their page faults.
    sizes = sorted({arrays for *_, arrays in CASES.values()})
    floors = {arrays: copy_seconds(arrays, repeats) for arrays in sizes}
    rows = [
        row("optimizers", f"numpy copy bandwidth, {arrays * N * 8 / 1e6:.0f} MB working set",
            arrays * N * 8 / seconds / 1e9, "GB/s")
        for arrays, seconds in floors.items()
    ]
    for name, (_, _, _, arrays) in CASES.items():
        (ours, faults), theirs = timings[name]
        floor = floors[arrays]
        vs_floor = ours / floor
        vs_torch = None if theirs is None else ours / theirs
        rows.append(row(
            "optimizers", f"{name} step, 1e6 float64", ours * 1e3, "ms",
            target="information", ok=None,
            torch_ms=None if theirs is None else theirs * 1e3,
            ratio_vs_torch=vs_torch, floor_ms=floor * 1e3, ratio_vs_floor=vs_floor,
            faults_per_step=faults,
        ))
    return rows

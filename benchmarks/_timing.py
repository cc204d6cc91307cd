"""Timing helpers: medians over repeated runs, measured side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(function: Callable[[], object], *, repeats: int = 15, warmup: int = 2) -> float:
    """Median wall time of ``function()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    return interleaved_median_seconds({"function": function}, repeats=repeats,
                                      warmup=warmup)["function"]


def interleaved_median_seconds(functions: dict[str, Callable[[], object]], *, repeats: int = 15,
                               warmup: int = 2) -> dict[str, float]:
    """Median wall time of each function, timed in rounds that run every function once in turn.

    Side by side in time, not one after the other: a slow spell of a shared machine (another
    process, a frequency change) lasting a few milliseconds falls on one sample of each
    function instead of on every sample of one of them, so the ratios of these medians hold
    where back-to-back medians can be off by a third on runs this short."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def row(group: str, benchmark: str, value: float, unit: str, *, target: str = "",
        ok: bool | None = None, **extra) -> dict:
    """One line of the results table."""
    return {"group": group, "benchmark": benchmark, "value": value, "unit": unit,
            "target": target, "ok": ok, **extra}

"""Timing helpers: medians over repeated runs, measured side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(function: Callable[[], object], *, repeats: int = 15, warmup: int = 2) -> float:
    """Median wall time of ``function()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(group: str, benchmark: str, value: float, unit: str, *, target: str = "",
        ok: bool | None = None, **extra) -> dict:
    """One line of the results table."""
    return {"group": group, "benchmark": benchmark, "value": value, "unit": unit,
            "target": target, "ok": ok, **extra}

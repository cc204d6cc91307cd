"""Mini-batch training: one epoch of mini-batch SGD on 100,000 samples at batch sizes 1, 32, 1024.

Per-sample cost should fall with the batch size: the gradient of a batch is one vectorised
operation, while per-update overhead (Python, the optimizer step) is paid once per batch.
"""

from __future__ import annotations

import numpy as np

from benchmarks._timing import median_seconds, row
from gdcourse.data import LinearRegression, LogisticRegression, linear_data, two_class_data
from gdcourse.optim import GD
from gdcourse.run import train

N = 100_000


def run(repeats: int = 3) -> list[dict]:
    problems = {
        "linear regression": LinearRegression(*linear_data(N, seed=0)),
        "logistic regression": LogisticRegression(*two_class_data(N, seed=0)),
    }
    rows = []
    for name, problem in problems.items():
        per_sample = {}
        for batch_size in (1, 32, 1024):
            seconds = median_seconds(
                lambda problem=problem, batch_size=batch_size: train(
                    problem, np.zeros(problem.dim), GD(lr=0.01), batch_size, epochs=1),
                repeats=repeats, warmup=0)
            per_sample[batch_size] = seconds / N
            rows.append(row("training", f"{name}, batch {batch_size}, one epoch", seconds, "s",
                            per_sample_us=seconds / N * 1e6))
        falls = per_sample[1] > per_sample[32] > per_sample[1024]
        rows.append(row("training", f"{name}: per-sample cost batch 1 / batch 1024",
                        per_sample[1] / per_sample[1024], "x", target="falls with batch size",
                        ok=falls))
    return rows

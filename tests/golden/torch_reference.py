"""Run torch.optim on the cases of ``cases.py`` and record its trajectories.

Used two ways:
- ``python tests/golden/torch_reference.py`` (with torch installed) rewrites ``torch_optim.json``,
  the frozen outputs that the default test suite checks without torch;
- ``tests/test_optim_torch.py`` imports :func:`run_all` to compare live when torch is importable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from cases import OPTIMIZER_CASES, SCHEDULE_CASES, STEPS, X0, test_gradient  # noqa: E402

GOLDEN = HERE / "torch_optim.json"


def _torch_scheduler(torch, optimizer, spec):
    lr_scheduler = torch.optim.lr_scheduler
    kind, kwargs = spec
    if kind == "sequential":
        parts = [_torch_scheduler(torch, optimizer, part) for part in kwargs["schedules"]]
        return lr_scheduler.SequentialLR(optimizer, parts, milestones=kwargs["milestones"])
    cls = {
        "step": lr_scheduler.StepLR,
        "exponential": lr_scheduler.ExponentialLR,
        "cosine": lr_scheduler.CosineAnnealingLR,
        "linear": lr_scheduler.LinearLR,
    }[kind]
    return cls(optimizer, **kwargs)


def torch_trajectory(case: dict) -> list[list[float]]:
    """Parameters x_0..x_STEPS of torch.optim on the test gradient, in float64."""
    import torch

    # torch keeps scalar state (step counts, NAdam's mu_product) in the default dtype: make it
    # float64 too, or NAdam's float32 mu_product alone would differ from exact maths by ~1e-9.
    torch.set_default_dtype(torch.float64)
    param = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, case["torch"])([param], **case["torch_kwargs"])
    scheduler = None
    if case.get("schedule") is not None:
        scheduler = _torch_scheduler(torch, optimizer, case["schedule"])
    path = [param.detach().numpy().copy().tolist()]
    for _ in range(STEPS):
        grad = test_gradient(param.detach().numpy().copy())
        param.grad = torch.from_numpy(grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        path.append(param.detach().numpy().copy().tolist())
    return path


def torch_learning_rates(spec) -> list[float]:
    """The learning rate torch uses for each of STEPS updates under the scheduler ``spec``."""
    import torch

    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=spec[2])
    scheduler = _torch_scheduler(torch, optimizer, spec[:2])
    rates = []
    for _ in range(STEPS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def run_all() -> dict:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's schedulers warn about step order; irrelevant here
        return {
            "torch_version": __import__("torch").__version__,
            "steps": STEPS,
            "x0": list(X0),
            "optimizers": {name: torch_trajectory(case) for name, case in OPTIMIZER_CASES.items()},
            "schedules": {name: torch_learning_rates(spec) for name, spec in SCHEDULE_CASES.items()},
        }


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(run_all(), indent=0) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1024:.0f} KiB)")

"""The shared cases of the PyTorch agreement tests: a test gradient, optimizer and schedule settings.

Each optimizer case names our constructor and the equivalent ``torch.optim`` class and arguments.
The gradient field is a fixed non-quadratic 3-D function, so that every coordinate sees gradients of
different sizes and signs over the run.
"""

from __future__ import annotations

import numpy as np

from gdcourse import optim, schedules

STEPS = 60
X0 = (2.0, -1.5, 3.0)

_A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.1]])
_B = np.array([1.0, -2.0, 0.5])


def test_gradient(x: np.ndarray) -> np.ndarray:
    """g(x) = A x - b + 0.5 sin(2x): the gradient of ½xᵀAx − bᵀx − ¼Σcos(2xᵢ)."""
    return _A @ x - _B + 0.5 * np.sin(2.0 * x)


test_gradient.__test__ = False  # not a pytest test


# name -> (torch scheduler kind, torch kwargs, base lr)
SCHEDULE_CASES = {
    "step": ("step", {"step_size": 7, "gamma": 0.5}, 0.2),
    "exponential": ("exponential", {"gamma": 0.95}, 0.3),
    "cosine": ("cosine", {"T_max": 40, "eta_min": 0.01}, 0.1),
    "cosine_restart": ("cosine", {"T_max": 25}, 0.1),
    "linear": ("linear", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 10}, 0.05),
    "linear_decay": ("linear", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30}, 0.05),
}


def our_schedule(spec) -> schedules.Schedule:
    """Our schedule for a (kind, torch kwargs, base lr) triple."""
    kind, kwargs, lr = spec
    if kind == "step":
        return schedules.StepDecay(lr, step_size=kwargs["step_size"], gamma=kwargs["gamma"])
    if kind == "exponential":
        return schedules.ExponentialDecay(lr, gamma=kwargs["gamma"])
    if kind == "cosine":
        return schedules.CosineAnnealing(lr, t_max=kwargs["T_max"], eta_min=kwargs.get("eta_min", 0.0))
    if kind == "linear":
        return schedules.LinearWarmup(lr, **kwargs)
    raise ValueError(kind)


def _case(ours, torch_name, schedule=None, **torch_kwargs):
    return {"ours": ours, "torch": torch_name, "torch_kwargs": torch_kwargs, "schedule": schedule}


def _scheduled(name):
    kind, kwargs, lr = SCHEDULE_CASES[name]
    return our_schedule(SCHEDULE_CASES[name]), (kind, kwargs), lr


_STEP, _STEP_SPEC, _STEP_LR = _scheduled("step")
_LIN, _LIN_SPEC, _LIN_LR = _scheduled("linear")
_COS, _COS_SPEC, _COS_LR = _scheduled("cosine")
_EXP, _EXP_SPEC, _EXP_LR = _scheduled("exponential")

OPTIMIZER_CASES = {
    "gd": _case(optim.GD(lr=0.1), "SGD", lr=0.1),
    "gd_wd": _case(optim.GD(lr=0.05, weight_decay=0.1), "SGD", lr=0.05, weight_decay=0.1),
    "momentum": _case(optim.Momentum(lr=0.05, momentum=0.9), "SGD", lr=0.05, momentum=0.9),
    "momentum_damped": _case(
        optim.Momentum(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01),
        "SGD", lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01,
    ),
    "nesterov": _case(optim.Nesterov(lr=0.05), "SGD", lr=0.05, momentum=0.9, nesterov=True),
    "nesterov_wd": _case(
        optim.Nesterov(lr=0.02, momentum=0.99, weight_decay=0.1),
        "SGD", lr=0.02, momentum=0.99, nesterov=True, weight_decay=0.1,
    ),
    "adagrad": _case(optim.AdaGrad(lr=0.5), "Adagrad", lr=0.5),
    "adagrad_decay": _case(
        optim.AdaGrad(lr=0.3, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.05,
                      eps=1e-3),
        "Adagrad", lr=0.3, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.05,
        eps=1e-3,
    ),
    "rmsprop": _case(optim.RMSProp(lr=0.01), "RMSprop", lr=0.01),
    "rmsprop_centered": _case(
        optim.RMSProp(lr=0.01, alpha=0.9, centered=True), "RMSprop", lr=0.01, alpha=0.9,
        centered=True,
    ),
    "rmsprop_momentum": _case(
        optim.RMSProp(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1, eps=1e-4),
        "RMSprop", lr=0.005, momentum=0.5, centered=True, weight_decay=0.1, eps=1e-4,
    ),
    "adadelta": _case(optim.Adadelta(), "Adadelta"),
    "adadelta_tuned": _case(
        optim.Adadelta(lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.1),
        "Adadelta", lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.1,
    ),
    "adam": _case(optim.Adam(lr=0.1), "Adam", lr=0.1),
    "adam_amsgrad": _case(
        optim.Adam(lr=0.05, betas=(0.8, 0.99), amsgrad=True),
        "Adam", lr=0.05, betas=(0.8, 0.99), amsgrad=True,
    ),
    "adam_wd": _case(
        optim.Adam(lr=0.1, weight_decay=0.1, eps=1e-4), "Adam", lr=0.1, weight_decay=0.1,
        eps=1e-4,
    ),
    "adamw": _case(optim.AdamW(lr=0.1), "AdamW", lr=0.1),
    "adamw_amsgrad": _case(
        optim.AdamW(lr=0.05, weight_decay=0.5, amsgrad=True),
        "AdamW", lr=0.05, weight_decay=0.5, amsgrad=True,
    ),
    "nadam": _case(optim.NAdam(lr=0.1), "NAdam", lr=0.1),
    "nadam_tuned": _case(
        optim.NAdam(lr=0.05, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.05),
        "NAdam", lr=0.05, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.05,
    ),
    # optimizers driven by schedules
    "gd_step": _case(optim.GD(lr=_STEP), "SGD", _STEP_SPEC, lr=_STEP_LR),
    "momentum_warmup": _case(optim.Momentum(lr=_LIN), "SGD", _LIN_SPEC, lr=_LIN_LR, momentum=0.9),
    "adam_cosine": _case(optim.Adam(lr=_COS), "Adam", _COS_SPEC, lr=_COS_LR),
    "nadam_exponential": _case(optim.NAdam(lr=_EXP), "NAdam", _EXP_SPEC, lr=_EXP_LR),
    "adagrad_cosine": _case(optim.AdaGrad(lr=_COS, lr_decay=0.05), "Adagrad", _COS_SPEC,
                            lr=_COS_LR, lr_decay=0.05),
}

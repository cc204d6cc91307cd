"""Simulated student answers for the grading tests: correct, hard-coded, plausibly wrong, and
calling the reference implementation. Each entry replaces the code of one solution cell."""

import re

CORRECT = "correct"


def secret_lines(notebook) -> set[str]:
    """Every non-trivial line of solution code and hidden tests in a source notebook."""
    lines = set()
    for cell in notebook.cells:
        for block in re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)(.*?)### END", cell.source, re.S):
            lines |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
    return lines

# assignment -> question cell id -> {kind: source of the answer cell}
ANSWERS = {
    "ch02_gradient_descent": {
        "q1-answer": {
            "hard-coded": '''
def grad_L(x):
    if np.ndim(x):
        return np.array([0.0, -4.0])
    return 10.0

def central_difference(f, x, h=1e-5):
    return 12.0
''',
            "wrong sign": '''
def grad_L(x):
    return 4.0 - np.asarray(x, dtype=float)

def central_difference(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)
''',
            "forward difference": '''
def grad_L(x):
    return np.asarray(x, dtype=float) - 4.0

def central_difference(f, x, h=1e-5):
    return (f(x + h) - f(x)) / h
''',
        },
        "q2-answer": {
            "hard-coded": '''
def gradient_descent(grad, x0, lr, steps):
    if steps == 3:
        return [14.0, 13.0, 12.1, 11.29]
    return [4.0] * (steps + 1)
''',
            "off by one": '''
def gradient_descent(grad, x0, lr, steps):
    x, iterates = x0, []
    for _ in range(steps + 1):
        x = x - lr * grad(x)
        iterates.append(x)
    return iterates
''',
            "wrong sign": '''
def gradient_descent(grad, x0, lr, steps):
    x, iterates = x0, [x0]
    for _ in range(steps):
        x = x + lr * grad(x)
        iterates.append(x)
    return iterates
''',
            "calls the reference": '''
from gdcourse.optim import GD as Helper

def gradient_descent(grad, x0, lr, steps):
    opt = Helper(lr=lr)
    x, state, iterates = x0, opt.init(x0), [x0]
    for _ in range(steps):
        x, state = opt.step(x, grad(x), state)
        iterates.append(x)
    return iterates
''',
        },
    },
    "ch06_momentum": {
        "q1-answer": {
            "hard-coded": '''
def momentum_step(x, grad, state, lr, momentum=0.9, dampening=0.0):
    if state["t"] == 0:
        return 13.0, {"t": 1, "b": 10.0}
    return 11.2, {"t": 2, "b": 18.0}
''',
            "buffer starts at zero": '''
def momentum_step(x, grad, state, lr, momentum=0.9, dampening=0.0):
    b = momentum * state["b"] + (1 - dampening) * np.asarray(grad, dtype=float)
    return x - lr * b, {"t": state["t"] + 1, "b": b}
''',
            "momentum applied twice": '''
def momentum_step(x, grad, state, lr, momentum=0.9, dampening=0.0):
    grad = np.asarray(grad, dtype=float)
    b = grad.copy() if state["t"] == 0 else momentum * state["b"] + (1 - dampening) * grad
    return x - lr * (b + momentum * state["b"]), {"t": state["t"] + 1, "b": b}
''',
            "dampening ignored": '''
def momentum_step(x, grad, state, lr, momentum=0.9, dampening=0.0):
    grad = np.asarray(grad, dtype=float)
    b = grad.copy() if state["t"] == 0 else momentum * state["b"] + grad
    return x - lr * b, {"t": state["t"] + 1, "b": b}
''',
            "calls the reference": '''
import importlib
_optim = importlib.import_module("gdcourse.optim")

def momentum_step(x, grad, state, lr, momentum=0.9, dampening=0.0):
    opt = getattr(_optim, "Moment" + "um")(lr=lr, momentum=momentum, dampening=dampening)
    ref_state = _optim.MomentumState(t=state["t"], b=state["b"])
    x, ref_state = opt.step(x, grad, ref_state)
    return x, {"t": ref_state.t, "b": ref_state.b}
''',
        },
        "q2-answer": {
            "heavy ball instead": '''
def nesterov_step(x, grad, state, lr, momentum=0.9):
    grad = np.asarray(grad, dtype=float)
    b = grad.copy() if state["t"] == 0 else momentum * state["b"] + grad
    return x - lr * b, {"t": state["t"] + 1, "b": b}
''',
        },
    },
    "ch08_adam": {
        "q1-answer": {
            "hard-coded": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    if state["t"] == 0:
        return 14.0 - 0.1 * 10 / (10 + 1e-8), {"t": 1, "m": 1.0, "v": 0.1}
    return 13.80002739, {"t": 2, "m": 1.89, "v": 0.19791}
''',
            "no bias correction": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * state["m"] + (1 - b1) * np.asarray(grad, dtype=float)
    v = b2 * state["v"] + (1 - b2) * np.asarray(grad, dtype=float) ** 2
    return x - lr * m / (np.sqrt(v) + eps), {"t": state["t"] + 1, "m": m, "v": v}
''',
            "eps inside the root": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state["t"] + 1
    m = b1 * state["m"] + (1 - b1) * np.asarray(grad, dtype=float)
    v = b2 * state["v"] + (1 - b2) * np.asarray(grad, dtype=float) ** 2
    return x - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + eps), {"t": t, "m": m, "v": v}
''',
            "betas swapped": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state["t"] + 1
    m = (1 - b1) * state["m"] + b1 * np.asarray(grad, dtype=float)
    v = (1 - b2) * state["v"] + b2 * np.asarray(grad, dtype=float) ** 2
    return x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), {"t": t, "m": m, "v": v}
''',
            "off by one": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state["t"] + 2
    m = b1 * state["m"] + (1 - b1) * np.asarray(grad, dtype=float)
    v = b2 * state["v"] + (1 - b2) * np.asarray(grad, dtype=float) ** 2
    return x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), {"t": t - 1, "m": m, "v": v}
''',
            "wrong sign": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state["t"] + 1
    m = b1 * state["m"] + (1 - b1) * np.asarray(grad, dtype=float)
    v = b2 * state["v"] + (1 - b2) * np.asarray(grad, dtype=float) ** 2
    return x + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), {"t": t, "m": m, "v": v}
''',
            "calls torch-style alias": '''
from gdcourse import optim as o

def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    ref = o.OPTIMIZERS["adam"](lr=lr, betas=betas, eps=eps)
    zeros = np.zeros_like(np.asarray(x, dtype=float))
    s = o.AdamState(t=state["t"], m=state["m"], v=state["v"], v_max=zeros)
    x, s = ref.step(x, grad, s)
    return x, {"t": s.t, "m": s.m, "v": s.v}
''',
        },
    },
}

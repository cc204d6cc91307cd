"""Simulated student answers for the grading tests: correct, hard-coded, plausibly wrong, and
calling the reference implementation. Each entry replaces the code of one solution cell."""

import re

CORRECT = "correct"


def secret_lines(notebook) -> set[str]:
    """Every non-trivial line of solution code and hidden tests in a source notebook (lines that
    also appear in the visible parts, a call repeated in a visible test or quoted in the
    instructions, excepted)."""
    secret, visible = set(), []
    pattern = r"### BEGIN (?:SOLUTION|HIDDEN TESTS)(.*?)### END (?:SOLUTION|HIDDEN TESTS)"
    for cell in notebook.cells:
        for block in re.findall(pattern, cell.source, re.DOTALL):
            secret |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12
                       and not line.strip().startswith(("from ", "import "))}  # imports say nothing
        visible.append(re.sub(pattern, "", cell.source, flags=re.DOTALL))
    shown = "\n".join(visible)
    return {line for line in secret if line not in shown}


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
    if dampening:
        return 11.65, {"t": 2, "b": 13.5}
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
            "hard-coded": '''
def nesterov_step(x, grad, state, lr, momentum=0.9):
    if state["t"] == 0:
        return 12.1, {"t": 1, "b": 10.0}
    return 12.1 - 0.1 * (8.1 + 0.9 * 17.1), {"t": 2, "b": 17.1}
''',
            "heavy ball instead": '''
def nesterov_step(x, grad, state, lr, momentum=0.9):
    grad = np.asarray(grad, dtype=float)
    b = grad.copy() if state["t"] == 0 else momentum * state["b"] + grad
    return x - lr * b, {"t": state["t"] + 1, "b": b}
''',
        },
        "q3-answer": {
            "hard-coded": """
def tune_heavy_ball(A):
    return (0.25, 0.25) if A[0][1] else (4 / 121, 81 / 121)
""",
            "the rate as the momentum": """
def tune_heavy_ball(A):
    curvatures = np.linalg.eigvalsh(np.asarray(A, dtype=float))
    root_kappa = np.sqrt(curvatures[-1] / curvatures[0])
    lr = 4.0 / (np.sqrt(curvatures[-1]) + np.sqrt(curvatures[0])) ** 2
    return float(lr), float((root_kappa - 1) / (root_kappa + 1))
""",
            "diagonal entries": """
def tune_heavy_ball(A):
    d = np.diag(np.asarray(A, dtype=float))
    root_kappa = np.sqrt(d.max() / d.min())
    return 4.0 / (np.sqrt(d.max()) + np.sqrt(d.min())) ** 2, ((root_kappa - 1) / (root_kappa + 1)) ** 2
""",
        },
    },
    "ch08_adam": {
        "q1-answer": {
            "hard-coded": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    if state["t"] == 0:
        return 14.0 - 0.1 * 10 / (10 + eps), {"t": 1, "m": 1.0, "v": 0.1}
    return 13.800027459159695, {"t": 2, "m": 1.89, "v": 0.19791}
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
    x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return x, {"t": t - 1, "m": m, "v": v}
''',
            "wrong sign": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state["t"] + 1
    m = b1 * state["m"] + (1 - b1) * np.asarray(grad, dtype=float)
    v = b2 * state["v"] + (1 - b2) * np.asarray(grad, dtype=float) ** 2
    return x + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), {"t": t, "m": m, "v": v}
''',
            "float32 arithmetic": '''
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = np.float32(betas[0]), np.float32(betas[1])
    t = state["t"] + 1
    g = np.asarray(grad, dtype=np.float32)
    m = b1 * np.asarray(state["m"], dtype=np.float32) + (1 - b1) * g
    v = b2 * np.asarray(state["v"], dtype=np.float32) + (1 - b2) * g**2
    step = np.float32(lr) * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + np.float32(eps))
    return np.asarray(x, dtype=np.float32) - step, {"t": t, "m": m, "v": v}
''',
            "calls the reference through a registry": '''
from gdcourse import optim as o

def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    ref = o.OPTIMIZERS["adam"](lr=lr, betas=betas, eps=eps)
    zeros = np.zeros_like(np.asarray(x, dtype=float))
    s = o.AdamState(t=state["t"], m=state["m"], v=state["v"], v_max=zeros)
    x, s = ref.step(x, grad, s)
    return x, {"t": s.t, "m": s.m, "v": s.v}
''',
        },
        "q2-answer": {
            "hard-coded": '''
def adamw_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    if state["t"] == 0:
        return 13.7600000001, {"t": 1, "m": 1.0, "v": 0.1}
    return 13.52247068855113, {"t": 2, "m": 1.8760000000099994, "v": 0.19515760000195215}
''',
            "L2 added to the gradient": '''
def adamw_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    grad = np.asarray(grad, dtype=float) + weight_decay * np.asarray(x, dtype=float)
    return adam_step(x, grad, state, lr=lr, betas=betas, eps=eps)
''',
            "decay after the step": '''
def adamw_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    new_x, new_state = adam_step(x, grad, state, lr=lr, betas=betas, eps=eps)
    return new_x * (1 - lr * weight_decay), new_state
''',
        },
        "q3-answer": {
            "hard-coded": """
def uncorrected_step_ratio(t, betas):
    return 3.1622776601683795 if t == 1 else 0.875 / np.sqrt(0.271)
""",
            "no square root": """
def uncorrected_step_ratio(t, betas):
    return (1 - betas[0] ** t) / (1 - betas[1] ** t)
""",
            "upside down": """
def uncorrected_step_ratio(t, betas):
    return np.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t)
""",
        },
    },
    "ch01_gradients": {
        "q1-answer": {
            "hard-coded": """
def rosenbrock_grad(p, a=1.0, b=100.0):
    x, y = np.asarray(p, dtype=float)
    return np.array([-155.0, -50.0]) if x == -1.5 else np.zeros(2)
""",
            "defaults hard-wired": """
def rosenbrock_grad(p, a=1.0, b=100.0):
    x, y = np.asarray(p, dtype=float)
    return np.array([-2.0 * (1 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])
""",
            "chain rule forgotten": """
def rosenbrock_grad(p, a=1.0, b=100.0):
    x, y = np.asarray(p, dtype=float)
    return np.array([-2.0 * (a - x) - 2.0 * b * (y - x**2), 2.0 * b * (y - x**2)])
""",
            "calls the reference loss": """
from gdcourse.losses import Rosenbrock as R

def rosenbrock_grad(p, a=1.0, b=100.0):
    return R(a=a, b=b).grad(np.asarray(p, dtype=float))
""",
        },
        "q2-answer": {
            "hard-coded": """
def numerical_gradient(f, x, h=1e-6):
    return np.array([2.0, 3.0])
""",
            "forward difference": """
def numerical_gradient(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    return np.array([(f(x + h * e) - f(x)) / h for e in np.eye(x.size)])
""",
            "all coordinates at once": """
def numerical_gradient(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))
""",
            "divides by h": """
def numerical_gradient(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    return np.array([(f(x + h * e) - f(x - h * e)) / h for e in np.eye(x.size)])
""",
        },
        "q3-answer": {
            "hard-coded": """
def steepest_descent_direction(g):
    return np.array([-0.6, -0.8])
""",
            "not normalised": """
def steepest_descent_direction(g):
    g = np.asarray(g, dtype=float)
    return -g / 5.0
""",
            "nan at a stationary point": """
def steepest_descent_direction(g):
    g = np.asarray(g, dtype=float)
    with np.errstate(invalid="ignore"):
        return -g / np.linalg.norm(g)
""",
        },
    },
    "ch03_learning_rate": {
        "q1-answer": {
            "hard-coded": "def largest_stable_lr(A):\n    return 0.2\n",
            "largest diagonal entry": """
def largest_stable_lr(A):
    return 2.0 / np.max(np.diag(A))
""",
            "calls the reference loss": """
from gdcourse import losses

def largest_stable_lr(A):
    return 2.0 / losses.Quadratic(A, np.zeros(len(A))).lipschitz
""",
        },
        "q2-answer": {
            "hard-coded": "def convergence_rate(A, lr):\n    return 0.9 if lr == 0.1 else 1.5\n",
            "smallest eigenvalue only": """
def convergence_rate(A, lr):
    return abs(1 - lr * np.linalg.eigvalsh(A).min())
""",
        },
        "q3-answer": {
            "hard-coded": "def best_lr(A):\n    return 2 / 11\n",
            "diagonal entries": """
def best_lr(A):
    d = np.diag(A)
    return 2.0 / (d.max() + d.min())
""",
        },
    },
    "ch04_minibatch": {
        "q1-answer": {
            "hard-coded": """
def minibatch_indices(n_samples, batch_size, rng):
    return [np.array([2, 4]), np.array([3, 0]), np.array([1])]
""",
            "last batch dropped": """
def minibatch_indices(n_samples, batch_size, rng):
    order = rng.permutation(n_samples)
    starts = range(0, n_samples - batch_size + 1, batch_size)
    return [order[s:s + batch_size] for s in starts] or [order]
""",
            "with replacement": """
def minibatch_indices(n_samples, batch_size, rng):
    order = rng.integers(0, n_samples, size=n_samples)
    return [order[s:s + batch_size] for s in range(0, n_samples, batch_size)]
""",
            "calls the reference": """
import gdcourse.data as d

def minibatch_indices(n_samples, batch_size, rng):
    return list(d.minibatches(n_samples, batch_size, rng))
""",
        },
        "q2-answer": {
            "hard-coded": """
def minibatch_sgd(grad, w0, n_samples, lr, batch_size, epochs, rng):
    first = np.array([0.35906474345193684, 0.283404299159321])
    last = np.array([0.8855322151890737, 0.9686229163064621])
    return [np.zeros(2), first, first, first, first, first, last]
""",
            "same order every epoch": """
def minibatch_sgd(grad, w0, n_samples, lr, batch_size, epochs, rng):
    w = np.asarray(w0, dtype=float)
    iterates = [w]
    batches = minibatch_indices(n_samples, batch_size, rng)
    for _ in range(epochs):
        for batch in batches:
            w = w - lr * grad(w, batch)
            iterates.append(w)
    return iterates
""",
            "updates in place": """
def minibatch_sgd(grad, w0, n_samples, lr, batch_size, epochs, rng):
    w = np.array(w0, dtype=float)
    iterates = [w]
    for _ in range(epochs):
        for batch in minibatch_indices(n_samples, batch_size, rng):
            w -= lr * grad(w, batch)
            iterates.append(w)
    return iterates
""",
            "calls gdcourse.optim": """
from gdcourse.optim import GD

def minibatch_sgd(grad, w0, n_samples, lr, batch_size, epochs, rng):
    opt = GD(lr=lr)
    w = np.asarray(w0, dtype=float)
    state, iterates = opt.init(w), [w]
    for _ in range(epochs):
        for batch in minibatch_indices(n_samples, batch_size, rng):
            w, state = opt.step(w, grad(w, batch), state)
            iterates.append(w)
    return iterates
""",
        },
        "q3-answer": {
            "hard-coded": """
def updates_per_epoch(n_samples, batch_size):
    return {(100, 10): 10, (101, 10): 11}.get((n_samples, batch_size), 1)
""",
            "floor division": """
def updates_per_epoch(n_samples, batch_size):
    return n_samples // batch_size
""",
        },
    },
    "ch05_hard_landscapes": {
        "q1-answer": {
            "hard-coded": """
def classify(H, tol=1e-8):
    return "saddle point" if H[0][0] == 2.0 else "minimum"
""",
            "determinant and trace": """
def classify(H, tol=1e-8):
    H = np.asarray(H, dtype=float)
    det, trace = np.linalg.det(H), np.trace(H)
    if abs(det) <= tol:
        return "undecided"
    if det < 0:
        return "saddle point"
    return "minimum" if trace > 0 else "maximum"
""",
            "diagonal entries": """
def classify(H, tol=1e-8):
    d = np.diag(np.asarray(H, dtype=float))
    if np.all(d > tol):
        return "minimum"
    if np.all(d < -tol):
        return "maximum"
    return "saddle point" if d.min() < -tol < tol < d.max() else "undecided"
""",
        },
        "q2-answer": {
            "hard-coded": "def steps_to_escape(lr, y0, threshold=1.0):\n    return 38\n",
            "off by one": """
def steps_to_escape(lr, y0, threshold=1.0):
    y, steps = float(y0), 0
    while abs(y) <= threshold:
        y = y * (1 + 2 * lr)
        steps += 1
    return steps
""",
            "closed form rounded down": """
def steps_to_escape(lr, y0, threshold=1.0):
    return max(0, int(np.log(threshold / abs(y0)) / np.log(1 + 2 * lr)))
""",
        },
        "q3-answer": {
            "hard-coded": "def clip_by_norm(g, max_norm):\n    return np.array([6.0, 8.0])\n",
            "always rescales": """
def clip_by_norm(g, max_norm):
    g = np.asarray(g, dtype=float)
    return g * max_norm / np.linalg.norm(g) if np.any(g) else g
""",
            "clips in place": """
def clip_by_norm(g, max_norm):
    norm = np.linalg.norm(g)
    if norm > max_norm:
        g *= max_norm / norm
    return g
""",
        },
    },
    "ch07_adaptive": {
        "q1-answer": {
            "hard-coded": """
def adagrad_step(x, grad, state, lr=0.01, eps=1e-10):
    if state["t"] == 0:
        return (14.0 - 5.0 / 11.0 if eps == 1.0 else 13.500000000005), {"t": 1, "s": 100.0}
    return 13.165517634196261, {"t": 2, "s": 181.0}
""",
            "eps inside the root": """
def adagrad_step(x, grad, state, lr=0.01, eps=1e-10):
    grad = np.asarray(grad, dtype=float)
    s = state["s"] + grad**2
    return x - lr * grad / np.sqrt(s + eps), {"t": state["t"] + 1, "s": s}
""",
            "calls the reference": """
from gdcourse import optim as helpers

def adagrad_step(x, grad, state, lr=0.01, eps=1e-10):
    opt = helpers.AdaGrad(lr=lr, eps=eps)
    x, s = opt.step(x, grad, helpers.AdaGradState(t=state["t"], s=state["s"]))
    return x, {"t": s.t, "s": s.s}
""",
        },
        "q2-answer": {
            "hard-coded": """
def rmsprop_step(x, grad, state, lr=0.01, alpha=0.99, eps=1e-8):
    if state["t"] == 0:
        return (13.95 if eps == 1.0 else 13.900000001), {"t": 1, "v": 1.0}
    return 13.832917962175006, {"t": 2, "v": 1.8}
""",
            "alpha and 1 - alpha swapped": """
def rmsprop_step(x, grad, state, lr=0.01, alpha=0.99, eps=1e-8):
    grad = np.asarray(grad, dtype=float)
    v = (1 - alpha) * state["v"] + alpha * grad**2
    return x - lr * grad / (np.sqrt(v) + eps), {"t": state["t"] + 1, "v": v}
""",
            "eps inside the root": """
def rmsprop_step(x, grad, state, lr=0.01, alpha=0.99, eps=1e-8):
    grad = np.asarray(grad, dtype=float)
    v = alpha * state["v"] + (1 - alpha) * grad**2
    return x - lr * grad / np.sqrt(v + eps), {"t": state["t"] + 1, "v": v}
""",
            "float32 arithmetic": """
def rmsprop_step(x, grad, state, lr=0.01, alpha=0.99, eps=1e-8):
    grad = np.asarray(grad, dtype=np.float32)
    v = np.float32(alpha) * np.asarray(state["v"], dtype=np.float32) + np.float32(1 - alpha) * grad**2
    x = np.asarray(x, dtype=np.float32) - np.float32(lr) * grad / (np.sqrt(v) + np.float32(eps))
    return x, {"t": state["t"] + 1, "v": v}
""",
        },
        "q3-answer": {
            "hard-coded": """
def adadelta_step(x, grad, state, lr=1.0, rho=0.9, eps=1e-6):
    if state["t"] == 0:
        return 13.996837722497945, {"t": 1, "v": 10.0, "u": 9.9999990000001e-07}
    return 13.993759787608637, {"t": 2, "v": 17.1, "u": 1.8473682282825681e-06}
""",
            "eps outside the roots": """
def adadelta_step(x, grad, state, lr=1.0, rho=0.9, eps=1e-6):
    grad = np.asarray(grad, dtype=float)
    v = rho * state["v"] + (1 - rho) * grad**2
    delta = (np.sqrt(state["u"]) + eps) / (np.sqrt(v) + eps) * grad
    u = rho * state["u"] + (1 - rho) * delta**2
    return x - lr * delta, {"t": state["t"] + 1, "v": v, "u": u}
""",
            "u updated first": """
def adadelta_step(x, grad, state, lr=1.0, rho=0.9, eps=1e-6):
    grad = np.asarray(grad, dtype=float)
    v = rho * state["v"] + (1 - rho) * grad**2
    u = rho * state["u"] + (1 - rho) * (grad * 1e-3) ** 2
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * grad
    return x - lr * delta, {"t": state["t"] + 1, "v": v, "u": u}
""",
        },
        "q4-answer": {
            "hard-coded": """
def adagrad_steps_needed(distance, lr):
    return {(0.5, 1.0): 1, (2.0, 1.0): 3, (1.5, 0.1): 68}.get((distance, lr), 10)
""",
            "steps of constant length": """
def adagrad_steps_needed(distance, lr):
    return int(np.ceil(distance / lr))
""",
            "the sum as an integral": """
def adagrad_steps_needed(distance, lr):
    return int(np.ceil((distance / (2 * lr)) ** 2))
""",
        },
    },
    "ch09_schedules": {
        "q1-answer": {
            "hard-coded": """
def cosine_lr(k, lr, t_max, eta_min=0.0):
    return {0: 0.1, 3: 0.07938926261462366, 10: 0.0}[k]
""",
            "eta_min ignored": """
def cosine_lr(k, lr, t_max, eta_min=0.0):
    return 0.5 * lr * (1 + math.cos(math.pi * k / t_max))
""",
            "calls the reference": """
from gdcourse.schedules import CosineAnnealing as Schedule

def cosine_lr(k, lr, t_max, eta_min=0.0):
    return Schedule(lr, t_max=t_max, eta_min=eta_min)(k)
""",
        },
        "q2-answer": {
            "hard-coded": """
def warmup_cosine_lr(k, lr, warmup, total):
    return [0.25, 0.5, 0.75, 1.0, 1.0, 0.9330127018922194, 0.75, 0.5, 0.25,
            0.06698729810778065, 0.0][k]
""",
            "cosine over the whole run": """
def warmup_cosine_lr(k, lr, warmup, total):
    if k < warmup:
        return lr * (k + 1) / warmup
    return cosine_lr(k, lr, total)
""",
        },
        "q3-answer": {
            "tuned for one start": """
def choose_optimizer():
    return optim.Adam(lr=0.05), 3000
""",
            "a fake optimizer": """
class Oracle(optim.GD):
    def step(self, x, grad, state):
        return np.ones_like(np.asarray(x, dtype=float)), state

def choose_optimizer():
    return Oracle(lr=0.1), 10
""",
        },
        "q4-answer": {
            "hard-coded": """
def warmup_updates(lr, max_step, grad):
    return {1.0: 100, 0.3: 8, 0.05: 1}.get(lr, 10)
""",
            "steps as large as the gradient": """
def warmup_updates(lr, max_step, grad):
    return max(1, math.ceil(lr * np.max(np.abs(grad)) / max_step))
""",
            "rounded down": """
def warmup_updates(lr, max_step, grad):
    return max(1, int(lr / max_step))
""",
        },
    },
    "ch10_training_loop": {
        "q1-answer": {
            "hard-coded": """
def backward(params, cache, y_hat, y):
    return {"W2": np.array([[-0.20157763369130363], [-0.2354445220848098], [-0.20013795546440932]]),
            "b2": np.array([-0.3308485814380374]),
            "W1": np.array([[0.07104348368346458, -0.024413166351218117, -0.024653246771397467]]),
            "b1": np.array([0.05552259918514818, -0.023621775663063168, -0.01920242393684033])}
""",
            "copied from chapter 10": """
def backward(params, cache, y_hat, y):
    x, a = cache
    d_y_hat = 2 * (y_hat - y) / len(y)
    d_z = (d_y_hat @ params["W2"].T) * (1 - a**2)
    return {"W2": a.T @ d_y_hat, "b2": d_y_hat.sum(axis=0), "W1": x.T @ d_z, "b1": d_z.sum(axis=0)}
""",
            "sigmoid derivative forgotten": """
def backward(params, cache, y_hat, y):
    x, a = cache
    d_y_hat = (y_hat - y) / len(y)
    d_z = d_y_hat @ params["W2"].T
    return {"W2": a.T @ d_y_hat, "b2": d_y_hat.sum(axis=0), "W1": x.T @ d_z, "b1": d_z.sum(axis=0)}
""",
        },
        "q2-answer": {
            "state reset every epoch": """
def fit(params, grad_fn, optimizer, n_samples, batch_size, epochs, rng):
    params = {name: np.array(value, dtype=float) for name, value in params.items()}
    for _ in range(epochs):
        states = {name: optimizer.init(value) for name, value in params.items()}
        for batch in minibatches(n_samples, batch_size, rng):
            grads = grad_fn(params, batch)
            for name in params:
                params[name], states[name] = optimizer.step(params[name], grads[name], states[name])
    return params
""",
            "one epoch of batches": """
def fit(params, grad_fn, optimizer, n_samples, batch_size, epochs, rng):
    params = {name: np.array(value, dtype=float) for name, value in params.items()}
    states = {name: optimizer.init(value) for name, value in params.items()}
    batches = minibatches(n_samples, batch_size, rng)
    for _ in range(epochs):
        for batch in batches:
            grads = grad_fn(params, batch)
            for name in params:
                params[name], states[name] = optimizer.step(params[name], grads[name], states[name])
    return params
""",
            "calls gdcourse.run": """
import gdcourse.run

def fit(params, grad_fn, optimizer, n_samples, batch_size, epochs, rng):
    gdcourse.run.train  # "just looking"
    params = {name: np.array(value, dtype=float) for name, value in params.items()}
    states = {name: optimizer.init(value) for name, value in params.items()}
    for _ in range(epochs):
        for batch in minibatches(n_samples, batch_size, rng):
            grads = grad_fn(params, batch)
            for name in params:
                params[name], states[name] = optimizer.step(params[name], grads[name], states[name])
    return params
""",
        },
        "q3-answer": {
            "hard-coded": """
def matching_lr(optimizer, scale):
    return {2.0: 0.05, 0.5: 0.1}[scale] if type(optimizer).__name__ != "Adam" else 0.01
""",
            "always divided by the scale": """
def matching_lr(optimizer, scale):
    return optimizer.lr / scale
""",
            "Nesterov forgotten": """
def matching_lr(optimizer, scale):
    return optimizer.lr / scale if isinstance(optimizer, (optim.GD, Momentum)) else optimizer.lr
""",
        },
    },
}

#: Wrong answers that pass the visible tests: only the hidden tests can catch them.
PASSES_VISIBLE = {
    ("ch01_gradients", "q1-answer", "hard-coded"),
    ("ch01_gradients", "q1-answer", "defaults hard-wired"),
    ("ch01_gradients", "q2-answer", "hard-coded"),
    ("ch01_gradients", "q3-answer", "nan at a stationary point"),
    ("ch02_gradient_descent", "q1-answer", "hard-coded"),
    ("ch02_gradient_descent", "q2-answer", "hard-coded"),
    ("ch03_learning_rate", "q1-answer", "hard-coded"),
    ("ch03_learning_rate", "q1-answer", "largest diagonal entry"),
    ("ch03_learning_rate", "q2-answer", "hard-coded"),
    ("ch03_learning_rate", "q3-answer", "hard-coded"),
    ("ch03_learning_rate", "q3-answer", "diagonal entries"),
    ("ch04_minibatch", "q1-answer", "hard-coded"),
    ("ch04_minibatch", "q2-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q1-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q1-answer", "determinant and trace"),
    ("ch05_hard_landscapes", "q1-answer", "diagonal entries"),
    ("ch05_hard_landscapes", "q2-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q3-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q3-answer", "always rescales"),
    ("ch06_momentum", "q1-answer", "hard-coded"),
    ("ch07_adaptive", "q1-answer", "hard-coded"),
    ("ch08_adam", "q1-answer", "hard-coded"),
    ("ch09_schedules", "q1-answer", "hard-coded"),
    ("ch09_schedules", "q1-answer", "eta_min ignored"),
    ("ch09_schedules", "q2-answer", "hard-coded"),
    ("ch09_schedules", "q3-answer", "tuned for one start"),
    ("ch09_schedules", "q3-answer", "a fake optimizer"),
    ("ch10_training_loop", "q1-answer", "hard-coded"),
    ("ch10_training_loop", "q2-answer", "state reset every epoch"),
    ("ch04_minibatch", "q3-answer", "hard-coded"),
    ("ch06_momentum", "q2-answer", "hard-coded"),
    ("ch07_adaptive", "q2-answer", "hard-coded"),
    ("ch07_adaptive", "q3-answer", "hard-coded"),
    ("ch08_adam", "q2-answer", "hard-coded"),
    # the questions on each chapter's idea (ch06-ch10)
    ("ch06_momentum", "q3-answer", "hard-coded"),
    ("ch07_adaptive", "q4-answer", "hard-coded"),
    ("ch08_adam", "q3-answer", "hard-coded"),
    ("ch09_schedules", "q4-answer", "hard-coded"),
    ("ch10_training_loop", "q3-answer", "hard-coded"),
    ("ch10_training_loop", "q3-answer", "Nesterov forgotten"),
}

#: Correct answers written differently from the solution: each must score full marks. The
#: in-place steps update the state's arrays and return the same dict, which works only when the
#: init function gives every buffer its own array.
ALSO_CORRECT = {
    "ch07_adaptive": {
        "q3-answer": {
            "updates the state in place": """
def adadelta_step(x, grad, state, lr=1.0, rho=0.9, eps=1e-6):
    grad = np.asarray(grad, dtype=float)
    v, u = state["v"], state["u"]
    v *= rho
    v += (1 - rho) * grad**2
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * grad
    u *= rho
    u += (1 - rho) * delta**2
    state["t"] += 1
    return x - lr * delta, state
""",
        },
    },
    "ch08_adam": {
        "q1-answer": {
            "updates the state in place": """
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    grad = np.asarray(grad, dtype=float)
    state["t"] += 1
    m, v, t = state["m"], state["v"], state["t"]
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), state
""",
        },
    },
}


# ------------------------------------------------------------------------------------------------
# ch01-ch05: the questions that check each chapter's idea (issue 13), and ch04 Q3's visible
# non-divisible case ("floor division" now fails the visible tests)
# ------------------------------------------------------------------------------------------------

ANSWERS["ch01_gradients"]["q4-answer"] = {
    "hard-coded": """
def descent_angle(A, b, theta):
    return 52.1250163489018 if np.any(b) and np.asarray(A)[0][1] == 0 else (
        39.28940686250036 if np.asarray(A)[0][1] == 0 else 0.0)
""",
    "minimum at the origin": """
def descent_angle(A, b, theta):
    A, theta = np.asarray(A, dtype=float), np.asarray(theta, dtype=float)
    downhill, to_minimum = -A @ theta, -theta
    cosine = downhill @ to_minimum / (np.linalg.norm(downhill) * np.linalg.norm(to_minimum))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
""",
    "angle to the gradient": """
def descent_angle(A, b, theta):
    A, b, theta = (np.asarray(value, dtype=float) for value in (A, b, theta))
    gradient, to_minimum = A @ theta - b, np.linalg.solve(A, b) - theta
    cosine = gradient @ to_minimum / (np.linalg.norm(gradient) * np.linalg.norm(to_minimum))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
""",
    "radians": """
def descent_angle(A, b, theta):
    A, b, theta = (np.asarray(value, dtype=float) for value in (A, b, theta))
    downhill, to_minimum = b - A @ theta, np.linalg.solve(A, b) - theta
    cosine = downhill @ to_minimum / (np.linalg.norm(downhill) * np.linalg.norm(to_minimum))
    return float(np.arccos(np.clip(cosine, -1.0, 1.0)))
""",
    "calls the reference loss": """
from gdcourse.losses import Quadratic

def descent_angle(A, b, theta):
    loss = Quadratic(np.asarray(A, dtype=float), np.asarray(b, dtype=float))
    downhill = -loss.grad(np.asarray(theta, dtype=float))
    to_minimum = np.linalg.solve(A, b) - theta
    cosine = downhill @ to_minimum / (np.linalg.norm(downhill) * np.linalg.norm(to_minimum))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
""",
}
ANSWERS["ch02_gradient_descent"]["q3-answer"] = {
    "hard-coded": """
def steps_needed(x0, lr, tol):
    return {0.1: 88, 1.5: 14}.get(lr, 0) if abs(x0 - 4.0) > tol else 0
""",
    "rounded down": """
def steps_needed(x0, lr, tol):
    distance = abs(x0 - 4.0)
    return 0 if distance <= tol else int(np.log(tol / distance) / np.log(abs(1.0 - lr)))
""",
    "lr = 1 forgotten": """
def steps_needed(x0, lr, tol):
    distance = abs(x0 - 4.0)
    return 0 if distance <= tol else int(np.ceil(np.log(tol / distance) / np.log(abs(1.0 - lr))))
""",
    "loss instead of distance": """
def steps_needed(x0, lr, tol):
    loss = 0.5 * (x0 - 4.0) ** 2
    return 0 if loss <= tol else int(np.ceil(np.log(tol / loss) / np.log((1.0 - lr) ** 2)))
""",
}
ANSWERS["ch03_learning_rate"]["q4-answer"] = {
    "hard-coded": "def steps_for_accuracy(kappa, eps):\n    return 69\n",
    "large-kappa approximation": """
def steps_for_accuracy(kappa, eps):
    return int(np.ceil(kappa / 2 * np.log(1 / eps)))
""",
    "rate of lr = 1/L": """
def steps_for_accuracy(kappa, eps):
    return int(np.ceil(np.log(eps) / np.log(1 - 1 / kappa)))
""",
    "kappa = 1 forgotten": """
def steps_for_accuracy(kappa, eps):
    return int(np.ceil(np.log(eps) / np.log((kappa - 1) / (kappa + 1))))
""",
}
ANSWERS["ch04_minibatch"]["q4-answer"] = {
    "hard-coded": """
def batch_for_floor(per_example_grads, lr, target):
    return {1e-3: 115, 0.0: 1000}.get(target, 1)
""",
    "plain 1/B law": """
def batch_for_floor(per_example_grads, lr, target):
    grads = np.asarray(per_example_grads, dtype=float)
    spread = np.mean(np.sum((grads - grads.mean(axis=0)) ** 2, axis=1))
    return len(grads) if target == 0 else min(len(grads), int(np.ceil(lr * spread / (4 * target))))
""",
    "lr / 2 instead of lr / 4": """
def batch_for_floor(per_example_grads, lr, target):
    grads = np.asarray(per_example_grads, dtype=float)
    n = len(grads)
    spread = np.mean(np.sum((grads - grads.mean(axis=0)) ** 2, axis=1))
    return next(b for b in range(1, n + 1) if lr / 2 * spread / b * (n - b) / (n - 1) <= target)
""",
}
ANSWERS["ch05_hard_landscapes"]["q4-answer"] = {
    "hard-coded": """
def saddle_escape_steps(H, lr, delta0, radius=1.0):
    return 38 if np.asarray(H)[0][1] == 0 else 77
""",
    "eigenvalue closest to zero": """
def saddle_escape_steps(H, lr, delta0, radius=1.0):
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(H, dtype=float))
    k = int(np.argmin(np.abs(eigenvalues)))
    component = abs(eigenvectors[:, k] @ np.asarray(delta0, dtype=float))
    if component >= radius:
        return 0
    return int(np.ceil(np.log(radius / component) / np.log(1.0 - lr * eigenvalues[k])))
""",
    "whole offset instead of its component": """
def saddle_escape_steps(H, lr, delta0, radius=1.0):
    lowest = np.linalg.eigvalsh(np.asarray(H, dtype=float))[0]
    size = np.linalg.norm(delta0)
    return 0 if size >= radius else int(np.ceil(np.log(radius / size) / np.log(1.0 - lr * lowest)))
""",
    "factor of x² - y²": """
def saddle_escape_steps(H, lr, delta0, radius=1.0):
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(H, dtype=float))
    component = abs(eigenvectors[:, 0] @ np.asarray(delta0, dtype=float))
    return 0 if component >= radius else int(np.ceil(np.log(radius / component) / np.log(1.0 + 2 * lr)))
""",
}
# float32 arithmetic: off by about 1e-7, caught by the visible tests with the relative error shown
ANSWERS["ch02_gradient_descent"]["q2-answer"]["float32 arithmetic"] = """
def gradient_descent(grad, x0, lr, steps):
    x = np.float32(x0)
    iterates = [x]
    for _ in range(steps):
        x = np.float32(x - lr * grad(x))
        iterates.append(x)
    return iterates
"""
ANSWERS["ch04_minibatch"]["q2-answer"]["float32 weights"] = """
def minibatch_sgd(grad, w0, n_samples, lr, batch_size, epochs, rng):
    w = np.asarray(w0, dtype=np.float32)
    iterates = [w]
    for _ in range(epochs):
        for batch in minibatch_indices(n_samples, batch_size, rng):
            w = (w - lr * grad(w, batch)).astype(np.float32)
            iterates.append(w)
    return iterates
"""
PASSES_VISIBLE |= {
    ("ch01_gradients", "q4-answer", "hard-coded"),
    ("ch02_gradient_descent", "q3-answer", "hard-coded"),
    ("ch02_gradient_descent", "q3-answer", "lr = 1 forgotten"),
    ("ch03_learning_rate", "q4-answer", "hard-coded"),
    ("ch03_learning_rate", "q4-answer", "kappa = 1 forgotten"),
    ("ch04_minibatch", "q4-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q4-answer", "hard-coded"),
    ("ch05_hard_landscapes", "q4-answer", "eigenvalue closest to zero"),
}

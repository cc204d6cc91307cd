"""gdcourse.grading: pointed messages, step-by-step comparison and the reference-call guard.

No kernels here: the helpers are plain functions, tested in this process. The guard is attacked
with every way of reaching the reference we could think of (aliases, importlib, getattr on a
string, registries, closures, defaults, instances, threads, exec, functools.partial, a fake
``torch.optim``), and checked for false alarms on honest code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdcourse import grading, optim
from gdcourse.grading import (
    ReferenceCallError,
    check_close,
    compare_steps,
    compare_trajectories,
    forbidden_references,
    fresh_rng,
    guarded,
    no_reference_calls,
)
from gdcourse.optim import Adam, AdamState, Momentum

# ------------------------------------------------------------------------------------------------
# Messages
# ------------------------------------------------------------------------------------------------


def test_check_close_names_the_step_and_the_values():
    check_close("x", 5.0 + 1e-12, 5.0)
    with pytest.raises(AssertionError, match=r"^step 3: x = 5\.2, expected 5$"):
        check_close("x", 5.2, 5.0, where="step 3")
    with pytest.raises(AssertionError, match=r"x = \[1\.  2\.5\], expected \[1. 2.\]"):
        check_close("x", [1.0, 2.5], [1.0, 2.0])


def test_check_close_explains_wrong_kinds_and_shapes():
    with pytest.raises(AssertionError, match=r"x has shape \(3,\), expected \(2,\)"):
        check_close("x", np.zeros(3), np.zeros(2))
    with pytest.raises(AssertionError, match=r"x should be a number or an array of numbers, got"):
        check_close("x", {"a": 1}, 1.0)
    with pytest.raises(AssertionError, match=r"x = nan, expected 1"):
        check_close("x", float("nan"), 1.0)
    with pytest.raises(AssertionError, match=r"x is None: does your function end with a return\?"):
        check_close("x", None, 1.0)


def test_compare_trajectories_names_the_first_differing_step():
    compare_trajectories([14.0, 13.0, 12.1], np.array([14.0, 13.0, 12.1]))
    with pytest.raises(AssertionError, match=r"^step 2: x = 12\.5, expected 12\.1$"):
        compare_trajectories([14.0, 13.0, 12.5, 0.0], [14.0, 13.0, 12.1, 11.29])
    with pytest.raises(AssertionError, match=r"expected 4 values \(x_0 to x_3\), got 3"):
        compare_trajectories([14.0, 13.0, 12.1], [14.0, 13.0, 12.1, 11.29])
    with pytest.raises(AssertionError, match="expected a list of iterates, got float"):
        compare_trajectories(14.0, [14.0])


# ------------------------------------------------------------------------------------------------
# compare_steps with student-style (dict state) implementations
# ------------------------------------------------------------------------------------------------


def adam_init(x):
    zeros = np.zeros_like(np.asarray(x, dtype=float))
    return {"t": 0, "m": zeros, "v": zeros}


def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True):
    b1, b2 = betas
    grad = np.asarray(grad, dtype=float)
    t = state["t"] + 1
    m = b1 * state["m"] + (1 - b1) * grad
    v = b2 * state["v"] + (1 - b2) * grad**2
    m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if bias_correction else (m, v)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}


def in_place_adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    new_x, new_state = adam_step(x, grad, state, lr, betas, eps)
    if isinstance(x, np.ndarray):
        x -= x - new_x  # updates the caller's array: must not disturb the reference run
        return x, new_state
    return new_x, new_state


SETTING = {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-8}


def grads(shape=(3,), steps=12, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(steps)]


def test_compare_steps_accepts_a_correct_implementation_even_in_place():
    for step in (adam_step, in_place_adam_step):
        compare_steps(step, adam_init, Adam(**SETTING), np.ones(3), grads(),
                      hyperparameters=SETTING, state_fields={"m": "m", "v": "v", "t": "t"})
    compare_steps(adam_step, adam_init, Adam(**SETTING), 2.0, [float(g) for g in grads(())],
                  hyperparameters=SETTING, state_fields={"m": "m"})


def test_compare_steps_reports_step_settings_and_values():
    def no_correction(x, grad, state, **kwargs):
        return adam_step(x, grad, state, bias_correction=False, **kwargs)

    message = (r"^step 1 \(lr=0\.1, betas=\(0\.8, 0\.99\), eps=1e-08; x of shape \(3,\)\): "
               r"x = \[.*\], expected \[.*\]$")
    with pytest.raises(AssertionError, match=message):
        compare_steps(no_correction, adam_init, Adam(**SETTING), np.ones(3), grads(),
                      hyperparameters=SETTING)


def test_compare_steps_explains_malformed_results():
    def returns_x_only(x, grad, state, **kwargs):
        return adam_step(x, grad, state, **kwargs)[0]

    def tuple_state(x, grad, state, **kwargs):
        new_x, new_state = adam_step(x, grad, state, **kwargs)
        return new_x, tuple(new_state.values())

    def raises_on_step_3(x, grad, state, **kwargs):
        if state["t"] == 2:
            raise ZeroDivisionError("oops")
        return adam_step(x, grad, state, **kwargs)

    cases = [(returns_x_only, r"step 1 .*: your function must return \(x, state\), got ndarray"),
             (tuple_state, r"step 1 .*: the state should be a dict with key 'm'"),
             (raises_on_step_3, r"step 3 .*: your function raised ZeroDivisionError: oops")]
    for step, message in cases:
        with pytest.raises(AssertionError, match=message):
            compare_steps(step, adam_init, Adam(**SETTING), np.ones(3), grads(),
                          hyperparameters=SETTING, state_fields={"m": "m"})


@settings(max_examples=40, deadline=None)
@given(lr=st.floats(1e-4, 1.0), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999),
       eps=st.floats(1e-10, 1.0), seed=st.integers(0, 2**16),
       shape=st.sampled_from([(), (1,), (2, 3)]))
def test_compare_steps_agrees_with_the_reference_and_rejects_the_missing_correction(
        lr, beta1, beta2, eps, seed, shape):
    setting = {"lr": lr, "betas": (beta1, beta2), "eps": eps}
    gradients = grads(shape, steps=6, seed=seed)
    x0 = np.ones(shape) if shape else 1.0
    if not shape:
        gradients = [float(g) for g in gradients]
    compare_steps(adam_step, adam_init, Adam(**setting), x0, gradients, hyperparameters=setting,
                  state_fields={"m": "m", "v": "v", "t": "t"})
    if beta1 > 0.05 and max(np.max(np.abs(g)) for g in gradients) > 1e-3:
        with pytest.raises(AssertionError, match=r"^step 1 "):
            compare_steps(lambda x, g, s, **k: adam_step(x, g, s, bias_correction=False, **k),
                          adam_init, Adam(**setting), x0, gradients, hyperparameters=setting)


# ------------------------------------------------------------------------------------------------
# The reference guard: every way in is caught
# ------------------------------------------------------------------------------------------------

_module_alias = optim
_AdamAlias = Adam
_REGISTRY = {"adam": Adam}
_INSTANCE = Adam(lr=0.1)


def _reference_adam(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    reference = Adam(lr=lr, betas=betas, eps=eps)
    zeros = np.zeros_like(np.asarray(x, dtype=float))
    new_x, s = reference.step(x, grad, AdamState(state["t"], state["m"], state["v"], zeros))
    return new_x, {"t": s.t, "m": s.m, "v": s.v}


def via_alias(x, grad, state, **kw):
    return _AdamAlias(**kw).step(x, grad, Adam().init(x))[0], state


def via_module_alias(x, grad, state, **kw):
    return _module_alias.Adam(**kw).step(x, grad, _module_alias.Adam().init(x))[0], state


def via_dotted_package(x, grad, state, **kw):
    import gdcourse

    return gdcourse.optim.Adam(**kw).step(x, grad, gdcourse.optim.Adam().init(x))[0], state


def via_importlib(x, grad, state, **kw):
    module = importlib.import_module("gdcourse." + "optim")
    cls = getattr(module, "Ad" + "am")
    return cls(**kw).step(x, grad, cls().init(x))[0], state


def via_dunder_import(x, grad, state, **kw):
    cls = __import__("gdcourse.optim", fromlist=["Adam"]).Adam
    return cls(**kw).step(x, grad, cls().init(x))[0], state


def via_registry(x, grad, state, **kw):
    cls = _REGISTRY["adam"]
    return cls(**kw).step(x, grad, cls().init(x))[0], state


def via_get_optimizer(x, grad, state, **kw):
    reference = sys.modules["gdcourse.optim"].get_optimizer("adam", **kw)
    return reference.step(x, grad, reference.init(x))[0], state


def via_instance(x, grad, state, **kw):
    return _INSTANCE.step(x, grad, _INSTANCE.init(x))[0], state


def via_default(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, helper=Adam):
    return helper(lr=lr).step(x, grad, helper().init(x))[0], state


def _make_closure():
    helper = Adam

    def via_closure(x, grad, state, **kw):
        return helper(**kw).step(x, grad, helper().init(x))[0], state

    return via_closure


via_closure = _make_closure()


def via_thread(x, grad, state, **kw):
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=sys.modules["gdcourse.optim"].Adam(**kw)))
    worker.start()
    worker.join()
    return x, state


def via_exec(x, grad, state, **kw):
    scope = {"x": x, "grad": grad}
    exec("import gdcourse.optim as o\nr = o.Adam().step(x, grad, o.Adam().init(x))[0]", scope)
    return scope["r"], state


def via_partial(x, grad, state, **kw):
    step = functools.partial(_reference_adam, lr=kw["lr"])
    return step(x, grad, state, betas=kw["betas"], eps=kw["eps"])


def via_branch_not_taken(x, grad, state, **kw):
    if state["t"] > 10**6:  # never true in a test: only the static check sees this
        return _AdamAlias(**kw).step(x, grad, state)
    return adam_step(x, grad, state, **kw)


def via_nested_lambda(x, grad, state, **kw):
    reference = (lambda: _AdamAlias(**kw))()  # the reference is named in a nested code object
    return reference.step(x, grad, reference.init(x))[0], state


CHEATS = [_reference_adam, via_alias, via_module_alias, via_dotted_package, via_importlib,
          via_dunder_import, via_registry, via_get_optimizer, via_instance, via_default,
          via_closure, via_thread, via_exec, via_partial, via_branch_not_taken, via_nested_lambda]


@pytest.mark.parametrize("cheat", CHEATS, ids=lambda f: f.__name__)
def test_every_way_of_calling_the_reference_is_caught(cheat):
    with pytest.raises(ReferenceCallError, match="called the reference implementation"):
        compare_steps(cheat, adam_init, Adam(**SETTING), np.ones(3), grads(),
                      hyperparameters=SETTING)
    with pytest.raises(ReferenceCallError, match="called the reference implementation"):
        guarded(cheat, "adam_step")(np.ones(3), np.ones(3), adam_init(np.ones(3)), **SETTING)


def test_static_check_names_what_it_found():
    assert forbidden_references(via_alias) == ["_AdamAlias", "Adam"]
    assert forbidden_references(via_module_alias) == ["_module_alias", "_module_alias.Adam"]
    assert forbidden_references(via_closure) == ["helper"]
    assert forbidden_references(via_nested_lambda) == ["_AdamAlias"]
    assert forbidden_references(adam_step) == []
    assert forbidden_references(via_importlib) == []  # only the dynamic guard sees this one
    assert forbidden_references(functools.partial(adam_step, lr=0.1)) == []


def test_guard_is_not_fooled_by_swallowing_the_error():
    def swallow(x):
        with contextlib.suppress(TypeError):
            Adam().step(x, x, (0,))  # raises TypeError inside the reference
        return x

    with pytest.raises(ReferenceCallError):
        guarded(swallow)(1.0)


def test_guard_detects_removal_of_the_hook_and_restores_the_previous_one():
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        with pytest.raises(ReferenceCallError, match="changed the profiling hook"), \
                no_reference_calls("f"):
            sys.setprofile(None)
        assert sys.getprofile() is profiler
        with pytest.raises(ReferenceCallError, match="changed the profiling hook"), \
                no_reference_calls("f"):
            threading.setprofile(None)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def test_fake_torch_optim_is_caught_however_imported(tmp_path, monkeypatch):
    package = tmp_path / "torch"
    (package / "optim").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "optim" / "__init__.py").write_text("from .adam import Adam\n")
    (package / "optim" / "adam.py").write_text(
        "class Adam:\n    def step(self):\n        return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = {name: sys.modules.pop(name) for name in list(sys.modules)
             if name.split(".")[0] == "torch"}
    try:
        import torch.optim as topt

        def uses_torch():
            return topt.Adam().step()

        assert forbidden_references(uses_torch) == ["topt", "topt.Adam"]
        with pytest.raises(ReferenceCallError, match=r"step in .*torch/optim/adam\.py"), \
                no_reference_calls("f"):
            importlib.import_module("torch.optim").Adam().step()
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "torch"]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_no_false_alarm_on_honest_code_and_other_modules():
    from gdcourse.losses import Parabola

    def honest(x):
        return np.sqrt(np.asarray(x) ** 2 + 1.0).sum() + Parabola().grad(3.0)

    assert guarded(honest)(np.ones(2)) == pytest.approx(2 * np.sqrt(2) - 1.0)
    with pytest.raises(ReferenceCallError, match=r"gdcourse\.losses"):
        guarded(honest, forbid=("gdcourse.losses",))(np.ones(2))
    with no_reference_calls("f"):
        Momentum  # naming a class is not calling it  # noqa: B018
    assert guarded(lambda: 42)() == 42
    with pytest.raises(TypeError, match="forbid must name modules"):
        guarded(honest, forbid=())


def test_errors_raised_by_honest_code_pass_through_unchanged():
    def broken(x):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        guarded(broken)(1.0)


def test_fresh_rng_differs_per_run_unless_a_seed_is_set(monkeypatch):
    monkeypatch.delenv(grading.SEED_VARIABLE, raising=False)
    assert fresh_rng().integers(2**62) != fresh_rng().integers(2**62)
    monkeypatch.setenv(grading.SEED_VARIABLE, "1234")
    assert fresh_rng().integers(2**62) == np.random.default_rng(1234).integers(2**62)


# ------------------------------------------------------------------------------------------------
# check_all: the summary cell at the end of every exercise
# ------------------------------------------------------------------------------------------------


def summary_lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_check_all_prints_one_line_per_question_and_the_total(capsys):
    namespace = {"np": np, "grading": grading, "double": lambda x: 2 * x}
    grading.check_all([
        ("Question 1: doubling", 3, "grading.check_close('double(2)', double(2.0), 4.0)"),
        ("Question 2: doubling arrays", 2.5,
         "grading.check_close('double([1, 2])', double(np.array([1.0, 2.0])), [2.0, 5.0])"),
        ("Question 3: one point", 1, "assert double(0) == 0"),
    ], namespace)
    assert summary_lines(capsys) == [
        "Question 1: doubling (3 points): passed",
        "Question 2: doubling arrays (2.5 points): failed: AssertionError: double([1, 2]) = "
        "[2. 4.], expected [2. 5.]",
        "Question 3: one point (1 point): passed",
        "Visible tests passed: 4 of 6.5 points (the grade also counts hidden tests).",
    ]


def test_check_all_runs_every_question_whatever_the_one_before_raised(capsys):
    def stub(x):
        raise NotImplementedError()

    namespace = {"stub": stub}
    grading.check_all([
        ("Q1", 2, "stub(1)"),  # not answered yet
        ("Q2", 2, "undefined_function(1)"),  # its cell was not run
        ("Q3", 2, "import sys\nsys.exit(3)"),  # a student's exit stops that question only
        ("Q4", 2, "def broken(:\n    pass"),  # an edited cell that does not parse
        ("Q5", 2, "raise ValueError('first line\\nsecond line')"),
        ("Q6", 1, "result = 42"),
    ], namespace)
    lines = summary_lines(capsys)
    assert lines[0] == "Q1 (2 points): failed: not answered yet (NotImplementedError)"
    assert lines[1] == ("Q2 (2 points): failed: NameError: name 'undefined_function' is not "
                        "defined (run the cells above first)")
    assert lines[2] == "Q3 (2 points): failed: SystemExit: 3"
    assert lines[3].startswith("Q4 (2 points): failed: SyntaxError: ")
    assert lines[4] == "Q5 (2 points): failed: ValueError: first line"
    assert lines[5] == "Q6 (1 point): passed"
    assert lines[6] == "Visible tests passed: 1 of 11 points (the grade also counts hidden tests)."
    assert namespace["result"] == 42  # the tests ran in the namespace given


def test_check_all_runs_in_the_callers_namespace_by_default(capsys):
    global _check_all_probe
    _check_all_probe = 1
    grading.check_all([("Q", 1, "assert _check_all_probe == 1\n_check_all_probe = 2")])
    assert summary_lines(capsys)[0] == "Q (1 point): passed"
    assert _check_all_probe == 2


def test_check_all_lets_keyboard_interrupt_through(capsys):
    with pytest.raises(KeyboardInterrupt):
        grading.check_all([("Q", 1, "raise KeyboardInterrupt")], {})


def test_check_all_keeps_long_messages_to_one_short_line(capsys):
    grading.check_all([("Q", 1, "raise AssertionError('x' * 1000)")], {})
    line = summary_lines(capsys)[0]
    assert line.startswith("Q (1 point): failed: AssertionError: xxx")
    assert line.endswith("...")
    assert len(line) < 340


@pytest.mark.parametrize(("questions", "namespace", "error", "message"), [
    ("assert True", {}, TypeError, "questions must be a list"),
    ([("Q", 1)], {}, TypeError, r"questions\[0\] must be a \(name, points, code\) triple"),
    ([("", 1, "pass")], {}, TypeError, r"questions\[0\]: the name"),
    ([("Q", "3", "pass")], {}, TypeError, r"questions\[0\]: points must be a number"),
    ([("Q", True, "pass")], {}, TypeError, r"questions\[0\]: points must be a number"),
    ([("Q", 1, "pass"), ("R", -1, "pass")], {}, ValueError, r"questions\[1\]: points must be"),
    ([("Q", float("nan"), "pass")], {}, ValueError, r"questions\[0\]: points must be finite"),
    ([("Q", 1, print)], {}, TypeError, r"questions\[0\]: the code must be a string"),
    ([("Q", 1, "pass")], [], TypeError, "namespace must be a dict"),
])
def test_check_all_rejects_bad_arguments_by_name(questions, namespace, error, message, capsys):
    with pytest.raises(error, match=message):
        grading.check_all(questions, namespace)
    assert capsys.readouterr().out == ""  # nothing ran

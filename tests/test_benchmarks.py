"""The benchmark suite's own arithmetic and command line (the benchmarks run with `make bench`,
never in `make test`: here only what decides a row's verdict is checked)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from benchmarks import _per_call, _timing, chapters, grading
from benchmarks.__main__ import GROUPS, print_table
from gdcourse import optim


def test_linearity_is_one_for_a_fixed_cost_plus_a_constant_cost_per_notebook():
    # 12 s to start, 0.7 s per notebook: s/notebook falls with the class, the marginal cost not
    points = [(n, 12.0 + 0.7 * n) for n in (20, 40, 80)]
    assert grading.linearity(points) == pytest.approx(1.0)
    assert grading.linearity(list(reversed(points))) == pytest.approx(1.0)


def test_linearity_exposes_a_cost_per_notebook_that_grows_with_the_class():
    quadratic = [(n, 5.0 + 0.01 * n * n) for n in (20, 40, 80)]
    assert grading.linearity(quadratic) == pytest.approx(2.0)  # 1.2 s / 0.6 s per notebook
    assert not grading.LINEAR[0] <= grading.linearity(quadratic) <= grading.LINEAR[1]
    with pytest.raises(ValueError, match="at least 3 class sizes"):
        grading.linearity([(20, 1.0), (40, 2.0)])


def test_class_sizes_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GDCOURSE_BENCH_STUDENTS", "40, 10,20,10")
    assert grading._sizes() == [10, 20, 40]
    monkeypatch.setenv("GDCOURSE_BENCH_STUDENTS", "0,5")
    with pytest.raises(ValueError, match="GDCOURSE_BENCH_STUDENTS"):
        grading._sizes()


def test_table_lists_every_row_and_column(capsys):
    rows = [{"group": "g", "benchmark": "a", "value": 1.23456, "unit": "ms", "target": "< 2 ms",
             "ok": True},
            {"group": "g", "benchmark": "b", "value": 3.0, "unit": "x", "target": "", "ok": None,
             "ratio_vs_torch": 1.5}]
    print_table(rows)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["group", "benchmark", "value", "unit", "target", "ok",
                                "ratio_vs_torch"]
    assert lines[2].split() == ["g", "a", "1.23", "ms", "<", "2", "ms", "True", "-"]
    assert lines[3].split() == ["g", "b", "3", "x", "-", "1.5"]


def test_command_line_knows_every_group_and_refuses_others():
    run = subprocess.run([sys.executable, "-m", "benchmarks", "no-such-group"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert "invalid choice" in run.stderr
    assert GROUPS == ["optimizers", "training", "widgets", "chapters", "book", "grading"]
    for group in GROUPS:
        assert (ROOT / "benchmarks" / f"{group}.py").exists()


# ------------------------------------------------------------- optimizers on the book's sizes


@pytest.mark.parametrize("name", sorted(_per_call.CASES))
def test_plain_lines_are_the_same_equations_as_the_optimizer(name):
    # the ratio to "plain NumPy lines" only measures overhead if both compute the same thing
    optimizer, plain, *_ = _per_call.CASES[name]
    rng = np.random.default_rng(3)
    x, grads = rng.normal(size=5), rng.normal(size=(30, 5))
    assert _per_call.ours(optimizer, x, grads).tobytes() == plain(x, grads).tobytes()
    assert not np.array_equal(plain(x, grads), x)  # and it moved


def test_plain_momentum_writes_the_dampened_equation_the_class_prints():
    # b = mu * b + (1 - tau) * g, as Momentum's source shows it: with tau = 0 the factor is
    # exactly 1, so the default comparison costs the same operations on both sides
    rng = np.random.default_rng(4)
    x, grads = rng.normal(size=5), rng.normal(size=(30, 5))
    ours = _per_call.ours(optim.Momentum(dampening=0.3), x, grads)
    assert ours.tobytes() == _per_call.plain_momentum(x, grads, tau=0.3).tobytes()
    assert not np.array_equal(ours, _per_call.plain_momentum(x, grads))


@pytest.mark.parametrize("name", sorted(_per_call.CASES))
def test_unchecked_steps_are_the_checked_steps_without_the_check(name):
    # the same update, bit for bit, and a wrong shape is no longer caught: what the check buys
    optimizer = _per_call.CASES[name][0]
    rng = np.random.default_rng(5)
    x, grads = rng.normal(size=4), list(rng.normal(size=(10, 4)))
    assert (_per_call.unchecked(optimizer, x, grads).tobytes()
            == _per_call.ours(optimizer, x, grads).tobytes())
    with pytest.raises(ValueError, match="grad must have the shape of x"):
        _per_call.ours(optimizer, x, [np.ones(1)])
    assert _per_call.unchecked(optimizer, x, [np.ones(1)]).shape == x.shape  # broadcast, silently


@pytest.mark.parametrize("name", ["GD", "Adam"])
def test_interface_floor_does_no_arithmetic_and_builds_the_optimizers_state(name):
    # the floor times a call and a fresh state tuple per step, nothing of the update itself
    optimizer = _per_call.CASES[name][0]
    x, grads = np.arange(3.0), np.ones((4, 3))
    built = []
    state_type = type(optimizer.init(x))
    original_new = state_type.__new__

    def counting_new(cls, *fields, **named):
        built.append(cls)
        return original_new(cls, *fields, **named)

    state_type.__new__ = counting_new
    try:
        params = _per_call.interface_floor(optimizer, x, list(grads))()
    finally:
        state_type.__new__ = original_new
    assert params is x
    assert built == [state_type] * 5  # init, then one per step


def test_per_call_verdict_needs_both_targets():
    assert _per_call.verdict(1.5, None)
    assert not _per_call.verdict(1.51, None)
    assert _per_call.verdict(1.2, 3.0)
    assert not _per_call.verdict(1.2, 2.9)
    assert not _per_call.verdict(1.6, 10.0)


@pytest.mark.slow  # times every optimizer, and torch when installed
def test_per_call_rows_report_ratios_and_their_verdicts(monkeypatch):
    monkeypatch.setattr(_per_call, "SIZES", (2, 100))
    monkeypatch.setattr(_per_call, "STEPS", 20)
    rows = _per_call.run(repeats=3)
    assert [r["benchmark"] for r in rows] == [
        f"{name} step, {size} float64" for size in (2, 100) for name in _per_call.CASES]
    for r in rows:
        assert r["value"] > 0 and r["plain_us"] > 0
        assert r["ratio_vs_plain"] == pytest.approx(r["value"] / r["plain_us"])
        if r["torch_us"] is not None:
            assert r["benchmark"].endswith(", 2 float64")
            assert r["torch_over_ours"] == pytest.approx(r["torch_us"] / r["value"])
        assert r["ok"] == _per_call.verdict(r["ratio_vs_plain"], r["torch_over_ours"])
        assert r["interface_floor_ratio"] > 1.0  # plain lines plus a call cost more than the lines
        assert r["unchecked_ratio"] > 0


# ------------------------------------------------------------------------------- chapters


def test_chapter_rows_judge_time_and_memory():
    fast, heavy = chapters.chapter_rows("01_x", 14.9, 9.0, 499.0)
    assert fast["benchmark"] == "01_x execute" and fast["unit"] == "s"
    assert fast["ok"] and heavy["ok"]
    assert fast["kernel_cpu_s"] == 9.0
    slow, fat = chapters.chapter_rows("09_y", 15.0, 12.0, 500.0)
    assert not slow["ok"] and not fat["ok"]


@pytest.mark.slow
def test_a_chapter_runs_in_a_fresh_kernel_and_is_measured():
    path = chapters.BOOK / "03_learning_rate.ipynb"
    seconds, cpu_seconds, megabytes = chapters._run(path)
    assert 0 < cpu_seconds < seconds  # the kernel's own work, inside the wall time
    assert 50 < megabytes < 2000


def test_interleaved_timing_runs_every_function_once_per_round():
    # side by side in time: a, b, a, b, ... after the warm-up rounds, one median per function
    calls = []
    medians = _timing.interleaved_median_seconds(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert set(medians) == {"a", "b"} and all(seconds >= 0 for seconds in medians.values())


def test_interleaved_timing_medians_follow_each_functions_cost():
    import time

    medians = _timing.interleaved_median_seconds(
        {"short": lambda: None, "long": lambda: time.sleep(0.005)}, repeats=5, warmup=0)
    assert medians["long"] >= 0.005 > medians["short"]

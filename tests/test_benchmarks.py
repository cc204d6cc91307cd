"""The benchmark suite's own arithmetic and command line (the benchmarks run with `make bench`,
never in `make test`: here only what decides a row's verdict is checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from benchmarks import grading
from benchmarks.__main__ import GROUPS, print_table


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

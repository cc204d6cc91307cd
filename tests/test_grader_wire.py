"""The data that crosses the trust boundary (gdcourse.grader.wire): exact round trips for plain
data, refusals (NotData) for everything else, whatever the sending side claims."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gdcourse import optim
from gdcourse.grader import wire
from gdcourse.grader.check import SourceChecks, _write_back, visible_part


def round_trip(value, **kwargs):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value, **kwargs))))


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 0.1, float("inf"), "text", [1, [2.5, "x"]], (1.0, (2, None)),
    {"m": np.arange(6.0).reshape(2, 3), "t": 3}, np.float64(1 / 3), np.int64(7), np.bool_(True),
    np.array([np.nan, 1e-300, -0.0]), np.zeros((0, 3)), np.arange(10_000, dtype=np.int32),
    np.array([1 + 2j]), np.random.default_rng(5).normal(size=(3, 4)),
])
def test_plain_data_comes_back_exactly(value):
    back = round_trip(value)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray | np.generic):
        assert back.dtype == value.dtype and np.shape(back) == np.shape(value)
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, dict):
        assert back.keys() == value.keys()
        np.testing.assert_array_equal(back["m"], value["m"])
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        assert back == value


def test_optimizers_and_generators_are_rebuilt():
    adam = optim.Adam(lr=0.01, betas=(0.8, 0.9))
    assert round_trip(adam) == adam
    generator = np.random.default_rng(42)
    generator.random()
    copy = round_trip(generator)
    assert copy.random() == generator.random()


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = None  # as Python makes it for a class defining __eq__ only: said here


class Sneaky(np.ndarray):
    pass


class FakeFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = None  # as Python makes it for a class defining __eq__ only: said here


@pytest.mark.parametrize(("value", "says"), [
    (AlwaysEqual(), "AlwaysEqual"),
    (np.zeros(3).view(Sneaky), "NumPy subclass"),
    (FakeFloat(1.0), "FakeFloat"),
    (np.zeros(wire.MAX_ELEMENTS + 1, dtype=np.int8), "elements"),
    (np.array(["a"]), "dtype"),
    (np.array([object()], dtype=object), "dtype"),
    ({1: 2}, "keys"),
    (lambda: 1, "function"),
])
def test_non_data_is_refused_with_a_reason(value, says):
    with pytest.raises(wire.NotData, match=says):
        wire.encode(value)


def test_recursive_structures_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(wire.NotData, match="nested"):
        wire.encode(loop)


@pytest.mark.parametrize("text", [
    '{"__gd_dict__": {"a": 1}, "extra": 2}',  # two keys: not a tagged value
    '{"a": 1}',  # an untagged dict (a student's dict pretending to be data)
    '{"__gd_optimizer__": ["Oracle", {}]}',  # not an optimizer of gdcourse.optim
    '{"__gd_list_array__": ["object", [1], [1]]}',
    '{"__gd_list_array__": ["float64", [2], [1.0, "x"]]}',
    '{"__gd_array__": "bm90IGFuIGFycmF5"}',
    '{"__gd_callback__": 0}',  # only the kernel's side may rebuild callbacks
    'NaN',
])
def test_malformed_or_spoofed_data_is_refused(text):
    with pytest.raises(wire.NotData):
        wire.decode(wire.loads(text))


def test_pickled_arrays_are_refused():
    import base64
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    text = json.dumps({"__gd_array__": base64.b64encode(buffer.getvalue()).decode()})
    with pytest.raises(wire.NotData):
        wire.decode(wire.loads(text))


def test_changes_made_in_place_come_back():
    params = {"W": np.zeros(2), "b": [1, 2]}
    _write_back(params, {"W": np.ones(2), "b": [3, 4], "new": 1.0})
    assert params["W"].tolist() == [1.0, 1.0] and params["b"] == [3, 4] and params["new"] == 1.0
    generator, moved = np.random.default_rng(1), np.random.default_rng(1)
    moved.random()
    _write_back(generator, moved)
    assert generator.random() == moved.random()


def test_source_checks_split_a_notebook_like_the_release():
    import nbformat
    from conftest import ROOT

    source = nbformat.read(ROOT / "solutions" / "ch08_adam" / "ch08_adam.ipynb", as_version=4)
    checks = SourceChecks(source)
    assert checks.student_names == ["adam_step", "adamw_step", "uncorrected_step_ratio"]
    assert set(checks.tests) == {"q1-tests", "q2-tests", "q3-tests"}
    assert "HIDDEN" not in visible_part(checks.tests["q1-tests"])
    assert "grading.compare_steps" in checks.tests["q1-tests"]

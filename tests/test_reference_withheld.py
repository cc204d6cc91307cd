"""The reference implementations are withheld from the grading kernel, by design.

A hidden check rejects a student's function that calls the reference it is compared with
(``gdcourse.optim``, ``torch.optim``, and what each question names in ``forbid=``). The guard in
:mod:`gdcourse.grading` runs in the student's kernel, where the student can switch it off, so the
score does not depend on it: the sandbox mounts a copy of ``gdcourse`` in which the withheld
modules are stubs (:func:`gdcourse.grader.sandbox.build_package`), covers withheld third-party
modules and the unused site-packages of the base interpreter, and no code in the kernel can reach
the reference. Attackers who switch the guard off and then look for the reference every way they
can are graded through the real pipeline and score 0; each attack is first shown to find the
reference where it is reachable (the same code, run outside the sandbox).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS
from test_grade_pipeline import correct, submission

from gdcourse.grade import grade
from gdcourse.grader import sandbox

A = "ch08_adam"
WRONG = ANSWERS[A]["q1-answer"]["no bias correction"]

# Each attack first switches the in-kernel guard off, then runs one way of finding the reference
# Adam; ``_found`` holds the class if it worked. The answer then steps with the reference.
DISARM = """
import contextlib, sys
from gdcourse import grading as _grading
_grading.no_reference_calls = lambda *args, **kwargs: contextlib.nullcontext()
_grading._check_no_references = lambda *args, **kwargs: None
_grading.forbidden_references = lambda *args, **kwargs: []
sys.setprofile(None)
_found = None
"""

ROUTES = {
    "plain-import": """
try:
    from gdcourse.optim import Adam as _found
except Exception as _error:
    print("plain import:", type(_error).__name__)
""",
    "restores-sys-modules": """
import importlib, sys
for _name in [n for n in sys.modules if n == "gdcourse" or n.startswith("gdcourse.")]:
    if _name not in ("gdcourse.grading", "gdcourse.grader", "gdcourse.grader.kernel_side",
                     "gdcourse.grader.wire"):
        del sys.modules[_name]
importlib.invalidate_caches()
try:
    import gdcourse.optim
    _found = importlib.reload(gdcourse.optim).Adam
except Exception as _error:
    print("sys.modules:", type(_error).__name__)
""",
    "by-file-path": """
import glob, importlib.util, marshal, os, sys, types
import gdcourse
_folder = os.path.dirname(gdcourse.__file__)
for _path in [os.path.join(_folder, "optim.py"), *glob.glob(os.path.join(_folder, "__pycache__", "optim*.pyc"))]:
    try:
        if _path.endswith(".pyc"):
            _module = types.ModuleType("_stolen_pyc")
            with open(_path, "rb") as _handle:
                exec(marshal.loads(_handle.read()[16:]), _module.__dict__)
        else:
            _spec = importlib.util.spec_from_file_location("_stolen_optim", _path)
            _module = importlib.util.module_from_spec(_spec)
            sys.modules["_stolen_optim"] = _module
            _spec.loader.exec_module(_module)
        _found = _found or getattr(_module, "Adam", None)
    except Exception as _error:
        print("file path:", type(_error).__name__)
""",
    "copies-from-site-packages": """
import importlib.util, os, site, sys, time
_roots = [os.path.dirname(os.path.dirname(__import__("gdcourse").__file__)), sys.base_prefix,
          sys.prefix, *site.getsitepackages(), "/usr/lib", "/usr/local/lib", "/opt", "/root",
          "/work", "/tmp", "/home"]
_end = time.monotonic() + 20
for _root in _roots:
    for _dir, _subdirs, _files in os.walk(_root):
        if time.monotonic() > _end or _found is not None:
            break
        if "optim.py" in _files and os.path.basename(_dir) == "gdcourse":
            try:
                _text = open(os.path.join(_dir, "optim.py")).read()
                if "class Adam" in _text:
                    _spec = importlib.util.spec_from_file_location("_copied_optim", os.path.join(_dir, "optim.py"))
                    _module = importlib.util.module_from_spec(_spec)
                    sys.modules["_copied_optim"] = _module
                    _spec.loader.exec_module(_module)
                    _found = _module.Adam
            except Exception as _error:
                print("copy:", type(_error).__name__)
""",
    "importlib-tricks": """
import gc, importlib, importlib.util, pkgutil, sys
import gdcourse
for _attempt in (lambda: importlib.import_module("gdcourse.optim").Adam,
                 lambda: vars(importlib.import_module("gdcourse.optim"))["Adam"],
                 lambda: object.__getattribute__(sys.modules["gdcourse.optim"], "Adam"),
                 lambda: importlib.util.find_spec("gdcourse.optim").loader.get_source("gdcourse.optim"),
                 lambda: pkgutil.get_data("gdcourse", "optim.py").decode(),
                 lambda: next(o for o in gc.get_objects() if isinstance(o, type) and o.__name__ == "Adam"
                              and hasattr(o, "step"))):
    try:
        _got = _attempt()
    except Exception as _error:
        print("importlib:", type(_error).__name__)
        continue
    if isinstance(_got, str) and "class Adam" in _got:
        _namespace = {"__name__": "_from_source"}
        try:
            exec(compile(_got, "optim", "exec"), _namespace)
            _got = _namespace.get("Adam")
        except Exception as _error:
            print("importlib source:", type(_error).__name__)
            _got = None
    if isinstance(_got, type):
        _found = _got
        break
""",
}

# Steps with the reference when one was found, else with the wrong answer above it.
USE_REFERENCE = """
_wrong_step = adam_step
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    if _found is None:
        return _wrong_step(x, grad, state, lr=lr, betas=betas, eps=eps)
    optimizer = _found(lr=lr, betas=betas, eps=eps)
    reference_state = optimizer.init(x)._replace(t=state["t"], m=state["m"], v=state["v"])
    x, new = optimizer.step(x, grad, reference_state)
    return x, {"t": new.t, "m": new.m, "v": new.v}
print("reference found:", _found is not None)
"""


def _attack(route: str) -> str:
    return DISARM + ROUTES[route] + USE_REFERENCE


# ------------------------------------------------------------------------------------------------
# Which modules each assignment's kernel goes without
# ------------------------------------------------------------------------------------------------


def _withholding(assignment: str) -> sandbox.Withholding:
    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    return sandbox.withheld_modules(nbformat.read(path, as_version=4))


def test_every_assignment_withholds_the_reference_optimizers_it_does_not_use():
    for number in range(1, 11):
        assignment = next(p.name for p in (ROOT / "solutions").glob(f"ch{number:02d}_*"))
        found = _withholding(assignment)
        assert "torch.optim" in found.withheld, assignment
        if assignment in ("ch09_schedules", "ch10_training_loop"):  # their cells use optimizers
            assert found.reachable == ("gdcourse.optim",), (assignment, found)
        elif assignment == "ch04_minibatch":  # LinearRegression, linear_data: gdcourse.data
            assert found.reachable == ("gdcourse.data",), found
        else:
            assert "gdcourse.optim" in found.withheld and found.reachable == (), (assignment, found)
    assert "gdcourse.schedules" in _withholding("ch09_schedules").withheld
    assert {"scipy.optimize", "gdcourse.losses"} <= set(_withholding("ch01_gradients").withheld)
    assert {"torch", "gdcourse.run"} <= set(_withholding("ch10_training_loop").withheld)


def test_modules_the_notebook_imports_are_not_withheld():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from gdcourse.widgets import optimizer_explorer"),
        nbformat.v4.new_code_cell(
            "x = 1\n### BEGIN HIDDEN TESTS\nfrom gdcourse.optim import Adam\n"
            "grading.guarded(f, 'f', forbid=(*grading.REFERENCE_MODULES, 'gdcourse.run', "
            "'gdcourse.schedules'))\n### END HIDDEN TESTS\n")])
    found = sandbox.withheld_modules(notebook)
    # gdcourse.widgets imports gdcourse.optim and gdcourse.run as it loads: both must stay
    assert found == sandbox.Withholding(("gdcourse.schedules", "torch.optim"),
                                        ("gdcourse.optim", "gdcourse.run"))


def test_a_forbid_that_is_not_a_literal_withholds_the_reference_modules():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\ngrading.guarded(f, forbid=_computed())\n### END HIDDEN TESTS")])
    assert sandbox.withheld_modules(notebook).withheld == ("gdcourse.optim", "torch.optim")


# ------------------------------------------------------------------------------------------------
# The copy of the package, and what is mounted over the environment
# ------------------------------------------------------------------------------------------------


def _run_in(folder: Path, code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                         text=True, check=False, timeout=120,
                         env={"PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_the_package_copy_has_stubs_instead_of_the_withheld_modules(tmp_path):
    copy = sandbox.build_package(tmp_path, ["gdcourse.optim", "gdcourse.schedules", "torch.optim"])
    assert copy == tmp_path / "gdcourse"
    for name in ("optim", "schedules"):
        text = (copy / f"{name}.py").read_text()
        assert "withheld while grading" in text and "class Adam" not in text
        assert not list(copy.rglob(f"{name}.*.pyc"))
    assert (copy / "losses.py").read_text() == (sandbox.PACKAGE / "losses.py").read_text()
    out = _run_in(tmp_path, textwrap.dedent("""
        import gdcourse, gdcourse.optim, gdcourse.grading, gdcourse.grader.kernel_side
        from gdcourse.losses import Parabola
        print(gdcourse.__file__)
        try:
            from gdcourse.optim import Adam
        except ImportError as error:
            print(type(error).__name__, error)
        try:
            gdcourse.schedules.CosineAnnealing
        except ImportError as error:
            print(type(error).__name__, error)
        print(hasattr(gdcourse.optim, "__all__"))
    """))
    lines = out.splitlines()
    assert lines[0] == str(copy / "__init__.py")
    assert lines[1].startswith("WithheldError gdcourse.optim.Adam is withheld while grading")
    assert lines[2].startswith("WithheldError gdcourse.schedules.CosineAnnealing is withheld")
    assert lines[3] == "False"


def test_the_package_copy_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="whole gdcourse package"):
        sandbox.build_package(tmp_path, ["gdcourse"])
    with pytest.raises(TypeError, match="list of module names"):
        sandbox.build_package(tmp_path, "gdcourse.optim")
    with pytest.raises(sandbox.SandboxError, match="module names"):
        sandbox.withheld_from_environment({sandbox.WITHHELD_VARIABLE: "gdcourse.optim,a b"})
    assert sandbox.withheld_from_environment(
        {sandbox.WITHHELD_VARIABLE: " gdcourse.optim, torch.optim ,"}) == (
        "gdcourse.optim", "torch.optim")


def test_third_party_modules_are_covered_by_stubs(tmp_path):
    site = tmp_path / "site"
    (site / "fakeflow" / "optim").mkdir(parents=True)
    (site / "fakeflow" / "__init__.py").write_text("")
    (site / "fakeflow" / "optim" / "__init__.py").write_text("class Adam: pass\n")
    (site / "fakeflow" / "autodiff.py").write_text("def grad(f): return f\n")
    (site / "fakeflow" / "__pycache__").mkdir()
    (site / "fakeflow" / "__pycache__" / "autodiff.cpython-311.pyc").write_bytes(b"pyc")
    (site / "solo.py").write_text("x = 1\n")
    stubs = tmp_path / "stubs"
    arguments = sandbox.third_party_overlays(
        ["gdcourse.optim", "fakeflow.optim", "fakeflow.autodiff", "solo", "not_installed"],
        stubs, path=[str(site)])
    assert arguments == [
        "--ro-bind", str(stubs / "fakeflow.optim"), str(site / "fakeflow" / "optim"),
        "--ro-bind", str(stubs / "fakeflow.autodiff.py"), str(site / "fakeflow" / "autodiff.py"),
        "--ro-bind", "/dev/null", str(site / "fakeflow" / "__pycache__" / "autodiff.cpython-311.pyc"),
        "--ro-bind", str(stubs / "solo.py"), str(site / "solo.py")]
    # a module inside a withheld package goes with it (bwrap cannot mount inside the stub)
    assert sandbox.third_party_overlays(["fakeflow", "fakeflow.optim"], tmp_path / "more",
                                        path=[str(site)]) == [
        "--ro-bind", str(tmp_path / "more" / "fakeflow"), str(site / "fakeflow")]
    stub = (stubs / "fakeflow.optim" / "__init__.py").read_text()
    with pytest.raises(ImportError, match=r"fakeflow\.optim is withheld while grading"):
        exec(compile(stub, "stub", "exec"), {})


def test_the_command_line_mounts_the_copy_and_covers_unused_site_packages(tmp_path):
    connection = tmp_path / "ipc" / "kernel"
    connection.parent.mkdir()
    info = {"transport": "ipc", "ip": str(connection), "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": "k",
            "signature_scheme": "hmac-sha256"}
    file = tmp_path / "connection.json"
    file.write_text(json.dumps(info))
    (tmp_path / "work").mkdir()
    copy = sandbox.build_package(tmp_path / "shelf", ["gdcourse.optim"])
    command = sandbox.bwrap_command(file, tmp_path / "work", sandbox.Limits(), 7, copy,
                                    ["--ro-bind", "/dev/null", "/somewhere"])
    pairs = list(zip(command, command[1:], command[2:], strict=False))
    assert ("--ro-bind", str(copy), str(sandbox.PACKAGE)) in pairs
    assert ("--ro-bind", str(sandbox.PACKAGE), str(sandbox.PACKAGE)) not in pairs
    assert ("--ro-bind", "/dev/null", "/somewhere") in pairs
    for folder in sandbox.unused_site_packages():
        assert ("--perms", "0555", "--tmpfs") in [(a, b, c) for a, b, c in pairs] and \
            str(folder) in command


# ------------------------------------------------------------------------------------------------
# The attacks, shown to work where the reference is reachable ...
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in ROUTES if r != "copies-from-site-packages"])
def test_each_attack_finds_the_reference_where_it_is_reachable(route):
    code = DISARM + ROUTES[route] + "\nprint('FOUND', _found is not None and hasattr(_found, 'step'))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "FOUND True" in run.stdout, run.stdout


# ------------------------------------------------------------------------------------------------
# ... and scoring 0 through the real pipeline, where it is withheld
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    texts = {f"{A}/honest": submission(A, correct(A))}
    texts |= {f"{A}/{route}": submission(A, {"q1-answer": WRONG + "\n" + _attack(route)})
              for route in ROUTES}
    for assignment in ("ch04_minibatch", "ch09_schedules", "ch10_training_loop"):
        texts[f"{assignment}/honest"] = submission(assignment, correct(assignment))
    for key, text in texts.items():
        assignment, student = key.split("/")
        (folder / student).mkdir(exist_ok=True)
        (folder / student / f"{assignment}.ipynb").write_text(text)
    grading_dir = tmp_path_factory.mktemp("grading")
    results = grade(folder, [A, "ch04_minibatch", "ch09_schedules", "ch10_training_loop"],
                    grading_dir, timeout=40, workers=2, echo=lambda _line: None)
    return {(r.assignment, r.student): r for r in results}


@pytest.mark.slow
@pytest.mark.parametrize("route", list(ROUTES))
def test_a_student_who_reaches_for_the_reference_scores_zero(graded, route):
    result = graded[(A, route)]
    assert result.status == "graded", result.notes
    assert result.questions["q1-tests"] == [0.0, 6.0], result.notes


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [A, "ch04_minibatch", "ch09_schedules", "ch10_training_loop"])
def test_honest_students_keep_full_marks_with_the_reference_withheld(graded, assignment):
    result = graded[(assignment, "honest")]
    assert (result.status, result.score) == ("graded", result.max_score), result.notes
    assert result.notes == []


# ------------------------------------------------------------------------------------------------
# Single names: a name the checks take from a module the notebook needs (ch04's minibatches)
# ------------------------------------------------------------------------------------------------


def test_ch04_withholds_the_reference_minibatches_by_name():
    found = _withholding("ch04_minibatch")
    assert found.reachable == ("gdcourse.data",)
    assert found.names == ("gdcourse.data.minibatches",)
    assert found.modules == ("gdcourse.optim", "gdcourse.run", "torch.optim")
    assert found.withheld == found.modules + found.names  # what the sandbox is given
    for number in (1, 2, 3, 5, 6, 7, 8, 9, 10):  # no other assignment needs a name withheld
        assignment = next(p.name for p in (ROOT / "solutions").glob(f"ch{number:02d}_*"))
        assert _withholding(assignment).names == (), assignment


def _notebook(visible: str, hidden: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from gdcourse import grading\n" + visible),
        nbformat.v4.new_code_cell(
            "x = 1\n### BEGIN HIDDEN TESTS\n" + hidden + "\ngrading.guarded(f, 'f', forbid=("
            "*grading.REFERENCE_MODULES, 'gdcourse.data', 'gdcourse.run'))\n"
            "### END HIDDEN TESTS\n")])


@pytest.mark.parametrize(("visible", "hidden", "names"), [
    # the checks' reference, from a module the notebook needs: withheld by name
    ("from gdcourse.data import linear_data", "from gdcourse.data import minibatches",
     ("gdcourse.data.minibatches",)),
    ("import gdcourse.data", "import gdcourse.data as d\nd.minibatches(3, 1, rng)",
     ("gdcourse.data.minibatches",)),
    # through a re-export in a withheld module: followed to its definition
    ("from gdcourse.data import linear_data", "from gdcourse.run import minibatches",
     ("gdcourse.data.minibatches",)),
    # the notebook's own cells use it: it stays (import, attribute, string, star import)
    ("from gdcourse.data import linear_data, minibatches", "from gdcourse.data import minibatches",
     ()),
    ("import gdcourse.data as d\nd.minibatches", "from gdcourse.data import minibatches", ()),
    ("import gdcourse.data as d\ngetattr(d, 'minibatches')", "from gdcourse.data import minibatches",
     ()),
    ("from gdcourse.data import *", "from gdcourse.data import minibatches", ()),
    # a module of gdcourse that stays in the kernel uses it (the notebook needs gdcourse.run)
    ("from gdcourse.run import train", "from gdcourse.data import minibatches", ()),
    # other code of its module uses it (LinearRegression is a _Problem): it stays
    ("from gdcourse.data import linear_data", "from gdcourse.data import _Problem", ()),
])
def test_which_names_are_withheld(visible, hidden, names):
    found = sandbox.withholding(_notebook(visible, hidden))
    assert found.names == names, found
    assert "gdcourse.data" in found.reachable or "gdcourse.run" in found.reachable
    assert sandbox.withheld_modules is sandbox.withholding  # the old name still works


def test_a_withholding_refuses_bad_input():
    with pytest.raises(TypeError, match="tuples of dotted names"):
        sandbox.Withholding("gdcourse.optim", ())
    with pytest.raises(ValueError, match="must be among withheld"):
        sandbox.Withholding(("gdcourse.optim",), (), ("gdcourse.data.minibatches",))


# A small package, named gdcourse as the stub writer expects, with compiled files beside it
TOY = {
    "__init__.py": "from gdcourse import a, b\n",
    "a.py": '''"""A module with a reference in it."""
import functools


def helper(x):
    return x + 1


@functools.lru_cache
def ref(n):
    """SECRET-DOCSTRING"""
    return n * 12345  # SECRET-BODY


class Ref:
    marker = "SECRET-CLASS"


TABLE = {"SECRET-TABLE": 1}


def after(x):
    return helper(x) * 2
''',
    "b.py": "from gdcourse.a import ref\n\n\ndef uses_ref_later(n):\n    return ref(n)\n",
}


def _toy(tmp_path: Path) -> Path:
    import compileall

    package = tmp_path / "source" / "gdcourse"
    package.mkdir(parents=True)
    for name, text in TOY.items():
        (package / name).write_text(text)
    assert compileall.compile_dir(str(package), quiet=1)
    assert {p.name.split(".")[0] for p in (package / "__pycache__").iterdir()} == {
        "__init__", "a", "b"}
    return package


def test_the_stub_writer_cuts_single_names_out_of_a_package_copy(tmp_path):
    package = _toy(tmp_path)
    copy = sandbox.build_package(tmp_path / "shelf", ["gdcourse.b.ref", "gdcourse.a.Ref",
                                                      "gdcourse.a.TABLE"], package=package)
    # the re-export gdcourse.b.ref was followed to gdcourse.a.ref; nothing of the three is left
    for path in copy.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in (b"SECRET", b"12345") if s in data], path
    # a's compiled file is gone (it holds the original code), b's is kept
    assert sorted(p.name.split(".")[0] for p in (copy / "__pycache__").iterdir()) == [
        "__init__", "b"]
    original, text = (package / "a.py").read_text(), (copy / "a.py").read_text()
    assert len(text.splitlines()) == len(original.splitlines())  # lines keep their numbers
    assert text.splitlines()[-2] == original.splitlines()[-2] == "def after(x):"
    out = _run_in(tmp_path / "shelf", textwrap.dedent("""
        import importlib, inspect, linecache
        import gdcourse, gdcourse.a as a, gdcourse.b as b
        print(a.helper(1), a.after(1), b.ref is a.ref, a.ref.__module__, a.ref.__name__)
        for attempt in (lambda: a.ref(1), lambda: b.uses_ref_later(1), lambda: a.Ref(),
                        lambda: a.Ref.marker, lambda: a.TABLE["SECRET-TABLE"],
                        lambda: list(a.TABLE), lambda: importlib.reload(a).ref(1)):
            try:
                attempt()
                print("reached")
            except ImportError as error:
                print(type(error).__name__, str(error).split(":")[0])
        print("SECRET" in inspect.getsource(a) + "".join(linecache.getlines(a.__file__)))
        class Mine(a.Ref):
            pass
        try:
            Mine()
        except ImportError as error:
            print("subclass", type(error).__name__)
    """))
    lines = out.splitlines()
    assert lines[0] == "2 4 True gdcourse.a ref"
    assert lines[1:8] == ["WithheldError gdcourse.a.ref is withheld while grading"] * 2 + [
        "WithheldError gdcourse.a.Ref is withheld while grading"] * 2 + [
        "WithheldError gdcourse.a.TABLE is withheld while grading"] * 2 + [
        "WithheldError gdcourse.a.ref is withheld while grading"]
    assert lines[8:] == ["False", "subclass WithheldError"]


def test_the_stub_writer_refuses_what_it_cannot_cut_out(tmp_path):
    package = _toy(tmp_path)
    source = (package / "a.py").read_text()
    with pytest.raises(ValueError, match=r"line \d+ of gdcourse.a uses 'helper'"):
        sandbox.stub_names(source, "gdcourse.a", ["helper"])  # after() calls it
    with pytest.raises(ValueError, match="does not define 'missing'"):
        sandbox.stub_names(source, "gdcourse.a", ["missing"])
    with pytest.raises(ValueError, match="binds 'x' more than once"):
        sandbox.stub_names("x = 1\nx = 2\n", "gdcourse.a", ["x"])
    with pytest.raises(ValueError, match="cannot replace"):
        sandbox.stub_names("try:\n    x = 1\nexcept ImportError:\n    pass\n", "gdcourse.a", ["x"])
    with pytest.raises(ValueError, match="another statement beside"):
        sandbox.stub_names("x = 1; y = 2\n", "gdcourse.a", ["x"])
    with pytest.raises(ValueError, match=r"imported from gdcourse\.a\.ref"):
        sandbox.stub_names(TOY["b.py"], "gdcourse.b", ["ref"])
    with pytest.raises(TypeError, match="list of names"):
        sandbox.stub_names(source, "gdcourse.a", "ref")
    with pytest.raises(ValueError, match="not a name of a module of gdcourse"):
        sandbox.origin_of("numpy.mean")
    with pytest.raises(ValueError, match=r"line 2 of gdcourse\.a binds 'functools' in a way"):
        sandbox.origin_of("gdcourse.a.functools", package)
    with pytest.raises(ValueError, match=r"the kernel needs gdcourse\.grading whole"):
        sandbox.build_package(tmp_path / "k", ["gdcourse.grading.check_close"])
    with pytest.raises(ValueError, match="dotted module or name paths"):
        sandbox.build_package(tmp_path / "k", ["gdcourse.data.mini batches"])
    with pytest.raises(ValueError, match="not a package folder"):
        sandbox.build_package(tmp_path / "k", ["gdcourse.a.ref"], package=tmp_path)


def test_the_ch04_kernel_copy_holds_no_line_of_minibatches(tmp_path):
    withholding = _withholding("ch04_minibatch")
    copy = sandbox.build_package(tmp_path, list(withholding.withheld))
    source = (sandbox.PACKAGE / "data.py").read_text()
    definition = next(node for node in ast.parse(source).body
                      if getattr(node, "name", None) == "minibatches")
    body = [line.strip() for line in source.splitlines()[definition.lineno:definition.end_lineno]
            if len(line.strip()) > 20]
    assert len(body) > 10
    for path in copy.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode(errors="replace")
            assert not [line for line in body if line in text], path
    assert "def minibatches" not in (copy / "data.py").read_text()
    assert (copy / "losses.py").read_text() == (sandbox.PACKAGE / "losses.py").read_text()


# ------------------------------------------------------------------------------------------------
# ch04: students who answer question 1 with gdcourse.data.minibatches, through the real pipeline
# ------------------------------------------------------------------------------------------------

B = "ch04_minibatch"

# Each route defines _find(), which looks for minibatches one way when the answer runs (so what
# it meets in the kernel, a stub's error included, is the answer's error); DISARM first switches
# the in-kernel guard off.
STEAL = """
def _run_as_module(code):
    import sys, types
    module = types.ModuleType("_stolen_data")
    sys.modules["_stolen_data"] = module  # dataclasses look their module up
    exec(code, module.__dict__)
    return module.minibatches
"""
MINIBATCH_ROUTES = {
    "direct-call": """
import gdcourse.data
def _find():
    return gdcourse.data.minibatches
""",
    "from-import": """
def _find():
    from gdcourse.data import minibatches
    return minibatches
""",
    "run-global": """
def _find():
    import sys
    import gdcourse.run
    return vars(sys.modules["gdcourse.run"]).get("minibatches") or gdcourse.run.minibatches
""",
    "getsource": """
def _find():
    import inspect
    import gdcourse.data
    return _run_as_module(compile(inspect.getsource(gdcourse.data), "data", "exec"))
""",
    "linecache": """
def _find():
    import linecache
    import gdcourse.data
    return _run_as_module(compile("".join(linecache.getlines(gdcourse.data.__file__)), "data",
                                  "exec"))
""",
    "file-under-package": """
def _find():
    import glob, marshal, os
    import gdcourse
    folder = os.path.dirname(gdcourse.__file__)
    for path in [*glob.glob(os.path.join(folder, "__pycache__", "data*.pyc")),
                 os.path.join(folder, "data.py")]:
        with open(path, "rb") as handle:
            data = handle.read()
        return _run_as_module(marshal.loads(data[16:]) if path.endswith(".pyc")
                              else compile(data, path, "exec"))
""",
    "reload": """
def _find():
    import importlib, sys
    for name in [n for n in sys.modules if n in ("gdcourse", "gdcourse.data", "gdcourse.run")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    import gdcourse.data
    return importlib.reload(gdcourse.data).minibatches
""",
    "walks-the-disk": """
def _find():
    import os, sys, time
    end = time.monotonic() + 20
    for root in [sys.prefix, sys.base_prefix, "/usr/lib", "/opt", "/work", "/tmp", "/root"]:
        for folder, _, files in os.walk(root):
            if time.monotonic() > end:
                return None
            if "data.py" in files and os.path.basename(folder) == "gdcourse":
                path = os.path.join(folder, "data.py")
                text = open(path, encoding="utf-8", errors="replace").read()
                if "def minibatches(" in text:
                    return _run_as_module(compile(text, path, "exec"))
    return None
""",
    "garbage-collector": """
def _find():
    import gc
    import gdcourse.data
    return next((o for o in gc.get_objects() if getattr(o, "__name__", None) == "minibatches"
                 and "permutation" in getattr(getattr(o, "__code__", None), "co_names", ())),
                None)
""",
}
ANSWER = """
def minibatch_indices(n_samples, batch_size, rng):
    return [np.asarray(batch) for batch in _find()(n_samples, batch_size, rng)]
"""
OTHER_NAMES = """
from gdcourse.data import LinearRegression, linear_data, two_class_data
_X, _y = linear_data(5, seed=1)
print("OTHER NAMES WORK", _X.shape, two_class_data(4)[1].shape,
      LinearRegression(_X, _y).grad(np.zeros(2), np.arange(5)).shape)
"""


@pytest.mark.parametrize("route", list(MINIBATCH_ROUTES))
def test_each_minibatch_route_finds_the_reference_where_it_is_reachable(route):
    code = ("import numpy as np\n" + DISARM + STEAL + MINIBATCH_ROUTES[route] + ANSWER
            + "print('FOUND', minibatch_indices(5, 2, np.random.default_rng(0)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "FOUND [array([2, 4]), array([3, 0]), array([1])]" in run.stdout, run.stdout


@pytest.fixture(scope="module")
def graded_ch04(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class04")
    honest = correct(B)
    texts = {"honest": submission(B, honest),
             "other-names": submission(B, {**honest,
                                           "q1-answer": honest["q1-answer"] + OTHER_NAMES}),
             "calls-the-reference": submission(
                 B, {"q1-answer": ANSWERS[B]["q1-answer"]["calls the reference"]})}
    texts |= {route: submission(B, {"q1-answer": DISARM + STEAL + code + ANSWER})
              for route, code in MINIBATCH_ROUTES.items()}
    for student, text in texts.items():
        (folder / student).mkdir()
        (folder / student / f"{B}.ipynb").write_text(text)
    grading_dir = tmp_path_factory.mktemp("grading04")
    results = grade(folder, [B], grading_dir, timeout=40, workers=2, echo=lambda _line: None)
    return {"results": {r.student: r for r in results}, "dir": grading_dir}


@pytest.mark.slow
@pytest.mark.parametrize("route", [*MINIBATCH_ROUTES, "calls-the-reference"])
def test_a_ch04_student_who_answers_with_minibatches_scores_zero(graded_ch04, route):
    result = graded_ch04["results"][route]
    assert result.status == "graded", result.notes
    assert result.questions["q1-tests"] == [0.0, 3.0], result.notes
    notes = " | ".join(result.notes)
    if route == "calls-the-reference":  # the in-kernel guard, left on, says so first
        assert "q1-tests" in notes and "reference implementation" in notes, notes
    elif route == "run-global":  # gdcourse.run is withheld whole in ch04
        assert "gdcourse.run.minibatches is withheld while grading" in notes, notes
    elif route in ("walks-the-disk", "garbage-collector"):  # no copy anywhere: nothing found
        assert "q1-tests: TypeError" in notes, notes
    else:  # what the route found is the stub
        assert "gdcourse.data.minibatches is withheld while grading" in notes, notes


@pytest.mark.slow
@pytest.mark.parametrize("student", ["honest", "other-names"])
def test_honest_ch04_students_keep_full_marks_with_minibatches_withheld(graded_ch04, student):
    result = graded_ch04["results"][student]
    assert (result.status, result.score, result.max_score) == ("graded", 11.0, 11.0), \
        result.notes
    assert result.notes == []
    if student == "other-names":  # the rest of gdcourse.data works in the kernel
        notebook = nbformat.read(graded_ch04["dir"] / "autograded" / student / B / f"{B}.ipynb", 4)
        outputs = "\n".join(str(output.get("text", "")) for cell in notebook.cells
                            for output in cell.get("outputs", []))
        assert "OTHER NAMES WORK (5,) (4,) (2,)" in outputs, outputs


def test_the_launcher_reports_a_name_it_cannot_withhold(tmp_path):
    """A name whose module uses it elsewhere (``_Problem``: LinearRegression subclasses it)
    cannot be cut out; the launcher says so, as the sandbox's error, and starts no kernel."""
    connection = tmp_path / "connection.json"
    connection.write_text(json.dumps({
        "transport": "ipc", "ip": str(tmp_path / "kernel"), "shell_port": 1, "iopub_port": 2,
        "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": "k",
        "signature_scheme": "hmac-sha256"}))
    run = subprocess.run(
        [sys.executable, str(Path(sandbox.__file__)), "-f", str(connection)],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GDCOURSE_SANDBOX_CGROUP": "0",
             sandbox.WITHHELD_VARIABLE: "gdcourse.optim,gdcourse.data._Problem"})
    assert run.returncode == 1, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"gdcourse sandbox: {sandbox.WITHHELD_VARIABLE}: "
                           "gdcourse.data._Problem: line "), run.stderr
    assert "uses '_Problem'" in run.stderr
    assert not list(tmp_path.glob("package-*"))  # the half-built copy is removed

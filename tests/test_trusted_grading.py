"""The trust boundary of grading, attacked through the real pipeline (real nbgrader, sandboxed kernels).

Every attacker hands in ch08_adam with a WRONG first answer (Adam without bias correction) and a
blank second one, plus an attack in the first answer cell that worked when the hidden tests ran
inside the student's kernel: rewriting later cells (input transformers of every kind, AST
transformers, a wrapped ``run_cell``, IPython events, a custom exception handler),
monkeypatching the grading helpers, NumPy, ``math``, builtins and ``sys.modules``, and trying to
exfiltrate the hidden tests (frames, ``linecache``, history, files, encoded output). Now the
checks run in the grader's process, so each must score exactly 0 and no feedback page may hold a
line of the hidden tests, also after decoding base64, zlib or hex found in it. Students whose
function returns something that is not plain data are refused with a note. One class is graded
once (module fixture) for all assertions.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import html
import re
import zlib

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS
from test_grade_pipeline import correct, submission

from gdcourse.grade import grade

A = "ch08_adam"
TIMEOUT = 8
WRONG = ANSWERS[A]["q1-answer"]["no bias correction"]

ATTACKS = {
    "input-transformer-post": """
def _no_asserts(lines):
    return [("pass\\n" if ("assert" in line or "check_" in line or "compare_" in line) else line)
            for line in lines]
get_ipython().input_transformers_post.append(_no_asserts)
""",
    "input-transformer-cleanup": """
def _blank_tests(lines):
    text = "".join(lines)
    return ["pass\\n"] if "grading." in text else lines
get_ipython().input_transformers_cleanup.append(_blank_tests)
""",
    "ast-transformer": """
import ast
class _Gut(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])
get_ipython().ast_transformers.append(_Gut())
""",
    "wraps-run-cell": """
_ip = get_ipython()
_original_run_cell = _ip.run_cell
def _run_cell(raw_cell, *args, **kwargs):
    if "adam_step(" in raw_cell and "def adam_step" not in raw_cell:
        raw_cell = "pass"
    return _original_run_cell(raw_cell, *args, **kwargs)
_ip.run_cell = _run_cell
""",
    "events-and-exfiltration": """
import base64
def _leak(info):
    print("LEAK", base64.b64encode(info.raw_cell.encode()).decode())
get_ipython().events.register("pre_run_cell", _leak)
get_ipython().events.register("post_run_cell", lambda result: print("LEAK-RESULT", repr(result)[:2000]))
""",
    "swallows-exceptions": """
def _swallow(shell, etype, value, tb, tb_offset=None):
    return None
get_ipython().set_custom_exc((BaseException,), _swallow)
get_ipython().showtraceback = lambda *args, **kwargs: None
import sys
sys.excepthook = lambda *args: None
""",
    "patches-grading": """
from gdcourse import grading as _grading
_grading.check_close = lambda *args, **kwargs: None
_grading.compare_steps = lambda *args, **kwargs: None
_grading.compare_trajectories = lambda *args, **kwargs: None
_grading.guarded = lambda function, *args, **kwargs: function
""",
    "patches-numpy": """
import numpy
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.array_equal = lambda *args, **kwargs: True
""",
    "patches-math-and-builtins": """
import builtins, math
math.isclose = lambda *args, **kwargs: True
builtins.max = lambda *args, **kwargs: 0
builtins.round = lambda *args, **kwargs: 0
builtins.AssertionError = type("Silent", (Exception,), {})
builtins.abs = lambda value: 0
""",
    "patches-sys-modules": """
import sys, types
_fake = types.ModuleType("gdcourse.grading")
for _name in ("check_close", "compare_steps", "compare_trajectories"):
    setattr(_fake, _name, lambda *args, **kwargs: None)
_fake.fresh_rng = lambda: __import__("numpy").random.default_rng(0)
_fake.guarded = lambda function, *args, **kwargs: function
_fake.REFERENCE_MODULES = ()
sys.modules["gdcourse.grading"] = _fake
import gdcourse
gdcourse.grading = _fake
_optim = types.ModuleType("gdcourse.optim")
class _Echo:
    def __init__(self, **settings): pass
    def init(self, x): return None
    def step(self, x, grad, state): return x, state
_optim.Adam = _optim.AdamW = _Echo
sys.modules["gdcourse.optim"] = _optim
""",
    "walks-frames": """
import base64, binascii, linecache, sys, zlib
_seen = []
_wrong_step = adam_step
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    frame = sys._getframe()
    while frame is not None:
        _seen.append(repr(frame.f_code.co_filename) + repr(sorted(frame.f_locals))[:500])
        for name, value in list(frame.f_globals.items())[:200]:
            if isinstance(value, str):
                _seen.append(value[:500])
        frame = frame.f_back
    _seen.extend("".join(lines) for _, _, lines, _ in list(linecache.cache.values())
                 if isinstance(lines, list))
    _seen.extend(get_ipython().history_manager.input_hist_raw)
    return _wrong_step(x, grad, state, lr=lr, betas=betas, eps=eps)
def _dump():
    text = "\\n".join(_seen).encode()
    print("B64", base64.b64encode(text).decode())
    print("ZLIB", base64.b64encode(zlib.compress(text)).decode())
    print("HEX", binascii.hexlify(text[:20000]).decode())
    with open("exfiltrated.txt", "w") as handle:
        handle.write(text.decode(errors="replace"))
import atexit
atexit.register(_dump)
get_ipython().events.register("post_run_cell", lambda result: _dump())
""",
    # the conversation of the checks with the kernel (kernel_side.session) is code in the kernel
    # too: forged replies, or a session ended before it answers, can change nothing but what
    # the student's functions appear to return
    "forges-the-session": """
import gdcourse.grader.kernel_side as _side
def _forged(request):
    print("SEEN", str(request)[:500])
    return {"steps": [], "value": 0.0, "after": []}
_side._handle = _forged
""",
    "ends-the-session": """
import gdcourse.grader.kernel_side as _side
_side.input = lambda prompt="": '{"end": true}'
_side.session = lambda: None
""",
}

# Functions whose return is not plain data: refused with a note, never compared.
NOT_DATA = {
    "returns-always-equal": """
class _Always:
    def __eq__(self, other): return True
    def __array__(self, dtype=None, copy=None): return np.asarray(1.0)
    def __float__(self): return 1.0
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return _Always(), {"t": state["t"] + 1, "m": _Always(), "v": _Always()}
""",
    "returns-array-subclass": """
class _Sneaky(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return np.zeros(np.shape(x)).view(_Sneaky), {"t": state["t"] + 1, "m": 0.0, "v": 0.0}
""",
    "returns-huge-array": """
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return np.zeros(5_000_000), state
""",
    "returns-recursive": """
def adam_step(x, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    loop = []
    loop.append(loop)
    return loop, state
""",
}


def _test_cell(notebook, name):
    return next(i for i, cell in enumerate(notebook.cells)
                if cell.metadata.get("nbgrader", {}).get("grade_id") == name)


def _duplicate(notebook):  # Edit > Copy Cells, Paste Cells Below
    copied = copy.deepcopy(notebook.cells[_test_cell(notebook, "q1-tests")])
    copied.id = "pasted-copy"
    notebook.cells.insert(_test_cell(notebook, "q1-tests") + 1, copied)


def _strip(notebook):  # a tool that drops cell metadata
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)


def _schema(notebook):
    for cell in notebook.cells:
        if "nbgrader" in cell.metadata:  # not the check-all cell, which is no nbgrader cell
            cell.metadata["nbgrader"]["schema_version"] = 99


def _rename(notebook):
    notebook.cells[_test_cell(notebook, "q1-tests")].metadata.nbgrader["grade_id"] = "mine"
    del notebook.cells[_test_cell(notebook, "q2-answer")].metadata.nbgrader["grade_id"]


WARNS = correct(A)["q1-answer"].replace(
    "    beta1, beta2 = betas", "    import warnings\n    warnings.warn('check me')\n    beta1, beta2 = betas")
# Honest mistakes: restored and graded in full, with a note
HONEST = {"duplicated-test-cell": submission(A, correct(A), edit=_duplicate),
          "stripped-metadata": submission(A, correct(A), edit=_strip),
          "unknown-schema": submission(A, correct(A), edit=_schema),
          "renamed-grade-ids": submission(A, correct(A), edit=_rename),
          "warns": submission(A, correct(A, q1_answer=WARNS))}


def _attacker(code: str) -> str:
    return submission(A, {"q1-answer": WRONG + "\n" + code})


@pytest.fixture(scope="module")
def trusted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    texts = {"honest": submission(A, correct(A)),
             "hard-coded": submission(A, correct(A, q1_answer=ANSWERS[A]["q1-answer"]["hard-coded"]))}
    texts |= {name: _attacker(code) for name, code in ATTACKS.items()} | HONEST
    texts |= {name: submission(A, {"q1-answer": code}) for name, code in NOT_DATA.items()}
    for student, text in texts.items():
        (folder / student).mkdir()
        (folder / student / f"{A}.ipynb").write_text(text)
    grading_dir = tmp_path_factory.mktemp("grading")
    results = grade(folder, [A], grading_dir, timeout=TIMEOUT, workers=2, echo=lambda _line: None)
    return {"results": {r.student: r for r in results}, "dir": grading_dir}


def _hidden_lines() -> set[str]:
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    lines = set()
    for cell in source.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END", cell.source, re.DOTALL):
            lines |= {line.strip() for line in block.splitlines()
                      if len(line.strip()) > 12 and not line.strip().startswith("#")}
    return lines


def _decoded(text: str) -> list[str]:
    """Every blob in ``text`` that decodes as base64 (then maybe zlib) or hex."""
    found = []
    for blob in re.findall(r"[A-Za-z0-9+/=]{24,}", text):
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        found.append(raw.decode(errors="replace"))
        with contextlib.suppress(zlib.error):
            found.append(zlib.decompress(raw).decode(errors="replace"))
    for blob in re.findall(r"\b[0-9a-f]{24,}\b", text):
        try:
            found.append(binascii.unhexlify(blob[: len(blob) // 2 * 2]).decode(errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return found


@pytest.mark.slow
def test_the_honest_student_keeps_full_marks(trusted):
    result = trusted["results"]["honest"]
    assert (result.score, result.max_score, result.notes) == (11.0, 11.0, [])


@pytest.mark.slow
@pytest.mark.parametrize(("student", "note"), [
    ("duplicated-test-cell", "q1-tests: a copy of this cell was handed in too"),
    ("stripped-metadata", "cells found by their id, their nbgrader metadata missing or renamed"),
    ("unknown-schema", "nbgrader metadata changed in intro"),
    ("renamed-grade-ids", "(restored): q1-tests, q2-answer"),
    ("warns", None)])
def test_honest_mistakes_are_restored_and_graded_in_full(trusted, student, note):
    result = trusted["results"][student]
    assert (result.score, result.status) == (11.0, "graded"), result.notes
    if note is None:
        assert result.notes == []
    else:
        assert any(note in line for line in result.notes), result.notes


@pytest.mark.slow
@pytest.mark.parametrize("student", list(ATTACKS))
def test_every_attack_scores_zero_on_the_attacked_question(trusted, student):
    result = trusted["results"][student]
    assert result.status == "graded", result.notes
    assert result.questions == {"q1-tests": [0.0, 6.0], "q2-tests": [0.0, 3.0], "q3-tests": [0.0, 2.0]}, \
        result.notes
    assert result.score == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("student", list(NOT_DATA))
def test_non_data_returns_are_refused_with_a_note(trusted, student):
    result = trusted["results"][student]
    assert result.questions["q1-tests"] == [0.0, 6.0], result.notes
    notes = " | ".join(result.notes)
    assert "not plain data" in notes, notes


@pytest.mark.slow
def test_no_feedback_page_holds_hidden_check_text_in_any_encoding(trusted):
    hidden = _hidden_lines()
    assert len(hidden) > 10
    pages = sorted((trusted["dir"] / "feedback").rglob("*.html"))
    assert len(pages) == 2 + len(ATTACKS) + len(NOT_DATA) + len(HONEST)
    for page in pages:
        text = html.unescape(page.read_text())
        for candidate in [text, *_decoded(text)]:
            leaked = [line for line in hidden if line in candidate]
            assert not leaked, (page, leaked[:3])
    # the exfiltration attempt did run (its output is in the page) and found nothing
    frames = html.unescape((trusted["dir"] / "feedback" / "walks-frames" / f"{A}.html")
                           .read_text())
    assert "B64 " in frames and "HEX " in frames


@pytest.mark.slow
def test_no_hidden_check_text_reached_the_kernel(trusted):
    hidden = _hidden_lines()
    for student in ("events-and-exfiltration", "walks-frames"):
        notebook = nbformat.read(trusted["dir"] / "autograded" / student / A / f"{A}.ipynb", 4)
        outputs = "\n".join(str(output) for cell in notebook.cells
                            for output in cell.get("outputs", []))
        for candidate in [outputs, *_decoded(outputs)]:
            assert not [line for line in hidden if line in candidate], student
        assert "LEAK" in outputs or "B64" in outputs  # the attack ran and printed


@pytest.mark.slow
def test_failed_checks_are_explained_in_the_graders_words(trusted):
    # a visible test, checked by the grader although the kernel's helpers were patched
    page = html.unescape((trusted["dir"] / "feedback" / "patches-grading" / f"{A}.html")
                         .read_text())
    assert "Score: 0 / 11" in page
    assert re.search(r"step 1 \([^)]*\): x = [-0-9.e]+, expected [-0-9.e]+", page)
    # a hidden check: the case named in words and values, never its code
    result = trusted["results"]["hard-coded"]
    assert result.questions["q1-tests"] == [0.0, 6.0]
    page = html.unescape((trusted["dir"] / "feedback" / "hard-coded" / f"{A}.html").read_text())
    assert re.search(r"step \d+ \(lr=[-0-9.e]+, betas=\([-0-9.e]+, [-0-9.e]+\), eps=[-0-9.e]+; "
                     r"[^)]*\): (x|state\['\w'\]) = [^,]+, expected ", page), page[-3000:]
    for page in (trusted["dir"] / "feedback").rglob("*.html"):
        text = page.read_text()
        assert "most recent call last" not in text

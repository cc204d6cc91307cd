"""Grades judged against the release, replayable, and damaged notebooks explained (issue 16, items
6, 8 and 10), through the real pipeline (real nbgrader, sandboxed kernels).

One small class of ch08_adam is graded once (module fixture); then the source notebook gets one
more sentence in a locked markdown cell (as an instructor fixing a typo after the release), the
class is graded again with a late student holding the old release, and once more with
``--regrade``: nobody is accused of editing the cell, nobody's grade or check inputs change.
A grade is replayed from the grading folder and equals the original, inputs included.
"""

from __future__ import annotations

import copy
import csv
import json

import nbformat
import pytest
from conftest import ROOT
from exercise_students import ANSWERS
from test_grade_pipeline import correct, submission

from gdcourse.grade import grade, main
from gdcourse.grader.release_record import (
    checks_fingerprint,
    locked_fingerprints,
    match_release,
    record_release,
    recorded_releases,
)
from gdcourse.grader.replay import grading_seed, replay
from gdcourse.grader.salvage import failure_line, keep_log, readable_cells

A = "ch08_adam"
TIMEOUT = 8
SOURCE = ROOT / "solutions" / A / f"{A}.ipynb"
EXERCISE = ROOT / "exercises" / A / f"{A}.ipynb"
WRONG = ANSWERS[A]["q2-answer"]["L2 added to the gradient"]
ADDED = "\n\nOne more sentence, added after the release."


def _strip_everything(notebook):  # a tool that drops cell metadata and ids (nbformat 4.4)
    notebook.nbformat_minor = 4
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
        cell.pop("id", None)


def _string_metadata(notebook):
    notebook.cells[3].metadata["nbgrader"] = "lost"


CLASS = {"honest": submission(A, correct(A)),
         "wrong": submission(A, correct(A, q2_answer=WRONG)),
         "stripped": submission(A, correct(A), edit=_strip_everything),
         "odd-metadata": submission(A, correct(A), edit=_string_metadata),
         "garbage": '{"cells": [ this is not JSON'}


def _write(folder, texts):
    for student, text in texts.items():
        (folder / student).mkdir(parents=True, exist_ok=True)
        (folder / student / f"{A}.ipynb").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    _write(folder, CLASS)
    grading_dir = tmp_path_factory.mktemp("grading")
    lines: list[str] = []
    results = grade(folder, [A], grading_dir, timeout=TIMEOUT, workers=2, echo=lines.append)
    return {"folder": folder, "dir": grading_dir, "lines": lines,
            "results": {r.student: r for r in results},
            "report": json.loads((grading_dir / "report.json").read_text())}


# ------------------------------------------------------------------------------------------------
# Item 8: seeds recorded, grades replayed
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_graded_submission_records_its_seed_and_check_inputs(graded):
    results = graded["results"]
    graded_ones = [r for r in results.values() if r.status == "graded"]
    assert len(graded_ones) == 4
    for result in graded_ones:
        assert isinstance(result.seed, int) and result.seed >= 0
        assert len(result.check_inputs) == 16
        assert result.seed == grading_seed(graded["dir"], result.student, A,
                                           result.submission_sha256)
    assert len({r.seed for r in graded_ones}) == 4  # every student draws other inputs
    with (graded["dir"] / "grades.csv").open(encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert {name: int(rows[name]["seed"]) for name in ("honest", "wrong")} == \
        {name: results[name].seed for name in ("honest", "wrong")}
    assert graded["report"][f"honest/{A}"]["seed"] == results["honest"].seed
    assert (graded["dir"] / "seed.key").stat().st_mode & 0o077 == 0  # the key is private


@pytest.mark.slow
def test_a_replayed_grade_equals_the_original_with_identical_inputs(graded, capsys):
    original = graded["results"]["wrong"]
    assert 0 < original.score < original.max_score
    outcome = replay(graded["folder"], "wrong", A, graded["dir"], TIMEOUT,
                     echo=lambda _line: None)
    assert outcome.replayed.seed == original.seed
    assert outcome.replayed.check_inputs == original.check_inputs
    assert (outcome.replayed.score, outcome.replayed.questions) == \
        (original.score, original.questions)
    assert outcome.matches
    assert outcome.lines()[-1] == "MATCH: the grade is reproduced"
    # the replay graded in a scratch folder: the grading folder is as it was
    assert json.loads((graded["dir"] / "report.json").read_text()) == graded["report"]
    # the same through the command line
    code = main([str(graded["folder"]), "--grading-dir", str(graded["dir"]), "--timeout",
                 str(TIMEOUT), "--replay", "honest", A])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "identical to the recorded ones" in out and "MATCH" in out


@pytest.mark.slow
def test_a_replay_with_another_seed_says_the_inputs_differ(graded):
    """The comparison can fail: the same notebook under another seed asks other questions."""
    original = graded["results"]["honest"]
    report = copy.deepcopy(graded["report"])
    report[f"honest/{A}"]["seed"] = original.seed + 1
    scratch = graded["dir"].parent / "other-seed"
    scratch.mkdir()
    (scratch / "report.json").write_text(json.dumps(report))
    outcome = replay(graded["folder"], "honest", A, scratch, TIMEOUT, echo=lambda _l: None)
    assert outcome.replayed.seed == original.seed + 1
    assert outcome.replayed.check_inputs != original.check_inputs
    assert outcome.same_score and not outcome.matches  # full marks either way, other inputs
    assert any("DIFFERENT from the recorded" in line for line in outcome.lines())


def test_replay_refuses_what_it_cannot_replay(tmp_path):
    folder, grading_dir = tmp_path / "class", tmp_path / "grading"
    _write(folder, {"amy": CLASS["honest"]})
    grading_dir.mkdir()
    with pytest.raises(ValueError, match="no grade of 'amy'"):
        replay(folder, "amy", A, grading_dir)
    entry = {"student": "amy", "assignment": A, "score": 9.0, "max_score": 9.0,
             "submission_sha256": "0" * 64, "seed": 5, "check_inputs": "ab" * 8}
    (grading_dir / "report.json").write_text(json.dumps({f"amy/{A}": entry}))
    with pytest.raises(ValueError, match="not the one that was graded"):
        replay(folder, "amy", A, grading_dir)
    (grading_dir / "report.json").write_text(json.dumps({f"amy/{A}": entry | {"seed": None}}))
    with pytest.raises(ValueError, match="no recorded grading seed"):
        replay(folder, "amy", A, grading_dir)
    with pytest.raises(ValueError, match="student must be"):
        replay(folder, "", A, grading_dir)


def test_grading_seeds_are_stable_private_and_distinct(tmp_path):
    seed = grading_seed(tmp_path, "amy", A, "a" * 64)
    assert seed == grading_seed(tmp_path, "amy", A, "a" * 64)
    assert seed != grading_seed(tmp_path, "bob", A, "a" * 64)
    assert seed != grading_seed(tmp_path, "amy", A, "b" * 64)
    assert seed != grading_seed(tmp_path / "another", "amy", A, "a" * 64)  # another key
    with pytest.raises(ValueError, match="submission_sha256"):
        grading_seed(tmp_path, "amy", A, "")


# ------------------------------------------------------------------------------------------------
# Item 10: damaged notebooks
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_damaged_notebooks_are_graded_or_explained(graded):
    results = graded["results"]
    assert (results["stripped"].score, results["odd-metadata"].score) == (11.0, 11.0)
    assert any("cells matched to the release by their text and place; answers found: "
               "q1-answer, q2-answer, q3-answer" in note for note in results["stripped"].notes)
    assert any("its nbgrader metadata was a string" in note
               for note in results["odd-metadata"].notes)
    garbage = results["garbage"]
    assert (garbage.status, garbage.score) == ("invalid notebook", 0.0)
    (note,) = garbage.notes
    assert note.startswith("not a valid notebook file: it is not JSON")
    assert note.endswith("scored 0 (log: logs/garbage/ch08_adam.log)")
    page = (graded["dir"] / "feedback" / "garbage" / f"{A}.html").read_text()
    assert "it is not JSON" in page and "Score: 0 / 11" in page
    assert "it is not JSON" in (graded["dir"] / "logs" / "garbage" / f"{A}.log").read_text()
    for result in results.values():
        assert not any("Traceback" in note for note in result.notes), result


def test_readable_cells_repairs_or_says_why(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook = json.loads(CLASS["honest"])
    notebook["cells"][0]["metadata"] = ["not", "a", "dict"]
    del notebook["cells"][1]["source"]
    notebook["cells"].append(42)
    path.write_text(json.dumps(notebook))
    read, notes = readable_cells(path)
    assert len(read.cells) == len(notebook["cells"]) - 1
    assert notes == ["1 entries of its cell list were not cells; left out",
                     "malformed metadata ignored (cell 1: its metadata was a list; cell 2: it "
                     "had no text)"]
    for text, reason in [(b"\xff\xfe", "not text"), (b"[1, 2]", "no list of cells"),
                         (b'{"cells": [], "nbformat": 3}', "notebook format 3")]:
        path.write_bytes(text)
        with pytest.raises(ValueError, match=reason):
            readable_cells(path)


def test_failure_lines_never_are_a_bare_traceback_header(tmp_path):
    text = ('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
            "    f()\n    ^^^\nAttributeError: 'str' object has no attribute 'get'\n")
    assert failure_line(text) == "AttributeError: 'str' object has no attribute 'get'"
    assert failure_line("Traceback (most recent call last):\n") == ""
    assert keep_log(tmp_path, "amy", A, text) == "logs/amy/ch08_adam.log"
    keep_log(tmp_path, "amy", A, "second")
    log = (tmp_path / "logs" / "amy" / "ch08_adam.log").read_text()
    assert text in log and log.rstrip().endswith("second")  # appended, nothing lost


# ------------------------------------------------------------------------------------------------
# Item 6: the source edited after the release (this test runs last: it edits solutions/)
# ------------------------------------------------------------------------------------------------


def test_a_submission_is_judged_against_the_release_it_came_from(tmp_path):
    released = nbformat.read(EXERCISE, as_version=4)
    record = tmp_path / "releases.json"
    first = record_release(A, released, record, date="2026-09-01")
    assert record_release(A, released, record) == first  # recorded once
    today = copy.deepcopy(released)
    today.cells[0].source += ADDED
    second = record_release(A, today, record, date="2026-10-01")
    assert [r["release"] for r in recorded_releases(A, record)] == [first, second]
    old_release = nbformat.reads(CLASS["honest"], as_version=4)
    assert match_release(old_release, today, recorded_releases(A, record)) == (first, [])
    assert match_release(old_release, today, []) == (second, [
        "intro: cell edited by the student; restored from the gradebook"])
    edited = copy.deepcopy(old_release)
    edited.cells[5].source = "pass"
    assert match_release(edited, today, recorded_releases(A, record)) == (first, [
        "q1-tests: cell edited by the student; restored from the gradebook"])
    assert set(locked_fingerprints(released)) == {"intro", "install", "imports", "q1-text",
                                                  "q1-tests", "q2-text", "q2-tests", "q3-text",
                                                  "q3-tests"}


def test_the_checks_fingerprint_ignores_the_instructions():
    source = nbformat.read(SOURCE, as_version=4)
    print_ = checks_fingerprint(source)
    text = copy.deepcopy(source)
    text.cells[0].source += ADDED
    assert checks_fingerprint(text) == print_
    test = copy.deepcopy(source)
    (cell,) = [c for c in test.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1-tests"]
    cell.source += "\nassert True\n"
    assert checks_fingerprint(test) != print_


def test_the_committed_release_record_matches_exercises():
    record = ROOT / "exercises" / "releases.json"
    latest = recorded_releases(A, record)[-1]
    assert latest["cells"] == locked_fingerprints(nbformat.read(EXERCISE, as_version=4))


@pytest.mark.slow
def test_editing_the_source_after_release_accuses_and_regrades_nobody(graded):
    before = graded["results"]
    original = SOURCE.read_bytes()
    source = nbformat.read(SOURCE, as_version=4)
    assert source.cells[0].metadata["nbgrader"]["locked"] and source.cells[0].cell_type == "markdown"
    source.cells[0].source += ADDED
    try:
        nbformat.write(source, SOURCE)
        _write(graded["folder"], {"late": CLASS["honest"]})  # handed in after the edit
        lines: list[str] = []
        again = {r.student: r for r in grade(graded["folder"], [A], graded["dir"],
                                             timeout=TIMEOUT, workers=2, echo=lines.append)}
        # unchanged submissions keep their grades: nothing regraded, no new inputs
        for name in ("honest", "wrong", "stripped", "odd-metadata"):
            assert again[name].graded_at == before[name].graded_at, name
            assert (again[name].score, again[name].seed) == (before[name].score, before[name].seed)
        assert not any("checks of" in line for line in lines)  # the checks did not change
        late = again["late"]
        assert late.score == 11.0 and late.status == "graded"
        assert not any("edited by the student" in note for note in late.notes), late.notes
        assert late.release == recorded_releases(A, ROOT / "exercises" / "releases.json")[-1][
            "release"]  # matched to the release the student received, not today's source
        # asked to regrade: the same seeds, the same check inputs, no accusation
        regraded = {r.student: r for r in grade(graded["folder"], [A], graded["dir"],
                                                timeout=TIMEOUT, workers=2, regrade=True,
                                                echo=lambda _line: None)}
        for name in ("honest", "wrong", "stripped"):
            assert regraded[name].graded_at != before[name].graded_at
            assert (regraded[name].seed, regraded[name].check_inputs, regraded[name].score) == \
                (before[name].seed, before[name].check_inputs, before[name].score), name
            assert not any("edited by the student" in n for n in regraded[name].notes), name
        page = (graded["dir"] / "feedback" / "honest" / f"{A}.html").read_text()
        assert "edited by the student" not in page
    finally:
        SOURCE.write_bytes(original)
    # one snapshot of grades.csv per run that changed it (three runs, the first had none)
    assert len(list((graded["dir"] / "history").glob("grades-*.csv"))) == 2

"""Grading a real class from LMS exports: identities, what is graded, LMS import files,
instructor overrides, and mistakes that must fail loudly (issue 16, items 3, 4, 5 and 7).

The slow tests grade real zips (Unicode names, two Moodle students with the same name, a late
Canvas submission, renamed files, files that match nobody) through the real pipeline, in the
sandbox, and parse every CSV back column by column. The fast tests check collecting, the
overrides, the CSV writers, the command line's refusals and the Makefile without kernels.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from test_grade_pipeline import TIMEOUT, A, M, correct, submission, wrong

from gdcourse import grade as grade_module
from gdcourse.grade import NothingToGrade, Result, grade
from gdcourse.grader import lms
from gdcourse.grader.collect import Identity, collect

NAMES = ["ch06_momentum", "ch08_adam"]
EVE, CHINESE = "Eve Müller", "张伟"
RIGHT_M, RIGHT_A = submission(M, correct(M)), submission(A, correct(A))
BLANK_A = submission(A)
HARD_CODED_M = submission(M, correct(M, q1_answer=wrong(M, "q1", "hard-coded")))  # 6/10
WRONG_Q2_A = submission(A, correct(A, q2_answer=wrong(A, "q2", "L2 added to the gradient")))  # 8/11


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_lms_class(folder):
    """Six notebooks from two student folders, a Moodle zip and a Canvas zip, plus files that
    match no student or no assignment. Returns {(key, assignment): expected score}."""
    (folder / EVE).mkdir(parents=True)
    (folder / EVE / f"{M}.ipynb").write_text(RIGHT_M)
    (folder / EVE / "notes.txt").write_text("my notes")
    (folder / CHINESE).mkdir()
    (folder / CHINESE / f"Copy of {A}.ipynb").write_text(WRONG_Q2_A)
    with zipfile.ZipFile(folder / "moodle.zip", "w") as archive:  # two Wei Zhang, ids 1001, 1002
        archive.writestr(f"Wei Zhang_1001_assignsubmission_file_/{A}.ipynb", RIGHT_A)
        archive.writestr(f"Wei Zhang_1002_assignsubmission_file_/{A} (1).ipynb", BLANK_A)
    with zipfile.ZipFile(folder / "canvas.zip", "w") as archive:
        archive.writestr(f"müllereve_late_20001_90001_{M}.ipynb", HARD_CODED_M)
        archive.writestr(f"chenjing_20002_90002_{A}-1.ipynb", RIGHT_A)
        archive.writestr("readme.txt", "not a submission")
        archive.writestr("xu_20004_90004_ch99_unknown.ipynb", "{}")
    return {(EVE, M): 10.0, (CHINESE, A): 8.0, ("1001", A): 11.0, ("1002", A): 0.0,
            ("20001", M): 6.0, ("20002", A): 11.0}


def unmatched(names: list[str]) -> list[str]:
    """What collecting the class of :func:`write_lms_class` for ``names`` reports."""
    return [
        "canvas.zip:readme.txt: matches no student (neither a Canvas file "
        "<name>_<id>_<id>_<file> nor in a Moodle folder <Full Name>_<id>_assignsubmission_file_/)",
        "canvas.zip:xu_20004_90004_ch99_unknown.ipynb: its name matches no assignment "
        f"({', '.join(names)})",
        f"{EVE}/notes.txt: not a notebook (.ipynb)",
    ]


UNMATCHED = unmatched(NAMES)


# ------------------------------------------------------------------------------------------------
# Collecting (no kernels)
# ------------------------------------------------------------------------------------------------


def test_collect_keeps_unicode_names_lms_ids_and_late_flags(tmp_path):
    expected = write_lms_class(tmp_path / "in")
    found = collect(tmp_path / "in", NAMES, tmp_path / "scratch")
    assert set(found.found) == set(expected)
    people = {key: (who.name, who.lms, who.lms_id) for key, who in found.people.items()}
    assert people == {EVE: (EVE, "folder", ""), CHINESE: (CHINESE, "folder", ""),
                      "1001": ("Wei Zhang", "moodle", "1001"),
                      "1002": ("Wei Zhang", "moodle", "1002"),
                      "20001": ("müllereve", "canvas", "20001"),
                      "20002": ("chenjing", "canvas", "20002")}
    assert found.late == {("20001", M)}
    assert sorted(found.unmatched) == sorted(UNMATCHED)
    assert found.found["1002", A].read_text() == BLANK_A  # the two Wei Zhang are not merged
    assert found.found["1001", A].read_text() == RIGHT_A
    assert found.assignments() == NAMES


def test_renamed_notebooks_are_matched(tmp_path):
    folder = tmp_path / "in"
    for student, name in [("ann", f"{A} (1).ipynb"), ("ben", f"Copy of {A}.ipynb"),
                          ("cat", "Ch08-Adam.ipynb"), ("dan", f"{M}-Copy1.ipynb"),
                          ("eli", "ch08_adamm.ipynb")]:
        (folder / student).mkdir(parents=True)
        (folder / student / name).write_text(RIGHT_A)
    found = collect(folder, NAMES, tmp_path / "scratch")
    assert set(found.found) == {("ann", A), ("ben", A), ("cat", A), ("dan", M)}
    assert found.unmatched == ["eli/ch08_adamm.ipynb: its name matches no assignment "
                               "(ch06_momentum, ch08_adam)"]


def test_unzipped_canvas_and_moodle_folders_are_collected(tmp_path):
    folder = tmp_path / "in"
    (folder / "Wei Zhang_1001_assignsubmission_file_").mkdir(parents=True)
    (folder / "Wei Zhang_1001_assignsubmission_file_" / f"{A}.ipynb").write_text(RIGHT_A)
    (folder / f"müllereve_LATE_20001_90001_{M}.ipynb").write_text(RIGHT_M)
    # Moodle without "Download submissions in folders": flat files
    (folder / f"Wei Zhang_1002_assignsubmission_file_{A}.ipynb").write_text(BLANK_A)
    with zipfile.ZipFile(tmp_path / "flat-moodle.zip", "w") as archive:
        archive.writestr(f"Ana Lima_1003_assignsubmission_file_{A} (2).ipynb", RIGHT_A)
    found = collect(folder, NAMES, tmp_path / "scratch")
    assert set(found.found) == {("1001", A), ("1002", A), ("20001", M)}
    assert found.people["1002"] == Identity("1002", "Wei Zhang", "moodle", "1002")
    flat = collect(tmp_path / "flat-moodle.zip", NAMES, tmp_path / "scratch2")
    assert set(flat.found) == {("1003", A)}
    assert flat.people["1003"].name == "Ana Lima"
    assert found.people["1001"].lms == "moodle"
    assert found.people["20001"].name == "müllereve"
    assert found.late == {("20001", M)}
    assert found.unmatched == []


def test_one_students_folder_is_not_a_student_named_like_the_assignment(tmp_path):
    folder = tmp_path / "alice"  # nbgrader's layout: alice/ch08_adam/ch08_adam.ipynb
    (folder / A).mkdir(parents=True)
    (folder / A / f"{A}.ipynb").write_text(RIGHT_A)
    (folder / f"{M}.ipynb").write_text(RIGHT_M)  # and a notebook directly inside
    found = collect(folder, NAMES, tmp_path / "scratch")
    assert found.found == {}
    assert found.people == {}
    assert sorted(found.unmatched) == sorted([
        f"{A}/ is named like the assignment {A}: the folder you passed looks like ONE "
        "student's folder. Pass the folder that holds one folder per student (or the LMS zip "
        "files)",
        f"{M}.ipynb is named like the assignment {M}: the folder you passed (a notebook "
        "directly inside it) looks like ONE student's folder. Pass the folder that holds one "
        "folder per student (or the LMS zip files)"])


def test_the_zip_itself_can_be_passed(tmp_path):
    write_lms_class(tmp_path / "in")
    found = collect(tmp_path / "in" / "canvas.zip", NAMES, tmp_path / "scratch")
    assert set(found.found) == {("20001", M), ("20002", A)}
    assert len(found.unmatched) == 2
    (tmp_path / "not-a-zip.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file but not a zip file"):
        collect(tmp_path / "not-a-zip.txt", NAMES, tmp_path / "scratch")


# ------------------------------------------------------------------------------------------------
# Mistakes fail loudly (the command line, no kernels: the run stops before any is started)
# ------------------------------------------------------------------------------------------------


def run_main(capsys, *argv) -> tuple[int, str, str]:
    code = grade_module.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_empty_folder_exits_non_zero_with_a_clear_message(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_main(capsys, tmp_path / "empty", "--grading-dir", tmp_path / "grading")
    assert code == 1
    assert "no notebook to grade in" in err
    assert "nothing was graded" in err
    assert "The folder is empty." in err
    assert not (tmp_path / "grading" / "grades.csv").exists()


def test_a_folder_of_other_things_lists_them_and_exits_non_zero(tmp_path, capsys):
    folder = tmp_path / "alice"
    (folder / A).mkdir(parents=True)
    (folder / A / f"{A}.ipynb").write_text(RIGHT_A)
    (folder / "slides.pdf").write_text("%PDF")
    code, _, err = run_main(capsys, folder, "--grading-dir", tmp_path / "grading")
    assert code == 1
    assert "looks like ONE student's folder" in err
    assert "slides.pdf: matches no student" in err
    assert "2 file(s) matched no student or no assignment and are NOT graded" in err
    listed = (tmp_path / "grading" / "unmatched.txt").read_text(encoding="utf-8").splitlines()
    assert len(listed) == 2
    assert listed[0].startswith(f"{A}/ is named like the assignment")


def test_a_wrong_assignment_name_lists_the_valid_ones(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    code, _, err = run_main(capsys, tmp_path / "in", "--assignment", "ch8_adam",
                            "--grading-dir", tmp_path / "grading")
    assert code == 1
    assert "no such assignment: ch8_adam (did you mean ch08_adam?)" in err
    from gdcourse.release import assignments

    assert f"the assignments are: {', '.join(assignments())}" in err
    with pytest.raises(TypeError, match="list of assignment names"):
        grade(tmp_path / "in", "ch08_adam", tmp_path / "grading")


def test_nothing_to_grade_is_a_value_error_naming_what_was_found(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    with zipfile.ZipFile(folder / "export.zip", "w") as archive:
        archive.writestr("readme.txt", "x")
    warned: list[str] = []
    with pytest.raises(NothingToGrade, match=re.escape("export.zip:readme.txt: matches no student")):
        grade(folder, None, tmp_path / "grading", echo=lambda _: None, warn=warned.append)
    assert warned[0].startswith("1 file(s) matched no student or no assignment")


def test_command_line_names_a_missing_path_and_a_file_that_is_no_zip(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade_module.main([str(tmp_path / "nowhere")])
    assert "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "grades.xlsx").write_text("x")
    with pytest.raises(SystemExit):
        grade_module.main([str(tmp_path / "grades.xlsx")])
    assert "is neither a folder nor a zip file" in capsys.readouterr().err


def test_make_grade_passes_assignment_workers_regrade_through():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}

    def dry_run(*variables: str) -> str:
        result = subprocess.run(["make", "--no-print-directory", "-n", "grade", *variables],
                                cwd=ROOT, env=env, check=True, capture_output=True, text=True,
                                timeout=60)
        (line,) = [line for line in result.stdout.splitlines() if "-m gdcourse.grade" in line]
        return line.strip()

    line = dry_run("SUBMISSIONS=my class", "ASSIGNMENT=ch06_momentum,ch08_adam", "WORKERS=3",
                   "REGRADE=1", "TIMEOUT=60", "GRADING_DIR=/tmp/g")
    assert line.endswith('-m gdcourse.grade "my class" --assignment "ch06_momentum" '
                         '--assignment "ch08_adam" --workers "3" --regrade --timeout "60" '
                         '--grading-dir "/tmp/g"')
    assert dry_run("SUBMISSIONS=x", "ASSIGNMENT=ch06_momentum ch08_adam").split()[-4:] == [
        "--assignment", '"ch06_momentum"', "--assignment", '"ch08_adam"']
    for off in ("REGRADE=0", "REGRADE=no", "REGRADE="):
        assert "--regrade" not in dry_run("SUBMISSIONS=x", off)
    assert dry_run("SUBMISSIONS=x").split()[-1] == '"x"'
    usage = subprocess.run(["make", "--no-print-directory", "grade"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=False, timeout=60)
    assert usage.returncode != 0
    assert "usage: make grade SUBMISSIONS=" in usage.stderr


# ------------------------------------------------------------------------------------------------
# Overrides and the LMS files (no kernels: a report written by hand)
# ------------------------------------------------------------------------------------------------


def sample_report() -> dict:
    report: dict = {}
    rows = [
        Result("20001", M, 4.0, 8.0, name="müllereve", lms="canvas", lms_id="20001", late=True,
               questions={"q1-tests": [0.0, 4.0], "q2-tests": [4.0, 4.0]}, graded_at="t1"),
        Result("20001", A, 0.0, 9.0, status="missing", name="müllereve", lms="canvas",
               lms_id="20001", notes=["no notebook submitted; scored 0"]),
        Result("20002", A, 9.0, 9.0, name="chenjing", lms="canvas", lms_id="20002",
               questions={"q1-tests": [6.0, 6.0], "q2-tests": [3.0, 3.0]}),
        Result("1001", A, 9.0, 9.0, name="Wei Zhang", lms="moodle", lms_id="1001",
               questions={"q1-tests": [6.0, 6.0], "q2-tests": [3.0, 3.0]}),
        Result("1002", A, 0.0, 9.0, name="Wei Zhang", lms="moodle", lms_id="1002",
               questions={"q1-tests": [0.0, 6.0], "q2-tests": [0.0, 3.0]}),
        Result("1002", M, 0.0, 8.0, status="missing", name="Wei Zhang", lms="moodle",
               lms_id="1002"),
        Result(EVE, M, 8.0, 8.0, name=EVE, lms="folder",
               questions={"q1-tests": [4.0, 4.0], "q2-tests": [4.0, 4.0]}),
    ]
    for result in rows:
        grade_module._record(report, result)
    return report


OVERRIDES = ("student,assignment,question,score,reason\n"
             "20001,ch06_momentum,q1-tests,4,hard-coded values accepted after review\n"
             "1002,ch08_adam,total,5,\"oral exam, counted here\"\n"
             "1001,ch08_adam,q3-tests,1,a typo\n"
             "9999,ch08_adam,total,1,nobody\n")


def test_lms_files_and_overrides_parse_back_column_by_column(tmp_path):
    (tmp_path / "overrides.csv").write_text(OVERRIDES, encoding="utf-8")
    report = sample_report()
    grade_module._save_report(tmp_path, report)
    grades = read_csv(tmp_path / "grades.csv")
    assert grades[0] == lms.GRADES_COLUMNS == [
        "student", "name", "assignment", "score", "max_score", "status", "late", "notes",
        "graded_at", "lms", "lms_id", "override", "autograded_score", "seed"]
    rows = {(row[0], row[2]): row for row in grades[1:]}
    assert len(rows) == len(grades) - 1 == 7
    assert rows["20001", M] == ["20001", "müllereve", M, "8", "8", "graded", "late", "", "t1",
                                "canvas", "20001",
                                "q1-tests 0 -> 4 (hard-coded values accepted after review)", "4", ""]
    assert rows["1002", A][3] == "5"
    assert rows["1002", A][11] == "total 0 -> 5 (oral exam, counted here)"
    assert rows["1002", A][12] == "0"
    assert rows["1001", A][3] == "9"  # the override of a question it has not: not applied
    assert rows["1001", A][11] == ""
    assert rows[EVE, M][:7] == [EVE, EVE, M, "8", "8", "graded", ""]
    assert rows[EVE, M][9:11] == ["folder", ""]
    assert rows["20001", A][5:8] == ["missing", "", "no notebook submitted; scored 0"]
    # report.json keeps what the grader gave: an override never replaces it
    assert grade_module._load_report(tmp_path)["20001/ch06_momentum"]["score"] == 4.0

    wide = read_csv(tmp_path / "grades_by_question.csv")
    assert wide[0] == ["student", "name", "lms_id",
                       "ch06_momentum/q1-tests", "ch06_momentum/q2-tests", "ch06_momentum/total",
                       "ch08_adam/q1-tests", "ch08_adam/q2-tests", "ch08_adam/total"]
    by_student = {row[0]: row for row in wide[1:]}
    assert sorted(by_student) == sorted(["1001", "1002", "20001", "20002", EVE])
    assert by_student["20001"] == ["20001", "müllereve", "20001", "4", "4", "8", "", "", "0"]
    assert by_student["1002"] == ["1002", "Wei Zhang", "1002", "", "", "0", "0", "0", "5"]
    assert by_student[EVE] == [EVE, EVE, "", "4", "4", "8", "", "", ""]

    canvas = read_csv(tmp_path / "canvas_grades.csv")
    assert canvas == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", M, A],
        ["    Points Possible", "", "", "", "", "8", "9"],
        ["müllereve", "20001", "", "", "", "8", ""],  # missing: blank, Canvas keeps its grade
        ["chenjing", "20002", "", "", "", "", "9"]]

    moodle = read_csv(tmp_path / f"moodle_{A}.csv")
    assert moodle[0] == ["Identifier", "Full name", "Email address", "Status", "Grade",
                         "Maximum Grade", "Grade can be changed", "Last modified (submission)",
                         "Last modified (grade)", "Feedback comments"]
    assert [row[:7] for row in moodle[1:]] == [
        ["Participant 1001", "Wei Zhang", "", "Submitted for grading", "9", "9", "Yes"],
        ["Participant 1002", "Wei Zhang", "", "Submitted for grading", "5", "9", "Yes"]]
    import datetime as dt

    for row in moodle[1:]:  # Moodle keeps a grade changed in Moodle after this time
        assert abs(dt.datetime.fromisoformat(row[8]) - dt.datetime.now(dt.timezone.utc)) < \
            dt.timedelta(minutes=5)
    assert not (tmp_path / f"moodle_{M}.csv").exists()  # 1002 handed in no ch06_momentum

    _, lines = lms.final_grades(tmp_path, report)
    assert lines == [
        "override line 4 (1001 ch08_adam q3-tests) NOT applied: no such question (questions: "
        "q1-tests, q2-tests, or total)",
        "override line 3 (1002 ch08_adam total) applied: 0 -> 5 (oral exam, counted here)",
        "override line 2 (20001 ch06_momentum q1-tests) applied: 0 -> 4 (hard-coded values "
        "accepted after review)",
        "override line 5 (9999 ch08_adam total) NOT applied: no grade of student '9999' for "
        "ch08_adam"]
    # the overrides go, the grader's own scores come back; the Canvas file goes with its class
    (tmp_path / "overrides.csv").unlink()
    grade_module._save_report(tmp_path, {k: v for k, v in report.items() if v["lms"] != "canvas"})
    rows = {(row[0], row[2]): row for row in read_csv(tmp_path / "grades.csv")[1:]}
    assert rows["1002", A][3] == "0"
    assert not (tmp_path / "canvas_grades.csv").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("student,assignment,score\n", "missing question, reason"),
    ("student,assignment,question,score,reason\n,ch08_adam,total,1,why\n", "line 2: student is empty"),
    ("student,assignment,question,score,reason\nx,ch08_adam,total,-1,why\n", "at least 0, got '-1'"),
    ("student,assignment,question,score,reason\nx,ch08_adam,total,nan,why\n", "got 'nan'"),
    ("student,assignment,question,score,reason\nx,ch08_adam,total,ten,why\n", "got 'ten'"),
    ("student,assignment,question,score,reason\nx,ch08_adam,total,1,\n", "reason is empty"),
    ("student,assignment,question,score,reason\nx,ch08_adam,,1,a\nx,ch08_adam,total,2,b\n",
     "line 3: x ch08_adam total is overridden already on line 2"),
])
def test_a_bad_overrides_file_stops_the_run_before_grading(tmp_path, text, message):
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "overrides.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        lms.read_overrides(tmp_path / "grading")
    (tmp_path / "in" / "amy").mkdir(parents=True)
    (tmp_path / "in" / "amy" / f"{M}.ipynb").write_text(RIGHT_M)
    with pytest.raises(ValueError, match=re.escape("overrides.csv")):
        grade(tmp_path / "in", None, tmp_path / "grading", echo=lambda _: None)
    assert not (tmp_path / "grading" / "grades.csv").exists()


def test_an_override_above_the_maximum_is_not_applied():
    entry = dict(sample_report()[f"{EVE}/{M}"])
    changed, lines = lms.apply_overrides(entry, [
        lms.Override(EVE, M, "q2-tests", 5.0, "bonus", 2),
        lms.Override(EVE, M, "total", 9.0, "bonus", 3)])
    assert changed["score"] == 8.0
    assert changed["override"] == ""
    assert lines == [f"override line 2 ({EVE} {M} q2-tests) NOT applied: 5 is more than the "
                     "maximum 4",
                     f"override line 3 ({EVE} {M} total) NOT applied: 9 is more than the "
                     "maximum 8"]


# ------------------------------------------------------------------------------------------------
# Through the real pipeline: real zips, real kernels, the sandbox
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lms_graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lms-class")
    expected = write_lms_class(folder)
    grading_dir = tmp_path_factory.mktemp("lms-grading")
    (grading_dir / "overrides.csv").write_text(
        "student,assignment,question,score,reason\n"
        "20001,ch06_momentum,q1-tests,4,hard-coded values accepted after review\n",
        encoding="utf-8")
    log: list[str] = []
    warned: list[str] = []
    results = grade(folder, None, grading_dir, timeout=TIMEOUT, workers=2, echo=log.append,
                    warn=warned.append)
    return {"results": {(r.student, r.assignment): r for r in results}, "dir": grading_dir,
            "folder": folder, "expected": expected, "log": log, "warned": warned}


@pytest.mark.slow
def test_lms_class_is_graded_with_identities_kept(lms_graded):
    results, expected = lms_graded["results"], lms_graded["expected"]
    graded = {key: result.score for key, result in results.items() if result.status == "graded"}
    assert graded == expected
    missing = {key for key, result in results.items() if result.status == "missing"}
    students = {student for student, _ in expected}
    assert missing == {(s, a) for s in students for a in NAMES} - set(expected)
    assert results["1001", A].name == results["1002", A].name == "Wei Zhang"
    assert results["20001", M].late is True
    assert not any(r.late for key, r in results.items() if key != ("20001", M))
    assert results[EVE, M].name == EVE
    assert (lms_graded["dir"] / "feedback" / EVE / f"{M}.html").exists()
    assert (lms_graded["dir"] / "feedback" / CHINESE / f"{A}.html").exists()
    assert lms_graded["log"][1].startswith("grading 6 notebooks of 6 students (ch06_momentum, "
                                           "ch08_adam)")


@pytest.mark.slow
def test_lms_class_reports_every_file_that_matched_nothing(lms_graded):
    warned = lms_graded["warned"]
    assert warned[0] == (f"3 file(s) matched no student or no assignment and are NOT graded "
                         f"(list in {lms_graded['dir'] / 'unmatched.txt'}):")
    from gdcourse.release import assignments

    expected = unmatched(assignments())  # no --assignment: matched against them all
    assert sorted(warned[1:]) == sorted(f"  - {line}" for line in expected)
    assert sorted((lms_graded["dir"] / "unmatched.txt").read_text(encoding="utf-8")
                  .splitlines()) == sorted(expected)


@pytest.mark.slow
def test_lms_class_csvs_parse_back(lms_graded):
    grading_dir = lms_graded["dir"]
    grades = read_csv(grading_dir / "grades.csv")
    assert grades[0] == lms.GRADES_COLUMNS
    rows = {(row[0], row[2]): dict(zip(grades[0], row, strict=True)) for row in grades[1:]}
    assert len(rows) == 12  # 6 students x the 2 assignments handed in
    assert rows["20001", M]["score"] == "10"  # 6 from the grader, 4 more by the override
    assert rows["20001", M]["autograded_score"] == "6"
    assert rows["20001", M]["late"] == "late"
    assert rows["20001", M]["name"] == "müllereve"
    assert rows["1002", A]["name"] == "Wei Zhang"
    assert rows["1002", A]["lms"] == "moodle"
    assert rows[CHINESE, A]["name"] == CHINESE
    assert rows[CHINESE, A]["score"] == "8"
    assert rows[CHINESE, M]["status"] == "missing"
    assert {row["late"] for key, row in rows.items() if key != ("20001", M)} == {""}
    assert "override line 2 (20001 ch06_momentum q1-tests) applied: 0 -> 4" in \
        "\n".join(lms_graded["log"])

    canvas = read_csv(grading_dir / "canvas_grades.csv")
    assert canvas[:2] == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", M, A],
                          ["    Points Possible", "", "", "", "", "10", "11"]]
    assert canvas[2:] == [["müllereve", "20001", "", "", "", "10", ""],
                          ["chenjing", "20002", "", "", "", "", "11"]]
    moodle = read_csv(grading_dir / f"moodle_{A}.csv")
    assert [(row[0], row[1], row[4], row[5]) for row in moodle[1:]] == [
        ("Participant 1001", "Wei Zhang", "11", "11"), ("Participant 1002", "Wei Zhang", "0", "11")]
    assert not (grading_dir / f"moodle_{M}.csv").exists()
    wide = read_csv(grading_dir / "grades_by_question.csv")
    by_student = {row[0]: dict(zip(wide[0], row, strict=True)) for row in wide[1:]}
    assert by_student[CHINESE][f"{A}/q1-tests"] == "6"
    assert by_student[CHINESE][f"{A}/q2-tests"] == "0"
    assert by_student[CHINESE][f"{A}/total"] == "8"
    assert by_student["20001"][f"{M}/q1-tests"] == "4"  # the override, per question too
    assert by_student["20001"][f"{M}/total"] == "10"


@pytest.mark.slow
def test_an_override_survives_the_next_run(lms_graded, tmp_path):
    """A changed submission is graded again; the instructor's override applies to it again."""
    late = tmp_path / "again"
    late.mkdir()
    changed = HARD_CODED_M.replace('"cells": [', '"cells": [\n  {"cell_type": "markdown", '
                                                 '"id": "mine", "metadata": {}, '
                                                 '"source": "resubmitted"},', 1)
    assert changed != HARD_CODED_M
    with zipfile.ZipFile(late / "canvas.zip", "w") as archive:
        archive.writestr(f"müllereve_20001_90011_{M}.ipynb", changed)
    log: list[str] = []
    (result,) = grade(late, None, lms_graded["dir"], timeout=TIMEOUT, echo=log.append,
                      warn=log.append)
    assert (result.student, result.assignment, result.score) == ("20001", M, 6.0)
    assert result.late is False  # handed in on time this time
    rows = {(row[0], row[2]): row for row in read_csv(lms_graded["dir"] / "grades.csv")[1:]}
    assert rows["20001", M][3] == "10"
    assert rows["20001", M][6] == ""
    assert any(line.startswith("override line 2 (20001 ch06_momentum q1-tests) applied")
               for line in log)
    assert rows["1001", A][3] == "11"  # the others keep their grades


@pytest.mark.slow
def test_make_grade_takes_the_zip_and_only_the_assignment_asked_for(tmp_path):
    folder = tmp_path / "in"
    write_lms_class(folder)
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["make", "grade", f"SUBMISSIONS={folder / 'moodle.zip'}", f"ASSIGNMENT={A}",
         "WORKERS=2", "REGRADE=1", f"TIMEOUT={TIMEOUT}", f"GRADING_DIR={tmp_path / 'grading'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with 2 workers" in result.stdout
    rows = read_csv(tmp_path / "grading" / "grades.csv")
    assert sorted((row[0], row[1], row[2], row[3]) for row in rows[1:]) == [
        ("1001", "Wei Zhang", A, "11"), ("1002", "Wei Zhang", A, "0")]


@pytest.mark.slow
def test_nothing_graded_exits_non_zero(tmp_path):
    """Every notebook handed in is broken: the run finishes, and says nothing was graded."""
    (tmp_path / "in" / "amy").mkdir(parents=True)
    (tmp_path / "in" / "amy" / f"{M}.ipynb").write_text("{ not json")
    result = subprocess.run(
        [sys.executable, "-m", "gdcourse.grade", str(tmp_path / "in"), "--grading-dir",
         str(tmp_path / "grading"), "--timeout", str(TIMEOUT)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 1
    assert "nothing was graded" in result.stderr
    assert "[1/1] amy ch06_momentum: (" in result.stdout
    assert "0/10 invalid notebook" in result.stdout


def test_notebooks_of_assignments_not_chosen_are_reported_not_graded(tmp_path):
    write_lms_class(tmp_path / "in")
    found = collect(tmp_path / "in", NAMES, tmp_path / "scratch").only([A])
    assert set(found.found) == {(CHINESE, A), ("1001", A), ("1002", A), ("20002", A)}
    assert set(found.people) == {CHINESE, "1001", "1002", "20002"}
    assert found.late == set()
    assert sorted(line for line in found.unmatched if "not graded in this run" in line) == [
        f"{M} of student 20001: not graded in this run (--assignment {A})",
        f"{M} of student {EVE}: not graded in this run (--assignment {A})"]
    assert len(found.unmatched) == len(UNMATCHED) + 2

"""Grades out of the pipeline: ``grades.csv``, the LMS import files, and instructor overrides.

Every time the report is saved (after every notebook) this module writes, from ``report.json``
and ``grading/overrides.csv``:

- ``grades.csv``: one row per student and assignment (student id, name, score, maximum,
  status, late flag, notes, the override applied and the score the grader gave);
- ``grades_by_question.csv``: one row per student, a column per assignment and question;
- ``canvas_grades.csv``: the Canvas gradebook import (Grades > Import): ``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment, with the
  ``Points Possible`` row under the heading, for the students who came from a Canvas export
  (Canvas matches them by ``ID``, the Canvas user id in the export's file names);
- ``moodle_<assignment>.csv``: Moodle's offline grading worksheet for one assignment
  (Assignment > Upload grading worksheet): ``Identifier`` (``Participant <id>``, the id in the
  export's folder names), ``Full name``, ``Grade``, ``Maximum Grade``, ``Last modified
  (grade)``..., for the students who came from a Moodle export of that assignment (Moodle's
  participant ids are per assignment: a Moodle student with no notebook for an assignment has
  no row in its worksheet).

A Canvas student with no notebook for an assignment gets an empty cell (Canvas then keeps the
grade it has); ``grades.csv`` says "missing, 0".

The overrides are the instructor's: ``grading/overrides.csv`` with the columns ``student``,
``assignment``, ``question`` (a test cell such as ``q2-tests``, or ``total``), ``score`` and
``reason``. They are applied to what is written, never to the grader's own record
(``report.json`` keeps the score the grader gave), so regrading never loses them: every run
applies them again and says which it applied.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

OVERRIDES = "overrides.csv"
OVERRIDE_COLUMNS = ["student", "assignment", "question", "score", "reason"]
GRADES_COLUMNS = ["student", "name", "assignment", "score", "max_score", "status", "late",
                  "notes", "graded_at", "lms", "lms_id", "override", "autograded_score", "seed"]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                  "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                  "Feedback comments"]
MOODLE_PARTICIPANT = "Participant "
TOTAL = "total"


@dataclass(frozen=True)
class Override:
    """One line of ``overrides.csv``: set ``question`` (or the total) of one grade."""

    student: str
    assignment: str
    question: str  # a test cell's grade id, or "total"
    score: float
    reason: str
    line: int  # in overrides.csv, for messages


def read_overrides(grading_dir: Path) -> list[Override]:
    """The overrides in ``grading_dir/overrides.csv`` (none when there is no such file).

    Raises ValueError, naming the file and line, for a missing column, an empty student or
    assignment, a score that is not a finite number of at least 0, an empty reason, or two
    lines overriding the same thing."""
    path = Path(grading_dir) / OVERRIDES
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel writes a BOM
        reader = csv.DictReader(handle)
        missing = [c for c in OVERRIDE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: the first line must name the columns "
                             f"{', '.join(OVERRIDE_COLUMNS)}; missing {', '.join(missing)}")
        overrides, seen = [], {}
        for row in reader:
            line = reader.line_num
            values = {c: (row.get(c) or "").strip() for c in OVERRIDE_COLUMNS}
            if not any(values.values()):
                continue
            where = f"{path}, line {line}"
            for column in ("student", "assignment", "reason"):
                if not values[column]:
                    raise ValueError(f"{where}: {column} is empty")
            try:
                score = float(values["score"])
            except ValueError:
                score = math.nan
            if not (math.isfinite(score) and score >= 0):
                raise ValueError(f"{where}: score must be a number of at least 0, got "
                                 f"{values['score']!r}")
            question = values["question"] or TOTAL
            key = (values["student"], values["assignment"], question)
            if key in seen:
                raise ValueError(f"{where}: {' '.join(key)} is overridden already on line "
                                 f"{seen[key]}")
            seen[key] = line
            overrides.append(Override(values["student"], values["assignment"], question, score,
                                      values["reason"], line))
    return overrides


def apply_overrides(entry: dict, overrides: list[Override]) -> tuple[dict, list[str]]:
    """``entry`` (a grade of report.json) with the overrides that concern it applied, and one
    line per override saying what it changed or why it could not apply. Question overrides
    apply first (the total becomes the sum of the questions), then a ``total`` override."""
    entry = {**entry, "questions": {k: list(v) for k, v in entry.get("questions", {}).items()},
             "override": "", "autograded_score": entry["score"]}
    mine = [o for o in overrides
            if (o.student, o.assignment) == (entry["student"], entry["assignment"])]
    lines, applied = [], []
    for override in sorted(mine, key=lambda o: o.question == TOTAL):
        what = f"{override.student} {override.assignment} {override.question}"
        if override.question == TOTAL:
            maximum, before = entry["max_score"], entry["score"]
        elif override.question in entry["questions"]:
            before, maximum = entry["questions"][override.question]
        else:
            known = ", ".join(sorted(entry["questions"])) or "none recorded"
            lines.append(f"override line {override.line} ({what}) NOT applied: no such question "
                         f"(questions: {known}, or total)")
            continue
        if override.score > maximum:
            lines.append(f"override line {override.line} ({what}) NOT applied: "
                         f"{override.score:g} is more than the maximum {maximum:g}")
            continue
        if override.question == TOTAL:
            entry["score"] = override.score
        else:
            entry["questions"][override.question][0] = override.score
            entry["score"] = sum(got for got, _ in entry["questions"].values())
        applied.append(f"{override.question} {before:g} -> {override.score:g} ({override.reason})")
        lines.append(f"override line {override.line} ({what}) applied: {before:g} -> "
                     f"{override.score:g} ({override.reason})")
    entry["override"] = "; ".join(applied)
    return entry, lines


def unused_overrides(report: dict, overrides: list[Override]) -> list[str]:
    """One line per override that names a grade this grading folder does not hold."""
    keys = {(entry["student"], entry["assignment"]) for entry in report.values()}
    return [f"override line {o.line} ({o.student} {o.assignment} {o.question}) NOT applied: no "
            f"grade of student {o.student!r} for {o.assignment}"
            for o in overrides if (o.student, o.assignment) not in keys]


def final_grades(grading_dir: Path, report: dict) -> tuple[list[dict], list[str]]:
    """The grades of ``report`` with the overrides applied (sorted by student and assignment),
    and the lines saying what each override did."""
    overrides = read_overrides(grading_dir)
    grades, lines = [], []
    for key in sorted(report):
        entry, said = apply_overrides(report[key], overrides)
        grades.append(entry)
        lines += said
    return grades, lines + unused_overrides(report, overrides)


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def grades_csv(grades: list[dict]) -> str:
    """The text of ``grades.csv``."""
    rows: list[list] = [GRADES_COLUMNS]
    for entry in grades:
        rows.append([entry["student"], entry.get("name") or entry["student"], entry["assignment"],
                     f"{entry['score']:g}", f"{entry['max_score']:g}", entry["status"],
                     "late" if entry.get("late") else "", "; ".join(entry["notes"]),
                     entry.get("graded_at", ""), entry.get("lms") or "folder",
                     entry.get("lms_id", ""), entry["override"],
                     f"{entry['autograded_score']:g}",
                     "" if entry.get("seed") is None else str(entry["seed"])])
    return _csv_text(rows)


def by_question_csv(grades: list[dict]) -> str:
    """The text of ``grades_by_question.csv``: a row per student, and for each assignment a
    column per question (``ch08_adam/q1-tests``) and its total (``ch08_adam/total``)."""
    questions: dict[str, set[str]] = {}
    for entry in grades:
        questions.setdefault(entry["assignment"], set()).update(entry["questions"])
    columns = [f"{a}/{q}" for a in sorted(questions) for q in [*sorted(questions[a]), TOTAL]]
    students: dict[str, dict] = {}
    for entry in grades:
        row = students.setdefault(entry["student"], {
            "student": entry["student"], "name": entry.get("name") or entry["student"],
            "lms_id": entry.get("lms_id", "")})
        for question, (got, _) in entry["questions"].items():
            row[f"{entry['assignment']}/{question}"] = f"{got:g}"
        row[f"{entry['assignment']}/{TOTAL}"] = f"{entry['score']:g}"
    header = ["student", "name", "lms_id", *columns]
    return _csv_text([header] + [[row.get(c, "") for c in header]
                                 for _, row in sorted(students.items())])


def canvas_csv(grades: list[dict]) -> str | None:
    """The Canvas gradebook import, for the students from Canvas exports (None when none)."""
    mine = [entry for entry in grades if entry.get("lms") == "canvas"]
    if not mine:
        return None
    assignments = sorted({entry["assignment"] for entry in mine})
    maxima = {entry["assignment"]: entry["max_score"] for entry in mine}
    students: dict[str, dict] = {}
    for entry in mine:  # nothing handed in: left blank, so Canvas keeps what it has
        students.setdefault(entry["lms_id"], {"name": entry.get("name", "")})[
            entry["assignment"]] = "" if entry["status"] == "missing" else f"{entry['score']:g}"
    rows = [[*CANVAS_COLUMNS, *assignments],
            [CANVAS_POINTS, "", "", "", "", *(f"{maxima[a]:g}" for a in assignments)]]
    for lms_id, row in sorted(students.items(), key=lambda item: int(item[0])):
        rows.append([row["name"], lms_id, "", "", "", *(row.get(a, "") for a in assignments)])
    return _csv_text(rows)


def moodle_csvs(grades: list[dict], now: str | None = None) -> dict[str, str]:
    """Moodle's grading worksheet per assignment, for the students from Moodle exports."""
    now = now or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    sheets: dict[str, list[list]] = {}
    for entry in grades:
        # A participant id means something only in the assignment whose export it came from:
        # rows without a submission of that assignment (status missing) are left out.
        if entry.get("lms") != "moodle" or entry["status"] == "missing":
            continue
        sheets.setdefault(entry["assignment"], [MOODLE_COLUMNS]).append([
            f"{MOODLE_PARTICIPANT}{entry['lms_id']}", entry.get("name", ""), "",
            "Submitted for grading", f"{entry['score']:g}", f"{entry['max_score']:g}", "Yes",
            "", now, ""])
    return {assignment: _csv_text(rows) for assignment, rows in sheets.items()}


def write_exports(grading_dir: Path, grades: list[dict]) -> list[Path]:
    """Write the per-question CSV and the LMS import files; return the paths written. Stale
    LMS files (a Canvas or Moodle class no longer in the report) are removed."""
    from gdcourse.grader.record import _atomic_write

    grading_dir = Path(grading_dir)
    files = {"grades_by_question.csv": by_question_csv(grades)}
    canvas = canvas_csv(grades)
    if canvas is not None:
        files["canvas_grades.csv"] = canvas
    for assignment, text in moodle_csvs(grades).items():
        files[f"moodle_{assignment}.csv"] = text
    for stale in [*grading_dir.glob("canvas_grades.csv"), *grading_dir.glob("moodle_*.csv")]:
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        _atomic_write(grading_dir / name, text)
        written.append(grading_dir / name)
    return written

"""Stage *record*: scores into the nbgrader gradebook, then grades.csv, report.json and the notes.

nbgrader's ``SaveAutoGrades`` writes each test cell's score (its points when the cell shows no
error, else 0) to the gradebook, so formgrader, manual grading and nbgrader's exports keep
working; this module reads the scores back, explains what went wrong in notes, and keeps the
report and ``grades.csv`` (with the history of earlier grades).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from gdcourse.grader.execute import DEAD_KERNEL, TIMEOUT


@dataclass
class Result:
    """The outcome of grading one student's assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    status: str = "graded"  # graded | invalid notebook | missing | failed
    notes: list[str] = field(default_factory=list)
    submission_sha256: str = ""
    source_sha256: str = ""
    graded_at: str = ""
    seconds: float = 0.0  # wall time of grading this notebook (0 when nothing ran)
    questions: dict[str, list[float]] = field(default_factory=dict)  # test cell: [score, max]
    name: str = ""  # the student's name as the LMS export or the folder spells it
    lms: str = ""  # where the submission came from: folder | canvas | moodle
    lms_id: str = ""  # the Canvas user id or Moodle participant id ("" for a folder)
    late: bool = False  # Canvas marked the submission late
    seed: int | None = None  # grading seed of the checks' random inputs (replay.py)
    check_inputs: str = ""  # digest of every input the checks sent to the kernel
    release: str = ""  # the release the submission came from (release_record.py)
    checks_sha256: str = ""  # fingerprint of the checks it was graded with


# ------------------------------------------------------------------------------------------------
# The gradebook, shared by the grading workers
#
# Each worker is an nbgrader process writing to the one SQLite gradebook. nbgrader opens the
# gradebook, reads or writes a few rows and closes it again in every step (registering a student,
# restoring test cells, saving the scores); it never holds it open while a kernel runs. So its
# transactions last milliseconds, and what remains is to make a worker that finds the file locked
# wait for its turn instead of failing with "database is locked":
#
# - the gradebook is switched to write-ahead logging (WAL, a persistent property of the file):
#   reads never block writes and writes never block reads, only writers wait for each other;
# - every connection a worker opens waits up to BUSY_TIMEOUT seconds for a lock;
# - rows that several workers could try to create at once (a student graded on two assignments
#   at the same time) are created beforehand, by one worker, when the assignments are registered.
# ------------------------------------------------------------------------------------------------

BUSY_TIMEOUT = 300  # seconds a gradebook connection waits for another process's write


def _set_busy_timeout(dbapi_connection, _connection_record) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")


def _patient_gradebook() -> None:
    """Make every SQLAlchemy connection of this process (nbgrader's included) wait for locks."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _set_busy_timeout):
        event.listen(Engine, "connect", _set_busy_timeout)


def _use_wal(grading_dir: Path) -> None:
    """Switch the gradebook to write-ahead logging (kept in the file; a no-op once done)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(grading_dir / "gradebook.db", timeout=BUSY_TIMEOUT)) as db:
        db.execute("PRAGMA journal_mode = WAL")


def _checkpoint(grading_dir: Path) -> None:
    """Move everything the write-ahead log holds into gradebook.db itself (end of a run)."""
    import sqlite3
    from contextlib import closing

    path = grading_dir / "gradebook.db"
    if path.exists():
        try:
            with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT)) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # best effort: the next connection replays the log anyway
            pass


def _gradebook(grading_dir: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{grading_dir / 'gradebook.db'}")


def _gradebook_scores(grading_dir: Path, student: str, assignment: str):
    from nbgrader.api import MissingEntry

    with _gradebook(grading_dir) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return None
        questions = {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
        return notebook.score, notebook.max_score, questions


# ------------------------------------------------------------------------------------------------
# Report lines
# ------------------------------------------------------------------------------------------------


def _locked_cells(notebook) -> dict[str, str]:
    cells = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and (meta.get("locked") or meta.get("grade")) \
                and not meta.get("solution"):
            cells[meta["grade_id"]] = cell.source
    return cells


def _tampering_notes(submitted, released) -> list[str]:
    """Test (and other read-only) cells the student changed or deleted: nbgrader restores them."""
    notes = []
    mine = _locked_cells(submitted)
    for grade_id, source in _locked_cells(released).items():
        if grade_id not in mine:
            notes.append(f"{grade_id}: cell deleted by the student; restored from the gradebook")
        elif mine[grade_id].strip() != source.strip():
            notes.append(f"{grade_id}: cell edited by the student; restored from the gradebook")
    return notes


def _execution_notes(path: Path, timeout: int) -> list[str]:
    """What went wrong while the autograded notebook ran, cell by cell."""
    notes = []
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "a cell")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            name = output.get("ename", "")
            message = str(output.get("evalue", "")).strip().splitlines()
            message = message[0][:200] if message else ""
            if name == TIMEOUT:
                notes.append(f"{grade_id}: timed out after {timeout} s (an infinite loop?); "
                             "the kernel was restarted")
            elif name == DEAD_KERNEL:
                notes.append(f"{grade_id}: {message}")
            elif name == "SystemExit":
                notes.append(f"{grade_id}: called sys.exit")
            elif meta.get("grade") or meta.get("solution"):
                notes.append(f"{grade_id}: {name}" + (f": {message}" if message else ""))
    return notes


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _load_report(grading_dir: Path) -> dict:
    path = grading_dir / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _save_report(grading_dir: Path, report: dict, keep_history: bool = True) -> Path:
    """Write report.json, grades.csv (keeping the previous grades.csv in
    history/ when ``keep_history``: the pipeline asks for it once per run, before its first change) and the LMS
    files of :mod:`gdcourse.grader.lms`, with the overrides of ``overrides.csv`` applied."""
    _atomic_write(grading_dir / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    from gdcourse.grader.lms import final_grades, grades_csv, write_exports

    csv_path = grading_dir / "grades.csv"
    grades, _ = final_grades(grading_dir, report)  # the instructor's overrides applied
    write_exports(grading_dir, grades)
    text = grades_csv(grades)
    if csv_path.exists():
        old = csv_path.read_text(encoding="utf-8")
        if old == text:
            return csv_path
    if csv_path.exists() and keep_history:
        history = grading_dir / "history"
        history.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        (history / f"grades-{stamp}.csv").write_text(old, encoding="utf-8")
    _atomic_write(csv_path, text)
    return csv_path


def _record(report: dict, result: Result) -> None:
    key = f"{result.student}/{result.assignment}"
    entry = asdict(result)
    earlier = report.get(key)
    if earlier:
        history = earlier.pop("history", [])
        entry["history"] = [*history, earlier]
    report[key] = entry

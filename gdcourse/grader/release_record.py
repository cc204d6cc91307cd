"""What was released: fingerprints of every release's locked cells, and of the checks.

A student's notebook is judged against the release the student received, not against today's
source notebook. ``make exercises`` (:func:`gdcourse.release.release`) records, per assignment,
a fingerprint of every locked cell of the notebook it released (a SHA-256 of the cell's text, as
students see it: the hidden tests are not in a release) in ``exercises/releases.json``, adding a
release only when some locked cell changed, so the file lists every version students may hold.

When grading, :func:`match_release` finds the recorded release (or today's) that agrees with the
most locked cells of the submission and names the cells that differ from *that* release: one
sentence added to a locked markdown cell of ``solutions/`` after the release no longer makes
every student "edit" that cell. The fingerprints are of text students have anyway; nothing
hidden is in the file.

:func:`checks_fingerprint` fingerprints what the score depends on (the test cells with their
hidden regions and points, the locked setup code, the names the solution cells define) and
nothing else: editing the instructions changes no grade, and the pipeline keeps an unchanged
submission's grade unless ``--regrade`` is given, saying when the checks changed since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

RELEASES_FILE = "releases.json"

__all__ = ["RELEASES_FILE", "checks_fingerprint", "locked_fingerprints", "match_release",
           "record_release", "recorded_releases"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normal(source) -> str:
    """A cell's text for fingerprints: lines joined, line endings and outer blanks ignored."""
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))


def _nbgrader(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def locked_fingerprints(notebook) -> dict[str, str]:
    """``{grade id: fingerprint}`` of a notebook's read-only cells (locked or test cells that
    are not answers), as in the release."""
    cells = {}
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if isinstance(grade_id, str) and grade_id and (meta.get("locked") or meta.get("grade")) \
                and not meta.get("solution"):
            cells.setdefault(grade_id, _digest(_normal(cell.get("source", ""))))
    return cells


def _release_id(cells: dict[str, str]) -> str:
    return _digest(json.dumps(cells, sort_keys=True))[:16]


def recorded_releases(assignment: str, path: Path) -> list[dict]:
    """The releases of ``assignment`` recorded in ``path`` (oldest first; [] if none)."""
    if not isinstance(assignment, str) or not assignment:
        raise ValueError(f"assignment must be a non-empty name, got {assignment!r}")
    path = Path(path)
    if not path.exists():
        return []
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not a release record (invalid JSON: {error})") from None
    releases = record.get(assignment, []) if isinstance(record, dict) else None
    if not isinstance(releases, list):
        raise ValueError(f"{path}: the releases of {assignment} must be a list")
    return [entry for entry in releases
            if isinstance(entry, dict) and isinstance(entry.get("cells"), dict)]


def record_release(assignment: str, notebook, path: Path, date: str | None = None) -> str:
    """Record the release of ``assignment`` (the generated student notebook ``notebook``) in
    ``path`` unless a release with the same locked cells is recorded already; return its id."""
    cells = locked_fingerprints(notebook)
    identity = _release_id(cells)
    path = Path(path)
    record = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    releases = recorded_releases(assignment, path)
    if any(entry.get("release") == identity for entry in releases):
        return identity
    releases.append({"release": identity,
                     "date": date or dt.date.today().isoformat(), "cells": cells})
    record[assignment] = releases
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return identity


def match_release(submitted, released, earlier: list[dict]) -> tuple[str, list[str]]:
    """The release ``submitted`` came from and its locked cells the student changed.

    ``released`` is the notebook released from today's source, ``earlier`` the recorded
    releases (:func:`recorded_releases`). The release agreeing with the most locked cells of
    the submission wins (the latest one on a tie); returns its id and one note per locked cell
    of that release the student edited or deleted (the cells are restored in any case)."""
    mine = locked_fingerprints(submitted)
    today = locked_fingerprints(released)
    candidates = [*earlier, {"release": _release_id(today), "cells": today}]

    def agreement(entry: dict) -> int:
        return sum(mine.get(name) == print_ for name, print_ in entry["cells"].items())

    best = max(reversed(candidates), key=agreement)  # max keeps the first best: the latest
    notes = []
    for grade_id, fingerprint in best["cells"].items():
        if grade_id not in mine:
            notes.append(f"{grade_id}: cell deleted by the student; restored from the gradebook")
        elif mine[grade_id] != fingerprint:
            notes.append(f"{grade_id}: cell edited by the student; restored from the gradebook")
    return str(best.get("release", "")), notes


def checks_fingerprint(source_notebook) -> str:
    """A fingerprint of what the score of ``source_notebook`` depends on: its test cells
    (hidden regions included) with their points, its locked setup code and the names its
    answer cells define; markdown and the reference solutions' bodies are left out."""
    from gdcourse.grader.check import _defined_names

    parts = []
    for cell in source_notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        meta = _nbgrader(cell)
        if meta.get("solution"):
            parts.append(["defines", sorted(_defined_names(_normal(cell.get("source", ""))))])
        elif meta.get("grade"):
            parts.append(["test", meta.get("grade_id"), meta.get("points"),
                          _normal(cell.get("source", ""))])
        else:
            parts.append(["setup", _normal(cell.get("source", ""))])
    return _digest(json.dumps(parts))[:16]

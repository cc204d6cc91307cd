"""Stage *collect*: find each student's notebook in a folder of submissions or LMS zip files."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20_000_000




def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-.")


def _match_assignment(filename: str, names: list[str]) -> str | None:
    stem = Path(filename).stem
    matches = [name for name in names if name in stem]
    return max(matches, key=len) if matches else None


def _entries(folder: Path):
    """(path, kind) for everything under ``folder``, never following a symbolic link: kind is
    "file" for a regular file, else what it is instead ("a symbolic link", "a folder", ...)."""
    import os
    import stat

    for root, folders, files in os.walk(folder, followlinks=False):
        for name in sorted(folders + files):
            path = Path(root, name)
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode):
                yield path, "file"
            elif stat.S_ISLNK(mode):
                yield path, "a symbolic link"
            elif stat.S_ISDIR(mode):
                if name.endswith(".ipynb"):
                    yield path, "a folder"
            else:
                yield path, "a special file"


def collect_submissions(folder: Path, names: list[str], scratch: Path,
                        notes: dict[tuple[str, str], list[str]] | None = None,
                        ) -> dict[tuple[str, str], Path]:
    """Map (student, assignment) to the submitted file, from student folders or LMS zip files.

    When a student handed in several notebooks for one assignment, the one named exactly like the
    assignment wins, else the newest; ``notes`` (if given) receives a line saying so.
    """
    candidates: dict[tuple[str, str], list[tuple[bool, float, Path, str]]] = {}

    def offer(student: str, assignment: str, path: Path, shown: str, mtime: float) -> None:
        exact = Path(shown).stem == assignment
        candidates.setdefault((student, assignment), []).append((exact, mtime, path, shown))

    for number, archive in enumerate(sorted(Path(folder).glob("*.zip"))):
        with zipfile.ZipFile(archive) as zipped:
            for index, info in enumerate(zipped.infolist()):
                member = Path(info.filename)
                if (info.is_dir() or member.suffix != ".ipynb"
                        or ".ipynb_checkpoints" in member.parts):
                    continue
                if len(member.parts) > 1:  # Moodle: <Full Name>_<id>_assignsubmission_file_/...
                    student = _slug(member.parts[0].split("_", 1)[0])
                else:  # Canvas: <student>_<ids>_<file name>
                    student = _slug(member.name.split("_", 1)[0]) if "_" in member.name else ""
                assignment = _match_assignment(member.name, names)
                if not (student and assignment):
                    continue
                target = scratch / "unzipped" / f"{number}-{index}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    target.write_text("")  # graded as an invalid notebook, with its reason
                else:
                    target.write_bytes(zipped.read(info))
                offer(student, assignment, target, f"{archive.name}:{info.filename}",
                      dt.datetime(*info.date_time).timestamp())
    top = Path(folder).resolve()
    unreadable = scratch / "unreadable.ipynb"  # stands for what is not a file: graded invalid
    for student_dir in sorted(p for p in top.iterdir() if p.is_dir() and not p.is_symlink()):
        student = _slug(student_dir.name)
        if not student:
            continue
        for path, kind in _entries(student_dir):
            if ".ipynb_checkpoints" in path.parts or not path.name.endswith(".ipynb"):
                continue
            assignment = _match_assignment(path.name, names)
            if not assignment:
                continue
            shown = str(path.relative_to(top))
            if kind == "file" and path.resolve().is_relative_to(student_dir):
                offer(student, assignment, path, shown, path.lstat().st_mtime)
                continue
            unreadable.parent.mkdir(parents=True, exist_ok=True)
            unreadable.write_text("")
            offer(student, assignment, unreadable, shown, 0.0)
            if notes is not None:
                notes.setdefault((student, assignment), []).append(
                    f"{shown} is {kind}, not a notebook file: not read")
    found = {}
    for key, options in sorted(candidates.items()):
        options.sort(key=lambda option: (option[0], option[1], option[3]))
        found[key] = options[-1][2]
        if len(options) > 1 and notes is not None:
            notes.setdefault(key, []).append(
                f"{len(options)} notebooks handed in for {key[1]}; graded {options[-1][3]}")
    return found


def restore_structure(submitted, released) -> tuple:
    """Repair the honest accidents of Jupyter before nbgrader sees a notebook: return
    ``(notebook, notes, recovered)``, the released notebook's cells in order with the student's
    answers in them, plus the student's own extra cells where they were.

    A released cell is found in the submission by its nbgrader grade id (the first cell that
    has it), else by its cell id: so a duplicated cell (copy-paste), a renamed or missing grade
    id, stripped nbgrader metadata or an unknown schema version all come back as released.
    The released cells' metadata and the locked cells' source are the released ones (the score
    never depends on the submitted test cells: the grader runs the source notebook's). Cells
    the student added keep their place after the cell they followed, without nbgrader metadata.
    ``recovered`` holds the grade ids found only by cell id."""
    import copy

    def grade_id(cell):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return meta.get("grade_id") if isinstance(meta, dict) else None

    cells = [cell for cell in submitted.cells if isinstance(cell, dict)]
    by_grade_id, by_cell_id = {}, {}
    for index, cell in enumerate(cells):
        if grade_id(cell) and grade_id(cell) not in by_grade_id:
            by_grade_id[grade_id(cell)] = index
        if cell.get("id") and cell.get("id") not in by_cell_id:
            by_cell_id[cell["id"]] = index
    notes, recovered, matched = [], set(), {}
    for cell in released.cells:
        name = grade_id(cell)
        index = by_grade_id.get(name)
        if index is None and cell.get("id") in by_cell_id and \
                by_cell_id[cell["id"]] not in matched.values():
            index = by_cell_id[cell["id"]]
            recovered.add(name)
        if index is not None and index not in matched.values():
            matched[name] = index
    changed = [name for name, index in matched.items() if name not in recovered and
               cells[index].get("metadata", {}).get("nbgrader") !=
               next(c for c in released.cells if grade_id(c) == name).metadata.get("nbgrader")]
    if recovered:
        notes.append(f"cells found by their id, their nbgrader metadata missing or renamed "
                     f"(restored): {', '.join(sorted(recovered))}")
    if changed:
        notes.append(f"nbgrader metadata changed in {', '.join(changed)} (restored)")
    duplicates = sorted({grade_id(c) for i, c in enumerate(cells) if grade_id(c)
                         and i not in matched.values() and grade_id(c) in matched})
    notes += [f"{name}: a copy of this cell was handed in too; the copy runs as a plain cell"
              for name in duplicates]
    position = {index: name for name, index in matched.items()}
    after: dict = {None: []}  # released grade id -> the student's extra cells following it
    last = None
    for index, cell in enumerate(cells):
        if index in position:
            last = position[index]
            continue
        extra = copy.deepcopy(cell)
        extra.get("metadata", {}).pop("nbgrader", None)
        after.setdefault(last, []).append(extra)
    notebook = copy.deepcopy(released)
    notebook.cells = list(after[None])
    for cell in released.cells:
        restored = copy.deepcopy(cell)
        name = grade_id(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if name in matched and meta.get("solution"):
            restored.source = cells[matched[name]].get("source", "")
            if restored.get("cell_type") == "code":
                restored.outputs, restored.execution_count = [], None
        notebook.cells.append(restored)
        notebook.cells += after.get(name, [])
    return notebook, notes, recovered

"""Stage *collect*: find each student's notebook in a folder of submissions or LMS zip files."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20_000_000

# Canvas names every file of a "Download Submissions" zip
#   <name>[_late]_<user id>_<submission id>_<file name as uploaded>
# (<name> is the student's sortable name run together, e.g. "müllereve"; Canvas adds "-1", "-2"
# to a file uploaded twice). Moodle's "Download all submissions" gives one folder per student
#   <Full Name>_<participant id>_assignsubmission_file_/<file name as uploaded>
# where the participant id is Moodle's id of that student in that assignment.
CANVAS_FILE = re.compile(r"^(?P<name>.+?)(?P<late>_late)?_(?P<id>\d+)_(?P<submission>\d+)_"
                         r"(?P<file>.+)$", re.IGNORECASE)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_[a-z]+_?$")
# ... or, with "Download submissions in folders" unticked, flat files
#   <Full Name>_<participant id>_assignsubmission_file_<file name as uploaded>
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.+)$")
SKIPPED_PARTS = (".ipynb_checkpoints", "__MACOSX")


@dataclass
class Identity:
    """Who a submission belongs to: ``key`` is the student's id in grading (the LMS id, or the
    name of the student's folder), ``name`` the name as the LMS or the folder spells it."""

    key: str
    name: str
    lms: str = "folder"  # folder | canvas | moodle
    lms_id: str = ""


@dataclass
class Collection:
    """What :func:`collect` found in a submissions folder (or zip)."""

    found: dict[tuple[str, str], Path] = field(default_factory=dict)  # (key, assignment) -> file
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    people: dict[str, Identity] = field(default_factory=dict)  # key -> identity
    late: set[tuple[str, str]] = field(default_factory=set)  # (key, assignment) handed in late
    unmatched: list[str] = field(default_factory=list)  # "where: why", one per file not graded

    def assignments(self) -> list[str]:
        """The assignments that at least one notebook was handed in for, sorted."""
        return sorted({assignment for _, assignment in self.found})

    def only(self, names: list[str]) -> Collection:
        """The same submissions for the assignments ``names`` only; the notebooks of the others
        are listed in ``unmatched`` as not graded in this run."""
        kept = Collection(people=dict(self.people), unmatched=list(self.unmatched))
        for key, path in self.found.items():
            if key[1] in names:
                kept.found[key] = path
                kept.notes[key] = self.notes.get(key, [])
                if key in self.late:
                    kept.late.add(key)
            else:
                kept.unmatched.append(f"{key[1]} of student {key[0]}: not graded in this run "
                                      f"(--assignment {' '.join(names)})")
        kept.notes = {key: lines for key, lines in kept.notes.items() if lines}
        kept.people = {key: who for key, who in kept.people.items()
                       if any(student == key for student, _ in kept.found)}
        return kept


def _normal(text: str) -> str:
    """Lower case, every run of characters other than letters and digits one underscore:
    ``Ch08-Adam (1)`` and ``ch08_adam__1_`` compare alike."""
    return re.sub(r"[\W_]+", "_", unicodedata.normalize("NFKC", text).casefold()).strip("_")


def _match_assignment(filename: str, names: list[str]) -> str | None:
    """The assignment a notebook's file name names (the longest that it contains, compared
    without case and punctuation: ``Copy of ch08_adam (1).ipynb``, ``ch08-adam-1.ipynb``)."""
    stem = f"_{_normal(Path(filename).stem)}_"
    matches = [name for name in names if f"_{_normal(name)}_" in stem]
    return max(matches, key=len) if matches else None


def student_key(name: str) -> str:
    """A student's folder name as a key for nbgrader and the grading folders: the name itself
    (Unicode letters, spaces and accents kept, in NFC), with only the characters that a path or
    nbgrader's student-id glob would misread (``/ \\ * ? [ ]`` and control characters) replaced
    by ``_``. Empty when nothing printable is left."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if c in "/\\*?[]" or unicodedata.category(c).startswith("C") else c
                   for c in text)
    return text.strip().strip(".")


def _entries(folder: Path):
    """(path, kind) for everything under ``folder``, never following a symbolic link: kind is
    "file" for a regular file, else what it is instead ("a symbolic link", "a folder", ...)."""
    import os
    import stat

    for root, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if name not in SKIPPED_PARTS]
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


def _ignored(parts) -> bool:
    """Files nobody handed in: notebook checkpoints, macOS resource forks, hidden files."""
    return any(part in SKIPPED_PARTS or part.startswith(".") for part in parts)


def _looks_like_assignment(name: str, names: list[str]) -> str | None:
    """The assignment a folder or file is named exactly like (``ch08_adam``, ``ch08-adam``)."""
    return next((a for a in names if _normal(Path(name).stem) == _normal(a)), None)


NOT_A_CLASS = ("{shown} is named like the assignment {assignment}: the folder you passed looks "
               "like ONE student's folder. Pass the folder that holds one folder per student "
               "(or the LMS zip files)")


class _Collector:
    """Gathers candidate notebooks; :meth:`finish` picks one per student and assignment."""

    def __init__(self, names: list[str], scratch: Path) -> None:
        self.names, self.scratch = names, scratch
        self.result = Collection()
        self.candidates: dict[tuple[str, str], list[tuple[bool, float, Path, str, bool]]] = {}

    def person(self, identity: Identity, shown: str) -> bool:
        """Register who handed in ``shown``; False (and a line in ``unmatched``) when the key
        already belongs to someone else (two ids are never merged, nor two people)."""
        known = self.result.people.setdefault(identity.key, identity)
        if (known.lms, known.name) == (identity.lms, identity.name):
            return True
        self.result.unmatched.append(
            f"{shown}: its id {identity.key} ({identity.lms}, {identity.name!r}) already "
            f"belongs to {known.name!r} ({known.lms}); not graded, rename the folder")
        return False

    def offer(self, key: str, assignment: str, path: Path, shown: str, mtime: float,
              late: bool = False) -> None:
        exact = _normal(Path(shown).name.removesuffix(".ipynb")).endswith(_normal(assignment))
        self.candidates.setdefault((key, assignment), []).append((exact, mtime, path, shown, late))

    def note(self, key: tuple[str, str], text: str) -> None:
        self.result.notes.setdefault(key, []).append(text)

    def unreadable(self, key: str, assignment: str, shown: str, kind: str) -> None:
        placeholder = self.scratch / "unreadable.ipynb"  # stands for what is not a file
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        placeholder.write_text("")
        self.offer(key, assignment, placeholder, shown, 0.0)
        self.note((key, assignment), f"{shown} is {kind}, not a notebook file: not read")

    def notebook(self, identity: Identity, filename: str, shown: str) -> str | None:
        """The assignment of a notebook handed in by ``identity``, or None (reported)."""
        if not filename.endswith(".ipynb"):
            self.result.unmatched.append(f"{shown}: not a notebook (.ipynb)")
            return None
        assignment = _match_assignment(filename, self.names)
        if assignment is None:
            self.result.unmatched.append(
                f"{shown}: its name matches no assignment ({', '.join(self.names)})")
            return None
        return assignment if self.person(identity, shown) else None

    def zip_file(self, archive: Path, number: int, shown_archive: str) -> None:
        try:
            zipped = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as error:
            self.result.unmatched.append(f"{shown_archive}: not a readable zip file ({error})")
            return
        with zipped:
            for index, info in enumerate(zipped.infolist()):
                member = Path(info.filename)
                if info.is_dir() or _ignored(member.parts):
                    continue
                shown = f"{shown_archive}:{info.filename}"
                moodle = MOODLE_FOLDER.match(member.parts[0]) if len(member.parts) > 1 else None
                if len(member.parts) == 1:
                    moodle = MOODLE_FILE.match(member.name)
                canvas = CANVAS_FILE.match(member.name) if len(member.parts) == 1 else None
                late = False
                if moodle:
                    identity = Identity(moodle["id"], moodle["name"], "moodle", moodle["id"])
                elif canvas:
                    identity = Identity(canvas["id"], canvas["name"], "canvas", canvas["id"])
                    late = bool(canvas["late"])
                else:
                    self.result.unmatched.append(
                        f"{shown}: matches no student (neither a Canvas file "
                        "<name>_<id>_<id>_<file> nor in a Moodle folder "
                        "<Full Name>_<id>_assignsubmission_file_/)")
                    continue
                assignment = self.notebook(identity, member.name, shown)
                if assignment is None:
                    continue
                target = self.scratch / "unzipped" / f"{number}-{index}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    target.write_text("")  # graded as an invalid notebook, with its reason
                else:
                    target.write_bytes(zipped.read(info))
                self.offer(identity.key, assignment, target, shown,
                           dt.datetime(*info.date_time).timestamp(), late)

    def folder_of(self, identity: Identity, folder: Path, top: Path) -> None:
        for path, kind in _entries(folder):
            shown = str(path.relative_to(top))
            if _ignored(path.relative_to(top).parts):
                continue
            assignment = self.notebook(identity, path.name, shown)
            if assignment is None:
                continue
            if kind == "file" and path.resolve().is_relative_to(folder.resolve()):
                self.offer(identity.key, assignment, path, shown, path.lstat().st_mtime)
            else:
                self.unreadable(identity.key, assignment, shown, kind)

    def finish(self) -> Collection:
        for key, options in sorted(self.candidates.items()):
            options.sort(key=lambda option: (option[0], option[1], option[3]))
            _, _, path, shown, late = options[-1]
            self.result.found[key] = path
            if late:
                self.result.late.add(key)
            if len(options) > 1:
                self.note(key, f"{len(options)} notebooks handed in for {key[1]}; graded {shown}")
        return self.result


def collect(submissions: Path, names: list[str], scratch: Path) -> Collection:
    """Find every student's notebooks in ``submissions``: a folder holding, in any mix, one
    folder per student, LMS zip files (Canvas, Moodle), or the unzipped contents of those; or
    one LMS zip file itself.

    Students are keyed by their LMS id (Canvas user id, Moodle participant id), else by the
    name of their folder (Unicode kept, :func:`student_key`); two ids are never merged. Each
    file that is not graded is listed in ``unmatched`` with the reason, and a folder named like
    an assignment (one student's folder passed instead of the class's) is refused there too.
    When a student handed in several notebooks for one assignment, the one named like the
    assignment wins, else the newest, with a note saying so."""
    submissions = Path(submissions)
    collector = _Collector(list(names), Path(scratch))
    unmatched = collector.result.unmatched
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise ValueError(f"{submissions} is a file but not a zip file: pass the folder of "
                             "submissions, or an LMS zip export")
        collector.zip_file(submissions, 0, submissions.name)
        return collector.finish()
    top = submissions.resolve()
    for number, archive in enumerate(sorted(top.glob("*.zip"))):
        collector.zip_file(archive, number, archive.name)
    for path in sorted(top.iterdir()):
        name, shown = path.name, path.name
        if _ignored([name]) or path.suffix == ".zip":
            continue
        if path.is_symlink():
            unmatched.append(f"{shown}: a symbolic link; not read")
        elif path.is_dir():
            moodle = MOODLE_FOLDER.match(name)
            if moodle:  # an unzipped Moodle export
                identity = Identity(moodle["id"], moodle["name"], "moodle", moodle["id"])
            elif assignment := _looks_like_assignment(name, names):
                unmatched.append(NOT_A_CLASS.format(shown=f"{shown}/", assignment=assignment))
                continue
            else:
                key = student_key(name)
                if not key:
                    unmatched.append(f"{shown}/: a folder name with no letters; not read")
                    continue
                identity = Identity(key, name)
            collector.folder_of(identity, path, top)
        elif not path.is_file():
            unmatched.append(f"{shown}: not a regular file; not read")
        elif moodle := MOODLE_FILE.match(name):  # an unzipped Moodle export, no folders
            identity = Identity(moodle["id"], moodle["name"], "moodle", moodle["id"])
            assignment = collector.notebook(identity, name, shown)
            if assignment is not None:
                collector.offer(identity.key, assignment, path, shown, path.lstat().st_mtime)
        elif canvas := CANVAS_FILE.match(name):  # an unzipped Canvas export
            identity = Identity(canvas["id"], canvas["name"], "canvas", canvas["id"])
            assignment = collector.notebook(identity, name, shown)
            if assignment is not None:
                collector.offer(identity.key, assignment, path, shown, path.lstat().st_mtime,
                                bool(canvas["late"]))
        elif name.endswith(".ipynb") and (assignment := _match_assignment(name, names)):
            unmatched.append(NOT_A_CLASS.format(shown=shown, assignment=assignment)
                             .replace("folder you passed looks", "folder you passed (a "
                                      "notebook directly inside it) looks"))
        else:
            unmatched.append(f"{shown}: matches no student (put each student's notebooks in a "
                             "folder named after the student)")
    return collector.finish()


def collect_submissions(folder: Path, names: list[str], scratch: Path,
                        notes: dict[tuple[str, str], list[str]] | None = None,
                        ) -> dict[tuple[str, str], Path]:
    """Map (student, assignment) to the submitted file (see :func:`collect`, which also returns
    who the students are, late flags and the files that matched nobody); ``notes`` (if given)
    receives the lines about a student's submissions."""
    collection = collect(folder, names, scratch)
    if notes is not None:
        for key, lines in collection.notes.items():
            notes.setdefault(key, []).extend(lines)
    return collection.found


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


class NothingToGrade(ValueError):
    """The submissions hold no notebook to grade (an empty folder, a wrong folder, names that
    match no student or assignment): the message says what was found instead."""


def check_assignments(requested, known: list[str]) -> list[str]:
    """``requested`` (assignment names, e.g. from ``--assignment``) checked against the
    ``known`` ones; a ValueError for an unknown name suggests the closest and lists them all."""
    import difflib

    if isinstance(requested, str) or not all(isinstance(name, str) for name in requested):
        raise TypeError("assignments must be a list of assignment names (str)")
    unknown = [name for name in requested if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hints.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"no such assignment: {', '.join(hints)}; the assignments are: "
                         f"{', '.join(known)}")
    return list(dict.fromkeys(requested))


def nothing_found(submissions: Path, collection: Collection, names: list[str]) -> str:
    """The message for a run that found no notebook to grade, with what was found instead."""
    lines = [f"no notebook to grade in {submissions} (for {', '.join(names)}); nothing was "
             "graded."]
    if collection.unmatched:
        lines.append("Found instead (not graded):")
        lines += [f"  - {line}" for line in collection.unmatched]
    else:
        lines.append("The folder is empty.")
    lines.append("Expected: one folder per student (alice/ch08_adam.ipynb), Canvas or Moodle "
                 "zip exports, or their unzipped contents (see book/instructors.md).")
    return "\n".join(lines)

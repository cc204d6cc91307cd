"""Damaged notebooks: read what can be read, match what lost its metadata, explain the rest.

A notebook that lost its nbgrader metadata (a tool that drops cell metadata, an old nbformat
without cell ids), or whose metadata is malformed, is graded as far as it can be and its notes
say what happened; a notebook that cannot be read at all scores 0 with the reason in words,
a feedback page and its log kept in ``grading/logs/`` (never a bare "Traceback").
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import nbformat

__all__ = ["failure_line", "keep_log", "match_by_text", "readable_cells"]

CELL_TYPES = ("code", "markdown", "raw")


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def readable_cells(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """Read a submitted notebook, repairing what is malformed but harmless (metadata that is
    not an object, nbgrader metadata that is not one, a missing source or format version);
    return the notebook and one note per repair. Raise ValueError, saying why in words, when
    it is not a notebook at all."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("it is not text (UTF-8)") from None
    except ValueError as error:
        raise ValueError(f"it is not JSON ({str(error)[:80]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("it holds no list of cells")
    notes: list[str] = []
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    if data.get("nbformat") != 4:
        if "nbformat" in data:
            raise ValueError(f"it is in notebook format {str(data.get('nbformat'))[:20]}, not 4")
        data["nbformat"] = 4
        notes.append("its notebook format version was missing (4 assumed)")
    if not isinstance(data.get("nbformat_minor"), int):
        data["nbformat_minor"] = 4
    cells, dropped, fixed = [], 0, []
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
            dropped += 1
            continue
        if not isinstance(cell.get("metadata"), dict):
            fixed.append(f"cell {number}: its metadata was {_kind(cell.get('metadata'))}")
            cell["metadata"] = {}
        meta = cell["metadata"].get("nbgrader")
        if meta is not None and not isinstance(meta, dict):
            fixed.append(f"cell {number}: its nbgrader metadata was {_kind(meta)}")
            del cell["metadata"]["nbgrader"]
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            fixed.append(f"cell {number}: it had no text")
            source = ""
        cell["source"] = source
        if cell["cell_type"] == "code":
            if not isinstance(cell.get("outputs"), list):
                cell["outputs"] = []
            if not isinstance(cell.get("execution_count"), (int, type(None))):
                cell["execution_count"] = None
        if not isinstance(cell.get("id", ""), str):
            del cell["id"]
        cells.append(cell)
    data["cells"] = cells
    if dropped:
        notes.append(f"{dropped} entries of its cell list were not cells; left out")
    if fixed:
        notes.append("malformed metadata ignored (" + "; ".join(fixed[:5])
                     + (f"; {len(fixed) - 5} more" if len(fixed) > 5 else "") + ")")
    try:
        notebook = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # noqa: BLE001  (untrusted structure: nbformat's reason, in words)
        raise ValueError(f"nbformat cannot read it ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:120] if str(error) else ''})") from None
    return notebook, notes


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _text(cell) -> str:
    return "\n".join(line.rstrip() for line in str(cell.get("source", "")).strip().splitlines())


def match_by_text(notebook, released) -> list[str]:
    """A submission that kept neither nbgrader grade ids nor cell ids of the release (saved by
    a tool that drops both) gets them back in place: locked cells found by their text, in
    order, and each answer cell taken as the first cell of its type between the locked cells
    around it. Changes ``notebook``; returns notes (none when there was nothing to match)."""
    released_ids = {cell.get("id") for cell in released.cells}
    if any(_grade_id(cell) for cell in notebook.cells) or \
            any(cell.get("id") in released_ids for cell in notebook.cells):
        return []
    anchors: dict[int, int] = {}  # released index -> submitted index
    position = 0
    for index, cell in enumerate(released.cells):
        meta = cell.metadata.get("nbgrader", {})
        if not _grade_id(cell) or meta.get("solution"):
            continue
        for mine in range(position, len(notebook.cells)):
            if notebook.cells[mine].cell_type == cell.cell_type and \
                    _text(notebook.cells[mine]) == _text(cell):
                anchors[index] = mine
                position = mine + 1
                break
    answers = []
    for index, cell in enumerate(released.cells):
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        before = max((anchors[i] for i in anchors if i < index), default=-1)
        after = min((anchors[i] for i in anchors if i > index), default=len(notebook.cells))
        taken = set(anchors.values())
        for mine in range(before + 1, after):
            if mine not in taken and notebook.cells[mine].cell_type == cell.cell_type:
                anchors[index] = mine
                answers.append(_grade_id(cell))
                break
    for index, mine in anchors.items():
        notebook.cells[mine].metadata["nbgrader"] = copy.deepcopy(
            released.cells[index].metadata["nbgrader"])
        notebook.cells[mine]["id"] = released.cells[index].get("id")
    if not anchors:
        return ["its nbgrader metadata and cell ids are gone and no cell matches the release: "
                "graded as an empty submission"]
    return [f"its nbgrader metadata and cell ids are gone (saved by a tool that drops them?): "
            f"cells matched to the release by their text and place; answers found: "
            f"{', '.join(answers) or 'none'}"]


def failure_line(text: str) -> str:
    """The line of a traceback or log that says what went wrong (its last meaningful line),
    never the bare "Traceback (most recent call last):"."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    meaningful = [line for line in lines
                  if not line.startswith(("Traceback (most recent call last)", "File \"", "^"))
                  and not set(line) <= set("^~ ")]
    return meaningful[-1][-200:] if meaningful else ""


def keep_log(grading_dir: Path, student: str, assignment: str, text: str) -> str:
    """Append ``text`` (a traceback, nbgrader's log) to ``logs/<student>/<assignment>.log`` in
    the grading folder (the instructor's, never shown to students); return that path,
    relative to the grading folder."""
    relative = Path("logs") / student / f"{assignment}.log"
    path = Path(grading_dir) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {stamp} {student} {assignment}\n{str(text or '(no log)').rstrip()}\n")
    return relative.as_posix()

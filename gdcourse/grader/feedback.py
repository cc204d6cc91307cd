"""Stage *feedback*: one HTML page per notebook, in the grader's words, with the student's cells inert."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from gdcourse.grader.record import Result

HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
HIDDEN_NOTE = "# (further tests, hidden from students, ran here)\n"
QUOTED_NOTE = "[output removed: it quoted hidden tests]\n"
INERT = ("text/plain", "image/png", "image/jpeg")  # output types feedback pages show


def _output_text(output) -> str:
    data = output.get("data", {})
    parts = [output.get("text", ""), output.get("evalue", ""),  # tracebacks go anyway
             *(value if isinstance(value, str) else "".join(value)
               for key, value in data.items() if key.startswith("text/")
               or key in ("application/json", "application/javascript"))]
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


def sanitize_feedback(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove hidden tests from every cell and tracebacks from errors (they quote test code),
    and drop every output that quotes a line of hidden tests (code in the kernel may print the
    cells it sees, e.g. from an IPython ``pre_run_cell`` hook)."""
    hidden = {line.strip() for cell in notebook.cells
              for block in HIDDEN_TESTS.findall(cell.source) for line in block.splitlines()
              if len(line.strip()) > 12 and "HIDDEN TESTS" not in line}
    for cell in notebook.cells:
        cell.source = HIDDEN_TESTS.sub(HIDDEN_NOTE, cell.source)
        outputs = []
        for output in cell.get("outputs", []):
            if any(line in _output_text(output) for line in hidden):
                outputs.append(nbformat.v4.new_output("stream", name="stderr", text=QUOTED_NOTE))
                continue
            if output.get("output_type") == "error":
                ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
                output["traceback"] = [f"{ename}: {evalue}"]
            elif output.get("output_type") in ("display_data", "execute_result"):
                # inert: text and pictures only (no HTML, JavaScript, SVG, widgets)
                data = output.get("data", {})
                output["data"] = {key: value for key, value in data.items() if key in INERT}
                output["metadata"] = {}
                if not output["data"]:
                    continue
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
        cell.pop("attachments", None)
        if cell.cell_type == "markdown" and not cell.get("metadata", {}).get(
                "nbgrader", {}).get("locked"):  # the student's text: shown, never run
            cell.source = re.sub(r"(?i)javascript:", "javascript&#58;",
                                 html.escape(cell.source, quote=False))
        elif cell.cell_type == "raw":
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.source = html.escape(cell.source, quote=False)
    notebook.metadata.pop("widgets", None)
    return notebook


_EXPORTER = None


def _write_feedback(autograded: Path, target: Path, result: Result, questions: dict) -> None:
    global _EXPORTER
    if _EXPORTER is None:  # one per process: reusing its templates halves the time per page
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(template_name="classic")
    notebook = sanitize_feedback(nbformat.read(autograded, as_version=4))
    lines = [f"# Feedback: {result.assignment}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    lines += [f"- {name}: {score:g} / {maximum:g}" for name, (score, maximum) in
              sorted(questions.items())]
    lines += [f"- note: {note}" for note in result.notes]
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
    html, _ = _EXPORTER.from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def write_note_page(target: Path, result: Result) -> None:
    """The feedback page of a notebook that could not be graded: its score and, in the
    grader's words, what happened (the notes); nothing of the notebook itself."""
    items = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>Feedback: {html.escape(result.assignment)}</title></head><body>\n"
            f"<h1>Feedback: {html.escape(result.assignment)}</h1>\n"
            f"<p><strong>Score: {result.score:g} / {result.max_score:g}</strong> "
            f"({html.escape(result.status)})</p>\n"
            f"<p>Your notebook could not be graded. What happened:</p>\n<ul>{items}</ul>\n"
            f"<p>Ask your instructor if this looks wrong; they can see the grading log.</p>\n"
            f"</body></html>\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")

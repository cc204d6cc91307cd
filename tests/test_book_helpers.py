"""gdcourse.book glues values the way MyST-NB reads them, without importing MyST-NB."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "from gdcourse.book import GluedText, glue_figure, glue_text",
    "text = glue_text('ours-text', 3.14159, '.3f')",
    "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [1, 0])\n"
    "glue_figure('ours-figure', fig)\nplt.close(fig)",
    "from myst_nb import glue\nglue('theirs-text', GluedText('3.142'), display=False)",
]


@pytest.mark.slow  # a real kernel
def test_glued_outputs_are_what_myst_nb_glue_writes_and_reads():
    from myst_nb.ext.glue import extract_glue_data_cell

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    ours_text, ours_figure, theirs = notebook.cells[1], notebook.cells[2], notebook.cells[3]
    # the raw outputs: the same MIME keys and metadata as MyST-NB's own glue
    assert [o["data"] for o in ours_text.outputs] == [o["data"] for o in theirs.outputs]
    assert ([o["metadata"]["scrapbook"]["mime_prefix"] for o in ours_text.outputs]
            == [o["metadata"]["scrapbook"]["mime_prefix"] for o in theirs.outputs])
    # and MyST-NB finds them under their keys, with nothing displayed in the cell
    [(key, text)] = extract_glue_data_cell(ours_text)
    assert (key, text["data"]["text/plain"], ours_text.outputs) == ("ours-text", "3.142", [])
    [(key, figure)] = extract_glue_data_cell(ours_figure)
    assert key == "ours-figure"
    assert "image/png" in figure["data"]
    assert ours_figure.outputs == []

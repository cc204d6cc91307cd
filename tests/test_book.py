"""The strict book build: every chapter page exists, glued numbers are filled in, figures present.

Runs ``jupyter-book build -W -n --keep-going`` (warnings are errors) exactly as ``make book`` does,
into a temporary output folder so it never disturbs a developer's ``_build``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, chapter_notebooks

pytestmark = pytest.mark.slow

GLUE_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`([^`]+)`")


@pytest.fixture(scope="module")
def html(built_book) -> Path:
    """The strict build, made once per session (tests/_book_build.py)."""
    return built_book


def page(html: Path, relative: str) -> BeautifulSoup:
    return BeautifulSoup((html / relative).read_text(encoding="utf-8"), "html.parser")


def test_intro_and_references_pages(html):
    intro = page(html, "book/intro.html")
    assert "gradient descent" in intro.get_text().lower()
    references = page(html, "book/references.html")
    assert "Kingma" in references.get_text()
    assert (html / "index.html").exists()


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.name)
def test_chapter_page_is_complete(html, notebook):
    soup = page(html, f"book/{notebook.stem}.html")
    main = soup.find("main") or soup
    text = main.get_text(" ")
    # glued values are substituted: no role left raw, no glue key printed as a placeholder
    assert "{glue" not in text
    source = nbformat.read(notebook, as_version=4)
    keys = {key for cell in source.cells if cell.cell_type == "markdown"
            for key in GLUE_ROLE.findall(cell.source)}
    assert keys, f"{notebook.name} quotes no computed number"
    # every figure is an image with alt text, and every glued figure became an image
    images = main.find_all("img")
    assert images, f"{notebook.name} has no figure"
    glued_figures = sum(cell.source.count("{glue:figure}") for cell in source.cells
                        if cell.cell_type == "markdown")
    figure_images = [f for f in main.select("figure") if f.find("img")]
    assert len(figure_images) >= glued_figures, (
        f"{notebook.name}: {glued_figures} glued figures but {len(figure_images)} rendered images")
    assert "<Figure size" not in text
    for image in images:
        assert image.get("alt", "").strip(), f"image {image.get('src')} has no alt text"
    # tracebacks would mean a failing cell slipped through
    assert "Traceback (most recent call last)" not in text


def test_worked_example_numbers_are_glued(html):
    text = page(html, "book/02_gradient_descent.html").get_text(" ")
    assert "4.000" in text and "0.000" in text


def test_solutions_never_reach_the_html(html):
    import html as html_module

    from exercise_students import secret_lines

    assert not list(html.rglob("solutions*"))
    pages = {p: html_module.unescape(p.read_text(errors="ignore")) for p in html.rglob("*.html")}
    assert not any("BEGIN SOLUTION" in text or "HIDDEN TESTS" in text for text in pages.values())
    # A solution line that is also a line of the published reference package (which the
    # chapters show on purpose, e.g. ``beta1, beta2 = betas``) gives nothing away.
    # Compared without the package's trailing comments (``m_hat = m / (1 - beta1**t)  # m̂ ...``).
    public = {form for module in (ROOT / "gdcourse").rglob("*.py")
              for line in module.read_text(encoding="utf-8").splitlines()
              for form in (line.strip(), line.split("  #")[0].strip())}
    for source in (ROOT / "solutions").rglob("*.ipynb"):
        for line in secret_lines(nbformat.read(source, as_version=4)):
            if line.strip() in public:
                continue
            leaked = [p.name for p, text in pages.items() if line in text]
            assert not leaked, (line, leaked)


def test_exercise_pages_are_built_unexecuted_with_launch_buttons(html):
    for source in (ROOT / "exercises").rglob("*.ipynb"):
        page = html / source.relative_to(ROOT).with_suffix(".html")
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        assert "NotImplementedError" in soup.get_text()
        assert not soup.select(".cell_output"), f"{page.name} was executed"
        links = [a.get("href", "") for a in soup.find_all("a")]
        assert any("mybinder.org" in link for link in links)
        assert any("colab.research.google.com" in link for link in links)


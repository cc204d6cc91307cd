"""What ``_config.yml`` says about where the book lives, and the URLs that follow from it.

One place for the tests that check launch buttons (Binder, Colab) and the guarded install cell of
every notebook: all of them derive the expected URL from ``repository`` and ``launch_buttons`` in
``_config.yml``, the single place the project sets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from gdcourse.edition import install_cell_problems as edition_install_cell_problems
from gdcourse.edition import settings

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["BookConfig", "book_config", "install_cell_problems"]


@dataclass(frozen=True)
class BookConfig:
    repository_url: str   # https://github.com/<org>/<repo>
    branch: str
    path_to_book: str     # "" when the book's root is the repository's root
    binderhub: str        # launch_buttons.binderhub_url
    colab: str            # launch_buttons.colab_url
    notebook_interface: str  # "classic" or "jupyterlab"

    @property
    def org_repo(self) -> str:
        """``org/repo`` of a GitHub repository URL."""
        parts = urlsplit(self.repository_url)
        if parts.netloc != "github.com":
            raise ValueError(f"repository.url must be a github.com URL, got {self.repository_url}")
        return parts.path.strip("/").removesuffix(".git")

    def repo_path(self, source: str) -> str:
        """Path inside the repository of a book source file (``book/02_x.ipynb``)."""
        return "/".join(part for part in (self.path_to_book.strip("/"), source) if part)

    def binder_url(self, source: str) -> str:
        """The Binder launch URL sphinx-book-theme writes for a notebook page."""
        ui = "tree" if self.notebook_interface == "classic" else "lab/tree"
        return (f"{self.binderhub.rstrip('/')}/v2/gh/{self.org_repo}/{self.branch}"
                f"?urlpath={ui}/{self.repo_path(source)}")

    def colab_url(self, source: str) -> str:
        """The Colab launch URL sphinx-book-theme writes for a notebook page."""
        return (f"{self.colab.rstrip('/')}/github/{self.org_repo}/blob/{self.branch}/"
                f"{self.repo_path(source)}")

    @property
    def install_spec(self) -> str:
        """The pip requirement of the install cell: the pinned release of the student repository
        (``gdcourse.release`` in ``_config.yml``, see ``gdcourse/edition.py``)."""
        return settings().install_spec


@cache
def book_config(root: Path = ROOT) -> BookConfig:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repository = config.get("repository", {})
    launch = config.get("launch_buttons", {})
    return BookConfig(
        repository_url=repository["url"].rstrip("/"),
        branch=repository.get("branch", "main"),
        path_to_book=repository.get("path_to_book", "") or "",
        binderhub=launch.get("binderhub_url", "").rstrip("/"),
        colab=launch.get("colab_url", "").rstrip("/"),
        notebook_interface=launch.get("notebook_interface", "classic"),
    )


def install_cell_problems(path: Path) -> list[str]:
    """What is wrong with the install cell of a notebook (empty when it is right): it must be the
    first code cell, exactly as ``make install-cells`` writes it from ``_config.yml``."""
    return edition_install_cell_problems(path, settings())

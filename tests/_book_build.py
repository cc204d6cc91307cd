"""Build the book once per test session, for every test that reads the HTML.

``jupyter-book build -W -n --keep-going`` (as ``make book``) into a temporary output folder, so a
developer's ``_build`` is never touched and nothing stale is read. Whoever asks first pays for the
build; later callers in the same session get the same :class:`BookBuild`.

Two fixtures, wired into the suite by ``tests/conftest.py`` (``from _book_build import ...``):

``book_build``  the :class:`BookBuild` record, whether or not the strict build passed. Tests of the
                pages themselves (the browser test) use it: one warning in one chapter should not
                hide every other page from them. It fails only when no HTML was produced at all.
``built_book``  the ``_build/html`` folder of a build that passed the strict checks; fails with the
                warnings otherwise (what ``tests/test_book.py`` wants).

Setting ``GDCOURSE_BOOK_HTML=/path/to/_build/html`` skips the build and reads that folder instead:
a quick loop while working on the browser test (``make book`` first), never used by ``make test``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

__all__ = ["BookBuild", "book_build", "build_book", "build_once", "built_book"]


@dataclass
class BookBuild:
    """The outcome of one book build."""

    html: Path
    returncode: int = 0
    log: str = ""
    seconds: float = 0.0
    reused: bool = False  # True when GDCOURSE_BOOK_HTML pointed at an existing build
    warnings: list[str] = field(default_factory=list)

    @property
    def strict_ok(self) -> bool:
        return self.returncode == 0

    def failure_message(self, limit: int = 25) -> str:
        lines = self.warnings[:limit] or self.log.splitlines()[-limit:]
        return f"strict book build failed (exit {self.returncode}):\n" + "\n".join(lines)


# what every kernel started during execution prints, not about the book
_KERNEL_NOISE = ("[IPKernelApp]", "\x1b[91m[IPKernelApp]")


def build_book(output: Path, source: Path = ROOT) -> BookBuild:
    """Run the strict build of ``source`` into ``output``; return what happened (never raises)."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(VENV_BIN / "jupyter-book"), "build", "-W", "-n", "--keep-going",
         "--path-output", str(output), str(source)],
        capture_output=True, text=True, cwd=source, check=False,
        # as `make book`: widgets render statically, and matplotlib picks its notebook backend
        env={**{k: v for k, v in os.environ.items() if k != "MPLBACKEND"}, "GDCOURSE_STATIC": "1"},
    )
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and not line.startswith(_KERNEL_NOISE)]
    return BookBuild(html=output / "_build" / "html", returncode=result.returncode, log=log,
                     seconds=time.perf_counter() - started, warnings=warnings)


_BUILD: BookBuild | None = None


def build_once(tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """The session's book build: made on first call, the same object afterwards."""
    global _BUILD
    if _BUILD is None:
        reuse = os.environ.get("GDCOURSE_BOOK_HTML")
        if reuse:
            html = Path(reuse).resolve()
            if not (html / "index.html").is_file():
                pytest.fail(f"GDCOURSE_BOOK_HTML={reuse} holds no built book (no index.html)")
            _BUILD = BookBuild(html=html, reused=True)
        else:
            _BUILD = build_book(tmp_path_factory.mktemp("book"))
    return _BUILD


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    build = build_once(tmp_path_factory)
    if not (build.html / "index.html").is_file():
        pytest.fail("the book build produced no HTML\n" + build.failure_message())
    return build


@pytest.fixture(scope="session")
def built_book(book_build: BookBuild) -> Path:
    if not book_build.strict_ok:
        pytest.fail(book_build.failure_message())
    return book_build.html

"""Fresh virtual environments for the Binder and wheel tests, and notebooks executed inside them.

Each environment starts empty (``python -m venv``), so nothing leaks in from the test's own
``.venv``. pip keeps using its ordinary cache (``~/.cache/pip``), which turns the second and later
builds into local copies. Notebooks are executed by nbclient running *inside* the new environment,
with an empty Jupyter data path, so the kernel is that environment's Python and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Venv", "clean_env", "repository_files"]

# A cell appended to every executed notebook: where the kernel runs and where gdcourse came from.
PROBE = (
    "import json as _json, sys as _sys, gdcourse as _gdcourse\n"
    "print('GDCOURSE_PROBE ' + _json.dumps({'executable': _sys.executable, "
    "'prefix': _sys.prefix, 'gdcourse': _gdcourse.__file__}))"
)

_EXECUTE = r"""
import json, sys
import nbformat
from nbclient import NotebookClient

source, target, cwd, allow_errors, timeout = sys.argv[1:6]
notebook = nbformat.read(source, as_version=4)
client = NotebookClient(notebook, timeout=int(timeout), kernel_name="python3",
                        allow_errors=allow_errors == "1", resources={"metadata": {"path": cwd}})
try:
    client.execute()
    failure = None
except Exception as error:  # the first failing cell, when errors are not allowed
    failure = f"{type(error).__name__}: {error}"
nbformat.write(notebook, target)
print(json.dumps({"failure": failure}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a command in a fresh venv: no trace of the test's own environment."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "MPLBACKEND",
                          "GDCOURSE_STATIC", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")}
    own_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != own_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def repository_files(root: Path = ROOT) -> list[Path]:
    """The files a fresh clone would have: tracked, plus new files not ignored (not yet committed)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True).stdout.decode()
    names = [name for name in listing.split("\0") if name]
    # npm's node_modules never belongs to the repository, ignored by .gitignore or not yet
    return [root / name for name in names
            if "node_modules" not in Path(name).parts and (root / name).is_file()]


@dataclass
class Executed:
    notebook: nbformat.NotebookNode
    failure: str | None
    seconds: float

    @property
    def errors(self) -> list[tuple[int, dict, str]]:
        """(cell index, cell's nbgrader metadata, "Ename: value") of every error output."""
        return [(index, cell.metadata.get("nbgrader", {}), f"{out.ename}: {out.evalue}")
                for index, cell in enumerate(self.notebook.cells) if cell.cell_type == "code"
                for out in cell.get("outputs", []) if out.output_type == "error"]

    @property
    def probe(self) -> dict:
        for cell in reversed(self.notebook.cells):
            for out in cell.get("outputs", []):
                text = out.get("text", "")
                if out.output_type == "stream" and "GDCOURSE_PROBE " in text:
                    return json.loads(text.split("GDCOURSE_PROBE ", 1)[1])
        return {}


class Venv:
    """A fresh virtual environment at ``path``, made with ``python``."""

    def __init__(self, path: Path, python: str = sys.executable) -> None:
        self.path = Path(path)
        self.python = self.path / "bin" / "python"
        self.jupyter_data = self.path / "jupyter-data"  # empty: no kernelspec from elsewhere
        self.log: list[str] = []
        started = time.perf_counter()
        self.run([python, "-m", "venv", str(self.path)])
        self.seconds = time.perf_counter() - started

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(
            PATH=f"{self.path / 'bin'}{os.pathsep}{clean_env()['PATH']}",
            VIRTUAL_ENV=str(self.path), JUPYTER_DATA_DIR=str(self.jupyter_data),
            JUPYTER_PATH=str(self.jupyter_data), **extra)

    def run(self, command: list[str], cwd: Path | None = None, timeout: int = 600,
            **kwargs) -> subprocess.CompletedProcess:
        started = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                                timeout=timeout, env=self.env() if self.python.exists() else
                                clean_env(), **kwargs)
        self.log.append(f"$ {' '.join(map(str, command))}  ({time.perf_counter() - started:.1f} s,"
                        f" exit {result.returncode})")
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed (exit {result.returncode}):\n"
                               + (result.stdout + result.stderr)[-4000:])
        return result

    def pip(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return self.run([str(self.python), "-m", "pip", *args], cwd=cwd)

    def execute(self, notebook: Path, cwd: Path, *, allow_errors: bool = False,
                timeout: int = 180) -> Executed:
        """Run ``notebook`` (plus the probe cell) with nbclient in this venv, in folder ``cwd``."""
        source = nbformat.read(notebook, as_version=4)
        source.cells.append(nbformat.v4.new_code_cell(PROBE))
        staged = self.path / f"{notebook.stem}.in.ipynb"
        target = self.path / f"{notebook.stem}.out.ipynb"
        nbformat.write(source, staged)
        script = self.path / "execute_notebook.py"
        script.write_text(_EXECUTE, encoding="utf-8")
        started = time.perf_counter()
        result = self.run([str(self.python), str(script), str(staged), str(target), str(cwd),
                           "1" if allow_errors else "0", str(timeout)], cwd=cwd,
                          timeout=timeout * 4)
        failure = json.loads(result.stdout.strip().splitlines()[-1])["failure"]
        return Executed(nbformat.read(target, as_version=4), failure,
                        time.perf_counter() - started)

"""Small helpers for the chapter notebooks: quoting computed numbers in the prose.

The book quotes numbers through MyST-NB's ``glue``: a code cell computes a value and glues it
under a name, and the text writes ``{glue:}`name``` where the number should appear, so text and
code cannot disagree. :func:`glue_text` formats the value *before* gluing (a NumPy 2 scalar's
``repr`` is ``np.float64(4.0)``, which would otherwise leak into the page) and glues an object
whose plain-text form is exactly that string, without the quotes a ``str`` would get.

Outside a book build (Colab, a plain Jupyter server) MyST-NB may be missing: the helpers then
only return the formatted string, so every chapter still runs top to bottom.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

__all__ = ["GluedText", "glue_figure", "glue_text"]

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")


class GluedText:
    """A string that displays as itself (``text/plain`` and ``text/markdown``, no quotes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


# MyST-NB reads glued values from display outputs whose MIME types carry this prefix (and
# metadata naming the key): the protocol of ``myst_nb.glue``, which is written here because
# importing ``myst_nb`` costs about 2 s per kernel (it loads nbformat, jsonschema and grammars
# that a notebook never needs).
_GLUE_PREFIX = "application/papermill.record/"


def _myst_glue():
    """``glue(name, value)`` when MyST-NB is installed, else None (Colab or a bare Jupyter)."""
    if importlib.util.find_spec("myst_nb") is None:
        return None
    return _glue


def _glue(name: str, value: Any) -> None:
    """Glue ``value`` under ``name`` without displaying it, as ``myst_nb.glue(..., display=False)``."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": _GLUE_PREFIX}
    display({_GLUE_PREFIX + key: data for key, data in bundle.items()}, raw=True,
            metadata=metadata)


def glue_text(name: str, value: Any, fmt: str = "") -> str:
    """Format ``value`` with ``fmt`` and glue the result under ``name``; return the string.

    >>> glue_text("x_min", 4.0000001, ".3f")
    '4.000'
    >>> glue_text("bad name", 1)
    Traceback (most recent call last):
    ...
    ValueError: name must be a glue key (letters, digits, _ and -, not starting with a digit), got 'bad name'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "name must be a glue key (letters, digits, _ and -, not starting with a digit), "
            f"got {name!r}"
        )
    text = format(value, fmt)
    glue = _myst_glue()
    if glue is not None:
        glue(name, GluedText(text))
    return text


def glue_figure(name: str, figure: Any, *, dpi: int = 100) -> Any:
    """Glue a matplotlib figure (or any displayable) under ``name`` without showing it here.

    A matplotlib figure is rendered to PNG first: how Jupyter displays a ``Figure`` depends on the
    matplotlib backend (with ``MPLBACKEND=Agg`` it has only a text form), a PNG image does not.
    The page then places it with a ``{glue:figure}`` directive that carries the caption and the
    alt text. Returns ``figure``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a glue key, got {name!r}")
    glue = _myst_glue()
    if glue is not None:
        glue(name, _as_image(figure, dpi))
    return figure


def _as_image(figure: Any, dpi: int) -> Any:
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        return figure
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return Image(data=buffer.getvalue(), format="png")

r"""The interactive static view of an explorer: sliders that move on a published page, offline.

On a page built without a kernel (``GDCOURSE_STATIC=1``) an explorer cannot rerun its optimizer,
so its pictures are made at build time: the explorer draws its own figure, through the same code
as the live widget (:meth:`gdcourse.widgets.Explorer.frame_pixels`), for every point of a grid of
control values (:meth:`~gdcourse.widgets.Explorer.view_grid`: 30-60 values per slider, a
two-dimensional grid where the view has two sliders, the interesting values such as the stability
bound 2/L always on the grid). The page gets one self-contained HTML output:

- an ``<input type="range">`` per slider (a ``<select>`` per dropdown), each with a ``<label>``
  and an ``<output>`` showing the value; the keyboard moves them (arrow keys, Home, End);
- the picture: the frame for the chosen values, as an ``<img>`` whose alt text follows it;
- the status line (converged, oscillating, "diverged at step k") under it, in an ``aria-live``
  region, so a screen reader announces each new outcome;
- a few lines of JavaScript swapping frames; no server, no network, no library.

Without JavaScript the controls stay hidden and the picture shows the explorer's own setting
(the one the chapter's author chose) as a plain image with its alt text.

**Why frames and not drawing in the browser.** A frame is the live widget's own picture, so the
numbers, fonts, contour maps and the divergence warnings are the reference's and a test can check
them pixel for pixel; redrawing in JavaScript would be a second plotting library to keep in step.
The cost is size, and it is kept down by layering: within one view most of a frame never changes
(axes, ticks, labels, contour maps), so each distinct *background* is stored once and each frame
is stored as an *overlay*, a palette PNG holding only the pixels that differ from its background (the
paths and curves; everything else transparent). The page stacks the two (the background as the
picture box's CSS background, the overlay as the ``<img>``), which reproduces the live widget's
pixels exactly. An overlay weighs 2-10 KiB against 30-100 KiB for a whole frame, so 40-300 frames
fit in the 1.5 MB budget of a view; swapping an ``<img>`` source is also instant on any device,
where redrawing 300 paths of 300 points each on a phone is not.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BUDGET_BYTES", "ViewControl", "build_view", "compose", "decode_png", "grid_values"]

BUDGET_BYTES = 1_500_000
"""The most one explorer's view may weigh in the page (HTML, frames and script), in bytes."""


@dataclass(frozen=True)
class ViewControl:
    """One control of the view: the explorer's control ``name`` over the grid ``values``."""

    name: str
    label: str
    kind: str  # "range" or "select"
    values: tuple
    labels: tuple[str, ...]


def grid_values(kind: str, low: float, high: float, count: int,
                special: Sequence[float] = ()) -> list:
    """``count`` values from ``low`` to ``high`` (log-spaced for kind "log", whole numbers for
    "int"), with the ``special`` values inserted exactly; grid points crowding a special value
    (closer than a third of the spacing) give way to it.

    >>> grid_values("float", 0.0, 1.0, 5, special=[0.3])
    [0.0, 0.3, 0.5, 0.75, 1.0]
    >>> grid_values("int", 1, 256, 10, special=[16])
    [1, 2, 3, 6, 12, 16, 22, 40, 75, 138, 256]
    """
    if count < 2:
        raise ValueError(f"count must be at least 2, got {count}")
    special = [v for v in special if low <= v <= high]
    if kind in ("log", "int"):
        position = np.log
        grid = np.geomspace(low, high, count)
    else:
        position = np.asarray
        grid = np.linspace(low, high, count)
    spacing = (position(high) - position(low)) / (count - 1)
    if kind == "int":
        special = [round(v) for v in special]
        grid = np.unique(np.round(grid).astype(int))
    kept = [v for v in grid.tolist()
            if all(abs(position(v) - position(s)) >= spacing / 3 for s in special)
            or v in (low, high)]
    values = sorted({*kept, *special})
    if kind == "int":
        return [int(v) for v in values]
    return [float(v) for v in values]


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=9)
    return buffer.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decode_png(url: str) -> np.ndarray:
    """The pixels (RGBA) of a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


OVERLAY_COLOURS = 128
"""Palette size of an overlay (one entry is transparency). Its pixels are paths and curves,
antialiased over the contour map: some 1500 distinct colours, which a median-cut palette of 127
reproduces within about 3 levels of 255 on average (which pixels are drawn, and every pixel of
the background, stay exact) at a third of the lossless size."""


def _overlay_png(frame: np.ndarray, background: np.ndarray) -> bytes:
    """The pixels of ``frame`` that differ from ``background``, the rest fully transparent, as
    a palette PNG of :data:`OVERLAY_COLOURS` colours (one of them transparent)."""
    from PIL import Image

    changed = np.any(frame != background, axis=-1)
    indices = np.zeros(frame.shape[:2], dtype=np.uint8)  # 0: transparent
    palette = np.zeros((256, 3), dtype=np.uint8)
    if changed.any():
        # the palette is chosen for the changed pixels alone (median cut, no dithering)
        strip = Image.fromarray(frame[changed][None, :, :])
        reduced = strip.quantize(colors=OVERLAY_COLOURS - 1, method=Image.Quantize.MEDIANCUT,
                                 dither=Image.Dither.NONE)
        indices[changed] = np.asarray(reduced)[0] + 1
        colours = np.asarray(reduced.getpalette()[: 3 * (OVERLAY_COLOURS - 1)], dtype=np.uint8)
        palette[1: 1 + len(colours) // 3] = colours.reshape(-1, 3)
    image = Image.fromarray(indices, mode="L").convert("P")
    image.putpalette(palette.ravel().tolist())
    image.info["transparency"] = 0
    return _png(image)


def _background_png(background: np.ndarray) -> bytes:
    """A background, losslessly: a palette PNG when it has at most 256 colours (axes, text and
    contour fills usually do), an RGB PNG otherwise."""
    from PIL import Image

    rgb = background.astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]  # one number per colour
    colours, inverse = np.unique(packed, return_inverse=True)
    if len(colours) > 256:
        return _png(Image.fromarray(background))
    image = Image.fromarray(inverse.reshape(background.shape[:2]).astype(np.uint8),
                            mode="L").convert("P")
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(colours)] = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255],
                                       axis=-1)
    image.putpalette(palette.ravel().tolist())
    return _png(image)


def _nearest(values: Sequence, value: Any, kind: str) -> int:
    if kind == "select":
        return list(values).index(value)
    position = np.log if kind == "log" else np.asarray
    return int(np.argmin([abs(position(v) - position(value)) for v in values]))


_STYLE = """
.gdx{margin:0.5em 0 1em}.gdx-controls{display:flex;flex-wrap:wrap;gap:0.3em 1.4em;
margin-bottom:0.4em}.gdx-control{display:flex;align-items:center;gap:0.45em;flex:1 1 15em;
min-width:0;max-width:26em}.gdx-control label{white-space:nowrap;font-weight:600}
.gdx-control input[type=range]{flex:1 1 auto;min-width:6em;width:100%;margin:0}
.gdx-control output{min-width:4.2em;font-variant-numeric:tabular-nums}
.gdx-control select{max-width:100%}
.gdx-picture{display:inline-block;max-width:100%;line-height:0;background-repeat:no-repeat}.gdx-picture img{display:block;max-width:100%;height:auto}
.gdx-status{margin:0.3em 0 0.1em;font-size:0.9em;min-height:2.6em}
.gdx-note{margin:0;font-size:0.8em;color:#555}
"""

# One explorer's script: read the frames, show the one the controls name. ES5, no library.
_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector('script.gdx-data').textContent);
  var picture = root.querySelector('.gdx-picture');
  var image = picture.querySelector('img');
  var status = root.querySelector('.gdx-status');
  var controls = Array.prototype.slice.call(root.querySelectorAll('[data-gdx-control]'));
  var outputs = controls.map(function (c) { return root.querySelector('output[for="' + c.id + '"]'); });
  var background = '';
  function show() {
    var key = controls.map(function (c) { return c.value; }).join(',');
    var frame = data.frames[key];
    if (!frame) { return; }
    if (frame[0] + ',' + frame[1] !== background) {
      picture.style.backgroundImage = 'url(' + data.backgrounds[frame[0]] + '),url('
                                      + data.backgrounds[frame[1]] + ')';
      background = frame[0] + ',' + frame[1];
    }
    image.src = frame[2];
    image.alt = data.alt + ' ' + frame[3];
    status.textContent = frame[3];
    root.setAttribute('data-gdx-frame', key);
    controls.forEach(function (c, i) {
      var label = data.controls[i].labels[+c.value];
      if (outputs[i]) { outputs[i].textContent = label; }
      if (c.type === 'range') { c.setAttribute('aria-valuetext', label); }
    });
  }
  controls.forEach(function (c) {
    c.addEventListener('input', show);
    c.addEventListener('change', show);
  });
  root.querySelector('.gdx-controls').hidden = false;
  root.querySelector('.gdx-note-js').hidden = false;
  show();
})();"""


def build_view(explorer, controls: Sequence[ViewControl], *, fixed_note: str = "") -> dict:
    """Render ``explorer`` at every point of the grid spanned by ``controls`` and assemble the
    view. Returns a dict: ``html`` (the output), ``frames`` (key "i,j" of grid indices ->
    (left background, right background, overlay data URL, status line); the backgrounds are
    indices into ``backgrounds``, data URLs), ``start`` (the key shown first: the explorer's
    own setting) and ``split`` (the pixel column where the right panel's background starts).

    The other controls keep the explorer's current values; the explorer's live state is
    restored afterwards.
    """
    controls = list(controls)
    if not controls or not all(isinstance(c, ViewControl) for c in controls):
        raise TypeError("controls must be a non-empty list of ViewControl")
    saved = dict(explorer.values)
    start = tuple(_nearest(c.values, saved[c.name], "select" if c.kind == "select"
                           else explorer.specs[c.name].kind) for c in controls)
    backgrounds: dict[bytes, int] = {}
    background_urls: list[str] = []
    frames: dict[str, tuple[int, int, str, str]] = {}

    def stored(piece: np.ndarray) -> int:
        digest = piece.tobytes()
        if digest not in backgrounds:
            backgrounds[digest] = len(background_urls)
            background_urls.append(_data_url(_background_png(piece)))
        return backgrounds[digest]

    explorer._keep_backgrounds = 64
    try:
        split = None
        for indices in itertools.product(*(range(len(c.values)) for c in controls)):
            values = {**saved, **{c.name: c.values[i] for c, i in zip(controls, indices,
                                                                        strict=True)}}
            pixels, background = explorer.frame_pixels(values)
            if split is None:
                split = explorer.panel_split()
                width = background.shape[1]
            # the two panels' backgrounds change independently (a new contour map on the left,
            # new limits on the right): stored apart, each once
            key = ",".join(map(str, indices))
            frames[key] = (stored(background[:, :split]), stored(background[:, split:]),
                           _data_url(_overlay_png(pixels, background)), explorer.status)
    finally:
        explorer._keep_backgrounds = 0
        explorer._kept_backgrounds.clear()
        explorer.values = saved
        explorer._apply(saved)
    start_key = ",".join(map(str, start))
    return {"html": _html(explorer, controls, frames, background_urls, start, fixed_note,
                          (split, width)),
            "frames": frames, "backgrounds": background_urls, "start": start_key,
            "split": split}


def compose(view: dict, key: str) -> np.ndarray:
    """The picture a reader sees for frame ``key`` of a view (RGB): both backgrounds side by
    side, the overlay's opaque pixels on top."""
    left, right, overlay, _ = view["frames"][key]
    picture = np.concatenate([decode_png(view["backgrounds"][left]),
                              decode_png(view["backgrounds"][right])], axis=1)
    top = decode_png(overlay)
    opaque = top[..., 3] > 0
    picture[opaque] = top[opaque]
    return picture[..., :3]


def _backgrounds_css(backgrounds, left: int, right: int) -> str:
    return f"url({backgrounds[left]}),url({backgrounds[right]})"


def _html(explorer, controls, frames, backgrounds, start, fixed_note, split) -> str:
    uid = "gdx-" + secrets.token_hex(4)
    start_key = ",".join(map(str, start))
    left, right, start_overlay, start_status = frames[start_key]
    column, width = split
    share = 100.0 * column / width
    layout = (f"background-position:0 0,100% 0;"
              f"background-size:{share:.4f}% 100%,{100 - share:.4f}% 100%;")
    alt_prefix = f"{explorer.title}. {explorer.panels}"
    parts = []
    for index, (control, at) in enumerate(zip(controls, start, strict=True)):
        cid = f"{uid}-{index}"
        label = html.escape(control.label)
        shown = html.escape(control.labels[at])
        if control.kind == "select":  # the chosen option is its own readout
            options = "".join(
                f'<option value="{i}"{" selected" if i == at else ""}>{html.escape(text)}</option>'
                for i, text in enumerate(control.labels))
            field = f'<select id="{cid}" data-gdx-control="{control.name}">{options}</select>'
            parts.append(f'<div class="gdx-control"><label for="{cid}">{label}</label>{field}'
                         "</div>")
            continue
        field = (f'<input type="range" id="{cid}" data-gdx-control="{control.name}" min="0" '
                 f'max="{len(control.values) - 1}" step="1" value="{at}" '
                 f'aria-valuetext="{shown}">')
        parts.append(f'<div class="gdx-control"><label for="{cid}">{label}</label>{field}'
                     f'<output for="{cid}">{shown}</output></div>')
    data = {"controls": [{"name": c.name, "labels": list(c.labels)} for c in controls],
            "frames": frames, "backgrounds": backgrounds, "alt": alt_prefix}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    note_js = (f"Each picture was computed when the book was built: {len(frames)} settings. "
               + (fixed_note + " " if fixed_note else "")
               + "Run this page as a notebook (Binder, Colab or Jupyter) to change everything.")
    setting = explorer.describe({c.name: c.values[i] for c, i in zip(controls, start,
                                                                       strict=True)})
    note_static = (f"{explorer.title} at {setting}. With JavaScript on, sliders choose among "
                   f"{len(frames)} precomputed settings; run this page as a notebook (Binder, "
                   "Colab or Jupyter) to move them freely.")
    return (f'<div class="gdx" id="{uid}" data-gdx-frame="{start_key}" '
            f'role="group" aria-label="{html.escape(explorer.title)}">'
            f"<style>{_STYLE}</style>"
            f'<div class="gdx-controls" hidden>{"".join(parts)}</div>'
            f'<div class="gdx-picture" style="{layout}'
            f'background-image:{_backgrounds_css(backgrounds, left, right)}">'
            f'<img src="{start_overlay}" alt="{html.escape(alt_prefix + " " + start_status)}" '
            f'width="{_width(start_overlay)}"></div>'
            f'<p class="gdx-status" aria-live="polite">{html.escape(start_status)}</p>'
            f'<p class="gdx-note gdx-note-js" hidden>{html.escape(note_js)}</p>'
            f'<noscript><p class="gdx-note">{html.escape(note_static)}</p></noscript>'
            f'<script type="application/json" class="gdx-data">{payload}</script>'
            f"<script>{_SCRIPT}</script></div>")


def _width(url: str) -> int:
    return decode_png(url).shape[1]

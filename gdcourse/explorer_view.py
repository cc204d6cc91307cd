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
fit in the 1.5 MB budget of a view; swapping an ``<img>`` source is also instant on any device.

**Drawn views** (:func:`build_drawn_view`), for explorers with many settings: frames cost some
10 KiB each, so a two-slider grid of 40 x 40 (or four learning-rate sliders) cannot be frames.
There the explorer still computes every run through its own code at build time, but the page
stores the *data* of the moving lines (paths, loss curves) in picture pixels, rounded to 1/4
pixel and VLQ-encoded (some 100-200 bytes a path), and draws them on a ``<canvas>`` between the
pre-rendered background (axes, contour map) and foreground (legend, markers of the start and
the minimum), with the live widget's colours, widths, dashes and markers. Data that depends on
some controls only is stored once per setting of those (:class:`Layer`): an optimizer's path
in a race depends on its own learning rate, not on the others', so four sliders of 30 values
cost 4 x 30 runs, not 30⁴ frames. The axes must not move with a layer's controls: such views
fix their loss axis for the whole view (``loss_limits``), so curves also compare as a slider
moves. Smoother control (1700 settings for momentum instead of 98) at a smaller size (0.9 MB
instead of 1.2 MB).
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

__all__ = ["BUDGET_BYTES", "CLIP_PIXELS", "PIXEL_STEPS", "Layer", "ViewControl", "build_drawn_view",
           "build_view", "compose", "decode_png", "decode_points", "drawn_series", "drawn_status",
           "encode_points", "grid_values"]

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


# ------------------------------------------------------------------------------------------------
# Drawn views: the paths and curves drawn in the browser from precomputed data
# ------------------------------------------------------------------------------------------------

PIXEL_STEPS = 4
"""Drawn data is stored in picture pixels rounded to 1/``PIXEL_STEPS`` of a pixel: finer than
a line's antialiasing shows, even on a phone's 3x screen once the picture is scaled down."""

_VLQ_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True)
class Layer:
    """Part of a drawn view whose data depends on some of the view's controls only.

    ``controls`` names those controls; ``artists`` are the explorer's lines (Line2D) the browser
    draws for it; ``status`` returns the layer's piece of the status line once the explorer has
    drawn a setting. The first layer of a view is its *base*: it also owns the backgrounds (the
    view state may change only with the base's controls) and the foreground (legends, markers of
    the start and the minimum: the explorer's other moving artists, drawn above the paths).
    The status line is the base's piece followed by the other layers' pieces, joined by the
    view's separator.
    """

    controls: tuple[str, ...]
    artists: tuple
    status: Any


def vlq_encode(numbers: Sequence[int]) -> str:
    """Whole numbers as base-64 VLQ digits (as in JavaScript source maps): the sign in the
    lowest bit, five bits per digit, the sixth bit set on every digit but a number's last.

    >>> vlq_encode([0, 1, -1, 15, 16, -1000])
    'ACDegBx+B'
    >>> vlq_decode(vlq_encode([0, 1, -1, 15, 16, -1000]))
    [0, 1, -1, 15, 16, -1000]
    """
    digits = []
    for number in numbers:
        value = (abs(int(number)) << 1) | (number < 0)
        while True:
            digit, value = value & 31, value >> 5
            digits.append(_VLQ_DIGITS[digit | (32 if value else 0)])
            if not value:
                break
    return "".join(digits)


def vlq_decode(text: str) -> list[int]:
    """The whole numbers of :func:`vlq_encode`'s digits."""
    numbers, value, shift = [], 0, 0
    for char in text:
        digit = _VLQ_DIGITS.index(char)
        value |= (digit & 31) << shift
        shift += 5
        if not digit & 32:
            numbers.append(-(value >> 1) if value & 1 else value >> 1)
            value, shift = 0, 0
    return numbers


CLIP_PIXELS = 100_000.0
"""Drawn data is clipped to a box this far (in pixels) around the picture: a diverging run's
iterates grow to 10^10 times the window, far beyond what a canvas draws exactly."""


def _clip_segment(p: np.ndarray, q: np.ndarray, box: float):
    """The part of segment ``p``-``q`` inside the square [-box, box]² (Liang-Barsky), as
    ``(start, end)``, or None."""
    low, high = 0.0, 1.0
    d = q - p
    for axis in range(2):
        for sign in (-1.0, 1.0):  # the sides x = -box and x = box (then y)
            edge_p = sign * p[axis] - box  # <= 0 inside
            edge_d = sign * d[axis]
            if edge_d == 0:
                if edge_p > 0:
                    return None
                continue
            t = -edge_p / edge_d
            if edge_d > 0:
                high = min(high, t)
            else:
                low = max(low, t)
    if low > high:
        return None
    return p + low * d, p + high * d


def _pieces(points: np.ndarray, box: float = CLIP_PIXELS) -> list[np.ndarray]:
    """A polyline clipped to the square [-box, box]²: the pieces that remain."""
    inside = np.all(np.abs(points) <= box, axis=1)
    if inside.all():
        return [points]
    pieces, current = [], []
    if len(points) == 1:
        return []
    for p, q in itertools.pairwise(points):
        clipped = _clip_segment(p, q, box)
        if clipped is None:
            if current:
                pieces.append(np.array(current))
            current = []
            continue
        a, b = clipped
        if not current or not np.array_equal(a, p):
            if current:
                pieces.append(np.array(current))
            current = [a]
        current.append(b)
        if not np.array_equal(b, q):
            pieces.append(np.array(current))
            current = []
    if current:
        pieces.append(np.array(current))
    return pieces


def encode_points(points: np.ndarray) -> str:
    """Picture coordinates (n x 2 pixels) as VLQ: each point's offset from the one before, in
    1/:data:`PIXEL_STEPS` of a pixel (the first point from the origin). A polyline that leaves
    the box of :data:`CLIP_PIXELS` is clipped to it; its pieces are joined by "!"."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ValueError("points must be finite")
    encoded = []
    for piece in _pieces(points):
        steps = np.round(piece * PIXEL_STEPS).astype(np.int64)
        deltas = np.diff(steps, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        encoded.append(vlq_encode(deltas.ravel().tolist()))
    return "!".join(encoded)


def decode_pieces(text: str) -> list[np.ndarray]:
    """The pieces (each n x 2 picture pixels) of :func:`encode_points`."""
    pieces = []
    for part in text.split("!"):
        deltas = np.asarray(vlq_decode(part), dtype=np.int64).reshape(-1, 2)
        pieces.append(np.cumsum(deltas, axis=0) / PIXEL_STEPS)
    return pieces


def decode_points(text: str) -> np.ndarray:
    """The picture coordinates (n x 2 pixels) of :func:`encode_points`, pieces concatenated."""
    return np.concatenate(decode_pieces(text)) if text else np.empty((0, 2))


def _status_diff(previous: str, text: str) -> list:
    """``text`` as [length of the prefix it shares with ``previous``, the middle, length of the
    shared suffix]: neighbouring settings share most of their status line."""
    prefix = 0
    limit = min(len(previous), len(text))
    while prefix < limit and previous[prefix] == text[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < limit - prefix and previous[len(previous) - 1 - suffix]
           == text[len(text) - 1 - suffix]):
        suffix += 1
    return [prefix, text[prefix: len(text) - suffix], suffix]


def _css_colour(colour) -> str:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(colour)
    return f"rgba({round(r * 255)},{round(g * 255)},{round(b * 255)},{a:.3g})"


def _artist_style(line, picture_height: float, band: int) -> dict:
    """How the browser draws ``line`` (a Line2D): colours, widths and dashes in picture pixels,
    the marker as polygons, the clip box of its axes and its z-order."""
    from matplotlib.markers import MarkerStyle
    from matplotlib.transforms import Affine2D

    figure = line.figure
    points = figure.dpi / 72.0
    offset, dashes = line._dash_pattern
    style = {"z": line.get_zorder(), "c": _css_colour(line.get_color()),
             "w": line.get_linewidth() * points if line.get_linestyle() not in ("None", "", " ")
             else 0, "d": [d * points for d in dashes] if dashes else [],
             "o": offset * points, "cap": "butt" if dashes else "square"}
    box = line.axes.bbox  # display pixels, origin at the bottom left
    style["clip"] = [box.x0, picture_height - box.y1 - band, box.width, box.height]
    marker = MarkerStyle(line.get_marker())
    if marker.get_marker() not in ("None", None, "", " ", "none"):
        size = line.get_markersize() * points
        transform = marker.get_transform() + Affine2D().scale(size, -size)
        polygons = marker.get_path().to_polygons(transform, closed_only=False)
        style["m"] = [np.round(polygon, 2).ravel().tolist() for polygon in polygons]
        face = line.get_markerfacecolor()
        style["mf"] = (None if (isinstance(face, str) and face.lower() == "none")
                       else _css_colour(face))
        style["me"] = _css_colour(line.get_markeredgecolor())
        style["mw"] = line.get_markeredgewidth() * points
        style["filled"] = marker.is_filled()
    return style


def _picture_points(line, picture_height: float, band: int) -> np.ndarray:
    """A line's data in picture pixels (origin at the top left of the live picture)."""
    xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                          np.asarray(line.get_ydata(), dtype=float)])
    if not len(xy):
        return np.empty((0, 2))
    pixels = line.axes.transData.transform(xy)
    pixels[:, 1] = picture_height - pixels[:, 1] - band
    return pixels


def _axes_state(view: tuple) -> tuple:
    """An explorer's view state (``Explorer._view_state``) without the identities of its
    contour maps and the like: the size, limits, scales and labels that place the data."""
    return (*view[:2], *(panel[:7] for panel in view[2:]))


def build_drawn_view(explorer, controls: Sequence[ViewControl], layers: Sequence[Layer], *,
                     separator: str = "", fixed_note: str = "") -> dict:
    """A view whose paths and curves the browser draws from precomputed data.

    For every setting of each layer's controls (the others at the explorer's values) the
    explorer draws itself through its own code (``_apply``, as the live widget does), and the
    data of the layer's artists, in picture pixels, is stored (:func:`encode_points`); the
    rest of the picture comes from pre-rendered backgrounds (per panel, as for frame views) and
    a foreground (the other moving artists). The browser stacks background, a ``<canvas>``
    with the paths and the foreground.

    Returns a dict: ``html``, ``data`` (what the page's script reads: ``layers`` with their
    ``entries`` by key, ``series`` (encoded point lists), ``styles``, ``backgrounds``,
    ``foregrounds``), ``start`` (the grid indices of the explorer's own setting, by control
    name) and ``still`` (the data URL of the whole picture at that setting, the no-JavaScript
    image).
    """
    controls = list(controls)
    layers = list(layers)
    if not controls or not all(isinstance(c, ViewControl) for c in controls):
        raise TypeError("controls must be a non-empty list of ViewControl")
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise TypeError("layers must be a non-empty list of Layer")
    by_name = {c.name: index for index, c in enumerate(controls)}
    for layer in layers:
        unknown = set(layer.controls) - set(by_name)
        if unknown:
            raise ValueError(f"layers name controls the view does not have: {sorted(unknown)}")
    if set(by_name) - {name for layer in layers for name in layer.controls}:
        raise ValueError("every control of the view must belong to a layer")
    base = layers[0]
    drawn = [artist for layer in layers for artist in layer.artists]
    saved = dict(explorer.values)
    start = {c.name: _nearest(c.values, saved[c.name], "select" if c.kind == "select"
                              else explorer.specs[c.name].kind) for c in controls}

    figure = explorer.figure
    height = figure.bbox.height
    explorer._apply(saved)
    explorer.live_pixels()  # draws once: the band above the titles is measured on a drawn figure
    band = explorer._status_band()
    foreground_artists = [a for a in explorer._moving_artists()
                          if a not in drawn and a not in figure.texts]
    for artist in foreground_artists:
        floor = max((d.get_zorder() for d in drawn if d.axes is artist.axes), default=None)
        if floor is not None and artist.get_zorder() < floor:
            raise ValueError(f"{artist!r} is drawn under the browser's paths: the foreground must "
                             "lie above them")
    styles = [_artist_style(artist, height, band) for artist in drawn]
    first_style = {}
    for layer in layers:
        first_style[id(layer)] = sum(len(other.artists) for other in layers[:layers.index(layer)])

    backgrounds: dict[bytes, int] = {}
    background_urls: list[str] = []
    foregrounds: dict[bytes, int] = {}
    foreground_urls: list[str] = []
    series: dict[str, int] = {}
    series_list: list[str] = []
    view_layers: dict[tuple, tuple[int, int, int]] = {}
    base_views: dict[tuple, tuple] = {}

    def stored(piece: np.ndarray, table: dict, urls: list, encode) -> int:
        digest = piece.tobytes()
        if digest not in table:
            table[digest] = len(urls)
            urls.append(_data_url(encode(piece)))
        return table[digest]

    def layer_pictures() -> tuple[int, int, int]:
        view = explorer._view_state()
        if view not in view_layers:
            for artist in drawn:
                artist.set_visible(False)
            try:
                over, behind = explorer.live_pixels(background=True)
            finally:
                for artist in drawn:
                    artist.set_visible(True)
            split = explorer.panel_split()
            view_layers[view] = (
                stored(behind[:, :split], backgrounds, background_urls, _background_png),
                stored(behind[:, split:], backgrounds, background_urls, _background_png),
                stored(np.concatenate([np.where(over != behind, over, 0),
                                       (over != behind).astype(np.uint8)], axis=-1),
                       foregrounds, foreground_urls, lambda _: _overlay_png(over, behind)))
        return view_layers[view]

    def series_ref(artist):
        text = encode_points(_picture_points(artist, height, band))
        if text not in series:
            series[text] = len(series_list)
            series_list.append(text)
        every = artist.get_markevery()
        if every is None or every == 1:
            return series[text]
        if not isinstance(every, (int, np.integer)):
            raise ValueError(f"markevery must be a whole number for a drawn view, got {every!r}")
        return [series[text], int(every)]

    data_layers = []
    still = None
    explorer._keep_backgrounds = 64
    try:
        for layer in layers:
            names = list(layer.controls)
            entries: dict[str, list] = {}
            previous = ""
            for indices in itertools.product(*(range(len(controls[by_name[n]].values))
                                               for n in names)):
                chosen = {n: controls[by_name[n]].values[i] for n, i in zip(names, indices,
                                                                             strict=True)}
                values = {**saved, **{c.name: c.values[start[c.name]] for c in controls},
                          **chosen}
                explorer.values = explorer._checked(values)
                explorer._apply(explorer.values)
                base_key = tuple(start[n] if n not in chosen else indices[names.index(n)]
                                 for n in base.controls)
                piece = str(layer.status())
                refs = [series_ref(artist) for artist in layer.artists]
                key = ",".join(map(str, indices))
                if layer is base:
                    base_views[base_key] = _axes_state(explorer._view_state())
                    entries[key] = [*layer_pictures(), _status_diff(previous, piece), refs]
                    if all(indices[names.index(n)] == start[n] for n in names):
                        pixels = explorer.live_pixels()
                        still = _data_url(_background_png(pixels))
                else:
                    if _axes_state(explorer._view_state()) != base_views[base_key]:
                        raise RuntimeError(f"the layer of {names} changes the picture's axes: "
                                           "only the base layer's controls may")
                    entries[key] = [_status_diff(previous, piece), refs]
                previous = piece
            data_layers.append({"controls": [by_name[n] for n in names],
                                "first": first_style[id(layer)], "entries": entries})
    finally:
        explorer._keep_backgrounds = 0
        explorer._kept_backgrounds.clear()
        explorer.values = saved
        explorer._apply(saved)
    data = {"controls": [{"name": c.name, "labels": list(c.labels)} for c in controls],
            "layers": data_layers, "series": series_list, "styles": styles,
            "backgrounds": background_urls, "foregrounds": foreground_urls,
            "separator": separator, "alt": f"{explorer.title}. {explorer.panels}",
            "split": explorer.panel_split(), "scale": PIXEL_STEPS}
    view = {"data": data, "start": start, "still": still}
    view["html"] = _drawn_html(explorer, controls, view, fixed_note)
    return view


def drawn_status(view: dict, indices: dict[str, int]) -> str:
    """The status line the page shows for grid ``indices`` (by control name)."""
    data = view["data"]
    pieces = []
    for layer in data["layers"]:
        pieces.append(_layer_entry(data, layer, indices)[1])
    return pieces[0] + data["separator"].join(pieces[1:])


def _layer_entry(data: dict, layer: dict, indices: dict[str, int]) -> tuple[list, str]:
    """A layer's entry for ``indices`` and its status piece (the diffs decoded in key order)."""
    names = [data["controls"][i]["name"] for i in layer["controls"]]
    key = ",".join(str(indices[n]) for n in names)
    text = ""
    for entry_key, entry in layer["entries"].items():
        prefix, middle, suffix = entry[-2]
        text = text[:prefix] + middle + (text[len(text) - suffix:] if suffix else "")
        if entry_key == key:
            return entry, text
    raise KeyError(key)


def drawn_series(view: dict, indices: dict[str, int]) -> list[tuple[dict, np.ndarray, int]]:
    """What the page draws for grid ``indices`` (by control name): for each artist, in the
    views' artist order, its style, its points in picture pixels and its marker spacing."""
    data = view["data"]
    drawn = []
    for layer in data["layers"]:
        entry, _ = _layer_entry(data, layer, indices)
        for offset, ref in enumerate(entry[-1]):
            index, every = (ref, 1) if isinstance(ref, int) else ref
            drawn.append((data["styles"][layer["first"] + offset],
                          decode_points(data["series"][index]), every))
    return drawn


# One drawn view's script: decode the data, draw the chosen setting. ES5, no library.
_DRAWN_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector('script.gdx-data').textContent);
  var picture = root.querySelector('.gdx-picture');
  var image = picture.querySelector('img');
  var canvas = picture.querySelector('canvas');
  var context = canvas.getContext('2d');
  var status = root.querySelector('.gdx-status');
  var controls = Array.prototype.slice.call(root.querySelectorAll('[data-gdx-control]'));
  var outputs = controls.map(function (c) { return root.querySelector('output[for="' + c.id + '"]'); });
  var digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var points = {};
  function decode(index) {  // base-64 VLQ offsets in 1/scale pixel -> pieces [x0, y0, x1, ...]
    if (points[index]) { return points[index]; }
    return (points[index] = data.series[index].split('!').map(function (text) {
      var out = [], value = 0, shift = 0, at = [0, 0];
      for (var i = 0; i < text.length; i++) {
        var digit = digits.indexOf(text.charAt(i));
        value += (digit & 31) * Math.pow(2, shift); shift += 5;
        if (!(digit & 32)) {
          var number = value % 2 ? -(value - 1) / 2 : value / 2;
          at[out.length % 2] += number; out.push(at[out.length % 2] / data.scale);
          value = 0; shift = 0;
        }
      }
      return out;
    }));
  }
  data.layers.forEach(function (layer) {  // the status pieces: differences from the entry before
    var text = '';
    layer.text = {};
    Object.keys(layer.entries).forEach(function (key) {
      var d = layer.entries[key][layer.entries[key].length - 2];
      text = text.slice(0, d[0]) + d[1] + (d[2] ? text.slice(text.length - d[2]) : '');
      layer.text[key] = text;
    });
  });
  function marker(style, x, y) {
    style.m.forEach(function (polygon) {
      context.beginPath();
      for (var i = 0; i < polygon.length; i += 2) {
        context[i ? 'lineTo' : 'moveTo'](x + polygon[i], y + polygon[i + 1]);
      }
      if (style.filled) { context.closePath(); }
      if (style.filled && style.mf) { context.fillStyle = style.mf; context.fill(); }
      if (style.mw > 0) { context.lineWidth = style.mw; context.strokeStyle = style.me; context.stroke(); }
    });
  }
  function draw(style, pieces, every) {
    context.save();
    context.beginPath();
    context.rect(style.clip[0], style.clip[1], style.clip[2], style.clip[3]);
    context.clip();
    var xy = [].concat.apply([], pieces);
    if (style.w > 0 && xy.length > 2) {
      context.beginPath();
      pieces.forEach(function (piece) {
        for (var i = 0; i < piece.length; i += 2) {
          context[i ? 'lineTo' : 'moveTo'](piece[i], piece[i + 1]);
        }
      });
      context.lineWidth = style.w; context.strokeStyle = style.c;
      context.setLineDash(style.d); context.lineDashOffset = style.o;
      context.lineJoin = 'round'; context.lineCap = style.cap;
      context.stroke();
    }
    if (style.m) {
      context.setLineDash([]); context.lineJoin = 'miter';
      for (var j = 0; j < xy.length; j += 2 * every) { marker(style, xy[j], xy[j + 1]); }
    }
    context.restore();
  }
  var shownBackground = '';
  function show() {
    var pieces = [], items = [], drawnKeys = [], base = null;
    data.layers.forEach(function (layer) {
      var key = layer.controls.map(function (i) { return controls[i].value; }).join(',');
      var entry = layer.entries[key];
      if (!base) { base = entry; }
      pieces.push(layer.text[key]);
      drawnKeys.push(key);
      entry[entry.length - 1].forEach(function (ref, k) {
        var every = typeof ref === 'number' ? 1 : ref[1];
        var index = typeof ref === 'number' ? ref : ref[0];
        items.push({style: data.styles[layer.first + k], series: index, every: every,
                    order: items.length});
      });
    });
    if (base[0] + ',' + base[1] !== shownBackground) {
      picture.style.backgroundImage = 'url(' + data.backgrounds[base[0]] + '),url('
                                      + data.backgrounds[base[1]] + ')';
      shownBackground = base[0] + ',' + base[1];
    }
    image.src = data.foregrounds[base[2]];
    var ratio = Math.min(3, Math.max(1, window.devicePixelRatio || 1));
    var width = +image.getAttribute('width'), height = +image.getAttribute('height');
    if (canvas.width !== Math.round(width * ratio)) {
      canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    items.sort(function (a, b) { return a.style.z - b.style.z || a.order - b.order; });
    items.forEach(function (item) { draw(item.style, decode(item.series), item.every); });
    var text = pieces[0] + pieces.slice(1).join(data.separator);
    status.textContent = text;
    image.alt = data.alt + ' ' + text;
    root.setAttribute('data-gdx-frame', controls.map(function (c) { return c.value; }).join(','));
    root.setAttribute('data-gdx-series', items.map(function (item) { return item.series; }).join(','));
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
  canvas.hidden = false;
  show();
})();"""

_DRAWN_STYLE = """
.gdx-drawn .gdx-picture{position:relative}
.gdx-drawn .gdx-picture canvas{position:absolute;left:0;top:0;width:100%;height:100%}
.gdx-drawn .gdx-picture img{position:relative}
"""


def _drawn_html(explorer, controls, view, fixed_note) -> str:
    data = view["data"]
    uid = "gdx-" + secrets.token_hex(4)
    start = view["start"]
    start_key = ",".join(str(start[c.name]) for c in controls)
    base = data["layers"][0]
    entry, _ = _layer_entry(data, base, start)
    status = drawn_status(view, start)
    still = decode_png(view["still"])
    height, width = still.shape[:2]
    share = 100.0 * data["split"] / width
    layout = (f"background-position:0 0,100% 0;"
              f"background-size:{share:.4f}% 100%,{100 - share:.4f}% 100%;")
    parts = []
    for index, control in enumerate(controls):
        cid = f"{uid}-{index}"
        at = start[control.name]
        label = html.escape(control.label)
        shown = html.escape(control.labels[at])
        if control.kind == "select":
            options = "".join(
                f'<option value="{i}"{" selected" if i == at else ""}>{html.escape(text)}</option>'
                for i, text in enumerate(control.labels))
            parts.append(f'<div class="gdx-control"><label for="{cid}">{label}</label>'
                         f'<select id="{cid}" data-gdx-control="{control.name}">{options}'
                         "</select></div>")
            continue
        parts.append(f'<div class="gdx-control"><label for="{cid}">{label}</label>'
                     f'<input type="range" id="{cid}" data-gdx-control="{control.name}" min="0" '
                     f'max="{len(control.values) - 1}" step="1" value="{at}" '
                     f'aria-valuetext="{shown}"><output for="{cid}">{shown}</output></div>')
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    settings = int(np.prod([len(c.values) for c in controls]))
    note_js = (f"Drawn in your browser from runs computed when the book was built "
               f"({settings:,} settings). " + (fixed_note + " " if fixed_note else "")
               + "Run this page as a notebook (Binder, Colab or Jupyter) to change everything.")
    setting = explorer.describe({c.name: c.values[start[c.name]] for c in controls})
    note_static = (f"{explorer.title} at {setting}. With JavaScript on, sliders choose among "
                   f"{settings:,} precomputed settings; run this page as a notebook (Binder, "
                   "Colab or Jupyter) to move them freely.")
    alt = f"{data['alt']} {status}"
    return (f'<div class="gdx gdx-drawn" id="{uid}" data-gdx-frame="{start_key}" '
            f'role="group" aria-label="{html.escape(explorer.title)}">'
            f"<style>{_STYLE}{_DRAWN_STYLE}</style>"
            f'<div class="gdx-controls" hidden>{"".join(parts)}</div>'
            f'<div class="gdx-picture" style="{layout}'
            f'background-image:{_backgrounds_css(data["backgrounds"], entry[0], entry[1])}">'
            f'<canvas width="{width}" height="{height}" aria-hidden="true" hidden></canvas>'
            f'<img src="{view["still"]}" alt="{html.escape(alt)}" width="{width}" '
            f'height="{height}"></div>'
            f'<p class="gdx-status" aria-live="polite">{html.escape(status)}</p>'
            f'<p class="gdx-note gdx-note-js" hidden>{html.escape(note_js)}</p>'
            f'<noscript><p class="gdx-note">{html.escape(note_static)}</p></noscript>'
            f'<script type="application/json" class="gdx-data">{payload}</script>'
            f"<script>{_DRAWN_SCRIPT}</script></div>")

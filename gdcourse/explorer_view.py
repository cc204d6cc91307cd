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

A *steps* slider costs no runs (``prefix``): the runs are stored once, for the most steps, and
the page draws their first k steps; each stored vertex knows its step, also where a diverging
path was clipped, and the status pieces are stored for every k. The step axis that follows the
slider is an affine map per setting of the base layer. The data (JSON) is deflated and inflated
by the browser's own ``DecompressionStream``: neighbouring runs repeat one another, so it
shrinks about fivefold (the momentum view from 0.9 to 0.4 MB); a browser without it keeps the
controls hidden and shows the still picture, as without JavaScript.

Both scripts share one fragment (``_COMMON_SCRIPT``): reading the data, the backgrounds, the
status line with the alt text and each control's value label, and the wiring of the controls.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BUDGET_BYTES", "CLIP_PIXELS", "PIXEL_STEPS", "Layer", "ViewControl", "build_drawn_view",
           "build_view", "compose", "decode_png", "decode_points", "decode_series", "drawn_series",
           "drawn_status", "encode_points", "grid_values", "piece_steps"]

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

# What both views' scripts share: find the view's parts, read its data (inflating it where it is
# compressed), keep each control's value label and the status line in step, and wire the
# controls. ES5 and the browser's own DecompressionStream; no library. A view whose data cannot
# be read keeps its controls hidden: the reader sees the still picture, as without JavaScript.
_COMMON_SCRIPT = """
  var root = document.currentScript.parentElement;
  var picture = root.querySelector('.gdx-picture');
  var image = picture.querySelector('img');
  var status = root.querySelector('.gdx-status');
  var controls = Array.prototype.slice.call(root.querySelectorAll('[data-gdx-control]'));
  var outputs = controls.map(function (c) { return root.querySelector('output[for="' + c.id + '"]'); });
  var shownBackground = '';
  function read(then) {  // the view's data: JSON, or base-64 deflated JSON
    var element = root.querySelector('script.gdx-data');
    if (element.getAttribute('data-encoding') !== 'deflate') {
      return then(JSON.parse(element.textContent));
    }
    if (typeof DecompressionStream === 'undefined') { return; }
    var binary = atob(element.textContent), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate')))
      .text().then(function (text) { then(JSON.parse(text)); });
  }
  function background(data, left, right) {  // the two panels' backgrounds, swapped when new
    if (left + ',' + right !== shownBackground) {
      picture.style.backgroundImage = 'url(' + data.backgrounds[left] + '),url('
                                      + data.backgrounds[right] + ')';
      shownBackground = left + ',' + right;
    }
  }
  function say(data, text) {  // the status line, the alt text and each control's value
    status.textContent = text;
    image.alt = data.alt + ' ' + text;
    root.setAttribute('data-gdx-frame', controls.map(function (c) { return c.value; }).join(','));
    controls.forEach(function (c, i) {
      var label = data.controls[i].labels[+c.value];
      if (outputs[i]) { outputs[i].textContent = label; }
      if (c.type === 'range') { c.setAttribute('aria-valuetext', label); }
    });
  }
  function start(data, show) {  // wire the controls, show them and the first setting
    root.gdxData = data;  // for tests and the curious
    controls.forEach(function (c) {
      c.addEventListener('input', show);
      c.addEventListener('change', show);
    });
    root.querySelector('.gdx-controls').hidden = false;
    root.querySelector('.gdx-note-js').hidden = false;
    show();
    root.setAttribute('data-gdx-ready', '');
  }
"""

# One explorer's script: read the frames, show the one the controls name.
_SCRIPT = "(function () {" + _COMMON_SCRIPT + """
  read(function (data) {
    start(data, function () {
      var key = controls.map(function (c) { return c.value; }).join(',');
      var frame = data.frames[key];
      if (!frame) { return; }
      background(data, frame[0], frame[1]);
      image.src = frame[2];
      say(data, frame[3]);
    });
  });
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
_VLQ_TABLE = np.frombuffer(_VLQ_DIGITS.encode("ascii"), dtype=np.uint8)


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

    ``cuts`` is for a view with a *prefix* control (``build_drawn_view(prefix=...)``, a steps
    slider): one entry per artist saying how the first k steps of the stored run are drawn:
    "prefix" (points 0..k), "prefix/10" (the same, markers every max(1, n // 10) of its n
    points, as ``markevery`` does) or "head" (only point k of the artist before it, in this
    artist's style). Such a layer's data is computed once, at the prefix control's largest
    value, and its ``status`` is called with k for every value of the prefix control.
    """

    controls: tuple[str, ...]
    artists: tuple
    status: Any
    cuts: tuple[str, ...] = ()


def vlq_encode(numbers: Sequence[int]) -> str:
    """Whole numbers as base-64 VLQ digits (as in JavaScript source maps): the sign in the
    lowest bit, five bits per digit, the sixth bit set on every digit but a number's last.
    (Vectorised: a view encodes some 10⁶ numbers.)

    >>> vlq_encode([0, 1, -1, 15, 16, -1000])
    'ACDegBx+B'
    >>> vlq_decode(vlq_encode([0, 1, -1, 15, 16, -1000]))
    [0, 1, -1, 15, 16, -1000]
    """
    numbers = np.asarray(numbers, dtype=np.int64).ravel()
    if not len(numbers):
        return ""
    values = (np.abs(numbers) << 1) | (numbers < 0)
    if values.max() >= 1 << 45:
        raise ValueError("numbers must be smaller than 2**44 in size")
    shifts = 5 * np.arange(9)
    chunks = (values[:, None] >> shifts[:-1]) & 31  # five bits each, lowest first
    more = (values[:, None] >> shifts[1:]) > 0  # a digit follows
    used = np.concatenate([np.ones((len(values), 1), dtype=bool), more[:, :-1]], axis=1)
    digits = (chunks | (more << 5))[used]  # row by row: each number's digits in order
    return _VLQ_TABLE[digits].tobytes().decode("ascii")


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
    # the ends that lie inside are returned exactly (p + 1.0 * d need not be q)
    return (p if low == 0.0 else p + low * d), (q if high == 1.0 else p + high * d)


def _pieces(points: np.ndarray, box: float = CLIP_PIXELS) -> list[tuple[np.ndarray, int, int]]:
    """A polyline clipped to the square [-box, box]²: the pieces that remain, each as
    ``(vertices, step, flags)``. ``step`` is the index of the point its first vertex belongs
    to; ``flags`` says whether the first vertex is where the line enters the box (1: a point
    on the segment from point ``step - 1`` to ``step``, not a point of the line) and whether
    the last one is where it leaves it (2). So the page can draw the first k steps of a clipped
    line (:func:`piece_steps`)."""
    if not len(points):
        return []
    inside = np.all(np.abs(points) <= box, axis=1)
    if inside.all():
        return [(points, 0, 0)]
    pieces, current, start, entry = [], [], 0, 0
    for index, (p, q) in enumerate(itertools.pairwise(points)):
        clipped = _clip_segment(p, q, box)
        if clipped is None:
            if current:
                pieces.append((np.array(current), start, entry))
            current = []
            continue
        a, b = clipped
        if not current or a is not p:
            if current:
                pieces.append((np.array(current), start, entry))
            entry = 0 if a is p else 1
            current, start = [a], index + entry
        current.append(b)
        if b is not q:
            pieces.append((np.array(current), start, entry | 2))
            current = []
    if current:
        pieces.append((np.array(current), start, entry))
    return pieces


def piece_steps(count: int, step: int, flags: int) -> tuple[np.ndarray, np.ndarray]:
    """The step of each of a piece's ``count`` vertices (a vertex where the line enters or
    leaves the box belongs to the step whose segment it lies on) and whether each is a point
    of the line (not an entry or exit point). The first k steps are the vertices of step <= k.

    >>> [a.tolist() for a in piece_steps(4, 5, 1 | 2)]
    [[5, 5, 6, 7], [False, True, True, False]]
    """
    entry = flags & 1
    steps = step + np.arange(count) - entry
    steps[0] = step
    original = np.ones(count, dtype=bool)
    original[0] = not entry
    if flags & 2:
        original[-1] = False
    return steps, original


def encode_points(points: np.ndarray) -> str:
    """Picture coordinates (n x 2 pixels) as VLQ: the number of points n, then "!" and each
    piece of the line (:func:`_pieces`: a polyline that leaves the box of :data:`CLIP_PIXELS`
    is clipped to it, pieces joined by "!") as its first step and flags followed by each
    vertex's offset from the one before, in 1/:data:`PIXEL_STEPS` of a pixel (the first from
    the origin)."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ValueError("points must be finite")
    encoded = [vlq_encode([len(points)])]
    for piece, step, flags in _pieces(points):
        steps = np.round(piece * PIXEL_STEPS).astype(np.int64)
        deltas = np.diff(steps, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        encoded.append(vlq_encode([step, flags, *deltas.ravel().tolist()]))
    return "!".join(encoded)


def decode_series(text: str) -> tuple[int, list[tuple[np.ndarray, int, int]]]:
    """The number of points and the pieces ``(vertices, step, flags)`` of :func:`encode_points`."""
    count, *parts = text.split("!")
    pieces = []
    for part in parts:
        step, flags, *deltas = vlq_decode(part)
        vertices = np.cumsum(np.asarray(deltas, dtype=np.int64).reshape(-1, 2), axis=0)
        pieces.append((vertices / PIXEL_STEPS, step, flags))
    return vlq_decode(count)[0], pieces


def decode_pieces(text: str) -> list[np.ndarray]:
    """The pieces (each n x 2 picture pixels) of :func:`encode_points`."""
    return [vertices for vertices, _, _ in decode_series(text)[1]]


def decode_points(text: str) -> np.ndarray:
    """The picture coordinates (n x 2 pixels) of :func:`encode_points`, pieces concatenated."""
    pieces = decode_pieces(text)
    return np.concatenate(pieces) if pieces else np.empty((0, 2))


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


def _picture_points(line, picture_height: float, band: int, transform=None) -> np.ndarray:
    """A line's data in picture pixels (origin at the top left of the live picture), through
    its axes' data transform or ``transform``."""
    xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                          np.asarray(line.get_ydata(), dtype=float)])
    if not len(xy):
        return np.empty((0, 2))
    pixels = (transform if transform is not None else line.axes.transData).transform(xy)
    pixels[:, 1] = picture_height - pixels[:, 1] - band
    return pixels


def _axes_state(view: tuple) -> tuple:
    """An explorer's view state (``Explorer._view_state``) without the identities of its
    contour maps and the like: the size, limits, scales and labels that place the data."""
    return (*view[:2], *(panel[:7] for panel in view[2:]))


def _axes_map(reference, current, limits, picture_height: float, band: int) -> list[float]:
    """``[sx, tx, sy, ty]``: picture pixels placed through the data transform ``reference``
    to picture pixels through ``current``, ``x -> sx x + tx``, ``y -> sy y + ty`` (the two
    transforms differ in their limits only, so the map is affine, also on log axes)."""
    corners = np.array([[limits[0][0], limits[1][0]], [limits[0][1], limits[1][1]]], dtype=float)
    before, after = reference.transform(corners), current.transform(corners)
    before[:, 1] = picture_height - before[:, 1] - band
    after[:, 1] = picture_height - after[:, 1] - band
    scale = (after[1] - after[0]) / (before[1] - before[0])
    shift = after[0] - scale * before[0]
    return [float(scale[0]), float(shift[0]), float(scale[1]), float(shift[1])]


_CUTS = ("prefix", "prefix/10", "head")


def _check_layers(controls, layers, by_name, prefix) -> None:
    for layer in layers:
        unknown = set(layer.controls) - set(by_name)
        if unknown:
            raise ValueError(f"layers name controls the view does not have: {sorted(unknown)}")
    if set(by_name) - {name for layer in layers for name in layer.controls}:
        raise ValueError("every control of the view must belong to a layer")
    base = layers[0]
    if prefix is None:
        if any(layer.cuts for layer in layers):
            raise ValueError("cuts need a prefix control")
        return
    if prefix not in base.controls or any(prefix in layer.controls for layer in layers[1:]):
        raise ValueError(f"the prefix control {prefix!r} must belong to the base layer only")
    values = controls[by_name[prefix]].values
    if not all(isinstance(v, (int, np.integer)) and v >= 0 for v in values):
        raise ValueError(f"the prefix control {prefix!r} must take whole numbers of steps")
    if base.artists or base.cuts:
        raise ValueError("with a prefix control the base layer draws no artists")
    for layer in layers[1:]:
        if len(layer.cuts) != len(layer.artists) or not set(layer.cuts) <= set(_CUTS) \
                or (layer.cuts and layer.cuts[0] == "head"):
            raise ValueError(f"each artist of a layer needs a cut from {_CUTS} (a head follows "
                             f"the artist before it), got {layer.cuts}")


def build_drawn_view(explorer, controls: Sequence[ViewControl], layers: Sequence[Layer], *,
                     separator: str = "", fixed_note: str = "", prefix: str | None = None) -> dict:
    """A view whose paths and curves the browser draws from precomputed data.

    For every setting of each layer's controls (the others at the explorer's values) the
    explorer draws itself through its own code (``_apply``, as the live widget does), and the
    data of the layer's artists, in picture pixels, is stored (:func:`encode_points`); the
    rest of the picture comes from pre-rendered backgrounds (per panel, as for frame views) and
    a foreground (the other moving artists). The browser stacks background, a ``<canvas>``
    with the paths and the foreground.

    ``prefix`` names a control of the base layer that counts steps (a steps slider). Its values
    cost no runs: the other layers are computed once, at its largest value, and the page draws
    the first k steps of each stored run (:class:`Layer` ``cuts``); their status pieces are
    stored for every k. The axes may follow the prefix control (the loss panel's step axis
    does): the data is stored through the axes of the prefix's *smallest* value, and each
    setting of the base layer stores the affine map to its own axes (``maps``), a shrinking
    one, so the 1/:data:`PIXEL_STEPS` pixel rounding never grows.

    Returns a dict: ``html``, ``data`` (what the page's script reads: ``layers`` with their
    ``entries`` by key, ``series`` (encoded point lists), ``styles``, ``backgrounds``,
    ``foregrounds``, ``prefix`` and ``maps``), ``start`` (the grid indices of the explorer's
    own setting, by control name) and ``still`` (the data URL of the whole picture at that
    setting, the no-JavaScript image).
    """
    controls = list(controls)
    layers = list(layers)
    if not controls or not all(isinstance(c, ViewControl) for c in controls):
        raise TypeError("controls must be a non-empty list of ViewControl")
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise TypeError("layers must be a non-empty list of Layer")
    by_name = {c.name: index for index, c in enumerate(controls)}
    _check_layers(controls, layers, by_name, prefix)
    base = layers[0]
    drawn = [artist for layer in layers for artist in layer.artists]
    saved = dict(explorer.values)
    start = {c.name: _nearest(c.values, saved[c.name], "select" if c.kind == "select"
                              else explorer.specs[c.name].kind) for c in controls}
    prefix_values = list(controls[by_name[prefix]].values) if prefix else []

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
    axes = list(explorer.axes)
    styles = [{**_artist_style(artist, height, band), "ax": axes.index(artist.axes)}
              for artist in drawn]
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
    transforms: dict[tuple, list] = {}  # base key -> each axes' (frozen data transform, limits)

    def stored(piece: np.ndarray, table: dict, urls: list, encode) -> int:
        digest = piece.tobytes()
        if digest not in table:
            table[digest] = len(urls)
            urls.append(_data_url(encode(piece)))
        return table[digest]

    def drawn_pixels(hidden=()) -> tuple[np.ndarray, np.ndarray]:
        """The picture with and without its moving artists, the browser's and ``hidden`` left
        out (a background drawn without ``hidden`` is not kept for later draws)."""
        for artist in (*drawn, *hidden):
            artist.set_visible(False)
        try:
            return explorer.live_pixels(background=True)
        finally:
            for artist in (*drawn, *hidden):
                artist.set_visible(True)
            if hidden:
                explorer._kept_backgrounds.pop(explorer._view_state(), None)
                explorer._background_view = None

    # The left panel (the contour map: most of a draw's time) changes with fewer controls than
    # the right one (a steps slider moves the loss panel's axis only): its columns are drawn
    # once per state of the left panel and reused, a new state of the right panel drawn
    # without the left one (its axes hidden: a draw then costs about half). Checked once per
    # left state against a whole draw.
    left_drawn: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    left_checked: set = set()

    def layer_pictures() -> tuple[int, int, int]:
        view = explorer._view_state()
        if view not in view_layers:
            split = explorer.panel_split()
            left_state = (*view[:2], view[2])
            if left_state not in left_drawn:
                over, behind = drawn_pixels()
                left_drawn[left_state] = (over[:, :split].copy(), behind[:, :split].copy())
            else:
                over, behind = drawn_pixels([axes[0]])
                if left_state not in left_checked:
                    whole = drawn_pixels()
                    if not (np.array_equal(whole[0][:, split:], over[:, split:])
                            and np.array_equal(whole[1][:, split:], behind[:, split:])
                            and np.array_equal(whole[0][:, :split], left_drawn[left_state][0])):
                        raise RuntimeError("the left panel's drawing reaches into the right "
                                           "one: its columns cannot be reused")
                    left_checked.add(left_state)
                over = np.concatenate([left_drawn[left_state][0], over[:, split:]], axis=1)
                behind = np.concatenate([left_drawn[left_state][1], behind[:, split:]], axis=1)
            view_layers[view] = (
                stored(behind[:, :split], backgrounds, background_urls, _background_png),
                stored(behind[:, split:], backgrounds, background_urls, _background_png),
                stored(np.concatenate([np.where(over != behind, over, 0),
                                       (over != behind).astype(np.uint8)], axis=-1),
                       foregrounds, foreground_urls, lambda _: _overlay_png(over, behind)))
        return view_layers[view]

    def encoded(points: np.ndarray) -> int:
        text = encode_points(points)
        if text not in series:
            series[text] = len(series_list)
            series_list.append(text)
        return series[text]

    def series_ref(artist, transform=None):
        index = encoded(_picture_points(artist, height, band, transform))
        every = artist.get_markevery()
        if transform is not None or every is None or every == 1:
            return index
        if not isinstance(every, (int, np.integer)):
            raise ValueError(f"markevery must be a whole number for a drawn view, got {every!r}")
        return [index, int(every)]

    def reference_key(base_key: tuple) -> tuple:  # the same setting at the prefix's smallest
        at = base.controls.index(prefix)
        return (*base_key[:at], 0, *base_key[at + 1:])

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
                longest = {prefix: prefix_values[-1]} if prefix and layer is not base else {}
                values = {**saved, **{c.name: c.values[start[c.name]] for c in controls},
                          **longest, **chosen}
                explorer.values = explorer._checked(values)
                explorer._apply(explorer.values)
                base_key = tuple(indices[names.index(n)] if n in chosen
                                 else len(prefix_values) - 1 if n == prefix
                                 else start[n] for n in base.controls)
                key = ",".join(map(str, indices))
                if layer is base:
                    piece = str(layer.status())
                    base_views[base_key] = _axes_state(explorer._view_state())
                    if prefix:
                        transforms[base_key] = [(ax.transData.frozen(),
                                                 (ax.get_xlim(), ax.get_ylim())) for ax in axes]
                    entries[key] = [*layer_pictures(), _status_diff(previous, piece),
                                    [series_ref(artist) for artist in layer.artists]]
                    if all(indices[names.index(n)] == start[n] for n in names):
                        pixels = explorer.live_pixels()
                        still = _data_url(_background_png(pixels))
                    previous = piece
                    continue
                if _axes_state(explorer._view_state()) != base_views[base_key]:
                    raise RuntimeError(f"the layer of {names} changes the picture's axes: "
                                       "only the base layer's controls may")
                if not layer.cuts:
                    piece = str(layer.status())
                    entries[key] = [_status_diff(previous, piece),
                                    [series_ref(artist) for artist in layer.artists]]
                    previous = piece
                    continue
                reference = transforms[reference_key(base_key)]
                refs = []
                for artist, cut in zip(layer.artists, layer.cuts, strict=True):
                    refs.append(refs[-1] if cut == "head" else
                                series_ref(artist, reference[axes.index(artist.axes)][0]))
                entries[key] = [[str(layer.status(k)) for k in prefix_values], refs]
            data_layers.append({"controls": [by_name[n] for n in names],
                                "first": first_style[id(layer)], "entries": entries,
                                **({"cuts": list(layer.cuts)} if layer.cuts else {})})
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
    if prefix:
        data["prefix"] = {"control": by_name[prefix], "values": [int(v) for v in prefix_values]}
        data["maps"] = {
            ",".join(map(str, key)): [_axes_map(reference[0], current[0], current[1], height, band)
                                      for reference, current in zip(
                                          transforms[reference_key(key)], now, strict=True)]
            for key, now in transforms.items()}
    view = {"data": data, "start": start, "still": still}
    view["html"] = _drawn_html(explorer, controls, view, fixed_note,
                               [bool(layer.artists) for layer in layers])
    return view


def drawn_status(view: dict, indices: dict[str, int]) -> str:
    """The status line the page shows for grid ``indices`` (by control name)."""
    data = view["data"]
    pieces = [_layer_entry(data, layer, indices)[1] for layer in data["layers"]]
    return pieces[0] + data["separator"].join(pieces[1:])


def _prefix_index(data: dict, indices: dict[str, int]) -> int:
    return indices[data["controls"][data["prefix"]["control"]]["name"]]


def _layer_entry(data: dict, layer: dict, indices: dict[str, int]) -> tuple[list, str]:
    """A layer's entry for ``indices`` and its status piece (the diffs decoded in key order,
    or, for a layer cut by the prefix control, the piece stored for its value)."""
    names = [data["controls"][i]["name"] for i in layer["controls"]]
    key = ",".join(str(indices[n]) for n in names)
    if "cuts" in layer:
        entry = layer["entries"][key]
        return entry, entry[0][_prefix_index(data, indices)]
    text = ""
    for entry_key, entry in layer["entries"].items():
        prefix, middle, suffix = entry[-2]
        text = text[:prefix] + middle + (text[len(text) - suffix:] if suffix else "")
        if entry_key == key:
            return entry, text
    raise KeyError(key)


def _cut(text: str, cut: str, steps: int) -> tuple[np.ndarray, int]:
    """What the page draws of series ``text`` cut at ``steps`` (see :class:`Layer`): the
    vertices (pieces concatenated) and the marker spacing."""
    count, pieces = decode_series(text)
    kept, points = [], []
    for vertices, step, flags in pieces:
        numbers, original = piece_steps(len(vertices), step, flags)
        inside = numbers <= steps
        kept.append(vertices[inside])
        points += [v for v, n, o in zip(vertices, numbers, original, strict=True)
                   if o and n == min(steps, count - 1)]
    if cut == "head":
        return np.array(points).reshape(-1, 2), 1
    every = max(1, min(steps + 1, count) // 10) if cut == "prefix/10" else 1
    return (np.concatenate(kept) if kept else np.empty((0, 2))), every


def drawn_series(view: dict, indices: dict[str, int]) -> list[tuple[dict, np.ndarray, int]]:
    """What the page draws for grid ``indices`` (by control name): for each artist, in the
    views' artist order, its style, its points in picture pixels and its marker spacing."""
    data = view["data"]
    drawn = []
    maps = None
    for number, layer in enumerate(data["layers"]):
        entry, _ = _layer_entry(data, layer, indices)
        if number == 0 and "maps" in data:
            maps = data["maps"][",".join(str(indices[data["controls"][i]["name"]])
                                         for i in layer["controls"])]
        for offset, ref in enumerate(entry[-1]):
            index, every = (ref, 1) if isinstance(ref, int) else ref
            style = data["styles"][layer["first"] + offset]
            if "cuts" not in layer:
                drawn.append((style, decode_points(data["series"][index]), every))
                continue
            steps = data["prefix"]["values"][_prefix_index(data, indices)]
            points, every = _cut(data["series"][index], layer["cuts"][offset], steps)
            sx, tx, sy, ty = maps[style["ax"]]
            drawn.append((style, points * [sx, sy] + [tx, ty], every))
    return drawn


# One drawn view's script: decode the data, draw the chosen setting (see build_drawn_view).
_DRAWN_SCRIPT = "(function () {" + _COMMON_SCRIPT + """
  var canvas = picture.querySelector('canvas');
  var context = canvas.getContext('2d');
  var digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function vlq(text) {  // base-64 VLQ digits -> whole numbers
    var out = [], value = 0, shift = 0;
    for (var i = 0; i < text.length; i++) {
      var digit = digits.indexOf(text.charAt(i));
      value += (digit & 31) * Math.pow(2, shift); shift += 5;
      if (!(digit & 32)) { out.push(value % 2 ? -(value - 1) / 2 : value / 2); value = 0; shift = 0; }
    }
    return out;
  }
  read(function (data) {
    var decoded = {};
    function decode(index) {  // a series: its number of points and its pieces of vertices
      if (decoded[index]) { return decoded[index]; }
      var parts = data.series[index].split('!');
      var series = {n: vlq(parts[0])[0], pieces: []};
      parts.slice(1).forEach(function (part) {
        var v = vlq(part), x = 0, y = 0, entry = v[1] & 1, piece = [];
        for (var i = 2, j = 0; i < v.length; i += 2, j++) {  // v: first step, flags, offsets
          x += v[i]; y += v[i + 1];
          piece.push({x: x / data.scale, y: y / data.scale, step: j ? v[0] + j - entry : v[0],
                      point: !(j === 0 && entry) && !(i + 2 >= v.length && (v[1] & 2))});
        }
        series.pieces.push(piece);
      });
      return (decoded[index] = series);
    }
    data.layers.forEach(function (layer) {  // status pieces: differences from the entry before
      if (layer.cuts) { return; }
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
    function draw(item) {  // one artist: its line (the first k steps of a cut one), its markers
      var style = item.style, series = decode(item.series), m = item.map || [1, 0, 1, 0];
      var k = item.k, every = item.every, marks = [], count = 0;
      var pieces = series.pieces.map(function (piece) {
        return item.cut ? piece.filter(function (v) { return v.step <= k; }) : piece;
      });
      if (item.cut === 'head') {
        var at = Math.min(k, series.n - 1);
        pieces.forEach(function (piece) {
          piece.forEach(function (v) { if (v.point && v.step === at) { marks = [v]; } });
        });
        pieces = [];
      } else if (style.m) {
        if (item.cut === 'prefix/10') { every = Math.max(1, Math.floor(Math.min(k + 1, series.n) / 10)); }
        pieces.forEach(function (piece) {
          piece.forEach(function (v) { if (v.point && v.step % every === 0) { marks.push(v); } });
        });
      }
      function x(v) { return v.x * m[0] + m[1]; }
      function y(v) { return v.y * m[2] + m[3]; }
      pieces.forEach(function (piece) { count += piece.length; });
      context.save();
      context.beginPath();
      context.rect(style.clip[0], style.clip[1], style.clip[2], style.clip[3]);
      context.clip();
      if (style.w > 0 && count > 1) {
        context.beginPath();
        pieces.forEach(function (piece) {
          piece.forEach(function (v, i) { context[i ? 'lineTo' : 'moveTo'](x(v), y(v)); });
        });
        context.lineWidth = style.w; context.strokeStyle = style.c;
        context.setLineDash(style.d); context.lineDashOffset = style.o;
        context.lineJoin = 'round'; context.lineCap = style.cap;
        context.stroke();
      }
      if (style.m) {
        context.setLineDash([]); context.lineJoin = 'miter';
        marks.forEach(function (v) { marker(style, x(v), y(v)); });
      }
      context.restore();
    }
    start(data, function () {
      var pieces = [], items = [], base = null, baseKey = '';
      var at = data.prefix ? +controls[data.prefix.control].value : 0;
      data.layers.forEach(function (layer) {
        var key = layer.controls.map(function (i) { return controls[i].value; }).join(',');
        var entry = layer.entries[key];
        if (!base) { base = entry; baseKey = key; }
        pieces.push(layer.cuts ? entry[0][at] : layer.text[key]);
        entry[entry.length - 1].forEach(function (ref, j) {
          var style = data.styles[layer.first + j];
          items.push({style: style, series: typeof ref === 'number' ? ref : ref[0],
                      every: typeof ref === 'number' ? 1 : ref[1], order: items.length,
                      cut: layer.cuts ? layer.cuts[j] : null,
                      k: data.prefix ? data.prefix.values[at] : 0,
                      map: layer.cuts ? data.maps[baseKey][style.ax] : null});
        });
      });
      background(data, base[0], base[1]);
      image.src = data.foregrounds[base[2]];
      var ratio = Math.min(3, Math.max(1, window.devicePixelRatio || 1));
      var width = +image.getAttribute('width'), height = +image.getAttribute('height');
      if (canvas.width !== Math.round(width * ratio)) {
        canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
      }
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.clearRect(0, 0, width, height);
      items.sort(function (a, b) { return a.style.z - b.style.z || a.order - b.order; });
      items.forEach(draw);
      root.setAttribute('data-gdx-series', items.map(function (item) { return item.series; }).join(','));
      say(data, pieces[0] + pieces.slice(1).join(data.separator));
    });
    canvas.hidden = false;
  });
})();"""

_DRAWN_STYLE = """
.gdx-drawn .gdx-picture{position:relative}
.gdx-drawn .gdx-picture canvas{position:absolute;left:0;top:0;width:100%;height:100%}
.gdx-drawn .gdx-picture img{position:relative}
"""


def _drawn_html(explorer, controls, view, fixed_note, explorer_layers) -> str:
    """The drawn view's HTML; ``explorer_layers`` says, per layer, whether it draws artists
    (its entries are stored runs)."""
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
    # deflated: the runs of neighbouring settings repeat one another (a quarter of the size)
    payload = base64.b64encode(zlib.compress(json.dumps(data, separators=(",", ":")).encode(),
                                             9)).decode("ascii")
    settings = int(np.prod([len(c.values) for c in controls]))
    stored = sum(len(layer["entries"]) for layer, source in zip(data["layers"], explorer_layers,
                                                                  strict=True) if source)
    counted = (f"{settings:,} settings" if stored == settings
               else f"{stored:,} stored runs combine into {settings:,} settings")
    note_js = (f"Drawn in your browser from runs computed when the book was built "
               f"({counted}). " + (fixed_note + " " if fixed_note else "")
               + "Run this page as a notebook (Binder, Colab or Jupyter) to change everything.")
    setting = explorer.describe({c.name: c.values[start[c.name]] for c in controls})
    note_static = (f"{explorer.title} at {setting}. With JavaScript on, sliders choose among "
                   f"{settings:,} settings; run this page as a notebook (Binder, "
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
            f'<script type="application/octet-stream" class="gdx-data" data-encoding="deflate">'
            f"{payload}</script>"
            f"<script>{_DRAWN_SCRIPT}</script></div>")

"""Machinery of the browser test (tests/test_browser.py): a local server, CDN routing, page visits.

- :class:`StaticServer` serves a folder (the built ``_build/html``) on 127.0.0.1 from a thread.
- :class:`CdnRouter` is installed with ``context.route("**/*", ...)``: requests to the local server
  pass; requests for the CDN assets the book loads (MathJax from jsdelivr, require.js from cdnjs,
  ``@jupyter-widgets/html-manager`` and anything else ``<name>@<version>`` on jsdelivr/unpkg) are
  answered from ``tests/browser/node_modules`` (npm, pinned in ``tests/browser/package-lock.json``)
  when the installed version satisfies the one the page asks for; every other request leaves the
  machine never: it is aborted and recorded, and the test fails on it.
- :func:`visit` opens one page, waits for MathJax and the widget manager, plays every animation,
  and returns a :class:`PageReport` of plain facts for the tests to assert on.

Playwright is imported inside functions only: pytest imports this module for its doctests even
where Playwright is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import mimetypes
import re
import shutil
import socketserver
import subprocess
import threading
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

TESTS = Path(__file__).resolve().parent
ASSETS = TESTS / "browser"
NODE_MODULES = ASSETS / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes ask (run as root, closed network): no sandbox, no GPU, nothing that phones
# home. Playwright adds --headless and a fresh temporary --user-data-dir itself for launch().
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "CdnRouter",
    "PageReport",
    "StaticServer",
    "ensure_assets",
    "launch_chromium",
    "version_satisfies",
    "visit",
]


# --------------------------------------------------------------------------------------------
# the local server

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "application/javascript", ".mjs": "application/javascript",
                      ".svg": "image/svg+xml", ".woff2": "font/woff2", ".woff": "font/woff",
                      ".ipynb": "application/json"}

    def log_message(self, format, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # the browser cancels requests it no longer needs (navigation): not the page's fault
        pass


class StaticServer:
    """Serve ``folder`` on http://127.0.0.1:<free port>/ from a daemon thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._server = _Server(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
        self.host, self.port = self._server.server_address[:2]
        self.origin = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"serve {folder}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, relative: str) -> str:
        return f"{self.origin}/{relative.lstrip('/')}"

    def file_for(self, url: str) -> Path | None:
        """The served file a URL of this server names (``None`` for another origin)."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return None
        path = unquote(parts.path)
        if path.endswith("/"):
            path += "index.html"
        return self.folder / path.lstrip("/")


# --------------------------------------------------------------------------------------------
# CDN assets from npm

def ensure_assets() -> Path:
    """``tests/browser/node_modules``, installed with ``npm ci`` from the lock file if missing."""
    stamp = NODE_MODULES / ".package-lock.json"
    lock = ASSETS / "package-lock.json"
    if not stamp.is_file() or stamp.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install the browser test's offline CDN assets "
                               "(tests/browser/package.json)")
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=ASSETS, check=True, capture_output=True, text=True)
    return NODE_MODULES


_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def _numbers(version: str) -> tuple[int, ...]:
    match = _VERSION.match(version)
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def version_satisfies(installed: str, wanted: str) -> bool:
    """Does an installed npm version satisfy the version in a CDN URL?

    CDN URLs carry an exact version (``1.0.6``), a prefix (``3`` means any 3.x.y) or a caret or
    tilde range; an empty or ``latest`` version takes anything.

    >>> version_satisfies("3.2.2", "3"), version_satisfies("3.2.2", "3.2"), version_satisfies("3.2.2", "4")
    (True, True, False)
    >>> version_satisfies("1.0.6", "^1.0.1"), version_satisfies("1.0.6", "1.0.6"), version_satisfies("1.0.6", "1.0.7")
    (True, True, False)
    >>> version_satisfies("2.3.4", "~2.3.1"), version_satisfies("2.4.0", "~2.3.1"), version_satisfies("0.2.0", "")
    (True, False, True)
    """
    wanted = wanted.strip()
    if wanted in ("", "*", "latest"):
        return True
    have = _numbers(installed)
    if wanted[0] in "^~":
        floor = _numbers(wanted[1:])
        if not floor or have < floor + (0,) * (3 - len(floor)):
            return False
        if wanted[0] == "~":
            return have[:2] == (*floor, 0)[:2]
        significant = next((i for i, part in enumerate(floor) if part != 0), len(floor) - 1)
        return have[: significant + 1] == floor[: significant + 1]
    want = _numbers(wanted)
    return bool(want) and have[: len(want)] == want


_NPM_CDN = re.compile(
    r"^https://(?:cdn\.jsdelivr\.net/npm|unpkg\.com)/"
    r"(?P<name>(?:@[^/@]+/)?[^/@]+)(?:@(?P<version>[^/]*))?(?P<path>/[^?#]*)?")
_CDNJS = re.compile(
    r"^https://cdnjs\.cloudflare\.com/ajax/libs/(?P<library>[^/]+)/(?P<version>[^/]+)/(?P<file>[^?#]+)")
# cdnjs serves some npm packages under another name or a minified file that npm does not ship
CDNJS_PACKAGES = {"require.js": ("requirejs", {"require.min.js": "require.js"})}


@dataclass
class Resolution:
    file: Path | None
    problem: str = ""


class CdnRouter:
    """Answer CDN requests from ``node_modules``; abort and record everything else off-machine."""

    def __init__(self, server: StaticServer, node_modules: Path = NODE_MODULES) -> None:
        self.server = server
        self.node_modules = node_modules
        self.routed: list[str] = []
        self.unrouted: list[str] = []
        self.sri_waived: list[str] = []
        self._versions: dict[str, str | None] = {}

    def installed_version(self, name: str) -> str | None:
        if name not in self._versions:
            manifest = self.node_modules / name / "package.json"
            version = None
            if manifest.is_file():
                import json

                version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
            self._versions[name] = version
        return self._versions[name]

    def resolve(self, url: str) -> Resolution | None:
        """The local file for a CDN URL; ``None`` when the URL is not a CDN asset we know."""
        if match := _NPM_CDN.match(url):
            name, version = match["name"], match["version"] or ""
            path = (match["path"] or "/").lstrip("/")
            if not path:
                return Resolution(None, f"{url}: bare package URLs are not supported")
        elif match := _CDNJS.match(url):
            library, version, path = match["library"], match["version"], match["file"]
            name, renames = CDNJS_PACKAGES.get(library, (library, {}))
            path = renames.get(path, path)
        else:
            return None
        installed = self.installed_version(name)
        if installed is None:
            return Resolution(None, f"{url}: no local copy of the npm package {name!r}; "
                                    "add it to tests/browser/package.json")
        if not version_satisfies(installed, version):
            return Resolution(None, f"{url}: the page asks for {name}@{version} but "
                                    f"tests/browser has {installed}; update package.json")
        file = (self.node_modules / name / path).resolve()
        if not file.is_relative_to(self.node_modules.resolve()) or not file.is_file():
            return Resolution(None, f"{url}: {name}@{installed} has no file {path}")
        return Resolution(file)

    def __call__(self, route) -> None:
        request = route.request
        url = request.url
        if url.startswith(self.server.origin + "/"):
            if request.resource_type == "document":
                self._serve_document(route)
            else:
                route.continue_()
            return
        resolution = self.resolve(url)
        if resolution is None or resolution.file is None:
            self.unrouted.append(resolution.problem if resolution else url)
            route.abort("blockedbyclient")
            return
        self.routed.append(url)
        content_type = mimetypes.guess_type(resolution.file.name)[0] or "application/octet-stream"
        if resolution.file.suffix == ".js":
            content_type = "application/javascript"
        route.fulfill(status=200, body=resolution.file.read_bytes(), content_type=content_type,
                      headers={"Access-Control-Allow-Origin": "*"})

    # Subresource integrity: a page may pin a CDN file's digest (myst-nb pins require.min.js).
    # When the npm copy is the very same file the pin is kept; when npm ships only another build
    # (require.js unminified) the pin cannot hold offline, so the attribute is dropped from that
    # one tag and the waiver is recorded.
    _SRI_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
    _SRC = re.compile(r"""\b(?:src|href)=["']([^"']+)["']""")
    _INTEGRITY = re.compile(r"""\s+integrity=["']([^"']*)["']""")

    def _serve_document(self, route) -> None:
        response = route.fetch()
        body = response.text()
        if "integrity=" not in body:
            route.fulfill(response=response)
            return

        def check(tag: re.Match) -> str:
            text = tag.group(0)
            src, integrity = self._SRC.search(text), self._INTEGRITY.search(text)
            if not src or not integrity:
                return text
            resolution = self.resolve(src.group(1))
            if resolution is None or resolution.file is None:
                return text  # served by nobody: the request is recorded as unrouted anyway
            if _sri_matches(resolution.file.read_bytes(), integrity.group(1)):
                return text
            self.sri_waived.append(f"{src.group(1)} (served from {resolution.file.name})")
            return text.replace(integrity.group(0), "")

        route.fulfill(response=response, body=self._SRI_TAG.sub(check, body))


def _sri_matches(content: bytes, integrity: str) -> bool:
    for token in integrity.split():
        algorithm, _, digest = token.partition("-")
        if algorithm in ("sha256", "sha384", "sha512"):
            actual = base64.b64encode(hashlib.new(algorithm, content).digest()).decode()
            if actual == digest:
                return True
    return False


def launch_chromium(playwright):
    """Debian's Chromium, headless, driven by Playwright (its own browser download fails here)."""
    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)


# --------------------------------------------------------------------------------------------
# one page visit

@dataclass
class PageReport:
    """Everything one visit saw, as plain data."""

    url: str
    status: int | None = None
    redirected_to: str = ""  # where a <meta http-equiv="refresh"> page sent the browser
    title: str = ""
    lang: str = ""
    favicon: str = ""
    js_errors: list[str] = field(default_factory=list)
    broken_requests: list[str] = field(default_factory=list)  # local resources failed or >= 400
    math_total: int = 0
    math_untypeset: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    mathjax_ready: bool | None = None
    images: list[dict] = field(default_factory=list)
    animations: list[dict] = field(default_factory=list)
    widget_views: int = 0
    widget_views_rendered: int = 0
    widget_problem: str = ""
    links: list[str] = field(default_factory=list)
    unresolved_refs: list[str] = field(default_factory=list)
    overflow_px: int = 0  # how far the page scrolls sideways at this viewport width
    too_wide: list[str] = field(default_factory=list)  # what sticks out, outside scrolling boxes
    unrouted: list[str] = field(default_factory=list)  # off-machine requests, aborted
    routed: list[str] = field(default_factory=list)  # CDN requests answered from npm copies
    sri_waived: list[str] = field(default_factory=list)


_COLLECT = r"""
() => {
  const hidden = 'pre, code, script, style, textarea, mjx-container, .highlight, .MathJax';
  const main = document.querySelector('main article') || document.querySelector('main')
               || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll(hidden).forEach(e => e.remove());
  const text = clone.textContent;
  const rawTex = [];
  const patterns = [/\$\$/g, /\\\[/g, /\\\(/g, /\\begin\{/g, /\\[a-zA-Z]{2,}\{/g,
                    /\$[^$\s][^$]{0,80}[\\^_{}][^$]{0,80}\$/g];  // $...$ with TeX inside
  for (const pattern of patterns) {
    for (const m of text.matchAll(pattern)) {
      rawTex.push(text.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, ' '));
      if (rawTex.length > 10) break;
    }
  }
  const maths = Array.from(document.querySelectorAll('.math'));
  // a dollar sign glued to typeset maths: a delimiter the parser did not take ("$x$" shown as $x$)
  for (const element of maths) {
    const before = element.previousSibling, after = element.nextSibling;
    if ((before && before.nodeType === 3 && before.textContent.endsWith('$'))
        || (after && after.nodeType === 3 && after.textContent.startsWith('$'))) {
      rawTex.push('$ beside maths: ' + (element.parentElement.textContent || '')
                                         .trim().replace(/\s+/g, ' ').slice(0, 80));
    }
  }
  const views = Array.from(document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]'));
  const rendered = views.filter(v => {
    const area = v.previousElementSibling;
    return area && area.classList.contains('widget-subarea')
           && area.querySelector('.jupyter-widgets, .lm-Widget, .widget-inline-hbox') !== null;
  });
  const icon = document.querySelector('link[rel~="icon"]');
  // elements reaching past the right edge of the screen that no scrolling box contains
  function tooWide() {
    const width = document.documentElement.clientWidth, found = [];
    const scrolls = e => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX);
    for (const element of main.querySelectorAll('*')) {
      const right = element.getBoundingClientRect().right;
      if (right <= width + 1) continue;
      let box = element.parentElement, contained = false;
      while (box && box !== document.body) {
        if (scrolls(box)) { contained = true; break; }
        box = box.parentElement;
      }
      if (contained) continue;
      if (found.some(outer => outer.element.contains(element))) continue;
      found.push({element, text: `<${element.tagName.toLowerCase()} class="${element.className}">`
                  + ` reaches ${Math.round(right)} px: `
                  + (element.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60)});
      if (found.length >= 5) break;
    }
    return found.map(f => f.text);
  }
  return {
    title: document.title,
    lang: document.documentElement.lang,
    favicon: icon ? icon.href : '',
    math_total: maths.length,
    math_untypeset: maths.filter(e => !e.querySelector('mjx-container'))
                         .map(e => e.textContent.trim().slice(0, 80)),
    math_errors: Array.from(document.querySelectorAll('mjx-merror'))
                      .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120)),
    raw_tex: rawTex,
    images: Array.from(document.images).map(img => ({
      src: img.currentSrc.startsWith('data:') ? img.currentSrc.slice(0, 40) + '...'
                                              : img.currentSrc,
      alt: (img.getAttribute('alt') || '').trim(),
      complete: img.complete,
      width: img.naturalWidth,
      in_animation: img.closest('.animation') !== null,
    })),
    widget_views: views.length,
    widget_views_rendered: rendered.length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    // a cross-reference Sphinx could not resolve is left as a bare <span class="xref">
    unresolved_refs: Array.from(main.querySelectorAll('.xref'))
                          .filter(e => !e.closest('a')).map(e => e.textContent.trim()),
    overflow_px: Math.max(0, document.documentElement.scrollWidth
                             - document.documentElement.clientWidth),
    too_wide: tooWide(),
  };
}
"""

_ALL_IMAGES_SETTLED = r"""
async () => {
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
  })));
  return images.length;
}
"""

_MATHJAX_DONE = r"""
async () => {
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return false;
  await MathJax.startup.promise;
  return true;
}
"""


_WIDGETS_RENDERED = r"""
(selector) => Array.from(document.querySelectorAll(selector)).every(view =>
    view.previousElementSibling
    && view.previousElementSibling.classList.contains('widget-subarea')
    && view.previousElementSibling.children.length > 0)
"""

_META_REFRESH = re.compile(r"""<meta[^>]+http-equiv=["']?refresh""", re.IGNORECASE)


def _wait(page, expression: str, timeout_ms: int, arg=None) -> bool:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(expression, arg=arg, timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


def _play_animations(page) -> list[dict]:
    """Step and play every matplotlib ``to_jshtml`` player; report what changed."""
    results = []
    players = page.locator("div.animation")
    for index in range(players.count()):
        player = players.nth(index)
        image = player.locator("img").first
        slider = player.locator("input.anim-slider, input[type=range]").first
        result = {"index": index, "stepped": False, "played": False, "problem": ""}
        try:
            player.scroll_into_view_if_needed(timeout=5000)
            start = image.get_attribute("src") or ""
            if not start:
                result["problem"] = "the player shows no frame"
                results.append(result)
                continue
            player.locator('button[onclick$=".next_frame()"]').click(timeout=5000)
            stepped = image.get_attribute("src") or ""
            result["stepped"] = stepped != start
            result["slider"] = slider.input_value() if slider.count() else None
            # play from the first frame: the image must change on its own within a few seconds
            player.locator('button[onclick$=".first_frame()"]').click(timeout=5000)
            first = image.get_attribute("src") or ""
            player.locator('button[onclick$=".play_animation()"]').click(timeout=5000)
            handle = image.element_handle()
            result["played"] = _wait(page, "([img, first]) => img.src !== first", 5000,
                                     arg=[handle, first])
            player.locator('button[onclick$=".pause_animation()"]').click(timeout=5000)
        except Exception as error:  # noqa: BLE001 - reported, not raised: one bad player of many
            result["problem"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        results.append(result)
    return results


def visit(page, url: str, *, timeout_ms: int = 30_000, play: bool = True) -> PageReport:
    """Open ``url`` in ``page`` and collect a :class:`PageReport`."""
    report = PageReport(url=url)
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(url))
    aborted: set[str] = set()

    def on_console(message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            if where in aborted:
                return  # an unrouted request, reported (better) by the network check
            report.js_errors.append(f"console.error: {message.text} ({where})")

    def on_page_error(error) -> None:
        report.js_errors.append(f"uncaught {error.name}: {error.message}")

    def on_request_failed(request) -> None:
        if request.url.startswith(origin):
            report.broken_requests.append(f"{request.url}: {request.failure}")
        else:
            aborted.add(request.url)

    def on_response(response) -> None:
        if response.status >= 400:
            report.broken_requests.append(f"{response.url}: HTTP {response.status}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    try:
        with urllib.request.urlopen(url, timeout=timeout_ms / 1000) as served:
            raw = served.read().decode("utf-8", errors="replace")
        response = page.goto(url, wait_until="load", timeout=timeout_ms)
        report.status = response.status if response else None
        if _META_REFRESH.search(raw):
            # a redirect page (Sphinx's root index.html): follow it, check where it lands
            page.wait_for_url(lambda address: address != url, timeout=timeout_ms)
            page.wait_for_load_state("load", timeout=timeout_ms)
            report.redirected_to = page.url
        page.evaluate(_ALL_IMAGES_SETTLED)
        if page.locator(".math").count() or page.evaluate("() => !!window.MathJax"):
            report.mathjax_ready = _wait(page, _MATHJAX_DONE, timeout_ms)
        views = 'script[type="application/vnd.jupyter.widget-view+json"]'
        if page.locator(views).count() and not _wait(page, _WIDGETS_RENDERED, timeout_ms,
                                                       arg=views):
            report.widget_problem = f"widget views not rendered within {timeout_ms} ms"
        for key, value in page.evaluate(_COLLECT).items():
            setattr(report, key, value)
        if play:
            report.animations = _play_animations(page)
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_page_error)
        page.remove_listener("requestfailed", on_request_failed)
        page.remove_listener("response", on_response)
    return report

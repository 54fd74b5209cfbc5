"""Open every chapter of the built book in headless Chromium and check what a reader would see.

For each page of ``book/_toc.yml`` (the root, every notebook chapter, every markdown page) this loads
``book/_build/html/<page>.html`` from ``file://`` and checks that

- it loads: a title, a first heading and body text, and no JavaScript error (uncaught exceptions and
  files that failed to load; messages the theme logs with ``console.error`` are listed, not failed);
- its figures load: every ``<img>`` is complete with a natural width > 0, and a notebook chapter shows
  at least as many figures as its executed notebook has image outputs;
- its math renders: every Sphinx math node holds a MathJax ``mjx-container``, none a TeX error;
- its widgets render: every embedded widget view has been drawn by the ipywidgets HTML manager;
- its explorers work without a kernel: in every precomputed explorer (``.lottery-lab-explorer``, see
  ``lottery_lab/widgets/_static.py``) moving each control changes the figure (its image data differs
  before and after), with screenshots of each explorer before and after under ``screenshots/``; a
  notebook chapter shows as many explorers as its executed notebook has;
- no cell shows an error: a traceback (``.output.traceback``) fails the page, and so does a stderr
  stream (``.output.stderr``: warnings a student should not meet; ``--allow-stderr`` lists them only).

It prints one row per page (page, PASS/FAIL, figures, math, widgets, problems), saves screenshots of the
intro and of one notebook chapter under ``book/_build/screenshots/`` and exits 1 if any page fails.

Needs Chromium and its WebDriver (Debian: ``apt-get install chromium chromium-driver``) and the
``selenium`` package; the driver is given by path, so Selenium Manager never downloads anything.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service

BOOK = Path(__file__).resolve().parent
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars"]
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
HIDDEN_OUTPUT_TAGS = {"remove-output", "remove-cell", "remove_output", "remove_cell"}

# Browser errors that are known, harmless and not ours to fix: (regular expression, why).
KNOWN_BROWSER_ERRORS = [
    (r"Identifier 'THEBE_JS_URL' has already been declared",
     "every built page carries sphinx-thebe's inline config script twice (sphinx-thebe 0.3.1 under"
     " Jupyter Book 1.0.4); the first copy already defines the same constants, and the book does not"
     " use thebe (live code)"),
    (r"@jupyter-widgets/.*\.(woff2?|ttf|eot|svg) - Failed to load resource: net::ERR_FILE_NOT_FOUND",
     "the widgets' CSS asks for its FontAwesome 4 fonts at a path relative to the page; the icons"
     " are drawn as SVG by the theme's FontAwesome instead (checked: no undrawn <i class=fa> is left)"),
]

# Runs in the page once it has loaded: waits for MathJax's typesetting and the widget manager.
WAIT_JS = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + arguments[0] * 1000;
const views = () => Array.from(document.querySelectorAll(
  'script[type="application/vnd.jupyter.widget-view+json"]'));
const drawn = (s) => { const d = s.previousElementSibling;
  return !!d && d.classList.contains('widget-subarea') && d.childElementCount > 0; };
const mathReady = async () => {
  if (!document.querySelector('.math')) return true;
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return false;
  await MathJax.startup.promise; return true; };
(async () => {
  while (Date.now() < deadline) {
    let ok = document.readyState === 'complete';
    try { ok = ok && await mathReady(); } catch (e) { ok = false; }
    ok = ok && views().every(drawn);
    if (ok) break;
    await new Promise(r => setTimeout(r, 200));
  }
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r);
                       setTimeout(r, Math.max(0, deadline - Date.now())); })));
  done(null);
})();
"""

# Collects what the checks need from the rendered page.
INSPECT_JS = """
const q = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const main = document.querySelector('main article, article.bd-article, main, [role=main]');
const imgs = q('img');
const mathNodes = q('.math');
const views = q('script[type="application/vnd.jupyter.widget-view+json"]');
const firstLine = (e) => (e.innerText || '').trim().split('\\n')[0].slice(0, 120);
return {
  title: document.title,
  h1: (document.querySelector('h1') || {innerText: ''}).innerText.trim(),
  textLength: main ? main.innerText.trim().length : 0,
  images: imgs.map(i => ({src: i.getAttribute('src') || '', complete: i.complete,
                          width: i.naturalWidth, inOutput: !!i.closest('.cell_output')})),
  mjx: q('mjx-container').length,
  mathNodes: mathNodes.length,
  rawMath: mathNodes.filter(e => !e.querySelector('mjx-container')).map(firstLine),
  mathErrors: q('mjx-merror').map(e => e.getAttribute('data-mjx-error') || firstLine(e)).slice(0, 3),
  widgets: views.length,
  widgetsDrawn: views.filter(s => { const d = s.previousElementSibling;
    return !!d && d.classList.contains('widget-subarea') && d.childElementCount > 0
           && d.getBoundingClientRect().height > 0; }).length,
  undrawnIcons: q('.widget-subarea i.fa').length,
  tracebacks: q('.output.traceback, .output.error').map(firstLine),
  stderr: q('.output.stderr').map(firstLine),
};
"""


@dataclass
class Page:
    """One toc entry, what its executed notebook promises, and what the browser found."""

    name: str
    notebook: Path | None = None
    expected_figures: int = 0
    ok: bool = True
    figures: int = 0
    math: int = 0
    widgets: str = "-"
    expected_explorers: int = 0
    explorers: str = "-"
    shots: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (kind, example message)

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)


def toc_pages(book: Path) -> list[str]:
    """The root and every ``file`` entry of ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return [str(Path(p).with_suffix("")) if Path(p).suffix in {".md", ".ipynb"} else p for p in pages]


def image_outputs(nb_path: Path) -> int:
    """Image outputs a reader should see in an executed notebook (cells hidden by tag excluded)."""
    nb = json.loads(nb_path.read_text())
    count = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if HIDDEN_OUTPUT_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            shown = out.get("output_type") in {"display_data", "execute_result"}
            if shown and any(m in data for m in IMAGE_MIMES):
                count += 1
    return count


def explorer_calls(nb_path: Path) -> int:
    """Code cells of a notebook that show an explorer of ``lottery_lab.widgets`` (a ``*_explorer(`` call):
    each must become a precomputed explorer in the book (a static page has no kernel to draw for it)."""
    nb = json.loads(nb_path.read_text())
    return sum(bool(re.search(r"\b\w+_explorer\(", "".join(cell.get("source", ""))))
               for cell in nb.get("cells", []) if cell.get("cell_type") == "code"
               and not HIDDEN_OUTPUT_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def explorer_outputs(nb_path: Path) -> int:
    """Precomputed explorers (HTML outputs of ``precomputed_explorer``) in an executed notebook."""
    nb = json.loads(nb_path.read_text())
    return sum("lottery-lab-explorer" in "".join(out.get("data", {}).get("text/html", ""))
               for cell in nb.get("cells", []) if cell.get("cell_type") == "code"
               for out in cell.get("outputs", []))


# Moves control ``arguments[1]`` of explorer ``arguments[0]`` to another value; returns the image's
# src before and after, and the value shown before and after.
MOVE_JS = """
const root = document.querySelectorAll('.lottery-lab-explorer')[arguments[0]];
const el = root.querySelectorAll('[data-control]')[arguments[1]];
const img = root.querySelector('img'), before = img.src;
const n = el.tagName === 'SELECT' ? el.options.length : (+el.max + 1);
const shown = () => el.tagName === 'SELECT' ? el.options[el.selectedIndex].text
                                            : el.parentNode.querySelector('output').textContent;
const was = shown();
el.value = String((+el.value + 1) % n);
el.dispatchEvent(new Event('input', {bubbles: true}));
el.dispatchEvent(new Event('change', {bubbles: true}));
return {before: before, after: img.src, was: was, now: shown(), controls: root.querySelectorAll('[data-control]').length};
"""


def check_explorers(driver: webdriver.Chrome, page: Page, out: Path) -> None:
    """Move every control of every precomputed explorer once; the figure must change each time."""
    roots = driver.find_elements("css selector", ".lottery-lab-explorer")
    if page.notebook is not None and len(roots) < page.expected_explorers:
        page.fail(f"{len(roots)} explorer(s) on the page, expected {page.expected_explorers} (the executed "
                  f"notebook's explorer outputs, at least one per explorer call of its source)")
    if not roots:
        return
    moved = total = 0
    stem = page.name.replace("/", "_")
    for i, root in enumerate(roots):
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -60);", root)
        page.shots.append(out / f"{stem}-explorer{i}-before.png")
        root.screenshot(str(page.shots[-1]))
        n = len(root.find_elements("css selector", "[data-control]"))
        for c in range(n):
            total += 1
            r = driver.execute_script(MOVE_JS, i, c)
            if r["before"] == r["after"]:
                page.fail(f"explorer {i}: moving control {c} ({r['was']} → {r['now']}) left the figure as it was")
            else:
                moved += 1
        page.shots.append(out / f"{stem}-explorer{i}-after.png")
        root.screenshot(str(page.shots[-1]))
    page.explorers = f"{moved}/{total}"


def make_driver(chromium: str, chromedriver: str, width: int, height: int) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='check-pages-')}")
    opts.add_argument(f"--window-size={width},{height}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=opts)


def check_page(driver: webdriver.Chrome, page: Page, html: Path, timeout: float, allow_stderr: bool,
               shots: Path) -> None:
    path = html / f"{page.name}.html"
    if not path.is_file():
        page.fail(f"missing {path}")
        return
    driver.get_log("browser")  # drop what earlier pages left
    driver.get(path.as_uri())
    driver.set_script_timeout(timeout + 10)
    try:
        driver.execute_async_script(WAIT_JS, timeout)
    except TimeoutException:
        page.fail(f"page did not settle in {timeout:.0f} s")
    info = driver.execute_script(INSPECT_JS)

    if not info["title"] or not info["h1"] or info["textLength"] < 200:
        page.fail(f"no content (title {info['title']!r}, h1 {info['h1']!r}, {info['textLength']} chars)")

    loaded = [i["complete"] and i["width"] > 0 for i in info["images"]]
    broken = [i["src"].rsplit("/", 1)[-1][:40] for i, ok in zip(info["images"], loaded) if not ok]
    page.figures = sum(loaded)
    if broken:
        page.fail(f"{len(broken)} image(s) not loaded: {', '.join(broken[:3])}")
    if page.notebook is not None:
        shown = sum(1 for i in info["images"] if i["inOutput"] and i["complete"] and i["width"] > 0)
        if shown < page.expected_figures:
            page.fail(f"{shown} figure(s) in cell outputs, the executed notebook has {page.expected_figures}")

    page.math = info["mjx"]
    if info["rawMath"]:
        page.fail(f"{len(info['rawMath'])} math node(s) not typeset, e.g. {info['rawMath'][0]!r}")
    if info["mathErrors"]:
        page.fail(f"MathJax error: {info['mathErrors'][0]!r}")

    if info["widgets"]:
        page.widgets = f"{info['widgetsDrawn']}/{info['widgets']}"
        if info["widgetsDrawn"] < info["widgets"]:
            page.fail(f"{info['widgets'] - info['widgetsDrawn']} widget(s) not rendered")
        if info["undrawnIcons"]:
            page.fail(f"{info['undrawnIcons']} widget icon(s) not drawn")

    for tb in info["tracebacks"]:
        page.fail(f"error output: {tb!r}")
    for err in info["stderr"]:
        if allow_stderr:
            page.notes.append(f"stderr: {err!r}")
        else:
            page.fail(f"stderr output: {err!r}")

    check_explorers(driver, page, shots)

    page_uri = path.as_uri()
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        msg = entry["message"].replace(page_uri, "<page>").replace(html.as_uri() + "/", "")
        known = next((why for pattern, why in KNOWN_BROWSER_ERRORS if re.search(pattern, msg)), None)
        if known:
            page.notes.append((f"known and ignored: {known}", re.sub(r"[0-9a-f]{20}", "<hash>", msg)[:110]))
        elif entry.get("source") == "console-api":
            page.notes.append(("console.error (logged by a script, not an exception)", msg[:140]))
        else:
            page.fail(f"JS {entry.get('source', '?')}: {msg[:160]}")


def screenshot(driver: webdriver.Chrome, name: str, html: Path, out: Path, timeout: float) -> list[Path]:
    """The page's top, and its first figure and first widget where it has them."""
    stem = name.replace("/", "_")
    driver.get((html / f"{name}.html").as_uri())
    try:
        driver.execute_async_script(WAIT_JS, timeout)
    except TimeoutException:
        pass
    shots = [out / f"{stem}.png"]
    driver.save_screenshot(str(shots[0]))
    for what, sel in (("figure", ".cell_output img"), ("widget", ".widget-subarea")):
        if driver.execute_script(
                "const e = document.querySelector(arguments[0]);"
                "if (!e) return false;"
                "e.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); return true;",
                sel):
            time.sleep(0.3)
            shots.append(out / f"{stem}-{what}.png")
            driver.save_screenshot(str(shots[-1]))
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", type=Path, default=BOOK / "_build" / "html", help="the built book")
    ap.add_argument("--screenshots", type=Path, default=BOOK / "_build" / "screenshots",
                    help="where the PNGs go")
    ap.add_argument("--shoot", nargs="*", default=None,
                    help="pages to screenshot (default: the root and the first notebook chapter "
                         "with figures)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds a page may take to settle")
    ap.add_argument("--allow-stderr", action="store_true", help="list stderr outputs instead of failing")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)

    for tool in (args.chromium, args.chromedriver):
        if not Path(tool).is_file():
            print(f"check_pages: {tool} not found; install chromium and chromium-driver", file=sys.stderr)
            return 2
    if not args.html.is_dir():
        print(f"check_pages: {args.html} does not exist; build the book first (bash book/build.sh)",
              file=sys.stderr)
        return 2

    start = time.perf_counter()
    pages = []
    for name in toc_pages(BOOK):
        page = Page(name)
        if (BOOK / f"{name}.ipynb").exists():
            executed = args.html.parent / "jupyter_execute" / f"{name}.ipynb"
            page.notebook = executed if executed.is_file() else BOOK / f"{name}.ipynb"
            page.expected_figures = image_outputs(page.notebook)
            page.expected_explorers = max(explorer_outputs(page.notebook), explorer_calls(BOOK / f"{name}.ipynb"))
        pages.append(page)

    args.screenshots.mkdir(parents=True, exist_ok=True)
    driver = make_driver(args.chromium, args.chromedriver, args.width, args.height)
    try:
        for page in pages:
            check_page(driver, page, args.html, args.timeout, args.allow_stderr, args.screenshots)
        shoot = args.shoot
        if shoot is None:
            first_nb = next((p.name for p in pages if p.notebook is not None and p.expected_figures), None)
            shoot = [pages[0].name] + ([first_nb] if first_nb else [])
        shots = [s for p in pages for s in p.shots]
        for name in shoot:
            shots += screenshot(driver, name, args.html, args.screenshots, args.timeout)
    finally:
        driver.quit()

    width = max(len(p.name) for p in pages)
    print(f"{'page':<{width}}  result  figures  math  widgets  explorers moved  problems")
    for p in pages:
        print(f"{p.name:<{width}}  {'PASS' if p.ok else 'FAIL':<6}  {p.figures:>7}  {p.math:>4}  "
              f"{p.widgets:>7}  {p.explorers:>15}  {'; '.join(p.problems) or '-'}")
    notes: dict[str, tuple[set[str], list[str]]] = {}
    for p in pages:
        for kind, example in p.notes:
            examples, where = notes.setdefault(kind, (set(), []))
            examples.add(example)
            if p.name not in where:
                where.append(p.name)
    if notes:
        print("\nnotes (not failures):")
        for kind, (examples, where) in notes.items():
            print(f"- {kind}\n  on {len(where)} page(s): {', '.join(where)}")
            for example in sorted(examples)[:3]:
                print(f"    e.g. {example}")
    print(f"\nscreenshots: {', '.join(str(s) for s in shots)}")
    failed = [p.name for p in pages if not p.ok]
    print(f"{len(pages) - len(failed)}/{len(pages)} pages pass in {time.perf_counter() - start:.1f} s"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

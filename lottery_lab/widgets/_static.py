"""Explorers that work in a page without a kernel: every figure drawn beforehand, chosen in the browser.

A built book is static HTML: an ipywidgets explorer's sliders move there, but no Python runs to redraw.
:func:`precomputed_explorer` draws the explorer's figure for every combination of a modest grid of
control values when the notebook executes, and returns a small self-contained HTML output (range
inputs, menus, the figures as PNG data) whose script shows the figure of the chosen values. The book
build sets ``LOTTERY_LAB_STATIC=1`` (see :func:`static_page`); in JupyterLab the explorers stay live.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
from IPython.display import HTML
from matplotlib.figure import Figure
from PIL import Image
from tqdm.auto import tqdm

__all__ = ["Control", "grid", "g3", "precomputed_explorer", "static_page"]


def static_page() -> bool:
    """Whether the notebook executes for a static page (the book build sets ``LOTTERY_LAB_STATIC=1``)."""
    return os.environ.get("LOTTERY_LAB_STATIC", "0") == "1"


@dataclass(frozen=True)
class Control:
    """One control of a precomputed explorer: its name (the draw function's argument), the values it
    offers, the starting value, how a value is shown (``fmt``) and the control's label."""

    name: str
    values: Sequence[Any]
    start: Any
    fmt: Callable[[Any], str] = str
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"control {self.name!r}: values must not be empty")
        if self.start not in self.values:
            raise ValueError(f"control {self.name!r}: start must be one of its values "
                             f"{list(self.values)!r}, got {self.start!r}")


def grid(start: float, lo: float, hi: float, step: float) -> list[float]:
    """Log-spaced values ``10**lo … 10**hi`` every ``step`` decades, with ``start`` put in its place."""
    n = int(round((hi - lo) / step)) + 1
    return sorted({float(10 ** (lo + i * step)) for i in range(n)} | {float(start)})


def g3(v: float) -> str:
    """A control value as shown: three significant figures (``0.0501``, not ``0.050118723…``)."""
    return f"{v:.3g}"


def _png(fig: Figure, dpi: int) -> str:
    """The figure as a PNG data URL with a 256-colour palette (line plots on white lose nothing visible;
    the PNG is about a third of the full-colour one's size)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    buf.seek(0)
    small = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors=256).save(small, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(small.getvalue()).decode("ascii")


def _control_html(c: Control, i: int) -> str:
    label = html.escape(c.label or c.name)
    start = list(c.values).index(c.start)
    if all(isinstance(v, str) for v in c.values):
        options = "".join(f'<option value="{j}"{" selected" if j == start else ""}>{html.escape(c.fmt(v))}</option>'
                          for j, v in enumerate(c.values))
        return f'<label>{label} <select data-control="{i}">{options}</select></label>'
    return (f'<label>{label} <input type="range" data-control="{i}" min="0" max="{len(c.values) - 1}" '
            f'step="1" value="{start}" style="width:14em;vertical-align:middle"> '
            f'<output>{html.escape(c.fmt(c.start))}</output></label>')


_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s), figures = %(figures)s, frame = %(frame)s, shown = %(shown)s;
  var inputs = root.querySelectorAll("[data-control]"), img = root.querySelector("img");
  function update() {
    var key = [];
    inputs.forEach(function (el) {
      var c = +el.dataset.control, j = +el.value;
      key.push(j);
      var out = el.parentNode.querySelector("output");
      if (out) { out.textContent = shown[c][j]; }
    });
    img.src = figures[frame[key.join(",")]];
  }
  inputs.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
})();
"""


def precomputed_explorer(draw: Callable[..., Figure], controls: Sequence[Control], *, dpi: int = 72,
                         same: Callable[..., Any] | None = None, progress: bool = True) -> HTML:
    """The explorer as static HTML: ``draw(**values)`` for every combination of the controls' values.

    Parameters
    ----------
    draw : returns the figure for one choice of values (called with the controls' names as keywords).
    controls : the controls, in the order shown; their grid sizes multiply (keep the product modest:
        every combination is drawn, and its PNG is part of the page).
    dpi : resolution of the figures (page size grows with its square).
    same : called like ``draw``; combinations that give the same value share one figure (e.g. a
        parameter that only one choice of a menu uses), drawn once.
    progress : show a ``tqdm.auto`` bar while drawing.

    Returns
    -------
    IPython.display.HTML
        The controls, the starting figure and a script that shows the chosen figure (no kernel needed).
    """
    if not controls:
        raise ValueError("controls must name at least one control")
    combos = list(itertools.product(*[range(len(c.values)) for c in controls]))
    figures: list[str] = []
    frame_of: dict[str, int] = {}
    drawn: dict[Any, int] = {}
    for combo in tqdm(combos, desc="drawing the explorer's figures", disable=not progress):
        kw = {c.name: c.values[j] for c, j in zip(controls, combo)}
        key = same(**kw) if same is not None else combo
        if key not in drawn:
            drawn[key] = len(figures)
            figures.append(_png(draw(**kw), dpi))
        frame_of[",".join(map(str, combo))] = drawn[key]
    start = figures[frame_of[",".join(str(list(c.values).index(c.start)) for c in controls)]]
    root = f"lottery-lab-explorer-{uuid.uuid4().hex[:12]}"
    shown = [[c.fmt(v) for v in c.values] for c in controls]
    script = _SCRIPT % {"id": json.dumps(root), "figures": json.dumps(figures), "frame": json.dumps(frame_of),
                        "shown": json.dumps(shown)}
    row = " ".join(_control_html(c, i) for i, c in enumerate(controls))
    return HTML(f'<div class="lottery-lab-explorer" id="{root}"><div style="display:flex;flex-wrap:wrap;'
                f'gap:0.5em 1.5em;align-items:center">{row}</div><img alt="explorer figure" '
                f'style="max-width:100%" src="{start}"><script>{script}</script></div>')

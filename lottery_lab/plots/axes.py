"""What every figure module shares: where a figure comes from, and the log density axis.

matplotlib is imported inside the functions: importing a figure module loads no pyplot, and a
caller that passes axes of a ``matplotlib.figure.Figure()`` (the CLI: no GUI backend, nothing left
open) never touches pyplot at all.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["figure_axes", "subplots", "density_axis", "data_ticks", "percent", "DENSITY_TICKS"]

#: the densities that may be labelled on a density axis (those within the data's range are)
DENSITY_TICKS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.0, 4.0), fig: Any = None,
             **kw: Any):
    """``(fig, axes)``: on ``fig`` when given (an empty ``Figure()``, resized to ``figsize``), else a new
    pyplot figure (shown inline in notebooks); the constrained layout unless ``layout`` says otherwise."""
    layout = kw.pop("layout", "constrained")
    if fig is None:
        import matplotlib.pyplot as plt

        return plt.subplots(nrows, ncols, figsize=figsize, layout=layout, **kw)
    fig.set_size_inches(*figsize)
    if layout is not None:
        fig.set_layout_engine(layout)
    return fig, fig.subplots(nrows, ncols, **kw)


def figure_axes(ax: Any = None, figsize: tuple[float, float] = (6.0, 4.0)):
    """``(fig, ax)``: ``ax`` and its figure, or a new figure with one axes when ``ax`` is ``None``."""
    if ax is not None:
        return ax.figure, ax
    return subplots(figsize=figsize)


#: on an axis ticked at the data, neighbouring labels are at least this fraction of the log range apart
DATA_TICK_GAP = 1 / 12


def percent(x: float, _pos: Any = None) -> str:
    """A density as a tick label: 0.05 → ``5%``, 0.005 → ``0.5%``, 0.2621 → ``26.2%`` (3 digits at most)."""
    return f"{100 * x:.3g}%"


def data_ticks(densities: Iterable[float], gap: float = DATA_TICK_GAP) -> list[float]:
    """The plotted densities as ticks, from dense to sparse, leaving out one that would sit closer than
    ``gap`` × the log range to the tick before it (it is then drawn next to that label)."""
    xs = sorted({float(d) for d in densities if d > 0}, reverse=True)
    if len(xs) < 2:
        return xs
    span = math.log(xs[0] / xs[-1])
    chosen = [xs[0]]
    for x in xs[1:]:
        if math.log(chosen[-1] / x) >= gap * span:
            chosen.append(x)
    if chosen[-1] != xs[-1]:  # the sparsest point always has its label (it is where the curve ends)
        chosen[-1] = xs[-1]
    return chosen


def density_axis(ax: Any, densities: Iterable[float], *, ticks: Iterable[float] | str = DENSITY_TICKS,
                 extra_ticks: Iterable[float] = (), pad: float | None = None,
                 label: str = "density (fraction of prunable weights kept)") -> None:
    """Format ``ax``'s x axis for densities: log scale, dense on the left and sparse on the right.

    Major ticks are ``extra_ticks`` (e.g. the target densities) and those of ``ticks`` within the
    range of ``densities`` (from 0.8× the smallest to 1.25× the largest), labelled in percent;
    ``ticks="data"`` ticks the plotted densities themselves (a few rounds: each point has its label;
    see :func:`data_ticks`). Minor ticks carry no labels. ``pad`` > 1 sets the limits to ``pad`` × the
    range on both sides; without it the axis only runs from large to small.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    extra = [float(t) for t in extra_ticks]
    xs = [float(d) for d in densities] + extra
    ax.set_xscale("log")
    if xs:
        lo, hi = min(xs), max(xs)
        if isinstance(ticks, str):
            if ticks != "data":
                raise ValueError(f"ticks must be 'data' or a sequence of densities, got {ticks!r}")
            shown = set(data_ticks(xs))
        else:
            shown = {t for t in ticks if lo * 0.8 <= t <= hi * 1.25}
        chosen = sorted(set(extra) | shown, reverse=True)
        ax.xaxis.set_major_locator(FixedLocator(chosen))
        if pad is not None:
            ax.set_xlim(hi * pad, lo / pad)
    ax.xaxis.set_major_formatter(FuncFormatter(percent))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xlabel(label)

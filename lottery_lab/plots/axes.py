"""What every figure module shares: where a figure comes from, and the log density axis.

matplotlib is imported inside the functions: importing a figure module loads no pyplot, and a
caller that passes axes of a ``matplotlib.figure.Figure()`` (the CLI: no GUI backend, nothing left
open) never touches pyplot at all.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["figure_axes", "subplots", "density_axis", "percent", "DENSITY_TICKS"]

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


def percent(x: float, _pos: Any = None) -> str:
    """A density as a tick label: 0.05 → ``5%``, 0.005 → ``0.5%`` (``%g``: no trailing zeros)."""
    return f"{100 * x:g}%"


def density_axis(ax: Any, densities: Iterable[float], *, ticks: Iterable[float] = DENSITY_TICKS,
                 extra_ticks: Iterable[float] = (), pad: float | None = None,
                 label: str = "density (fraction of prunable weights kept)") -> None:
    """Format ``ax``'s x axis for densities: log scale, dense on the left and sparse on the right.

    Major ticks are ``extra_ticks`` (e.g. the target densities) and those of ``ticks`` within the
    range of ``densities`` (from 0.8× the smallest to 1.25× the largest), labelled in percent;
    minor ticks carry no labels. ``pad`` > 1 sets the limits to ``pad`` × the range on both sides;
    without it the axis only runs from large to small.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    extra = [float(t) for t in extra_ticks]
    xs = [float(d) for d in densities] + extra
    ax.set_xscale("log")
    if xs:
        lo, hi = min(xs), max(xs)
        chosen = sorted(set(extra) | {t for t in ticks if lo * 0.8 <= t <= hi * 1.25}, reverse=True)
        ax.xaxis.set_major_locator(FixedLocator(chosen))
        if pad is not None:
            ax.set_xlim(hi * pad, lo / pad)
    ax.xaxis.set_major_formatter(FuncFormatter(percent))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xlabel(label)

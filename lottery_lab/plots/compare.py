"""The comparison figure: test accuracy against measured density, one line per method, mean ± std.

Takes the aggregated rows of :func:`lottery_lab.compare.aggregate` (one per method and density bin),
so every point sits at the density the method measured, not at its bin's target.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from lottery_lab.plots.axes import density_axis, figure_axes


def accuracy_at_density(rows: Sequence[Mapping], dense: Mapping | None = None,
                        targets: Sequence[float] | None = None, ax=None, title: str | None = None,
                        ylim: tuple[float, float] | None = None, legend: bool = True):
    """Mean test accuracy (± std as error bars, both axes) against mean measured density per method.

    ``dense`` (``test_acc_mean``, ``test_acc_std``) is drawn as a dashed line with its band;
    ``targets`` become the x ticks. The x axis is log-scaled and runs from dense to sparse; ``ylim``
    zooms in on the accuracy axis (e.g. on the methods near the dense network).
    """
    _, ax = figure_axes(ax, figsize=(7, 4.5))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for i, method in enumerate(methods):
        pts = sorted((r for r in rows if r["method"] == method), key=lambda r: -r["density_mean"])
        n = max(r["n"] for r in pts)
        ax.errorbar([r["density_mean"] for r in pts], [r["test_acc_mean"] for r in pts],
                    xerr=[r["density_std"] for r in pts], yerr=[r["test_acc_std"] for r in pts],
                    marker="os^vD<>pXh"[i % 10], ms=4, capsize=2, lw=1.2,
                    label=f"{method} ({n} seed{'s' if n > 1 else ''})")
    if dense is not None:
        m, s = dense["test_acc_mean"], dense["test_acc_std"]
        ax.axhline(m, color="k", ls="--", lw=1, label=f"dense ({m:.3f})")
        if s > 0:
            ax.axhspan(m - s, m + s, color="k", alpha=0.08, lw=0)
    density_axis(ax, [r["density_mean"] for r in rows], extra_ticks=targets or (),
                 ticks=(0.5, 0.2, 0.1, 0.05, 0.02, 0.01), pad=1.3,
                 label="measured density (fraction of prunable weights kept)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if legend:
        ax.legend(fontsize=8, ncol=2 if len(methods) > 5 else 1)
    if title:
        ax.set_title(title)
    return ax

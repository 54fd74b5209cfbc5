"""Figures of the convex mask lab: accuracy against density, objective traces, mask histograms, bounds.

Every function returns a ``Figure`` (hence the ``_figure`` names; :mod:`lottery_lab.plots.lottery`'s
functions of similar names take other data and return axes). ``accuracy_vs_density`` and
``mask_histogram`` are the earlier names of :func:`accuracy_figure` and :func:`mask_histogram_figure`,
kept as aliases for notebooks written against them.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from lottery_lab.convex.bounds import BoundResult
from lottery_lab.convex.experiments import METHODS, BoundTrial, MnistExperiment
from lottery_lab.plots.axes import density_axis, figure_axes, subplots

__all__ = ["accuracy_figure", "objective_traces", "mask_histogram_figure", "bound_trials_figure",
           "accuracy_vs_density", "mask_histogram"]

_STYLE = {
    "mask-log": dict(color="C3", marker="o"),
    "mask-l1": dict(color="C0", marker="s"),
    "weight-l1 (prox)": dict(color="C2", marker="^"),
    "weight-l1 (subgrad)": dict(color="C7", marker="x", ls="none"),
}


def accuracy_figure(exp: MnistExperiment, ax: Axes | None = None) -> Figure:
    """Test accuracy against the fraction of kept weights (log scale, dense on the left), one curve per method."""
    fig, ax = figure_axes(ax)
    for method in METHODS:
        rs = sorted((r for r in exp.rows if r["method"] == method), key=lambda r: r["density"])
        ax.plot([r["density"] for r in rs], [r["test_acc"] for r in rs], label=method, **_STYLE[method])
    ax.axhline(exp.dense_test_acc, color="k", lw=0.8, ls="--", label="dense θ")
    density_axis(ax, [r["density"] for r in exp.rows if r["density"] > 0],
                 label="fraction of weights kept (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"MNIST {exp.settings['a']} vs {exp.settings['b']}")
    ax.legend(fontsize=8)
    return fig


def objective_traces(exp: MnistExperiment, fig: Figure | None = None) -> Figure:
    """Per iteration: F_k − F* of weight-ℓ1 by proximal gradient and by subgradient descent, the
    fraction of weights changing sign, and F_k − F* of the mask PGD runs (on ``fig`` when given)."""
    fig, (left, mid, right) = subplots(1, 3, figsize=(14.0, 4.0), fig=fig)
    lam_w = exp.settings["trace_lam_weight"]
    for ax, keys, title in (
        (left, ("weight prox", "weight subgrad"), f"weight-ℓ1, λ = {lam_w:.2g}: objective"),
        (right, ("mask-l1 PGD", "mask-log PGD"), "mask problem, projected gradient"),
    ):
        for key in keys:
            gap = exp.traces[key]
            it = np.arange(1, len(gap) + 1)
            pos = gap > 0
            lam = exp.settings["trace_lam_mask"].get(key.removesuffix(" PGD"))
            label = key if lam is None else f"{key}, λ = {lam:.2g}"
            ax.semilogy(it[pos], gap[pos], label=label, lw=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("F − F*")
        ax.set_title(title)
        ax.legend(fontsize=8)
    for key in ("weight prox", "weight subgrad"):
        flips = exp.traces[f"{key} sign flips"]
        mid.plot(np.arange(1, len(flips) + 1), flips, label=key, lw=1)
    mid.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    mid.set_xlabel("iteration")
    mid.set_ylabel("weights changing sign")
    mid.set_title(f"weight-ℓ1, λ = {lam_w:.2g}: oscillation")
    mid.legend(fontsize=8)
    return fig


def mask_histogram_figure(m: np.ndarray, m_ref: np.ndarray | None = None, alpha: float = 0.5,
                   bound: BoundResult | None = None, ax: Axes | None = None) -> Figure:
    """Histogram of the mask values, split by the reference mask, with the threshold α and the bound."""
    fig, ax = figure_axes(ax)
    bins = np.linspace(0, 1, 41)
    if m_ref is None:
        ax.hist(m, bins=bins, color="C0")
    else:
        ax.hist([m[m_ref == 0], m[m_ref == 1]], bins=bins, stacked=True, color=["C7", "C3"],
                label=["m_ref = 0", "m_ref = 1"])
        ax.legend(fontsize=8, loc="upper center")
    ax.axvline(alpha, color="k", ls="--", lw=0.8)
    ax.set_xlabel("mask value m̂_j")
    ax.set_ylabel("count")
    if bound is not None:
        err = "" if m_ref is None else f"‖m̂ − m_ref‖ = {np.linalg.norm(m - m_ref):.3g}\n"
        ax.text(0.98, 0.95, f"{err}bound = {bound.bound:.3g}\ncertifies exact: {bound.certifies_exact}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9,
                bbox=dict(boxstyle="round", fc="white", alpha=0.8))
    return fig


def bound_trials_figure(trials: list[BoundTrial], fig: Figure | None = None) -> Figure:
    """Left: error against bound per trial (the bound holds below the diagonal); right: error/bound."""
    fig, (left, right) = subplots(1, 2, figsize=(10.0, 4.0), fig=fig)
    for name, color in (("l1", "C0"), ("log", "C3")):
        ts = [t for t in trials if t.penalty == name]
        if not ts:
            continue
        err = np.array([t.error for t in ts])
        bnd = np.array([t.bound for t in ts])
        pos = (err > 0) & (bnd > 0)
        left.loglog(bnd[pos], err[pos], ".", color=color, alpha=0.6, label=f"{name} ({len(ts)} trials)")
        right.hist([t.ratio for t in ts], bins=np.linspace(0, 1, 26), alpha=0.6, color=color, label=name)
    lo, hi = left.get_xlim()
    left.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="error = bound")
    left.axvline(0.5, color="k", lw=0.6, ls=":")
    left.set_xlabel("bound ‖Π_T(−∇L(m_ref) − λR'(m̂))‖ / γ")
    left.set_ylabel("‖m̂ − m_ref‖")
    left.legend(fontsize=8)
    right.set_xlabel("error / bound")
    right.set_ylabel("trials")
    right.legend(fontsize=8)
    return fig


#: earlier names (they clashed with :mod:`lottery_lab.plots.lottery`'s axes-returning functions)
accuracy_vs_density = accuracy_figure
mask_histogram = mask_histogram_figure

"""Figures of the theory demos: subset-sum coverage and thresholds, the gadget's trade-off, RVSM."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lottery_lab.theory.gadget import GadgetNet
from lottery_lab.theory.no_overlap import FixedPoint, RVSMResult
from lottery_lab.plots.axes import figure_axes, subplots
from lottery_lab.theory.subset_sum import CoverageResult, ThresholdFit, subset_sums

__all__ = [
    "coverage_curves", "threshold_fit", "distance_profile", "overparameterisation_vs_density",
    "convergence", "limit_vs_teacher", "tradeoff",
]

_PENALTY_STYLE = {"l0": dict(color="C3", marker="o"), "l1": dict(color="C0", marker="s"),
                  "tl1": dict(color="C2", marker="^")}


def coverage_curves(cov: CoverageResult, eps_values: list[float], q: float = 0.5,
                    ax: Axes | None = None) -> Figure:
    """Probability that every target in the interval is ε-approximable, against n, one curve per ε,
    with the threshold n* (probability q) marked."""
    fig, ax = figure_axes(ax)
    for i, eps in enumerate(eps_values):
        ax.plot(cov.n_values, cov.probability(eps), color=f"C{i}", marker=".", label=f"ε = {eps:g}")
        n_star = cov.threshold(eps, q)
        if np.isfinite(n_star):
            ax.axvline(n_star, color=f"C{i}", lw=0.8, ls=":")
    ax.axhline(q, color="k", lw=0.6, ls="--")
    what = "any subset" if cov.k is None else f"subsets of size k = {cov.k}"
    ax.set_title(f"{what}, targets in [{cov.lo:.3g}, {cov.hi:.3g}], {cov.sup_errors.shape[0]} trials")
    ax.set_xlabel("sample size n")
    ax.set_ylabel("P(every target is ε-approximable)")
    if cov.n_values[-1] / cov.n_values[0] > 20:
        ax.set_xscale("log")
    ax.legend(fontsize=8)
    return fig


def threshold_fit(fit: ThresholdFit, ax: Axes | None = None) -> Figure:
    """The law's two sides at each measured threshold, with the fits y = C·x and y = slope·x + b."""
    fig, ax = figure_axes(ax)
    rss = bool(np.all(fit.k == 0))
    ok = np.isfinite(fit.y)
    groups = [0] if rss else sorted(set(fit.k[ok].tolist()))
    for i, k in enumerate(groups):
        sel = ok & (fit.k == k)
        ax.plot(fit.x[sel], fit.y[sel], "o", color=f"C{i}", label=None if rss else f"k = {k}")
    xs = np.linspace(0, fit.x[ok].max() * 1.05, 50)
    ax.plot(xs, fit.C * xs, "k--", lw=1, label=f"y = {fit.C:.2f}·x")
    ax.plot(xs, fit.slope * xs + fit.intercept, "k-", lw=1,
            label=f"y = {fit.slope:.2f}·x + {fit.intercept:.2f}  (R² = {fit.r2:.3f})")
    if rss:
        ax.set_xlabel("log₂(1/ε)")
        ax.set_ylabel("threshold n*")
        ax.set_title(f"Random subset sum: n* at probability {fit.q:g}")
    else:
        ax.set_xlabel("log₂(k/ε)")
        ax.set_ylabel("n*·H₂(k/n*)")
        ax.set_title(f"Random fixed-size subset sum: n* at probability {fit.q:g}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return fig


def distance_profile(samples: np.ndarray, k: int | None, eps: float, ax: Axes | None = None,
                     points: int = 4001) -> Figure:
    """z ↦ distance from z to the nearest subset sum, over the target interval, against the level ε."""
    fig, ax = figure_axes(ax, (7.0, 3.2))
    half = 1.0 if k is None else float(np.sqrt(max(k, 1)))
    sums = subset_sums(samples, k)
    z = np.linspace(-half, half, points)
    j = np.clip(np.searchsorted(sums, z), 1, sums.size - 1)
    dist = np.minimum(np.abs(z - sums[j - 1]), np.abs(z - sums[j]))
    worst = float(dist.max())
    ax.fill_between(z, dist, color="C0", alpha=0.4, lw=0)
    ax.axhline(eps, color="C3", ls="--", label=f"ε = {eps:g}")
    ax.set_yscale("log")
    ax.set_ylim(max(dist[dist > 0].min() if np.any(dist > 0) else eps * 1e-3, eps * 1e-4), max(worst, eps) * 2)
    ax.set_xlabel("target z")
    ax.set_ylabel("min over subsets |z − Σ|")
    what = "any size" if k is None else f"size {k}"
    verdict = "every z is ε-approximable" if worst <= eps else "some z is not ε-approximable"
    ax.set_title(f"n = {len(samples)}, {what}: worst error {worst:.2g} → {verdict}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def _label_uncrowded(ax: Axes, ks, xs, ys, fontsize: float = 7) -> None:
    """Label curve points ``k=…`` where a label fits: one whose box (in points, at the final scales)
    would not overlap the last label drawn is drawn."""
    ax.autoscale_view()
    to_points = ax.transData + ax.figure.dpi_scale_trans.inverted()  # data -> inches
    last = None
    for k, x, y in zip(ks, xs, ys):
        px, py = 72 * to_points.transform((x, y))
        width, height = 0.62 * fontsize * len(f"k={k}"), fontsize   # a label's box, roughly, in points
        if last is None or abs(px - last[0]) > last[2] + 2 or abs(py - last[1]) > height + 2:
            ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=fontsize)
            last = (px, py, width)


def overparameterisation_vs_density(curve: dict, nets: list[GadgetNet] | None = None,
                                    errors: list[float] | None = None, eps: float | None = None,
                                    ax: Axes | None = None) -> Figure:
    """The law's overparameterisation against density (a curve in k), and built networks as points:
    filled where the measured error (``errors``, e.g. the sup over held-out inputs) is ≤ ε, hollow
    where it is not."""
    fig, ax = figure_axes(ax)
    ax.plot(curve["density"], curve["overparameterisation"], "k-", lw=1, label="law (fitted constant)")
    nets = nets or []
    errors = [0.0] * len(nets) if errors is None else errors
    for net, err in zip(nets, errors):
        ok = eps is None or err <= eps
        ax.plot(net.density, net.overparameterisation, "o", color="C3", mfc="C3" if ok else "none", ms=7)
    if nets:
        ax.plot([], [], "o", color="C3", label="pruned random network (hollow: error > ε)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _label_uncrowded(ax, curve["k"], curve["density"], curve["overparameterisation"])
    ax.set_xlabel("density of the pruned network")
    ax.set_ylabel("overparameterisation (random / target weights)")
    ax.set_title("Strong tickets: sparser subnetworks need wider random networks")
    ax.legend(fontsize=8)
    return fig


def convergence(results: dict[str, RVSMResult], axes: np.ndarray | None = None) -> Figure:
    """Per method: ℓ(u_t), the step max|w_{t+1} − w_t| and the fraction of zeros of u_t, all runs."""
    if axes is None:
        fig, axes = subplots(1, 3, figsize=(12.0, 3.6))
    fig = axes[0].figure
    for i, (name, res) in enumerate(results.items()):
        color = _PENALTY_STYLE.get(name.split()[0], {}).get("color", f"C{i + 4}")
        ls = ":" if "subgradient" in name else "-"
        for key, ax in zip(("loss_u", "step", "zeros_u"), axes):
            ax.plot(res.history[key], color=color, ls=ls, lw=0.8, alpha=0.7)
        axes[0].plot([], [], color=color, ls=ls, label=name)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("population loss ℓ(u_t)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("max |w_{t+1} − w_t|")
    axes[2].set_ylabel("fraction of zeros in u_t")
    for ax in axes:
        ax.set_xlabel("iteration t")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
    axes[0].legend(fontsize=8)
    return fig


def limit_vs_teacher(w_star: np.ndarray, res: RVSMResult, fp: FixedPoint | None = None,
                     title: str = "", ax: Axes | None = None) -> Figure:
    """Coordinates of the teacher w*, the RVSM limits ū (all runs) and the predicted limit."""
    fig, ax = figure_axes(ax, (7.0, 3.4))
    idx = np.arange(w_star.size)
    ax.bar(idx, w_star, color="0.85", label="teacher w*")
    for u in res.u:
        ax.plot(idx, u, "o", color="C0", ms=5, alpha=0.5, mfc="none")
    ax.plot([], [], "o", color="C0", mfc="none", label="RVSM limits ū (each init)")
    if fp is not None:
        ax.plot(idx, fp.u, "x", color="C3", ms=7, label="predicted by the reduced equations")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("coordinate i")
    ax.set_ylabel("weight")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def tradeoff(rows: list[dict], ax: Axes | None = None) -> Figure:
    """Population loss of the sparse limit ū against its fraction of zeros, one curve per penalty
    (points along the curve are the values of λ)."""
    fig, ax = figure_axes(ax)
    for name in dict.fromkeys(r["penalty"] for r in rows):
        rs = [r for r in rows if r["penalty"] == name]
        ax.plot([r["zeros"] for r in rs], [r["loss"] for r in rs], label=name, **_PENALTY_STYLE.get(name, {}))
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_xlabel("fraction of zero weights in ū")
    ax.set_ylabel("population loss ℓ(ū)")
    ax.set_title("Accuracy against sparsity as λ grows")
    ax.legend(fontsize=8)
    return fig

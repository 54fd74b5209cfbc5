"""Figures for lottery runs: accuracy against density, per-layer density, the relaxed mask before thresholding.

Every function takes plain data (result rows, a mask, a dict of densities), draws on ``ax`` (a new
figure when ``None``) and returns the axes, so notebooks, the book and the CLI share them.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from lottery_lab.plots.axes import density_axis, figure_axes
from lottery_lab.results import rows_of, summarize  # noqa: F401  (re-exported: they live in results)

__all__ = ["accuracy_vs_density", "result_curve", "layer_density", "mask_histogram", "rows_of", "summarize"]


def accuracy_vs_density(results: Any, ax=None, by: str = "method", y: str = "test_acc",
                        log_x: bool = True, title: str | None = None):
    """Test accuracy against density (fraction of prunable weights kept), one line per ``by`` value.

    Several seeds of the same method are averaged per round: the line is the mean, the band ± one
    std. The x axis runs from dense (1.0) on the left to sparse on the right, log-scaled by default.
    """
    _, ax = figure_axes(ax, figsize=(6, 4))
    summary = summarize(rows_of(results), by=by, y=y)
    for label, s in summary.items():
        seeds = int(s["n"].max())
        line, = ax.plot(s["density"], s["mean"], marker="o", ms=3,
                        label=f"{label} ({seeds} seeds)" if seeds > 1 else label)
        if seeds > 1:
            ax.fill_between(s["density"], s["mean"] - s["std"], s["mean"] + s["std"],
                            color=line.get_color(), alpha=0.2, lw=0)
    if log_x:
        density_axis(ax, [float(x) for s in summary.values() for x in s["density"]], ticks="data")
    else:
        if not ax.xaxis_inverted():
            ax.invert_xaxis()
        ax.set_xlabel("density (fraction of prunable weights kept)")
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def result_curve(result: Any, ax=None, label: str | None = None, **kw):
    """One run's test accuracy against density (and its reinit control, dashed, where it was run).

    ``result`` is a :class:`~lottery_lab.results.LotteryResult` (``.rows``, ``.config.method``);
    ``kw`` goes to ``ax.plot``. Returns the axes.
    """
    _, ax = figure_axes(ax, figsize=(6, 4))
    name = label or result.config.method
    d = [row["density"] for row in result.rows]
    line, = ax.plot(d, [row["test_acc"] for row in result.rows], marker="o", label=name, **kw)
    re = [(row["density"], row["reinit_acc"]) for row in result.rows if row.get("reinit_acc") is not None]
    if re:
        ax.plot(*zip(*re), marker="x", linestyle="--", color=line.get_color(), label=f"{name} (reinit)")
    density_axis(ax, d, ticks="data", label="density (fraction of weights kept)")
    ax.set_ylabel("test accuracy")
    ax.legend()
    return ax


def layer_density(densities: Mapping, ax=None, title: str | None = None, labels: Mapping[str, str] | None = None):
    """Bars of density per layer: ``{layer: density}``, ``{layer: mask tensor}``, or
    ``{label: {layer: density}}`` for grouped bars (e.g. one group per method).

    The bars are labelled by ``labels`` (parameter name → name, e.g. :func:`lottery_lab.masks.layer_names`
    of the model), else by the parameter names where they are names (``blocks.0.conv1``); a
    ``Sequential``'s indices (``1.weight``, ``3.weight``) become ``conv1``/``fc1``… from the masks'
    shapes when masks are given, else ``layer 1``, ``layer 2``, … in order.
    """
    groups = densities if all(isinstance(v, Mapping) for v in densities.values()) else {"": densities}
    shapes = {k: tuple(v.shape) for d in groups.values() for k, v in d.items() if hasattr(v, "shape")}
    groups = {g: {k: _density(v) for k, v in d.items()} for g, d in groups.items()}
    layers = list(dict.fromkeys(k for d in groups.values() for k in d))
    names = dict(labels) if labels is not None else _layer_labels(layers, shapes)
    _, ax = figure_axes(ax, figsize=(max(4, 0.9 * len(layers) + 2), 3.5))
    width = 0.8 / len(groups)
    x = np.arange(len(layers))
    for i, (label, d) in enumerate(groups.items()):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, [d.get(k, np.nan) for k in layers], width,
               label=label or None)
    ax.set_xticks(x, [names.get(k, k) for k in layers], rotation=45, ha="right")
    ax.set_ylabel("density (kept fraction)")
    ax.set_ylim(0, 1.05)
    if len(groups) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def _layer_labels(layers: list[str], shapes: Mapping[str, tuple]) -> dict[str, str]:
    """Bar labels for parameter names (see :func:`layer_density`)."""
    stems = {k: k.removesuffix(".weight") for k in layers}
    if all(any(c.isalpha() for c in stem) for stem in stems.values()):
        return stems
    if all(len(shapes.get(k, ())) in (2, 4) for k in layers):
        from lottery_lab._names import numbered

        return dict(zip(layers, numbered("conv" if len(shapes[k]) == 4 else "fc" for k in layers)))
    return {k: f"layer {i}" for i, k in enumerate(layers, 1)}


def _density(v: Any) -> float:
    if hasattr(v, "float") and hasattr(v, "numel"):
        return float((v != 0).float().mean())
    if isinstance(v, np.ndarray):
        return float((v != 0).mean())
    return float(v)


def mask_histogram(m: Any, alpha: float | None = None, ax=None, bins: int = 50, title: str | None = None):
    """Histogram of the relaxed mask values m ∈ [0, 1] (all layers pooled) before thresholding.

    ``alpha``, when given, is drawn as the threshold below which entries are pruned; a log count axis
    shows the thin middle between the mass at 0 and at 1.
    """
    values = np.concatenate([_flat(v) for v in m.values()]) if isinstance(m, Mapping) else _flat(m)
    _, ax = figure_axes(ax, figsize=(6, 3.5))
    ax.hist(values, bins=np.linspace(0, 1, bins + 1), color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("relaxed mask value m")
    ax.set_ylabel("count")
    if alpha is not None:
        kept = float((values >= alpha).mean())
        ax.axvline(alpha, color="tab:red", ls="--", label=f"α = {alpha:g}: keeps {kept:.1%}")
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def _flat(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().float().cpu().numpy()
    return np.asarray(v, dtype=float).ravel()


def mask_value_stats(m: Mapping[str, Any], alphas: Iterable[float] = (), edge: float = 0.01) -> dict[str, dict]:
    """Per layer (and ``"all"`` pooled): the entry count, the fraction kept at each α (m ≥ α), and how
    binary m is — the fractions at or below ``edge``, at or above 1 − ``edge``, and in between."""
    alphas = list(alphas)
    layers = {k: _flat(v) for k, v in m.items()}
    layers["all"] = np.concatenate(list(layers.values())) if layers else np.zeros(0)
    out = {}
    for k, v in layers.items():
        n = max(len(v), 1)
        out[k] = {"n": int(len(v)), "kept": {a: float((v >= a).sum() / n) for a in alphas},
                  "low": float((v <= edge).sum() / n), "high": float((v >= 1 - edge).sum() / n),
                  "middle": float(((v > edge) & (v < 1 - edge)).sum() / n)}
    return out


def mask_value_histograms(m: Mapping[str, Any], alpha: float | None = None, axes=None, bins: int = 40,
                          cols: int = 3, title: str | None = None):
    """One histogram of the relaxed mask m per layer (log count axis), before thresholding.

    Each panel names the layer and its size, and says how binary m is there (the share strictly
    between 0.01 and 0.99); ``alpha`` draws the threshold and the share of the layer it keeps, so a
    panel whose kept share is far from the others' shows where one global α cuts a layer unevenly.
    ``axes``: a sequence of at least ``len(m)`` axes (default: a new grid of ``cols`` columns).
    Returns the axes used.
    """
    import matplotlib.pyplot as plt

    if not isinstance(m, Mapping) or not m:
        raise ValueError("m must be a non-empty dict from layer name to mask values")
    stats = mask_value_stats(m, [alpha] if alpha is not None else [])
    names = list(m)
    if axes is None:
        rows = -(-len(names) // cols)
        _, grid = plt.subplots(rows, min(cols, len(names)), figsize=(3.2 * min(cols, len(names)), 2.6 * rows),
                               squeeze=False)
        axes = list(grid.ravel())
        for ax in axes[len(names):]:
            ax.set_visible(False)
    axes = list(axes)
    if len(axes) < len(names):
        raise ValueError(f"axes has {len(axes)} axes for {len(names)} layers")
    for ax, name in zip(axes, names):
        s = stats[name]
        ax.hist(_flat(m[name]), bins=np.linspace(0, 1, bins + 1), color="tab:blue", alpha=0.8)
        ax.set_yscale("log")
        label = f"{name.removesuffix('.weight')} ({s['n']:,})"
        ax.set_title(f"{label}\nin (0.01, 0.99): {s['middle']:.1%}", fontsize=9)
        if alpha is not None:
            ax.axvline(alpha, color="tab:red", ls="--", lw=1)
            ax.text(0.5, 0.92, f"m ≥ {alpha:g}: {s['kept'][alpha]:.1%}", transform=ax.transAxes, ha="center",
                    va="top", fontsize=8, color="tab:red")
        ax.set_xlabel("m", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        axes[0].figure.suptitle(title, fontsize=10)
    return axes[:len(names)]

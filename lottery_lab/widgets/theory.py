"""Explorers of the theory demos: subset sums (n, k, ε) and RVSM on the no-overlap CNN (λ, β, penalty)."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from IPython.display import HTML
from matplotlib.figure import Figure

from lottery_lab.plots.theory import convergence, distance_profile, limit_vs_teacher
from lottery_lab.theory import no_overlap
from lottery_lab.widgets._static import Control, g3, grid as _grid, precomputed_explorer, static_page

__all__ = ["subset_sum_explorer", "rvsm_explorer"]


def subset_sum_explorer(n: int = 12, k: int = 0, eps: float = 0.01, seed: int = 0) -> widgets.interactive | HTML:
    """Sliders for the sample size n, the subset size k (0: any size) and ε; draws n Uniform[−1, 1]
    samples and shows how far every target is from the nearest subset sum.

    Returns
    -------
    ipywidgets.interactive or IPython.display.HTML (precomputed figures where ``static_page()``: the book)
    """

    def figure(n: int, k: int, eps: float, seed: int) -> Figure:
        samples = np.random.default_rng(seed).uniform(-1, 1, n)
        return distance_profile(samples, None if k == 0 else min(k, n), eps)

    if static_page():  # the book: a coarse grid around the start, drawn now
        return precomputed_explorer(figure, [
            Control("n", sorted({6, 12, 20, n}), n),
            Control("k", sorted({0, 4, 7, k}), k, lambda v: str(v) if v else "any", "k"),
            Control("eps", _grid(eps, -3, -1, 1.0), eps, g3, "ε"),
            Control("seed", [seed, seed + 1], seed)],
            same=lambda n, k, eps, seed: (n, None if k == 0 else min(k, n), eps, seed), dpi=60)

    def draw(n: int, k: int, eps: float, seed: int) -> None:
        figure(n, k, eps, seed)
        plt.show()

    return widgets.interactive(
        draw,
        n=widgets.IntSlider(value=n, min=2, max=20, description="n"),
        k=widgets.IntSlider(value=k, min=0, max=10, description="k (0: any)"),
        eps=widgets.FloatLogSlider(value=eps, base=10, min=-4, max=-0.5, step=0.1, description="ε",
                                   readout_format=".2g"),
        seed=widgets.IntSlider(value=seed, min=0, max=50, description="seed"),
    )


def rvsm_explorer(w_star: np.ndarray, k: int = 4, lam: float = 0.05, beta: float = 0.5,
                  penalty: str = "l1", inits: int = 4) -> widgets.interactive | HTML:
    """Sliders for λ and β and a penalty menu; runs RVSM from ``inits`` random starts and shows the
    limits against the teacher and the prediction of the reduced equations (where they apply).

    Returns
    -------
    ipywidgets.interactive or IPython.display.HTML (precomputed figures where ``static_page()``: the book)
    """

    def figure(lam: float, beta: float, penalty: str) -> Figure:
        res = no_overlap.rvsm(w_star, k, penalty, lam, beta, inits=inits)
        try:
            fp = no_overlap.rvsm_fixed_point(w_star, k, penalty, lam, beta)
        except RuntimeError:
            fp = None
        fig = plt.figure(figsize=(12.0, 6.4), layout="constrained")
        top, bottom = fig.subfigures(2, 1)
        zeros = float(np.mean(res.u == 0))
        limit_vs_teacher(w_star, res, fp, ax=top.subplots(),
                         title=f"{penalty}, λ = {lam:.2g}, β = {beta:.2g}: {zeros:.0%} zeros, "
                               f"{res.n_iter} iterations")
        convergence({penalty: res}, axes=bottom.subplots(1, 3))
        return fig

    if static_page():  # the book: λ by decades, β ×/÷ 3 around the start, drawn now
        return precomputed_explorer(figure, [
            Control("lam", _grid(lam, -3, -1, 1.0), lam, g3, "λ"),
            Control("beta", sorted({beta / 3, beta, beta * 3}), beta, g3, "β"),
            Control("penalty", ["l0", "l1", "tl1"], penalty)], dpi=55)

    def draw(lam: float, beta: float, penalty: str) -> None:
        figure(lam, beta, penalty)
        plt.show()

    return widgets.interactive(
        draw,
        lam=widgets.FloatLogSlider(value=lam, base=10, min=-3, max=0, step=0.05, description="λ",
                                   readout_format=".2g"),
        beta=widgets.FloatLogSlider(value=beta, base=10, min=-1.5, max=0.5, step=0.05, description="β",
                                    readout_format=".2g"),
        penalty=widgets.Dropdown(options=["l0", "l1", "tl1"], value=penalty, description="penalty"),
    )

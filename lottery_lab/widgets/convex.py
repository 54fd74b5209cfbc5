"""Explorer of the mask problem: move λ, ε and the penalty, see the mask histogram and the bound move."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from lottery_lab import penalties
from lottery_lab.convex import MaskProblem, mask_error_bound, solve_pgd
from lottery_lab.plots.convex import mask_histogram
from lottery_lab.widgets._static import Control, g3, grid as _grid, precomputed_explorer, static_page

__all__ = ["mask_explorer"]


def mask_explorer(prob: MaskProblem, m_ref: np.ndarray, *, lam: float = 1e-2, eps: float = 0.05,
                  penalty: str = "log", alpha: float = 0.5) -> widgets.interactive | HTML:
    """Sliders for λ and ε and a penalty menu; each change re-solves and redraws.

    Parameters
    ----------
    prob : MaskProblem
        The problem (ideally small: every change runs :func:`solve_pgd`).
    m_ref : array of shape (d,)
        The binary reference mask the bound is about (e.g. a synthetic model's true mask).
    lam, eps : float
        Starting λ and ε (ε only matters for the log penalty).
    penalty : {"log", "l1"}
        Starting penalty.
    alpha : float
        Threshold of the corollary, drawn as a dashed line.

    Returns
    -------
    ipywidgets.interactive or IPython.display.HTML
        Display it (it is the last expression of a notebook cell, or pass it to ``display``). Where
        :func:`~lottery_lab.widgets._static.static_page` (the book build), the figures of a grid of
        values drawn now, chosen by the page's controls without a kernel.
    """

    def figure(lam: float, eps: float, penalty: str):
        P = penalties.get("log", eps=eps) if penalty == "log" else penalties.get("l1")
        m_hat = solve_pgd(prob, P, lam).m
        bound = mask_error_bound(prob, P, lam, m_ref, m_hat, alpha=alpha)
        fig = mask_histogram(m_hat, m_ref, alpha, bound)
        fig.axes[0].set_title(f"{penalty}, λ = {lam:.2g}" + (f", ε = {eps:.2g}" if penalty == "log" else ""))
        return fig

    if static_page():  # the book: a grid of λ (half decades) and ε (decades) around the start, drawn now
        return precomputed_explorer(figure, [
            Control("lam", _grid(lam, -4, 0, 0.5), lam, g3, "λ"),
            Control("eps", _grid(eps, -3, 0, 1.0), eps, g3, "ε"),
            Control("penalty", ["log", "l1"], penalty)],
            same=lambda lam, eps, penalty: (lam, eps if penalty == "log" else None, penalty))

    def draw(lam: float, eps: float, penalty: str) -> None:
        figure(lam, eps, penalty)
        plt.show()

    return widgets.interactive(
        draw,
        lam=widgets.FloatLogSlider(value=lam, base=10, min=-4, max=0, step=0.05, description="λ",
                                   readout_format=".2g"),
        eps=widgets.FloatLogSlider(value=eps, base=10, min=-3, max=1, step=0.05, description="ε",
                                   readout_format=".2g"),
        penalty=widgets.Dropdown(options=["log", "l1"], value=penalty, description="penalty"),
    )

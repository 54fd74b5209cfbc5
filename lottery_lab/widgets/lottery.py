"""Explorer of the concave lottery: choose λ, α, the penalty and the rounds, play, see what changed.

A lottery run takes seconds to minutes, so nothing runs while sliders move: the *Play* button plays
the concave lottery with the chosen settings (through :func:`lottery_lab.lottery.play`, so runs with
an ``out_dir`` are stored and a repeat is read back from disk) and redraws three panels. In a static
page (the book, :func:`~lottery_lab.widgets._static.static_page`) the runs of a small grid of settings
are played when the notebook executes and the page's controls choose among their panels.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import HTML
from matplotlib.figure import Figure

from lottery_lab import penalties
from lottery_lab.plots.lottery import accuracy_vs_density, layer_density, mask_histogram
from lottery_lab.results import count
from lottery_lab.widgets._static import Control, g3, grid as _grid, precomputed_explorer, static_page

__all__ = ["lottery_explorer"]


def _panels(result: Any, baselines: list | None, alpha: float) -> Figure:
    """Accuracy against density (beside the baselines), the last ticket's density per layer and its
    mask values before thresholding."""
    last = len(result.rows) - 1
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    accuracy_vs_density([*(baselines or []), result], ax=axes[0])
    layer_density(result.layer_densities[last], ax=axes[1], title=f"ticket of round {last}")
    m = result.scores(last)
    if m is not None:
        mask_histogram(m, alpha=alpha, ax=axes[2], title=f"m before thresholding, round {last}")
    else:
        axes[2].set_axis_off()
    fig.tight_layout()
    return fig


def _summary(result: Any) -> str:
    return (f"final density {result.rows[-1]['density']:.2%}, test accuracy "
            f"{result.rows[-1]['test_acc']:.2%}")


def _static(lam: float, alpha: float, penalty: str, rounds: int, baselines: list | None,
            base_kw: dict, config: dict, values: Mapping[str, Sequence] | None) -> HTML:
    """The explorer for a static page: every run of the grid played now (their dense round shared,
    through :func:`lottery_lab.sweep.run`), the panels of every round count drawn from the stored runs."""
    from lottery_lab import sweep
    from lottery_lab.lottery import LotteryConfig, play

    values = dict(values or {})
    unknown = sorted(set(values) - {"lam", "alpha", "penalty"})
    if unknown:
        raise ValueError(f"static_values: unknown control(s) {', '.join(unknown)}; known: lam, alpha, penalty")
    controls = [Control("lam", values.get("lam", _grid(lam, -5, -3, 1.0)), lam, g3, "λ"),
                Control("alpha", values.get("alpha", sorted({0.2, 0.5, 0.8, alpha})), alpha, g3, "α"),
                Control("penalty", values.get("penalty", list(dict.fromkeys([penalty, "log", "l1"]))), penalty),
                Control("rounds", list(range(1, rounds + 1)), rounds)]
    out_dir = config.pop("out_dir", "runs")
    with nullcontext(out_dir) if out_dir is not None else tempfile.TemporaryDirectory(
            prefix="lottery_explorer_") as where:
        def cfg(lam: float, alpha: float, penalty: str, rounds: int) -> LotteryConfig:
            kw = {**base_kw, "lam": lam, "alpha": alpha, "penalty": penalty}
            return LotteryConfig(method="concave", method_kw=kw, rounds=rounds, out_dir=where, **config)

        sweep.run([cfg(a, b, c, rounds) for a in controls[0].values for b in controls[1].values
                   for c in controls[2].values], progress=False)

        def figure(lam: float, alpha: float, penalty: str, rounds: int) -> Figure:
            result = play(cfg(lam, alpha, penalty, rounds))  # read back: its rounds are on disk
            fig = _panels(result, baselines, alpha)
            fig.suptitle(f"{penalty}, λ = {lam:.3g}, α = {alpha:.3g}, {count(rounds, 'round')}: {_summary(result)}",
                         y=1.02)
            return fig

        return precomputed_explorer(figure, controls, dpi=60)


def lottery_explorer(*, lam: float = 2e-5, alpha: float = 0.5, penalty: str = "log", rounds: int = 2,
                     baselines: list | None = None, play_now: bool = False,
                     static_values: Mapping[str, Sequence] | None = None, **config: Any) -> widgets.VBox | HTML:
    """λ (log slider), α, penalty and rounds controls with a *Play* button and the result panels.

    Parameters
    ----------
    lam, alpha, penalty, rounds : the starting values of the controls (the concave method's ``lam``,
        ``alpha`` and ``penalty``; the number of pruning rounds).
    baselines : results (e.g. IMP and random runs) drawn beside each concave run for comparison.
    play_now : play once with the starting values before returning.
    static_values : where static (below), other values for the ``"lam"``, ``"alpha"`` or ``"penalty"``
        control (each must hold the starting value); every combination is played.
    **config : other :class:`~lottery_lab.lottery.LotteryConfig` fields for every run (``data``,
        ``model``, ``epochs``, ``data_kw``, ``out_dir``, other ``method_kw`` entries as
        ``method_kw={...}`` …).

    Returns
    -------
    ipywidgets.VBox or IPython.display.HTML
        Display it (make it the last expression of a notebook cell). Where
        :func:`~lottery_lab.widgets._static.static_page` (the book): the panels of a grid of λ (decades
        from 1e-5 to 1e-3 and the start), α (0.2, 0.5, 0.8 and the start), the starting penalty, log and
        l1, and 1 … ``rounds`` rounds, played now and chosen by the page's controls without a kernel.
    """
    from lottery_lab.lottery import LotteryConfig, play

    base_kw = dict(config.pop("method_kw", {}))
    config.setdefault("progress", False)
    if static_page():
        return _static(lam, alpha, penalty, rounds, baselines, base_kw, config, static_values)

    controls = {
        "lam": widgets.FloatLogSlider(value=lam, base=10, min=-6, max=-3, step=0.1, description="λ",
                                      readout_format=".1e"),
        "alpha": widgets.FloatSlider(value=alpha, min=0.05, max=0.95, step=0.05, description="α"),
        "penalty": widgets.Dropdown(options=penalties.names(), value=penalty, description="penalty"),
        "rounds": widgets.IntSlider(value=rounds, min=1, max=8, description="rounds"),
    }
    button = widgets.Button(description="Play", button_style="primary", icon="play")
    status = widgets.HTML()
    out = widgets.Output()

    def run(_=None) -> None:
        kw = {**base_kw, "lam": controls["lam"].value, "alpha": controls["alpha"].value,
              "penalty": controls["penalty"].value}
        n = controls["rounds"].value
        shown = ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}" for k, v in kw.items())
        status.value = f"playing {count(n, 'round')} with {shown} …"
        try:
            cfg = LotteryConfig(method="concave", method_kw=kw, rounds=controls["rounds"].value, **config)
            result = play(cfg)
        except (ValueError, TypeError) as exc:
            status.value = f"<b>error:</b> {exc}"
            return
        status.value = _summary(result)
        with out:
            out.clear_output(wait=True)
            _panels(result, baselines, kw["alpha"])
            plt.show()

    button.on_click(run)
    if play_now:
        run()
    return widgets.VBox([widgets.HBox([controls["lam"], controls["alpha"]]),
                         widgets.HBox([controls["penalty"], controls["rounds"], button]), status, out])

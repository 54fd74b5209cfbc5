"""Explorer of the concave lottery: choose λ, α, the penalty and the rounds, play, see what changed.

A lottery run takes seconds to minutes, so nothing runs while sliders move: the *Play* button plays
the concave lottery with the chosen settings (through :func:`lottery_lab.lottery.play`, so runs with
an ``out_dir`` are stored and a repeat is read back from disk) and redraws three panels.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt

from lottery_lab import penalties
from lottery_lab.plots.lottery import accuracy_vs_density, layer_density, mask_histogram

__all__ = ["lottery_explorer"]


def lottery_explorer(*, lam: float = 2e-5, alpha: float = 0.5, penalty: str = "log", rounds: int = 2,
                     baselines: list | None = None, play_now: bool = False, **config: Any) -> widgets.VBox:
    """λ (log slider), α, penalty and rounds controls with a *Play* button and the result panels.

    Parameters
    ----------
    lam, alpha, penalty, rounds : the starting values of the controls (the concave method's ``lam``,
        ``alpha`` and ``penalty``; the number of pruning rounds).
    baselines : results (e.g. IMP and random runs) drawn beside each concave run for comparison.
    play_now : play once with the starting values before returning (so a static page shows panels).
    **config : other :class:`~lottery_lab.lottery.LotteryConfig` fields for every run (``data``,
        ``model``, ``epochs``, ``data_kw``, ``out_dir``, other ``method_kw`` entries as
        ``method_kw={...}`` …).

    Returns
    -------
    ipywidgets.VBox
        Display it (make it the last expression of a notebook cell).
    """
    from lottery_lab.lottery import LotteryConfig, play

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
    base_kw = dict(config.pop("method_kw", {}))
    config.setdefault("progress", False)

    def run(_=None) -> None:
        kw = {**base_kw, "lam": controls["lam"].value, "alpha": controls["alpha"].value,
              "penalty": controls["penalty"].value}
        n = controls["rounds"].value
        shown = ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}" for k, v in kw.items())
        status.value = f"playing {n} round{'s' if n != 1 else ''} with {shown} …"
        try:
            cfg = LotteryConfig(method="concave", method_kw=kw, rounds=controls["rounds"].value, **config)
            result = play(cfg)
        except (ValueError, TypeError) as exc:
            status.value = f"<b>error:</b> {exc}"
            return
        last = len(result.rows) - 1
        status.value = (f"final density {result.rows[-1]['density']:.2%}, test accuracy "
                        f"{result.rows[-1]['test_acc']:.2%}")
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
            accuracy_vs_density([*(baselines or []), result], ax=axes[0])
            layer_density(result.layer_densities[last], ax=axes[1], title=f"ticket of round {last}")
            m = result.scores(last)
            if m is not None:
                mask_histogram(m, alpha=kw["alpha"], ax=axes[2], title=f"m before thresholding, round {last}")
            else:
                axes[2].set_axis_off()
            fig.tight_layout()
            plt.show()

    button.on_click(run)
    if play_now:
        run()
    return widgets.VBox([widgets.HBox([controls["lam"], controls["alpha"]]),
                         widgets.HBox([controls["penalty"], controls["rounds"], button]), status, out])

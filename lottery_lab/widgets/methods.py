"""Explorer of the related methods: choose a method and a target density, play it the way it reaches
densities (:func:`lottery_lab.compare.play_to`), see where it landed.

Nothing runs while the controls move: the *Play* button plays (runs with an ``out_dir`` are stored, so
a repeat is read back from disk) and redraws two panels: test accuracy against density over the run's
rounds with the target marked, and the chosen ticket's density per layer.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt

from lottery_lab import methods
from lottery_lab.plots.lottery import accuracy_vs_density, layer_density

__all__ = ["method_explorer"]


def method_explorer(*, method: str = "l0", target: float = 0.1, seed: int = 0, play_now: bool = False,
                    **config: Any) -> widgets.VBox:
    """A method dropdown, a target-density slider and a *Play* button above the result panels.

    Parameters
    ----------
    method, target, seed : the starting values of the controls.
    play_now : play once with the starting values before returning (so a static page shows panels).
    **config : other :class:`~lottery_lab.lottery.LotteryConfig` fields for every run (``data``,
        ``model``, ``epochs``, ``out_dir`` …); ``method_kw={...}`` adds fixed arguments to the method.

    Returns
    -------
    ipywidgets.VBox
        Display it (make it the last expression of a notebook cell).
    """
    from lottery_lab.compare import play_to, recipe_for

    controls = {
        "method": widgets.Dropdown(options=methods.names(), value=method, description="method"),
        "target": widgets.FloatLogSlider(value=target, base=10, min=-2, max=-0.3, step=0.05,
                                         description="target", readout_format=".1%"),
        "seed": widgets.IntText(value=seed, description="seed", layout=widgets.Layout(width="160px")),
    }
    button = widgets.Button(description="Play", button_style="primary", icon="play")
    recipe = widgets.HTML()
    status = widgets.HTML()
    out = widgets.Output()
    config.setdefault("progress", False)

    def describe(_=None) -> None:
        recipe.value = f"<i>how {controls['method'].value} reaches a density:</i> " \
                       f"{recipe_for(controls['method'].value).describe()}"

    def run(_=None) -> None:
        name, t = controls["method"].value, controls["target"].value
        status.value = f"playing {name} towards {t:.1%} …"
        try:
            result, r = play_to(name, t, seed=controls["seed"].value, **config)
        except (ValueError, TypeError) as exc:
            status.value = f"<b>error:</b> {exc}"
            return
        row = result.rows[r]
        status.value = (f"{name}: round {r} of {len(result.rows) - 1}, density {row['density']:.2%} "
                        f"(target {t:.1%}), test accuracy {row['test_acc']:.2%} "
                        f"(dense {result.rows[0]['test_acc']:.2%})")
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
            accuracy_vs_density(result, ax=axes[0], title=f"{name}, seed {controls['seed'].value}")
            axes[0].axvline(t, color="tab:red", ls=":", label=f"target {t:.1%}")
            axes[0].plot([row["density"]], [row["test_acc"]], "r*", ms=12, label=f"round {r}")
            axes[0].legend()
            layer_density(result.layer_densities[r], ax=axes[1], title=f"ticket of round {r}")
            fig.tight_layout()
            plt.show()

    controls["method"].observe(describe, names="value")
    button.on_click(run)
    describe()
    if play_now:
        run()
    return widgets.VBox([widgets.HBox([controls["method"], controls["target"], controls["seed"], button]),
                         recipe, status, out])

"""Explorer of the related methods: choose a method and a target density, play it the way it reaches
densities (:func:`lottery_lab.compare.play_to`), see where it landed.

Nothing runs while the controls move: the *Play* button plays (runs with an ``out_dir`` are stored, so
a repeat is read back from disk) and redraws two panels: test accuracy against density over the run's
rounds with the target marked, and the chosen ticket's density per layer. In a static page (the book,
:func:`~lottery_lab.widgets._static.static_page`) every method is played to a few targets when the
notebook executes and the page's controls choose among their panels.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from typing import Any, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import HTML
from matplotlib.figure import Figure

from lottery_lab import methods
from lottery_lab.plots.lottery import accuracy_vs_density, layer_density
from lottery_lab.widgets._static import Control, precomputed_explorer, static_page

__all__ = ["method_explorer"]


def _panels(name: str, target: float, seed: int, result: Any, r: int) -> Figure:
    """Accuracy against density over the run's rounds (target and chosen round marked), and the chosen
    ticket's density per layer."""
    row = result.rows[r]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    accuracy_vs_density(result, ax=axes[0], title=f"{name}, seed {seed}")
    axes[0].axvline(target, color="tab:red", ls=":", label=f"target {target:.1%}")
    axes[0].plot([row["density"]], [row["test_acc"]], "r*", ms=12, label=f"round {r}")
    axes[0].legend()
    layer_density(result.layer_densities[r], ax=axes[1], title=f"ticket of round {r}")
    fig.tight_layout()
    return fig


def _summary(name: str, target: float, result: Any, r: int) -> str:
    row = result.rows[r]
    return (f"{name}: round {r} of {len(result.rows) - 1}, density {row['density']:.2%} "
            f"(target {target:.1%}), test accuracy {row['test_acc']:.2%} "
            f"(dense {result.rows[0]['test_acc']:.2%})")


def _static(method: str, target: float, seed: int, targets: Sequence[float], names: Sequence[str] | None,
            config: dict) -> HTML:
    """The explorer for a static page: every method played to every target now (through
    :func:`lottery_lab.compare.compare`, the dense round shared), the panels drawn from the stored runs."""
    from lottery_lab.compare import compare, play_to, recipe_for

    values = sorted({*targets, target}, reverse=True)
    names = list(methods.names() if names is None else names)
    controls = [Control("method", names, method),
                Control("target", values, target, lambda t: f"{t:.1%}", "target density")]
    out_dir = config.pop("out_dir", "runs")
    config.pop("progress", None)
    kw = dict(config.pop("method_kw", None) or {})
    with nullcontext(out_dir) if out_dir is not None else tempfile.TemporaryDirectory(
            prefix="method_explorer_") as where:
        compare(names, targets=values, seeds=(seed,), out_dir=where, progress=False,
                method_kw={m: kw for m in names} if kw else None, **config)

        def figure(method: str, target: float) -> Figure:
            result, r = play_to(method, target, seed=seed, out_dir=where, progress=False, method_kw=kw or None,
                                **config)  # read back: compare stored it
            fig = _panels(method, target, seed, result, r)
            fig.suptitle(f"{_summary(method, target, result, r)}\nhow {method} reaches a density: "
                         f"{recipe_for(method).describe()}", y=1.08)
            return fig

        return precomputed_explorer(figure, controls, dpi=60)


def method_explorer(*, method: str = "l0", target: float = 0.1, seed: int = 0, play_now: bool = False,
                    targets: Sequence[float] = (0.2, 0.1, 0.05), static_methods: Sequence[str] | None = None,
                    **config: Any) -> widgets.VBox | HTML:
    """A method dropdown, a target-density slider and a *Play* button above the result panels.

    Parameters
    ----------
    method, target, seed : the starting values of the controls.
    play_now : play once with the starting values before returning.
    targets : where :func:`~lottery_lab.widgets._static.static_page` (the book), the target densities
        offered (with ``target``): every method is played to each of them now, for ``seed``.
    static_methods : where static, the methods offered (default: every registered method).
    **config : other :class:`~lottery_lab.lottery.LotteryConfig` fields for every run (``data``,
        ``model``, ``epochs``, ``out_dir`` …); ``method_kw={...}`` adds fixed arguments to the method.

    Returns
    -------
    ipywidgets.VBox or IPython.display.HTML
        Display it (make it the last expression of a notebook cell); the HTML (static page) holds the
        panels of every method and target, chosen by the page's controls without a kernel.
    """
    from lottery_lab.compare import play_to, recipe_for

    if static_page():
        return _static(method, target, seed, targets, static_methods, config)
    controls = {
        "method": widgets.Dropdown(options=methods.names(), value=method, description="method"),
        "target": widgets.FloatLogSlider(value=target, base=10, min=-2, max=-0.3, step=0.05,
                                         description="target", readout_format=".1%",
                                         layout=widgets.Layout(width="320px", min_width="240px")),
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
        status.value = _summary(name, t, result, r)
        with out:
            out.clear_output(wait=True)
            _panels(name, t, controls["seed"].value, result, r)
            plt.show()

    controls["method"].observe(describe, names="value")
    button.on_click(run)
    describe()
    if play_now:
        run()
    return widgets.VBox([widgets.HBox([controls["method"], controls["target"], controls["seed"], button],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         recipe, status, out])

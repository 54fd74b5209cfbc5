"""Iterative magnitude pruning (Frankle & Carbin, 2019): prune the smallest trained weights, globally."""

from __future__ import annotations

from torch import nn

from lottery_lab.methods.recipe import HALVING
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, Method, Search, check_fraction, check_option, prune_lowest, register

#: Which layers leave the global ranking, by name: layer → its own per-round fraction, as a multiple
#: of ``prune_fraction`` ("output" is the model's last prunable layer).
#:
#: - ``global``: lottery_lab's default, every layer in one global ranking (OpenLTH's ResNet-20 setting);
#: - ``open_lth``: the output layer is never pruned (OpenLTH's ``pruning_layers_to_ignore='fc.weight'``
#:   for LeNet and VGG, ``models/mnist_lenet.py``, ``models/cifar_vgg.py``);
#: - ``frankle_carbin``: the output layer at half the rate (Frankle & Carbin 2019, LeNet and Conv-N).
SCHEMES: dict[str, dict[str, float]] = {
    "global": {},
    "open_lth": {"output": 0.0},
    "frankle_carbin": {"output": 0.5},
}


@register
class IMP(Method):
    """Global magnitude pruning of the trained ticket: each round drops ``prune_fraction`` of the
    weights still kept, those of smallest |θ| across all layers, so density after r rounds is
    (1 − p)^r (to the nearest weight).

    Layers given their own rate (by ``scheme`` or ``layer_rates``) lose that fraction of their own
    kept weights, smallest |θ| first; the rest of the round's count, round(p · all kept weights),
    comes from the other layers by one global ranking. The network's density so keeps the (1 − p)^r
    schedule in every scheme (as OpenLTH, which counts ignored layers in the total it prunes).

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    scheme : a :data:`SCHEMES` name: ``"global"`` (default), ``"open_lth"`` (output layer never
        pruned) or ``"frankle_carbin"`` (output layer at half the rate).
    layer_rates : per-layer fractions of that layer's kept weights pruned per round, in [0, 1)
        (0: never pruned), by parameter name or ``"output"``; they override the scheme's.
    """

    name = "imp"
    recipes = (HALVING,)  # how compare reaches a density
    hash_baseline = {"prune_fraction": 0.2, "scheme": "global", "layer_rates": None}

    def __init__(self, prune_fraction: float = 0.2, scheme: str = "global",
                 layer_rates: dict[str, float] | None = None):
        self.prune_fraction = check_fraction("prune_fraction", prune_fraction)
        self.scheme = check_option("scheme", scheme, SCHEMES)
        if layer_rates is not None:
            if not isinstance(layer_rates, dict) or not all(isinstance(k, str) for k in layer_rates):
                raise TypeError(f"layer_rates={layer_rates!r} must be a dict from layer name (or 'output') "
                                f"to a fraction")
            for k, v in layer_rates.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                    raise ValueError(f"layer_rates[{k!r}]={v!r} must lie in [0, 1)")
            layer_rates = {k: float(v) for k, v in layer_rates.items()}
        self.layer_rates = layer_rates

    def rates(self, mask: Mask) -> dict[str, float]:
        """Each layer with its own rate (fraction of its kept weights pruned per round), by name."""
        names = list(mask)
        given: dict[str, float] = {k: f * self.prune_fraction for k, f in SCHEMES[self.scheme].items()}
        given.update(self.layer_rates or {})
        unknown = sorted(set(given) - set(names) - {"output"})
        if unknown:
            raise ValueError(f"layer_rates names {', '.join(unknown)}: not layers of this mask "
                             f"({', '.join(names)} or 'output')")
        out = {k: v for k, v in given.items() if k != "output"}
        if "output" in given and names:
            out.setdefault(names[-1], given["output"])
        return out

    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        params = dict(model.named_parameters())
        scores = {n: params[n].abs() for n in mask}
        own = self.rates(mask)
        if not own:
            return prune_lowest(scores, mask, self.prune_fraction)
        out = {n: m.bool().clone() for n, m in mask.items()}
        kept = {n: int(mask[n].sum()) for n in mask}
        n_total = round(self.prune_fraction * sum(kept.values()))
        n_own = 0
        for n, rate in own.items():
            n_layer = round(rate * kept[n])
            if n_layer >= 1 and kept[n] > 1:
                out.update(prune_lowest({n: scores[n]}, {n: mask[n]}, n_layer / kept[n]))
                n_own += min(n_layer, kept[n] - 1)
        rest = [n for n in mask if n not in own]
        alive = sum(kept[n] for n in rest)
        n_rest = n_total - n_own
        if rest and n_rest >= 1 and alive > 1:
            out.update(prune_lowest({n: scores[n] for n in rest}, {n: mask[n] for n in rest}, n_rest / alive))
        return out

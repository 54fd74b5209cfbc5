"""Iterative magnitude pruning (Frankle & Carbin, 2019): prune the smallest trained weights, globally."""

from __future__ import annotations

from torch import nn

from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, Method, Search, check_fraction, prune_lowest, register


@register
class IMP(Method):
    """Global magnitude pruning of the trained ticket: each round drops ``prune_fraction`` of the
    weights still kept, those of smallest |θ| across all layers, so density after r rounds is
    (1 − p)^r (to the nearest weight).

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    """

    name = "imp"
    hash_baseline = {"prune_fraction": 0.2}

    def __init__(self, prune_fraction: float = 0.2):
        self.prune_fraction = check_fraction("prune_fraction", prune_fraction)

    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        params = dict(model.named_parameters())
        return prune_lowest({n: params[n].abs() for n in mask}, mask, self.prune_fraction)

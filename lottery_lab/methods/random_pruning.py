"""Random pruning to IMP's densities: the control a real method has to beat."""

from __future__ import annotations

import torch
from torch import nn

from lottery_lab.methods.recipe import HALVING
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, Method, Search, check_fraction, prune_lowest, register


@register
class RandomPruning(Method):
    """Each round drops ``prune_fraction`` of the kept weights uniformly at random over all layers —
    the same count IMP drops, so the densities match IMP's round by round. The draw comes from the
    round's generator (seeded from the run's seed and the round).

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    """

    name = "random"
    recipes = (HALVING,)  # how compare reaches a density
    hash_baseline = {"prune_fraction": 0.2}

    def __init__(self, prune_fraction: float = 0.2):
        self.prune_fraction = check_fraction("prune_fraction", prune_fraction)

    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        scores = {n: torch.rand(m.shape, generator=ctx.generator).to(m.device) for n, m in mask.items()}
        return prune_lowest(scores, mask, self.prune_fraction)

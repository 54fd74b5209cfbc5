"""``magnitude_init``: prune the smallest weights of the initialisation θ₀ (one shot, no training)."""

from __future__ import annotations

import torch
from torch import nn

from lottery_lab.methods.recipe import ONE_SHOT
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, register
from lottery_lab.methods.saliency import PruneAtInit, magnitude_scores


@register
class MagnitudeInit(PruneAtInit):
    """Global magnitude pruning of θ_k: a baseline for what training adds to IMP's scores.

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    """

    name = "magnitude_init"
    recipes = (ONE_SHOT,)  # how compare reaches a density
    hash_baseline = {"prune_fraction": 0.2}

    def scores_at_init(self, net: nn.Module, mask: Mask, ctx: Context) -> dict[str, torch.Tensor]:
        return magnitude_scores(net, list(mask))

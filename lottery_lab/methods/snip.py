"""``snip``: connection sensitivity at initialisation (Lee, Ajanthan & Torr 2019)."""

from __future__ import annotations

import torch
from torch import nn

from lottery_lab.methods.recipe import ONE_SHOT
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, check_count, check_option, register
from lottery_lab.methods.saliency import SNIP_MODES, PruneAtInit, snip_scores


@register
class SNIP(PruneAtInit):
    """Prune the kept weights of θ_k with the lowest |∂L/∂w ⊙ w| on one random training batch.

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    batch_size : examples in the scoring batch (drawn with the round's generator), ≥ 1.
    mode : the mode the network scores in: ``"eval"`` (the Synaptic-Flow reference's: BatchNorm
        normalises with θ_k's running statistics) or ``"train"`` (with the batch's statistics). Only
        networks with BatchNorm (or dropout) see a difference: on ResNet-20 the masks differed in
        1,991 of 16,972 weights, on VGG-11 in 47,035 of 577,712.
    """

    name = "snip"
    recipes = (ONE_SHOT,)  # how compare reaches a density
    hash_baseline = {"prune_fraction": 0.2, "batch_size": 256}

    def __init__(self, prune_fraction: float = 0.2, batch_size: int = 256, mode: str = "eval"):
        super().__init__(prune_fraction)
        self.batch_size = check_count("batch_size", batch_size)
        self.mode = check_option("mode", mode, SNIP_MODES)

    def scores_at_init(self, net: nn.Module, mask: Mask, ctx: Context) -> dict[str, torch.Tensor]:
        if ctx.data is None:
            raise ValueError("snip scores on training data: the context needs data")
        X, y = ctx.data.X_train, ctx.data.y_train
        idx = torch.randperm(len(X), generator=ctx.generator)[: self.batch_size].to(X.device)
        return snip_scores(net, list(mask), X[idx], y[idx], self.mode)

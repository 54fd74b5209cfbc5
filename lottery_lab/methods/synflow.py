"""``synflow``: iterative synaptic-flow pruning at initialisation, data-free (Tanaka et al. 2020)."""

from __future__ import annotations

import torch
from torch import nn

from lottery_lab.methods.recipe import ONE_SHOT
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, Search, check_count, prune_lowest, register
from lottery_lab.methods.saliency import PruneAtInit, synflow_scores


@register
class SynFlow(PruneAtInit):
    """Each round reaches (1 − p)·density in ``iterations`` steps of equal ratio, re-scoring
    (∂R/∂w) ⊙ w under the current mask at each step, as SynFlow's iterative schedule does.

    Parameters
    ----------
    prune_fraction : fraction of the remaining weights pruned per round, in (0, 1).
    iterations : scoring/pruning steps per round, ≥ 1.
    """

    name = "synflow"
    recipes = (ONE_SHOT,)  # how compare reaches a density
    hash_baseline = {"prune_fraction": 0.2, "iterations": 20}

    def __init__(self, prune_fraction: float = 0.2, iterations: int = 20):
        super().__init__(prune_fraction)
        self.iterations = check_count("iterations", iterations)

    def scores_at_init(self, net: nn.Module, mask: Mask, ctx: Context) -> dict[str, torch.Tensor]:
        input_shape = tuple(ctx.data.input_shape) if ctx.data is not None else None
        if input_shape is None:
            raise ValueError("synflow needs the input shape: the context needs data")
        return synflow_scores(net, list(mask), input_shape, masks=mask)

    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        net = self._net_at_init(model, mask, ctx)
        kept0 = sum(int(m.sum()) for m in mask.values())
        target = round((1 - self.prune_fraction) * kept0)
        for i in range(1, self.iterations + 1):
            kept = sum(int(m.sum()) for m in mask.values())
            goal = round(kept0 * (target / kept0) ** (i / self.iterations))
            if goal < kept:
                mask = prune_lowest(self.scores_at_init(net, mask, ctx), mask, (kept - goal) / kept)
        return mask

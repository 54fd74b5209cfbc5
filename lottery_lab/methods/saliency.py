"""Saliency scores for one-shot pruning at initialisation: SNIP, SynFlow, magnitude.

Each returns a dict parameter name → non-negative score tensor (the shape of the weight); a method
keeps the top fraction of all scores. The model's state is left exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import masks as masks_lib
from lottery_lab.masks import Mask
from lottery_lab.methods.base import Context, Method, Search, check_fraction, check_option, prune_lowest


def _named(model: nn.Module, names: list[str]) -> dict[str, nn.Parameter]:
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"names not parameters of the model: {missing}")
    return {n: params[n] for n in names}


def magnitude_scores(model: nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """|w| at initialisation."""
    return {n: p.detach().abs().clone() for n, p in _named(model, names).items()}


#: the modes SNIP can score in: ``"eval"`` (BatchNorm uses its running statistics, dropout is off: the
#: Synaptic-Flow reference's ``prune_loop`` default) or ``"train"`` (BatchNorm normalises by the batch)
SNIP_MODES = ("eval", "train")


def snip_scores(model: nn.Module, names: list[str], X: torch.Tensor, y: torch.Tensor,
                mode: str = "eval") -> dict[str, torch.Tensor]:
    """SNIP (Lee et al. 2019): |∂L/∂w ⊙ w| for the cross-entropy L on one batch (X, y).

    This is the connection sensitivity |∂L/∂c| at c = 1 for a mask c multiplying w. ``mode`` is the
    mode the model scores in (:data:`SNIP_MODES`); it only matters for BatchNorm and dropout. The
    model's mode and state (running statistics included) are restored afterwards.
    """
    check_option("mode", mode, SNIP_MODES)
    params = _named(model, names)
    was_training = model.training
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    model.train(mode == "train")
    try:
        loss = F.cross_entropy(model(X), y)
        grads = torch.autograd.grad(loss, list(params.values()))
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(buffers[n])
        model.train(was_training)
    return {n: (g * p).detach().abs() for (n, p), g in zip(params.items(), grads)}


def synflow_scores(
    model: nn.Module,
    names: list[str],
    input_shape: tuple[int, ...],
    masks: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """SynFlow (Tanaka et al. 2020): (∂R/∂w) ⊙ w with R = 1ᵀ f(1; |θ|), data-free.

    All floating-point state (weights, biases, BatchNorm statistics) is replaced by its absolute
    value, the network is run in eval mode on an all-ones input, and restored afterwards.
    ``masks`` (name → 0/1 tensor) zero the already-pruned weights, as in SynFlow's iterative use.
    """
    params = _named(model, names)
    was_training = model.training
    model.eval()
    saved = {n: t.clone() for n, t in model.state_dict().items()}
    try:
        with torch.no_grad():
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.abs_()
            if masks is not None:
                for n, m in masks.items():
                    params[n].mul_(m.to(params[n].dtype))
        device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        R = model(torch.ones((1, *input_shape), device=device, dtype=dtype)).sum()
        grads = torch.autograd.grad(R, list(params.values()))
        scores = {n: (g * p).detach().abs() for (n, p), g in zip(params.items(), grads)}
    finally:
        model.load_state_dict(saved)
        model.train(was_training)
    return scores


class PruneAtInit(Method):
    """Base of the one-shot pruning-at-initialisation baselines: score the weights of θ_k (the rewind
    point, θ₀ by default) under the current mask, and drop ``prune_fraction`` of the kept weights with
    the lowest scores — so round r has IMP's density (1 − p)^r, with no search training at all.
    """

    def __init__(self, prune_fraction: float = 0.2):
        self.prune_fraction = check_fraction("prune_fraction", prune_fraction)

    def scores_at_init(self, net: nn.Module, mask: Mask, ctx: Context) -> dict[str, torch.Tensor]:
        """The saliency of every masked weight of ``net`` (θ_k with the mask applied)."""
        raise NotImplementedError

    def _net_at_init(self, model: nn.Module, mask: Mask, ctx: Context) -> nn.Module:
        if ctx.rewind_state is None:
            raise ValueError(f"method {self.name!r} prunes at initialisation: the context needs rewind_state")
        net = copy.deepcopy(model)
        masks_lib.rewind(net, ctx.rewind_state, mask)
        return net

    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        net = self._net_at_init(model, mask, ctx)
        return prune_lowest(self.scores_at_init(net, mask, ctx), mask, self.prune_fraction)

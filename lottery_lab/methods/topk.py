"""Top-k masks with a straight-through gradient: the forward pass of edge-popup (Ramanujan et al. 2020)."""

from __future__ import annotations

import math

import torch


def n_kept(numel: int, keep: float) -> int:
    """How many of ``numel`` entries a fraction ``keep`` ∈ (0, 1] keeps: round(keep·numel), at least 1."""
    return max(1, min(numel, int(round(keep * numel))))


def topk_mask(scores: torch.Tensor, keep: float) -> torch.Tensor:
    """A 0/1 tensor keeping exactly :func:`n_kept` entries with the largest |score| (ties by index)."""
    flat = scores.detach().abs().flatten()
    k = n_kept(flat.numel(), keep)
    mask = torch.zeros_like(flat).index_fill_(0, torch.topk(flat, k, sorted=False).indices, 1)  # no host value
    return mask.view_as(scores)


class _TopKSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: float) -> torch.Tensor:  # type: ignore[override]
        return topk_mask(scores, keep)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None


def topk_ste(scores: torch.Tensor, keep: float) -> torch.Tensor:
    """:func:`topk_mask` in the forward pass, the identity in the backward pass (straight-through).

    With an effective weight w ⊙ topk_ste(s), the scores receive ∂L/∂s = ∂L/∂w_eff ⊙ w.
    """
    return _TopKSTE.apply(scores, keep)


@torch.no_grad()
def signed_kaiming_constant_(weight: torch.Tensor, generator: torch.Generator | None = None,
                             signs_of: torch.Tensor | None = None) -> torch.Tensor:
    """Set ``weight`` in place to ±σ, σ = √(2/fan_in) (Kaiming normal's std): with random signs, or
    with the signs of ``signs_of`` (+ where it is ≥ 0) when given."""
    fan_in = weight[0].numel()
    sigma = math.sqrt(2.0 / fan_in)
    if signs_of is None:
        signs = torch.randint(0, 2, weight.shape, generator=generator, device=weight.device) * 2 - 1
    else:
        signs = torch.where(signs_of >= 0, 1.0, -1.0)
    weight.copy_(signs.to(weight.dtype) * sigma)
    return weight

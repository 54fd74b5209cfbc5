"""A scale-free step for a method's own parameters (gates, scores).

The gradients that reach per-weight gates or scores shrink with the model's size (each weight moves the
loss a little, each gate moves a density by 1/d). The papers train them with Adam, whose steps do not
depend on that scale; the lottery engine trains every parameter with the run's one optimiser, so these
methods rescale their parameters' gradients by one global factor — to unit mean magnitude — before the
step. Their learning rate is then about how far a typical gate or score moves per step, and the relative
sizes of the gradients, across weights and layers, are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lottery_lab.train import Callback, TrainState


class UnitMeanGrad(Callback):
    """Rescale the gradients of ``params`` (together) to unit mean magnitude after each backward."""

    def __init__(self, params: Sequence[torch.Tensor]):
        self.params = list(params)

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        grads = [p.grad for p in self.params if p.grad is not None]
        if grads:
            scale = torch.cat([g.abs().reshape(-1) for g in grads]).mean().clamp_min(1e-30)
            torch._foreach_div_(grads, scale)

"""A scale-free step for a method's own parameters (gates, scores).

The gradients that reach per-weight gates or scores shrink with the model's size (each weight moves the
loss a little, each gate moves a density by 1/d). The papers train them with Adam, whose steps do not
depend on that scale; the lottery engine trains every parameter with the run's one optimiser, so these
methods divide their parameters' gradients by one global factor: an exponential moving average of the
gradients' mean magnitude (bias-corrected, as Adam's moments). Their learning
rate is then about how far a typical gate or score moves per step; the relative sizes of the gradients,
across weights and layers, are kept; and when a pull stops (a constraint met, its multiplier reset),
the steps shrink with it instead of being blown back up to full size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lottery_lab.train import Callback, TrainState


class ScaledGrad(Callback):
    """Divide the gradients of ``params`` by the EMA of their mean magnitude after each backward.

    ``state`` is a 2-element float64 tensor ``[ema, steps]`` that the caller keeps as a module buffer,
    so that a resumed search continues with the same scale.
    """

    def __init__(self, params: Sequence[torch.Tensor], state: torch.Tensor, beta: float = 0.99):
        self.params, self.state, self.beta = list(params), state, beta

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return
        mean_abs = torch.cat([g.reshape(-1) for g in grads]).double().abs().mean()
        self.state[0] = self.beta * self.state[0] + (1 - self.beta) * mean_abs
        self.state[1] += 1
        scale = (self.state[0] / (1 - self.beta ** self.state[1])).clamp_min(1e-30)
        torch._foreach_div_(grads, float(scale))

"""A scale-free step for a method's own parameters (gates, scores).

The gradients that reach per-weight gates or scores shrink with the model's size (each weight moves the
loss a little, each gate moves a density by 1/d). The papers train them with Adam, whose steps do not
depend on that scale; the lottery engine trains every parameter with the run's one optimiser, so these
methods divide each parameter tensor's gradient (one per layer) by one factor: an exponential moving
average of that gradient's mean magnitude (bias-corrected, as Adam's moments). Their learning rate is
then about how far a typical gate or score of a layer moves per step, small layers (whose gates feel
far larger gradients) included; the relative sizes of the gradients within a layer are kept; and when a
pull stops (a constraint met, its multiplier reset), the steps shrink with it instead of being blown
back up to full size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lottery_lab.train import Callback, TrainState


class ScaledGrad(Callback):
    """Divide the gradient of each of ``params`` by the EMA of its mean magnitude after each backward.

    ``state`` is a float64 tensor of shape ``(len(params), 2)``, rows ``[ema, steps]``, that the caller
    keeps as a module buffer, so that a resumed search continues with the same scales.
    """

    def __init__(self, params: Sequence[torch.Tensor], state: torch.Tensor, beta: float = 0.99):
        self.params, self.state, self.beta = list(params), state, beta

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            ema = self.beta * float(self.state[i, 0]) + (1 - self.beta) * float(p.grad.abs().mean())
            steps = float(self.state[i, 1]) + 1
            self.state[i, 0], self.state[i, 1] = ema, steps
            p.grad.div_(max(ema / (1 - self.beta**steps), 1e-30))

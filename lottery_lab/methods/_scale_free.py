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

    The averages stay on the device (no read-back in the step): the step counts are read once at the
    start of training and then counted on the host, so the bias correction 1 − β^steps is a Python
    number. On the CPU the arithmetic is the same, operation for operation, as a host-side EMA of
    ``float(g.abs().mean())``; elsewhere the mean magnitudes come from one ``_foreach_norm``.
    """

    def __init__(self, params: Sequence[torch.Tensor], state: torch.Tensor, beta: float = 0.99):
        self.params, self.state, self.beta = list(params), state, beta
        self._steps: list[float] | None = None

    def on_train_start(self, state: TrainState) -> None:
        self._steps = self.state[:, 1].tolist()  # once per phase (after a resume: the steps reached)

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        if self._steps is None:
            self.on_train_start(state)
        assert self._steps is not None
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        grads = [self.params[i].grad for i in live]
        if grads[0].device.type == "cpu":
            means = [g.abs().mean() for g in grads]
        else:
            means = torch._foreach_div(torch._foreach_norm(grads, 1), [float(g.numel()) for g in grads])
        beta = self.beta
        if len(live) == len(self.params):
            ema = self.state[:, 0] * beta + torch.stack(means).double() * (1 - beta)
            self.state[:, 0] = ema
            self.state[:, 1] += 1
            emas = list(ema.unbind())
        else:
            emas = []
            for i, m in zip(live, means):
                emas.append(self.state[i, 0] * beta + m.double() * (1 - beta))
                self.state[i, 0] = emas[-1]
                self.state[i, 1] += 1
        for i in live:
            self._steps[i] += 1
        divisors = torch._foreach_div(emas, [1 - beta ** self._steps[i] for i in live])
        torch._foreach_clamp_min_(divisors, 1e-30)
        torch._foreach_div_(grads, divisors)

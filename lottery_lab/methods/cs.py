"""``cs``: continuous sparsification (Savarese, Silva & Maire 2020).

Every kept weight θ gets a score s; the network computes with θ ⊙ σ(β s) and the search minimises
L(θ ⊙ σ(βs)) + λ Σ σ(βs) / d (the soft mask's ℓ1 norm, per weight). The temperature β grows
geometrically from 1 at the first epoch to ``final_temperature`` at the last, so σ(βs) hardens into
the step function 1[s > 0]: the ticket is {s > 0}. Across rounds the surviving scores restart at
``s_init`` and the weights are rewound, as in the paper's ticket search.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lottery_lab.masks import Mask
from lottery_lab.methods._scale_free import ScaledGrad
from lottery_lab.methods.base import (Context, Method, Search, check_count, check_nonnegative,
                                       check_positive, register)
from lottery_lab.methods.concave import RelaxedMaskNet
from lottery_lab.train import Callback, TrainState


class SoftMaskNet(RelaxedMaskNet):
    """``net`` computed with θ ⊙ σ(β s); the scores s are ``self.m``, β a buffer (checkpointed)."""

    def __init__(self, net: nn.Module, support: Mask, s_init: float):
        super().__init__(net, support, 1.0)
        with torch.no_grad():
            for s in self._ms:
                s.fill_(s_init)
        device = self._ms[0].device if self._ms else None
        self.register_buffer("beta", torch.ones((), device=device))
        self.register_buffer("grad_scale", torch.zeros(len(self._ms), 2, dtype=torch.float64, device=device))

    def soft_masks(self) -> list[torch.Tensor]:
        return [torch.sigmoid(self.beta * s) for s in self._ms]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, torch._foreach_mul(self._thetas, self.soft_masks())))


class _Anneal(Callback):
    """Adds λ·mean σ(βs) to the loss; sets β for the next epoch at every epoch end."""

    def __init__(self, net: SoftMaskNet, lam: float, final_temperature: float):
        self.net, self.lam, self.final = net, lam, final_temperature
        self.total = sum(s.numel() for s in net._ms)

    def on_loss(self, state: TrainState, loss: torch.Tensor) -> torch.Tensor:
        return loss + self.lam * sum(m.sum() for m in self.net.soft_masks()) / self.total

    @torch.no_grad()
    def on_epoch_end(self, state: TrainState) -> None:
        n_epochs = max(1, math.ceil(state.total_steps / state.steps_per_epoch))
        done = min(state.step // state.steps_per_epoch, n_epochs - 1)
        self.net.beta.fill_(self.final ** (done / max(1, n_epochs - 1)))


@register
class ContinuousSparsification(Method):
    """Soft mask σ(βs) with β annealed to ``final_temperature``; the ticket is {s > 0}.

    Parameters
    ----------
    lam : λ ≥ 0 on the mean soft mask.
    final_temperature : β at the last epoch, > 0 (1 at the first; the paper's default 200).
    s_init : the scores' starting value (σ(s_init) is the soft mask's start).
    mask_lr : step size of the scores, > 0 (θ uses the run's ``lr``); their gradients are divided by a
        running mean magnitude first (:mod:`lottery_lab.methods._scale_free`).
    epochs : search length in epochs (``None``: the run's training length).
    """

    name = "cs"
    hash_baseline = {"lam": 1.0, "final_temperature": 200.0, "s_init": 0.5, "mask_lr": 0.01, "epochs": None}

    def __init__(self, lam: float = 1.0, final_temperature: float = 200.0, s_init: float = 0.5,
                 mask_lr: float = 0.01, epochs: int | None = None):
        if isinstance(s_init, bool) or not isinstance(s_init, (int, float)) or not math.isfinite(s_init):
            raise ValueError(f"s_init={s_init!r} must be a finite number")
        self.lam = check_nonnegative("lam", lam)
        self.final_temperature = check_positive("final_temperature", final_temperature)
        self.s_init, self.mask_lr = float(s_init), check_positive("mask_lr", mask_lr)
        self.epochs = check_count("epochs", epochs, allow_none=True)

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search:
        net = SoftMaskNet(model, mask, self.s_init)
        support = {f"net.{n}": mask[n] for n in mask}
        support.update({f"m.{k}": mask[n] for k, n in zip(net.m.keys(), net.names)})
        groups = [{"params": list(model.parameters())},
                  {"params": list(net.m.parameters()), "lr": self.mask_lr, "weight_decay": 0.0}]
        callbacks = [_Anneal(net, self.lam, self.final_temperature), ScaledGrad(net._ms, net.grad_scale)]
        return Search(net, support, groups, callbacks, self.epochs)

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """The scores s, by parameter name."""
        return None if search is None else search.module.relaxed_mask()

    @torch.no_grad()
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        s = self.searched(search, SoftMaskNet).relaxed_mask()
        return {n: mask[n].bool() & (s[n] > 0) for n in mask}

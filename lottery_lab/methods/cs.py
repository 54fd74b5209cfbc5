"""``cs``: continuous sparsification (Savarese, Silva & Maire 2020), as its code does it.

The defaults follow the reference implementation, lolemacs/continuous-sparsification
(``models/layers.py``, ``models/networks.py``, ``main.py``):

- every weight θ of a masked layer gets a score s, starting at s₀ = ``s_init`` = 0; the layer computes
  with θ ⊙ σ(βs) / σ(s₀), so the effective weights start equal to θ (``rescale``);
- the search minimises L + λ Σ σ(βs)/σ(s₀), a *sum* over every masked weight with λ = 1e-8;
- β grows geometrically from 1 at the first epoch to ``final_temperature`` (200) at the last;
- the ticket is {s > 0}, and it computes with θ_k ⊙ 1[s > 0] / σ(s₀) (:meth:`ticket_state`);
- between rounds (``carry="reference"``) the search does not restart: the next round's search
  continues from this one's weights (θ, biases, BatchNorm), with the scores clamped to
  s ← min(s, s₀) — negative scores survive and their weights can revive in a later round
  (``revives``). The first search starts from the rewind point θ_k (θ₀ by default), where the
  reference's first round starts from its initialisation;
- only the 3×3 convolutions are masked (``layers="reference"``); on a network without any (LeNet),
  this means its Linear layers but the output layer, the classifier the reference leaves dense. On
  Conv-2/4/6 the fully connected layers (most of the weights) then stay dense: use ``layers="all"``.
- the scores train with the run's optimiser and learning rate, without weight decay.

Departures that remain: the lottery runner trains a ticket after every search round (the reference
trains only the last: the same ticket for the last round, one more evaluation for the others); the
optimiser is the run's (SGD with momentum, not Nesterov) and its state restarts with each round's
search (the reference keeps one optimiser for all rounds); θ_k comes from the dense round 0, the
reference's from epoch 2 of its first search; and when the ticket trains, its effective weight is
the parameter itself, so its per-step change is σ(s₀)² (1/4) of the reference's, whose parameter
enters through the factor 1/σ(s₀).

This project's earlier variant stays available by name: ``s_init=0.5, rescale=False, lam=1.0,
reduction="mean", carry="reset", layers="all", mask_lr=0.01, scale_free=True`` (scores restart at
s_init each round and s ≤ 0 is pruned for good; the search starts from the trained ticket).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from lottery_lab.methods.recipe import Recipe
from lottery_lab.masks import Mask
from lottery_lab.methods._scale_free import ScaledGrad
from lottery_lab.methods.masked_net import MaskedNet
from lottery_lab.methods.base import (Context, Method, Search, check_count, check_nonnegative, check_option,
                                       check_positive, register)
from lottery_lab.masks import param_key as _key
from lottery_lab.train import Callback, TrainState
from lottery_lab._validation import check_flag, check_real

#: which layers carry a soft mask: ``reference`` (the 3×3 convolutions; without any, every Linear
#: layer but the output layer) or ``all`` (every prunable layer)
LAYERS = ("reference", "all")
#: how a round's search hands on to the next: ``reference`` (θ continues, s ← min(s, s₀)) or ``reset``
#: (the search starts from the trained ticket, survivors' scores at s₀, pruned weights stay pruned)
CARRY = ("reference", "reset")
#: how the penalty adds up the soft mask: ``sum`` (the reference's) or ``mean`` (per masked weight)
REDUCTIONS = ("sum", "mean")


def masked_layers(mask: Mask, layers: str) -> list[str]:
    """The names in ``mask`` whose weights get a soft mask, under the ``layers`` rule (:data:`LAYERS`).

    Read from the weights' shapes (prunable weights are Conv2d's, 4-d, or Linear's, 2-d), so the
    rule needs no model."""
    names = list(mask)
    if layers == "all":
        return names
    convs = [n for n in names if mask[n].dim() == 4 and tuple(mask[n].shape[-2:]) == (3, 3)]
    if convs:
        return convs
    return [n for n in names[:-1] if mask[n].dim() == 2]


class SoftMaskNet(MaskedNet):
    """``net`` computed with θ ⊙ σ(β s) · ``scale`` on the layers ``names``; the scores s are ``self.s``
    (keyed by parameter name with ``/`` for ``.``, in ``names`` order), β a buffer (checkpointed)."""

    def __init__(self, net: nn.Module, names: list[str], scores: dict[str, torch.Tensor], scale: float):
        super().__init__(net, names, {n: scores[n].detach().clone() for n in names}, attr="s", sort_keys=False)
        self.scale = scale
        device = self.variables[0].device if self.variables else None
        self.register_buffer("beta", torch.ones((), device=device))
        self.register_buffer("grad_scale", torch.zeros(len(self.variables), 2, dtype=torch.float64, device=device))
        self.last_soft: list[torch.Tensor] = []

    def soft_masks(self) -> list[torch.Tensor]:
        """σ(βs) · scale for every masked layer, in ``names`` order."""
        return [torch.sigmoid(self.beta * s) * self.scale for s in self.variables]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        soft = self.soft_masks()
        if self.training:
            self.last_soft = soft  # the penalty of this step reads them (computed once per step)
        return dict(zip(self.names, torch._foreach_mul(self.thetas, soft)))

    def scores(self) -> dict[str, torch.Tensor]:
        """s by the net's parameter names (detached)."""
        return self.detached()


class _Anneal(Callback):
    """Adds λ·Σ (or mean) of this step's soft masks to the loss; sets β for the next epoch at epoch ends."""

    def __init__(self, net: SoftMaskNet, lam: float, final_temperature: float, divisor: float):
        self.net, self.lam, self.final, self.divisor = net, lam, final_temperature, divisor

    def on_loss(self, state: TrainState, loss: torch.Tensor) -> torch.Tensor:
        if not self.lam or not self.net.last_soft:
            return loss
        total = torch.stack([m.sum() for m in self.net.last_soft]).sum()
        return loss + (self.lam / self.divisor) * total

    @torch.no_grad()
    def on_epoch_end(self, state: TrainState) -> None:
        n_epochs = max(1, math.ceil(state.total_steps / state.steps_per_epoch))
        done = min(state.step // state.steps_per_epoch, n_epochs - 1)
        self.net.beta.fill_(self.final ** (done / max(1, n_epochs - 1)))


@register
class ContinuousSparsification(Method):
    """Soft mask σ(βs)/σ(s₀) with β annealed to ``final_temperature``; the ticket is {s > 0}.

    Parameters
    ----------
    lam : λ ≥ 0 on the soft mask's sum (the reference's 1e-8) or mean (``reduction``).
    final_temperature : β at the last epoch, > 0 (1 at the first; the reference's 200).
    s_init : s₀, the scores' starting value and the clamp between rounds (the reference's 0).
    mask_lr : step size of the scores, > 0, or ``None`` for the run's ``lr`` (the reference's).
    epochs : search length in epochs (``None``: the run's training length).
    rescale : multiply the soft mask (and the ticket) by 1/σ(s₀), so the effective weights start at θ.
    reduction : the penalty adds up the soft mask as a ``"sum"`` or a ``"mean"`` over masked weights.
    carry : ``"reference"`` (the next round continues this search, s ← min(s, s₀)) or ``"reset"``.
    layers : ``"reference"`` (3×3 convolutions; LeNet: Linear layers but the output) or ``"all"``.
    scale_free : divide the scores' gradients by their running mean magnitude first
        (:mod:`lottery_lab.methods._scale_free`; this project's earlier variant).
    """

    name = "cs"
    recipes = (Recipe(),)  # how compare reaches a density
    hash_baseline = {"lam": 1.0, "final_temperature": 200.0, "s_init": 0.5, "mask_lr": 0.01, "epochs": None}

    def __init__(self, lam: float = 1e-8, final_temperature: float = 200.0, s_init: float = 0.0,
                 mask_lr: float | None = None, epochs: int | None = None, rescale: bool = True,
                 reduction: str = "sum", carry: str = "reference", layers: str = "reference",
                 scale_free: bool = False):
        self.lam = check_nonnegative("lam", lam)
        self.final_temperature = check_positive("final_temperature", final_temperature)
        self.s_init = check_real("s_init", s_init)
        self.mask_lr = None if mask_lr is None else check_positive("mask_lr", mask_lr)
        self.epochs = check_count("epochs", epochs, allow_none=True)
        self.rescale, self.scale_free = check_flag("rescale", rescale), check_flag("scale_free", scale_free)
        self.reduction = check_option("reduction", reduction, REDUCTIONS)
        self.carry = check_option("carry", carry, CARRY)
        self.layers = check_option("layers", layers, LAYERS)
        self.revives = self.carry == "reference"

    @property
    def scale(self) -> float:
        """The soft mask's factor: 1/σ(s₀) with ``rescale``, else 1."""
        return 1.0 + math.exp(-self.s_init) if self.rescale else 1.0

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search:
        names = masked_layers(mask, self.layers)
        params = dict(model.named_parameters())
        if self.carry == "reference":
            if ctx.carry is not None:
                model.load_state_dict(ctx.carry["net"])
                scores = {n: ctx.carry["s"][n].clamp(max=self.s_init) for n in names}
            elif ctx.round_index > 1:
                raise ValueError(f"cs (carry='reference') continues round {ctx.round_index - 1}'s search, "
                                 f"but the context carries none (ctx.carry is None)")
            else:
                if ctx.rewind_state is None:
                    raise ValueError("cs (carry='reference') starts its first search at θ_k: the context "
                                     "needs rewind_state")
                model.load_state_dict(ctx.rewind_state)
                scores = {n: torch.full_like(params[n], self.s_init) for n in names}
            # every weight of a masked layer stays alive in the search (its score decides); others keep the mask
            support = {f"net.{n}": mask[n] for n in mask if n not in names}
        else:
            scores = {n: torch.full_like(params[n], self.s_init) for n in names}
            support = {f"net.{n}": mask[n] for n in mask}
            support.update({f"s.{_key(n)}": mask[n] for n in names})
        net = SoftMaskNet(model, names, scores, self.scale)
        group: dict[str, Any] = {"params": list(net.s.parameters()), "weight_decay": 0.0}
        if self.mask_lr is not None:
            group["lr"] = self.mask_lr
        groups = [{"params": list(model.parameters())}, group]
        divisor = 1.0 if self.reduction == "sum" else float(max(1, sum(params[n].numel() for n in names)))
        callbacks: list[Callback] = [_Anneal(net, self.lam, self.final_temperature, divisor)]
        if self.scale_free:
            callbacks.append(ScaledGrad(net.variables, net.grad_scale))
        return Search(net, support, groups, callbacks, self.epochs)

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """The scores s, by parameter name."""
        return None if search is None else search.module.scores()

    def carry_state(self, search: Search | None) -> dict[str, Any] | None:
        """``carry="reference"``: the searched network's state and its scores, for the next round."""
        if self.carry != "reference":
            return None
        net = self.searched(search, SoftMaskNet)
        return {"net": {k: v.detach().clone() for k, v in net.net.state_dict().items()}, "s": net.scores()}

    def ticket_state(self, rewind_state: dict[str, torch.Tensor], mask: Mask) -> dict[str, torch.Tensor]:
        """θ_k, the masked layers' weights times 1/σ(s₀) with ``rescale`` (the reference's ticket)."""
        if self.scale == 1.0:
            return rewind_state
        state = dict(rewind_state)
        for n in masked_layers(mask, self.layers):
            state[n] = rewind_state[n] * self.scale
        return state

    @torch.no_grad()
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        s = self.searched(search, SoftMaskNet).scores()
        out = {n: mask[n].bool().clone() for n in mask}
        for n, sn in s.items():
            out[n] = sn > 0 if self.revives else mask[n].bool() & (sn > 0)
        return out

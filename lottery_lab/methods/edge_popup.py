"""``edge_popup``: strong lottery tickets (Ramanujan et al. 2020) — find a subnetwork of a random,
untrained network that works as it is.

The weights are frozen at a signed Kaiming constant, ±σ_l with σ_l = √(2/fan_in) and the signs of
θ_k; every weight has a score s, and each layer computes with w ⊙ h(s), h keeping the fraction
``keep`` of the layer's weights with the largest |s|. The scores learn through the straight-through
gradient ∂L/∂|s| = ∂L/∂w_eff ⊙ w. The ticket is the top-``keep`` support, evaluated with the signed
constant weights and never trained (``retrain = False``). (``keep`` is the fraction *kept*: the
original code's ``k`` names the same thing inverted.)

The ticket is the network the search found (:meth:`EdgePopup.found_network`): its signed constants
and, on BatchNorm networks, the running statistics the search collected (hidden-networks evaluates
its trained model as it is, statistics included). Rewinding them to θ_k's (mean 0, var 1) cut
ResNet-20 (width 0.25) from 0.78 to 0.29. ``bn_stats="recalibrate"`` instead recomputes them on the
training data for the ticket's mask (one pass, the cumulative average of every batch).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call

from lottery_lab.methods.recipe import Recipe
from lottery_lab import masks as masks_lib
from lottery_lab.masks import Mask
from lottery_lab.methods.topk import signed_kaiming_constant_, topk_mask, topk_ste
from lottery_lab.methods.base import Context, Method, Search, check_count, check_option, register
from lottery_lab._validation import check_real
from lottery_lab.masks import param_key as _key


#: where a strong ticket's BatchNorm statistics come from
BN_STATS = ("search", "recalibrate")


class ScoredNet(nn.Module):
    """A frozen copy of ``net`` computed with w ⊙ topk(|s| on the support) per layer."""

    def __init__(self, net: nn.Module, support: Mask, keep: float, generator: torch.Generator):
        super().__init__()
        self.net = net
        self.names = list(support)
        self.keep = keep
        params = dict(net.named_parameters())
        for p in net.parameters():
            p.requires_grad_(False)
        scores = {}
        for n in self.names:
            bound = 1.0 / math.sqrt(params[n][0].numel())  # kaiming_uniform(a=√5), as the original code
            u = torch.rand(params[n].shape, generator=generator).to(params[n].device, params[n].dtype)
            scores[_key(n)] = nn.Parameter((2 * u - 1) * bound)
        self.s = nn.ParameterDict(scores)
        self._ws = [params[n] for n in self.names]
        self._support = [support[n].to(params[n].dtype) for n in self.names]

    def _ranked(self) -> list[torch.Tensor]:
        # rank by |s| (the gradient reaches s through the absolute value, as in the original code);
        # pruned weights (outside the support) rank last: |s| is zeroed there
        return [self.s[_key(n)].abs() * sup for n, sup in zip(self.names, self._support)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eff = {n: w * topk_ste(s, self.keep) for n, w, s in zip(self.names, self._ws, self._ranked())}
        return functional_call(self.net, eff, (x,))

    @torch.no_grad()
    def ticket(self) -> Mask:
        return {n: topk_mask(s, self.keep).bool() & sup.bool()
                for n, s, sup in zip(self.names, self._ranked(), self._support)}


@register
class EdgePopup(Method):
    """Edge-popup scores on a frozen signed-constant network; the ticket is evaluated untrained.

    Parameters
    ----------
    keep : fraction of each layer's weights kept, in (0, 1].
    epochs : search length in epochs (``None``: the run's training length).
    bn_stats : the ticket's BatchNorm statistics: ``"search"`` (those the search collected, as the
        reference evaluates) or ``"recalibrate"`` (recomputed on the training data for the ticket).
    """

    name = "edge_popup"
    recipes = (Recipe(knob="keep"),)  # how compare reaches a density
    hash_baseline = {"keep": 0.5, "epochs": None}
    retrain = False

    def __init__(self, keep: float = 0.5, epochs: int | None = None, bn_stats: str = "search"):
        self.keep = check_real("keep", keep, 0, 1, closed="right")  # the fraction of weights kept
        self.epochs = check_count("epochs", epochs, allow_none=True)
        self.bn_stats = check_option("bn_stats", bn_stats, BN_STATS)

    def ticket_state(self, rewind_state: dict[str, torch.Tensor], mask: Mask) -> dict[str, torch.Tensor]:
        """θ_k with every prunable weight replaced by its signed Kaiming constant ±√(2/fan_in)."""
        state = dict(rewind_state)
        for n in mask:
            state[n] = signed_kaiming_constant_(torch.empty_like(rewind_state[n]), signs_of=rewind_state[n])
        return state

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search:
        if ctx.rewind_state is None:
            raise ValueError("edge_popup searches the network at initialisation: the context needs rewind_state")
        net = copy.deepcopy(model)
        masks_lib.rewind(net, self.ticket_state(ctx.rewind_state, mask), mask)
        scored = ScoredNet(net, mask, self.keep, ctx.generator)
        return Search(scored, {}, [{"params": list(scored.s.parameters())}], [], self.epochs)

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """The scores s, by parameter name."""
        return None if search is None else {n: s.detach() for n, s in zip(search.module.names, search.module._ranked())}

    @torch.no_grad()
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        scored = self.searched(search, ScoredNet)
        ticket = scored.ticket()
        if self.bn_stats == "recalibrate":
            if ctx.data is None:
                raise ValueError("edge_popup with bn_stats='recalibrate' needs the training data in the context")
            recalibrate_batchnorm(scored.net, ticket, ctx.data.X_train)
        return ticket

    def found_network(self, search: Search | None, mask: Mask) -> dict[str, torch.Tensor]:
        """The searched network's state: signed constants and its BatchNorm statistics."""
        return {k: v.detach().clone() for k, v in self.searched(search, ScoredNet).net.state_dict().items()}


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, mask: Mask, X: torch.Tensor, batch_size: int = 1024) -> None:
    """Recompute the running statistics of ``net``'s BatchNorm layers for the masked network: the
    cumulative average over every batch of ``X`` in train mode (``momentum=None``); weights untouched."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    params = dict(net.named_parameters())
    saved = {n: params[n].detach().clone() for n in mask}
    momenta = [m.momentum for m in norms]
    was_training = net.training
    try:
        masks_lib.apply(net, mask)
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        net.train()
        for i in range(0, len(X), batch_size):
            net(X[i:i + batch_size])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for n, w in saved.items():
            params[n].copy_(w)
        net.train(was_training)

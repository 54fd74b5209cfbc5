"""``edge_popup``: strong lottery tickets (Ramanujan et al. 2020) — find a subnetwork of a random,
untrained network that works as it is.

The weights are frozen at a signed Kaiming constant, ±σ_l with σ_l = √(2/fan_in) and the signs of
θ_k; every weight has a score s, and each layer computes with w ⊙ h(s), h keeping the fraction
``keep`` of the layer's weights with the largest |s|. The scores learn through the straight-through
gradient ∂L/∂|s| = ∂L/∂w_eff ⊙ w. The ticket is the top-``keep`` support, evaluated with the signed
constant weights and never trained (``retrain = False``). (``keep`` is the fraction *kept*: the
original code's ``k`` names the same thing inverted.)
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call

from lottery_lab import masks as masks_lib
from lottery_lab.masks import Mask
from lottery_lab.methods._topk import topk_mask, topk_ste
from lottery_lab.methods.base import Context, Method, Search, check_count, register
from lottery_lab.methods.concave import _key


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
    """

    name = "edge_popup"
    retrain = False

    def __init__(self, keep: float = 0.5, epochs: int | None = None):
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
            raise ValueError(f"keep={keep!r} must lie in (0, 1] (the fraction of weights kept)")
        self.keep = float(keep)
        self.epochs = check_count("epochs", epochs, allow_none=True)

    def ticket_state(self, rewind_state: dict[str, torch.Tensor], mask: Mask) -> dict[str, torch.Tensor]:
        """θ_k with every prunable weight replaced by its signed Kaiming constant ±√(2/fan_in)."""
        state = dict(rewind_state)
        for n in mask:
            w = rewind_state[n]
            sign = torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
            state[n] = sign * math.sqrt(2.0 / w[0].numel())
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
        return self.searched(search, ScoredNet).ticket()

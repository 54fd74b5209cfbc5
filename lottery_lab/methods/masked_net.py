"""The masked-network base of the searches that train one variable per masked weight.

A :class:`MaskedNet` wraps a network and computes it with effective weights made from its weights θ
and one variable tensor per masked weight: the relaxed mask m of ``concave`` (θ ⊙ m), the gates'
log α of ``l0`` (θ ⊙ z(log α)), the scores s of ``cs`` (θ ⊙ σ(βs)). The variables are parameters of
the wrapper (an ``nn.ParameterDict``, so they are checkpointed and trained like any other), keyed by
:func:`lottery_lab.masks.param_key`; :attr:`MaskedNet.variables` and :attr:`MaskedNet.thetas` list
them and the weights in :attr:`MaskedNet.names` order, for ``_foreach`` arithmetic and callbacks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from lottery_lab.masks import Mask, param_key

__all__ = ["MaskedNet", "RelaxedMaskNet"]


class MaskedNet(nn.Module):
    """``net`` computed with :meth:`effective_weights`; one variable per weight of ``names``.

    Parameters
    ----------
    net : the network (its parameters stay its own: the wrapper trains them too).
    names : the masked weights, by ``net``'s parameter names.
    values : each variable's starting value, by parameter name (wrapped as an ``nn.Parameter``).
    attr : the attribute (and state-dict prefix) holding the variables: ``"m"``, ``"s"``.
    sort_keys : store the variables sorted by key, as ``nn.ParameterDict`` does with a plain dict
        (concave's and l0's checkpoints, optimiser states included, have that order), or in ``names``
        order (cs's).
    """

    def __init__(self, net: nn.Module, names: Sequence[str], values: Mapping[str, torch.Tensor], *,
                 attr: str = "m", sort_keys: bool = True) -> None:
        super().__init__()
        self.net = net
        self.names = list(names)
        params = dict(net.named_parameters())
        entries = OrderedDict((param_key(n), nn.Parameter(values[n])) for n in self.names)
        store = nn.ParameterDict(dict(entries) if sort_keys else entries)
        setattr(self, attr, store)
        #: θ of every masked weight, in ``names`` order
        self.thetas: list[torch.Tensor] = [params[n] for n in self.names]
        #: the variable of every masked weight, in ``names`` order
        self.variables: list[nn.Parameter] = [store[param_key(n)] for n in self.names]

    def effective_weights(self) -> dict[str, torch.Tensor]:
        """The weights ``net`` computes with, by parameter name (default: θ ⊙ variable)."""
        return {n: theta * v for n, theta, v in zip(self.names, self.thetas, self.variables)}

    def detached(self) -> dict[str, torch.Tensor]:
        """The variables by the net's parameter names (detached)."""
        return {n: v.detach() for n, v in zip(self.names, self.variables)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.net, self.effective_weights(), (x,), tie_weights=False)


class RelaxedMaskNet(MaskedNet):
    """``net`` computed with the effective weights θ ⊙ m, one m per masked weight (in ``self.m``),
    starting at ``mask_init`` on the support and 0 off it."""

    def __init__(self, net: nn.Module, support: Mask, mask_init: float):
        params = dict(net.named_parameters())
        super().__init__(net, list(support), {n: support[n].to(params[n].dtype) * mask_init for n in support})

    def relaxed_mask(self) -> dict[str, torch.Tensor]:
        """m by the net's parameter names (detached)."""
        return self.detached()

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


class _ThetaTimesM(torch.autograd.Function):
    """``w = θ ⊙ m`` for every masked weight at once, written into buffers the module keeps.

    A fresh weight-sized tensor every step costs its page faults again once the allocator has handed
    the memory back (issue 14); the products themselves are autograd's ``mul`` and its backward
    (∂L/∂θ = g ⊙ m, ∂L/∂m = g ⊙ θ), bit for bit.
    """

    @staticmethod
    def forward(ctx, out: list[torch.Tensor], n: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.n = n
        ctx.save_for_backward(*tensors)
        return tuple(torch.mul(theta, m, out=w).detach() for theta, m, w in zip(tensors[:n], tensors[n:], out))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        tensors, n = ctx.saved_tensors, ctx.n
        thetas, ms = tensors[:n], tensors[n:]
        need = ctx.needs_input_grad[2:]
        g_theta = [g * m if need[i] else None for i, (g, m) in enumerate(zip(grads, ms))]
        g_m = [g * theta if need[n + i] else None for i, (g, theta) in enumerate(zip(grads, thetas))]
        return (None, None, *g_theta, *g_m)


class RelaxedMaskNet(MaskedNet):
    """``net`` computed with the effective weights θ ⊙ m, one m per masked weight (in ``self.m``),
    starting at ``mask_init`` on the support and 0 off it.

    The forward writes θ ⊙ m into kept buffers (one product per weight, no weight-sized temporaries)
    and runs ``net`` with them in place of its masked weights (swapped in for the call, restored after).
    """

    def __init__(self, net: nn.Module, support: Mask, mask_init: float):
        params = dict(net.named_parameters())
        super().__init__(net, list(support), {n: support[n].to(params[n].dtype) * mask_init for n in support})
        self._slots = [(net.get_submodule(n.rpartition(".")[0]), n.rpartition(".")[2]) for n in self.names]
        self._w: list[torch.Tensor] = []

    def _buffers_for_w(self) -> list[torch.Tensor]:
        """θ ⊙ m's buffers, (re)made when a weight's shape, dtype, device or layout changed."""
        if len(self._w) != len(self.thetas) or any(
                w.shape != t.shape or w.dtype != t.dtype or w.device != t.device or w.stride() != t.stride()
                for w, t in zip(self._w, self.thetas)):
            self._w = [torch.empty_like(t, requires_grad=False) for t in self.thetas]
        return self._w

    def effective_weights(self) -> dict[str, torch.Tensor]:
        """θ ⊙ m for every masked weight, by the net's parameter names (differentiable in θ and m)."""
        if not self.names:
            return {}
        ws = _ThetaTimesM.apply(self._buffers_for_w(), len(self.names), *self.thetas, *self.variables)
        return dict(zip(self.names, ws))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ws = self.effective_weights()
        slots = [(module, attr, module._parameters[attr]) for module, attr in self._slots]
        try:
            for (module, attr, _), w in zip(slots, ws.values()):
                module._parameters[attr] = w
            return self.net(x)
        finally:
            for module, attr, theta in slots:
                module._parameters[attr] = theta

    def relaxed_mask(self) -> dict[str, torch.Tensor]:
        """m by the net's parameter names (detached)."""
        return self.detached()

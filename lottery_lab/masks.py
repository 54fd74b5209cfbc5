"""How a mask lives on a model: which weights are prunable, apply, count, density, rewind.

A mask is plain data — a ``dict`` from parameter name (as in ``model.named_parameters()``) to a
tensor of the parameter's shape, ``True``/1 where the weight is kept — never module surgery. Only the
weights of ``nn.Linear`` and ``nn.Conv2d`` modules are prunable: biases and BatchNorm never are.

Pruned weights stay exactly zero and get no update: the training loop multiplies the weights by the
mask after every optimiser step (a :class:`Masker`, what :func:`apply` does once), so neither
momentum nor weight decay can move them.

Example
-------
>>> import torch
>>> from lottery_lab import masks
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
>>> m = masks.ones_like(net)
>>> sorted(m), masks.density(m)
(['0.weight', '2.weight'], 1.0)
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    "Mask", "prunable", "layer_names", "ones_like", "apply", "density", "layer_density", "count",
    "check", "rewind", "to_bool", "param_key", "Masker", "kth_smallest",
]

#: A mask: parameter name -> bool tensor of the parameter's shape (True = kept).
Mask = dict[str, torch.Tensor]

_PRUNABLE_MODULES = (nn.Linear, nn.Conv2d)


def kth_smallest(x: torch.Tensor, *ks: int) -> list[torch.Tensor]:
    """The ``k``-th smallest entries (1-based, as :func:`torch.kthvalue`) of the 1-d ``x``, one 0-d tensor
    per ``k``, on ``x``'s device and in its dtype; NaN counts as the largest value (as in a sort).

    On the CPU one ``numpy.partition`` selects every ``k`` in one pass: for the pair that rvsm's
    threshold needs, 0.83 ms against 2.14 ms for two ``torch.kthvalue`` on 266,200 floats at one thread
    (``benchmarks/bench_kth.py``; for a single k on that size ``kthvalue`` is the faster, 1.07 against
    1.73 ms). Elsewhere ``torch.kthvalue``. The values are the same: the selected entries themselves.
    """
    n = x.numel()
    for k in ks:
        if not 1 <= k <= n:
            raise ValueError(f"k={k} must lie in [1, {n}] for a tensor of {n} entries")
    if x.device.type != "cpu" or x.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
        return [torch.kthvalue(x, k).values for k in ks]
    a = x.detach().reshape(-1).numpy()
    part = np.partition(a, [k - 1 for k in ks])
    return [torch.tensor(part[k - 1], dtype=x.dtype) for k in ks]


def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The prunable parameters of ``model``, by name: the weights of its Linear and Conv2d modules."""
    out: dict[str, nn.Parameter] = {}
    for mod_name, module in model.named_modules():
        if isinstance(module, _PRUNABLE_MODULES) and isinstance(module.weight, nn.Parameter):
            out[f"{mod_name}.weight" if mod_name else "weight"] = module.weight
    return out


def layer_names(model: nn.Module) -> dict[str, str]:
    """A readable name for each prunable parameter: ``conv1``, ``conv2``, …, ``fc1``, … by module type
    and order (a ``Sequential``'s keys, ``1.weight``, ``3.weight``, say nothing to a reader)."""
    from lottery_lab._names import numbered

    kinds = {f"{mod_name}.weight" if mod_name else "weight": "conv" if isinstance(module, nn.Conv2d) else "fc"
             for mod_name, module in model.named_modules()
             if isinstance(module, _PRUNABLE_MODULES) and isinstance(module.weight, nn.Parameter)}
    return dict(zip(kinds, numbered(kinds.values())))


def ones_like(model: nn.Module) -> Mask:
    """The all-kept mask of ``model`` (bool tensors on the weights' device)."""
    return {name: torch.ones_like(p, dtype=torch.bool) for name, p in prunable(model).items()}


def to_bool(masks: Mapping[str, torch.Tensor]) -> Mask:
    """The same mask with bool tensors (nonzero = kept)."""
    return {k: v.detach() != 0 for k, v in masks.items()}


def param_key(name: str) -> str:
    """``name`` (as in ``named_parameters()``) as a key an ``nn.ParameterDict`` accepts (no dots)."""
    return name.replace(".", "/")


def check(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Raise ValueError unless ``masks`` names parameters of ``model`` with matching shapes."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise ValueError(f"mask entry {name!r} is not a parameter of the model; "
                             f"prunable parameters: {', '.join(prunable(model))}")
        if tuple(m.shape) != tuple(params[name].shape):
            raise ValueError(f"mask entry {name!r} has shape {tuple(m.shape)} but the parameter has "
                             f"shape {tuple(params[name].shape)}")


class Masker:
    """A mask made ready to apply to ``model`` many times: aligned lists of (parameter, float mask),
    one fused multiply per :meth:`apply`.

    The training loop masks only the weights, once per step after the update: every optimiser here
    (SGD with momentum and weight decay, Adam, AdamW) updates each element from that element's own
    gradient and state alone, so a pruned element's update never reaches a kept one, and zeroing the
    weight after the step keeps it exactly 0 (its momentum/moment state is never read for a kept
    weight). Masking the gradients too changed no kept weight and cost a second pass per step (issue 14).
    Entries that keep everything are left out: multiplying by ones changes nothing and costs a pass.
    The float masks take their parameter's dtype, device and memory format (strides): CUDA's fused
    ``_foreach`` kernels need equal strides in both lists, and a channels_last parameter with a
    contiguous mask would fall back to one kernel per tensor.
    """

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor] | None):
        masks = masks or {}
        params = dict(model.named_parameters())
        missing = [n for n in masks if n not in params]
        if missing:
            raise ValueError(f"mask entries {missing} are not parameters of the model")
        names = list(masks)
        full = torch.stack([(masks[n] == 1).all().to(masks[names[0]].device) for n in names]).tolist() \
            if names else []
        active = [n for n, f in zip(names, full) if not f]  # one read-back for all, once per phase
        self.params = [params[n] for n in active]
        self.masks = [torch.empty_like(p).copy_(masks[n]) for n, p in zip(active, self.params)]

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned weights in place."""
        if self.params:
            torch._foreach_mul_(self.params, self.masks)


@torch.no_grad()
def apply(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights of ``model`` in place (one fused multiply; unlike :class:`Masker`, which
    is built once per phase, nothing is read back to the host: searches call this every step)."""
    if not masks:
        return
    params = dict(model.named_parameters())
    missing = [n for n in masks if n not in params]
    if missing:
        raise ValueError(f"mask entries {missing} are not parameters of the model")
    ps = [params[n] for n in masks]
    torch._foreach_mul_(ps, [m.to(p.dtype) for p, m in zip(ps, masks.values())])


def count(masks: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """``(kept, total)``: the number of kept weights and of prunable weights."""
    kept = sum(int(torch.count_nonzero(m)) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    return kept, total


def density(masks: Mapping[str, torch.Tensor]) -> float:
    """Global density: the fraction of prunable weights kept.

    A mask without a single weight has no density (0/0): ValueError, rather than a made-up 1.0.
    """
    if not isinstance(masks, Mapping):
        raise TypeError(f"masks must be a dict of parameter name -> tensor, got {type(masks).__name__}")
    kept, total = count(masks)
    if total == 0:
        raise ValueError(f"masks (layers: {', '.join(masks) or 'none'}) covers no weight: its density is undefined")
    return kept / total


def layer_density(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Density of each masked parameter, by name."""
    return {k: int(torch.count_nonzero(m)) / m.numel() for k, m in masks.items()}


@torch.no_grad()
def rewind(model: nn.Module, state: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> None:
    """Load ``state`` (θ_k, a state dict) into ``model`` and zero the pruned weights: the ticket at k."""
    model.load_state_dict(state)
    apply(model, masks)

"""How a mask lives on a model: which weights are prunable, apply, count, density, rewind.

A mask is plain data — a ``dict`` from parameter name (as in ``model.named_parameters()``) to a
tensor of the parameter's shape, ``True``/1 where the weight is kept — never module surgery. Only the
weights of ``nn.Linear`` and ``nn.Conv2d`` modules are prunable: biases and BatchNorm never are.

Pruned weights stay exactly zero and get no update: the training loop multiplies their gradients by
the mask before the optimiser step and the weights by the mask after it (:func:`apply`,
the training loop's masker), so neither momentum nor weight decay can move them.

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

import torch
from torch import nn

__all__ = [
    "Mask", "prunable", "ones_like", "apply", "density", "layer_density", "count",
    "check", "rewind", "to_bool", "param_key",
]

#: A mask: parameter name -> bool tensor of the parameter's shape (True = kept).
Mask = dict[str, torch.Tensor]

_PRUNABLE_MODULES = (nn.Linear, nn.Conv2d)


def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The prunable parameters of ``model``, by name: the weights of its Linear and Conv2d modules."""
    out: dict[str, nn.Parameter] = {}
    for mod_name, module in model.named_modules():
        if isinstance(module, _PRUNABLE_MODULES) and isinstance(module.weight, nn.Parameter):
            out[f"{mod_name}.weight" if mod_name else "weight"] = module.weight
    return out


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


def _pairs(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    params = dict(model.named_parameters())
    names = list(masks)
    return [params[n] for n in names], [masks[n] for n in names]


@torch.no_grad()
def apply(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights of ``model`` in place."""
    if not masks:
        return
    ps, ms = _pairs(model, masks)
    torch._foreach_mul_(ps, [m.to(p.dtype) for p, m in zip(ps, ms)])


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

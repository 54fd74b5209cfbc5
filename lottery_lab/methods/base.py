"""What a method is: how it trains while searching, and how it turns that into a binary mask.

A method is one small class (after jaxpruner's ``calculate_scores → create_masks``). The lottery
runner calls, once per round after round 0, with the current ticket (its trained weights, pruned
weights zero) and its mask:

1. ``search(model, mask, ctx)`` → a :class:`Search` (a module to train with the method's own
   parameters, callbacks and optimiser groups) or ``None`` when the trained ticket is enough (IMP).
   The runner trains it — checkpointed, resumable — with the run's training settings.
2. ``prune(model, mask, ctx, search)`` → the next mask (bool tensors, a subset of ``mask``).

Everything random must come from ``ctx.generator`` (seeded from the run's seed and the round), so a
rerun draws the same masks. Register a subclass with :func:`register` and every front end (the
runner, the CLI, the notebooks) can use it by name.
"""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from lottery_lab._registry import Registry
from lottery_lab._validation import Options, check_int, check_keywords, check_real, validate
from lottery_lab.masks import Mask
from lottery_lab.train import Callback

__all__ = ["Method", "Search", "Context", "register", "unregister", "get", "names", "defaults", "hashed_kwargs", "prune_lowest",
           "check_fraction", "check_nonnegative", "check_positive", "check_count", "check_option"]

_REGISTRY: Registry[type["Method"]] = Registry("method", group="lottery_lab.methods", package="lottery_lab.methods")


@dataclass
class Context:
    """Where the search happens: the round, the only source of randomness a method may use, and what
    methods that prune at initialisation need: the rewind weights θ_k (a state dict of the model) and
    the training data (a :class:`lottery_lab.data.Dataset`, on the run's device)."""

    round_index: int
    generator: torch.Generator
    rewind_state: dict[str, torch.Tensor] | None = None
    data: Any = None
    #: what the method's :meth:`Method.carry_state` returned in the previous round (``None`` in round 1)
    carry: dict[str, Any] | None = None


@dataclass
class Search:
    """Training a method does before it prunes (see the module docstring).

    ``masks`` are keyed by ``module``'s parameter names: entries there stay exactly zero during the
    search. ``epochs=None`` means the run's training length.
    """

    module: nn.Module
    masks: Mask
    param_groups: list[dict[str, Any]]
    callbacks: list[Callback] = field(default_factory=list)
    epochs: int | None = None


class Method(abc.ABC):
    """Base class of pruning methods; subclasses set ``name`` and implement :meth:`prune`."""

    name: ClassVar[str] = ""
    #: ``False`` for strong tickets: the runner evaluates the found ticket as it is, without training it
    retrain: ClassVar[bool] = True
    #: ``True`` when a round's mask may keep weights an earlier round pruned (cs's reference rule;
    #: a method may set it per instance)
    revives: bool = False
    #: The argument values a run's hash leaves out (see :func:`hashed_kwargs`): the defaults the
    #: method had when its runs were first stored. A changed default then changes the hash by itself;
    #: a new argument is hashed unless its default (the old behaviour) is added here. ``None``:
    #: every argument is hashed.
    hash_baseline: ClassVar[Mapping[str, Any] | None] = None
    #: how :mod:`lottery_lab.compare` reaches a target density: candidate
    #: :class:`~lottery_lab.methods.recipe.Recipe`\ s, the first the method accepts wins (none: rounds with defaults)
    recipes: ClassVar[tuple] = ()

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search | None:
        """The training to do before pruning, or ``None`` to prune the trained ticket directly."""
        return None

    @abc.abstractmethod
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        """The next mask (bool, kept ⊆ ``mask``'s kept), from the trained ticket (and the search)."""

    def searched(self, search: Search | None, module_type: type) -> nn.Module:
        """The module ``search`` trained, checked to be this method's own; for methods that prune from it."""
        if search is None or not isinstance(search.module, module_type):
            raise ValueError(f"the {self.name} method prunes from its search: pass the Search that search() returned")
        return search.module

    def ticket_state(self, rewind_state: dict[str, torch.Tensor], mask: Mask) -> dict[str, torch.Tensor]:
        """The weights the ticket starts from (before the mask zeroes the pruned ones): θ_k by default."""
        return rewind_state

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """Continuous scores worth keeping beside the mask (e.g. the relaxed mask m), or ``None``."""
        return None

    def found_network(self, search: Search | None, mask: Mask) -> dict[str, torch.Tensor] | None:
        """Strong tickets: the state dict of the network the search found (weights, BatchNorm
        statistics), evaluated as it is under ``mask``; ``None``: the ticket is :meth:`ticket_state`."""
        return None

    def carry_state(self, search: Search | None) -> dict[str, Any] | None:
        """State the next round's search starts from (``ctx.carry`` there), or ``None`` for none."""
        return None

    def kwargs(self) -> dict[str, Any]:
        """The constructor arguments this method was built with (for records and hashing)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs().items())
        return f"{type(self).__name__}({args})"


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make ``cls`` available as ``methods.get(cls.name)``."""
    if not (isinstance(cls, type) and issubclass(cls, Method)) or not cls.name:
        raise TypeError("register() needs a Method subclass with a non-empty `name`")
    return _REGISTRY.register(cls.name, cls)


def unregister(name: str) -> type[Method]:
    """Remove method ``name`` (a plug-in or a test's method); returns its class."""
    return _REGISTRY.unregister(name)


def names() -> list[str]:
    """Registered method names."""
    return list(_REGISTRY)


def get(name: str, **kw: Any) -> Method:
    """The method registered as ``name``, built with its keyword arguments (validated): ValueError for
    an unknown name, TypeError for an argument it does not take (as calling the class would)."""
    cls = _REGISTRY.get(name)
    check_keywords(f"method {name!r}", kw, list(inspect.signature(cls).parameters))
    return cls(**kw)


def defaults(name: str) -> dict[str, Any]:
    """The default keyword arguments of method ``name``."""
    return {k: p.default for k, p in inspect.signature(_REGISTRY.get(name)).parameters.items()
            if p.default is not inspect.Parameter.empty}


def hashed_kwargs(name: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    """The method arguments that enter a run's hash: its fully resolved arguments (defaults overlaid
    with ``kw``) less those equal to the method's :attr:`Method.hash_baseline`.

    Run folders stored before a default changed keep their hash exactly when the arguments they
    computed with are still the resolved ones.
    """
    baseline = _REGISTRY.get(name).hash_baseline or {}
    resolved = {**defaults(name), **kw}
    return {k: v for k, v in resolved.items() if k not in baseline or baseline[k] != v}


# the checks methods' constructors share (lottery_lab._validation constraints, by name)

def check_fraction(arg: str, value: Any) -> float:
    """``value`` as a float in the open interval (0, 1)."""
    return check_real(arg, value, 0, 1, closed="neither")


def check_nonnegative(arg: str, value: Any) -> float:
    """``value`` as a finite float >= 0 (a penalty weight λ)."""
    return check_real(arg, value, 0)


def check_positive(arg: str, value: Any) -> float:
    """``value`` as a finite float > 0 (a step size, a temperature)."""
    return check_real(arg, value, 0, None, closed="neither")


def check_count(arg: str, value: Any, allow_none: bool = False) -> int | None:
    """``value`` as an integer >= 1 (or ``None`` where allowed)."""
    return check_int(arg, value, 1, none_ok=allow_none)


def check_option(arg: str, value: Any, options: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``options``."""
    return validate(arg, value, Options(options))


@torch.no_grad()
def prune_lowest(scores: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor], fraction: float,
                 tiebreak: Mapping[str, torch.Tensor] | None = None) -> Mask:
    """Prune ``round(fraction · kept)`` of the kept weights: those with the lowest scores, globally.

    Exactly that many are pruned (at least one while more than one is kept); ties go to the lower
    ``tiebreak`` score, then to the earlier position in the mask's parameter order. Each new mask has
    its old mask's memory format (channels_last stays channels_last), so masks keep their parameters'
    strides from round to round.
    """
    names_ = list(mask)
    keep = torch.cat([mask[n].reshape(-1).bool() for n in names_])
    flat = torch.cat([scores[n].detach().reshape(-1).float() for n in names_])
    flat = torch.where(keep, flat, torch.full_like(flat, float("inf")))
    alive = int(keep.sum())
    n_prune = min(alive - 1, max(1, round(fraction * alive))) if alive > 1 else 0
    keep = keep.clone()
    if tiebreak is not None or n_prune == 0 or bool(torch.isnan(flat).any()):
        if tiebreak is not None:
            order = torch.argsort(torch.cat([tiebreak[n].detach().reshape(-1).float() for n in names_]), stable=True)
            order = order[torch.argsort(flat[order], stable=True)]
        else:
            order = torch.argsort(flat, stable=True)
        keep[order[:n_prune]] = False
    else:
        # the first n_prune of a stable ascending sort, found without sorting (kthvalue is linear):
        # every score below the n_prune-th smallest v, then the earliest positions holding v
        v = torch.kthvalue(flat, n_prune).values
        below = flat < v
        at_v = torch.nonzero(flat == v).flatten()[:n_prune - int(below.sum())]
        keep[below] = False
        keep[at_v] = False
    out, i = {}, 0
    for n in names_:
        k = mask[n].numel()
        out[n] = torch.empty_like(mask[n], dtype=torch.bool).copy_(keep[i:i + k].view(mask[n].shape))
        i += k
    return out

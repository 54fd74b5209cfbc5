"""How a method reaches a density (:class:`Recipe`); each method class owns its recipes
(:attr:`lottery_lab.methods.Method.recipes`), :mod:`lottery_lab.compare` reads them from the registry.

Part of the methods package (its classes import it at definition), so no methods<->recipe cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["Recipe", "ONE_SHOT", "HALVING"]


@dataclass(frozen=True)
class Recipe:
    """How a method reaches a density: a per-target argument (``knob``) or pruning rounds.

    Parameters
    ----------
    knob : the method argument set from each target (one run per target, one round); ``None``:
        rounds (one run per seed, played until the smallest target, a stall or ``max_rounds``).
    complement : the knob is the fraction *pruned*: it is set to 1 − target.
    method_kw : fixed method arguments (the knob's value is added per target).
    max_rounds : the most rounds a rounds recipe plays.
    """

    knob: str | None = None
    complement: bool = False
    method_kw: Mapping[str, Any] = field(default_factory=dict)
    max_rounds: int = 8

    def accepts(self, method: str) -> bool:
        """Whether ``method`` takes every argument this recipe sets."""
        from lottery_lab import methods

        allowed = set(methods.defaults(method))
        return set(self.method_kw) <= allowed and (self.knob is None or self.knob in allowed)

    def kwargs(self, target: float | None) -> dict[str, Any]:
        """The method's arguments for ``target`` (knob recipes) or for its rounds (``target=None``)."""
        kw = dict(self.method_kw)
        if self.knob is not None and target is not None:
            kw[self.knob] = round(1.0 - target, 12) if self.complement else float(target)
        return kw

    def describe(self) -> str:
        fixed = ", ".join(f"{k}={v!r}" for k, v in self.method_kw.items())
        if self.knob is None:
            return f"rounds ({fixed or 'defaults'}) until the smallest target, a stall or {self.max_rounds} rounds"
        value = "1 − target" if self.complement else "target"
        return f"one run per target: {self.knob} = {value}" + (f"; {fixed}" if fixed else "") + ", 1 round"


#: pruning at init: one-shot per target, the knob is the fraction pruned
ONE_SHOT = Recipe(knob="prune_fraction", complement=True)
#: IMP and random halve the density per round (50%, 25%, 12.5%, 6.25%, 3.1%, 1.6%: 6 rounds instead
#: of 18 at 20% per round)
HALVING = Recipe(method_kw={"prune_fraction": 0.5}, max_rounds=12)

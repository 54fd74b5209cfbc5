"""The concave-regularised relaxed mask: train θ and m ∈ [0, 1] jointly, then threshold m.

Every kept prunable weight gets a mask entry m, the network computes with the effective weight
θ ⊙ m, and the training objective is L(θ ⊙ m) + λ Σ R(m) with a concave sparsity penalty R from
:mod:`lottery_lab.penalties` (log by default). Each step is a projected gradient step on (θ, m):
the optimiser steps both, then m is clipped to [0, 1] (entries already pruned stay 0). The gradient
with respect to m is θ ⊙ ∂L/∂w + λ R'(m) (R' the right derivative at 0). Afterwards the new mask keeps
the weights with m ≥ α — or, as an ablation, the kept weights minus the fraction ``prune_fraction``
with the smallest m.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lottery_lab.methods.recipe import Recipe
from lottery_lab import penalties
from lottery_lab.masks import Mask
from lottery_lab.masks import param_key as _key
from lottery_lab.methods.masked_net import RelaxedMaskNet  # noqa: F401  (its old home: re-exported)
from lottery_lab.methods.base import (Context, Method, Search, check_count, check_fraction,
                                       check_nonnegative, check_positive, prune_lowest, register)
from lottery_lab.train import Callback, TrainState
from lottery_lab._validation import check_real


class _PenaltyProjection(Callback):
    """Adds λ R'(m) to m's gradient after backward; clips m to [0, 1] after each step.

    R' is the penalty's ``slope`` (right derivative at 0, no sign handling: m ≥ 0), computed into
    buffers kept from step to step (:meth:`Penalty.slope_`, the same numbers as ``slope``); the clip is
    one ``clamp_`` per tensor (both bounds in one pass)."""

    def __init__(self, ms: list[torch.Tensor], penalty: penalties.Penalty, lam: float):
        self.ms, self.penalty, self.lam = ms, penalty, lam
        self._slopes: list[torch.Tensor] = []

    def slopes(self) -> list[torch.Tensor]:
        """R'(m) for every m, in the kept buffers."""
        if len(self._slopes) != len(self.ms) or any(
                s.shape != m.shape or s.dtype != m.dtype or s.device != m.device for s, m in zip(self._slopes, self.ms)):
            self._slopes = [torch.empty_like(m, requires_grad=False) for m in self.ms]
        return [self.penalty.slope_(m.detach(), s) for m, s in zip(self.ms, self._slopes)]

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        if self.lam:
            torch._foreach_add_([m.grad for m in self.ms], self.slopes(), alpha=self.lam)

    @torch.no_grad()
    def after_step(self, state: TrainState) -> None:
        for m in self.ms:
            m.clamp_(0.0, 1.0)


class _DensityDrivenPenalty(_PenaltyProjection):
    """The penalty weight λ as a multiplier for the constraint density ≤ target (this project's own
    combination of the concave mask with the constrained idea of Gallego-Posada et al. 2022).

    After each step the density d = #{m ≥ α} / #weights is measured and λ ascends in log space,
    log λ ← log λ + η (d − target): λ grows while the ticket would be too dense and shrinks while it
    would be too sparse. Log space makes the step scale-free (λ's useful range spans decades and
    depends on the model), and keeps λ > 0. λ lives in ``lam_t``, a buffer of the searched module,
    so a resumed search continues exactly. The count, the ascent and λ's use all stay on the device:
    the step never reads them back.
    """

    def __init__(self, ms: list[torch.Tensor], penalty: penalties.Penalty, lam_t: torch.Tensor,
                 alpha: float, target: float, dual_lr: float, total: int):
        self.ms, self.penalty, self._slopes = ms, penalty, []
        self.lam_t, self.alpha, self.target, self.dual_lr, self.total = lam_t, alpha, target, dual_lr, total

    @property
    def lam(self) -> float:  # type: ignore[override]
        """λ now (a read-back: for inspection, never used in the step)."""
        return float(self.lam_t)

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        # grad + λ·R'(m), with λ in the gradients' precision (as ``alpha=λ`` rounds it)
        lam = self.lam_t.to(self.ms[0].dtype) if self.ms else self.lam_t
        torch._foreach_addcmul_([m.grad for m in self.ms], self.slopes(), [lam] * len(self.ms))

    @torch.no_grad()
    def after_step(self, state: TrainState) -> None:
        super().after_step(state)
        kept = torch.stack([(m >= self.alpha).sum() for m in self.ms]).sum()
        self.lam_t.mul_(torch.exp(self.dual_lr * (kept.to(self.lam_t.dtype) / self.total - self.target)))


@register
class Concave(Method):
    """Relaxed mask m ∈ [0, 1] under a concave penalty, trained jointly with θ, thresholded at α.

    Parameters
    ----------
    lam : λ ≥ 0, the penalty weight (penalties have slope 1 at 0⁺, so λ is comparable across them).
    alpha : threshold in (0, 1): weights with m < α are pruned.
    penalty : a :func:`lottery_lab.penalties.names` entry (``"l0"`` has zero gradient: no pull).
    penalty_kw : the penalty's parameters, e.g. ``{"eps": 0.1}`` for ``log``.
    mask_lr : learning rate of m, in the run optimiser's units (θ uses the run's ``lr``; m gets no
        weight decay). A single weight's data gradient θ ∂L/∂w is tiny (LeNet: ~1e-6 to 1e-4), so λ
        must be of that order for the data to compete with the penalty, and m needs a large
        learning rate to move within a round: the defaults (SGD with momentum 0.9) were chosen on
        mnist5k's validation split with LeNet-300-100 and 10 epochs per round. With Adam, whose
        steps are about lr whatever the gradient's scale, retune it (far smaller).
    mask_init : the value m starts at on the kept weights, in (0, 1].
    epochs : search length in epochs (``None``: the run's training length).
    prune_fraction : ablation — prune this fraction of the kept weights with the smallest m (ties by
        |θ|) instead of thresholding at α.
    target_density : ask for a density instead of tuning λ: λ (starting at ``lam``) becomes a
        multiplier that rises while the fraction of weights with m ≥ α exceeds the target and falls
        while it is below (log-space ascent, step ``dual_lr``), and the ticket keeps exactly that
        fraction of all prunable weights, those with the largest m (ties by |θ|). This combination
        of the paper's mask with a density constraint is lottery_lab's own.
    dual_lr : the multiplier's step size in log space, > 0. λ can rise by e^{dual_lr·(1 − target)} a
        step but fall by at most e^{−dual_lr·target}, so at small targets the default overshoots: on
        digits/Conv-2 at 2 % the search drove m ≥ α to 0.004 % and the ticket reached 72 %, with
        ``dual_lr=0.1`` 95 % (``benchmarks/exp_headline.py collapse``, the book's headline page).
    """

    name = "concave"
    recipes = (Recipe(knob="target_density"), Recipe())  # how compare reaches a density
    hash_baseline = {"lam": 2e-5, "alpha": 0.5, "penalty": "log", "penalty_kw": None, "mask_lr": 100.0,
                     "mask_init": 1.0, "epochs": None, "prune_fraction": None, "target_density": None,
                     "dual_lr": 1.0}

    def __init__(self, lam: float = 2e-5, alpha: float = 0.5, penalty: str = "log",
                 penalty_kw: dict[str, Any] | None = None, mask_lr: float = 100.0, mask_init: float = 1.0,
                 epochs: int | None = None, prune_fraction: float | None = None,
                 target_density: float | None = None, dual_lr: float = 1.0):
        self.lam = check_nonnegative("lam", lam)
        self.alpha = check_fraction("alpha", alpha)
        self.penalty_kw = dict(penalty_kw or {})
        self.penalty = penalty
        self._penalty = penalties.get(penalty, **self.penalty_kw)
        self.mask_lr = check_positive("mask_lr", mask_lr)
        self.mask_init = check_real("mask_init", mask_init, 0, 1, closed="right")
        self.epochs = check_count("epochs", epochs, allow_none=True)
        self.prune_fraction = None if prune_fraction is None else check_fraction("prune_fraction", prune_fraction)
        self.target_density = None if target_density is None else check_fraction("target_density", target_density)
        self.dual_lr = check_positive("dual_lr", dual_lr)
        if self.target_density is not None and self.lam == 0:
            raise ValueError("lam=0 cannot start a target_density search: the multiplier grows from lam > 0")

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search:
        relaxed = RelaxedMaskNet(model, mask, self.mask_init)
        # only m needs the support: off it m = 0, so θ gets zero gradient there and stays 0
        support = {f"m.{_key(n)}": mask[n] for n in relaxed.names}
        groups = [{"params": list(model.parameters())},
                  {"params": list(relaxed.m.parameters()), "lr": self.mask_lr, "weight_decay": 0.0}]
        ms = list(relaxed.m.parameters())
        if self.target_density is None:
            callbacks = [_PenaltyProjection(ms, self._penalty, self.lam)]
        else:
            relaxed.register_buffer("lam_t", torch.tensor(self.lam, dtype=torch.float64,
                                                           device=ms[0].device if ms else None))
            total = sum(m.numel() for m in ms)
            callbacks = [_DensityDrivenPenalty(ms, self._penalty, relaxed.lam_t, self.alpha, self.target_density,
                                               self.dual_lr, total)]
        return Search(relaxed, support, groups, callbacks, self.epochs)

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """The relaxed mask m (before thresholding), by parameter name."""
        return None if search is None else search.module.relaxed_mask()

    @torch.no_grad()
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        m = self.searched(search, RelaxedMaskNet).relaxed_mask()
        fraction = self.prune_fraction
        if self.target_density is not None:
            kept = sum(int(mask[n].sum()) for n in mask)
            goal = round(self.target_density * sum(mask[n].numel() for n in mask))
            if goal >= kept:
                return {n: mask[n].bool().clone() for n in mask}
            fraction = 1 - goal / kept
        if fraction is None:
            return {n: mask[n].bool() & (m[n] >= self.alpha) for n in mask}
        params = dict(model.named_parameters())
        return prune_lowest(m, mask, fraction, tiebreak={n: params[n].abs() for n in mask})

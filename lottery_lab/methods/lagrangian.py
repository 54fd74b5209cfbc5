"""Density constraints by Lagrange multipliers (Gallego-Posada et al., NeurIPS 2022, "Controlled Sparsity
via Constrained Optimization"), for ``l0``'s constrained mode. (``concave`` with ``target_density`` drives
its λ by the same kind of ascent, in log space: ``_DensityDrivenPenalty`` in :mod:`lottery_lab.methods.concave`.)

The problem min_θ L(θ) s.t. d_g(θ) ≤ target_g for each group g (one global group, or one per layer)
is played as a min-max game on L(θ) + Σ_g μ_g (d_g(θ) − target_g): the model descends, the multipliers
μ_g ≥ 0 ascend by projected gradient, μ_g ← max(0, μ_g + (η / target_g)(d_g − target_g)). A *dual
restart* sets μ_g back to 0 as soon as its constraint holds, so a satisfied constraint stops pulling.

The step size η / target_g makes the ascent count the violation relative to the target: a network at
10 % density when asked for 5 % is as far off as one at 100 % asked for 50 %. Lower targets need larger
multipliers (the loss resists each further gate more), and this way the multipliers get there within
the same number of steps instead of ever more slowly.
"""

from __future__ import annotations

import torch

from lottery_lab._validation import check_flag


class DensityMultipliers:
    """One multiplier per constrained group, updated by projected gradient ascent with dual restarts.

    The multipliers live in a tensor (``mu``, in the order of ``targets``) that the owner may register
    as a module buffer, so that they are checkpointed and a resumed search continues exactly.

    Parameters
    ----------
    targets : dict[str, float]
        Target density per group (``{"global": 0.1}`` or one entry per layer), each in (0, 1).
    lr : float
        Dual step size η > 0, per unit of relative violation: group g steps by η / target_g.
    restarts : bool
        Reset a multiplier to 0 whenever its constraint is satisfied.
    mu : torch.Tensor, optional
        Storage for the multipliers (updated in place); zeros by default.
    """

    def __init__(self, targets: dict[str, float], lr: float = 1e-2, restarts: bool = True,
                 mu: torch.Tensor | None = None):
        if not targets:
            raise ValueError("targets must name at least one group")
        for g, t in targets.items():
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
                raise ValueError(f"target density for {g!r} must be in (0, 1), got {t!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"dual lr must be > 0, got {lr!r}")
        self.groups = list(targets)
        self.lr = float(lr)
        self.restarts = check_flag("restarts", restarts)
        self.mu = torch.zeros(len(targets), dtype=torch.float64) if mu is None else mu
        self.targets = torch.tensor([float(targets[g]) for g in self.groups], dtype=self.mu.dtype,
                                    device=self.mu.device)

    def lagrangian_term(self, densities: torch.Tensor) -> torch.Tensor:
        """Σ_g μ_g (d_g − target_g), with ``densities`` in the order of the groups: add it to the loss."""
        return (self.mu.to(densities.dtype) * (densities - self.targets.to(densities.dtype))).sum()

    @torch.no_grad()
    def step(self, densities: torch.Tensor) -> None:
        """One projected ascent step on every multiplier, μ_g ← max(0, μ_g + (η / target_g)(d_g − target_g))."""
        violation = densities.detach().to(self.mu.dtype) - self.targets
        ascended = (self.mu + self.lr * violation / self.targets).clamp_min(0.0)
        if self.restarts:
            ascended = torch.where(violation <= 0, torch.zeros_like(ascended), ascended)
        self.mu.copy_(ascended)

"""Density constraints by Lagrange multipliers (Gallego-Posada et al., NeurIPS 2022, "Controlled Sparsity
via Constrained Optimization"), shared by ``l0`` (constrained mode) and ``concave`` with ``target_density``.

The problem min_θ L(θ) s.t. d_g(θ) ≤ target_g for each group g (one global group, or one per layer)
is played as a min-max game on L(θ) + Σ_g μ_g (d_g(θ) − target_g): the model descends, the multipliers
μ_g ≥ 0 ascend by projected gradient, μ_g ← max(0, μ_g + η (d_g − target_g)). A *dual restart* sets
μ_g back to 0 as soon as its constraint holds, so a satisfied constraint stops pulling.
"""

from __future__ import annotations

import torch


class DensityMultipliers:
    """One multiplier per constrained group, updated by projected gradient ascent with dual restarts.

    Parameters
    ----------
    targets : dict[str, float]
        Target density per group (``{"global": 0.1}`` or one entry per layer), each in (0, 1).
    lr : float
        Dual step size η > 0.
    restarts : bool
        Reset a multiplier to 0 whenever its constraint is satisfied.
    """

    def __init__(self, targets: dict[str, float], lr: float = 1e-2, restarts: bool = True):
        if not targets:
            raise ValueError("targets must name at least one group")
        for g, t in targets.items():
            if not 0 < float(t) < 1:
                raise ValueError(f"target density for {g!r} must be in (0, 1), got {t}")
        if not lr > 0:
            raise ValueError(f"dual lr must be > 0, got {lr}")
        self.targets = {g: float(t) for g, t in targets.items()}
        self.lr = float(lr)
        self.restarts = bool(restarts)
        self.mu = {g: 0.0 for g in targets}

    def lagrangian_term(self, densities: dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_g μ_g (d_g − target_g): add it to the loss so the model feels the constraint."""
        return sum(self.mu[g] * (densities[g] - t) for g, t in self.targets.items())

    def step(self, densities: dict[str, float | torch.Tensor]) -> None:
        """One projected ascent step on every multiplier, from the current densities d_g."""
        for g, t in self.targets.items():
            violation = float(densities[g]) - t
            if self.restarts and violation <= 0:
                self.mu[g] = 0.0
            else:
                self.mu[g] = max(0.0, self.mu[g] + self.lr * violation)

    def state_dict(self) -> dict:
        return {"mu": dict(self.mu)}

    def load_state_dict(self, state: dict) -> None:
        self.mu = {g: float(v) for g, v in state["mu"].items()}

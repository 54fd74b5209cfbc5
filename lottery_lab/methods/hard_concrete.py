"""The hard-concrete distribution of Louizos, Welling & Kingma (2018), the gate behind ``l0``.

A gate z ∈ [0, 1] per weight: u ~ U(0, 1), s = σ((log u − log(1 − u) + log α)/β),
z = min(1, max(0, s(ζ − γ) + γ)). Stretching s to (γ, ζ) ⊃ [0, 1] and clipping puts point masses at
exactly 0 and 1, so E‖z‖₀ has a closed form and is differentiable in log α.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HardConcrete:
    """Parameters of the stretched, clipped concrete distribution (the paper's defaults)."""

    beta: float = 2.0 / 3.0
    gamma: float = -0.1
    zeta: float = 1.1

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0 (the concrete temperature), got {self.beta}")
        if not (self.gamma < 0 and self.zeta > 1):
            raise ValueError(f"need gamma < 0 < 1 < zeta to stretch past [0, 1], got gamma={self.gamma}, zeta={self.zeta}")

    def sample(self, log_alpha: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A reparameterised sample z (differentiable in ``log_alpha``)."""
        u = torch.rand(log_alpha.shape, generator=generator, device=log_alpha.device, dtype=log_alpha.dtype)
        u = u.clamp(1e-6, 1 - 1e-6)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / self.beta)
        return (s * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)

    def deterministic(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """The test-time gate min(1, max(0, σ(log α)(ζ − γ) + γ))."""
        return (torch.sigmoid(log_alpha) * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)

    def prob_nonzero(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """P(z ≠ 0) = σ(log α − β log(−γ/ζ)); summed, the expected L0 norm."""
        return torch.sigmoid(log_alpha - self.beta * math.log(-self.gamma / self.zeta))

    def prob_one(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """P(z = 1) = σ(log α − β log((1 − γ)/(ζ − 1)))."""
        return torch.sigmoid(log_alpha - self.beta * math.log((1 - self.gamma) / (self.zeta - 1)))

    def log_alpha_for_density(self, density: float) -> float:
        """The log α at which P(z ≠ 0) equals ``density`` (a starting point for the gates)."""
        if not 0 < density < 1:
            raise ValueError(f"density must be in (0, 1), got {density}")
        return math.log(density / (1 - density)) + self.beta * math.log(-self.gamma / self.zeta)

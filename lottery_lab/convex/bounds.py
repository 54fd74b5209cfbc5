"""How far a stationary mask can be from a binary reference mask (proof: the book's theory page).

For L γ-strongly convex on the box, any stationary point m̂ of L + λR on [0, 1]^d and any binary
m_ref,

    ‖m̂ − m_ref‖₂ ≤ ‖Π_T(−∇L(m_ref) − λ R'(m̂))‖₂ / γ,

where Π_T projects onto the tangent cone of the box at m_ref: it keeps the positive part of the
coordinates with m_ref = 0 and the negative part of those with m_ref = 1.  For ℓ1, R' ≡ 1 on the
box, so the bound is known before solving; for a concave R it is evaluated at m̂.
Corollary: if the bound is below min(α, 1 − α), thresholding m̂ at α returns m_ref exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lottery_lab import penalties
from lottery_lab.convex.problem import MaskProblem
from lottery_lab._validation import check_lam, check_mask, check_real, invalid
from lottery_lab.convex.solvers import mask_penalty, solve_pgd

__all__ = ["BoundResult", "mask_error_bound", "tangent_projection"]


@dataclass(frozen=True)
class BoundResult:
    """The right-hand side of the mask error bound, its parts, and the corollary.

    Attributes
    ----------
    bound : float
        ‖Π_T(−∇L(m_ref) − λR'(m̂))‖₂ / γ (inf when γ = 0).
    residual : float
        The numerator ‖Π_T(−∇L(m_ref) − λR'(m̂))‖₂.
    gamma : float
        The certified strong-convexity constant of L on the box.
    alpha : float
        The threshold of the corollary.
    certifies_exact : bool
        bound < min(α, 1 − α): then 1{m̂ > α} = m_ref.
    m_hat : ndarray or None
        The stationary point the bound was evaluated at (None for ℓ1, whose bound needs none).
    """

    bound: float
    residual: float
    gamma: float
    alpha: float
    certifies_exact: bool
    m_hat: np.ndarray | None


def tangent_projection(v: np.ndarray, m_ref: np.ndarray) -> np.ndarray:
    """Π_T(v): the positive part where m_ref = 0, the negative part where m_ref = 1."""
    return np.where(m_ref == 0, np.maximum(v, 0.0), np.minimum(v, 0.0))


def mask_error_bound(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float,
                     m_ref: np.ndarray, m_hat: np.ndarray | None = None,
                     alpha: float = 0.5) -> BoundResult:
    """Bound ‖m̂ − m_ref‖₂ for the stationary point m̂ of L + λR on the box.

    Parameters
    ----------
    prob : MaskProblem
        L; its ``gamma`` is the strong-convexity constant used.
    penalty : str or Penalty
        ``"l1"`` (a-priori bound, m_hat unused) or a concave penalty (the bound uses R'(m̂)).
    lam : float
        λ ≥ 0.
    m_ref : array of shape (d,)
        A binary reference mask, e.g. the true mask of a synthetic model.
    m_hat : array of shape (d,), optional
        The stationary point the bound is about; for a concave penalty, computed with
        :func:`solve_pgd` when omitted.
    alpha : float
        Threshold of the corollary, in (0, 1).

    Returns
    -------
    BoundResult
    """
    P = mask_penalty(penalty)
    lam = float(check_lam(lam, single_for="mask_error_bound")[0][0])
    m_ref = np.asarray(m_ref, dtype=float)
    if m_ref.shape != (prob.d,) or not np.all((m_ref == 0) | (m_ref == 1)):
        raise invalid("m_ref", m_ref, f"a binary mask (values 0 and 1) of shape ({prob.d},)")
    check_real("alpha", alpha, 0, 1, closed="neither")
    if P.is_convex:
        m_hat, slope = None, np.ones(prob.d)
    else:
        m_hat = solve_pgd(prob, P, lam).m if m_hat is None else check_mask(m_hat, prob.d, "m_hat")
        slope = P.slope(m_hat)
    residual = float(np.linalg.norm(tangent_projection(-prob.grad(m_ref) - lam * slope, m_ref)))
    gamma = prob.gamma
    bound = residual / gamma if gamma > 0 else np.inf
    return BoundResult(bound, residual, gamma, float(alpha), bool(bound < min(alpha, 1 - alpha)), m_hat)

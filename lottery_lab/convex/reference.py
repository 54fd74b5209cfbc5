"""cvxpy references: exact solutions of the convex mask problems, and the stationarity certificates.

Every problem solved here is convex: the smooth part L plus a *linear* penalty ⟨c, m⟩ (c ≥ 0) over
the box.  ℓ1 is exactly that on the box (R(m) = Σ m_j, c = λ·1); a concave R is linearised at a
point, c = λR'(m^k).  The cvxpy problem is built once per MaskProblem with c as a parameter (DPP),
so reweighting steps and certificates re-solve without recompiling.
"""

from __future__ import annotations

import warnings
import weakref

import cvxpy as cp
import numpy as np

from lottery_lab import penalties
from lottery_lab.convex.problem import MaskProblem
from lottery_lab._validation import check_lam, check_mask
from lottery_lab.convex.solvers import MaskResult, mask_penalty, objective

__all__ = ["solve_cvxpy", "stationarity_gap", "stationarity_residual", "solve_linearised"]

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Linearised:
    """min_{m ∈ [0,1]^d} L(m) + ⟨c, m⟩ as a parametrised cvxpy problem (exponential cone, CLARABEL)."""

    def __init__(self, prob: MaskProblem):
        self.m = cp.Variable(prob.d)
        self.c = cp.Parameter(prob.d, nonneg=True)
        z = (prob.y[:, None] * prob.A) @ self.m
        smooth = cp.sum(cp.logistic(-z)) / prob.n + 0.5 * prob.ridge * cp.sum_squares(self.m)
        self.problem = cp.Problem(cp.Minimize(smooth + self.c @ self.m), [self.m >= 0, self.m <= 1])

    def solve(self, c: np.ndarray) -> np.ndarray:
        """Solve to CLARABEL's default tolerances (1e-8); where it stalls just short of them
        (status optimal_inaccurate), re-solve asking for 1e-7, still well inside every check here."""
        self.c.value = c
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            self.problem.solve(solver=cp.CLARABEL)
        if self.problem.status == cp.OPTIMAL_INACCURATE:
            self.problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-7, tol_gap_rel=1e-7, tol_feas=1e-7)
        if self.problem.status != cp.OPTIMAL:
            raise RuntimeError(f"CLARABEL did not solve the linearised mask problem: {self.problem.status}")
        return np.clip(self.m.value, 0.0, 1.0)


def solve_linearised(prob: MaskProblem, c: np.ndarray) -> np.ndarray:
    """The exact minimiser of L(m) + ⟨c, m⟩ over [0, 1]^d (c ≥ 0), by cvxpy with CLARABEL."""
    if prob not in _CACHE:
        _CACHE[prob] = _Linearised(prob)
    return _CACHE[prob].solve(np.asarray(c, dtype=float))


def solve_cvxpy(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float, *,
                m0: np.ndarray | None = None, tol: float = 1e-9, max_reweights: int = 100) -> MaskResult:
    """Reference solution: one exact convex solve for ℓ1, reweighted ℓ1 for a concave penalty.

    Reweighted ℓ1 is the majorise–minimise iteration m^{k+1} = argmin_box L(m) + λ⟨R'(m^k), m⟩:
    by the supergradient inequality its objective majorises F and touches it at m^k, so F decreases
    monotonically, and its fixed points are the stationary points of F.

    Parameters
    ----------
    prob : MaskProblem
    penalty : str or Penalty
        ``"l1"`` or a concave penalty (name or instance).
    lam : float
        λ ≥ 0 (a single value).
    m0 : array of shape (d,), optional
        First linearisation point of a concave penalty; default all ones, as in :func:`solve_pgd`.
    tol : float
        Reweighting stops when a step lowers F by at most tol·max(1, |F|).  (A test on m would sit
        at the interior-point solver's accuracy in m, about 1e-5 where F is flat.)
    max_reweights : int
        Limit on the number of convex solves.

    Returns
    -------
    MaskResult
        ``n_iter`` counts convex solves; ``history`` holds F after each.
    """
    P = mask_penalty(penalty)
    lam = float(check_lam(lam, single_for="solve_cvxpy")[0][0])
    if P.is_convex:
        m = solve_linearised(prob, np.full(prob.d, lam))
        f = float(objective(prob, P, lam, m))
        return MaskResult(m, f, 1, True, np.array([f]), lam, P)
    m = np.ones(prob.d) if m0 is None else check_mask(m0, prob.d, "m0")
    f, history, converged = float(objective(prob, P, lam, m)), [], False
    for _ in range(max_reweights):
        m = solve_linearised(prob, lam * P.slope(m))
        f_next = float(objective(prob, P, lam, m))
        history.append(f_next)
        converged = f - f_next <= tol * max(1.0, abs(f_next))
        f = f_next
        if converged:
            break
    return MaskResult(m, history[-1], len(history), converged, np.array(history), lam, P)


def _check_point(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float, m: np.ndarray,
                 what: str) -> tuple[penalties.Penalty, float, np.ndarray]:
    P = mask_penalty(penalty)
    return P, float(check_lam(lam, single_for=what)[0][0]), check_mask(m, prob.d, "m")


def stationarity_residual(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float,
                          m: np.ndarray) -> float:
    """The first-order residual ‖m − Π_[0,1](m − ∇L(m) − λR'(m))‖₂ (the projected gradient, unit step).

    It is 0 exactly at the stationary points of F = L + λΣR on the box and grows linearly with the
    distance from one (near a stationary point m*, about ‖∇²F(m*)(m − m*)‖ on the free
    coordinates), so "residual ≤ δ" means what it says.  Like :func:`stationarity_gap` it certifies
    stationarity, not optimality: a saddle or a strict local maximum of a concave penalty's F
    satisfies the same first-order conditions and gets 0 too.  Needs no solver.

    Parameters
    ----------
    prob : MaskProblem
    penalty : str or Penalty
    lam : float
        λ ≥ 0.
    m : array of shape (d,)
        A point of the box.

    Returns
    -------
    float
    """
    P, lam, m = _check_point(prob, penalty, lam, m, "stationarity_residual")
    g = prob.grad(m) + lam * P.slope(m)
    return float(np.linalg.norm(m - np.clip(m - g, 0.0, 1.0)))


def stationarity_gap(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float,
                     m: np.ndarray) -> float:
    """How far m is from stationary: G(m) = Φ_m(m) − min_box Φ_m, with Φ_m = L + λ⟨R'(m), ·⟩.

    Φ_m is convex; m is stationary for F = L + λΣR on the box iff it minimises Φ_m (the first-order
    conditions of the two coincide), so G ≥ 0 with equality iff m is stationary.  The minimum is
    the exact cvxpy optimum, evaluated in numpy; values below 0 (the solver's tolerance, ~1e-9)
    are reported as 0.

    G is a gap in objective value, so it is *quadratic* in the distance from stationarity where
    Φ_m is smooth and strongly convex (a point 1e-4 away gives G ≈ 1e-9): "G ≤ 1e-6" admits first-order
    residuals near 1e-3.  Report :func:`stationarity_residual` beside it.  Both certify
    stationarity only: G = 0 also at a saddle or a strict local maximum of F.

    Parameters
    ----------
    prob : MaskProblem
    penalty : str or Penalty
    lam : float
        λ ≥ 0.
    m : array of shape (d,)
        A point of the box.

    Returns
    -------
    float
    """
    P, lam, m = _check_point(prob, penalty, lam, m, "stationarity_gap")
    c = lam * P.slope(m)
    u = solve_linearised(prob, c)
    gap = (prob.loss(m) + c @ m) - (prob.loss(u) + c @ u)
    return max(float(gap), 0.0)

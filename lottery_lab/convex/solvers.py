"""Accelerated projected gradient on the mask m ∈ [0, 1]^d, batched over a path of λ.

One step, for any penalty R that is ℓ1 or concave on [0, ∞) with a finite slope at 0⁺, linearises
R where it steps from and projects onto the box:

    m⁺ = Π_[0,1]( m − t (∇L(m) + λ R'(m)) ),   t = 1 / Lip(∇L).

It decreases F = L + λΣR: the descent lemma gives L(m⁺) ≤ L(m) + ⟨∇L(m), Δ⟩ + ‖Δ‖²/(2t), the
supergradient inequality of the concave R gives R(m⁺) ≤ R(m) + ⟨R'(m), Δ⟩ (an equality for ℓ1 on
the box), and the projection gives ⟨∇L(m) + λR'(m), Δ⟩ ≤ −‖Δ‖²/t; together
F(m⁺) ≤ F(m) − ‖Δ‖²/(2t).  Its fixed points are exactly the stationary points of F on the box.
FISTA momentum accelerates it; a step from an extrapolated point is accepted only if it does not
increase F, otherwise the momentum restarts and the plain (decreasing) step is taken, so the
objective trace is monotone for every penalty.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from lottery_lab import penalties
# the checks the convex lab shares (their home is lottery_lab._validation; imported from here by older code)
from lottery_lab._validation import Interval, check_lam, check_mask, validate
from lottery_lab.convex.problem import MaskProblem

__all__ = ["MaskResult", "solve_pgd", "mask_penalty", "check_lam", "check_mask", "fista_momentum"]


@dataclass
class MaskResult:
    """A solution of the mask problem, for one λ or a path of them.

    Attributes
    ----------
    m : ndarray, shape (d,) or (k, d)
        The mask(s), one row per λ on a path.
    objective : float or ndarray of shape (k,)
        F(m).
    n_iter : int or ndarray of shape (k,)
        Iterations (PGD) or convex solves (reweighted ℓ1) taken.
    converged : bool or ndarray of shape (k,)
        Whether the stopping rule was met before the iteration limit.
    history : ndarray, shape (T,) or (T, k)
        F after every iteration; on a path a finished row keeps its final value.
    lam : float or ndarray of shape (k,)
        The regularisation weight(s).
    penalty : Penalty
        The penalty R.
    """

    m: np.ndarray
    objective: float | np.ndarray
    n_iter: int | np.ndarray
    converged: bool | np.ndarray
    history: np.ndarray
    lam: float | np.ndarray
    penalty: penalties.Penalty = field(repr=False)


def mask_penalty(penalty: str | penalties.Penalty) -> penalties.Penalty:
    """The Penalty for a name or instance, checked to be usable on masks (ℓ1 or concave on [0, ∞))."""
    P = penalties.get(penalty)
    if P.name == "l0":
        raise ValueError(
            "penalty 'l0' has no finite slope at 0+, which the mask solvers linearise; "
            f"allowed: {', '.join(n for n in penalties.names() if n != 'l0')}"
        )
    return P


def fista_momentum(tk: float | np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
    """FISTA's next t_{k+1} = (1 + √(1 + 4 t_k²))/2 and the extrapolation weight β = (t_k − 1)/t_{k+1}
    (elementwise for one t per row); shared by :func:`solve_pgd` and the weight-ℓ1 baseline."""
    tk_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
    return tk_next, (tk - 1.0) / tk_next


def objective(prob: MaskProblem, P: penalties.Penalty, lam: np.ndarray, m: np.ndarray,
              z: np.ndarray | None = None) -> np.ndarray:
    """F(m) = L(m) + λ Σ R(m_j), row-wise for a batch (``lam`` broadcasts against the rows)."""
    z = prob.margins(m) if z is None else z
    return prob.loss_from_margins(m, z) + lam * np.sum(P.value(m), axis=-1)


def solve_pgd(prob: MaskProblem, penalty: str | penalties.Penalty, lam: float | np.ndarray, *,
              m0: np.ndarray | None = None, tol: float = 1e-8, max_iter: int = 20_000) -> MaskResult:
    """Minimise F(m) = L(m) + λ Σ R(m_j) over the box by accelerated projected gradient.

    Parameters
    ----------
    prob : MaskProblem
        The smooth part L.
    penalty : str or Penalty
        R: ``"l1"`` or a concave penalty name (``"log"``, ``"lp"``, ``"scad"``, ``"mcp"``, ``"tl1"``)
        or a :class:`~lottery_lab.penalties.Penalty` (e.g. ``penalties.get("log", eps=0.05)``).
    lam : float or 1-d array
        λ ≥ 0.  An array is a path, solved as one batched computation (matrix products over all
        λ at once; a row stops being updated once it has converged).
    m0 : array of shape (d,), optional
        Starting mask in the box; default all ones (the dense model).
    tol : float
        Stop a row when the gradient mapping ‖y − m⁺‖/t at the point y it stepped from is at most
        ``tol``; the returned m⁺ then satisfies the first-order conditions up to a small multiple of
        ``tol`` (ℓ1: at most 2·tol).
    max_iter : int
        Iteration limit per row.

    Returns
    -------
    MaskResult
        For a scalar λ, m has shape (d,); for a path of k values, shape (k, d).
    """
    P = mask_penalty(penalty)
    lams, scalar = check_lam(lam)
    start = np.ones(prob.d) if m0 is None else check_mask(m0, prob.d, "m0")
    validate("tol", tol, Interval(numbers.Real, 0))
    validate("max_iter", max_iter, Interval(numbers.Integral, 1))
    k, t = len(lams), prob.step

    # state of the rows still running (compacted as rows finish)
    rows = np.arange(k)
    lam_a = lams.copy()
    m = np.tile(start, (k, 1))
    z = prob.margins(m)
    f = objective(prob, P, lam_a, m, z)
    m_prev, z_prev = m.copy(), z.copy()
    tk = np.ones(k)

    m_out, f_out = m.copy(), f.copy()
    it_out, conv_out = np.full(k, max_iter), np.zeros(k, dtype=bool)
    history = []
    for it in range(1, max_iter + 1):
        tk_next, beta = fista_momentum(tk)
        beta = beta[:, None]
        y = m + beta * (m - m_prev)
        zy = z + beta * (z - z_prev)  # margins are linear in m: no matrix product needed
        g = prob.grad_from_margins(y, zy) + lam_a[:, None] * P.slope(np.clip(y, 0.0, 1.0))
        m_new = np.clip(y - t * g, 0.0, 1.0)
        z_new = prob.margins(m_new)
        f_new = objective(prob, P, lam_a, m_new, z_new)
        pg = np.linalg.norm(y - m_new, axis=1) / t

        # a plain step (beta = 0) always decreases F; an extrapolated one must not increase it, else
        # the row stays put and restarts: tk = 1 and previous = current make the next beta 0
        accept = (beta[:, 0] == 0.0) | (f_new <= f)
        m_prev, z_prev = m, z
        m = np.where(accept[:, None], m_new, m)
        z = np.where(accept[:, None], z_new, z)
        f = np.where(accept, f_new, f)
        tk = np.where(accept, tk_next, 1.0)

        f_out[rows] = f
        history.append(f_out.copy())
        done = accept & (pg <= tol)
        if done.any() or it == max_iter:
            finished = done | (it == max_iter)
            m_out[rows[finished]] = m[finished]
            it_out[rows[done]] = it
            conv_out[rows[done]] = True
            keep = ~finished
            rows, lam_a, tk = rows[keep], lam_a[keep], tk[keep]
            m, z, f, m_prev, z_prev = m[keep], z[keep], f[keep], m_prev[keep], z_prev[keep]
            if rows.size == 0:
                break

    hist = np.array(history)
    if scalar:
        return MaskResult(m_out[0], float(f_out[0]), int(it_out[0]), bool(conv_out[0]), hist[:, 0],
                          float(lams[0]), P)
    return MaskResult(m_out, f_out, it_out, conv_out, hist, lams, P)

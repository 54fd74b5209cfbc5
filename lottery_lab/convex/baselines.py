"""Weight-space baselines for the mask lab: a dense logistic fit (the θ masks multiply) and ℓ1 on the
weights themselves, by proximal gradient (exact zeros) and by subgradient descent (no zeros, oscillates).

All three minimise (1/n) Σ log(1 + exp(−y_i x_iᵀ w)) + a penalty over w ∈ R^d (no intercept). That
loss is the mask problem's with θ = 1, so its margins, value and gradient come from
:class:`~lottery_lab.convex.problem.MaskProblem`, and FISTA's momentum from
:func:`~lottery_lab.convex.solvers.fista_momentum`, as in :func:`~lottery_lab.convex.solvers.solve_pgd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from lottery_lab import penalties
from lottery_lab._validation import check_lam
from lottery_lab.convex.problem import MaskProblem
from lottery_lab.convex.solvers import fista_momentum

__all__ = ["WeightResult", "fit_dense_theta", "weight_lam_max", "weight_l1_prox", "weight_l1_subgradient"]


@dataclass
class WeightResult:
    """Weights found by a weight-space method, one row per λ on a path.

    Attributes
    ----------
    w : ndarray (d,) or (k, d)
    objective : float or ndarray (k,)
        (1/n) Σ log(1 + exp(−y_i x_iᵀ w)) + λ‖w‖₁ at w.
    history : ndarray (T,) or (T, k)
        The objective after every iteration.
    sign_flips : ndarray (T,) or (T, k)
        Fraction of the weights whose sign (−, 0, +) changed in every iteration.
    lam : float or ndarray (k,)
    """

    w: np.ndarray
    objective: float | np.ndarray
    history: np.ndarray
    sign_flips: np.ndarray
    lam: float | np.ndarray


def _problem(X: np.ndarray, y: np.ndarray) -> MaskProblem:
    """The weight-space loss as the mask problem with θ = 1 (A = X, no ridge): the same margins, averaged
    logistic loss and gradient, for weights in place of the mask (batched over rows as there)."""
    return MaskProblem(X, y, np.ones(np.shape(X)[1]))


def fit_dense_theta(X: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """The dense θ: minimiser of the averaged logistic loss plus (ridge/2)‖w‖², by L-BFGS.

    The small ridge keeps θ finite on separable data (an 800-image MNIST pair is separable).
    """
    prob = _problem(X, y)

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        W = w[None, :]
        z = prob.margins(W)
        f, g = prob.loss_from_margins(W, z)[0], prob.grad_from_margins(W, z)[0]
        return float(f) + 0.5 * ridge * w @ w, g + ridge * w

    res = minimize(fun, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x


def lipschitz_logistic(X: np.ndarray) -> float:
    """λ_max(XᵀX)/(4n): a Lipschitz constant of the averaged logistic loss's gradient."""
    return float(np.linalg.eigvalsh(X.T @ X)[-1] / (4 * X.shape[0]))


def weight_lam_max(X: np.ndarray, y: np.ndarray) -> float:
    """‖∇ℓ(0)‖_∞: the smallest λ at which w = 0 minimises the ℓ1-regularised logistic loss."""
    prob = _problem(X, y)
    W = np.zeros((1, prob.d))
    return float(np.max(np.abs(prob.grad_from_margins(W, prob.margins(W)))))


def _result(W: np.ndarray, history: list[np.ndarray], flips: list[np.ndarray], lams: np.ndarray,
            scalar: bool) -> WeightResult:
    hist, flips = np.array(history), np.array(flips)
    if scalar:
        return WeightResult(W[0], float(hist[-1, 0]), hist[:, 0], flips[:, 0], float(lams[0]))
    return WeightResult(W, hist[-1], hist, flips, lams)


def _flips(W_old: np.ndarray, W_new: np.ndarray) -> np.ndarray:
    return np.mean(np.sign(W_old) != np.sign(W_new), axis=1)


def weight_l1_prox(X: np.ndarray, y: np.ndarray, lam: float | np.ndarray, *, n_iter: int = 2000,
                   tol: float = 1e-8) -> WeightResult:
    """ℓ1-regularised logistic regression by FISTA with soft thresholding, batched over a λ path.

    Runs at most ``n_iter`` iterations, fewer once every row's gradient mapping ‖w⁺ − v‖/t ≤ tol.
    """
    prob = _problem(X, y)
    lams, scalar = check_lam(lam)
    t = 1.0 / lipschitz_logistic(X)
    soft = penalties.get("l1").prox
    W = np.zeros((len(lams), X.shape[1]))
    Z = np.zeros((len(lams), X.shape[0]))  # margins y ⊙ (X w), row-wise; linear in w
    W_prev, Z_prev, tk, history, flips = W, Z, 1.0, [], []
    for _ in range(n_iter):
        tk_next, beta = fista_momentum(tk)
        V, ZV = W + beta * (W - W_prev), Z + beta * (Z - Z_prev)
        W_prev, Z_prev, tk = W, Z, tk_next
        W = soft(V - t * prob.grad_from_margins(V, ZV), t * lams[:, None])
        Z = prob.margins(W)
        history.append(prob.loss_from_margins(W, Z) + lams * np.abs(W).sum(axis=1))
        flips.append(_flips(W_prev, W))
        if np.max(np.linalg.norm(W - V, axis=1)) / t <= tol:
            break
    return _result(W, history, flips, lams, scalar)


def weight_l1_subgradient(X: np.ndarray, y: np.ndarray, lam: float | np.ndarray, *, n_iter: int = 2000,
                          eta: float | None = None) -> WeightResult:
    """ℓ1-regularised logistic regression by subgradient descent, w ← w − η(∇ℓ(w) + λ sign(w)).

    A constant step η (default 1/Lip(∇ℓ)), as a training loop with a fixed learning rate takes,
    batched over a λ path.  The weights that ought to be 0 flip sign from step to step around it
    instead of settling there, and the objective oscillates above its minimum; the last iterate is
    returned as it is.
    """
    prob = _problem(X, y)
    lams, scalar = check_lam(lam)
    eta = 1.0 / lipschitz_logistic(X) if eta is None else eta
    W, Z = np.zeros((len(lams), X.shape[1])), np.zeros((len(lams), X.shape[0]))
    history, flips = [], []
    for _ in range(n_iter):
        W_new = W - eta * (prob.grad_from_margins(W, Z) + lams[:, None] * np.sign(W))
        flips.append(_flips(W, W_new))
        W, Z = W_new, prob.margins(W_new)
        history.append(prob.loss_from_margins(W, Z) + lams * np.abs(W).sum(axis=1))
    return _result(W, history, flips, lams, scalar)

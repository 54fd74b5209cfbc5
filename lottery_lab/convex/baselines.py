"""Weight-space baselines for the mask lab: a dense logistic fit (the θ masks multiply) and ℓ1 on the
weights themselves, by proximal gradient (exact zeros) and by subgradient descent (no zeros, oscillates).

All three minimise (1/n) Σ log(1 + exp(−y_i x_iᵀ w)) + a penalty over w ∈ R^d (no intercept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from lottery_lab import penalties
from lottery_lab.convex.problem import labels_pm1
from lottery_lab._validation import check_lam

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


def _logistic(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Averaged logistic loss and its gradient, row-wise for weights W of shape (k, d)."""
    z = (W @ X.T) * y
    return _loss(z), _grad(X, y, z)


def _loss(z: np.ndarray) -> np.ndarray:
    """Averaged logistic loss from the margins z = y ⊙ (X w), row-wise."""
    return -log_expit(z).mean(axis=-1)


def _grad(X: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Gradient of the averaged logistic loss from the margins, row-wise."""
    return -((y * expit(-z)) @ X) / len(y)


def fit_dense_theta(X: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """The dense θ: minimiser of the averaged logistic loss plus (ridge/2)‖w‖², by L-BFGS.

    The small ridge keeps θ finite on separable data (an 800-image MNIST pair is separable).
    """
    y = labels_pm1(np.asarray(y, dtype=float))

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = _logistic(X, y, w[None, :])
        return float(f[0]) + 0.5 * ridge * w @ w, g[0] + ridge * w

    res = minimize(fun, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x


def lipschitz_logistic(X: np.ndarray) -> float:
    """λ_max(XᵀX)/(4n): a Lipschitz constant of the averaged logistic loss's gradient."""
    return float(np.linalg.eigvalsh(X.T @ X)[-1] / (4 * X.shape[0]))


def weight_lam_max(X: np.ndarray, y: np.ndarray) -> float:
    """‖∇ℓ(0)‖_∞: the smallest λ at which w = 0 minimises the ℓ1-regularised logistic loss."""
    y = labels_pm1(np.asarray(y, dtype=float))
    return float(np.max(np.abs(_logistic(X, y, np.zeros((1, X.shape[1])))[1])))


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
    y = labels_pm1(np.asarray(y, dtype=float))
    lams, scalar = check_lam(lam)
    t = 1.0 / lipschitz_logistic(X)
    soft = penalties.get("l1").prox
    W = np.zeros((len(lams), X.shape[1]))
    Z = np.zeros((len(lams), X.shape[0]))  # margins y ⊙ (X w), row-wise; linear in w
    W_prev, Z_prev, tk, history, flips = W, Z, 1.0, [], []
    for _ in range(n_iter):
        tk_next = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
        beta = (tk - 1) / tk_next
        V, ZV = W + beta * (W - W_prev), Z + beta * (Z - Z_prev)
        W_prev, Z_prev, tk = W, Z, tk_next
        W = soft(V - t * _grad(X, y, ZV), t * lams[:, None])
        Z = (W @ X.T) * y
        history.append(_loss(Z) + lams * np.abs(W).sum(axis=1))
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
    y = labels_pm1(np.asarray(y, dtype=float))
    lams, scalar = check_lam(lam)
    eta = 1.0 / lipschitz_logistic(X) if eta is None else eta
    W, Z = np.zeros((len(lams), X.shape[1])), np.zeros((len(lams), X.shape[0]))
    history, flips = [], []
    for _ in range(n_iter):
        W_new = W - eta * (_grad(X, y, Z) + lams[:, None] * np.sign(W))
        flips.append(_flips(W, W_new))
        W, Z = W_new, (W_new @ X.T) * y
        history.append(_loss(Z) + lams * np.abs(W).sum(axis=1))
    return _result(W, history, flips, lams, scalar)

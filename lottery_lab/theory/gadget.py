"""Strong tickets by construction: prune a wide random two-layer ReLU network to approximate a target.

The target is one ReLU layer f(x) = σ(W x), W of shape (h, d). The random network is
g(x) = σ(V σ(U x)) with U of shape (2nd, d) and V of shape (h, 2nd): for every input j a block of 2n
hidden neurons, n whose weight from x_j is positive and n whose weight is negative. Pruning (the
gadget of Pensia et al., 2020) keeps, in U, only each block neuron's weight from its own input, so that
neuron l of block j computes σ(U_lj x_j); then for x_j ≥ 0 only the positive half is active and

    Σ_{l ∈ S} V_il σ(U_lj x_j) = x_j · Σ_{l ∈ S} V_il U_lj        (S ⊆ positive half),

and likewise for x_j < 0 with the negative half. Output i reproduces W_ij x_j when both subset sums of
the coefficients c_il = V_il U_lj are close to W_ij; with Natale et al.'s fixed-size subset sums each
uses exactly k of the n candidates, so the V layer keeps exactly a fraction k/n of its weights. If
every |Σ_S c − W_ij| ≤ ε_w then |g(x)_i − f(x)_i| ≤ ε_w‖x‖₁ ≤ ε_w·d on [−1, 1]^d (σ is 1-Lipschitz).

The coefficients are Uniform[−1, 1] when the first layer's magnitudes are 1 (``first_layer="sign"``:
random signs balanced per block) and products of two uniforms when they are Uniform[0, 1]
(``first_layer="uniform"``, Pensia et al.'s setting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from lottery_lab.theory.subset_sum import best_subset, binary_entropy, max_mitm_n

__all__ = [
    "GadgetNet", "random_network", "prune", "predicted_block_size", "predicted_density",
    "overparameterisation", "build", "tradeoff_curve",
]

_FIRST_LAYERS = ("uniform", "sign")


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


@dataclass
class GadgetNet:
    """A pruned random network σ((V⊙M_V) σ((U⊙M_U) x)) built to approximate σ(W x).

    Attributes
    ----------
    W : ndarray (h, d)
        The target layer.
    U, V : ndarray
        The random network's weights, shapes (2nd, d) and (h, 2nd).
    mask_U, mask_V : ndarray of bool
        The kept weights.
    n, k : int
        Candidates per block half, and how many of them each target weight uses.
    weight_errors : ndarray (h, d, 2)
        |Σ_S c − W_ij| for each target weight and each half (positive, negative inputs).
    """

    W: np.ndarray
    U: np.ndarray
    V: np.ndarray
    mask_U: np.ndarray
    mask_V: np.ndarray
    n: int
    k: int
    weight_errors: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The pruned network on inputs x of shape (N, d)."""
        hidden = _relu(np.asarray(x, dtype=float) @ (self.U * self.mask_U).T)
        return _relu(hidden @ (self.V * self.mask_V).T)

    def target(self, x: np.ndarray) -> np.ndarray:
        """The target network σ(W x) on inputs x of shape (N, d)."""
        return _relu(np.asarray(x, dtype=float) @ self.W.T)

    def sup_error(self, x: np.ndarray) -> float:
        """max over the inputs and outputs of |g(x) − f(x)|."""
        return float(np.max(np.abs(self(x) - self.target(x))))

    @property
    def density(self) -> float:
        """Fraction of the random network's weights kept."""
        return float((self.mask_U.sum() + self.mask_V.sum()) / (self.mask_U.size + self.mask_V.size))

    @property
    def overparameterisation(self) -> float:
        """Weights of the random network per weight of the target."""
        return (self.U.size + self.V.size) / self.W.size

    @property
    def guaranteed_error(self) -> float:
        """The bound max_ij(error) · d on the sup error over [−1, 1]^d."""
        return float(self.weight_errors.max() * self.W.shape[1])


def _check_int(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def random_network(
    d: int, h: int, n: int, first_layer: str = "uniform", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A random two-layer network with 2n hidden neurons per input, all weights random.

    Every weight of V is Uniform[−1, 1]. Every weight of U is ±|u| with |u| ~ Uniform[0, 1]
    (``"uniform"``) or |u| = 1 (``"sign"``); in the rows of block j (rows 2nj … 2nj + 2n − 1) the
    signs of column j are +1 for the first n rows and −1 for the next n, and random elsewhere.

    Returns
    -------
    U : ndarray (2nd, d)
    V : ndarray (h, 2nd)
    """
    d, h, n = _check_int("d", d, 1), _check_int("h", h, 1), _check_int("n", n, 1)
    if first_layer not in _FIRST_LAYERS:
        raise ValueError(f"first_layer must be one of {_FIRST_LAYERS}, got {first_layer!r}")
    rng = np.random.default_rng(seed)
    m = 2 * n * d
    mag = rng.uniform(0, 1, (m, d)) if first_layer == "uniform" else np.ones((m, d))
    signs = rng.choice([-1.0, 1.0], size=(m, d))
    half = np.concatenate([np.ones(n), -np.ones(n)])
    for j in range(d):
        signs[2 * n * j:2 * n * (j + 1), j] = half
    return mag * signs, rng.uniform(-1, 1, (h, m))


def prune(W: np.ndarray, U: np.ndarray, V: np.ndarray, k: int, progress: bool = False) -> GadgetNet:
    """Choose, by exact fixed-size subset sum, the k-of-n subsets that reproduce each weight of W.

    Parameters
    ----------
    W : ndarray (h, d)
        Target layer.
    U, V : ndarray
        A network from :func:`random_network` with the same d and h.
    k : int
        Weights kept per target weight and half, 1 ≤ k ≤ n.
    """
    W, U, V = (np.asarray(a, dtype=float) for a in (W, U, V))
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-d array (h, d), got shape {W.shape}")
    h, d = W.shape
    m = U.shape[0]
    if U.ndim != 2 or U.shape[1] != d or m % (2 * d) or V.shape != (h, m):
        raise ValueError(
            f"shapes do not match: W {W.shape} needs U of shape (2nd, {d}) and V of shape ({h}, 2nd), "
            f"got U {U.shape} and V {V.shape}"
        )
    n = m // (2 * d)
    k = _check_int("k", k, 1)
    if k > n:
        raise ValueError(f"k must be an int in [1, n={n}], got k={k}")
    if n > max_mitm_n(k):
        raise ValueError(f"block size n={n} exceeds the exact subset-sum limit n <= {max_mitm_n(k)} "
                         f"for k={k}")
    mask_U = np.zeros_like(U, dtype=bool)
    mask_V = np.zeros_like(V, dtype=bool)
    errors = np.zeros((h, d, 2))
    for i, j in tqdm([(i, j) for i in range(h) for j in range(d)], desc="subset sums",
                     disable=not progress, leave=False):
        for s in range(2):
            rows = np.arange(2 * n * j + s * n, 2 * n * j + (s + 1) * n)
            err, idx = best_subset(V[i, rows] * U[rows, j], W[i, j], k)
            errors[i, j, s] = err
            mask_V[i, rows[idx]] = True
            mask_U[rows[idx], j] = True
    return GadgetNet(W, U, V, mask_U, mask_V, n, k, errors)


def predicted_block_size(k: int, eps_w: float, C: float, intercept: float = 0.0) -> int:
    """Smallest n ≥ k with n·H₂(k/n) ≥ C·log₂(k/ε_w) + intercept: this project's empirical RFSS law.

    With C (or slope and intercept) from :func:`~lottery_lab.theory.subset_sum.fit_thresholds` this is
    the sample size at which every target in [−√k, √k] is ε_w-approximable with the fit's probability
    q, as far as the fit goes (see its ``r2_origin``); the gadget needs all 2hd of its subset sums to
    succeed, so fit it at a high q (say 0.9).  The form is that of Natale et al.'s Theorem 2, which
    is about one fixed target; it is not their guarantee for all targets.
    """
    k = _check_int("k", k, 1)
    if not eps_w > 0:
        raise ValueError(f"eps_w must be > 0, got eps_w={eps_w}")
    need = C * math.log2(k / eps_w) + intercept
    n = k
    while n * float(binary_entropy(k / n)) < need:
        n += 1
    return n


def predicted_density(d: int, h: int, n: int, k: int) -> float:
    """Expected density of the pruned network: V keeps k/n exactly; U keeps one weight per hidden
    neuron that some output uses, n(1 − (1 − k/n)^h) per block half if the subsets were independent."""
    used = 2 * d * n * (1 - (1 - k / n) ** h)
    return (2 * h * d * k + used) / (2 * n * d * (d + h))


def overparameterisation(d: int, h: int, n: int) -> float:
    """Weights of the random network, 2nd·(d + h), per weight of the target, h·d."""
    return 2 * n * (d + h) / h


def build(
    W: np.ndarray, eps: float, k: int, C: float, intercept: float = 0.0,
    first_layer: str = "sign", seed: int = 0, progress: bool = False,
) -> GadgetNet:
    """Size the random network by the RFSS law for sup error ``eps`` on [−1, 1]^d, then prune it.

    Each weight gets the budget ε_w = ε/d; the block size is :func:`predicted_block_size`.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-d array (h, d), got shape {W.shape}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got eps={eps}")
    h, d = W.shape
    n = predicted_block_size(k, eps / d, C, intercept)
    U, V = random_network(d, h, n, first_layer, seed)
    return prune(W, U, V, k, progress)


def tradeoff_curve(
    k_values: list[int], eps: float, d: int, h: int, C: float, intercept: float = 0.0
) -> dict[str, np.ndarray]:
    """The law's overparameterisation against density, one point per k (as in Natale et al.'s Fig. 1).

    Returns a dict with arrays ``k``, ``n``, ``density`` and ``overparameterisation``.
    """
    ks = np.array([_check_int("k", k, 1) for k in k_values])
    ns = np.array([predicted_block_size(int(k), eps / d, C, intercept) for k in ks])
    return {
        "k": ks, "n": ns,
        "density": np.array([predicted_density(d, h, int(n), int(k)) for n, k in zip(ns, ks)]),
        "overparameterisation": np.array([overparameterisation(d, h, int(n)) for n in ns]),
    }

"""Tasks of the theory chapter: meet-in-the-middle subset sum, binary entropy, the no-overlap CNN and
its population loss."""

from __future__ import annotations

import numpy as np

from lottery_lab.grading._compare import numpy_close
from lottery_lab.grading._core import Case, Task
from lottery_lab.theory import no_overlap, subset_sum


def _mitm_cases(rng):
    cases = []
    for n in (1, 4, 10, 16, 24, 30):
        samples = rng.uniform(-1, 1, n)
        z = float(rng.uniform(-1, 1)) if n > 1 else 5.0
        err, _ = subset_sum.best_subset(samples, z)
        kind = "the empty set or the one sample" if n == 1 else "too many subsets to list: meet in the middle" if n >= 24 else "random"
        cases.append(Case((samples, z), np.float64(err), f"n={n} samples in [-1, 1], z={z:.3g}, {kind}"))
    return cases


def _entropy_cases(rng):
    return [Case((p,), subset_sum.binary_entropy(p), describe) for p, describe in [
        (rng.uniform(0.01, 0.99, 12), "12 values in (0, 1)"),
        (np.array([0.0, 1.0, 0.5]), "the edges 0 and 1 (H₂ = 0 there) and 1/2"),
        (float(rng.uniform(0.01, 0.99)), "a single float"),
        (rng.uniform(0, 1, (3, 4)), "a (3, 4) array"),
        (np.array([1e-12, 1 - 1e-12]), "values within 1e-12 of the edges"),
    ]]


def _network_cases(rng):
    cases = []
    for n, k, d in [(5, 4, 3), (100, 8, 16), (1, 1, 2), (7, 3, 1)]:
        x = rng.normal(size=(n, k, d))
        w = rng.normal(size=d)
        cases.append(Case((x, w), no_overlap.network(x, w), f"x of shape (N, k, d) = {(n, k, d)}"))
    return cases


def _loss_cases(rng):
    cases = []
    for d, k, kind in [(5, 4, "random w"), (8, 1, "k=1"), (3, 16, "w = w*"), (6, 5, "w = −w* (θ = π)"),
                       (4, 3, "w ⊥ w*"), (10, 2, "‖w‖ ≫ ‖w*‖")]:
        w_star = rng.normal(size=d)
        w = rng.normal(size=d)
        if kind == "w = w*":
            w = w_star.copy()
        elif kind.startswith("w = −w*"):
            w = -0.7 * w_star
        elif kind == "w ⊥ w*":
            w = w - (w @ w_star) / (w_star @ w_star) * w_star
        elif "≫" in kind:
            w = 20 * w
        cases.append(Case((w, w_star, k), np.float64(no_overlap.population_loss(w, w_star, k)),
                          f"d={d}, k={k}, {kind}"))
    return cases


TASKS = [
    Task("theory.subset_sum_mitm", "min over subsets S of |z − Σ_{i∈S} samples_i|, by meet in the middle",
         ("samples", "z"), 2,
         "split the samples in two halves, list each half's 2^(n/2) subset sums, sort one list and, for each "
         "sum s of the other, binary-search z − s (np.searchsorted); look at both neighbours.",
         _mitm_cases, numpy_close(rtol=1e-9, atol=1e-12), time_limit=5.0),
    Task("theory.binary_entropy", "H₂(p) = −p log₂ p − (1 − p) log₂(1 − p), with H₂(0) = H₂(1) = 0",
         ("p",), 1,
         "elementwise with np.log2; 0·log 0 is 0, so handle p = 0 and p = 1 (np.where, after silencing the warning).",
         _entropy_cases, numpy_close(rtol=1e-9, atol=1e-12)),
    Task("theory.no_overlap_network", "the no-overlap CNN f(x; w) = (1/k) Σ_j max(0, w·x_j)",
         ("x", "w"), 1,
         "x has shape (N, k, d): x @ w has shape (N, k); ReLU, then average over the k patches.",
         _network_cases, numpy_close(rtol=1e-9, atol=1e-12)),
    Task("theory.population_loss", "E[(f(x; w) − f(x; w*))²] for Gaussian x, in closed form (Brutzkus & Globerson)",
         ("w", "w_star", "k"), 2,
         "with r = ‖w‖, s = ‖w*‖, θ the angle, g = rs(sin θ + (π − θ)cos θ)/(2π): "
         "ℓ = (r²/2 − 2g + s²/2)/k + (k − 1)(r − s)²/(2πk); clip cos θ to [−1, 1] before arccos.",
         _loss_cases, numpy_close(rtol=1e-7, atol=1e-10)),
]

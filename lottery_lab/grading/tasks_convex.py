"""Tasks of the convex mask lab: the log penalty, its gradient, the mask gradient, a projected step."""

from __future__ import annotations

import numpy as np

from lottery_lab import penalties
from lottery_lab.convex.problem import MaskProblem
from lottery_lab.grading._compare import numpy_close
from lottery_lab.grading._core import Case, Task


def _m_values(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64, signed: bool = True) -> np.ndarray:
    """Random entries with exact zeros mixed in (and negatives when ``signed``)."""
    x = rng.uniform(-2.0 if signed else 0.0, 2.0 if signed else 1.0, size=shape)
    if x.size:
        x.reshape(-1)[rng.random(x.size) < 0.25] = 0.0
    return x.astype(dtype)


def _penalty_cases(rng: np.random.Generator, method: str) -> list[Case]:
    cases = []
    for shape, dtype, eps in [((), np.float64, 0.1), ((7,), np.float64, 0.1), ((3, 4), np.float64, 0.01),
                              ((5,), np.float32, 0.5), ((2, 3, 2), np.float64, 2.0), ((0,), np.float64, 0.1),
                              ((6,), np.float64, 1e-3)]:
        m = _m_values(rng, shape, dtype)
        eps = float(eps * rng.uniform(0.8, 1.25))
        P = penalties.get("log", eps=eps)
        expected = np.asarray(getattr(P, method)(m.astype(np.float64)))
        kind = "a 0-d array" if shape == () else f"{dtype.__name__} array {shape} with zeros and negatives"
        cases.append(Case((m, eps), expected, f"m: {kind}, eps={eps:.3g}"))
    return cases


def _log_cases(rng):
    return _penalty_cases(rng, "value")


def _grad_cases(rng):
    return _penalty_cases(rng, "grad")


def _problem(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    theta = rng.normal(size=d)
    return X, y, theta


def _mask_gradient_cases(rng):
    cases = []
    for n, d, kind in [(20, 5, "inside the box"), (50, 12, "inside the box"), (8, 30, "corners 0/1"),
                       (1, 3, "one sample"), (40, 1, "one feature")]:
        X, y, theta = _problem(rng, n, d)
        m = rng.random(d) if kind != "corners 0/1" else rng.integers(0, 2, d).astype(float)
        expected = MaskProblem(X, y, theta).grad(m)
        cases.append(Case((X, y, theta, m), expected, f"n={n}, d={d}, m {kind}"))
    return cases


def _pgd_cases(rng):
    cases = []
    for d, lam, kind in [(10, 0.05, "random"), (25, 0.5, "random"), (8, 0.0, "lam=0"),
                         (12, 5.0, "large lam: clips at 0"), (6, 0.1, "large negative gradient: clips at 1")]:
        m = rng.random(d)
        m[rng.random(d) < 0.2] = 0.0
        g = rng.normal(size=d) * (20.0 if "negative" in kind else 1.0)
        if "negative" in kind:
            g = -np.abs(g)
        eps, step = float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.05, 0.5))
        slope = penalties.get("log", eps=eps).slope(m)
        expected = np.clip(m - step * (g + lam * slope), 0.0, 1.0)
        cases.append(Case((m, g, lam, eps, step), expected, f"d={d}, {kind}, eps={eps:.3g}, step={step:.3g}"))
    return cases


TASKS = [
    Task("convex.log_penalty", "the log penalty R(m) = ε·log(1 + |m|/ε), elementwise", ("m", "eps"), 1,
         "apply the formula elementwise to |m| (np.abs, np.log1p) and return an array of m's shape; don't sum.",
         _log_cases, numpy_close(rtol=2e-6, atol=1e-7)),
    Task("convex.log_penalty_grad", "dR/dm = sign(m)·ε/(ε + |m|), with the right derivative 1 at m = 0",
         ("m", "eps"), 1,
         "differentiate ε·log(1 + |m|/ε); at m = 0 take the right derivative (sign 0 → +1, e.g. np.where(m < 0, -1, 1)).",
         _grad_cases, numpy_close(rtol=2e-6, atol=1e-7)),
    Task("convex.mask_gradient", "∇L(m) of the logistic loss (1/n)Σ log(1 + exp(−y_i x_iᵀ(m ⊙ θ)))",
         ("X", "y", "theta", "m"), 2,
         "with A = X·θ (columns scaled) and z = y ⊙ (A m), ∇L = −(1/n) Aᵀ(y ⊙ σ(−z)); scipy.special.expit is σ.",
         _mask_gradient_cases, numpy_close(rtol=1e-6, atol=1e-10)),
    Task("convex.pgd_step", "one projected-gradient step on the mask: clip(m − step·(∇L + λR'(m)), 0, 1)",
         ("m", "grad", "lam", "eps", "step"), 2,
         "add λ·ε/(ε + m) to the loss gradient, step against it, then project onto [0, 1] with np.clip.",
         _pgd_cases, numpy_close(rtol=1e-9, atol=1e-12)),
]

"""The no-overlap CNN teacher–student model, in closed form, and sparse learning on it by RVSM.

Input x ∈ R^{k·d}, x ~ N(0, I), split into k disjoint patches x_1, …, x_k ∈ R^d. One convolutional
filter w with ReLU σ and average pooling: f(x; w) = (1/k) Σ_j σ(w·x_j). The teacher has w*, the
student w, and the population loss ℓ(w) = E[(f(x; w) − f(x; w*))²] has a closed form (Brutzkus &
Globerson, 2017), with θ the angle between w and w*:

    ℓ(w) = (1/k)·[‖w‖²/2 − 2 g(w, w*) + ‖w*‖²/2] + (k − 1)/(2πk)·(‖w‖ − ‖w*‖)²,
    g(u, v) = E[σ(u·z) σ(v·z)] = ‖u‖‖v‖ (sin θ + (π − θ) cos θ) / (2π),   z ~ N(0, I_d),
    ∇ℓ(w) = α(w)·w − c(w)·w*,   c = (π − θ)/(πk),
    α = 1/k − ‖w*‖ sin θ/(πk‖w‖) + (k − 1)(‖w‖ − ‖w*‖)/(πk‖w‖).

RVSM (relaxed variable splitting; Dinh & Xin) minimises ℓ(w) + λP(u) + (β/2)‖w − u‖²:
u ← prox_{(λ/β)P}(w), w ← w − η(∇ℓ(w) + β(w − u)). Since ∇ℓ = αw − c w*, a limit solves
(α + β) w_i − β prox(w_i) = c w*_i coordinate by coordinate, with only two scalars (α, c) shared:
the limit ū is a thresholded, rescaled copy of w* (:func:`rvsm_fixed_point`). For ℓ1,
ū = (c/α)·soft(w*, λ(α + β)/(βc)); for ℓ0, ū = (c/α)·w* on the kept coordinates.

λ is in this package's normalisation (every penalty has slope 1 at 0⁺): a weight λ_ZX on Zhang & Xin's
transformed ℓ1 ρ_a is λ = λ_ZX·(a + 1)/a here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize
from tqdm.auto import tqdm

from lottery_lab import penalties

__all__ = [
    "population_loss", "population_grad", "network", "monte_carlo", "sparse_teacher",
    "RVSMResult", "rvsm", "subgradient_descent", "FixedPoint", "rvsm_fixed_point", "tradeoff",
]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (the number of patches) must be an int >= 1, got {k!r}")
    return int(k)


def _check_finite(name: str, x: np.ndarray) -> None:
    """ValueError naming ``name`` if x holds NaN or ±inf (the closed forms would return NaN, and RVSM
    would iterate to its limit on NaN)."""
    bad = ~np.isfinite(x)
    if bad.any():
        shown = np.unique(x[bad]).tolist()
        raise ValueError(f"{name} must be finite; got {int(bad.sum())} non-finite entries ({shown})")


def _check_pair(w: np.ndarray, w_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, w_star = np.asarray(w, dtype=float), np.asarray(w_star, dtype=float)
    if w_star.ndim != 1 or w_star.size == 0:
        raise ValueError(f"w_star must be a non-empty 1-d array, got shape {w_star.shape}")
    if w.ndim == 0 or w.shape[-1] != w_star.size:
        raise ValueError(
            f"w must have shape (..., d) with d = w_star.size = {w_star.size}, got shape {w.shape}"
        )
    _check_finite("w_star", w_star)
    _check_finite("w", w)
    return w, w_star


def _geometry(w: np.ndarray, w_star: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """‖w‖ (per row), ‖w*‖ and the angle θ between them (θ = 0 where a norm vanishes)."""
    r = np.linalg.norm(w, axis=-1)
    s = float(np.linalg.norm(w_star))
    denom = r * s
    cos = np.divide(w @ w_star, denom, out=np.ones_like(r), where=denom > 0)
    return r, s, np.arccos(np.clip(cos, -1.0, 1.0))


def population_loss(w: np.ndarray, w_star: np.ndarray, k: int) -> np.ndarray | float:
    """E[(f(x; w) − f(x; w*))²] for x ~ N(0, I_{k·d}), in closed form.

    Parameters
    ----------
    w : array (..., d)
        Student filter(s); leading axes are a batch.
    w_star : array (d,)
        Teacher filter.
    k : int
        Number of patches.

    Returns
    -------
    float or ndarray of shape w.shape[:-1]
    """
    k = _check_k(k)
    w, w_star = _check_pair(w, w_star)
    r, s, theta = _geometry(w, w_star)
    g = r * s * (np.sin(theta) + (math.pi - theta) * np.cos(theta)) / (2 * math.pi)
    loss = (r**2 / 2 - 2 * g + s**2 / 2) / k + (k - 1) / (2 * math.pi * k) * (r - s) ** 2
    loss = np.maximum(loss, 0.0)  # ℓ ≥ 0; rounding can leave −1e-16 at w = w*
    return float(loss) if loss.ndim == 0 else loss


def _alpha_c(r: np.ndarray, s: float, theta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The two scalars of ∇ℓ(w) = α w − c w* (r = ‖w‖ > 0)."""
    alpha = 1 / k - s * np.sin(theta) / (math.pi * k * r) + (k - 1) * (r - s) / (math.pi * k * r)
    return alpha, (math.pi - theta) / (math.pi * k)


def population_grad(w: np.ndarray, w_star: np.ndarray, k: int) -> np.ndarray:
    """∇ℓ(w) in closed form, shape w.shape; w must be non-zero (ℓ is not differentiable at 0)."""
    k = _check_k(k)
    w, w_star = _check_pair(w, w_star)
    r, s, theta = _geometry(w, w_star)
    if np.any(r == 0):
        raise ValueError("w must be non-zero: the population loss is not differentiable at w = 0")
    alpha, c = _alpha_c(r, s, theta, k)
    return alpha[..., None] * w - c[..., None] * w_star


def network(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """f(x; w) = (1/k) Σ_j σ(w·x_j) for inputs x of shape (N, k, d); returns shape (N,)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 3 or x.shape[-1] != np.shape(w)[-1]:
        raise ValueError(f"x must have shape (N, k, d={np.shape(w)[-1]}), got {x.shape}")
    return np.maximum(x @ np.asarray(w, dtype=float), 0.0).mean(axis=1)


def monte_carlo(
    w: np.ndarray, w_star: np.ndarray, k: int, n_samples: int = 10**6, seed: int = 0,
    chunk: int = 10**5,
) -> tuple[float, np.ndarray]:
    """Monte Carlo estimates of ℓ(w) and ∇ℓ(w) from ``n_samples`` Gaussian inputs.

    ∇ℓ(w) = E[2 (f(x; w) − f(x; w*)) · (1/k) Σ_j 1[w·x_j > 0] x_j].
    """
    k = _check_k(k)
    w, w_star = _check_pair(w, w_star)
    if w.ndim != 1:
        raise ValueError(f"w must be 1-d here, got shape {w.shape}")
    rng = np.random.default_rng(seed)
    loss, grad, done = 0.0, np.zeros_like(w), 0
    while done < n_samples:
        m = min(chunk, n_samples - done)
        x = rng.standard_normal((m, k, w.size))
        pre = x @ w
        diff = np.maximum(pre, 0).mean(1) - network(x, w_star)
        loss += float(diff @ diff)
        grad += 2 * np.einsum("n,nkd->d", diff, x * (pre > 0)[..., None]) / k
        done += m
    return loss / n_samples, grad / n_samples


def sparse_teacher(d: int = 16, nnz: int = 8, seed: int = 0) -> np.ndarray:
    """A teacher filter with ``nnz`` non-zeros of magnitudes evenly spread over [0.25, 1.5], random
    signs and positions, and zeros elsewhere."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be an int >= 1, got {d!r}")
    if isinstance(nnz, bool) or not isinstance(nnz, (int, np.integer)) or not 1 <= nnz <= d:
        raise ValueError(f"nnz must be an int in [1, d={d}], got {nnz!r}")
    rng = np.random.default_rng(seed)
    w = np.zeros(d)
    w[rng.choice(d, nnz, replace=False)] = np.linspace(0.25, 1.5, nnz) * rng.choice([-1, 1], nnz)
    return w


def _check_lam_beta(lam: float, beta: float | None = None) -> None:
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got lam={lam}")
    if beta is not None and not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got beta={beta}")


def _inits(w_star: np.ndarray, inits: int | np.ndarray, seed: int) -> np.ndarray:
    if isinstance(inits, (int, np.integer)) and not isinstance(inits, bool):
        if inits < 1:
            raise ValueError(f"inits must be an int >= 1 or an array (R, d), got {inits}")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((int(inits), w_star.size)) * np.linalg.norm(w_star) / math.sqrt(w_star.size)
    w0 = np.atleast_2d(np.asarray(inits, dtype=float))
    if w0.ndim != 2 or w0.shape[1] != w_star.size:
        raise ValueError(f"inits must have shape (R, d={w_star.size}), got {np.shape(inits)}")
    _check_finite("inits", w0)
    return w0.copy()


@dataclass
class RVSMResult:
    """Iterates of RVSM (or of subgradient descent) from several initialisations.

    Attributes
    ----------
    w, u : ndarray (R, d)
        Final iterates per initialisation (for subgradient descent u = w).
    history : dict of ndarray (T, R)
        ``loss_w`` = ℓ(w_t), ``loss_u`` = ℓ(u_t), ``zeros_u`` = fraction of exact zeros of u_t,
        ``step`` = max |w_{t+1} − w_t|.
    n_iter : int
        Iterations run.
    converged : bool
        Whether every run's step fell below ``tol``.
    """

    w: np.ndarray
    u: np.ndarray
    history: dict
    n_iter: int
    converged: bool


def _run(
    update: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], w0: np.ndarray, w_star: np.ndarray,
    k: int, sparse: Callable[[np.ndarray], np.ndarray], max_iter: int, tol: float, desc: str,
    progress: bool,
) -> RVSMResult:
    """Iterate ``update`` (w ↦ (next w, current u)) from w0, recording the history."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got tol={tol}")
    w = w0
    hist = {"loss_w": [], "loss_u": [], "zeros_u": [], "step": []}
    converged = False
    bar = tqdm(range(max_iter), desc=desc, disable=not progress, leave=False)
    for t in bar:
        w_new, u = update(w)
        step = np.max(np.abs(w_new - w), axis=1)
        hist["loss_w"].append(population_loss(w, w_star, k))
        hist["loss_u"].append(population_loss(u, w_star, k))
        hist["zeros_u"].append(np.mean(u == 0, axis=1))
        hist["step"].append(step)
        w = w_new
        if np.all(step < tol):
            converged = True
            break
    bar.close()
    u = sparse(w)
    return RVSMResult(w, u, {key: np.array(v) for key, v in hist.items()}, t + 1, converged)


def rvsm(
    w_star: np.ndarray, k: int, penalty: str | penalties.Penalty, lam: float, beta: float,
    inits: int | np.ndarray = 8, lr: float | None = None, max_iter: int = 20000, tol: float = 1e-10,
    seed: int = 0, progress: bool = False,
) -> RVSMResult:
    """Relaxed variable splitting on the population loss of the no-overlap CNN.

    u_t = prox_{(λ/β)P}(w_t) (the penalty's own prox), w_{t+1} = w_t − η(∇ℓ(w_t) + β(w_t − u_t)).

    Parameters
    ----------
    w_star : array (d,)
        Teacher filter.
    k : int
        Number of patches.
    penalty : str or Penalty
        ``"l0"``, ``"l1"``, ``"tl1"`` (any registered penalty with a prox works).
    lam : float
        Penalty weight λ ≥ 0.
    beta : float
        Splitting weight β > 0.
    inits : int or array (R, d)
        Number of random initialisations (N(0, ‖w*‖²/d · I)) or the initial points.
    lr : float, optional
        Step size η > 0; default 1/(1 + β).
    max_iter, tol : int, float
        Stop when every run's max |w_{t+1} − w_t| < tol, or after ``max_iter`` iterations.
    """
    k = _check_k(k)
    w_star = _check_pair(np.zeros_like(np.asarray(w_star, dtype=float)), w_star)[1]
    _check_lam_beta(lam, beta)
    lr = 1 / (1 + beta) if lr is None else lr
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got lr={lr}")
    P = penalties.get(penalty)
    tau = lam / beta

    def update(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = P.prox(w, tau)
        return w - lr * (population_grad(w, w_star, k) + beta * (w - u)), u

    return _run(update, _inits(w_star, inits, seed), w_star, k, lambda w: P.prox(w, tau),
                max_iter, tol, f"RVSM {P.name}", progress)


def subgradient_descent(
    w_star: np.ndarray, k: int, penalty: str | penalties.Penalty, lam: float,
    inits: int | np.ndarray = 8, lr: float = 0.5, max_iter: int = 5000, tol: float = 1e-10,
    seed: int = 0, progress: bool = False,
) -> RVSMResult:
    """Plain (sub)gradient descent on ℓ(w) + λ Σ P(w_i): w ← w − η(∇ℓ(w) + λ P.grad(w)).

    For contrast with :func:`rvsm`: the iterates oscillate around zero instead of reaching it
    (ℓ1, tl1), or feel no penalty at all (ℓ0, whose gradient is 0 away from 0). Here u = w.
    """
    k = _check_k(k)
    w_star = _check_pair(np.zeros_like(np.asarray(w_star, dtype=float)), w_star)[1]
    _check_lam_beta(lam)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got lr={lr}")
    P = penalties.get(penalty)

    def update(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return w - lr * (population_grad(w, w_star, k) + lam * P.grad(w)), w

    return _run(update, _inits(w_star, inits, seed), w_star, k, lambda w: w,
                max_iter, tol, f"subgradient {P.name}", progress)


@dataclass
class FixedPoint:
    """The RVSM limit predicted by the reduced equations.

    Attributes
    ----------
    w, u : ndarray (d,)
        The limit of w_t and of u_t = prox(w_t).
    alpha, c : float
        The scalars of ∇ℓ(w̄) = α w̄ − c w*.
    ambiguous : ndarray of bool (d,)
        Coordinates where the scalar equation has a second stable root (a zero and a non-zero
        branch both solve it); there the limit depends on the path and the zero branch is returned.
    """

    w: np.ndarray
    u: np.ndarray
    alpha: float
    c: float
    ambiguous: np.ndarray


def _branches(
    targets: np.ndarray, alpha: float, beta: float, P: penalties.Penalty, tau: float,
    grid_size: int = 401,
) -> tuple[np.ndarray, np.ndarray]:
    """The two branches of (α + β) z − β prox(z) = t, coordinatewise, for t ≥ 0 and α + β > 0.

    Returns the zero branch z = t/(α + β) (a root where prox(z) = 0) and the first root with
    prox(z) ≠ 0 (nan where there is none). The latter lies between t/(α + β) and t/α since
    0 < prox(z) ≤ z there; it is located on a grid and refined by bisection, and only for α > 0
    (for α ≤ 0 such roots are unstable).
    """
    lo = targets / (alpha + beta)
    kept_root = np.full(targets.size, np.nan)
    if alpha <= 0:
        return lo, kept_root
    hi = targets / alpha * (1 + 1e-9) + 1e-12
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, grid_size)[None, :]
    phi = lambda v: (alpha + beta) * v - beta * P.prox(v, tau) - targets[:, None]  # noqa: E731
    vals, kept = phi(grid), P.prox(grid, tau) > 0
    crossing = kept[:, 1:] & kept[:, :-1] & (vals[:, :-1] < 0) & (vals[:, 1:] >= 0)
    found = crossing.any(axis=1) & (targets > 0)
    i = np.argmax(crossing, axis=1)
    rows = np.arange(targets.size)
    left, right = grid[rows, i], grid[rows, i + 1]
    for _ in range(60):
        mid = 0.5 * (left + right)
        neg = phi(mid[:, None])[:, 0] < 0
        left, right = np.where(neg, mid, left), np.where(neg, right, mid)
    kept_root[found] = right[found]
    return lo, kept_root


def rvsm_fixed_point(
    w_star: np.ndarray, k: int, penalty: str | penalties.Penalty, lam: float, beta: float,
    support: np.ndarray | None = None,
) -> FixedPoint:
    """The limit of RVSM, from the reduced equations rather than by iterating on w.

    A limit (w̄, ū) satisfies ∇ℓ(w̄) + β(w̄ − ū) = 0 with ū = prox_{(λ/β)P}(w̄). As ∇ℓ = αw − c w*
    with α, c depending on w only through ‖w‖ and the angle θ to w*, each coordinate solves the
    scalar equation (α + β) w̄_i − β prox(w̄_i) = c w*_i, so w̄ = T_{α,c}(w*) coordinatewise. The two
    scalars are fixed by self-consistency, (α, c) = (α, c)(T_{α,c}(w*)), solved by scipy's hybrid
    Powell method from the λ = 0 solution α = c = 1/k (then from a few other starts). For ℓ1
    ū = (c/α)·soft(w*, λ(α + β)/(βc)); for ℓ0, ū = (c/α)·w* on the kept coordinates.

    Parameters
    ----------
    w_star, k, penalty, lam, beta
        As for :func:`rvsm`.
    support : bool array (d,), optional
        The coordinates where ū ≠ 0. Where the scalar equation has both a zero and a non-zero root
        (ℓ0 when c|w*_i|/(α + β) ≤ √(2λ/β) < c|w*_i|/α) the limit depends on the initialisation;
        by default the zero branch is taken wherever it is a root. (With ℓ0 and a large λβ some
        initialisations also end at degenerate limits with α = 0, where coordinates with w*_i = 0
        stay non-zero; those are not described by this reduction.)

    Raises
    ------
    RuntimeError
        Where the reduced equations have no solution on the requested branches (for instance when
        λβ is so large that α ≤ 0 at the limit).
    """
    k = _check_k(k)
    w_star = _check_pair(np.zeros_like(np.asarray(w_star, dtype=float)), w_star)[1]
    _check_lam_beta(lam, beta)
    if support is not None and np.shape(support) != w_star.shape:
        raise ValueError(f"support must have shape {w_star.shape}, got {np.shape(support)}")
    P = penalties.get(penalty)
    tau = lam / beta
    sign, target = np.sign(w_star), np.abs(w_star)

    def transform(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        zero, kept = _branches(params[1] * target, params[0], beta, P, tau)
        zero_ok = (P.prox(zero, tau) == 0) | (target == 0)
        want = ~zero_ok if support is None else np.asarray(support, dtype=bool)
        use_kept = np.where(np.isnan(kept), False, want | ~zero_ok)
        return sign * np.where(use_kept, kept, zero), use_kept, zero_ok & ~np.isnan(kept)

    def residual(params: np.ndarray) -> np.ndarray:
        if params[0] + beta <= 0 or params[1] <= 0:
            return np.array([1e3, 1e3])
        r, s, theta = _geometry(transform(params)[0], w_star)
        return np.array([float(v) for v in _alpha_c(r, s, theta, k)]) - params

    starts = [(1.0, 1.0)] + [(a, c) for a in (0.2, 0.5, 0.8) for c in (0.6, 0.9)]
    for a0, c0 in starts:
        sol = optimize.root(residual, x0=np.array([a0 / k, c0 / k]), method="hybr",
                            options={"xtol": 1e-14})
        if np.max(np.abs(residual(sol.x))) > 1e-10:
            continue
        w, kept, ambiguous = transform(sol.x)
        zero_ok = (P.prox(np.abs(w), tau) == 0) | (target == 0)
        if support is None and not np.all(kept | zero_ok):
            continue
        if support is not None and not np.array_equal(kept, np.asarray(support, dtype=bool)):
            continue
        return FixedPoint(w, np.asarray(P.prox(w, tau)), float(sol.x[0]), float(sol.x[1]), ambiguous)
    raise RuntimeError("the reduced fixed-point equations found no solution on the requested branches")


def tradeoff(
    w_star: np.ndarray, k: int, penalty_list: list[str | penalties.Penalty], lams: list[float],
    beta: float = 1.0, inits: int = 4, seed: int = 0, progress: bool = True,
) -> list[dict]:
    """Accuracy against sparsity of the RVSM limit, for each penalty and λ.

    Each row: ``penalty``, ``lam``, ``zeros`` (fraction of zero weights in ū, averaged over the
    initialisations), ``support_recovered`` (fraction of runs with supp ū = supp w*), ``loss``
    (ℓ(ū), averaged), ``rel_error`` (‖ū − w*‖/‖w*‖, averaged) and ``spread`` (max distance between
    the limits of different initialisations).
    """
    rows = []
    todo = [(p, lam) for p in penalty_list for lam in lams]
    for pen, lam in tqdm(todo, desc="trade-off", disable=not progress, leave=False):
        res = rvsm(w_star, k, pen, lam, beta, inits=inits, seed=seed)
        u = res.u
        rows.append({
            "penalty": penalties.get(pen).name, "lam": float(lam),
            "zeros": float(np.mean(u == 0)),
            "support_recovered": float(np.mean(np.all((u != 0) == (w_star != 0), axis=1))),
            "loss": float(np.mean(population_loss(u, w_star, k))),
            "rel_error": float(np.mean(np.linalg.norm(u - w_star, axis=1)) / np.linalg.norm(w_star)),
            "spread": float(np.max(np.abs(u - u[0]))),
        })
    return rows

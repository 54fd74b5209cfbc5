"""The convex lab's experiments: random trials of the mask error bound, and the MNIST sanity check.

Both return plain records (dataclasses) that the plots, the CLI, the notebook and the tests share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from lottery_lab import penalties
from lottery_lab.convex import baselines
from lottery_lab.convex.bounds import mask_error_bound
from lottery_lab.convex.data import mnist_pair, synthetic
from lottery_lab.convex.problem import MaskProblem
from lottery_lab.convex.solvers import solve_pgd

__all__ = ["BoundTrial", "bound_trials", "summarise_bound_trials", "MnistExperiment", "mnist_experiment",
           "summary_table", "bound_table"]


# --- the bound in random trials -------------------------------------------------------------------
@dataclass(frozen=True)
class BoundTrial:
    """One (problem, penalty, λ) trial: the error of the stationary mask and the bound on it."""

    penalty: str
    n: int
    d: int
    s: int
    snr: float
    ridge: float
    lam: float
    gamma: float
    error: float
    bound: float
    certifies_exact: bool
    exact_recovery: bool

    @property
    def ratio(self) -> float:
        """error / bound (0 when both vanish: m̂ = m_ref and the bound certifies it)."""
        return 0.0 if self.error == 0 else self.error / self.bound


def bound_trials(n_problems: int = 40, lams_per_problem: int = 5, seed: int = 0, *,
                 n_range: tuple[int, int] = (300, 20_000), d_range: tuple[int, int] = (4, 20),
                 eps: float = 0.05, tol: float = 1e-10, progress: bool = False) -> list[BoundTrial]:
    """Random trials of the bound with m_ref the true mask of a synthetic model, for ℓ1 and log.

    Each problem draws n log-uniformly in ``n_range``, d uniformly in ``d_range``, s in
    [1, max(1, d/3)], snr log-uniformly in [0.3, 3] and ρ from {0, 1e-4, 1e-3, 1e-2} (n > d, so
    γ > 0 even when ρ = 0), then ``lams_per_problem`` values of λ log-uniform in [1e-4, 1e-1]; both
    penalties solve the λ path with one batched :func:`solve_pgd`.

    Returns
    -------
    list of BoundTrial
        2 · n_problems · lams_per_problem records.
    """
    rng = np.random.default_rng(seed)
    log_pen = penalties.get("log", eps=eps)
    trials = []
    for _ in tqdm(range(n_problems), desc="bound trials", disable=not progress):
        n = int(np.exp(rng.uniform(*np.log(n_range))))
        d = int(rng.integers(d_range[0], d_range[1] + 1))
        s = int(rng.integers(1, max(1, d // 3) + 1))
        snr = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
        ridge = float(rng.choice([0.0, 1e-4, 1e-3, 1e-2]))
        lams = np.exp(rng.uniform(np.log(1e-4), np.log(1e-1), lams_per_problem))
        D = synthetic(n, d, s, seed=int(rng.integers(2**31)), snr=snr)
        prob = MaskProblem(D.X, D.y, D.theta, ridge=ridge)
        for P in (penalties.get("l1"), log_pen):
            path = solve_pgd(prob, P, lams, tol=tol)
            for lam, m_hat in zip(lams, path.m, strict=True):
                b = mask_error_bound(prob, P, lam, D.mask, m_hat)
                trials.append(BoundTrial(
                    P.name, n, d, s, snr, ridge, float(lam), prob.gamma,
                    float(np.linalg.norm(m_hat - D.mask)), b.bound, b.certifies_exact,
                    bool(np.array_equal(m_hat > 0.5, D.mask > 0.5)),
                ))
    return trials


def summarise_bound_trials(trials: list[BoundTrial]) -> dict[str, dict[str, float]]:
    """Per penalty: trials, violations, quantiles of error/bound, certified and actual exact recovery."""
    out = {}
    for name in sorted({t.penalty for t in trials}):
        ts = [t for t in trials if t.penalty == name]
        ratio = np.array([t.ratio for t in ts])
        out[name] = {
            "trials": len(ts),
            "violations": int(np.sum(ratio > 1)),
            "ratio_median": float(np.median(ratio)),
            "ratio_p90": float(np.quantile(ratio, 0.9)),
            "ratio_max": float(ratio.max()),
            "certified": float(np.mean([t.certifies_exact for t in ts])),
            "exact_recovery": float(np.mean([t.exact_recovery for t in ts])),
        }
    return out


# --- the MNIST sanity check -----------------------------------------------------------------------
METHODS = ("mask-log", "mask-l1", "weight-l1 (prox)", "weight-l1 (subgrad)")


@dataclass
class MnistExperiment:
    """Results of the sanity check on one digit pair.

    Attributes
    ----------
    rows : list of dict
        One per (method, λ): ``method``, ``lam``, ``density`` (fraction of the 784 weights kept:
        m̂ > α for masks, w ≠ 0 for weights), ``test_acc``.
    traces : dict of str to ndarray
        Per iteration, at one λ: the objective minus its best value, ``weight prox`` and
        ``weight subgrad`` (the same objective), ``mask-l1 PGD``, ``mask-log PGD``; and the fraction of
        weights changing sign, ``weight prox sign flips``, ``weight subgrad sign flips``.
    dense_test_acc : float
        Test accuracy of the dense θ the masks multiply.
    settings : dict
    """

    rows: list[dict]
    traces: dict[str, np.ndarray]
    dense_test_acc: float
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready summary (traces left out)."""
        return {"rows": self.rows, "dense_test_acc": self.dense_test_acc, "settings": self.settings}


def _accuracy(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(np.mean((X @ w > 0) == (y > 0)))


def mnist_experiment(a: int = 3, b: int = 8, *, quick: bool = False, seed: int = 0, eps: float = 0.05,
                     alpha: float = 0.5, progress: bool = True) -> MnistExperiment:
    """Mask-log vs mask-ℓ1 vs weight-ℓ1 (proximal) vs weight-ℓ1 (subgradient) on digits a vs b.

    θ is a dense ℓ2-regularised logistic-regression fit on the training split
    (:func:`~lottery_lab.convex.baselines.fit_dense_theta`); the masks solve the mask problem for
    that θ with ρ = 0 over a λ path (one batched :func:`solve_pgd` per penalty) and are thresholded at
    α; the pruned model θ ⊙ 1{m̂ > α} is tested without retraining.  Weight-ℓ1 runs on the same
    features; subgradient descent takes the proximal method's step 1/Lip (constant) and iteration budget.
    """
    n_lam, n_iter = (5, 200) if quick else (12, 1000)
    D = mnist_pair(a, b, seed=seed)
    steps = tqdm(total=4, desc=f"convex {a} vs {b}", disable=not progress)
    theta = baselines.fit_dense_theta(D.X_train, D.y_train)
    steps.update()
    prob = MaskProblem(D.X_train, D.y_train, theta)
    # λ relative to the smallest value at which ℓ1 keeps nothing (masks: ‖∇L(0)‖_∞); started from
    # the dense mask, the log penalty needs larger λ for the same density
    lam0 = float(np.max(np.abs(prob.grad(np.zeros(prob.d)))))
    mask_lams = {"mask-log": lam0 * np.logspace(-2.5, 0.5, n_lam), "mask-l1": lam0 * np.logspace(-3, -0.5, n_lam)}
    weight_lams = baselines.weight_lam_max(D.X_train, D.y_train) * np.logspace(-3, -0.5, n_lam)
    mid = n_lam // 2
    rows, traces = [], {}

    def add(method: str, lams: np.ndarray, kept: np.ndarray, weights: np.ndarray) -> None:
        for lam, keep, w in zip(lams, kept, weights, strict=True):
            rows.append({"method": method, "lam": float(lam), "density": float(np.mean(keep)),
                         "test_acc": _accuracy(D.X_test, D.y_test, w)})

    for P, label in ((penalties.get("log", eps=eps), "mask-log"), (penalties.get("l1"), "mask-l1")):
        path = solve_pgd(prob, P, mask_lams[label], tol=1e-5, max_iter=5 * n_iter)
        keep = path.m > alpha
        add(label, mask_lams[label], keep, theta * keep)
        traces[f"{label} PGD"] = path.history[: path.n_iter[mid], mid] - path.objective[mid]
    steps.update()
    prox = baselines.weight_l1_prox(D.X_train, D.y_train, weight_lams, n_iter=n_iter)
    add("weight-l1 (prox)", weight_lams, prox.w != 0, prox.w)
    steps.update()
    sub = baselines.weight_l1_subgradient(D.X_train, D.y_train, weight_lams, n_iter=n_iter)
    add("weight-l1 (subgrad)", weight_lams, sub.w != 0, sub.w)
    best = min(prox.history[:, mid].min(), sub.history[:, mid].min())
    traces["weight prox"] = prox.history[:, mid] - best
    traces["weight subgrad"] = sub.history[:, mid] - best
    traces["weight prox sign flips"] = prox.sign_flips[:, mid]
    traces["weight subgrad sign flips"] = sub.sign_flips[:, mid]
    steps.update()
    steps.close()
    settings = {"a": a, "b": b, "quick": quick, "seed": seed, "eps": eps, "alpha": alpha,
                "n_train": int(len(D.y_train)), "n_test": int(len(D.y_test)), "d": int(prob.d),
                "theta": "dense logistic regression, ridge 1e-2", "trace_lam_weight": float(weight_lams[mid]),
                "trace_lam_mask": {k: float(v[mid]) for k, v in mask_lams.items()}}
    return MnistExperiment(rows, traces, _accuracy(D.X_test, D.y_test, theta), settings)


def summary_table(exp: MnistExperiment, densities: tuple[float, ...] = (0.02, 0.05, 0.1, 0.25)) -> str:
    """Best test accuracy per method among the points keeping at most each fraction of the weights."""
    head = f"{'method':<22}" + "".join(f"{'≤' + format(q, '.0%'):>9}" for q in densities) + f"{'min dens.':>11}"
    lines = [f"digits {exp.settings['a']} vs {exp.settings['b']}: dense θ test accuracy "
             f"{exp.dense_test_acc:.3f}; best test accuracy at density ≤ q", head, "-" * len(head)]
    for method in METHODS:
        rs = [r for r in exp.rows if r["method"] == method]
        cells = []
        for q in densities:
            accs = [r["test_acc"] for r in rs if r["density"] <= q]
            cells.append(f"{max(accs):>9.3f}" if accs else f"{'—':>9}")
        lines.append(f"{method:<22}" + "".join(cells) + f"{min(r['density'] for r in rs):>11.3f}")
    return "\n".join(lines)


def bound_table(summary: dict[str, dict[str, float]]) -> str:
    """The bound-trial summary as aligned text."""
    keys = ["trials", "violations", "ratio_median", "ratio_p90", "ratio_max", "certified", "exact_recovery"]
    lines = [f"{'penalty':<8}" + "".join(f"{k:>15}" for k in keys)]
    for name, row in summary.items():
        lines.append(f"{name:<8}" + "".join(f"{row[k]:>15d}" if isinstance(row[k], int) else f"{row[k]:>15.3g}"
                                             for k in keys))
    return "\n".join(lines)


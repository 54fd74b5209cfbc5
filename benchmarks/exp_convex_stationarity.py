"""Log-penalty masks: PGD against reweighted ℓ1, certified by the stationarity gap and the residual.

The random problems are those of ``tests/test_convex_solvers.py`` (``_random_problem(1000 + i)``, ε
cycling through 0.05, 0.1, 0.3, 1), for more seeds than the test runs.  For each problem it prints
nothing; at the end it prints, for the PGD point and the reweighted-ℓ1 point, the largest and the median
stationarity gap G (an objective gap, quadratic in the distance from stationarity) and first-order
residual ‖m − Π(m − ∇F(m))‖ (linear in it), and how PGD's objective compares with reweighted ℓ1's.

Run: ``python benchmarks/exp_convex_stationarity.py [--problems 68]`` (single-threaded BLAS advised:
``OPENBLAS_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse

import numpy as np

from lottery_lab import convex, penalties


def random_problem(seed: int) -> tuple[convex.MaskProblem, float]:
    """The test's random problem: n in [20, 120), d in [3, 16), a synthetic model, λ log-uniform."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(20, 120)), int(rng.integers(3, 16))
    ridge = float(rng.choice([0.0, 1e-3, 0.1])) if n > d else 0.05
    D = convex.data.synthetic(n, d, max(1, d // 3), seed=seed, snr=float(rng.uniform(0.5, 3)))
    lam = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.1))))
    return convex.MaskProblem(D.X, D.y, D.theta, ridge=ridge), lam


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=68)
    args = ap.parse_args()
    rows = []
    for i in range(args.problems):
        prob, lam = random_problem(1000 + i)
        P = penalties.get("log", eps=[0.05, 0.1, 0.3, 1.0][i % 4])
        pgd = convex.solve_pgd(prob, P, lam, tol=1e-10)
        rw = convex.solve_cvxpy(prob, P, lam)
        rows.append((convex.stationarity_gap(prob, P, lam, pgd.m),
                     convex.stationarity_residual(prob, P, lam, pgd.m),
                     convex.stationarity_gap(prob, P, lam, rw.m),
                     convex.stationarity_residual(prob, P, lam, rw.m),
                     (pgd.objective - rw.objective) / abs(rw.objective),
                     bool(pgd.converged), bool(rw.converged)))
    a = np.array(rows, dtype=float)
    print(f"{args.problems} problems, log penalty; PGD converged {int(a[:, 5].sum())}, "
          f"reweighted l1 converged {int(a[:, 6].sum())}")
    for name, col in (("PGD gap", 0), ("PGD residual", 1), ("RW gap", 2), ("RW residual", 3)):
        print(f"{name:<14} max {a[:, col].max():.2e}  median {np.median(a[:, col]):.2e}  "
              f"exactly 0 (clipped) in {int(np.sum(a[:, col] == 0))}")
    rel = a[:, 4]
    print(f"(F_pgd - F_rw)/|F_rw|: max {rel.max():.2e}, min {rel.min():.2e}; "
          f"PGD lower or equal in {int(np.sum(rel <= 0))}, higher by > 1e-9 in {int(np.sum(rel > 1e-9))}")


if __name__ == "__main__":
    main()

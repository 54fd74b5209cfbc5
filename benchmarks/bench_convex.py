"""Benchmark of the convex mask lab on an MNIST digit pair (d = 784).

1. Time to reach the same objective, within 1e-6 relative of the exact ℓ1 minimum: projected
   gradient (``solve_pgd``) against cvxpy/CLARABEL (``solve_cvxpy``, build + solve, and a re-solve of
   the already-built problem).
2. A 50-λ path: one batched ``solve_pgd`` call against 50 scalar calls, for ℓ1 and log.

Run: ``python benchmarks/bench_convex.py [--pair 3 8] [--repeat 3]``.  Prints the times and ratios.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lottery_lab import penalties
from lottery_lab.convex import MaskProblem, solve_cvxpy, solve_pgd
from lottery_lab.convex.baselines import fit_dense_theta
from lottery_lab.convex.data import mnist_pair
from lottery_lab.convex.reference import solve_linearised


def best_time(fn, repeat: int) -> tuple[float, object]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", nargs=2, type=int, default=[3, 8])
    ap.add_argument("--lam", type=float, default=1e-3, help="λ of the single solve (default 1e-3)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    D = mnist_pair(*args.pair)
    prob = MaskProblem(D.X_train, D.y_train, fit_dense_theta(D.X_train, D.y_train))
    step = prob.step  # eigenvalues computed once, outside the timings (both solvers could reuse them)
    print(f"MNIST {args.pair[0]} vs {args.pair[1]}: n = {prob.n}, d = {prob.d}, ridge = 0, λ = {args.lam:g}, "
          f"PGD step {step:.3g}")

    # 1. PGD vs cvxpy to the same objective
    t_cvx, ref = best_time(lambda: solve_cvxpy(MaskProblem(prob.X, prob.y, prob.theta), "l1", args.lam), 1)
    f_star = ref.objective
    t_resolve, _ = best_time(lambda: solve_linearised(prob, np.full(prob.d, args.lam)), 1)
    for tol in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
        res = solve_pgd(prob, "l1", args.lam, tol=tol)
        if res.objective - f_star <= 1e-6 * abs(f_star):
            break
    t_pgd, res = best_time(lambda: solve_pgd(prob, "l1", args.lam, tol=tol), args.repeat)
    print(f"\nexact ℓ1 mask problem, F* = {f_star:.10f} (cvxpy/CLARABEL)")
    print(f"  cvxpy build + solve      {t_cvx:8.3f} s")
    print(f"  cvxpy re-solve (built)   {t_resolve:8.3f} s")
    print(f"  PGD, tol {tol:.0e}         {t_pgd:8.3f} s   ({res.n_iter} iterations, "
          f"(F - F*)/|F*| = {(res.objective - f_star) / abs(f_star):+.1e})")
    print(f"  ratio cvxpy / PGD        {t_cvx / t_pgd:8.1f}x   (re-solve only: {t_resolve / t_pgd:.1f}x)")

    # 2. a 50-λ path, batched vs one by one
    lam0 = float(np.max(np.abs(prob.grad(np.zeros(prob.d)))))
    lams = lam0 * np.logspace(-3, -0.5, 50)
    print(f"\n50-λ path, λ in [{lams[0]:.2g}, {lams[-1]:.2g}], tol 1e-6")
    for P in (penalties.get("l1"), penalties.get("log", eps=0.05)):
        t_batch, path = best_time(lambda P=P: solve_pgd(prob, P, lams, tol=1e-6), args.repeat)
        t_loop, loop = best_time(lambda P=P: [solve_pgd(prob, P, lam, tol=1e-6) for lam in lams], 1)
        diff = max(float(np.max(np.abs(path.m[j] - r.m))) for j, r in enumerate(loop))
        print(f"  {P.name:>3}: batched {t_batch:7.3f} s ({int(path.n_iter.max())} iterations at most), "
              f"loop {t_loop:7.3f} s ({sum(r.n_iter for r in loop)} in all); "
              f"ratio {t_loop / t_batch:5.1f}x; max |Δm| = {diff:.1e}")


if __name__ == "__main__":
    main()

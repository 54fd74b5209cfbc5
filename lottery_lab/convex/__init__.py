"""The convex mask lab: the relaxed-mask problem for a fixed θ, where every claim can be checked exactly.

numpy, scipy and cvxpy only (never torch).  See the book's theory page for the derivations.

>>> from lottery_lab import convex
>>> D = convex.data.synthetic(n=200, d=10, s=3, seed=0)
>>> prob = convex.MaskProblem(D.X, D.y, D.theta, ridge=0.01)
>>> res = convex.solve_pgd(prob, "l1", 0.01)
>>> bool(res.converged)
True
"""

from lottery_lab.convex import data
from lottery_lab.convex.bounds import BoundResult, mask_error_bound, tangent_projection
from lottery_lab.convex.problem import MaskProblem
from lottery_lab.convex.reference import solve_cvxpy, stationarity_gap, stationarity_residual
from lottery_lab.convex.solvers import MaskResult, solve_pgd

__all__ = [
    "MaskProblem", "MaskResult", "BoundResult", "solve_pgd", "solve_cvxpy", "stationarity_gap",
    "stationarity_residual", "mask_error_bound", "tangent_projection", "data",
]

"""The convex mask lab: the relaxed-mask problem for a fixed θ, where every claim can be checked exactly.

numpy, scipy and cvxpy only (never torch).  See the book's theory page for the derivations.

>>> from lottery_lab import convex
>>> D = convex.data.synthetic(n=200, d=10, s=3, seed=0)
>>> prob = convex.MaskProblem(D.X, D.y, D.theta, ridge=0.01)
>>> res = convex.solve_pgd(prob, "l1", 0.01)
>>> bool(res.converged)
True
"""

import importlib
from typing import Any

#: public name -> the submodule that defines it; imported on first access, so ``import
#: lottery_lab.convex`` (and ``lottery-lab --help``) loads neither cvxpy nor scipy
_LAZY = {
    "MaskProblem": "problem", "MaskResult": "solvers", "solve_pgd": "solvers",
    "BoundResult": "bounds", "mask_error_bound": "bounds", "tangent_projection": "bounds",
    "solve_cvxpy": "reference", "stationarity_gap": "reference", "stationarity_residual": "reference",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"lottery_lab.convex.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if name == "data":
        return importlib.import_module("lottery_lab.convex.data")
    raise AttributeError(f"module 'lottery_lab.convex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"data"})


__all__ = [
    "MaskProblem", "MaskResult", "BoundResult", "solve_pgd", "solve_cvxpy", "stationarity_gap",
    "stationarity_residual", "mask_error_bound", "tangent_projection", "data",
]

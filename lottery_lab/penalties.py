"""Sparsity penalties shared by every part of lottery_lab: value, gradient and proximal operator.

Every penalty is a function R of |x|, works elementwise on numpy arrays and torch tensors alike
(torch is never imported here: a tensor brings its own namespace), and is normalised to slope 1 at
0⁺ wherever that slope is finite, so that λ means the same thing across penalties:

=========  ==========================================================  ==================
name       R(x), with t = |x|                                          parameters
=========  ==========================================================  ==================
``l1``     t                                                           —
``log``    ε·log(1 + t/ε)                                              ``eps`` > 0
``lp``     ((t + ε)^p − ε^p) / (p·ε^(p−1))   (ℓp smoothed near 0)      0 < ``p`` < 1, ``eps`` > 0
``scad``   t  |  (2abt − t² − b²)/(2(a−1)b)  |  b(a+1)/2               ``a`` > 2, ``b`` > 0
           for t ≤ b, b < t ≤ ab, t > ab
``mcp``    t − t²/(2γ) for t ≤ γ, γ/2 beyond                           ``gamma`` > 0
``tl1``    a·t/(a + t)  =  a/(a+1) · ρ_a(t)                            ``a`` > 0
``l0``     1 if t ≠ 0 else 0                                           —
=========  ==========================================================  ==================

ρ_a(t) = (a+1)t/(a+t) is the transformed ℓ1 of Zhang & Xin; its slope at 0 is (a+1)/a, so a weight
λ_ZX on ρ_a equals λ = λ_ZX·(a+1)/a here.

MCP's ``gamma`` is the *knee*, the point where the penalty turns flat, which in Zhang's (2010)
parametrisation ρ(t; λ, γ) = λt − t²/(2γ) up to γλ is the product γλ, not his shape parameter γ > 1:
λ·R(t; gamma) here equals Zhang's ρ(t; λ, γ) with γ = gamma/λ, and his condition γ > 1 reads
gamma > λ (the prox handles either case).

Example
-------
>>> from lottery_lab import penalties
>>> P = penalties.get("log", eps=0.1)
>>> float(P.prox(1.0, 0.05))  # doctest: +ELLIPSIS
0.995...
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

from lottery_lab._registry import Registry
from lottery_lab._validation import Interval, check_keywords, validate

import numpy as np

__all__ = ["Penalty", "get", "names", "register", "unregister"]


class _Ops:
    """The few array operations the penalties need, for numpy or for torch (taken from the input)."""

    def __init__(self, torch_module: Any | None):
        self.torch = torch_module

    def asarray(self, x: Any, like: Any = None) -> Any:
        if self.torch is None:
            return np.asarray(x, dtype=float)
        if isinstance(x, self.torch.Tensor):
            return x
        kw = {"dtype": like.dtype, "device": like.device} if like is not None else {}
        return self.torch.as_tensor(x, **kw)

    def __getattr__(self, name: str) -> Callable:
        lib = np if self.torch is None else self.torch
        alias = {"clip": "clamp", "arccos": "acos"} if self.torch is not None else {}
        return getattr(lib, alias.get(name, name))

    def broadcast(self, *xs: Any) -> list[Any]:
        if self.torch is None:
            return list(np.broadcast_arrays(*xs))
        return list(self.torch.broadcast_tensors(*xs))

    def argmin_select(self, candidates: list[Any], objective: Callable[[Any], Any]) -> Any:
        """Elementwise, the candidate with the smallest objective (first one on ties)."""
        best = candidates[0]
        best_val = objective(best)
        for c in candidates[1:]:
            val = objective(c)
            better = val < best_val
            best = self.where(better, c, best)
            best_val = self.where(better, val, best_val)
        return best


def _ops_for(x: Any) -> _Ops:
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch

        return _Ops(torch)
    return _Ops(None)


#: a penalty parameter's default constraint: a finite real number (numpy scalars too)
_REAL = Interval(numbers.Real)
_POSITIVE = Interval(numbers.Real, 0, None, closed="neither")


class Penalty:
    """A separable sparsity penalty R, applied elementwise.

    Subclasses define ``_r(t)``, ``_dr(t)`` and ``_prox_pos(t, tau)`` for t = |x| ≥ 0; this class adds
    the sign handling and the numpy/torch dispatch.

    Attributes
    ----------
    name : str
        Registry name (``penalties.get(name)`` returns an equal penalty).
    params : dict
        The penalty's parameters.
    is_convex : bool
        True only for ℓ1: the others are concave on [0, ∞) (ℓ0 is not even continuous).
    """

    name: str = ""
    is_convex: bool = False
    _param_names: tuple[str, ...] = ()
    _defaults: dict[str, float] = {}
    #: what a parameter may be (:mod:`lottery_lab._validation`); a finite real number where not given
    _constraints: dict[str, Any] = {}

    def __init__(self, **params: Any):
        check_keywords(f"penalty {self.name!r}", params, self._param_names, noun="parameter")
        merged = {**self._defaults, **params}
        self.params = {k: float(validate(k, v, self._constraints.get(k, _REAL))) for k, v in merged.items()}
        self._validate()

    def _validate(self) -> None:
        """Raise ValueError naming the parameter when parameters are wrong together (beyond ``_constraints``)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"Penalty({self.name!r}{', ' if args else ''}{args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Penalty) and (self.name, self.params) == (other.name, other.params)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    # --- public API -------------------------------------------------------------------------------
    def value(self, x: Any) -> Any:
        """R(x) elementwise (sum it for the penalty of a vector).

        With torch tensors the result is differentiable by autograd, but autograd takes the
        derivative of |x| at 0 to be 0: use :meth:`grad` for the right derivative at 0.
        """
        ops = _ops_for(x)
        x = ops.asarray(x)
        return self._r(ops, ops.abs(x))

    def grad(self, x: Any) -> Any:
        """dR/dx elementwise: sign(x)·R'(|x|), with the right derivative R'(0⁺) at x = 0.

        On x ≥ 0 (masks) this is the derivative, and at a kink a supergradient of the concave R.
        """
        ops = _ops_for(x)
        x = ops.asarray(x)
        sign = ops.where(x < 0, -1.0, 1.0)
        return sign * self._dr(ops, ops.abs(x))

    def slope(self, t: Any) -> Any:
        """R'(t) for t ≥ 0 (the right derivative at 0), skipping :meth:`grad`'s sign handling.

        For masks and gates, which live in [0, 1], in a training loop's hot path.
        """
        ops = _ops_for(t)
        return self._dr(ops, ops.asarray(t))

    def slope_(self, t: Any, out: Any) -> Any:
        """:meth:`slope` of a torch tensor ``t`` written into ``out`` (preallocated, ``t``'s shape); returns ``out``.

        The same arithmetic as :meth:`slope`, bit for bit, without its temporaries: a training step that
        needs R'(m) every step reuses one buffer (issue 14: fresh temporaries the size of the weights
        cost their page faults again every step). Penalties without an in-place form copy :meth:`slope`.
        """
        return out.copy_(self.slope(t))

    def prox(self, x: Any, tau: Any) -> Any:
        """argmin_z ½(z − x)² + τ·R(z), elementwise; τ ≥ 0 is a scalar or broadcasts against x."""
        ops = _ops_for(x)
        x = ops.asarray(x)
        tau = ops.asarray(tau, like=x)
        if bool((tau < 0).any()):
            raise ValueError(f"tau must be >= 0, got {tau}")
        x, tau = ops.broadcast(x, tau)
        t = ops.abs(x)
        z = self._prox_pos(ops, t, tau)
        return ops.where(x < 0, -z, z)

    # --- helpers for subclasses -------------------------------------------------------------------
    def _best_of(self, ops: _Ops, t: Any, tau: Any, candidates: list[Any]) -> Any:
        """The candidate z ≥ 0 minimising ½(z − t)² + τ R(z), elementwise."""
        return ops.argmin_select(candidates, lambda z: 0.5 * (z - t) ** 2 + tau * self._r(ops, z))

    def _r(self, ops: _Ops, t: Any) -> Any:
        raise NotImplementedError

    def _dr(self, ops: _Ops, t: Any) -> Any:
        raise NotImplementedError

    def _prox_pos(self, ops: _Ops, t: Any, tau: Any) -> Any:
        raise NotImplementedError


class L1(Penalty):
    """ℓ1: R(x) = |x|; prox = soft threshold."""

    name, is_convex = "l1", True

    def _r(self, ops, t):
        return t

    def _dr(self, ops, t):
        return ops.ones_like(t)

    def slope_(self, t, out):
        return out.fill_(1.0)

    def _prox_pos(self, ops, t, tau):
        return ops.clip(t - tau, 0.0, None)


class Log(Penalty):
    """Log penalty ε·log(1 + |x|/ε); prox: the larger root of a quadratic, or 0, whichever is lower."""

    name, _param_names, _defaults = "log", ("eps",), {"eps": 0.1}

    _constraints = {"eps": _POSITIVE}

    def _r(self, ops, t):
        eps = self.params["eps"]
        return eps * ops.log1p(t / eps)

    def _dr(self, ops, t):
        eps = self.params["eps"]
        return eps / (eps + t)

    def slope_(self, t, out):
        # eps / (eps + t) as torch evaluates it: a number over a tensor is the tensor's reciprocal times it
        eps = self.params["eps"]
        return _ops_for(t).add(t, eps, out=out).reciprocal_().mul_(eps)

    def _prox_pos(self, ops, t, tau):
        # stationary points z > 0 solve z² + (ε − t) z + ε(τ − t) = 0; the larger root is the local min
        eps = self.params["eps"]
        disc = (eps + t) ** 2 - 4.0 * tau * eps
        root = 0.5 * ((t - eps) + ops.sqrt(ops.clip(disc, 0.0, None)))
        root = ops.where(disc >= 0, ops.clip(root, 0.0, None), ops.zeros_like(t))
        return self._best_of(ops, t, tau, [ops.zeros_like(t), root])


class Lp(Penalty):
    """ℓp (0 < p < 1) smoothed near 0: ((|x| + ε)^p − ε^p)/(p ε^(p−1)); prox by bisection."""

    name, _param_names, _defaults = "lp", ("p", "eps"), {"p": 0.5, "eps": 0.1}
    _BISECTION_STEPS = 80

    _constraints = {"p": Interval(numbers.Real, 0, 1, closed="neither"), "eps": _POSITIVE}

    def _r(self, ops, t):
        p, eps = self.params["p"], self.params["eps"]
        return ((t + eps) ** p - eps**p) / (p * eps ** (p - 1))

    def _dr(self, ops, t):
        p, eps = self.params["p"], self.params["eps"]
        return ((t + eps) / eps) ** (p - 1)

    def _prox_pos(self, ops, t, tau):
        # φ(z) = z − t + τ R'(z) is convex in z with φ(t) ≥ 0; the local minimiser of the prox objective
        # is φ's largest root, bracketed by [argmin φ, t]; compare it with z = 0.
        p, eps = self.params["p"], self.params["eps"]
        safe_tau = ops.where(tau > 0, tau, ops.ones_like(tau))
        z_c = eps * (eps / (safe_tau * (1 - p))) ** (1 / (p - 2)) - eps
        lo = ops.minimum(ops.clip(z_c, 0.0, None), t)
        hi = t + 0.0
        phi = lambda z: z - t + tau * self._dr(ops, z)  # noqa: E731
        has_root = phi(lo) <= 0
        for _ in range(self._BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            neg = phi(mid) <= 0
            lo = ops.where(neg, mid, lo)
            hi = ops.where(neg, hi, mid)
        root = ops.where(has_root, hi, ops.zeros_like(t))
        return ops.where(tau > 0, self._best_of(ops, t, tau, [ops.zeros_like(t), root]), t)


class SCAD(Penalty):
    """SCAD (Fan & Li) with knee ``b`` and shape ``a`` > 2, scaled to slope 1 at 0."""

    name, _param_names, _defaults = "scad", ("a", "b"), {"a": 3.7, "b": 0.1}

    _constraints = {"a": Interval(numbers.Real, 2, None, closed="neither"), "b": _POSITIVE}

    def _r(self, ops, t):
        a, b = self.params["a"], self.params["b"]
        mid = (2 * a * b * t - t**2 - b**2) / (2 * (a - 1) * b)
        return ops.where(t <= b, t, ops.where(t <= a * b, mid, b * (a + 1) / 2 + 0 * t))

    def _dr(self, ops, t):
        a, b = self.params["a"], self.params["b"]
        return ops.where(t <= b, ops.ones_like(t), ops.clip((a * b - t) / ((a - 1) * b), 0.0, None))

    def _prox_pos(self, ops, t, tau):
        # exact: the minimiser of each quadratic piece (or its ends, where the piece is concave)
        a, b = self.params["a"], self.params["b"]
        z1 = ops.clip(t - tau, 0.0, b)
        curv = 1 - tau / ((a - 1) * b)
        safe = ops.where(curv > 0, curv, ops.ones_like(curv))
        z2 = ops.where(curv > 0, ops.clip((t - tau * a / (a - 1)) / safe, b, a * b), b + 0 * t)
        z3 = ops.clip(t, a * b, None)
        cands = [ops.zeros_like(t), z1, b + 0 * t, z2, a * b + 0 * t, z3]
        return self._best_of(ops, t, tau, cands)


class MCP(Penalty):
    """Minimax concave penalty (Zhang) with knee ``gamma``: |x| − x²/(2γ) up to γ, then γ/2.

    ``gamma`` is Zhang's γλ (where his penalty turns flat), not his shape parameter γ > 1: with weight
    λ this is his MCP with shape gamma/λ.
    """

    name, _param_names, _defaults = "mcp", ("gamma",), {"gamma": 0.5}

    _constraints = {"gamma": _POSITIVE}

    def _r(self, ops, t):
        g = self.params["gamma"]
        return ops.where(t <= g, t - t**2 / (2 * g), g / 2 + 0 * t)

    def _dr(self, ops, t):
        return ops.clip(1 - t / self.params["gamma"], 0.0, None)

    def _prox_pos(self, ops, t, tau):
        g = self.params["gamma"]
        curv = 1 - tau / g
        safe = ops.where(curv > 0, curv, ops.ones_like(curv))
        z1 = ops.where(curv > 0, ops.clip((t - tau) / safe, 0.0, g), ops.zeros_like(t))
        cands = [ops.zeros_like(t), z1, g + 0 * t, ops.clip(t, g, None)]
        return self._best_of(ops, t, tau, cands)


class TL1(Penalty):
    """Transformed ℓ1, normalised: a|x|/(a + |x|) = a/(a+1)·ρ_a(x); prox by Zhang & Xin's formula."""

    name, _param_names, _defaults = "tl1", ("a",), {"a": 1.0}

    _constraints = {"a": _POSITIVE}

    def _r(self, ops, t):
        a = self.params["a"]
        return a * t / (a + t)

    def _dr(self, ops, t):
        a = self.params["a"]
        return a**2 / (a + t) ** 2

    def threshold(self, tau: Any) -> Any:
        """The prox's threshold t*(τ): prox(x, τ) = 0 iff |x| ≤ t*. Two regimes (Zhang & Xin)."""
        ops = _ops_for(tau)
        tau = ops.asarray(tau)
        a = self.params["a"]
        lam = tau * a / (a + 1)  # weight on the un-normalised ρ_a
        small = lam * (a + 1) / a
        large = ops.sqrt(2 * lam * (a + 1)) - a / 2
        return ops.where(lam <= a**2 / (2 * (a + 1)), small, large)

    def _prox_pos(self, ops, t, tau):
        a = self.params["a"]
        lam = tau * a / (a + 1)
        cos_arg = ops.clip(1 - 27 * lam * a * (a + 1) / (2 * (a + t) ** 3), -1.0, 1.0)
        phi = ops.arccos(cos_arg)
        z = 2.0 / 3.0 * (a + t) * ops.cos(phi / 3) - 2.0 * a / 3.0 + t / 3.0
        return ops.where(t > self.threshold(tau), ops.clip(z, 0.0, None), ops.zeros_like(t))


class L0(Penalty):
    """ℓ0: the count of non-zeros; prox = hard threshold at √(2τ). Its gradient is 0 away from 0."""

    name = "l0"

    def _r(self, ops, t):
        return ops.where(t != 0, ops.ones_like(t), ops.zeros_like(t))

    def _dr(self, ops, t):
        return ops.zeros_like(t)

    def slope_(self, t, out):
        return out.zero_()

    def _prox_pos(self, ops, t, tau):
        return ops.where(t > ops.sqrt(2 * tau), t, ops.zeros_like(t))


_REGISTRY: Registry[type[Penalty]] = Registry("penalty", group="lottery_lab.penalties", normalize=str.lower)
for _cls in (L1, Log, Lp, SCAD, MCP, TL1, L0):
    _REGISTRY.register(_cls.name, _cls)


def register(cls: type[Penalty]) -> type[Penalty]:
    """Class decorator: make a :class:`Penalty` subclass available as ``penalties.get(cls.name)``."""
    if not (isinstance(cls, type) and issubclass(cls, Penalty)) or not getattr(cls, "name", None):
        raise TypeError(f"cls={cls!r} is invalid: must be a Penalty subclass with a non-empty `name`")
    return _REGISTRY.register(cls.name, cls)


def unregister(name: str) -> type[Penalty]:
    """Remove penalty ``name``; returns its class."""
    return _REGISTRY.unregister(name)


def names() -> list[str]:
    """The registered penalty names."""
    return list(_REGISTRY)


def get(name: str | Penalty, **params: Any) -> Penalty:
    """The penalty registered as ``name``, with its parameters (see the module docstring).

    A :class:`Penalty` passed as ``name`` is returned as it is (then ``params`` must be empty).
    """
    if isinstance(name, Penalty):
        if params:
            raise ValueError(f"params={params!r} must be empty when the penalty is a Penalty instance ({name!r})")
        return name
    return _REGISTRY.get(name)(**params)

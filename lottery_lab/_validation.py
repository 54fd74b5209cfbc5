"""Declarative parameter checks: what an argument may be, said once, with one message format.

In the spirit of scikit-learn's ``sklearn/utils/_param_validation.py`` (``Interval``, ``StrOptions``,
type constraints and a ``validate_parameter_constraints`` that names the parameter), reduced to what
lottery_lab needs and with two exception types instead of sklearn's one ``InvalidParameterError``:

- :class:`TypeError` when the value is of a kind no constraint takes (a string for a number, ``True``
  for a count: ``bool`` is never read as a number here, and a string never as a flag);
- :class:`ValueError` when its kind is right but the value is not (a learning rate of -1, NaN);
- :class:`TypeError` for unknown keyword arguments (:func:`check_keywords`), as Python's own call
  does (``f(nope=1)``): ``methods.get``, ``models.get``, ``penalties.get`` and the config's
  ``*_kw`` dicts forward them to a call, and that call would raise it.

Every message reads ``{arg}={value!r} must be {what is allowed}`` (``, got {type}`` added to a
TypeError), e.g. ``lr=-1.0 must be a number > 0`` or ``epochs=True must be an integer >= 1, got bool``.

>>> from lottery_lab._validation import Interval, Options, validate
>>> validate("momentum", 0.9, Interval(float, 0, 1, closed="left"))
0.9
>>> validate("optimizer", "lbfgs", Options({"sgd", "adam"}))
Traceback (most recent call last):
...
ValueError: optimizer='lbfgs' must be one of adam, sgd

Imports nothing heavy: the config and the command-line parser use it (numpy is imported only by the
array checks of the convex lab).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Sequence
from dataclasses import fields
from typing import Any

__all__ = ["Constraint", "Interval", "Options", "InstanceOf", "ListOf", "validate", "validate_fields",
           "constraint", "describe_value", "invalid", "check_keywords", "check_int", "check_real", "check_flag",
           "check_lam", "check_mask"]

_CLOSED = ("both", "left", "right", "neither")


def describe_value(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened: arrays by their values when small, else by their shape."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "tolist"):
        if math.prod(shape) <= 8:
            text = repr(value.tolist())
        else:
            try:
                text = f"<array of shape {tuple(shape)}, values in [{value.min():g}, {value.max():g}]>"
            except (TypeError, ValueError):
                text = f"<array of shape {tuple(shape)}>"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def invalid(arg: str, value: Any, allowed: str, exc: type[Exception] = ValueError) -> Exception:
    """The exception for ``arg=value`` outside ``allowed``: the one message format of the package."""
    got = f", got {type(value).__name__}" if exc is TypeError else ""
    return exc(f"{arg}={describe_value(value)} must be {allowed}{got}")


class Constraint:
    """What a value may be. ``kind_ok``: the value's type fits (else a TypeError); ``value_ok``: it
    also satisfies the constraint (else a ValueError); ``describe``: the allowed values, in words."""

    def kind_ok(self, value: Any) -> bool:
        raise NotImplementedError

    def value_ok(self, value: Any) -> bool:
        return self.kind_ok(value)

    def describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # True is not 1 epoch, nor np.True_
        return False
    if kind is int:
        return isinstance(value, int)
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


class Interval(Constraint):
    """A number of ``type`` between ``left`` and ``right`` (``None``: unbounded on that side).

    ``type``: ``int`` (Python ints), ``float`` (Python ints and floats: configs are stored as JSON),
    ``numbers.Integral`` or ``numbers.Real`` (numpy scalars too). ``bool`` is never a number.
    ``closed``: which ends belong to it, ``"both"``, ``"left"``, ``"right"`` or ``"neither"``. An
    unbounded side excludes ±inf, as in [0, ∞): give ``math.inf`` as a closed bound to admit it. NaN
    lies in no interval.
    """

    def __init__(self, type: type, left: float | None = None, right: float | None = None, *,
                 closed: str = "both") -> None:
        if type not in (int, float, numbers.Integral, numbers.Real):
            raise TypeError(f"type={type!r} must be one of int, float, numbers.Integral, numbers.Real")
        if closed not in _CLOSED:
            raise ValueError(f"closed={closed!r} must be one of {', '.join(map(repr, _CLOSED))}")
        if left is not None and right is not None and not left <= right:
            raise ValueError(f"left={left!r} must be <= right={right!r}")
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def kind_ok(self, value: Any) -> bool:
        return _is_number(value, self.type)

    def value_ok(self, value: Any) -> bool:
        if not self.kind_ok(value):
            return False
        if math.isnan(value):
            return False
        low_closed, high_closed = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.left is None:
            above = value > -math.inf
        else:
            above = value >= self.left if low_closed else value > self.left
        if self.right is None:
            below = value < math.inf
        else:
            below = value <= self.right if high_closed else value < self.right
        return above and below

    def describe(self) -> str:
        integral = self.type in (int, numbers.Integral)
        noun = "an integer" if integral else "a number"
        if not integral and (self.left is None or self.right is None):
            noun = "a finite number"  # an unbounded side excludes inf
        low, high = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.left is None and self.right is None:
            return noun
        if self.right is None:
            return f"{noun} {'>=' if low else '>'} {self.left:g}"
        if self.left is None:
            return f"{noun} {'<=' if high else '<'} {self.right:g}"
        return f"{noun} in {'[' if low else '('}{self.left:g}, {self.right:g}{']' if high else ')'}"


class Options(Constraint):
    """One of ``options`` (a collection of values of the kind ``type``, ``str`` by default).

    ``label``, when given, replaces the listing of the options in messages (e.g. "one of the
    registered datasets: ...").
    """

    def __init__(self, options: Collection[Any], type: type = str, label: str | None = None) -> None:
        self.options, self.type, self.label = options, type, label

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, self.type) and not (self.type is not bool and isinstance(value, bool))

    def value_ok(self, value: Any) -> bool:
        return self.kind_ok(value) and value in self.options

    def describe(self) -> str:
        if self.label is not None:
            return self.label
        items = sorted(self.options, key=str) if isinstance(self.options, (set, frozenset)) else list(self.options)
        shown = ", ".join(str(v) if isinstance(v, str) else repr(v) for v in items)  # as the registries list names
        return f"one of {shown}" if items else "one of no values (none are allowed)"


_TYPE_WORDS = {bool: "True or False", str: "a string", dict: "a dict", list: "a list", tuple: "a tuple"}


class InstanceOf(Constraint):
    """An instance of ``types`` (``bool`` means exactly True or False; ``None`` the value None)."""

    def __init__(self, *types: type | None, label: str | None = None) -> None:
        self.types = tuple(type(None) if t is None else t for t in types)
        self.label = label

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        if self.label is not None:
            return self.label
        words = ["None" if t is type(None) else _TYPE_WORDS.get(t, f"a {t.__name__}") for t in self.types]
        return " or ".join(words)


class ListOf(Constraint):
    """A list or tuple whose every element satisfies ``item`` (a wrong element's kind is a TypeError)."""

    def __init__(self, item: Constraint) -> None:
        self.item = item

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(self.item.kind_ok(v) for v in value)

    def value_ok(self, value: Any) -> bool:
        return self.kind_ok(value) and all(self.item.value_ok(v) for v in value)

    def describe(self) -> str:
        item = self.item.describe()
        for article in ("an ", "a "):
            if item.startswith(article):
                item = item[len(article):]
                break
        return f"a list of {item.replace('integer', 'integers', 1).replace('number', 'numbers', 1)}"


def constraint(spec: Any) -> Constraint:
    """A :class:`Constraint` from a short spec: a constraint itself, ``None`` (the value None) or a type."""
    if isinstance(spec, Constraint):
        return spec
    if spec is None or isinstance(spec, type):
        return InstanceOf(spec)
    raise TypeError(f"constraint spec={spec!r} must be a Constraint, a type or None")


def _constraints(spec: Any) -> list[Constraint]:
    if isinstance(spec, (list, tuple)):
        return [constraint(s) for s in spec]
    return [constraint(spec)]


def validate(arg: str, value: Any, constraints: Any) -> Any:
    """``value`` if any of ``constraints`` takes it; else :class:`ValueError` when one of them takes its
    kind, :class:`TypeError` when none does. Messages name ``arg``, the value and every allowed form.

    ``constraints``: one constraint spec or a list of them (see :func:`constraint`).
    """
    cs = _constraints(constraints)
    if any(c.value_ok(value) for c in cs):
        return value
    allowed = " or ".join(c.describe() for c in cs)
    raise invalid(arg, value, allowed, ValueError if any(c.kind_ok(value) for c in cs) else TypeError)


def validate_fields(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj`` whose ``metadata["constraints"]`` is set,
    in declaration order (the first bad field is the one named)."""
    for f in fields(obj):
        if "constraints" in f.metadata:
            validate(f.name, getattr(obj, f.name), f.metadata["constraints"])


def check_keywords(owner: str, given: Iterable[str], allowed: Sequence[str], noun: str = "argument") -> None:
    """TypeError (as Python's call raises) naming every unknown keyword of ``given`` and what ``owner``
    accepts, e.g. ``method 'imp' got unknown argument(s) frac; it accepts: prune_fraction, ...``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"{owner} got unknown {noun}(s) {', '.join(unknown)}; "
                        f"it accepts: {', '.join(allowed) or 'none'}")


# ------------------------------------------------------------------------ the common checks, by name

def check_int(arg: str, value: Any, minimum: int, none_ok: bool = False) -> int | None:
    """``value`` as an int >= ``minimum`` (``None`` too with ``none_ok``)."""
    spec: list[Any] = [Interval(int, minimum, None)] + ([None] if none_ok else [])
    value = validate(arg, value, spec)
    return None if value is None else int(value)


def check_real(arg: str, value: Any, left: float | None = None, right: float | None = None,
               closed: str = "both") -> float:
    """``value`` as a finite float (in the interval ``left``, ``right``, ``closed`` where given)."""
    return float(validate(arg, value, Interval(float, left, right, closed=closed)))


def check_flag(arg: str, value: Any) -> bool:
    """``value`` if it is a bool: ``bool("false")`` is True, so a string is never read as a flag."""
    return validate(arg, value, bool)


# ------------------------------------------------------------------------ arrays (the convex lab)

def check_lam(lam: Any, single_for: str | None = None) -> tuple[Any, bool]:
    """λ as a 1-d float array and whether it was a scalar; ValueError unless finite, >= 0, non-empty
    (and, with ``single_for`` naming the function that needs it, a single number)."""
    import numpy as np

    allowed = "a finite number >= 0 or a non-empty 1-d array of them"
    try:
        arr = np.asarray(lam, dtype=float)
    except (TypeError, ValueError):
        raise invalid("lam", lam, allowed, TypeError) from None
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise invalid("lam", lam, allowed)
    if single_for is not None and arr.ndim != 0:
        raise invalid("lam", lam, f"a single finite number >= 0 for {single_for}")
    return np.atleast_1d(arr), arr.ndim == 0


def check_mask(m: Any, d: int, name: str) -> Any:
    """m as a float array of shape (d,) inside the box [0, 1]^d; ValueError naming ``name`` otherwise."""
    import numpy as np

    allowed = f"an array of shape (d,) = ({d},) with values in [0, 1]"
    try:
        arr = np.asarray(m, dtype=float)
    except (TypeError, ValueError):
        raise invalid(name, m, allowed, TypeError) from None
    if arr.shape != (d,) or not np.all((arr >= 0) & (arr <= 1)):
        raise invalid(name, arr, allowed)
    return arr

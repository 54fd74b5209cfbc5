"""Comparisons of a student's output with the reference: type, then shape, then values.

Each returns a ``compare(got, expected)`` that raises :class:`Mismatch` with a one-line message saying
what was expected and what came back.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lottery_lab.grading._core import Mismatch, short, values


def _worst(got: np.ndarray, expected: np.ndarray) -> str:
    err = np.abs(got.astype(float) - expected.astype(float))
    err = np.where(np.isnan(err), np.inf, err)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    where = f" at index {tuple(int(i) for i in idx)}" if idx else ""
    line = f"expected {_number(float(expected[idx]), float(got[idx]))}{where}, got {_number(float(got[idx]), float(expected[idx]))}"
    if expected.size == 1:
        return line
    flat = int(np.ravel_multi_index(idx, err.shape)) if idx else 0
    shown_expected, shown_got = values(expected, around=flat), values(got, around=flat)
    if shown_expected == shown_got:  # rounded to 4 digits they read alike: the line above says it
        return line
    return line + f" (expected {shown_expected}, got {shown_got})"


def _number(x: float, other: float) -> str:
    """``x`` to 6 significant digits, or to all of them where 6 would print it as ``other``."""
    return f"{x:.6g}" if f"{x:.6g}" != f"{other:.6g}" else repr(x)


def _close_values(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> None:
    if got.shape != expected.shape:
        raise Mismatch(f"expected shape {expected.shape}, got shape {got.shape}.")
    if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
        raise Mismatch(_worst(got, expected) + ".")


def numpy_close(rtol: float = 1e-6, atol: float = 1e-9) -> Callable[[Any, Any], None]:
    """Numpy outputs: an array of the expected shape (a number where the expected value is a scalar)."""
    def compare(got: Any, expected: Any) -> None:
        exp = np.asarray(expected)
        if exp.ndim == 0:
            if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.number, np.ndarray)):
                raise Mismatch(f"expected a number, got {type(got).__name__} {short(got)}.")
            got = np.asarray(got)
            if got.ndim != 0:
                raise Mismatch(f"expected a single number, got an array of shape {got.shape}.")
        elif not isinstance(got, np.ndarray):
            raise Mismatch(f"expected a numpy array of shape {exp.shape}, got {type(got).__name__} {short(got)}.")
        if got.dtype.kind not in "fiu":
            raise Mismatch(f"expected real numbers, got dtype {got.dtype}.")
        _close_values(got, exp, rtol, atol)
    return compare


def tensor_close(rtol: float = 1e-5, atol: float = 1e-7, dtype: bool = True) -> Callable[[Any, Any], None]:
    """Torch outputs: a tensor of the expected shape (and dtype, unless ``dtype=False``)."""
    import torch

    def compare(got: Any, expected: torch.Tensor) -> None:
        if not isinstance(got, torch.Tensor):
            raise Mismatch(f"expected a torch.Tensor of shape {tuple(expected.shape)}, got {type(got).__name__} {short(got)}.")
        if got.shape != expected.shape:
            raise Mismatch(f"expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}.")
        if dtype and got.dtype != expected.dtype:
            raise Mismatch(f"expected dtype {expected.dtype}, got {got.dtype} (keep the input's dtype).")
        _close_values(got.detach().cpu().double().numpy(), expected.detach().cpu().double().numpy(), rtol, atol)
    return compare


def _check_keys(got: Any, expected: dict) -> None:
    if not isinstance(got, dict):
        raise Mismatch(f"expected a dict with keys {sorted(expected)}, got {type(got).__name__} {short(got)}.")
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise Mismatch(f"expected keys {sorted(expected)}; missing {missing}, unexpected {extra}.")


def mask_dict() -> Callable[[Any, Any], None]:
    """Dicts of masks: same keys, a tensor of the same shape per key, 0/1 (or bool) entries, equal."""
    import torch

    def compare(got: Any, expected: dict) -> None:
        _check_keys(got, expected)
        kept = sum(int(m.sum()) for m in expected.values())
        got_kept = 0
        for name, exp in expected.items():
            g = got[name]
            if not isinstance(g, torch.Tensor):
                raise Mismatch(f"mask {name!r}: expected a torch.Tensor, got {type(g).__name__} {short(g)}.")
            if g.shape != exp.shape:
                raise Mismatch(f"mask {name!r}: expected shape {tuple(exp.shape)}, got {tuple(g.shape)}.")
            if not bool(((g == 0) | (g == 1)).all()):
                raise Mismatch(f"mask {name!r}: entries must be 0/1 or True/False, got values {values(g.detach().double())}.")
            got_kept += int(g.bool().sum())
        if got_kept != kept:
            raise Mismatch(f"expected {kept} kept weights in all, got {got_kept}.")
        for name, exp in expected.items():
            differ = got[name].bool() != exp.bool()
            wrong = int(differ.sum())
            if wrong:
                first = tuple(int(i) for i in differ.nonzero()[0])
                raise Mismatch(f"mask {name!r}: {wrong} entries differ from the expected mask "
                               f"(right count, wrong weights kept); the first at index {first}: "
                               f"expected {int(exp[first])}, got {int(got[name][first])}.")
    return compare


def mask_tensor() -> Callable[[Any, Any], None]:
    """One mask: a tensor of the expected shape with 0/1 (or bool) entries, equal to the expected one."""
    each = mask_dict()

    def compare(got: Any, expected: Any) -> None:
        each({"mask": got}, {"mask": expected})
    return compare


def tensor_dict(rtol: float = 1e-6, atol: float = 1e-8) -> Callable[[Any, Any], None]:
    """Dicts of tensors (a state dict): same keys, each tensor close to the expected one."""
    each = tensor_close(rtol, atol)

    def compare(got: Any, expected: dict) -> None:
        _check_keys(got, expected)
        for name, exp in expected.items():
            try:
                each(got[name], exp)
            except Mismatch as err:
                raise Mismatch(f"entry {name!r}: {err}") from None
    return compare

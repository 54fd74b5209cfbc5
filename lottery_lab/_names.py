"""Readable layer names, torch-free (shared by :func:`lottery_lab.masks.layer_names` and the plots)."""

from __future__ import annotations

from typing import Iterable

__all__ = ["numbered"]


def numbered(kinds: Iterable[str]) -> list[str]:
    """Each kind with its count so far: ``["conv", "conv", "fc"]`` → ``["conv1", "conv2", "fc1"]``."""
    counts: dict[str, int] = {}
    out = []
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        out.append(f"{kind}{counts[kind]}")
    return out

"""lottery_lab: find, check and teach sparse trainable subnetworks ("winning tickets").

Submodules are imported lazily so that ``import lottery_lab`` stays cheap and the convex lab
works without importing torch.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

_SUBMODULES = {
    "penalties", "convex", "theory", "data", "models", "masks", "train", "methods",
    "lottery", "runs", "plots", "widgets", "cli", "grading", "assignments", "compare", "config",
}


def __getattr__(name: str):
    # every public submodule, listed or not (a new module needs no edit here)
    if name in _SUBMODULES or (not name.startswith("_") and importlib.util.find_spec(f"lottery_lab.{name}")):
        return importlib.import_module(f"lottery_lab.{name}")
    raise AttributeError(f"module 'lottery_lab' has no attribute {name!r}")


__all__ = sorted(_SUBMODULES) + ["__version__"]

"""Pruning methods, registered by name: ``methods.get(name, **kw)``, ``methods.names()``.

- ``imp``: global magnitude pruning of the trained ticket (``prune_fraction`` per round).
- ``random``: random pruning to IMP's densities (the control).
- ``concave``: a relaxed mask m ∈ [0, 1] trained jointly with θ under a concave penalty λΣR(m),
  then thresholded at α.

The reinitialisation control is not a method: ``LotteryConfig(reinit=True)`` also trains every
round's mask from fresh random weights (see :mod:`lottery_lab.lottery`). A new method is a
:class:`Method` subclass decorated with :func:`register`; see :mod:`lottery_lab.methods.base`.
"""

from lottery_lab.methods.base import Context, Method, Search, defaults, get, names, register
from lottery_lab.methods import concave, imp, random_pruning  # noqa: F401  (they register themselves)

__all__ = ["Context", "Method", "Search", "defaults", "get", "names", "register"]

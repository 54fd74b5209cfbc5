"""Command-line options shared by the timing benchmarks: repeats, torch threads, wall or CPU clock, JSON."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Sequence

import torch


def add_timing_args(parser: argparse.ArgumentParser, repeats: int) -> None:
    """``--repeats``, ``--threads``, ``--cpu-time`` and ``--json``."""
    parser.add_argument("--repeats", type=int, default=repeats, help="interleaved repeats; the median (and spread) is reported")
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


def median_spread(times: Sequence[float]) -> tuple[float, float]:
    """(median, half the min–max range) of repeated timings: the figure and how much it moved."""
    return statistics.median(times), (max(times) - min(times)) / 2


def machine_line() -> str:
    """torch's thread count and the 1/5/15-minute load averages, to print beside every timing."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"torch threads {torch.get_num_threads()}, load average {load} on {os.cpu_count()} cores"

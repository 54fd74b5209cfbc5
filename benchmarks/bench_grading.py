"""What the grader's hard time limit costs: every task's instructor solution checked in a forked
child (the default where ``os.fork`` exists) and in this process (the soft-limit fallback).

One check forks once and runs all of its cases in that child, so the cost is one fork per check,
not one per case. Prints the median wall time per check of each task, both ways, and the sum.

    python benchmarks/bench_grading.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def solutions() -> dict[str, object]:
    """The instructor notebooks' setup and solution cells, run in one namespace."""
    from lottery_lab.assignments import BEGIN

    ns: dict[str, object] = {}
    for path in sorted((ROOT / "notebooks" / "assignments").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and ("import" in cell.source or BEGIN in cell.source) and "check(" not in cell.source:
                exec(compile(cell.source, str(path), "exec"), ns)
    return ns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="checks per task and mode (default: 5)")
    args = parser.parse_args()

    import torch

    from lottery_lab.grading import _core, get_task, tasks

    torch.set_num_threads(1)
    ns = solutions()
    rows, totals = [], {"fork": 0.0, "in-process": 0.0}
    for task in tasks():
        fn = ns[get_task(task.id).function]
        medians = {}
        for mode in ("fork", "in-process"):
            _core._USE_FORK = mode == "fork"
            times = []
            for seed in range(args.repeats):
                t0 = time.perf_counter()
                res = _core.run_check(task, fn, seed)
                times.append(time.perf_counter() - t0)
                assert res.passed, res.message
            medians[mode] = statistics.median(times)
            totals[mode] += medians[mode]
        rows.append((task.id, medians["fork"], medians["in-process"]))
    width = max(len(r[0]) for r in rows)
    print(f"{'task':<{width}}  {'fork (ms)':>10}  {'in-process (ms)':>16}")
    for task_id, fork, inproc in rows:
        print(f"{task_id:<{width}}  {1e3 * fork:>10.1f}  {1e3 * inproc:>16.1f}")
    print(f"{'sum of medians':<{width}}  {1e3 * totals['fork']:>10.1f}  {1e3 * totals['in-process']:>16.1f}")
    print(f"\n{len(rows)} tasks, median of {args.repeats} checks each; torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

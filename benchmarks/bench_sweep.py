"""Sweep timings (issue 13): a grid on 1 worker vs 2 workers, dense trainings per grid, a rerun on the finished store.

Grids (digits, the default mlp, on the CPU): ``quick`` = ``compare(quick=True)`` (every method, 2 targets,
1 seed, 2 epochs); ``medium`` = 4 methods × 2 seeds × 2 targets, 3 epochs. Each repeat plays the grid in a
fresh out_dir, then reruns it there (everything read back). ``--before`` adds the old way: one process,
every run training its own dense round (``LOTTERY_LAB_NO_SHARED_DENSE=1``), torch's default threads.

    python benchmarks/bench_sweep.py --grids medium --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _timing import machine_line, median_spread  # noqa: E402

GRIDS = {
    "quick": dict(quick=True, data="digits"),
    "medium": dict(methods=["imp", "random", "snip", "magnitude_init"], seeds=[0, 1], targets=[0.2, 0.05], epochs=3,
                   data="digits"),
    "mnist5k": dict(methods=["imp", "snip", "synflow", "random"], seeds=[0, 1], targets=[0.2, 0.05], epochs=3,
                    data="mnist5k"),
}


def one(grid: str, jobs: int, before: bool) -> dict:
    import torch

    from lottery_lab._threads import threads_for
    from lottery_lab.compare import compare

    if before:
        os.environ["LOTTERY_LAB_NO_SHARED_DENSE"] = "1"
    threads = None if before else threads_for(jobs)
    saved = torch.get_num_threads()
    if threads and jobs == 1:
        torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as out:
            t = time.perf_counter()
            c = compare(out_dir=out, jobs=jobs, threads=threads, progress=False, device="cpu", **GRIDS[grid])
            wall = time.perf_counter() - t
            t = time.perf_counter()
            again = compare(out_dir=out, jobs=jobs, threads=threads, progress=False, device="cpu", **GRIDS[grid])
            rerun = time.perf_counter() - t
    finally:
        os.environ.pop("LOTTERY_LAB_NO_SHARED_DENSE", None)
        torch.set_num_threads(saved)
    return {"wall_s": wall, "rerun_s": rerun, "runs": len(c.runs), "dense_trainings": c.trainings["dense_trainings"],
            "rerun_trainings": again.trainings["dense_trainings"] + again.trainings["runs_trained"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grids", default="quick,medium", help="comma-separated: quick, medium, mnist5k (the medium grid on mnist5k)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before", action="store_true", help="also time the old way (see the docstring)")
    p.add_argument("--epochs", type=int, default=None, help="override the grids' epochs per round")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.epochs:
        for g in GRIDS.values():
            g["epochs"] = args.epochs
    variants = [("1 worker", 1, False), ("2 workers", 2, False)] + ([("before", 1, True)] if args.before else [])
    out = {}
    for grid in args.grids.split(","):
        times = {name: [] for name, _, _ in variants}
        for _ in range(args.repeats):  # interleaved: the load moves alike for every variant
            for name, jobs, before in variants:
                times[name].append(one(grid, jobs, before))
        for name, rs in times.items():
            w, ws = median_spread([r["wall_s"] for r in rs])
            rr, rrs = median_spread([r["rerun_s"] for r in rs])
            out[f"{grid} / {name}"] = {"wall_s": w, "spread_s": ws, "rerun_s": rr, "rerun_spread_s": rrs,
                                       "runs": rs[0]["runs"], "dense_trainings": rs[0]["dense_trainings"],
                                       "rerun_trainings": rs[0]["rerun_trainings"]}
            print(f"{grid:<7} {name:<10} {w:7.1f} s ± {ws:.1f}  ({rs[0]['runs']} runs, dense trainings "
                  f"{rs[0]['dense_trainings']}); rerun {rr:.1f} s ± {rrs:.1f} (trainings {rs[0]['rerun_trainings']})",
                  flush=True)
        one_w, two_w = out[f"{grid} / 1 worker"]["wall_s"], out[f"{grid} / 2 workers"]["wall_s"]
        print(f"{grid:<7} speed-up 2 workers vs 1: {one_w / two_w:.2f}x"
              + (f"; vs before: {out[f'{grid} / before']['wall_s'] / two_w:.2f}x" if args.before else ""))
    print(f"median of {args.repeats}; {machine_line()}")
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

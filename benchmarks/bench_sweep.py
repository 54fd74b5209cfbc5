"""Sweep timings (issue 13): a grid on 1 worker vs 2 workers, dense trainings per grid, a rerun on the finished store.

Grids (digits, the default mlp, on the CPU): ``quick`` = ``compare(quick=True)`` (every method, 2 targets,
1 seed, 2 epochs); ``medium`` = 4 methods × 2 seeds × 2 targets, 3 epochs. Each repeat plays the grid in a
fresh out_dir, then reruns it there (everything read back). Every variant uses the thread policy (one
torch thread per run) unless said: "1 worker" plays in this process, "2 workers" on two local worker
processes. ``--before`` adds the old way: one process, every run training its own dense round
(``LOTTERY_LAB_NO_SHARED_DENSE=1``), torch's default threads.

``--overhead`` times what a worker costs: starting a pool of 2 ('spawn' as before vs the fork server,
cold = its first start in this process, warm = later pools), a no-op task's round trip on a warm
pool, and a tiny run (1 training step per phase) in this process vs on a 1-worker pool started for it.

    OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py --repeats 3 [--overhead] [--before]
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

    from lottery_lab import sweep
    from lottery_lab.compare import compare

    if before:
        os.environ["LOTTERY_LAB_NO_SHARED_DENSE"] = "1"
    threads = torch.get_num_threads() if before else None  # None: the policy (1 per run)
    saved = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as out:
            t, stats = time.perf_counter(), sweep.Stats()
            c = compare(out_dir=out, jobs=jobs, threads=threads, progress=False, device="cpu", stats=stats,
                        **GRIDS[grid])
            wall = time.perf_counter() - t
            t = time.perf_counter()
            again = compare(out_dir=out, jobs=jobs, threads=threads, progress=False, device="cpu", **GRIDS[grid])
            rerun = time.perf_counter() - t
    finally:
        os.environ.pop("LOTTERY_LAB_NO_SHARED_DENSE", None)
        torch.set_num_threads(saved)
    cpu = list(stats.cpu_s.values())
    return {"wall_s": wall, "rerun_s": rerun, "cpu_s": sum(cpu), "busiest_cpu_s": max(cpu), "runs": len(c.runs), "dense_trainings": c.trainings["dense_trainings"],
            "rerun_trainings": again.trainings["dense_trainings"] + again.trainings["runs_trained"]}


def _noop(x):
    return x


def overhead(repeats: int) -> None:
    """Print the worker costs described in the module docstring (medians of ``repeats``)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lottery_lab import sweep
    from lottery_lab.lottery import LotteryConfig
    from lottery_lab.sweep import core

    def start(make) -> float:
        t = time.perf_counter()
        with make() as pool:
            list(pool.map(_noop, range(2)))
        return time.perf_counter() - t

    spawn = lambda: ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))  # noqa: E731
    cold = start(lambda: core._pool(2))  # the fork server's first start in this process
    starts = {"spawn (before)": [], "fork server, warm": []}
    for _ in range(repeats):
        starts["spawn (before)"].append(start(spawn))
        starts["fork server, warm"].append(start(lambda: core._pool(2)))
    print(f"pool of 2 up and a no-op back: fork server cold {cold:.2f} s (once per process)", flush=True)
    for name, ts in starts.items():
        m, sp = median_spread(ts)
        print(f"pool of 2 up and a no-op back: {name:<18} {m:6.2f} s ± {sp:.2f}", flush=True)
    with core._pool(2) as pool:
        list(pool.map(_noop, range(4)))
        trips = []
        for _ in range(20):
            t = time.perf_counter()
            pool.submit(_noop, 0).result()
            trips.append(time.perf_counter() - t)
    m, sp = median_spread(trips)
    print(f"a no-op task's round trip on a warm pool: {m * 1e3:.2f} ms ± {sp * 1e3:.2f} (median of 20)", flush=True)

    def tiny(out: str) -> list:
        return [LotteryConfig(method=m, data="digits", model="mlp", rounds=1, iterations=1, seed=0, device="cpu",
                              out_dir=out, progress=False) for m in ("imp", "random", "snip", "magnitude_init")]

    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as out:
        sweep.run(tiny(out), progress=False)  # warm-up: this process's first run imports sklearn & co.
    here, there = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as out:
            t = time.perf_counter()
            sweep.run(tiny(out), progress=False)
            here.append((time.perf_counter() - t) / 4)
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as out:
            t = time.perf_counter()
            with core._pool(1) as pool:
                sweep.run(tiny(out), executor=pool, progress=False)
            there.append((time.perf_counter() - t) / 4)
    (h, hs), (w, ws) = median_spread(here), median_spread(there)
    print(f"a tiny run (4 of them, 1 step per phase): in this process {h:.2f} s ± {hs:.2f}, on a fresh 1-worker "
          f"pool {w:.2f} s ± {ws:.2f}: {w - h:+.2f} s per run", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grids", default="quick,medium", help="comma-separated: quick, medium, mnist5k (the medium grid on mnist5k)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before", action="store_true", help="also time the old way (see the docstring)")
    p.add_argument("--epochs", type=int, default=None, help="override the grids' epochs per round")
    p.add_argument("--overhead", action="store_true", help="also time what a worker costs (see the docstring)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.overhead:
        overhead(args.repeats)
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
            cpu, _ = median_spread([r["cpu_s"] for r in rs])
            busy, _ = median_spread([r["busiest_cpu_s"] for r in rs])
            out[f"{grid} / {name}"] = {"wall_s": w, "spread_s": ws, "rerun_s": rr, "rerun_spread_s": rrs,
                                       "cpu_s": cpu, "busiest_cpu_s": busy,
                                       "runs": rs[0]["runs"], "dense_trainings": rs[0]["dense_trainings"],
                                       "rerun_trainings": rs[0]["rerun_trainings"]}
            print(f"{grid:<7} {name:<10} {w:7.1f} s ± {ws:.1f}  ({rs[0]['runs']} runs, dense trainings "
                  f"{rs[0]['dense_trainings']}); rerun {rr:.1f} s ± {rrs:.1f} (trainings {rs[0]['rerun_trainings']}); "
                  f"task CPU {cpu:.1f} s, busiest process {busy:.1f} s", flush=True)
        one_w, two_w = out[f"{grid} / 1 worker"]["wall_s"], out[f"{grid} / 2 workers"]["wall_s"]
        one_c, two_b = out[f"{grid} / 1 worker"]["cpu_s"], out[f"{grid} / 2 workers"]["busiest_cpu_s"]
        print(f"{grid:<7} speed-up 2 workers vs 1: {one_w / two_w:.2f}x wall; {one_c / two_b:.2f}x by CPU "
              f"(1 worker's task CPU / 2 workers' busiest: the wall speed-up on 2 idle cores, pool start aside)"
              + (f"; vs before: {out[f'{grid} / before']['wall_s'] / two_w:.2f}x" if args.before else ""))
    print(f"median of {args.repeats}; {machine_line()}")
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""One lottery run on 1 process vs N processes (torch.distributed, gloo on the CPU): per round density,
test accuracy and wall time.

The same :class:`~lottery_lab.lottery.LotteryConfig` is played by :func:`lottery_lab.lottery.play` in
this process, and by N ranks of one gloo process group (forked from this process, meeting through a
file store; under ``torchrun`` the ranks are the same code). The group's global batch is the
one-process batch, split across the ranks (see :mod:`lottery_lab.distributed`). Runs are kept in memory
(``out_dir=None``) so every repeat trains; the sides are interleaved and repeated, and each round's
wall time is the median (± half the range) of its repeats. Densities and accuracies are deterministic
on the CPU (the same on every repeat).

No GPU is needed (or used): NCCL across GPUs is not measured here.

    python benchmarks/bench_ddp.py [--quick] [--procs N] [--method imp] [--data mnist5k] [--rounds R]
                                   [--epochs E] [--repeats K] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  (DDP imports it on first use: imported once here, the forked ranks share it)
import torch.distributed as dist

from lottery_lab.lottery import LotteryConfig, play

from _timing import machine_line, median_spread  # benchmarks/_timing.py, beside this script


def _config(args) -> LotteryConfig:
    kw = {"n_train": 1024} if args.quick else {}
    return LotteryConfig(method=args.method, model="mlp", data=args.data, data_kw=kw, rounds=args.rounds,
                         epochs=args.epochs, batch_size=args.batch_size, lr=0.1, seed=0, device="cpu",
                         out_dir=None, progress=False)


def _timed_play(config: LotteryConfig) -> tuple[list[dict], float]:
    t0 = time.perf_counter()
    rows = play(config).rows
    return rows, time.perf_counter() - t0


def _rank(rank: int, config: LotteryConfig, store: str, size: int, out: str, threads: int) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    try:
        result = _timed_play(config)
    finally:
        dist.destroy_process_group()
    if rank == 0:
        Path(out, "rows.pkl").write_bytes(pickle.dumps(result))


def group_play(config: LotteryConfig, size: int, threads: int) -> tuple[list[dict], float]:
    """``play(config)`` by ``size`` ranks of one gloo group: rank 0's rows and wall time."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_rank, args=(config, os.path.join(tmp, "store"), size, tmp, threads), nprocs=size,
                           start_method="fork")
        return pickle.loads(Path(tmp, "rows.pkl").read_bytes())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--procs", type=int, default=2, help="processes of the group (default: %(default)s)")
    p.add_argument("--method", default="imp")
    p.add_argument("--data", default="mnist5k")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="1024 training rows, 1 repeat")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.repeats = 1
    torch.set_num_threads(args.threads)

    config = _config(args)
    play(config)  # warm-up: data loaded and cached, first-use imports done
    sides: dict[str, list] = {"1": [], str(args.procs): []}
    for _ in range(args.repeats):  # interleaved
        sides["1"].append(_timed_play(config))
        sides[str(args.procs)].append(group_play(config, args.procs, args.threads))
    table = []
    for side, runs in sides.items():
        rows = runs[0][0]
        for r, row in enumerate(rows):
            med, spread = median_spread([rs[r]["wall_s"] for rs, _ in runs])
            assert all(rs[r]["density"] == row["density"] and rs[r]["test_acc"] == row["test_acc"] for rs, _ in runs)
            table.append({"procs": int(side), "round": r, "density": row["density"], "test_acc": row["test_acc"],
                          "wall_s": med, "wall_spread_s": spread})
        med, spread = median_spread([w for _, w in runs])
        table.append({"procs": int(side), "round": "play", "wall_s": med, "wall_spread_s": spread})
    if args.json:
        print(json.dumps({"config": config.to_dict(), "rows": table, "machine": machine_line()}, indent=2))
        return
    print(f"{args.method} on {args.data} / mlp, {args.rounds} rounds of {args.epochs} epochs, batch "
          f"{args.batch_size}; {args.repeats} repeats; {args.threads} torch thread(s) per process; no GPU")
    print(f"{'procs':>5}  {'round':>5}  {'density':>8}  {'test acc':>8}  {'wall s (median ± half range)':>28}")
    for t in table:
        if t["round"] == "play":
            print(f"{t['procs']:>5}  {'all':>5}  {'':>8}  {'':>8}  {t['wall_s']:>18.2f} ± {t['wall_spread_s']:.2f}"
                  f"   (the whole play())")
        else:
            print(f"{t['procs']:>5}  {t['round']:>5}  {t['density']:>8.4f}  {t['test_acc']:>8.4f}  "
                  f"{t['wall_s']:>18.2f} ± {t['wall_spread_s']:.2f}")
    print(machine_line())


if __name__ == "__main__":
    main()

"""What checkpoints cost: one IMP round on disk with a checkpoint every epoch vs on the default timer.

    python benchmarks/bench_checkpoints.py [--repeats 5] [--epochs 10]

LeNet-300-100 on mnist5k, 1 torch thread, CPU time of round 0 + round 1 (train, prune, rewind,
retrain) in one process, the two settings alternated; prints medians and spread, the number of
checkpoints written and their size, and the size a VGG-16 checkpoint would have.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lottery_lab import models, runs
from lottery_lab.lottery import LotteryConfig, play


def one(out: Path, checkpoint_s: float, epochs: int) -> tuple[float, int, int]:
    written = []
    real = runs.RunStore.save_checkpoint

    def counting(self, r, phase, state):
        real(self, r, phase, state)
        written.append((self.round_dir(r) / f"ckpt_{phase}.pt").stat().st_size)

    runs.RunStore.save_checkpoint = counting
    try:
        t0 = time.process_time()
        play(LotteryConfig(method="imp", rounds=1, epochs=epochs, device="cpu", out_dir=str(out), progress=False,
                           checkpoint_s=checkpoint_s))
        return time.process_time() - t0, len(written), (max(written) if written else 0)
    finally:
        runs.RunStore.save_checkpoint = real


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads: {torch.get_num_threads()}; load average before: {os.getloadavg()}")
    settings = {"every epoch (checkpoint_s=0)": 0.0, "timer (checkpoint_s=60, the default)": 60.0}
    times: dict[str, list[float]] = {k: [] for k in settings}
    counts: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        one(Path(d) / "warm", 60.0, 1)  # imports, data loading
        for i in range(args.repeats):
            for name, s in settings.items():
                t, n, size = one(Path(d) / f"{i}-{s}", s, args.epochs)
                times[name].append(t)
                counts[name] = (n, size)
    for name, ts in times.items():
        n, size = counts[name]
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        print(f"{name:40s} median {statistics.median(ts):6.3f} s CPU (IQR {q[0]:.3f}-{q[2]:.3f}) for 2 rounds x "
              f"{args.epochs} epochs; {n} checkpoints of {size / 1e6:.2f} MB")
    vgg = models.get("vgg16", input_shape=(3, 32, 32), num_classes=10)
    n_params = sum(p.numel() for p in vgg.parameters())
    print(f"VGG-16 (CIFAR): {n_params / 1e6:.1f} M parameters: a checkpoint with SGD momentum holds "
          f"{2 * 4 * n_params / 1e6:.0f} MB")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

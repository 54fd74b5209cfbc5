"""play()'s training GFLOP/s on LeNet-300-100 / mnist5k beside torch.mm's for the same matrix products.

A training step of LeNet-300-100 (784-300-100-10) on a batch of b rows does, in matrix products,
the forward ``x Wᵀ`` of each layer, the weight gradients ``gᵀ x`` of each layer and the input
gradients ``g W`` of layers 2 and 3 (the data needs none): 2·b·(3·Σ in·out − 784·300) flops, 144.2
MFLOP at b = 128. Everything else a step does (bias, ReLU, cross-entropy, the SGD update, the mask,
the batch gather) is overhead on that count.

- ``play``: one IMP round (``rounds=1``: dense training, prune 20%, rewind, retrain), its training
  flops divided by the CPU time of the whole ``play()`` call (data loading excluded: cached), on
  disk and with ``out_dir=None``; ``train``: the same flops over the two :func:`lottery_lab.train.train`
  calls alone (the loop without the round's records, evaluation and init);
- ``torch.mm``: the same products (``addmm`` for the forward, as ``F.linear`` calls it, ``mm`` for
  the gradients, same shapes and transposes) at b = 128 in a loop, nothing else.

One torch thread, CPU clock, medians of ``--repeats`` interleaved repeats (± half the range).
Issue 14's aim: play() ≥ 60 % of torch.mm.

    python benchmarks/bench_gflops.py [--epochs N] [--repeats N] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from lottery_lab import data
from lottery_lab.lottery import LotteryConfig, play

from _timing import machine_line, median_spread  # benchmarks/_timing.py, beside this script

SIZES = (784, 300, 100, 10)
SETTINGS = {"batch_size": 128, "lr": 0.1, "momentum": 0.9}


def step_flops(b: int) -> int:
    """Matrix-product flops of one training step on ``b`` rows (forward, weight and input gradients)."""
    layers = list(zip(SIZES[:-1], SIZES[1:]))
    return 2 * b * (3 * sum(i * o for i, o in layers) - SIZES[0] * SIZES[1])


def round_flops(n_train: int, epochs: int) -> int:
    """Flops of the two training phases of one IMP round (the last batch of an epoch is short)."""
    bs = SETTINGS["batch_size"]
    sizes = [bs] * (n_train // bs) + ([n_train % bs] if n_train % bs else [])
    return 2 * epochs * sum(step_flops(b) for b in sizes)


def config(epochs: int, out_dir: str | None) -> LotteryConfig:
    return LotteryConfig(method="imp", method_kw={"prune_fraction": 0.2}, model="mlp", data="mnist5k", rounds=1,
                         epochs=epochs, seed=0, device="cpu", out_dir=out_dir, progress=False, **SETTINGS)


def time_play(epochs: int, on_disk: bool) -> tuple[float, float]:
    """(CPU seconds of the play() call, CPU seconds inside its two train() calls)."""
    import lottery_lab.lottery as lottery

    inside = [0.0]
    real_train = lottery.train

    def timed(*a, **kw):
        t0 = time.process_time()
        try:
            return real_train(*a, **kw)
        finally:
            inside[0] += time.process_time() - t0

    lottery.train = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.process_time()
            play(config(epochs, tmp if on_disk else None))
            return time.process_time() - t0, inside[0]
    finally:
        lottery.train = real_train


def time_mm(steps: int) -> float:
    """CPU seconds per step of the step's matrix products alone, at batch 128."""
    g = torch.Generator().manual_seed(0)
    b = SETTINGS["batch_size"]
    layers = list(zip(SIZES[:-1], SIZES[1:]))
    Ws = [torch.randn(o, i, generator=g) for i, o in layers]
    bs = [torch.randn(o, generator=g) for _, o in layers]
    xs = [torch.randn(b, i, generator=g) for i, _ in layers]      # each layer's input
    gs = [torch.randn(b, o, generator=g) for _, o in layers]      # each layer's output gradient

    def step() -> None:
        for x, W, bias in zip(xs, Ws, bs):
            torch.addmm(bias, x, W.t())
        for k, (x, W, go) in enumerate(zip(xs, Ws, gs)):
            go.t().mm(x)
            if k > 0:
                go.mm(W)

    for _ in range(10):
        step()
    t0 = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - t0) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per phase (default: 10)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats; medians are reported")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ds = data.get("mnist5k")                                   # parse the CSV once, outside the timings
    flops = round_flops(len(ds.y_train), args.epochs)
    load_before = machine_line()
    time_play(1, True), time_play(1, False), time_mm(20)        # warm up imports, allocator, kernels
    runs: dict[str, list[float]] = {"play_on_disk": [], "play_in_memory": [], "train": [], "torch.mm": []}
    for _ in range(args.repeats):
        total, inside = time_play(args.epochs, True)
        runs["play_on_disk"].append(flops / total / 1e9)
        runs["train"].append(flops / inside / 1e9)
        runs["play_in_memory"].append(flops / time_play(args.epochs, False)[0] / 1e9)
        runs["torch.mm"].append(step_flops(SETTINGS["batch_size"]) / time_mm(200) / 1e9)
    stats = {k: median_spread(v) for k, v in runs.items()}
    mm = stats["torch.mm"][0]
    out = {"threads": torch.get_num_threads(), "clock": "cpu", "torch": torch.__version__, "epochs": args.epochs,
           "repeats": args.repeats, "load_before": load_before, "load_after": machine_line(),
           "mflop_per_step": step_flops(SETTINGS["batch_size"]) / 1e6, "round_gflop": flops / 1e9,
           "gflops": {k: m for k, (m, _) in stats.items()}, "spread": {k: s for k, (_, s) in stats.items()},
           "fraction_of_mm": {k: m / mm for k, (m, _) in stats.items()}}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"LeNet-300-100 / mnist5k, batch 128, {out['mflop_per_step']:.1f} MFLOP per step in matrix products, "
          f"one IMP round = {out['round_gflop']:.1f} GFLOP ({args.epochs} epochs per phase); CPU time, "
          f"median of {args.repeats}; aim: play() >= 60 % of torch.mm")
    print(f"  before: {out['load_before']}\n  after:  {out['load_after']}")
    for k in runs:
        print(f"  {k:<16}{out['gflops'][k]:>7.1f} ± {out['spread'][k]:.1f} GFLOP/s   "
              f"{100 * out['fraction_of_mm'][k]:>5.1f} % of torch.mm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

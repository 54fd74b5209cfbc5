"""Time per training step: dense vs fixed mask vs relaxed mask (concave), as ratios to dense.

The three variants run through the engine's own loop (:func:`lottery_lab.train.train`): dense (no
mask), fixed mask (a 20%-density random mask: the weights multiplied by it after every step), and
the concave method's search (effective weights θ ⊙ m, penalty gradient, projection of m). LeNet-300-100
on MNIST-shaped inputs and ResNet-20 on CIFAR-shaped inputs (channels_last), batch 128, CPU, fp32.
Variants are interleaved and repeated, so background load hits all alike, and the median of each
(± half its range) is reported, with the thread count and the machine's load.

    python benchmarks/bench_masking.py [--quick] [--threads N | --cpu-time] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from lottery_lab import data, masks, methods, models
from lottery_lab.train import TrainConfig, train

from _timing import add_timing_args, clock_from, machine_line, median_spread  # benchmarks/_timing.py, beside this script

CASES = {  # model -> (input shape, timed steps per repeat, steps in --quick)
    "mlp": ((1, 28, 28), 100, 30),
    "resnet20": ((3, 32, 32), 10, 3),
}


def _setup(name: str, shape: tuple[int, ...], variant: str):
    torch.manual_seed(0)
    channels_last = len(shape) == 3 and name != "mlp"
    model = models.get(name, input_shape=shape, num_classes=10)
    X = torch.randn(1024, *shape)
    y = torch.randint(0, 10, (1024,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
    batches = data.Batches(X, y, 128, generator=torch.Generator().manual_seed(0), drop_last=True)
    kw: dict = {}
    if variant == "fixed":
        g = torch.Generator().manual_seed(1)
        kw["masks"] = {n: torch.rand(p.shape, generator=g) < 0.2 for n, p in masks.prunable(model).items()}
    elif variant == "relaxed":
        method = methods.get("concave")
        search = method.search(model, masks.ones_like(model), methods.Context(1, torch.Generator().manual_seed(2)))
        model = search.module
        kw = {"masks": search.masks, "param_groups": search.param_groups, "callbacks": search.callbacks}
    return model, batches, kw


def step_time(name: str, shape: tuple[int, ...], variant: str, steps: int, clock=time.perf_counter) -> float:
    """Seconds per optimiser step (after two warm-up steps) for one variant, on ``clock``."""
    model, batches, kw = _setup(name, shape, variant)
    cfg = dict(lr=0.05, momentum=0.9, weight_decay=1e-4, amp=False, progress=False)
    train(model, batches, TrainConfig(iterations=2, **cfg), **kw)
    t0 = clock()
    train(model, batches, TrainConfig(iterations=steps, **cfg), **kw)
    return (clock() - t0) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps, one repeat (a smoke test)")
    parser.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    add_timing_args(parser, repeats=5)
    args = parser.parse_args(argv)
    clock = clock_from(args)
    repeats = 1 if args.quick else args.repeats
    variants = ("dense", "fixed", "relaxed")
    out = {"threads": torch.get_num_threads(), "clock": "cpu" if args.cpu_time else "wall",
           "torch": torch.__version__, "load": machine_line(), "models": {}}
    for name in args.models:
        shape, steps, quick_steps = CASES[name]
        times: dict[str, list[float]] = {v: [] for v in variants}
        step_time(name, shape, "dense", 2)                      # warm up threads, allocator, kernels
        for _ in range(repeats):
            for v in variants:
                times[v].append(step_time(name, shape, v, quick_steps if args.quick else steps, clock))
        stats = {v: median_spread(t) for v, t in times.items()}
        med = {v: m for v, (m, _) in stats.items()}
        out["models"][name] = {"ms_per_step": {v: 1e3 * t for v, t in med.items()},
                               "spread_ms": {v: 1e3 * s for v, (_, s) in stats.items()},
                               "ratio_to_dense": {v: med[v] / med["dense"] for v in variants}}
    out["load_after"] = machine_line()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"CPU, {out['threads']} threads, {out['clock']} time, torch {out['torch']}, batch 128, fp32 "
          f"(median of {repeats}); aim: fixed <= 1.10, relaxed <= 1.3 (issue 14: 1.2)")
    print(f"  before: {out['load']}\n  after:  {out['load_after']}")
    print(f"{'model':<10}{'dense ms':>10}{'fixed ms':>10}{'relaxed ms':>12}{'fixed/dense':>13}{'relaxed/dense':>15}")
    for name, r in out["models"].items():
        ms, ratio = r["ms_per_step"], r["ratio_to_dense"]
        print(f"{name:<10}{ms['dense']:>10.2f}{ms['fixed']:>10.2f}{ms['relaxed']:>12.2f}"
              f"{ratio['fixed']:>13.3f}{ratio['relaxed']:>15.3f}")
        print(f"{'  ± ms':<10}" + "".join(f"{r['spread_ms'][v]:>{w}.2f}" for v, w in zip(variants, (10, 10, 12))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

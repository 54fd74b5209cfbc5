"""Training throughput (images/s) of the presets' models, the numbers behind ``lottery-lab run --dry-run``.

For each model on inputs of its preset's shape (random tensors: the rate does not depend on the
pixels), two phases are timed through lottery_lab's own loop (``lottery_lab.train.train``), as a
lottery round runs them:

- ``train``: a round's (re)training with a mask on every prunable weight (all kept: the dense cost;
  a sparse ticket computes densely too), SGD with momentum, the runner's memory format
  (channels_last for images);
- ``search``: the concave method's search step (θ ⊙ m through ``RelaxedMaskNet``, the penalty's
  gradient and the projection of m), for the estimate of the concave presets.

Each timed call is one phase of ``--steps`` steps at batch 128; one warm-up call, then ``--repeats``
calls interleaved over models and phases; the median images/s (± half the range) is printed with the
thread count and the machine's load. ``lottery_lab.presets.CPU_IMAGES_PER_S`` holds these medians.

    python benchmarks/bench_preset_throughput.py --threads 1 [--repeats 3] [--models mlp,resnet20,vgg16] [--json]
"""

from __future__ import annotations

import argparse
import json

import torch

from lottery_lab import data as data_lib
from lottery_lab import masks as masks_lib
from lottery_lab import methods, models
from lottery_lab.methods.base import Context
from lottery_lab.train import TrainConfig, train

from _timing import add_timing_args, clock_from, machine_line, median_spread  # benchmarks/_timing.py

BATCH = 128
#: input shape and steps per timed call (a few seconds each at one thread)
SHAPES = {"mlp": (1, 28, 28), "conv2": (1, 28, 28), "conv4": (1, 28, 28), "resnet20": (3, 32, 32),
          "vgg16": (3, 32, 32)}
STEPS = {"mlp": 60, "conv2": 6, "conv4": 6, "resnet20": 6, "vgg16": 2}


def phase_runner(model_name: str, phase: str, steps: int):
    """A call that trains ``phase`` for ``steps`` steps of batch 128 on fresh random inputs' batches."""
    shape = SHAPES[model_name]
    torch.manual_seed(0)
    X = torch.randn(steps * BATCH, *shape)
    y = torch.randint(0, 10, (steps * BATCH,))
    model = models.get(model_name, input_shape=shape, num_classes=10)
    if X.ndim == 4:  # as the runner does for images
        X = X.contiguous(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)
    batches = data_lib.Batches(X, y, BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(iterations=steps, batch_size=BATCH, lr=0.01, momentum=0.9, progress=False)
    mask = masks_lib.ones_like(model)
    if phase == "train":
        return lambda: train(model, batches, cfg, masks=mask)
    search = methods.get("concave").search(model, mask, Context(round_index=1, generator=torch.Generator()))
    return lambda: train(search.module, batches, cfg, masks=search.masks, callbacks=search.callbacks,
                         param_groups=search.param_groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_args(parser, repeats=3)
    parser.add_argument("--models", default="mlp,resnet20,vgg16",
                        help=f"comma-separated, from {', '.join(SHAPES)} (default: %(default)s)")
    parser.add_argument("--phases", default="train,search", help="train, search or both (default: %(default)s)")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every model's steps per call")
    args = parser.parse_args()
    clock = clock_from(args)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for m in names:
        if m not in SHAPES:
            parser.error(f"--models: {m!r} is not one of {', '.join(SHAPES)}")
    for p in phases:
        if p not in ("train", "search"):
            parser.error(f"--phases: {p!r} is not train or search")
    steps = {m: max(1, round(STEPS[m] * args.steps_scale)) for m in names}
    runs = {(m, p): phase_runner(m, p, steps[m]) for m in names for p in phases}
    for run in runs.values():
        run()  # warm-up: first-call allocations, lazy imports
    rates: dict[tuple[str, str], list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for (m, p), run in runs.items():
            t0 = clock()
            run()
            rates[(m, p)].append(steps[m] * BATCH / (clock() - t0))
    rows = []
    for (m, p), r in rates.items():
        med, spread = median_spread(r)
        rows.append({"model": m, "phase": p, "input_shape": list(SHAPES[m]), "batch": BATCH, "steps": steps[m],
                     "images_per_s": med, "spread": spread, "repeats": args.repeats})
    machine = machine_line()
    if args.json:
        print(json.dumps({"rows": rows, "machine": machine, "clock": "cpu" if args.cpu_time else "wall"}, indent=2))
        return
    print(f"{'model':<10}{'phase':<8}{'input':>12}{'img/s (median)':>16}{'± half range':>14}{'steps':>7}")
    for row in rows:
        print(f"{row['model']:<10}{row['phase']:<8}{'x'.join(map(str, row['input_shape'])):>12}"
              f"{row['images_per_s']:>16,.1f}{row['spread']:>14,.1f}{row['steps']:>7}")
    print(f"batch {BATCH}, {args.repeats} repeats, {'CPU' if args.cpu_time else 'wall'} clock; {machine}")


if __name__ == "__main__":
    main()

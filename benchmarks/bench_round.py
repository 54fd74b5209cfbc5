"""One IMP round with our engine vs the same round written the common way; printed as a ratio.

The round: train LeNet-300-100 densely from θ₀ on mnist5k, prune 20% of the weights by global
magnitude, rewind the survivors to θ₀, train the ticket again, evaluate on the test set. Same data,
epochs, batch size and SGD settings on both sides.

- ours: ``lottery_lab.lottery.play(LotteryConfig(method="imp", rounds=1, ...))`` — tensors batched
  in place (``randperm``), masks as data, every epoch checkpointed to a run folder (as ``lottery-lab
  run`` does); also timed with ``out_dir=None`` (nothing written).
- common: ``torch.utils.data.DataLoader`` over a ``TensorDataset`` (shuffle, no workers, as in most
  tutorials for in-memory data), ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``
  (a forward pre-hook recomputes ``weight = weight_orig * weight_mask``), rewinding ``weight_orig``.

Sides are interleaved and repeated; the median of each (± half its range) is reported.

    python benchmarks/bench_round.py [--quick] [--epochs N] [--threads N | --cpu-time] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.nn.utils import prune
from torch.utils.data import DataLoader, TensorDataset

from lottery_lab import data, models
from lottery_lab.lottery import LotteryConfig, play

from _timing import add_timing_args, clock_from, machine_line, median_spread  # benchmarks/_timing.py, beside this script

SETTINGS = {"batch_size": 128, "lr": 0.1, "momentum": 0.9, "prune_fraction": 0.2}


CLOCK = time.perf_counter


def ours(epochs: int, on_disk: bool) -> tuple[float, float]:
    """(seconds, ticket test accuracy) for one IMP round played by the engine."""
    with tempfile.TemporaryDirectory() as tmp:
        config = LotteryConfig(method="imp", method_kw={"prune_fraction": SETTINGS["prune_fraction"]},
                               model="mlp", data="mnist5k", rounds=1, epochs=epochs,
                               batch_size=SETTINGS["batch_size"], lr=SETTINGS["lr"],
                               momentum=SETTINGS["momentum"], seed=0, device="cpu",
                               out_dir=tmp if on_disk else None, progress=False)
        t0 = CLOCK()
        result = play(config)
        return CLOCK() - t0, result.rows[-1]["test_acc"]


def common(epochs: int) -> tuple[float, float]:
    """(seconds, ticket test accuracy) for the same round with DataLoader and torch.nn.utils.prune."""
    t0 = CLOCK()
    ds = data.get("mnist5k")
    torch.manual_seed(0)
    model = models.get("mlp", input_shape=ds.input_shape, num_classes=ds.num_classes)
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    loader = DataLoader(TensorDataset(ds.X_train, ds.y_train), batch_size=SETTINGS["batch_size"], shuffle=True,
                        generator=torch.Generator().manual_seed(0))

    def fit() -> None:
        opt = torch.optim.SGD(model.parameters(), lr=SETTINGS["lr"], momentum=SETTINGS["momentum"])
        model.train()
        for _ in range(epochs):
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    fit()
    layers = [(m, "weight") for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=SETTINGS["prune_fraction"])
    with torch.no_grad():                                    # rewind the survivors (and biases) to θ₀
        for name, p in model.named_parameters():
            p.copy_(theta0[name.removesuffix("_orig")])
    fit()
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in DataLoader(TensorDataset(ds.X_test, ds.y_test), batch_size=1000):
            correct += int((model(xb).argmax(1) == yb).sum())
    return CLOCK() - t0, correct / len(ds.y_test)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, one repeat (a smoke test)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per phase (default: 10)")
    add_timing_args(parser, repeats=5)
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = clock_from(args)
    epochs, repeats = (2, 1) if args.quick else (args.epochs, args.repeats)
    data.get("mnist5k")                                      # parse the CSV once, outside the timings
    sides = {"ours": lambda: ours(epochs, True), "ours_in_memory": lambda: ours(epochs, False),
             "common": lambda: common(epochs)}
    for f in sides.values():                                 # warm up imports (torch.optim's) and kernels
        f()
    times: dict[str, list[float]] = {k: [] for k in sides}
    acc: dict[str, float] = {}
    for _ in range(repeats):
        for k, f in sides.items():
            t, acc[k] = f()
            times[k].append(t)
    stats = {k: median_spread(v) for k, v in times.items()}
    best = {k: m for k, (m, _) in stats.items()}
    out = {"threads": torch.get_num_threads(), "load": machine_line(), "clock": "cpu" if args.cpu_time else "wall",
           "torch": torch.__version__, "epochs": epochs, "repeats": repeats,
           "median_seconds": best, "spread_seconds": {k: s for k, (_, s) in stats.items()}, "ticket_test_acc": acc,
           "speedup": {"ours": best["common"] / best["ours"], "ours_in_memory": best["common"] / best["ours_in_memory"]}}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"one IMP round (dense train + prune 20% + rewind + retrain), mnist5k / LeNet-300-100, {epochs} epochs "
          f"per phase, batch 128, {out['clock']} time, median of {repeats}; aim: >= 2x")
    print(f"  {out['load']}")
    for k in sides:
        extra = "" if k == "common" else f"   {out['speedup'][k]:.2f}x faster than common"
        print(f"  {k:<15}{best[k]:>8.3f} ± {stats[k][1]:.3f} s   ticket test acc {acc[k]:.4f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

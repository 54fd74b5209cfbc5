"""One IMP round with our engine vs the same round written the common way; printed as a ratio.

The round: train a network densely from θ₀, prune 20% of the weights by global magnitude, rewind the
survivors to θ₀, train the ticket again, evaluate on the test set. Same data, epochs, batch size and
SGD settings on both sides. Two cases:

- ``lenet``: LeNet-300-100 (784-300-100-10) on mnist5k (issue 14's aim: >= 1.2x);
- ``mlp40``: the 40-300-100-10 MLP on 4000 x 40 Gaussian features labelled by a random linear
  teacher (1000 more rows for the test set), issue 14's first row (aim: >= 1.5x, ideally 2x).

- ours: ``lottery_lab.lottery.play(LotteryConfig(method="imp", rounds=1, ...))`` — tensors batched
  in place (``randperm``), masks as data, checkpoints and records in a run folder (as ``lottery-lab
  run`` does); also timed with ``out_dir=None`` (nothing written).
- common: ``torch.utils.data.DataLoader`` over a ``TensorDataset`` (shuffle, no workers, as in most
  tutorials for in-memory data), ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``
  (a forward pre-hook recomputes ``weight = weight_orig * weight_mask``), rewinding ``weight_orig``.

Sides are interleaved and repeated; the median of each (± half its range) is reported.

    python benchmarks/bench_round.py [--quick] [--cases lenet mlp40] [--epochs N] [--threads N | --cpu-time] [--json]
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
AIMS = {"lenet": 1.2, "mlp40": 1.5}

CLOCK = time.perf_counter


def gauss40() -> data.Dataset:
    """5000 rows of 40 standard-normal features, labelled by the argmax of a random linear map to 10 classes."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(5000, 40, generator=g)
    y = (X @ torch.randn(40, 10, generator=g)).argmax(1)
    return data.from_tensors(X[:4000], y[:4000], X[4000:], y[4000:], name="gauss40")


def dataset(case: str) -> data.Dataset:
    return data.get("mnist5k") if case == "lenet" else gauss40()


def ours(case: str, ds: data.Dataset, epochs: int, on_disk: bool) -> tuple[float, float]:
    """(seconds, ticket test accuracy) for one IMP round played by the engine."""
    with tempfile.TemporaryDirectory() as tmp:
        config = LotteryConfig(method="imp", method_kw={"prune_fraction": SETTINGS["prune_fraction"]},
                               model="mlp", data="mnist5k" if case == "lenet" else "gauss40", rounds=1,
                               epochs=epochs, batch_size=SETTINGS["batch_size"], lr=SETTINGS["lr"],
                               momentum=SETTINGS["momentum"], seed=0, device="cpu",
                               out_dir=tmp if on_disk else None, progress=False)
        given = None if case == "lenet" else ds
        t0 = CLOCK()
        result = play(config, given)
        return CLOCK() - t0, result.rows[-1]["test_acc"]


def common(case: str, ds: data.Dataset, epochs: int) -> tuple[float, float]:
    """(seconds, ticket test accuracy) for the same round with DataLoader and torch.nn.utils.prune."""
    t0 = CLOCK()
    if case == "lenet":  # the registry's cached dataset, as play() gets it
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


def measure(case: str, epochs: int, repeats: int) -> dict:
    """Median seconds (and spread), ticket accuracy and speed-ups of the three sides for one case."""
    ds = dataset(case)                                       # parse the CSV once, outside the timings
    sides = {"ours": lambda: ours(case, ds, epochs, True), "ours_in_memory": lambda: ours(case, ds, epochs, False),
             "common": lambda: common(case, ds, epochs)}
    for f in sides.values():                                 # warm up imports (torch.optim's) and kernels
        f()
    times: dict[str, list[float]] = {k: [] for k in sides}
    acc: dict[str, float] = {}
    for _ in range(repeats):
        for k, f in sides.items():
            t, acc[k] = f()
            times[k].append(t)
    stats = {k: median_spread(v) for k, v in times.items()}
    med = {k: m for k, (m, _) in stats.items()}
    steps = 2 * epochs * -(-len(ds.y_train) // SETTINGS["batch_size"])
    return {"median_seconds": med, "spread_seconds": {k: s for k, (_, s) in stats.items()},
            "us_per_step": {k: 1e6 * m / steps for k, m in med.items()}, "ticket_test_acc": acc,
            "speedup": {"ours": med["common"] / med["ours"], "ours_in_memory": med["common"] / med["ours_in_memory"]},
            "aim": AIMS[case]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, one repeat (a smoke test)")
    parser.add_argument("--cases", nargs="+", default=list(AIMS), choices=list(AIMS), help="which rounds to time")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per phase (default: 10)")
    add_timing_args(parser, repeats=5)
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = clock_from(args)
    epochs, repeats = (2, 1) if args.quick else (args.epochs, args.repeats)
    out = {"threads": torch.get_num_threads(), "load": machine_line(), "clock": "cpu" if args.cpu_time else "wall",
           "torch": torch.__version__, "epochs": epochs, "repeats": repeats,
           "cases": {case: measure(case, epochs, repeats) for case in args.cases}}
    out["load_after"] = machine_line()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"one IMP round (dense train + prune 20% + rewind + retrain), {epochs} epochs per phase, batch 128, "
          f"{out['clock']} time, median of {repeats}")
    print(f"  before: {out['load']}\n  after:  {out['load_after']}")
    names = {"lenet": "LeNet-300-100 / mnist5k", "mlp40": "MLP 40-300-100-10 / 4000 x 40"}
    for case, r in out["cases"].items():
        print(f"  {names[case]} (aim: >= {r['aim']}x)")
        for k, best in r["median_seconds"].items():
            extra = "" if k == "common" else f"   {r['speedup'][k]:.2f}x faster than common"
            print(f"    {k:<15}{best:>8.3f} ± {r['spread_seconds'][k]:.3f} s  {r['us_per_step'][k]:>7.0f} µs/step"
                  f"   ticket test acc {r['ticket_test_acc'][k]:.4f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

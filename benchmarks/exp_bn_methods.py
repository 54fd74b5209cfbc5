"""BatchNorm and the methods that prune without training: edge-popup's strong tickets and SNIP's mode.

On digits (8x8 images; CIFAR is not on this machine) with ResNet-20 (width 0.25) and VGG-11 (width
0.125), seed 0, one thread:

- ``edge_popup`` (keep 0.5, 10 search epochs, one round): the strong ticket's test accuracy as the
  runner now reports it (the found network, BatchNorm statistics of the search), evaluated as the
  runner used to (θ_k's statistics: mean 0, var 1), and with ``bn_stats="recalibrate"``;
- ``snip`` (one round, p = 0.2, from θ₀): how many of the prunable weights the eval-mode (default) and
  train-mode masks disagree on.

The four strong-ticket runs are played by :func:`lottery_lab.sweep.run` (in this process, kept in
memory, one torch thread each).

    python benchmarks/exp_bn_methods.py [--epochs 10]
"""

from __future__ import annotations

import argparse

import torch

from lottery_lab import masks, methods, sweep
from lottery_lab.lottery import LotteryConfig, _Run  # _Run: θ₀ of the run, as play builds it
from lottery_lab.train import evaluate

MODELS = (("resnet20", 0.25), ("vgg11", 0.125))
BN_STATS = ("search", "recalibrate")


def strong_configs(model: str, width: float, epochs: int) -> list[LotteryConfig]:
    return [LotteryConfig(method="edge_popup", method_kw={"keep": 0.5, "bn_stats": bn_stats}, model=model,
                          model_kw={"width": width}, data="digits", rounds=1, epochs=epochs, seed=0, device="cpu",
                          progress=False, out_dir=None, amp=False) for bn_stats in BN_STATS]


def strong_ticket(model: str, width: float, configs: list[LotteryConfig], results: list) -> str:
    accs = {}
    for bn_stats, cfg, res in zip(BN_STATS, configs, results):
        accs[bn_stats] = res.rows[1]["test_acc"]
        if bn_stats == "search":   # the same ticket as the runner used to build it: θ_k's statistics
            run = _Run(cfg, None)                # its fresh model is θ₀ = θ_k (rewind_iter = 0)
            method = methods.get("edge_popup", keep=0.5)
            theta_k = {k: v.clone() for k, v in run.model.state_dict().items()}
            masks.rewind(run.model, method.ticket_state(theta_k, res.masks[1]), res.masks[1])
            accs["theta_k"] = evaluate(run.model, run.ds.X_test, run.ds.y_test, amp=False)[0]
    return (f"| {model} (width {width}) | {accs['theta_k']:.3f} | {accs['search']:.3f} | "
            f"{accs['recalibrate']:.3f} |")


def snip_modes(model: str, width: float) -> str:
    cfg = LotteryConfig(method="snip", model=model, model_kw={"width": width}, data="digits", rounds=1,
                        epochs=1, seed=0, device="cpu", progress=False, out_dir=None, amp=False)
    run = _Run(cfg, None)
    mask = masks.ones_like(run.model)
    ctx = lambda: methods.Context(1, torch.Generator().manual_seed(0),  # noqa: E731
                                  rewind_state=run.model.state_dict(), data=run.ds)
    got = {mode: methods.get("snip", mode=mode).prune(run.model, mask, ctx()) for mode in ("eval", "train")}
    differ = sum(int((got["eval"][n] != got["train"][n]).sum()) for n in mask)
    return f"| {model} (width {width}) | {masks.count(mask)[1]:,} | {differ:,} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("edge_popup strong tickets on digits, test accuracy (one thread, shared machine)")
    print("| model | θ_k's BN statistics (before) | the search's (now) | recalibrated |")
    print("|---|---|---|---|")
    configs = [strong_configs(model, width, args.epochs) for model, width in MODELS]
    results = sweep.run([c for pair in configs for c in pair])
    for i, (model, width) in enumerate(MODELS):
        print(strong_ticket(model, width, configs[i], results[2 * i:2 * i + 2]), flush=True)
    print("\nsnip, one round at p = 0.2 from θ₀: weights whose eval- and train-mode masks differ")
    print("| model | prunable weights | masks differ |")
    print("|---|---|---|")
    for model, width in MODELS:
        print(snip_modes(model, width), flush=True)


if __name__ == "__main__":
    main()

"""Continuous sparsification: the reference's rules (the default now) vs this project's earlier variant.

mnist5k / LeNet-300-100, 10 epochs per round (search and ticket), SGD lr 0.1 momentum 0.9, batch 128,
seed 0, one thread, 5 rounds each. Prints density, test accuracy and the output layer's density per
round. Runs are stored under ``--out`` (resumable) and played by :func:`lottery_lab.sweep.run` (one
dense round 0 for both; ``--jobs 2``: on two worker processes, one torch thread each).

    python benchmarks/exp_cs_reference.py [--rounds 5] [--out runs/exp_cs_reference] [--jobs 2]
"""

from __future__ import annotations

import argparse

from lottery_lab import sweep
from lottery_lab.lottery import LotteryConfig

VARIANTS = {
    "reference (default)": {},
    "earlier lottery_lab": {"s_init": 0.5, "rescale": False, "lam": 1.0, "reduction": "mean", "carry": "reset",
                            "layers": "all", "mask_lr": 0.01, "scale_free": True},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="runs/exp_cs_reference")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default: %(default)s: in this process)")
    args = ap.parse_args()
    configs = [LotteryConfig(method="cs", method_kw=kw, model="mlp", data="mnist5k", rounds=args.rounds, epochs=10,
                             batch_size=128, lr=0.1, momentum=0.9, seed=0, device="cpu", progress=False,
                             out_dir=args.out) for kw in VARIANTS.values()]
    results = sweep.run(configs, jobs=args.jobs)
    print("| variant | round | density | test acc | output-layer density |")
    print("|---|---|---|---|---|")
    for label, res in zip(VARIANTS, results):
        out_layer = list(res.layer_densities[0])[-1]
        for row, layers in zip(res.rows, res.layer_densities):
            print(f"| {label} | {row['round']} | {row['density']:.2%} | {row['test_acc']:.2%} | "
                  f"{layers[out_layer]:.1%} |", flush=True)
        print(f"<!-- {label}: {sum(r['wall_s'] for r in res.rows):.0f} s of training, one thread, shared machine -->",
              flush=True)


if __name__ == "__main__":
    main()

"""Which layers IMP prunes: lottery_lab's global ranking vs OpenLTH's and Frankle & Carbin's output layer.

mnist5k / LeNet-300-100 (``model="mlp"``), 10 epochs per round, SGD lr 0.1 momentum 0.9, batch 128,
seed 0, one thread, 18 rounds of IMP at p = 0.2 for each :data:`lottery_lab.methods.imp.SCHEMES`
entry. Prints, for the rounds nearest 5 % and 2 % density, the test accuracy and the output layer's
density. Runs are stored under ``runs/exp_imp_layers/`` (resumable).

    python benchmarks/exp_imp_layers.py [--rounds 18] [--out runs/exp_imp_layers]
"""

from __future__ import annotations

import argparse
import time

import torch

from lottery_lab.lottery import LotteryConfig, play

TARGETS = (0.05, 0.02)
SCHEMES = ("global", "open_lth", "frankle_carbin")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=18)
    ap.add_argument("--out", default="runs/exp_imp_layers")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lines = []
    for scheme in SCHEMES:
        t0 = time.perf_counter()
        res = play(LotteryConfig(method="imp", method_kw={"scheme": scheme}, model="mlp", data="mnist5k",
                                 rounds=args.rounds, epochs=10, batch_size=128, lr=0.1, momentum=0.9, seed=0,
                                 device="cpu", progress=False, out_dir=args.out))
        out_layer = list(res.layer_densities[0])[-1]
        print(f"{scheme}: {time.perf_counter() - t0:.0f} s (one thread, shared machine); dense "
              f"{res.rows[0]['test_acc']:.4f}", flush=True)
        for target in TARGETS:
            r = min(range(1, len(res.rows)), key=lambda i: abs(res.rows[i]["density"] - target))
            row = res.rows[r]
            lines.append(f"| `{scheme}` | {target:.0%} | {r} | {row['density']:.2%} | {row['test_acc']:.2%} | "
                         f"{res.layer_densities[r][out_layer]:.1%} |")
    print("| scheme | target | round | density | test acc | output-layer density |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

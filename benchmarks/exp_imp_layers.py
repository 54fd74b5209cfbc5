"""Which layers IMP prunes: lottery_lab's global ranking vs OpenLTH's and Frankle & Carbin's output layer.

mnist5k / LeNet-300-100 (``model="mlp"``), 10 epochs per round, SGD lr 0.1 momentum 0.9, batch 128,
seed 0, one thread, 18 rounds of IMP at p = 0.2 for each :data:`lottery_lab.methods.imp.SCHEMES`
entry. Prints, for the rounds nearest 5 % and 2 % density, the test accuracy and the output layer's
density. Runs are stored under ``runs/exp_imp_layers/`` (resumable) and played by
:func:`lottery_lab.sweep.run` (the three schemes share one dense round 0; ``--jobs 2``: on two worker
processes, one torch thread each).

    python benchmarks/exp_imp_layers.py [--rounds 18] [--out runs/exp_imp_layers] [--jobs 2]
"""

from __future__ import annotations

import argparse

from lottery_lab import sweep
from lottery_lab.lottery import LotteryConfig

TARGETS = (0.05, 0.02)
SCHEMES = ("global", "open_lth", "frankle_carbin")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=18)
    ap.add_argument("--out", default="runs/exp_imp_layers")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default: %(default)s: in this process)")
    args = ap.parse_args()
    configs = [LotteryConfig(method="imp", method_kw={"scheme": scheme}, model="mlp", data="mnist5k",
                             rounds=args.rounds, epochs=10, batch_size=128, lr=0.1, momentum=0.9, seed=0,
                             device="cpu", progress=False, out_dir=args.out) for scheme in SCHEMES]
    lines = []
    for scheme, res in zip(SCHEMES, sweep.run(configs, jobs=args.jobs)):
        out_layer = list(res.layer_densities[0])[-1]
        print(f"{scheme}: {sum(r['wall_s'] for r in res.rows):.0f} s of training (one thread, shared machine); "
              f"dense {res.rows[0]['test_acc']:.4f}", flush=True)
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

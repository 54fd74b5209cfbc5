"""Does ``l0`` hit its density target? Constrained mode (global and per layer) vs the penalised mode's λ search.

On mnist5k with LeNet-300-100, one pruning round: the constrained search is asked for 50/20/10/5% and
the ticket's density is compared with the target (global, and each layer in per-layer mode). The
penalised mode (λ·expected density) is then bisected on log λ until the ticket lands within ±1 point
of the target, counting the trainings it takes.

    python benchmarks/exp_l0_targets.py [--epochs 10] [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import math
import time

from lottery_lab.lottery import LotteryConfig, play


def ticket(method_kw: dict, epochs: int, seed: int) -> tuple[float, dict, float]:
    cfg = LotteryConfig(method="l0", method_kw=method_kw, model="mlp", data="mnist5k", rounds=1,
                        epochs=epochs, seed=seed, out_dir=None, progress=False)
    res = play(cfg)
    return res.rows[1]["density"], res.layer_densities[1], res.rows[1]["test_acc"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="two targets, 3 epochs")
    args = ap.parse_args()
    targets = [0.2, 0.05] if args.quick else [0.5, 0.2, 0.1, 0.05]
    epochs = 3 if args.quick else args.epochs

    print(f"constrained l0 on mnist5k / LeNet-300-100, {epochs} epochs, seed {args.seed}")
    print(f"{'mode':<10}{'target':>8}{'density':>9}{'|Δ| pts':>9}{'max layer |Δ| pts':>19}{'test acc':>10}{'s':>7}")
    for per_layer in (False, True):
        for t in targets:
            t0 = time.perf_counter()
            d, layers, acc = ticket({"target_density": t, "per_layer": per_layer}, epochs, args.seed)
            worst = max(abs(v - t) for v in layers.values()) * 100
            print(f"{'per-layer' if per_layer else 'global':<10}{t:>8.2f}{d:>9.4f}{abs(d - t) * 100:>9.2f}"
                  f"{worst:>19.2f}{acc:>10.4f}{time.perf_counter() - t0:>7.0f}", flush=True)

    print("\npenalised l0: bisection on log10 λ until the ticket is within ±1 point of the target")
    for t in targets[1:3] if not args.quick else targets[:1]:
        lo, hi, n, d = -3.0, 3.0, 0, None
        while n < 10:
            mid = (lo + hi) / 2
            d, _, acc = ticket({"lam": 10 ** mid}, epochs, args.seed)
            n += 1
            print(f"  target {t:.2f}: λ = 1e{mid:+.2f} → density {d:.4f}", flush=True)
            if abs(d - t) <= 0.01:
                break
            lo, hi = (mid, hi) if d > t else (lo, mid)
        print(f"target {t:.2f}: {n} trainings (the constrained mode: 1)", flush=True)


if __name__ == "__main__":
    main()

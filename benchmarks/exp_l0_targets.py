"""Do ``l0`` and ``concave`` hit a density target? Constrained modes vs the penalised mode's λ search.

On mnist5k with LeNet-300-100, one pruning round after the dense round 0, seed 0:

1. constrained ``l0`` asked for 50/20/10/5/2 %, with one global constraint and with one per layer: the
   ticket's density against the target (and, per layer, the layer furthest from it), beside the
   expected density E‖z‖₀/d at the end of the search, which the ticket rounds;
2. the penalised ``l0`` (λ · expected density), bisected on log10 λ in [−3, 3] until the ticket is
   within ±1 point of the target, counting the trainings it takes;
3. ``concave`` with ``target_density`` 20/10/5 %: the ticket keeps exactly the target fraction (largest
   m), so beside its density stands the fraction with m ≥ α at the end of the search, which the
   multiplier drove.

Every row is one lottery run (round 0 dense, the search, the ticket retrained), with its training
seconds. The runs are played by :func:`lottery_lab.sweep.run` in one temporary folder, so they share one
dense round 0 (trained once, bit-identical to each training its own); part 1 is one sweep (``--jobs 2``:
on two worker processes, ``--threads`` torch threads each), each bisection step a sweep of one run (a
step another target's bisection already played, λ = 1 first of all, is read back, not trained again).

    python benchmarks/exp_l0_targets.py [--epochs 10] [--seed 0] [--threads 1] [--jobs 1] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from lottery_lab import sweep
from lottery_lab.lottery import LotteryConfig
from lottery_lab.methods.hard_concrete import HardConcrete


def config(method: str, method_kw: dict, epochs: int, seed: int, out_dir: str) -> LotteryConfig:
    return LotteryConfig(method=method, method_kw=method_kw, model="mlp", data="mnist5k", rounds=1, epochs=epochs,
                         seed=seed, out_dir=out_dir, progress=False)


def ticket(method: str, method_kw: dict, res) -> dict:
    """A run's ticket: its density, per-layer densities, test accuracy, training seconds (the rounds'
    ``wall_s``, the shared dense round's included), and the search's own density (l0: the expected
    density from log α; concave: the fraction of m ≥ α)."""
    s = list(res.scores(1).values())
    if method == "l0":
        searched = sum(float(HardConcrete().prob_nonzero(v).sum()) for v in s)
    else:
        searched = sum(int((v >= method_kw.get("alpha", 0.5)).sum()) for v in s)
    return {"density": res.rows[1]["density"], "layers": res.layer_densities[1], "acc": res.rows[1]["test_acc"],
            "searched": searched / sum(v.numel() for v in s), "s": sum(r["wall_s"] for r in res.rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10, help="epochs per round (the search's length too)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default: %(default)s: in this process)")
    ap.add_argument("--quick", action="store_true", help="two targets, 3 epochs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="exp_l0_targets-") as out_dir:
        experiment(args, out_dir)


def experiment(args, out_dir: str) -> None:
    targets = [0.2, 0.05] if args.quick else [0.5, 0.2, 0.1, 0.05, 0.02]
    epochs = 3 if args.quick else args.epochs

    print(f"mnist5k / LeNet-300-100, {epochs} epochs per round, seed {args.seed}, {args.threads} thread(s) per run")
    print(f"{'method':<20}{'target':>8}{'density':>9}{'|Δ| pts':>9}{'layer |Δ| max':>15}"
          f"{'search':>8}{'test acc':>10}{'s':>5}")
    runs = [("l0", {"target_density": t, "per_layer": p}, "l0 per-layer" if p else "l0 global")
            for p in (False, True) for t in targets]
    runs += [("concave", {"target_density": t}, "concave") for t in targets if t in (0.2, 0.1, 0.05)]
    results = sweep.run([config(method, kw, epochs, args.seed, out_dir) for method, kw, _ in runs], jobs=args.jobs,
                        threads=args.threads, progress=False)
    for (method, kw, label), res in zip(runs, results):
        t = kw["target_density"]
        r = ticket(method, kw, res)
        worst = f"{max(abs(v - t) for v in r['layers'].values()) * 100:.2f}" if kw.get("per_layer") else "—"
        print(f"{label:<20}{t:>8.2f}{r['density']:>9.4f}{abs(r['density'] - t) * 100:>9.2f}{worst:>15}"
              f"{r['searched']:>8.4f}{r['acc']:>10.4f}{r['s']:>5.0f}", flush=True)

    print("\npenalised l0: bisection on log10 λ until the ticket is within ±1 point of the target")
    for t in targets[1:4] if not args.quick else targets[:1]:
        lo, hi, n, t0 = -3.0, 3.0, 0, time.perf_counter()
        while n < 10:
            mid = (lo + hi) / 2
            kw = {"lam": 10 ** mid}
            r = ticket("l0", kw, sweep.run([config("l0", kw, epochs, args.seed, out_dir)], threads=args.threads,
                                           progress=False)[0])
            n += 1
            print(f"  target {t:.2f}: λ = 1e{mid:+.2f} → density {r['density']:.4f}, test acc {r['acc']:.4f}",
                  flush=True)
            if abs(r["density"] - t) <= 0.01:
                break
            lo, hi = (mid, hi) if r["density"] > t else (lo, mid)
        found = "within ±1 point" if abs(r["density"] - t) <= 0.01 else "NOT within ±1 point"
        print(f"target {t:.2f}: {n} trainings, {found}, {time.perf_counter() - t0:.0f} s "
              f"(the constrained mode: 1)", flush=True)


if __name__ == "__main__":
    main()

"""Tickets on mnist5k / LeNet-300-100: IMP vs concave (log) vs random at about 20%, 10% and 5% density.

Two stages, both stored (``runs/exp_mnist5k/``, resumable: a rerun reuses finished rounds):

``tune``  — on the validation split (``data_kw={"split": "val"}``: 10% of the training set held out,
            the test set untouched), seed 0: a grid over the concave method's λ, mask lr, ε, α, mask
            init and search length. Each setting plays rounds until its density is ≤ 4.5% (or stops
            moving); its score is the mean validation accuracy at 20%, 10% and 5% density,
            interpolated in log-density between the rounds around each target. Prints the ranking.
``table`` — on the test split, seeds 0, 1, 2: dense, IMP (20% per round), the chosen concave
            setting and random pruning (to IMP's densities); for each target density the round
            nearest to it, as mean ± std over seeds of test accuracy and of density.

    python benchmarks/exp_mnist5k_tickets.py tune  [--jobs 2] [--quick]
    python benchmarks/exp_mnist5k_tickets.py table [--concave JSON] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

TARGETS = (0.20, 0.10, 0.05)
STOP_DENSITY = 0.045
MAX_ROUNDS = {"imp": 14, "random": 14, "concave": 10}
COMMON = dict(model="mlp", data="mnist5k", epochs=10, batch_size=128, lr=0.1, momentum=0.9, device="cpu",
              progress=False)
GRID = {  # the concave settings tried in `tune` (every combination)
    "lam": [5e-6, 1e-5, 2e-5],
    "mask_lr": [30.0, 100.0],
    "penalty_kw": [{"eps": 0.1}, {"eps": 0.01}],
    "alpha": [0.5],
    "mask_init": [1.0],
    "epochs": [None],
}
GRID_2 = {  # second pass: around the best of GRID (α, mask init, search length)
    "alpha": [0.1, 0.5, 0.9],
    "mask_init": [0.5, 1.0],
    "epochs": [None, 3],
}


def play_until(method: str, method_kw: dict, seed: int, split: str, out_dir: str, threads: int = 1) -> list[dict]:
    """Play rounds one at a time (the run store resumes) until density ≤ STOP_DENSITY or it stalls."""
    import torch
    from lottery_lab.lottery import LotteryConfig, play

    torch.set_num_threads(threads)
    data_kw = {"split": "val"} if split == "val" else {}
    rows: list[dict] = []
    for rounds in range(1, MAX_ROUNDS[method] + 1):
        rows = play(LotteryConfig(method=method, method_kw=method_kw, data_kw=data_kw, rounds=rounds, seed=seed,
                                  out_dir=out_dir, **COMMON)).rows
        d_prev, d = rows[-2]["density"], rows[-1]["density"]
        if d <= STOP_DENSITY or (method == "concave" and d > 0.99 * d_prev):
            break
    return rows


def at_density(rows: list[dict], target: float, key: str = "test_acc") -> float:
    """``key`` interpolated in log-density at ``target`` (NaN if the rounds do not bracket it)."""
    pts = sorted((math.log(r["density"]), r[key]) for r in rows)
    x = math.log(target)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return float("nan")


def nearest(rows: list[dict], target: float) -> dict:
    """The round whose density is nearest ``target`` in log scale (round 0 excluded)."""
    return min(rows[1:], key=lambda r: abs(math.log(r["density"] / target)))


def _grid(spec: dict) -> list[dict]:
    keys = list(spec)
    return [dict(zip(keys, values)) for values in itertools.product(*(spec[k] for k in keys))]


def _run_all(jobs: list[tuple], n_jobs: int) -> list[list[dict]]:
    if n_jobs <= 1:
        return [play_until(*j) for j in jobs]
    with ProcessPoolExecutor(n_jobs) as pool:
        return list(pool.map(play_until, *zip(*jobs)))


def tune(args) -> None:
    out = str(Path(args.out) / "tune")
    settings = _grid(GRID)
    if args.second_pass:
        base = json.loads(args.second_pass)
        settings = [{**base, **s} for s in _grid(GRID_2)]
    if args.quick:
        settings = settings[:2]
    jobs = [("imp", {}, 0, "val", out), ("random", {}, 0, "val", out)]
    jobs += [("concave", s, 0, "val", out) for s in settings]
    t0 = time.perf_counter()
    results = _run_all(jobs, args.jobs)
    print(f"validation split (seed 0), {COMMON['epochs']} epochs per round; {time.perf_counter() - t0:.0f} s")
    print(f"{'method':<8}{'setting':<80}{'val@20%':>9}{'val@10%':>9}{'val@5%':>8}{'mean':>8}{'rounds':>7}")
    scored = []
    for (method, kw, *_), rows in zip(jobs, results):
        accs = [at_density(rows, t) for t in TARGETS]
        scored.append((np.mean(accs) if not any(map(math.isnan, accs)) else -1.0, method, kw, accs, rows))
    for score, method, kw, accs, rows in sorted(scored, key=lambda s: -s[0]):
        cells = "".join(f"{a:>9.4f}" if not math.isnan(a) else f"{'-':>9}" for a in accs)
        print(f"{method:<8}{json.dumps(kw):<80}{cells}{score:>8.4f}{len(rows) - 1:>7}"
              f"   densities {[round(r['density'], 3) for r in rows]}")


def table(args) -> None:
    out = str(Path(args.out) / "test")
    concave = json.loads(args.concave)
    seeds = [0] if args.quick else [0, 1, 2]
    specs = {"imp": {}, "concave": concave, "random": {}}
    jobs = [(m, kw, s, "test", out) for m, kw in specs.items() for s in seeds]
    t0 = time.perf_counter()
    results = dict(zip([(j[0], j[2]) for j in jobs], _run_all(jobs, args.jobs)))
    dense = [results[("imp", s)][0]["test_acc"] for s in seeds]
    print(f"mnist5k (4,000 train / 1,000 test) / LeNet-300-100, {COMMON['epochs']} epochs per round, SGD lr "
          f"{COMMON['lr']} momentum {COMMON['momentum']}, batch {COMMON['batch_size']}, seeds {seeds}; "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"concave: {json.dumps(concave)}")
    print(f"dense: test acc {np.mean(dense):.4f} ± {np.std(dense):.4f}")
    print(f"{'target':<8}" + "".join(f"{m + ' density':>18}{m + ' acc':>18}" for m in specs))
    for t in TARGETS:
        cells = ""
        for m in specs:
            picked = [nearest(results[(m, s)], t) for s in seeds]
            d = [p["density"] for p in picked]
            a = [p["test_acc"] for p in picked]
            cells += f"{np.mean(d):>10.4f} ± {np.std(d):.3f}{np.mean(a):>10.4f} ± {np.std(a):.3f}"
        print(f"{t:<8.0%}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["tune", "table"])
    parser.add_argument("--out", default="runs/exp_mnist5k", help="where the runs are kept (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one torch thread each")
    parser.add_argument("--quick", action="store_true", help="two settings / one seed (a smoke test)")
    parser.add_argument("--second-pass", metavar="JSON", help="tune: vary α, mask init and search length "
                        "around this setting instead of the first grid")
    parser.add_argument("--concave", metavar="JSON", default="{}",
                        help="table: the concave method's settings (default: the method's defaults)")
    args = parser.parse_args(argv)
    tune(args) if args.stage == "tune" else table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

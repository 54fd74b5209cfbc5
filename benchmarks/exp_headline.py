"""The paper's headline at this machine's scale: concave vs IMP vs random at ≈20/10/5/2 % density,
LeNet-300-100 and Conv-4 on mnist5k, 5 seeds, with the paired difference concave − IMP per density.

Densities: IMP prunes 20 % of the remaining weights per round (the standard rate), so its tickets at
rounds 7, 10, 13 and 17 have density 0.8^r = 20.97, 10.74, 5.50 and 2.25 %. Concave (``target_density``)
and random (one-shot, ``prune_fraction = 1 − d``) are asked for exactly those densities, so every
comparison is at the same density to within a few weights.

Stages, each stored under ``runs/exp_headline/<pair>/`` (resumable: a rerun reuses finished rounds,
a killed one resumes from its checkpoints):

``tune``  — validation split (``data_kw={"split": "val"}``: 10 % of the training set held out, the
            test set untouched), seed 0: each concave setting of :data:`SETTINGS` at the four
            densities; a setting's score is its mean validation accuracy over them. The best is
            written to ``tune/choice.json``. λ itself is the ``target_density`` multiplier (raised
            while the ticket would be too dense, lowered while too sparse); tuned are its start,
            its step and the mask's learning rate.
``table`` — test split, seeds 0–4: dense, IMP, random and concave with the tuned setting. Writes
            ``book/figures/headline-<pair>.csv`` (one row per method, seed, density) and
            ``headline-<pair>.png`` (accuracy against density with 95 % bootstrap intervals of the
            mean over seeds; the paired difference concave − IMP with its 95 % bootstrap interval),
            and prints the table.
``collapse`` — digits / Conv-2 at 2 % (the setting of ``book/methods.md``'s comparison, where concave
            fell to 73 %): the default search beside variants that test why (see the book's
            headline page).

    python benchmarks/exp_headline.py tune  --pair mlp   --jobs 2
    python benchmarks/exp_headline.py table --pair mlp   --jobs 2
    python benchmarks/exp_headline.py tune  --pair conv4 --jobs 2
    python benchmarks/exp_headline.py table --pair conv4 --jobs 2
    python benchmarks/exp_headline.py collapse --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMP_RATE = 0.2
IMP_ROUNDS = {0.20: 7, 0.10: 10, 0.05: 13, 0.02: 17}   # nominal target → IMP round: 0.8^r ≈ target
SEEDS = (0, 1, 2, 3, 4)
LEVEL = 0.95
N_BOOT = 10_000


def _mlp_common() -> dict:
    """LeNet-300-100's training settings of ``exp_mnist5k_tickets`` (10 epochs per round, batch 128,
    SGD lr 0.1, momentum 0.9): the budget its earlier table used."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from exp_mnist5k_tickets import COMMON

    return dict(COMMON)


#: the model/data pairs and their budget per round (every training phase, the concave search included)
PAIRS = {
    "mlp": {"label": "LeNet-300-100 / mnist5k", "common": _mlp_common, "settings": 4},
    # Conv-4 (Frankle & Carbin's 64-64-128-128 conv, 256-256 FC) at width 0.25 (16-16-32-32, 64-64) on
    # the 28x28 images: full width costs ~50 s an epoch on one core here, width 0.25 8 s (30 s at load
    # 17). SGD at lr 0.1 or 0.05 does not train it (10 % test accuracy after 2 epochs); lr 0.01 with
    # batch 32 reaches 92.3 % in one epoch (125 steps), batch 64 96.1 % in three.
    "conv4": {"label": "Conv-4 (width 0.25) / mnist5k 28×28",
              "common": lambda: dict(model="conv4", model_kw={"width": 0.25}, data="mnist5k", epochs=1,
                                     batch_size=32, lr=0.01, momentum=0.9, device="cpu", progress=False),
              "settings": 3},
}
#: concave settings tried on the validation split (each with ``target_density`` per density); a pair
#: tries the first ``PAIRS[pair]["settings"]`` of them (Conv-4 three: its budget)
SETTINGS = [
    {},                                   # the method's defaults: λ₀ 2e-5, mask lr 100, dual step 1, α 0.5
    {"dual_lr": 0.1},                     # a slower multiplier
    {"mask_lr": 10.0, "lam": 6e-5},       # a slower mask (λ₀ scaled up, as exp_mnist5k_tickets scales λ)
    {"mask_lr": 30.0},
]


# ------------------------------------------------------------------------------------ statistics

def _as_sample(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name}={x!r} must be a non-empty 1-d sequence of finite numbers")
    return a


def bootstrap_ci(x: Sequence[float], level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
                 ) -> tuple[float, float, float]:
    """(mean, low, high): the sample mean and its percentile bootstrap interval at ``level``.

    ``n_boot`` resamples of ``len(x)`` values drawn with replacement (numpy's ``default_rng(seed)``);
    the interval is the (1 − level)/2 and (1 + level)/2 quantiles of the resampled means.
    """
    a = _as_sample("x", x)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level={level!r} must lie in the open interval (0, 1)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot={n_boot!r} must be an integer >= 1")
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, a.size, size=(int(n_boot), a.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(a.mean()), float(low), float(high)


def paired_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL, n_boot: int = N_BOOT,
              seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the per-pair differences a − b (pairs: same seed) by :func:`bootstrap_ci`."""
    x, y = _as_sample("a", a), _as_sample("b", b)
    if x.size != y.size:
        raise ValueError(f"a and b must pair up: len(a)={x.size}, len(b)={y.size}")
    return bootstrap_ci(x - y, level, n_boot, seed)


# ------------------------------------------------------------------------------------ runs

def _configs(pair: str, split: str, seeds: Sequence[int], setting: dict | None, out: Path,
             methods: Sequence[str] = ("imp", "concave", "random")) -> list:
    """IMP (one run per seed, 17 rounds), then concave and random (one run per seed and density)."""
    from lottery_lab.lottery import LotteryConfig

    common = PAIRS[pair]["common"]()
    data_kw = {"split": "val"} if split == "val" else {}
    base = dict(data_kw=data_kw, out_dir=str(out), **common)
    configs = []
    if "imp" in methods:
        configs += [LotteryConfig(method="imp", method_kw={"prune_fraction": IMP_RATE}, rounds=max(IMP_ROUNDS.values()),
                                  seed=s, **base) for s in seeds]
    for t, r in IMP_ROUNDS.items():
        d = round((1 - IMP_RATE) ** r, 12)
        for s in seeds:
            if "concave" in methods:
                configs.append(LotteryConfig(method="concave", method_kw={**setting, "target_density": d},
                                             rounds=1, seed=s, **base))
            if "random" in methods:
                configs.append(LotteryConfig(method="random", method_kw={"prune_fraction": round(1 - d, 12)},
                                             rounds=1, seed=s, **base))
    return configs


def _records(configs: list, results: list) -> list[dict]:
    """One record per (method, seed, nominal target) and one ``dense`` per seed."""
    recs, dense_seen = [], set()
    for c, res in zip(configs, results):
        rows = res.rows
        if c.seed not in dense_seen:
            dense_seen.add(c.seed)
            recs.append({"method": "dense", "seed": c.seed, "target": 1.0, "density": rows[0]["density"],
                         "test_acc": rows[0]["test_acc"]})
        if c.method == "imp":
            for t, r in IMP_ROUNDS.items():
                recs.append({"method": "imp", "seed": c.seed, "target": t, "density": rows[r]["density"],
                             "test_acc": rows[r]["test_acc"]})
        else:
            d = c.method_kw.get("target_density", 1 - c.method_kw.get("prune_fraction", 0.0))
            t = min(IMP_ROUNDS, key=lambda k: abs((1 - IMP_RATE) ** IMP_ROUNDS[k] - d))
            rec = {"method": c.method, "seed": c.seed, "target": t, "density": rows[1]["density"],
                   "test_acc": rows[1]["test_acc"]}
            if c.method == "concave":
                rec.update(search_densities(res, c.method_kw.get("alpha", 0.5)))
            recs.append(rec)
    return recs


def search_densities(result, alpha: float) -> dict[str, float]:
    """Where the search left the relaxed mask m: the fractions of all prunable weights with m ≥ α
    (the paper's ticket) and with m > 0. Below the density asked for, the rest of the ticket is
    filled by the tie-break among m = 0, |θ| of the search's weights."""
    import torch

    m = result.scores(1)
    flat = torch.cat([v.flatten() for v in m.values()])
    return {"m_ge_alpha": float((flat >= alpha).double().mean()), "m_pos": float((flat > 0).double().mean())}


def _play(configs: list, jobs: int) -> tuple[list, float]:
    from lottery_lab import sweep

    t0 = time.perf_counter()
    results = sweep.run(configs, jobs=jobs, progress=False, threads=1)
    return results, time.perf_counter() - t0


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def tune(args) -> None:
    root = Path(args.out) / args.pair / "tune"
    settings = SETTINGS[:1] if args.quick else SETTINGS[:PAIRS[args.pair]["settings"]]
    configs = [c for s in settings for c in _configs(args.pair, "val", [0], s, root, methods=("concave",))]
    results, wall = _play(configs, args.jobs)
    print(f"{PAIRS[args.pair]['label']}: validation split (400 images), seed 0; {wall:.0f} s, load {_load()}")
    by_setting: dict[str, list[float]] = {}
    searched: dict[str, list[dict]] = {}
    for c, res in zip(configs, results):
        kw = {k: v for k, v in c.method_kw.items() if k != "target_density"}
        by_setting.setdefault(json.dumps(kw, sort_keys=True), []).append(res.rows[1]["test_acc"])
        searched.setdefault(json.dumps(kw, sort_keys=True), []).append(search_densities(res, kw.get("alpha", 0.5)))
    ranked = sorted(by_setting.items(), key=lambda kv: -np.mean(kv[1]))
    for name, accs in ranked:
        print(f"  {name:<40} mean val acc {np.mean(accs):.4f}   " + "  ".join(
            f"{t:.0%}: {a:.4f}" for t, a in zip(IMP_ROUNDS, accs)))
        print(f"  {'':<40} at the search's end m ≥ α: " + "  ".join(
            f"{100 * d['m_ge_alpha']:.2f}%" for d in searched[name]) + "   m > 0: " + "  ".join(
            f"{100 * d['m_pos']:.2f}%" for d in searched[name]))
    best, accs = ranked[0]
    (root / "choice.json").write_text(json.dumps({"setting": json.loads(best), "val_acc": float(np.mean(accs)),
                                                   "per_target": dict(zip(map(str, IMP_ROUNDS), accs))},
                                                  indent=2) + "\n")
    print(f"choice written to {root / 'choice.json'}")


def summarise(recs: list[dict], seeds: Sequence[int]) -> list[dict]:
    """Per target and method: mean density, mean accuracy with its bootstrap interval; the paired
    differences concave − IMP and concave − random (by seed) with theirs."""
    def acc(m, t):
        by = {r["seed"]: r for r in recs if r["method"] == m and r["target"] == t}
        return [by[s]["test_acc"] for s in seeds], [by[s]["density"] for s in seeds]

    out = []
    for t in IMP_ROUNDS:
        row: dict = {"target": t}
        for m in ("imp", "concave", "random"):
            a, d = acc(m, t)
            row[f"{m}_density"] = float(np.mean(d))
            row[f"{m}_acc"], row[f"{m}_lo"], row[f"{m}_hi"] = bootstrap_ci(a)
            row[f"{m}_std"] = float(np.std(a))
        for other in ("imp", "random"):
            row[f"diff_{other}"], row[f"diff_{other}_lo"], row[f"diff_{other}_hi"] = paired_ci(
                acc("concave", t)[0], acc(other, t)[0])
        out.append(row)
    return out


def verdict(row: dict) -> str:
    """'better', 'worse' or 'comparable' from the paired interval of concave − IMP."""
    if row["diff_imp_lo"] > 0:
        return "better"
    if row["diff_imp_hi"] < 0:
        return "worse"
    return "comparable"


def table(args) -> None:
    root = Path(args.out) / args.pair
    choice_path = Path(args.choice or root / "tune" / "choice.json")
    setting = json.loads(choice_path.read_text())["setting"]
    seeds = SEEDS[:1] if args.quick else SEEDS
    configs = _configs(args.pair, "test", seeds, setting, root / "test")
    results, wall = _play(configs, args.jobs)
    recs = _records(configs, results)
    dense = [r["test_acc"] for r in recs if r["method"] == "dense"]
    common = PAIRS[args.pair]["common"]()
    print(f"{PAIRS[args.pair]['label']}: {common['epochs']} epochs per round (search and retraining alike), "
          f"batch {common['batch_size']}, SGD lr {common['lr']} momentum {common['momentum']}, seeds "
          f"{list(seeds)}; {wall:.0f} s, load {_load()}")
    print(f"concave setting {json.dumps(setting)} (from {choice_path}); dense {np.mean(dense):.4f} ± {np.std(dense):.4f}")
    rows = summarise(recs, seeds)
    head = "".join(f"{m:>27}" for m in ("imp", "concave", "random")) + f"{'concave − imp':>30}{'concave − random':>30}"
    print(f"{'density':<9}{head}")
    for row in rows:
        cells = "".join(f"{100 * row[f'{m}_acc']:>9.2f} [{100 * row[f'{m}_lo']:.2f}, {100 * row[f'{m}_hi']:.2f}]"
                        for m in ("imp", "concave", "random"))
        cells += "".join(f"{100 * row[f'diff_{o}']:>+12.2f} [{100 * row[f'diff_{o}_lo']:+.2f}, "
                         f"{100 * row[f'diff_{o}_hi']:+.2f}]" for o in ("imp", "random"))
        print(f"{100 * row['imp_density']:<8.2f}%{cells}   {verdict(row)}")
    print("\nconcave's search at its end, per density (median over seeds, % of prunable weights): m ≥ α / m > 0 / "
          "density asked; the ticket's remainder is chosen among m = 0 by |θ|")
    for t in IMP_ROUNDS:
        cs = [r for r in recs if r["method"] == "concave" and r["target"] == t]
        print(f"  {100 * cs[0]['density']:6.2f}%: m ≥ α {100 * np.median([r['m_ge_alpha'] for r in cs]):6.3f}%   "
              f"m > 0 {100 * np.median([r['m_pos'] for r in cs]):6.3f}%")
    if not args.quick:
        fig_dir = ROOT / "book" / "figures"
        _write_csv(fig_dir / f"headline-{args.pair}.csv", recs, args.pair)
        _write_summary(fig_dir / f"headline-{args.pair}-summary.csv", rows, args.pair)
        _figure(fig_dir / f"headline-{args.pair}.png", recs, rows, seeds, PAIRS[args.pair]["label"], common)
        print(f"wrote {fig_dir}/headline-{args.pair}.csv, -summary.csv, .png")


def _write_csv(path: Path, recs: list[dict], pair: str) -> None:
    lines = ["pair,method,seed,target,density,test_acc,m_ge_alpha,m_pos"]
    lines += [f"{pair},{r['method']},{r['seed']},{r['target']},{r['density']:.6f},{r['test_acc']:.6f},"
              + ",".join(f"{r[k]:.6f}" if k in r else "" for k in ("m_ge_alpha", "m_pos")) for r in recs]
    path.write_text("\n".join(lines) + "\n")


def _write_summary(path: Path, rows: list[dict], pair: str) -> None:
    keys = list(rows[0])
    path.write_text("pair," + ",".join(keys) + "\n" + "".join(
        pair + "," + ",".join(f"{row[k]:.6f}" for k in keys) + "\n" for row in rows))


def _figure(path: Path, recs: list[dict], rows: list[dict], seeds, label: str, common: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"imp": "C0", "concave": "C3", "random": "C7"}
    for m, c in colours.items():
        d = np.array([row[f"{m}_density"] for row in rows])
        a = np.array([row[f"{m}_acc"] for row in rows])
        err = np.array([[a_ - row[f"{m}_lo"], row[f"{m}_hi"] - a_] for a_, row in zip(a, rows)]).T
        ax.errorbar(100 * d, 100 * a, yerr=100 * err, marker="o", capsize=3, color=c, label=m)
    dense = [r["test_acc"] for r in recs if r["method"] == "dense"]
    ax.axhline(100 * np.mean(dense), color="k", ls=":", lw=1, label="dense")
    ax.set_xscale("log")
    ax.set_xlabel("density (% of prunable weights kept)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{label}, {len(seeds)} seeds: mean, 95% bootstrap CI", fontsize=9)
    ax.legend(fontsize=8)
    x = np.arange(len(rows))
    for k, (o, c) in enumerate((("imp", "C0"), ("random", "C7"))):
        diff = np.array([row[f"diff_{o}"] for row in rows])
        err = np.array([[row[f"diff_{o}"] - row[f"diff_{o}_lo"], row[f"diff_{o}_hi"] - row[f"diff_{o}"]]
                        for row in rows]).T
        bx.errorbar(x + (k - 0.5) * 0.15, 100 * diff, yerr=100 * err, fmt="o", capsize=4, color=c,
                    label=f"concave − {o}")
    bx.axhline(0, color="k", lw=1)
    bx.set_xticks(x, [f"{100 * row['imp_density']:.2f}%" for row in rows])
    bx.set_xlabel("density")
    bx.set_ylabel("paired difference (points)")
    bx.set_title(f"per seed, mean and 95% bootstrap CI; {common['epochs']} epochs per round", fontsize=9)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------ the digits / Conv-2 collapse

#: book/methods.md's digits / Conv-2 comparison setting (5 epochs per round, batch 16, SGD lr 0.01)
COLLAPSE_COMMON = dict(model="conv2", data="digits", epochs=5, batch_size=16, lr=0.01, momentum=0.9, device="cpu",
                       progress=False)
COLLAPSE_VARIANTS = [
    ("imp, 0.5 per round, 6 rounds (1.56 %)", "imp", {"prune_fraction": 0.5}, 6),
    ("concave defaults (as methods.md)", "concave", {}, 1),
    ("budget: search 15 epochs", "concave", {"epochs": 15}, 1),
    ("tuning: dual step 0.1", "concave", {"dual_lr": 0.1}, 1),
    ("tuning: mask lr 10", "concave", {"mask_lr": 10.0}, 1),
]


def collapse(args) -> None:
    from lottery_lab.lottery import LotteryConfig

    out = Path(args.out) / "collapse"
    configs = [LotteryConfig(method=m, method_kw={**kw, "target_density": 0.02} if m == "concave" else kw,
                             rounds=r, seed=s, out_dir=str(out), **COLLAPSE_COMMON)
               for _, m, kw, r in COLLAPSE_VARIANTS for s in args.collapse_seeds]
    results, wall = _play(configs, args.jobs)
    print(f"digits / Conv-2 at ≈2 %, 5 epochs per round, batch 16, SGD lr 0.01, seeds {args.collapse_seeds}; "
          f"{wall:.0f} s, load {_load()}")
    k = len(args.collapse_seeds)
    for i, (name, *_) in enumerate(COLLAPSE_VARIANTS):
        res = results[i * k:(i + 1) * k]
        last = [r.rows[-1] for r in res]
        layers = [json.loads((r.run_dir / f"round_{len(r.rows) - 1:02d}" / "metrics.json").read_text())["layer_density"]
                  for r in res]
        layer_mean = {n: np.mean([ld[n] for ld in layers]) for n in layers[0]}
        searched = ([search_densities(r, {**COLLAPSE_VARIANTS[i][2]}.get("alpha", 0.5)) for r in res]
                    if COLLAPSE_VARIANTS[i][1] == "concave" else [])
        print(f"  {name:<40} test {100 * np.mean([r['test_acc'] for r in last]):6.2f} ± "
              f"{100 * np.std([r['test_acc'] for r in last]):.2f}  train loss "
              f"{np.mean([r['train_loss'] for r in last]):.3f}  density {100 * np.mean([r['density'] for r in last]):.2f}%"
              f"  per layer: " + ", ".join(f"{n} {100 * v:.2f}%" for n, v in layer_mean.items()))
        if searched:
            print(f"  {'':<40} search's end, per seed: m ≥ α " + " ".join(f"{100 * d['m_ge_alpha']:.3f}%" for d in searched)
                  + ", m > 0 " + " ".join(f"{100 * d['m_pos']:.3f}%" for d in searched)
                  + "  test acc " + " ".join(f"{100 * r['test_acc']:.2f}" for r in last))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["tune", "table", "collapse"])
    parser.add_argument("--pair", choices=list(PAIRS), default="mlp", help="model / data pair (default: %(default)s)")
    parser.add_argument("--out", default="runs/exp_headline", help="where the runs are kept (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one torch thread each")
    parser.add_argument("--quick", action="store_true", help="one setting / one seed, nothing written to book/")
    parser.add_argument("--choice", metavar="JSON", help="table: the tuned setting (default: OUT/PAIR/tune/choice.json)")
    parser.add_argument("--collapse-seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED",
                        help="collapse: the seeds (default: 0 1 2, as methods.md)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} must be >= 1")
    {"tune": tune, "table": table, "collapse": collapse}[args.stage](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Tickets on mnist5k / LeNet-300-100: IMP vs concave (log) vs random at about 20%, 10% and 5% density.

IMP prunes 20% of the remaining weights per round, so its densities are 0.8^r (14 rounds reach 4.4%);
random pruning follows the same densities. The concave method's density is set by λ, not by a
schedule: with λ fixed, further rounds settle at a λ-dependent density instead of compounding (and
keep pruning the small output layer), so its tickets at each target come from the λ and the number
of rounds (1–3) chosen for that target.

Two stages, both stored under ``runs/exp_mnist5k/`` (resumable: a rerun reuses finished rounds):

``tune``  — validation split (``data_kw={"split": "val"}``: 10% of the training set held out, the
            test set untouched), seed 0. For each concave setting (mask lr, ε, α, mask init, search
            length) and each λ of a sweep, up to 3 rounds. For each target density the candidate
            tickets within a factor 1.25 of it compete on validation accuracy; a setting's score is
            the mean over targets of its best candidates. Prints the ranking and writes the winner's
            picks to ``runs/exp_mnist5k/tune/choice.json``.
``table`` — test split, seeds 0, 1, 2: dense, IMP, random, and concave with the setting chosen by
            ``tune``. The density a λ gives moves with the training set (the val split trains on
            10% fewer images, and the search's collapse of m is steep in λ x steps), so per seed the
            concave ticket for a target is the one of density nearest to it among the λ sweep x
            rounds 1-3 — chosen by density alone, never by test accuracy. IMP/random: the round
            nearest each target. Mean ± std over seeds of density and of test accuracy.

Every stage is one :func:`lottery_lab.sweep.run` (``--jobs N``: on N worker processes, one torch thread
each); its runs on one split and seed share one dense round 0, trained once.

    python benchmarks/exp_mnist5k_tickets.py tune  [--jobs 2] [--quick]
    python benchmarks/exp_mnist5k_tickets.py tune  --second-pass   # vary α, mask init, search length
    python benchmarks/exp_mnist5k_tickets.py table [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

TARGETS = (0.20, 0.10, 0.05)
BAND = 1.25                       # a candidate ticket counts for a target within this factor of it
IMP_ROUNDS = 14                   # 0.8 ** 14 = 4.4%
CONCAVE_ROUNDS = 3
COMMON = dict(model="mlp", data="mnist5k", epochs=10, batch_size=128, lr=0.1, momentum=0.9, device="cpu",
              progress=False)
LAMS = (1.5e-5, 2e-5, 3e-5, 4e-5, 6e-5)          # λ sweep at mask_lr = 100 (scaled by 100 / mask_lr)
FAMILIES = [                                       # first pass: mask lr and ε
    {"mask_lr": 100.0, "penalty_kw": {"eps": 0.1}},
    {"mask_lr": 100.0, "penalty_kw": {"eps": 0.01}},
    {"mask_lr": 30.0, "penalty_kw": {"eps": 0.1}},
]
VARIATIONS = [{"alpha": 0.2}, {"alpha": 0.8}, {"mask_init": 0.5}, {"epochs": 3}]   # second pass


def _config(method: str, method_kw: dict, seed: int, split: str, out_dir: str, rounds: int):
    from lottery_lab.lottery import LotteryConfig

    data_kw = {"split": "val"} if split == "val" else {}
    return LotteryConfig(method=method, method_kw=method_kw, data_kw=data_kw, rounds=rounds, seed=seed,
                         out_dir=out_dir, **COMMON)


def play_rounds(job: tuple) -> list[dict]:
    """Play a job's ``rounds`` rounds; a concave run stops early once below 3% density."""
    from dataclasses import replace

    from lottery_lab.lottery import play

    method, *_, rounds = job
    config = _config(*job)
    rows: list[dict] = []
    for r in range(1, rounds + 1) if method == "concave" else [rounds]:
        rows = play(replace(config, rounds=r)).rows
        if rows[-1]["density"] < 0.03:
            break
    return rows


def _run_all(jobs: list[tuple], n_jobs: int) -> list[list[dict]]:
    """:func:`play_rounds` of every job, on ``n_jobs`` processes (one torch thread each)."""
    from lottery_lab import sweep

    return sweep.run([_config(*j) for j in jobs], jobs=n_jobs, task=play_rounds, items=jobs)


def nearest(rows: list[dict], target: float) -> dict:
    """The round whose density is nearest ``target`` in log scale (round 0 excluded)."""
    return min(rows[1:], key=lambda r: abs(math.log(r["density"] / target)))


def family_name(family: dict) -> str:
    return json.dumps(family, sort_keys=True)


def _family_kw(family: dict, lam: float) -> dict:
    return {**family, "lam": lam * 100.0 / family.get("mask_lr", 100.0)}


def tune(args) -> None:
    root = Path(args.out) / "tune"
    if args.second_pass:
        best = json.loads((root / "choice.json").read_text())["family"]
        families = [{**best, **v} for v in VARIATIONS]
    else:
        families = FAMILIES
    lams = LAMS[1:2] if args.quick else LAMS
    families = families[:1] if args.quick else families
    jobs = [] if args.second_pass else [("imp", {}, 0, "val", str(root), IMP_ROUNDS),
                                        ("random", {}, 0, "val", str(root), IMP_ROUNDS)]
    jobs += [("concave", _family_kw(f, lam), 0, "val", str(root), CONCAVE_ROUNDS) for f in families for lam in lams]
    t0 = time.perf_counter()
    results = _run_all(jobs, args.jobs)
    print(f"validation split (400 images), seed 0, {COMMON['epochs']} epochs per round; "
          f"{time.perf_counter() - t0:.0f} s")
    for (method, kw, *_), rows in zip(jobs, results):
        if method != "concave":
            print(f"{method:<8}" + "  ".join(f"{t:.0%}: {nearest(rows, t)['test_acc']:.4f} "
                                             f"(at {nearest(rows, t)['density']:.3f})" for t in TARGETS))
    scored = []
    for f in families:
        cands = []
        for (method, kw, *_), rows in zip(jobs, results):
            if method == "concave" and all(kw.get(k) == v for k, v in f.items()):
                cands += [(r["density"], r["test_acc"], kw["lam"], r["round"]) for r in rows[1:]]
        picks = {}
        for t in TARGETS:
            near = [c for c in cands if t / BAND <= c[0] <= t * BAND]
            if near:
                d, acc, lam, r = max(near, key=lambda c: c[1])
                picks[t] = {"density": d, "val_acc": acc, "lam": lam, "rounds": r}
        score = np.mean([p["val_acc"] for p in picks.values()]) if len(picks) == len(TARGETS) else -1.0
        scored.append((score, f, picks, sorted(cands)))
    scored.sort(key=lambda s: -s[0])
    for score, f, picks, cands in scored:
        print(f"\nconcave {family_name(f)}: score {score:.4f}")
        for t, p in picks.items():
            print(f"  {t:.0%}: val acc {p['val_acc']:.4f} at density {p['density']:.4f} (λ={p['lam']:.3g}, "
                  f"{p['rounds']} round(s))")
        print("  all (density, val acc, λ, round): " + ", ".join(f"({d:.3f}, {a:.3f}, {lam:.2g}, {r})"
                                                             for d, a, lam, r in cands))
    previous = json.loads((root / "choice.json").read_text()) if (root / "choice.json").exists() else None
    best_score, best_family, best_picks, _ = scored[0]
    if best_score > 0 and (previous is None or best_score > previous["score"]):
        choice = {"family": best_family, "score": best_score,
                  "picks": {str(t): best_picks[t] for t in TARGETS}}
        (root / "choice.json").write_text(json.dumps(choice, indent=2) + "\n")
        print(f"\nchoice written to {root / 'choice.json'}")


def table(args) -> None:
    choice_path = Path(args.choice or Path(args.out) / "tune" / "choice.json")
    family = json.loads(choice_path.read_text())["family"]
    out = str(Path(args.out) / "test")
    seeds = [0] if args.quick else [0, 1, 2]
    lams = LAMS[1:2] if args.quick else LAMS
    jobs = [(m, {}, s, "test", out, IMP_ROUNDS) for m in ("imp", "random") for s in seeds]
    jobs += [("concave", _family_kw(family, lam), s, "test", out, CONCAVE_ROUNDS) for lam in lams for s in seeds]
    t0 = time.perf_counter()
    results = _run_all(jobs, args.jobs)
    by_seed: dict[tuple[str, int], list[dict]] = {}
    for (method, kw, seed, *_), rows in zip(jobs, results):
        by_seed.setdefault((method, seed), []).extend(
            rows if method != "concave" else [{**r, "lam": kw["lam"]} for r in rows[1:]])
    dense = [by_seed[("imp", s)][0]["test_acc"] for s in seeds]
    print(f"mnist5k (4,000 train / 1,000 test) / LeNet-300-100, {COMMON['epochs']} epochs per round, SGD lr "
          f"{COMMON['lr']} momentum {COMMON['momentum']}, batch {COMMON['batch_size']}, seeds {seeds}; "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"concave: {json.dumps(family)} (chosen on the validation split, {choice_path}); per seed and target "
          f"the ticket of density nearest the target among λ in {list(lams)} x rounds 1-{CONCAVE_ROUNDS}")
    print(f"dense: test acc {np.mean(dense):.4f} ± {np.std(dense):.4f}\n")
    head = "".join(f"{m + ' density':>20}{m + ' test acc':>20}" for m in ("imp", "concave", "random"))
    print(f"{'target':<8}{head}")
    picks = []
    for t in TARGETS:
        cells = ""
        for m in ("imp", "concave", "random"):
            if m == "concave":
                picked = [min(by_seed[(m, s)], key=lambda r: abs(math.log(r["density"] / t))) for s in seeds]
                picks.append((t, [(p["lam"], p["round"]) for p in picked]))
            else:
                picked = [nearest(by_seed[(m, s)], t) for s in seeds]
            d, a = [p["density"] for p in picked], [p["test_acc"] for p in picked]
            cells += f"{np.mean(d):>11.4f} ± {np.std(d):.4f}{np.mean(a):>11.4f} ± {np.std(a):.4f}"
        print(f"{t:<8.0%}{cells}")
    print("\nconcave tickets (λ, round) per seed: " + "; ".join(
        f"{t:.0%}: " + ", ".join(f"({lam:.2g}, {r})" for lam, r in p) for t, p in picks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["tune", "table"])
    parser.add_argument("--out", default="runs/exp_mnist5k", help="where the runs are kept (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one torch thread each")
    parser.add_argument("--quick", action="store_true", help="one setting / one seed (a smoke test)")
    parser.add_argument("--second-pass", action="store_true",
                        help="tune: vary α, mask init and search length around the current choice")
    parser.add_argument("--choice", metavar="JSON", help="table: the picks file (default: OUT/tune/choice.json)")
    args = parser.parse_args(argv)
    tune(args) if args.stage == "tune" else table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``lottery-lab compare``: every method (or ``--methods``) at ≈20/10/5/2% density, mean ± std over seeds.

Prints the table (or ``--json``), writes it as CSV and the accuracy-vs-density plot as PNG (the full
accuracy range and a zoom on the methods near the dense network) beside the runs
(``OUT_DIR/compare-DATA-MODEL[-quick].{csv,png}`` unless ``--plot``/``--csv`` say otherwise).
Stored runs in ``--out-dir`` are reused, so a second call trains nothing. See :mod:`lottery_lab.compare`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from lottery_lab.cli import check_output_dir, check_output_file, plot_suffixes, positive_int
from lottery_lab.cli.options import (add_dataclass_options, add_json, add_out_dir, comma_list, config_fields,
                                     json_object)

#: the config fields compare sets itself (per method and seed, or with options of its own); every other
#: LotteryConfig field is an option, generated from the dataclass as ``run``'s are
OWN_FIELDS = ("method", "method_kw", "rounds", "seed", "out_dir", "progress", "epochs", "data", "model")


def _methods(text: str) -> list[str]:
    from lottery_lab import methods

    chosen = comma_list(str, "methods")(text)
    unknown = [m for m in chosen if m not in methods.names()]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown)}; "
                                         f"registered methods: {', '.join(methods.names())}")
    return chosen


def _targets(text: str) -> list[float]:
    values = comma_list(float, "targets")(text)
    bad = [v for v in values if not 0 < v < 1]
    if bad:
        raise argparse.ArgumentTypeError(f"density targets must lie in the open interval (0, 1), got {bad}")
    return values


def register(subparsers) -> None:
    """Add the ``compare`` subcommand."""
    from lottery_lab._choices import QUICK, SEEDS, TARGETS  # torch-free

    p = subparsers.add_parser(
        "compare", help="every method at the same densities, mean ± std over seeds (reuses stored runs)",
        description="Play (or reuse) every registered method's runs on one dataset/model pair and report test "
                    "accuracy at ≈20/10/5/2% density, mean ± std over seeds. Each method reaches a density its "
                    "own way (its Method.recipes; lottery_lab.compare.RECIPES); rounds land in the bin of the nearest target and "
                    "the table shows the measured density.")
    p.add_argument("--methods", type=_methods, default=None, help="comma-separated method names (default: all)")
    p.add_argument("--data", default="mnist5k", help="dataset (default: %(default)s)")
    p.add_argument("--model", default="mlp", help="model (default: %(default)s)")
    p.add_argument("--seeds", type=comma_list(int, "seeds"), default=None,
                   help=f"comma-separated seeds (default: {','.join(map(str, SEEDS))})")
    p.add_argument("--targets", type=_targets, default=None,
                   help=f"comma-separated target densities in (0, 1) (default: {','.join(map(str, TARGETS))})")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs per round (default: 10)")
    p.add_argument("--method-kw", type=json_object("method-kw"), default=None,
                   help='JSON: fixed arguments per method, e.g. \'{"rvsm": {"lam": 0.001}}\'')
    add_out_dir(p, "runs", "where runs are stored and reused (default: %(default)s)")
    p.add_argument("--plot", metavar="PNG", help="where to write the plot")
    p.add_argument("--csv", metavar="CSV", help="where to write the table")
    p.add_argument("--quick", action="store_true",
                   help=f"reduced setting: targets {QUICK['targets']}, seeds {QUICK['seeds']}, "
                        f"{QUICK['epochs']} epochs (explicit options win)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs the comparison would play (their configs and run folders) and exit: "
                        "trains nothing, writes nothing")
    from lottery_lab.cli.sweep import add_sweep_options

    add_sweep_options(p)  # --jobs, --scheduler, --threads
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json(p)
    add_dataclass_options(p.add_argument_group("config fields of every run (as for lottery-lab run)"),
                          _config_cls(), exclude=OWN_FIELDS)
    p.set_defaults(func=_compare)


def _config_cls():
    from lottery_lab.config import LotteryConfig  # torch-free

    return LotteryConfig


def _compare(args) -> int:
    check_output_dir(args.out_dir, "--out-dir")
    check_output_file(args.plot, "--plot", plot_suffixes())
    check_output_file(args.csv, "--csv", ("csv",))
    from lottery_lab.cli.sweep import executor_from, warm_workers

    warm_workers(args)  # the workers' imports overlap this process's
    from lottery_lab import compare as compare_lib

    config = config_fields(args, _config_cls(), exclude=OWN_FIELDS)
    chosen = dict(methods=args.methods, data=args.data, model=args.model, targets=args.targets, seeds=args.seeds,
                  epochs=args.epochs, quick=args.quick, out_dir=args.out_dir, method_kw=args.method_kw, **config)
    if args.dry_run:
        return _dry_run(args, *compare_lib.plan(**chosen))
    with executor_from(args) as (jobs, executor, threads):
        result = compare_lib.compare(**chosen, progress=not args.no_progress, jobs=jobs, executor=executor,
                                     threads=threads)
    stem = f"compare-{args.data}-{args.model}{'-quick' if args.quick else ''}"
    folder = Path(args.out_dir)
    plot = Path(args.plot) if args.plot else folder / f"{stem}.png"
    table = Path(args.csv) if args.csv else folder / f"{stem}.csv"
    _save_plot(result, plot)
    _save_csv(result, table)
    if args.json:
        print(json.dumps({**result.to_dict(), "plot": str(plot), "csv": str(table)}, indent=2))
        return 0
    print(result.table())
    trained = sum(r["trained"] for r in result.runs)
    print(f"\n{result.wall_s:.1f} s; {len(result.runs)} runs ({trained} trained, {len(result.runs) - trained} "
          f"reused from {folder}); dense trainings: {result.trainings.get('dense_trainings', 0)}; "
          f"table: {table}; plot: {plot}", file=sys.stdout)
    return 0


def _dry_run(args, grid, settings) -> int:
    """Print the planned runs (``--json``: as JSON with every config field) and return 0."""
    from lottery_lab.lottery import run_dir

    planned = [{"method": e.config.method, "seed": e.config.seed, "target": e.target, "recipe": e.recipe.describe(),
                "run_dir": None if run_dir(e.config) is None else str(run_dir(e.config)),
                "config": e.config.to_dict()} for e in grid]
    if args.json:
        print(json.dumps({"settings": settings, "runs": planned}, indent=2))
        return 0
    for p in planned:
        target = "rounds" if p["target"] is None else f"{p['target']:.0%}"
        print(f"{p['method']:<16}seed {p['seed']:<4}{target:>7}  {p['recipe']}  {p['run_dir']}")
    print(f"\n{len(planned)} runs planned (first rounds; rounds recipes play more as needed); nothing trained")
    return 0


def _save_plot(result, path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing left open

    fig = Figure(figsize=(14, 4.8))
    full, zoom = fig.subplots(1, 2)
    result.plot(ax=full)
    result.plot(ax=zoom, zoom=True, legend=False)
    fig.tight_layout()
    from lottery_lab._files import save_figure

    save_figure(fig, path, dpi=120)


def _save_csv(result, path: Path) -> None:
    """The aggregated table as CSV, written atomically (a reader never sees half a file)."""
    from lottery_lab._files import atomic_write

    keys = ["method", "target", "density_mean", "density_std", "test_acc_mean", "test_acc_std", "n", "seeds"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(keys)
    if result.dense is not None:
        d = result.dense
        w.writerow(["dense", 1.0, 1.0, 0.0, d["test_acc_mean"], d["test_acc_std"], d["n"],
                    " ".join(map(str, d["seeds"]))])
    for r in result.rows:
        w.writerow([*(r[k] for k in keys[:-1]), " ".join(map(str, r["seeds"]))])
    atomic_write(path, buf.getvalue().encode())

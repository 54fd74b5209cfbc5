"""``lottery-lab compare``: every method (or ``--methods``) at ≈20/10/5/2% density, mean ± std over seeds.

Prints the table (or ``--json``), writes it as CSV and the accuracy-vs-density plot as PNG (the full
accuracy range and a zoom on the methods near the dense network) beside the runs
(``OUT_DIR/compare-DATA-MODEL[-quick].{csv,png}`` unless ``--plot``/``--csv`` say otherwise).
Stored runs in ``--out-dir`` are reused, so a second call trains nothing. See :mod:`lottery_lab.compare`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from lottery_lab.cli import check_output_dir, check_output_file, plot_suffixes, positive_int


def _list(kind, name: str):
    def parse(text: str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"--{name} must list at least one value, got {text!r}")
        try:
            return [kind(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} takes a comma-separated list of {kind.__name__}, "
                                             f"got {text!r}") from None
    parse.__name__ = f"{kind.__name__} list"
    return parse


def _methods(text: str) -> list[str]:
    from lottery_lab import methods

    chosen = _list(str, "methods")(text)
    unknown = [m for m in chosen if m not in methods.names()]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown)}; "
                                         f"registered methods: {', '.join(methods.names())}")
    return chosen


def _targets(text: str) -> list[float]:
    values = _list(float, "targets")(text)
    bad = [v for v in values if not 0 < v < 1]
    if bad:
        raise argparse.ArgumentTypeError(f"density targets must lie in the open interval (0, 1), got {bad}")
    return values


def _json_object(name: str):
    def parse(text: str) -> dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f"--{name} takes a JSON object, got {text!r}")
        return value
    parse.__name__ = "JSON object"
    return parse


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
    p.add_argument("--seeds", type=_list(int, "seeds"), default=None,
                   help=f"comma-separated seeds (default: {','.join(map(str, SEEDS))})")
    p.add_argument("--targets", type=_targets, default=None,
                   help=f"comma-separated target densities in (0, 1) (default: {','.join(map(str, TARGETS))})")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs per round (default: 10)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: LotteryConfig's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: LotteryConfig's)")
    p.add_argument("--data-kw", type=_json_object("data-kw"), default=None, help="JSON: keyword arguments of data.get")
    p.add_argument("--method-kw", type=_json_object("method-kw"), default=None,
                   help='JSON: fixed arguments per method, e.g. \'{"rvsm": {"lam": 0.001}}\'')
    p.add_argument("--device", default="cpu", help="device (default: %(default)s)")
    p.add_argument("--out-dir", default="runs", help="where runs are stored and reused (default: %(default)s)")
    p.add_argument("--plot", metavar="PNG", help="where to write the plot")
    p.add_argument("--csv", metavar="CSV", help="where to write the table")
    p.add_argument("--quick", action="store_true",
                   help=f"reduced setting: targets {QUICK['targets']}, seeds {QUICK['seeds']}, "
                        f"{QUICK['epochs']} epochs (explicit options win)")
    from lottery_lab.cli.sweep import add_sweep_options

    add_sweep_options(p)  # --jobs, --scheduler, --threads
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(func=_compare, _parser=p)


def _compare(args) -> int:
    from lottery_lab.compare import compare

    try:
        check_output_dir(args.out_dir, "--out-dir")
        check_output_file(args.plot, "--plot", plot_suffixes())
        check_output_file(args.csv, "--csv", ("csv",))
    except ValueError as exc:
        args._parser.error(str(exc))
    from lottery_lab.cli.sweep import executor_from

    config = {k: v for k, v in (("lr", args.lr), ("batch_size", args.batch_size), ("data_kw", args.data_kw))
              if v is not None}
    try:
        with executor_from(args) as (jobs, executor, threads):
            result = compare(args.methods, data=args.data, model=args.model, targets=args.targets, seeds=args.seeds,
                             epochs=args.epochs, quick=args.quick, out_dir=args.out_dir, method_kw=args.method_kw,
                             progress=not args.no_progress, device=args.device, jobs=jobs, executor=executor,
                             threads=threads, **config)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        args._parser.error(str(exc))  # exits with status 2 and the message
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
    keys = ["method", "target", "density_mean", "density_std", "test_acc_mean", "test_acc_std", "n", "seeds"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys)
        if result.dense is not None:
            d = result.dense
            w.writerow(["dense", 1.0, 1.0, 0.0, d["test_acc_mean"], d["test_acc_std"], d["n"],
                        " ".join(map(str, d["seeds"]))])
        for r in result.rows:
            w.writerow([*(r[k] for k in keys[:-1]), " ".join(map(str, r["seeds"]))])

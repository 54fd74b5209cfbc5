"""``lottery-lab sweep GRID.toml`` and compare's ``--jobs``/``--scheduler``/``--threads`` (no torch at parse time).

A grid file (TOML, read with ``tomllib``)::

    [base]                      # LotteryConfig fields of every run
    data = "digits"
    model = "mlp"
    epochs = 2
    rounds = 2

    [[methods]]                 # the methods, each with its method_kw (optional)
    name = "imp"
    method_kw = { prune_fraction = 0.5 }

    [[methods]]
    name = "random"

    [cross]                     # any config field: a list of values, crossed with everything else
    seed = [0, 1]
    lr = [0.1, 0.05]

One run per method × each combination of ``[cross]``, in that order.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import sys
from pathlib import Path

from lottery_lab.cli import positive_int
from lottery_lab.cli.options import add_json

__all__ = ["add_sweep_options", "register", "executor_from", "load_grid"]


def _address(text: str) -> str:
    if "://" not in text:
        raise argparse.ArgumentTypeError(f"takes a Dask scheduler address such as tcp://HOST:8786, got {text!r}")
    return text


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """``--jobs N``, ``--scheduler ADDRESS``, ``--threads K`` (see :func:`lottery_lab.sweep.run`)."""
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="local worker processes (default: %(default)s: in this process)")
    parser.add_argument("--scheduler", type=_address, default=None, metavar="ADDRESS",
                        help="a Dask scheduler (tcp://HOST:PORT): run on its workers (out-dir on a shared "
                             "filesystem); overrides --jobs")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads per run (default: 1, in this process, on every worker and on "
                             "Dask workers; keep jobs x threads <= cores)")


def warm_workers(args) -> None:
    """With ``--jobs`` > 1 on this machine, start the workers' fork server now: it imports torch and
    lottery_lab while this process imports and plans (see :func:`lottery_lab.sweep.core.warm_up`)."""
    if args.scheduler is None and args.jobs > 1 and not getattr(args, "dry_run", False):
        from lottery_lab.sweep.core import warm_up  # torch-free

        warm_up()


@contextlib.contextmanager
def executor_from(args):
    """``(jobs, executor, threads)`` from the parsed options; a Dask ``Client`` while the block runs
    (``threads`` None: :func:`lottery_lab.sweep.run`'s default, one torch thread per run)."""
    threads = args.threads
    if args.scheduler is None:
        yield args.jobs, None, threads
        return
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs Dask: pip install 'lottery-lab[cluster]'") from None
    try:
        client = Client(args.scheduler, timeout="10s")
    except OSError as exc:
        raise ValueError(f"--scheduler {args.scheduler}: cannot connect ({exc})") from None
    with client:
        yield 1, client, threads


# ------------------------------------------------------------------------------------- the grid

def load_grid(path: str | Path, out_dir: str | None = None) -> list:
    """The :class:`~lottery_lab.lottery.LotteryConfig`\\ s of a grid file (see the module docstring)."""
    import tomllib

    from lottery_lab.lottery import LotteryConfig

    path = Path(path)
    try:
        grid = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"GRID={str(path)!r}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"GRID={str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(grid) - {"base", "methods", "cross"})
    if unknown:
        raise ValueError(f"GRID={str(path)!r} has unknown table(s) {', '.join(unknown)}; allowed: base, methods, cross")
    base = dict(grid.get("base", {}))
    if out_dir is not None:
        base["out_dir"] = out_dir
    methods = grid.get("methods") or [{"name": base.pop("method", "imp"), "method_kw": base.pop("method_kw", {})}]
    if not isinstance(methods, list) or not all(isinstance(m, dict) and "name" in m for m in methods):
        raise ValueError(f"GRID={str(path)!r}: [[methods]] entries must each have a name")
    cross = grid.get("cross", {})
    bad = [k for k, v in cross.items() if not isinstance(v, list) or not v]
    if bad:
        raise ValueError(f"GRID={str(path)!r}: [cross] {bad[0]} must be a non-empty list, got {cross[bad[0]]!r}")
    for k in ("method", "method_kw"):
        if k in cross:
            raise ValueError(f"GRID={str(path)!r}: cross methods with [[methods]], not [cross] {k}")
    keys = list(cross)
    configs = []
    for m in methods:
        stray = sorted(set(m) - {"name", "method_kw"})
        if stray:
            raise ValueError(f"GRID={str(path)!r}: [[methods]] {m['name']} has unknown key(s) {', '.join(stray)}")
        for values in itertools.product(*(cross[k] for k in keys)):
            fields = {**base, "method": m["name"], "method_kw": dict(m.get("method_kw", {})), **dict(zip(keys, values))}
            try:
                configs.append(LotteryConfig.from_dict(fields))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"GRID={str(path)!r}: {exc}") from None
    return configs, keys


def summary(configs, results, keys) -> list[dict]:
    """One line per run: method, method_kw, the crossed fields, last round's density and accuracy."""
    out = []
    for c, res in zip(configs, results):
        last = res.rows[-1]
        out.append({"method": c.method, "method_kw": json.dumps(c.method_kw, sort_keys=True),
                    **{k: getattr(c, k) for k in keys}, "rounds": len(res.rows) - 1,
                    "density": last["density"], "test_acc": last["test_acc"], "dense_acc": res.rows[0]["test_acc"],
                    "run_dir": str(res.run_dir)})
    return out


def table(lines: list[dict]) -> str:
    if not lines:
        return "(no runs)"
    cols = [k for k in lines[0] if k != "run_dir"]
    fmt = {"density": lambda v: f"{v:.2%}", "test_acc": lambda v: f"{v:.4f}", "dense_acc": lambda v: f"{v:.4f}"}
    cells = [[fmt.get(k, str)(line[k]) for k in cols] for line in lines]
    width = [max(len(k), *(len(r[i]) for r in cells)) for i, k in enumerate(cols)]
    rows = ["  ".join(k.ljust(w) for k, w in zip(cols, width))]
    rows += ["  ".join(v.ljust(w) for v, w in zip(r, width)) for r in cells]
    return "\n".join(rows)


def register(subparsers) -> None:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser("sweep", help="play a grid of runs from a TOML file (in parallel; dense round once)",
                              description=__doc__.split("\n\n")[0] + " See lottery_lab.cli.sweep for the grid format.",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grid", metavar="GRID.toml", help="the grid file")
    p.add_argument("--out-dir", default=None, help="where runs are stored and reused (default: the grid's, else runs)")
    p.add_argument("--csv", metavar="CSV", default=None, help="where to write the table (default: OUT_DIR/sweep-GRID.csv)")
    add_json(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_sweep_options(p)
    p.set_defaults(func=_sweep)


def _sweep(args) -> int:
    from lottery_lab import sweep
    from lottery_lab._files import atomic_write

    configs, keys = load_grid(args.grid, args.out_dir)  # bad input raises: lottery_lab.cli.main answers
    if not configs:
        raise ValueError(f"GRID={args.grid!r} holds no runs")
    warm_workers(args)
    try:
        with executor_from(args) as (jobs, executor, threads):
            stats = sweep.Stats()
            results = sweep.run(configs, jobs=jobs, executor=executor, threads=threads,
                                progress=not args.no_progress, stats=stats)
    except sweep.SweepError as exc:
        print(f"lottery-lab sweep: {exc}", file=sys.stderr)
        return 1
    lines = summary(configs, results, keys)
    out_dir = Path(configs[0].out_dir or "runs")
    path = Path(args.csv) if args.csv else out_dir / f"sweep-{Path(args.grid).stem}.csv"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(lines[0]))
    w.writeheader()
    w.writerows(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue().encode())
    if args.json:
        print(json.dumps({**stats.to_dict(), "runs": lines, "csv": str(path)}, indent=2))
    else:
        print(table(lines))
        print(f"\n{stats.runs} runs ({stats.runs_trained} trained); dense trainings: {stats.dense_trainings}; "
              f"table: {path}")
    return 0

"""``lottery-lab convex``: the MNIST sanity check of the convex mask lab, as a table and figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lottery_lab.cli.options import add_json, add_out_dir

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convex`` subcommand."""
    p = subparsers.add_parser(
        "convex",
        help="mask-log vs mask-l1 vs weight-l1 on an MNIST digit pair (convex lab)",
        description="On two MNIST digits, fit a dense logistic regression θ, then find sparse masks "
                    "for it (log and l1 penalties, projected gradient over a λ path) and compare with "
                    "l1 on the weights (proximal gradient and subgradient descent): test accuracy "
                    "against the fraction of weights kept, and the objective traces.",
    )
    p.add_argument("--pair", nargs=2, type=int, default=[3, 8], metavar=("A", "B"),
                   help="the two digits, 0-9 and different; B is the positive class (default: 3 8)")
    add_out_dir(p, None, "folder for the figures and results.json (default: lottery_lab_out/convex-A-B)")
    add_json(p)
    p.add_argument("--quick", action="store_true", help="fewer λ values and iterations (a smoke test)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the experiment, write the figures and results.json, print the results; the exit code.

    Figures are drawn on ``matplotlib.figure.Figure()`` (no pyplot, no backend to choose, nothing left
    open) and every file is written atomically. Bad input raises; :func:`lottery_lab.cli.main` answers.
    """
    from matplotlib.figure import Figure

    from lottery_lab._files import atomic_write, save_figure
    from lottery_lab.cli import check_output_dir
    from lottery_lab.convex.experiments import mnist_experiment, summary_table
    from lottery_lab.plots.convex import accuracy_figure, objective_traces

    a, b = args.pair
    out = Path(args.out_dir) if args.out_dir is not None else Path("lottery_lab_out") / f"convex-{a}-{b}"
    check_output_dir(out, "--out-dir")
    exp = mnist_experiment(a, b, quick=args.quick, seed=args.seed, progress=True)
    figures = {"accuracy_vs_density.png": accuracy_figure(exp, ax=Figure(figsize=(6.0, 4.0),
                                                                          layout="constrained").add_subplot()),
               "objective_traces.png": objective_traces(exp, fig=Figure())}
    for name, fig in figures.items():
        save_figure(fig, out / name, dpi=120)
    summary = {**exp.to_json(), "figures": [str(out / name) for name in figures]}
    atomic_write(out / "results.json", json.dumps(summary, indent=2).encode())
    if args.json:
        print(json.dumps(summary))
    else:
        print(summary_table(exp))
        print(f"figures and results.json written to {out}/")
    return 0

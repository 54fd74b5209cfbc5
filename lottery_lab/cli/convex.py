"""``lottery-lab convex``: the MNIST sanity check of the convex mask lab, as a table and figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the figures and results.json (default: lottery_lab_out/convex-A-B)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout instead of the table")
    p.add_argument("--quick", action="store_true", help="fewer λ values and iterations (a smoke test)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the experiment, write the figures, print the results; the exit code (2 on bad input)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lottery_lab.cli import check_output_dir
    from lottery_lab.convex.experiments import mnist_experiment, summary_table
    from lottery_lab.plots.convex import accuracy_vs_density, objective_traces
    from lottery_lab._files import save_figure

    a, b = args.pair
    out = args.out if args.out is not None else Path("lottery_lab_out") / f"convex-{a}-{b}"
    try:
        check_output_dir(out, "--out")
        exp = mnist_experiment(a, b, quick=args.quick, seed=args.seed, progress=True)
    except ValueError as err:
        print(f"lottery-lab convex: error: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    figures = {"accuracy_vs_density.png": accuracy_vs_density(exp), "objective_traces.png": objective_traces(exp)}
    for name, fig in figures.items():
        save_figure(fig, out / name, dpi=120)
        plt.close(fig)
    summary = {**exp.to_json(), "figures": [str(out / name) for name in figures]}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary))
    else:
        print(summary_table(exp))
        print(f"figures and results.json written to {out}/")
    return 0

"""``lottery-lab assignments``: build the student notebooks, tag nbgrader metadata, list the tasks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lottery_lab.cli.options import add_json

__all__ = ["register"]

#: the instructor notebooks, found beside the package in a checkout of the repository (wherever the
#: command runs from). They are not package data: they hold the solutions, and a wheel that students
#: install must not carry them.
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "notebooks" / "assignments"


def _source(given: Path | None) -> Path:
    """``--source`` if given, else :data:`DEFAULT_SOURCE`; ValueError saying what to do when it is missing."""
    if given is not None:
        return given
    if not DEFAULT_SOURCE.is_dir():
        raise ValueError(f"no instructor notebooks at {DEFAULT_SOURCE}: they live in a checkout of the repository "
                         "(notebooks/assignments/) and are not installed with the package, since they hold the "
                         "solutions; pass --source FOLDER")
    return DEFAULT_SOURCE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``assignments`` subcommand and its actions."""
    p = subparsers.add_parser(
        "assignments", help="course assignments: build student notebooks, tag nbgrader metadata, list tasks",
        description="The instructor notebooks hold solutions between '### BEGIN SOLUTION' and "
                    "'### END SOLUTION'; `build` writes the student versions (solutions replaced by "
                    "`raise NotImplementedError` stubs, outputs cleared).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    b = actions.add_parser("build", help="write the student versions of the instructor notebooks to OUT_DIR")
    b.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    b.add_argument("--source", type=Path, default=None,
                   help="folder of instructor notebooks (default: notebooks/assignments/ of the checkout "
                        "this package runs from)")
    b.set_defaults(func=_build)
    t = actions.add_parser("tag", help="write the nbgrader metadata into the instructor notebooks")
    t.add_argument("source", type=Path, nargs="?", default=None,
                   help="folder of instructor notebooks (default: notebooks/assignments/ of the checkout "
                        "this package runs from)")
    t.set_defaults(func=_tag)
    ls = actions.add_parser("list", help="the tasks the grader knows: id, points, checks, what to implement")
    ls.add_argument("--chapter", default=None, help="convex, lottery, methods or theory (default: all)")
    add_json(ls)
    ls.set_defaults(func=_list)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _build(args: argparse.Namespace) -> int:
    from lottery_lab.assignments import build
    from lottery_lab.cli import check_output_dir

    check_output_dir(args.out_dir, "OUT_DIR")
    written = build(_source(args.source), args.out_dir)
    for path in written:
        print(f"wrote {path}")
    return 0


def _tag(args: argparse.Namespace) -> int:
    from lottery_lab.assignments import tag_folder

    tagged = tag_folder(_source(args.source))
    for path, changed in tagged:
        print(f"{'tagged' if changed else 'up to date'} {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import numpy as np

    from lottery_lab.grading import tasks

    found = tasks(args.chapter)
    if args.json:
        print(json.dumps([{"id": t.id, "points": t.points, "checks": len(t.cases(np.random.default_rng(0))),
                           "signature": t.signature, "title": t.title} for t in found], indent=2))
        return 0
    width = max(len(t.id) for t in found)
    print(f"{'task':<{width}}  points  checks  what to implement")
    for t in found:
        n = len(t.cases(np.random.default_rng(0)))
        print(f"{t.id:<{width}}  {t.points:>6}  {n:>6}  {t.signature}: {t.title}")
    return 0

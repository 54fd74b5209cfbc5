"""The ``lottery-lab`` command.

Each subcommand lives in the module that owns its work and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: modules that contribute subcommands, imported only when the command line is parsed
COMMAND_MODULES = (
    "lottery_lab.convex.cli",
    "lottery_lab.lottery_cli",
    "lottery_lab.compare_cli",
    "lottery_lab.assignments_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lottery-lab",
        description="Find, check and teach winning tickets (sparse trainable subnetworks).",
    )
    from lottery_lab import __version__

    parser.add_argument("--version", action="version", version=f"lottery-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

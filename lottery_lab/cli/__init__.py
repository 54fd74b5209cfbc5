"""The ``lottery-lab`` command.

Each subcommand lives in the module that owns its work and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).

One convention for every command (the shared options are in :mod:`lottery_lab.cli.options`):
``--out-dir`` for where results go (``--out`` accepted as its alias), ``--json`` for a
machine-readable summary, ``--threads`` where torch trains, ``--device auto`` by default, files written
atomically, and one error handler: a command raises, :func:`main` answers. Errors the package raises on
purpose (bad values and kinds, files that cannot be read or written, a diverged training) end as one
line ``lottery-lab COMMAND: error: …`` on stderr and exit code 2 (``SystemExit(2)``, as argparse's
own errors), never a traceback; ``LOTTERY_LAB_TRACEBACK=1`` re-raises them for debugging.
Subcommands check where they will write (:func:`check_output_dir`, :func:`check_output_file`) before
any work.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

#: modules that contribute subcommands, imported only when the command line is parsed
COMMAND_MODULES = (
    "lottery_lab.cli.convex",
    "lottery_lab.cli.lottery",
    "lottery_lab.cli.compare",
    "lottery_lab.cli.assignments",
    "lottery_lab.cli.sweep",
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
    _own_parsers(parser)
    return parser


def _own_parsers(parser: argparse.ArgumentParser) -> None:
    """Every (sub)parser records itself as ``_parser`` in what it parses: :func:`fail` answers
    through the innermost command's parser (its name heads the message)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in action.choices.values():
                p.set_defaults(_parser=p)
                _own_parsers(p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("lottery-lab: interrupted (finished rounds are kept; rerun to resume)", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, RuntimeError, FloatingPointError) as exc:  # TrainingDiverged too
        if os.environ.get("LOTTERY_LAB_TRACEBACK"):
            raise
        fail(args, describe_error(exc, args), parser)


def fail(args: argparse.Namespace | None, message: str, parser: argparse.ArgumentParser | None = None) -> NoReturn:
    """The one way a command reports an error: ``PROG COMMAND: error: MESSAGE`` on stderr, exit code 2."""
    where = getattr(args, "_parser", None) or parser
    print(f"{where.prog if where is not None else 'lottery-lab'}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def describe_error(exc: BaseException, args: argparse.Namespace | None = None) -> str:
    """One line for an error: its message; for an OSError the reason and the path, or the output
    folder when the system gave none (a full disk reports ``[Errno 28]`` and nothing else)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename or _output_of(args)
        text = exc.strerror + (f": {where}" if where else "")
        if exc.errno == errno.ENOSPC:
            text += " (free some space and rerun: finished rounds are kept)"
        return text
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if not isinstance(exc, (OSError, RuntimeError)) else f"{type(exc).__name__}: {text}"


def _output_of(args: argparse.Namespace | None) -> str | None:
    for name in ("out_dir", "out", "plot", "csv"):
        value = getattr(args, name, None)
        if value:
            return str(value)
    return None


def check_output_dir(path: str | os.PathLike | None, option: str) -> None:
    """Raise ValueError unless ``path`` is (or can be created as) a writable folder; nothing is created."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder")
    _check_creatable(path, option)


def check_output_file(path: str | os.PathLike | None, option: str, suffixes: tuple[str, ...] = ()) -> None:
    """Raise ValueError unless a file can be written at ``path`` (its folder writable or creatable,
    not a folder itself, one of ``suffixes`` when given); nothing is created."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if suffixes and path.suffix.lower().lstrip(".") not in suffixes:
        raise ValueError(f"{option} {path}: the file type must be one of {', '.join(suffixes)}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{option} {path} is not writable")
    _check_creatable(path.parent, option)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (shared by every command)."""
    value = int(text)  # a ValueError here reads "invalid int value: 'x'"
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


positive_int.__name__ = "int"  # argparse names the type in "invalid int value" messages


def plot_suffixes() -> tuple[str, ...]:
    """The file types matplotlib can write (png, pdf, svg, …), for checking ``--plot`` up front."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def _check_creatable(folder: Path, option: str) -> None:
    """The nearest existing folder at or above ``folder`` must be a writable folder.

    Tried by creating (and at once removing) a temporary file there: permission bits do not tell
    for root, for a read-only mount or for /proc.
    """
    probe = folder.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{option} {folder}: {probe} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".lottery-lab-probe-"):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {folder}: cannot write in {probe} ({exc.strerror or exc})") from None


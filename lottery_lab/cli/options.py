"""Options every command shares, written once: ``--out-dir`` (``--out`` as its alias), ``--json``,
``--threads``, JSON and comma-separated values, and options generated from a dataclass's fields
(``run`` and ``compare`` both take :class:`~lottery_lab.config.LotteryConfig`'s fields this way).

Nothing here imports torch, cvxpy or matplotlib: building the parser stays light.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any, Callable, Iterable

from lottery_lab.cli import positive_int

__all__ = ["add_dataclass_options", "add_out_dir", "add_json", "add_threads", "json_object", "comma_list",
           "config_fields"]


def add_out_dir(parser, default: str | None, help: str) -> None:
    """``--out-dir DIR`` with ``--out`` accepted as its alias (the earlier name of demo and convex)."""
    parser.add_argument("--out-dir", "--out", dest="out_dir", metavar="OUT_DIR", default=default,
                        help=f"{help}; --out is an alias of --out-dir")


def add_json(parser) -> None:
    """``--json``: a machine-readable summary on stdout (progress and messages go to stderr)."""
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


def add_threads(parser, default: int | None = None, help: str | None = None) -> None:
    """``--threads K``: torch CPU threads of this process."""
    parser.add_argument("--threads", type=positive_int, default=default,
                        help=help or "torch CPU threads (default: torch's own setting)")


def json_object(name: str) -> Callable[[str], dict]:
    """argparse type: a JSON object (``--name`` in the message)."""
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


def comma_list(kind: type, name: str) -> Callable[[str], list]:
    """argparse type: a comma-separated list of ``kind`` with at least one item."""
    def parse(text: str) -> list:
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


# ------------------------------------------------------------------------ options from a dataclass

def add_dataclass_options(parser, cls, exclude: Iterable[str] = ()) -> None:
    """One ``--field-name`` option per dataclass field (less ``exclude``), typed from its annotation,
    help from metadata.

    Options default to ``argparse.SUPPRESS``: only what the user gives appears in the namespace.
    dict/list/tuple fields take JSON (tuples also a comma-separated list), bools take
    ``--x/--no-x``, ``Optional`` fields also accept ``none``.
    """
    hints = typing.get_type_hints(cls)
    skip = set(exclude)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, optional = _unwrap(hints[f.name])
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        help_ = f"{f.metadata.get('help', '')} (default: {json.dumps(default)})".strip()
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_.replace("%", "%%")}
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = _parser_for(kind, optional, f.name)
            kw["metavar"] = {dict: "JSON", list: "JSON", tuple: "LIST"}.get(kind, kind.__name__.upper())
        parser.add_argument("--" + f.name.replace("_", "-"), **kw)


def config_fields(args: argparse.Namespace, cls, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of ``cls`` (less ``exclude``) given on the command line (the options of
    :func:`add_dataclass_options`, which appear in ``args`` only when given)."""
    skip = set(exclude)
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.name not in skip and hasattr(args, f.name)}


def _unwrap(tp) -> tuple[type, bool]:
    """(base type, whether None is allowed) of an annotation such as ``int | None`` or ``dict``."""
    args = typing.get_args(tp)
    optional = type(None) in args
    if optional:
        tp = next(a for a in args if a is not type(None))
    origin = typing.get_origin(tp) or tp
    return (origin if isinstance(origin, type) else str), optional


def _parser_for(kind: type, optional: bool, name: str):
    def parse(text: str):
        if optional and text.lower() in ("none", "null"):
            return None
        if kind in (dict, list, tuple):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                if kind is not tuple:
                    raise argparse.ArgumentTypeError(f"--{name.replace('_', '-')} takes JSON, got {text!r}")
                value = [_number(t) for t in text.split(",") if t.strip()]
            if kind is dict and not isinstance(value, dict):
                raise argparse.ArgumentTypeError(f"--{name.replace('_', '-')} takes a JSON object, got {text!r}")
            if kind is tuple:  # a single JSON number is a one-item list: --milestones 0.5
                return tuple(value) if isinstance(value, list) else (value,)
            return value
        return kind(text)
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value" messages
    return parse


def _number(text: str) -> float | int | str:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text.strip()

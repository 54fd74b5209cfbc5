"""Every ``lottery-lab`` subcommand: ``--help`` exits 0, an unknown option exits 2 with one message;
building the parser and printing help loads none of torch, cvxpy, scipy, matplotlib (checked in a fresh interpreter)."""

import argparse
import json
import subprocess
import sys

import pytest

from lottery_lab import cli


def _commands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


COMMANDS = _commands()


def test_the_known_commands_are_there():
    assert {"convex", "demo", "run", "report", "compare", "assignments"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lottery-lab " + command)


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_option_exits_2_with_one_message(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--no-such-option-xyz"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    # one message: the unknown option, or first the missing required argument (``report RUN_DIR``)
    assert len(errors) == 1
    assert "--no-such-option-xyz" in errors[0] or "required" in errors[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [[], *([c] for c in COMMANDS)])
def test_help_loads_no_torch_cvxpy_scipy_or_matplotlib(argv):
    """Building the parser and printing any help happens in a fresh interpreter without the heavy imports."""
    code = ("import sys, json\nfrom lottery_lab import cli\n"
            f"try:\n    cli.main({argv + ['--help']!r})\nexcept SystemExit:\n    pass\n"
            "print(json.dumps([m for m in ('torch', 'cvxpy', 'scipy', 'matplotlib') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []

"""``python -m lottery_lab`` reaches the same CLI as the ``lottery-lab`` entry point."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "lottery_lab", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_help_lists_the_run_command() -> None:
    out = _run("--help")
    assert out.returncode == 0
    assert "run" in out.stdout


def test_bad_command_exits_2_without_traceback() -> None:
    out = _run("no-such-command")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr

"""The README's code runs as pasted, and its install instructions say what each platform gets.

Every ```python block of README.md is executed in a fresh namespace in a temporary folder; the deep
lottery block trains, so it runs with fewer rounds and epochs (its only edit). A comment that shows
a check's verdict (``# ✅ …``) must be the verdict the call returns.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL = (ROOT / "book" / "install.md").read_text(encoding="utf-8")


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


PYTHON = _blocks(README, "python")
#: the one edit a block gets before it runs: (a string of the block, its cheaper stand-in)
SHRINK = {"rounds=3, epochs=10": "rounds=1, epochs=1"}


def _named(block: str) -> str:
    return next(line for line in block.splitlines() if line.startswith(("from ", "import ")) and "lottery_lab" in line)


def test_the_readme_has_its_python_blocks():
    modules = [_named(b) for b in PYTHON]
    for wanted in ("lottery_lab import convex", "lottery_lab.theory", "lottery_lab.lottery", "lottery_lab.grading"):
        assert any(wanted in m for m in modules), (wanted, modules)


@pytest.mark.parametrize("block", PYTHON, ids=[_named(b).split()[1] for b in PYTHON])
def test_readme_python_block_runs_as_pasted(block, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # blocks that write (runs/, plots) write here
    source = block
    for big, small in SHRINK.items():
        source = source.replace(big, small)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(source, "README.md", "exec"), namespace)
    for line in block.splitlines():  # a verdict shown in a comment is the one the call gives
        call, _, shown = line.partition("#")
        if call.startswith("check(") and shown.strip().startswith(("✅", "❌")):
            result = eval(call, namespace)
            assert str(result) == shown.strip()
    if "theory" in _named(block):
        assert namespace["err"] >= 0 and namespace["res"].converged
    if "lottery_lab.lottery" in _named(block):
        rows = namespace["result"].rows
        assert rows[0]["density"] == 1.0 and rows[-1]["density"] < 1.0


def _install_command() -> str:
    quick = _blocks(README, "bash")[0].splitlines()[0]
    return quick.split("&&")[0].strip()


def test_install_command_is_the_ci_pin():
    """CI (.ci/run) installs torch with exactly the README's command."""
    command = _install_command()
    assert command == "pip install torch==2.13.0"
    assert f'step "pip install torch (CPU)" {command}\n' in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", ["README.md", "book/install.md"])
def test_install_says_which_build_each_platform_gets(page):
    text = " ".join((README if page == "README.md" else INSTALL).split())
    # the pin from PyPI: CUDA on Linux x86_64 (torch plus ~19 nvidia-* packages), CPU elsewhere
    assert re.search(r"Linux x86_64[^:]*: the CUDA build, torch plus about 19 NVIDIA CUDA packages", text)
    for platform in ("Linux aarch64", "macOS", "Windows"):
        assert re.search(rf"{platform}[^:]*: the CPU build", text), platform
    # the CPU-only build, as PyTorch's install selector gives it
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in text
    assert "CI's machines" in text and "CPU wheel" in text

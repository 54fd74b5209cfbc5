"""SIGKILL during a method's search (concave, l0, rvsm; with and without target_density), then resume.

The killed run resumes from its search checkpoint and must end bit-identical to an uninterrupted run:
the same mask, the same scores, the same retrained ticket. This catches a resume that does not
restore the global RNG (l0's gates are sampled from it) or the method's state.
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

SETUP = textwrap.dedent("""
    import torch
    torch.set_num_threads(1)
    from lottery_lab.lottery import LotteryConfig, play
    g = torch.Generator().manual_seed(0)
    X = torch.randn(320, 12, generator=g)
    y = (X @ torch.randn(12, 3, generator=g)).argmax(1)
    DATA = (X[:256], y[:256], X[256:], y[256:])
    def config(method, kw, out_dir):
        return LotteryConfig(method=method, method_kw={**kw, "epochs": 15}, model="mlp",
                             model_kw={"width": 0.1}, data="tiny", rounds=1, epochs=2, batch_size=32,
                             lr=0.05, seed=1, out_dir=out_dir, progress=False, checkpoint_s=0)
""")

CASES = {
    "concave": ("concave", {"lam": 1e-3}),
    "concave-target": ("concave", {"target_density": 0.5}),
    "l0": ("l0", {"lam": 0.05}),
    "l0-target": ("l0", {"target_density": 0.5}),
    "rvsm": ("rvsm", {"lam": 1e-3}),
    "rvsm-target": ("rvsm", {"target_density": 0.5}),
}


def run_here(method, kw, out_dir):
    ns: dict = {}
    exec(SETUP, ns)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return ns["play"](ns["config"](method, kw, str(out_dir)), data=ns["DATA"])
    finally:
        torch.set_num_threads(n)


def kill_during_search(method, kw, out: Path) -> Path:
    """Start the run in a subprocess and SIGKILL it right after its first search checkpoint."""
    code = SETUP + f"\nplay(config({method!r}, {kw!r}, {str(out)!r}), data=DATA)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stderr=subprocess.PIPE)
    deadline, found = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None and not found:
        found = list(out.glob("*/round_01/ckpt_search.pt.sha256"))
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert found, f"no search checkpoint appeared; stderr: {err.decode()[-2000:]}"
    return found[0].parent.parent


def stored(run: Path, name: str):
    return torch.load(run / "round_01" / name, weights_only=True)


@pytest.mark.parametrize("case", list(CASES))
def test_kill_during_search_resumes_bit_identical(case, tmp_path, caplog):
    method, kw = CASES[case]
    reference = run_here(method, kw, tmp_path / "straight").run_dir
    run = kill_during_search(method, kw, tmp_path / "killed")
    assert not (run / "round_01" / "phases.json").exists(), "the kill came too late: the search had finished"
    step = torch.load(run / "round_01" / "ckpt_search.pt", weights_only=True)["step"]
    with caplog.at_level("INFO", logger="lottery_lab"):
        result = run_here(method, kw, tmp_path / "killed")
    assert f"resuming round 1 (search) at step {step}" in caplog.text
    assert result.run_dir == run and result.run_dir.name == reference.name
    for name in ("mask.pt", "scores.pt", "weights.pt"):
        a, b = stored(run, name), stored(reference, name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), (case, name)
    straight = {k: v for k, v in runs_rows(reference)[1].items() if k != "wall_s"}
    resumed = {k: v for k, v in runs_rows(run)[1].items() if k != "wall_s"}
    assert resumed == straight
    shutil.rmtree(tmp_path)


def runs_rows(run_dir: Path) -> list[dict]:
    from lottery_lab import runs

    return runs.load(run_dir).rows

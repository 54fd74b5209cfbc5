"""The run store: checksums, atomic files, resume after SIGKILL, recovery from corrupt checkpoints."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from lottery_lab import runs
from lottery_lab.lottery import LotteryConfig, play

# Tiny data and config shared by the in-process runs and the subprocess that gets killed. Round 1
# has 30 epochs of 16 steps, so it lasts long enough to be killed after its first epoch checkpoint
# (checkpoint_s=0: a checkpoint at every epoch end, so the kill lands inside a phase).
SETUP = textwrap.dedent("""
    import torch
    torch.set_num_threads(1)
    from lottery_lab.lottery import LotteryConfig, play
    g = torch.Generator().manual_seed(0)
    X = torch.randn(640, 16, generator=g)
    y = (X @ torch.randn(16, 4, generator=g)).argmax(1)
    DATA = (X[:512], y[:512], X[512:], y[512:])
    def config(out_dir):
        return LotteryConfig(method="imp", model="mlp", model_kw={"width": 0.25}, data="tiny", rounds=2,
                             epochs=30, batch_size=32, lr=0.05, weight_decay=1e-4, schedule="cosine",
                             rewind_iter=5, seed=3, out_dir=out_dir, progress=False, checkpoint_s=0)
""")


@contextmanager
def one_thread():
    """The subprocess runs single-threaded; so do the in-process runs it is compared with."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def run_here(out_dir):
    ns: dict = {}
    exec(SETUP, ns)
    with one_thread():
        return ns["play"](ns["config"](str(out_dir)), data=ns["DATA"])


def rows_without_wall(run_dir):
    with open(Path(run_dir) / "results.csv") as f:
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(f)]


def final_weights(run_dir):
    return torch.load(Path(run_dir) / "round_02" / "weights.pt", weights_only=True)


def assert_same_run(a, b):
    assert rows_without_wall(a) == rows_without_wall(b)
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run."""
    return run_here(tmp_path_factory.mktemp("straight")).run_dir


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run SIGKILLed inside round 1, right after its first epoch checkpoint was written.

    Written means the checkpoint and its checksum file: the store writes the data, then the checksum,
    and a kill between the two leaves a checkpoint it rightly treats as corrupt (the next test).
    """
    out = tmp_path_factory.mktemp("killed")
    code = SETUP + f"\nplay(config({str(out)!r}), data=DATA)\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    ckpt = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(out.glob("imp-*/round_01/ckpt_train.pt.sha256"))
        if found:
            ckpt = found[0].with_suffix("")
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert ckpt is not None, f"no round-1 checkpoint appeared; stderr: {err.decode()[-2000:]}"
    run = ckpt.parent.parent
    assert (run / "round_00" / "metrics.json").exists()
    assert not (run / "round_01" / "metrics.json").exists(), "the kill came too late: round 1 had finished"
    return run


def test_rerun_after_sigkill_resumes_inside_the_round_and_ends_bit_identical(killed, reference, tmp_path, caplog):
    run = Path(shutil.copytree(killed, tmp_path / killed.name))
    step = torch.load(run / "round_01" / "ckpt_train.pt", weights_only=True)["step"]
    assert step > 5                                      # inside round 1, past the rewind point
    with caplog.at_level("INFO", logger="lottery_lab"):
        result = run_here(tmp_path)
    assert result.run_dir == run
    assert f"resuming round 1 (train) at step {step}" in caplog.text
    assert_same_run(run, reference)
    assert not list(run.glob("round_*/ckpt_*.pt"))       # checkpoints are gone once rounds finish


def test_corrupt_epoch_checkpoint_is_detected_and_recomputed(killed, reference, tmp_path):
    run = Path(shutil.copytree(killed, tmp_path / killed.name))
    ckpt = run / "round_01" / "ckpt_train.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF                         # one flipped byte
    ckpt.write_bytes(bytes(data))
    with pytest.warns(runs.CorruptFileWarning, match="ckpt_train.pt is corrupt"):
        run_here(tmp_path)
    assert_same_run(run, reference)


def test_truncated_finished_round_is_recomputed(reference, tmp_path):
    run = Path(shutil.copytree(reference, tmp_path / reference.name))
    weights = run / "round_01" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:100])       # truncated
    with pytest.warns(runs.CorruptFileWarning, match="weights.pt is corrupt"):
        run_here(tmp_path)
    assert_same_run(run, reference)
    assert weights.read_bytes() == (reference / "round_01" / "weights.pt").read_bytes()


def test_load_gives_back_the_result(reference):
    result = runs.load(reference)
    assert [r["round"] for r in result.rows] == [0, 1, 2]
    assert result.config.method == "imp" and result.config.seed == 3
    assert result.masks[2]["0.weight" if "0.weight" in result.masks[2] else "1.weight"].dtype == torch.bool
    assert result.rows[2]["density"] == pytest.approx(0.64, abs=0.01)
    assert result.weights(2).keys() == final_weights(reference).keys()
    with pytest.raises(IndexError):
        result.masks[3]
    with pytest.raises(FileNotFoundError, match="no config.json"):
        runs.load(reference.parent / "nowhere")


# ---------------------------------------------------------------------------------- file level

def test_verified_files_catch_corruption_and_missing_checksums(tmp_path):
    path = tmp_path / "a" / "x.pt"
    runs.save_verified(path, b"hello")
    assert runs.read_verified(path) == b"hello"
    assert (tmp_path / "a" / "x.pt.sha256").read_text().split() == [
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "x.pt"]
    path.write_bytes(b"hellO")
    with pytest.warns(runs.CorruptFileWarning):
        assert runs.read_verified(path) is None
    assert path.read_bytes() == b"hellO"                  # reading deletes nothing: a rerun recomputes it
    runs.atomic_write(path, b"no checksum")
    with pytest.warns(runs.CorruptFileWarning, match="missing or does not match"):
        assert runs.read_verified(path) is None
    assert runs.read_verified(tmp_path / "absent.pt") is None
    assert not list(tmp_path.rglob("*.tmp"))


class NotATensor:
    pass


def test_loading_is_weights_only(tmp_path):
    import io

    buf = io.BytesIO()
    torch.save({"evil": NotATensor()}, buf)
    runs.save_verified(tmp_path / "obj.pt", buf.getvalue())
    with pytest.warns(runs.CorruptFileWarning, match="torch.load failed"):
        assert runs.load_verified(tmp_path / "obj.pt") is None
    runs.save_verified(tmp_path / "ok.pt", runs._to_bytes({"w": torch.ones(2)}))
    assert torch.equal(runs.load_verified(tmp_path / "ok.pt")["w"], torch.ones(2))


def test_a_different_config_in_the_same_folder_is_refused(tmp_path):
    store = runs.RunStore(tmp_path / "imp-x")
    store.prepare({"config": {}, "hash": "x", "hashed": {"lr": 0.5}})
    store.prepare({"config": {}, "hash": "x", "hashed": {"lr": 0.5}})   # the same run: fine
    with pytest.raises(RuntimeError, match="different run"):
        store.prepare({"config": {}, "hash": "x", "hashed": {"lr": 0.7}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LotteryConfig(out_dir=str(tmp_path))

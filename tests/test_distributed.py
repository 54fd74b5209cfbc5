"""One run on two gloo processes (issue 15): the one-process run's results, folder and hash; one writer;
every method's search under DistributedDataParallel; a kill of both torchrun ranks, then a resume.

The ranks are forked from the test process (torch, lottery_lab and torch._dynamo, which DDP imports,
already loaded: seconds saved per rank) and meet through a file store, so no port is chosen here;
the resume after a kill is ``torchrun --standalone`` (it picks a free port) on the CLI.
"""

from __future__ import annotations

import csv
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from lottery_lab import distributed, methods, models
from lottery_lab.data import Batches
from lottery_lab.lottery import LotteryConfig, play
from lottery_lab.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
BASE = dict(model="mlp", data="digits", epochs=2, batch_size=64, lr=0.05, device="cpu", progress=False)
KILL_RUN = dict(method="imp", rounds=4, epochs=3, checkpoint_s=0.0)


def config(method: str, out=None, **kw) -> LotteryConfig:
    return LotteryConfig(**{**BASE, "method": method, "out_dir": None if out is None else str(out), **kw})


def _rank_main(rank: int, fn, store: str, size: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    try:
        result = fn(rank)
    finally:
        dist.destroy_process_group()
    Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))


def in_group(fn, tmp_path: Path, size: int = 2) -> list:
    """``[fn(rank) for rank in range(size)]``, each call in its own process of one gloo process group."""
    import torch._dynamo  # noqa: F401  (DDP imports it on first use; the forked ranks inherit it)
    import torch.multiprocessing as mp

    out = tmp_path / f"group-{uuid.uuid4().hex[:8]}"
    out.mkdir()
    mp.start_processes(_rank_main, args=(fn, str(out / "store"), size, str(out)), nprocs=size,
                       start_method="fork")
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(size)]


def counting_writes(fn):
    """``fn`` with every checksummed file write of this process counted: ``(fn's result, writes)``."""
    from lottery_lab import runs

    writes: list[str] = []
    original = runs.save_verified

    def save_verified(path, data):
        writes.append(str(path))
        original(path, data)

    runs.save_verified = save_verified  # in the forked rank only
    return fn(), writes


def strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: (v if k == "method" else float(v)) for k, v in row.items() if k != "wall_s"}
                for row in csv.DictReader(f)]


# ------------------------------------------------------------------------------------------- tests

def test_a_global_batch_split_over_two_ranks_trains_as_one_process(tmp_path):
    """Uneven slices (batches of 31 rows: 16 + 15, the epoch's last of 7: 4 + 3) weighted by their
    share give the one-process gradient: the weights agree with a one-process training to rounding."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(100, 8, generator=g), torch.randint(0, 3, (100,), generator=g)
    cfg = TrainConfig(epochs=3, lr=0.2, momentum=0.9, amp=False, progress=False)

    def fit(rank=None):
        torch.manual_seed(1)
        net = models.get("mlp", input_shape=(8,), num_classes=3, width=0.1)
        batches = Batches(X, y, 31, generator=torch.Generator().manual_seed(2))
        group = None if rank is None else distributed.world()
        loss = train(net, batches, cfg, generator=batches.generator, seed=3, group=group).train_loss
        return {k: v.clone() for k, v in net.state_dict().items()}, loss

    one, loss_one = fit()
    (w0, loss0), (w1, loss1) = in_group(fit, tmp_path)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the ranks hold the same network
    for k in one:
        torch.testing.assert_close(w0[k], one[k], rtol=0, atol=2e-6)
    assert loss0 == loss1 and loss0 == pytest.approx(loss_one, rel=1e-5)  # the global batches' mean loss


def test_batchnorm_under_ddp_is_each_slice_normalised_with_rank_0s_running_statistics(tmp_path):
    """A BatchNorm network (VGG-11) trained on two ranks equals, to rounding, the same training written
    out in one process: each half-batch normalised by its own statistics, the gradient the mean of the
    halves', and the running statistics those of rank 0's halves (DDP's ``broadcast_buffers``)."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 3, (64,), generator=g)
    cfg = TrainConfig(epochs=2, lr=0.05, momentum=0.9, amp=False, progress=False)

    def build():
        torch.manual_seed(1)
        return models.get("vgg11", input_shape=(1, 8, 8), num_classes=3, width=0.125)

    def fit(rank):
        net = build()
        batches = Batches(X, y, 16, generator=torch.Generator().manual_seed(2))
        train(net, batches, cfg, generator=batches.generator, seed=3, group=distributed.world())
        return {k: v.clone() for k, v in net.state_dict().items()}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks: VGG's convolutions sum in another order on more threads
    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    net.train()
    batches = Batches(X, y, 16, generator=torch.Generator().manual_seed(2))  # one order per epoch, as train's
    for _ in range(cfg.epochs):
        for xb, yb in batches:
            (x0, x1), (y0, y1) = xb.tensor_split(2), yb.tensor_split(2)
            kept = {k: b.clone() for k, b in net.named_buffers()}
            opt.zero_grad()
            (torch.nn.functional.cross_entropy(net(x1), y1) / 2).backward()
            with torch.no_grad():  # rank 1's update of the running statistics is overwritten by rank 0's
                for k, b in net.named_buffers():
                    b.copy_(kept[k])
            (torch.nn.functional.cross_entropy(net(x0), y0) / 2).backward()
            opt.step()
    torch.set_num_threads(threads)
    w0, w1 = in_group(fit, tmp_path)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(w0[k], v, rtol=1e-4, atol=1e-5)


def test_two_processes_play_the_one_process_run_and_only_rank_0_writes(tmp_path):
    """IMP and the concave mask (asked for a density: it keeps exactly that fraction) reach the
    one-process densities; the thresholded concave mask (m ≥ α) is compared in the next test, within a
    tolerance: a weight whose m lies within rounding of α can flip when the batch is summed in two halves."""
    runs = {"imp": config("imp", tmp_path / "two", rounds=2),
            "concave": config("concave", tmp_path / "two", rounds=2, method_kw={"target_density": 0.5})}
    runs = {m: c.__class__(**{**c.to_dict(), "data_kw": {"n_train": 768}}) for m, c in runs.items()}

    def both(rank):
        def play_all():
            return {m: (r.rows, r.run_dir.name) for m, r in ((m, play(c)) for m, c in runs.items())}
        return counting_writes(play_all)

    (two, writes0), (two1, writes1) = in_group(both, tmp_path)
    assert writes1 == [] and writes0  # rank 1 never wrote a file; rank 0 wrote the run
    assert two == two1  # rows (wall times from rank 0's records) and folders alike on both ranks
    for method, c in runs.items():
        one = play(c.__class__(**{**c.to_dict(), "out_dir": str(tmp_path / "one")}))
        rows, folder = two[method]
        assert folder == one.run_dir.name  # the same hash: the process count is no field of the run
        assert [r["density"] for r in rows] == [r["density"] for r in one.rows]
        for a, b in zip(rows, one.rows):
            assert abs(a["test_acc"] - b["test_acc"]) <= 0.03
        assert read_csv(tmp_path / "two" / folder / "results.csv") == strip(rows)  # each round once
    runs_there = sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith("_"))
    assert runs_there == sorted(two[m][1] for m in runs)  # one folder per run, none per rank
    assert len(list((tmp_path / "two").rglob("results.csv"))) == 2


def test_every_method_searches_under_ddp(tmp_path):
    """Each method's search (m, gates, scores, u trained under DDP) finds the one-process mask's density."""
    names = methods.names()

    def every(rank=None):
        out = {}
        for name in names:
            rows = play(config(name, data_kw={"n_train": 256}, rounds=1, epochs=1)).rows
            out[name] = (rows[-1]["density"], rows[-1]["test_acc"])
        return out

    one = every()
    two, two1 = in_group(every, tmp_path)
    assert two == two1
    for name in names:
        assert two[name][0] == pytest.approx(one[name][0], abs=1e-3), name
        assert abs(two[name][1] - one[name][1]) <= 0.03, name


def _torchrun(out: Path) -> subprocess.Popen:
    args = ["--out-dir", str(out), "--no-progress", "--model", BASE["model"], "--data", BASE["data"],
            "--batch-size", str(BASE["batch_size"]), "--lr", str(BASE["lr"]), "--device", "cpu",
            "--method", KILL_RUN["method"], "--rounds", str(KILL_RUN["rounds"]), "--epochs", str(KILL_RUN["epochs"]),
            "--checkpoint-s", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                             "-m", "lottery_lab", "run", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killed_ranks_resume_under_torchrun_to_the_same_results(tmp_path):
    """Both ranks SIGKILLed once round 1 is in results.csv; ``torchrun … -m lottery_lab run`` on the same
    config resumes (from the checkpoints and rounds rank 0 wrote) to the uninterrupted run, bit for bit."""
    import torch._dynamo  # noqa: F401
    import torch.multiprocessing as mp

    out = tmp_path / "out"
    run = config(out=out, **KILL_RUN)
    group = tmp_path / "killed"
    group.mkdir()
    ranks = mp.start_processes(_rank_main, args=(lambda rank: play(run).rows, str(group / "store"), 2, str(group)),
                               nprocs=2, start_method="fork", join=False)
    seen = None
    deadline = time.time() + 300
    while seen is None and time.time() < deadline and all(p.is_alive() for p in ranks.processes):
        found = list(out.glob("imp-*/results.csv"))
        if found and len(found[0].read_text().splitlines()) >= 3:  # header, round 0, round 1
            seen = found[0]
        time.sleep(0.01)
    for p in ranks.processes:
        os.kill(p.pid, signal.SIGKILL)
    for p in ranks.processes:
        p.join()
    assert seen is not None, "round 1 was never recorded"
    killed = read_csv(seen)
    assert len(killed) < KILL_RUN["rounds"] + 1, "the run finished before the kill"
    reference, _ = in_group(lambda rank: play(config(out=tmp_path / "ref", **KILL_RUN)).rows, tmp_path)
    again = _torchrun(out)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert stdout.count("run folder:") == 1  # rank 0 prints, rank 1 does not
    assert [p.name for p in out.iterdir() if not p.name.startswith("_")] == [seen.parent.name]
    assert read_csv(seen) == strip(reference)  # resumed = uninterrupted, bit for bit on the CPU
    assert read_csv(seen)[:len(killed)] == killed


def test_every_rank_needs_a_row_of_every_batch():
    distributed.check_batches(1617, 64, 2)  # 25 batches of 64 and one of 17
    with pytest.raises(ValueError, match=r"batch_size=1 with 2 processes"):
        distributed.check_batches(100, 1, 2)
    with pytest.raises(ValueError, match=r"batch_size=33 with 4 processes.*ends with a batch of 1"):
        distributed.check_batches(100, 33, 4)

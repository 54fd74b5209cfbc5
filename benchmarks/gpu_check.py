"""The GPU check: does lottery_lab run, resume and go fast on a device? Under 4 minutes on one GPU.

Each check runs even if an earlier one failed; a failure prints its traceback at once, the table at the
end says which failed, and the exit status is 1 if any did.

1. ``data``: CIFAR-10 written in the real binary format (``cifar-10-batches-bin/*.bin``, a class
   signal in the pixels) and read back through ``lottery_lab.data.get("cifar10")``; one image is
   checked against the normalisation formula.
2. ``imp``: an IMP round of ResNet-20 through ``play()`` (bf16 autocast on CUDA, channels_last).
3. ``concave``, ``l0``: a search round each; ``cs``: two rounds on ResNet-20 (BatchNorm; round 2 is
   the first whose masks are not all ones).
4. ``resume``: a subprocess killed right after its first epoch checkpoint, then rerun here: it must
   resume inside the round; on the CPU the results must equal an uninterrupted run's, on a GPU (cuDNN,
   bf16) they are compared, not required equal.
5. ``throughput``: images/s of dense training through ``lottery_lab.train.train`` and through a plain
   hand-written loop, same model, batch, optimiser and autocast, no augmentation, each eager and with
   ``torch.compile`` (median of 3 timed passes after a warm-up one; on the CPU under ``--tiny`` the
   numbers only show that the code runs).
6. ``syncs``: ops and host–device syncs per step of dense training and every search
   (``bench_syncs``), with model and data on the device, and on CUDA also CUDA's own detector
   (``torch.cuda.set_sync_debug_mode``) over the steps: any sync in the step fails the check.

    python benchmarks/gpu_check.py [--device auto] [--tiny] [--out DIR]

``--tiny`` shrinks everything (ResNet-20 at width 1/4, a few hundred images, no compile) so that it
runs on the CPU in seconds (CI runs it: ``tests/test_gpu_check.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lottery_lab import data as data_lib  # noqa: E402
from lottery_lab import models  # noqa: E402
from lottery_lab.lottery import LotteryConfig, play  # noqa: E402
from lottery_lab.train import Callback, TrainConfig, TrainState, autocast_dtype, select_device, train  # noqa: E402

#: sizes of the full check and of --tiny
SIZES = {
    False: dict(per_file=2000, test=2000, width=1.0, batch=128, epochs=1, steps=60, resume_epochs=4,
                compile=True, sync_batch=128),
    True: dict(per_file=32, test=32, width=0.25, batch=32, epochs=1, steps=4, resume_epochs=3,
               compile=False, sync_batch=8),
}


def write_cifar10(folder: Path, per_file: int, n_test: int, seed: int = 0) -> None:
    """Five training files and a test file of CIFAR-10 binary records: a label byte, then 3072 pixels.

    Each class shifts its images' mean colour, so a network can learn the labels a little."""
    rng = np.random.default_rng(seed)
    out = folder / "cifar-10-batches-bin"
    out.mkdir(parents=True, exist_ok=True)
    shift = rng.integers(-60, 60, size=(10, 3, 1, 1))
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        n = n_test if name.startswith("test") else per_file
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        pixels = np.clip(rng.integers(0, 256, size=(n, 3, 32, 32)) // 2 + 64 + shift[labels], 0, 255)
        records = np.concatenate([labels[:, None], pixels.astype(np.uint8).reshape(n, -1)], axis=1)
        records.astype(np.uint8).tofile(out / name)


def check_data(root: Path, size: dict) -> str:
    write_cifar10(root, size["per_file"], size["test"])
    ds = data_lib.get("cifar10", root=root)
    assert ds.X_train.shape == (5 * size["per_file"], 3, 32, 32), ds.X_train.shape
    assert ds.X_test.shape == (size["test"], 3, 32, 32) and ds.num_classes == 10
    raw = np.fromfile(root / "cifar-10-batches-bin" / "data_batch_1.bin", dtype=np.uint8)[:3073]
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in data_lib.NORMALIZATION["cifar10"])
    expected = (torch.from_numpy(raw[1:].reshape(3, 32, 32).astype(np.float32)) / 255 - mean) / std
    torch.testing.assert_close(ds.X_train[0], expected)
    assert int(ds.y_train[0]) == raw[0] and ds.augment
    return f"{len(ds.y_train)} train / {len(ds.y_test)} test images read back"


def config(method: str, size: dict, device: str, rounds: int = 1, out_dir: str | None = None,
           **kw) -> LotteryConfig:
    return LotteryConfig(method=method, model="resnet20", model_kw={"width": size["width"]}, data="cifar10",
                         rounds=rounds, epochs=kw.pop("epochs", size["epochs"]), batch_size=size["batch"],
                         lr=0.05, device=device, out_dir=out_dir, progress=False, **kw)


def check_play(method: str, size: dict, device: str, out: Path, rounds: int = 1, **method_kw) -> str:
    res = play(config(method, size, device, rounds, str(out / method), method_kw=method_kw))
    assert len(res.rows) == rounds + 1
    for row in res.rows:
        assert np.isfinite(row["train_loss"]) and 0 <= row["test_acc"] <= 1, row
    weights = torch.load(Path(res.run_dir) / f"round_{rounds:02d}" / "weights.pt", weights_only=True)
    conv = weights["conv.weight"] if "conv.weight" in weights else next(v for v in weights.values() if v.ndim == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last), "the model did not train in channels_last"
    dens = ", ".join(f"{row['density']:.2f}:{row['test_acc']:.3f}" for row in res.rows)
    return f"density:acc {dens}"


RESUME_CODE = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from lottery_lab.lottery import LotteryConfig, play
    play(LotteryConfig(**eval(sys.argv[1])))
""")


def check_resume(size: dict, device: str, out: Path) -> str:
    # checkpoint_s=0: a checkpoint at every epoch end, so the kill lands inside the phase
    cfg = config("imp", size, device, 1, str(out / "killed"), epochs=size["resume_epochs"], checkpoint_s=0)
    fields = {f: getattr(cfg, f) for f in ("method", "model", "model_kw", "data", "rounds", "epochs",
                                            "batch_size", "lr", "device", "out_dir", "progress", "checkpoint_s")}
    proc = subprocess.Popen([sys.executable, "-c", RESUME_CODE, repr(fields)], stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline, ckpt = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        found = [*(out / "killed").glob("imp-*/round_00/ckpt_train.pt.sha256"),  # round 0 trains in the
                 *(out / "killed").glob("_dense/*/round_00/ckpt_train.pt.sha256")]  # shared dense folder
        if found:
            ckpt = found[0].with_suffix("")
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert ckpt is not None, f"no epoch checkpoint appeared; the subprocess said: {err.decode()[-3000:]}"
    assert not (ckpt.parent / "metrics.json").exists(), "the kill came too late: round 0 had finished"
    step = torch.load(ckpt, weights_only=True, map_location="cpu")["step"]
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lottery_lab")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        resumed = play(cfg)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert any(f"resuming round 0 (train) at step {step}" in r for r in records), records
    straight = play(config("imp", size, device, 1, str(out / "straight"), epochs=size["resume_epochs"],
                           checkpoint_s=0))
    diffs = [abs(a["test_acc"] - b["test_acc"]) for a, b in zip(resumed.rows, straight.rows)]
    if select_device(device).type == "cpu":
        keys = ("round", "density", "test_acc", "train_loss")
        assert [[r[k] for k in keys] for r in resumed.rows] == [[r[k] for k in keys] for r in straight.rows]
        return f"killed at step {step}, resumed; identical to an uninterrupted run"
    return f"killed at step {step}, resumed; |test acc - uninterrupted| max {max(diffs):.4f}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_rate(run: Callable[[], object], size: dict, device: torch.device, repeats: int = 3) -> float:
    """Images/s of ``run`` (``steps`` batches): one warm-up (and compile) call, the median of ``repeats``."""
    run()
    rates = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        run()
        _sync(device)
        rates.append(size["steps"] * size["batch"] / (time.perf_counter() - t0))
    return float(np.median(rates))


def _model(size: dict, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    model = models.get("resnet20", input_shape=(3, 32, 32), num_classes=10, width=size["width"])
    return model.to(device, memory_format=torch.channels_last)


def images_per_s_library(size: dict, device: torch.device, X: torch.Tensor, y: torch.Tensor, compile: bool) -> float:
    """Dense training through lottery_lab's loop, a phase of ``steps`` steps per timed call."""
    model = _model(size, device)
    batches = data_lib.Batches(X, y, size["batch"], generator=torch.Generator().manual_seed(0), drop_last=True)
    cfg = TrainConfig(iterations=size["steps"], lr=0.05, compile=compile, progress=False)
    return _median_rate(lambda: train(model, batches, cfg), size, device)


def images_per_s_plain(size: dict, device: torch.device, X: torch.Tensor, y: torch.Tensor, compile: bool) -> float:
    """The same training as a plain PyTorch loop: same model, batch, SGD, autocast; nothing else."""
    model = _model(size, device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, **({"fused": True} if device.type == "cuda" else {}))
    forward = torch.compile(model) if compile else model
    dtype = autocast_dtype(device, True)
    b = size["batch"]

    def epoch() -> None:
        order = torch.randperm(len(y), device=device)
        for i in range(size["steps"]):
            idx = order[i * b:(i + 1) * b]
            with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                loss = F.cross_entropy(forward(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return _median_rate(epoch, size, device)


def check_throughput(size: dict, device_name: str, root: Path) -> str:
    device = select_device(device_name)
    ds = data_lib.get("cifar10", root=root)
    n = size["steps"] * size["batch"]
    X = ds.X_train[:n].to(device).contiguous(memory_format=torch.channels_last)
    y = ds.y_train[:n].to(device)
    assert len(y) == n, f"need {n} training images for {size['steps']} steps"
    parts = []
    for compile in ((False, True) if size["compile"] else (False,)):
        lib = images_per_s_library(size, device, X, y, compile)
        plain = images_per_s_plain(size, device, X, y, compile)
        parts.append(f"{'compiled' if compile else 'eager'}: lottery_lab {lib:,.0f} img/s, plain loop "
                     f"{plain:,.0f} img/s ({lib / plain:.2f}x)")
    if not size["compile"]:
        parts.append("compile: not run (--tiny)")
    return "; ".join(parts)


class _SyncWatch(Callback):
    """CUDA's own sync detector (``set_sync_debug_mode("warn")``) on from the end of the first step to
    the end of the last, so only the steps (batches included) are watched, not the epoch-end read."""

    def after_step(self, state: TrainState) -> None:
        torch.cuda.set_sync_debug_mode("warn" if state.step < state.total_steps else "default")


def cuda_sync_warnings(method: str | None, kw: dict, size: dict, device: str) -> list[str]:
    """The synchronising calls CUDA reports in steps 2..4 of an epoch of the case's training."""
    import warnings

    import bench_syncs

    module, masks, callbacks, groups = bench_syncs._setup(method, kw, size["width"], device=device)
    g = torch.Generator().manual_seed(1)
    n = 4 * size["sync_batch"]
    X = torch.randn(n, 3, 32, 32, generator=g).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (n,), generator=g).to(device)
    batches = data_lib.Batches(X, y, size["sync_batch"], augment=True, generator=g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            train(module, batches, TrainConfig(epochs=1, progress=False),
                  masks=masks, callbacks=[*callbacks, _SyncWatch()], param_groups=groups, generator=g)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]


def check_syncs(size: dict, device_name: str) -> str:
    import bench_syncs

    device = str(select_device(device_name))
    bad, ops = {}, []
    for label, method, kw in bench_syncs.CASES:
        r = bench_syncs.per_step(method, kw, 2, size["sync_batch"], size["width"], device)
        ops.append(f"{label} {r['ops']:g}")
        if r["syncs"]:
            bad[label] = r["sync_kinds"]
        if device.startswith("cuda"):
            reported = cuda_sync_warnings(method, kw, size, device)
            if reported:
                bad[f"{label} (cuda sync debug mode)"] = reported[:3]
    assert not bad, f"host-device syncs in the step: {bad}"
    watched = " and by CUDA's sync debug mode" if device.startswith("cuda") else ""
    return f"0 syncs per step in every case (counted{watched}); aten ops per step: " + ", ".join(ops)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long version for the CPU (CI)")
    parser.add_argument("--out", help="folder for the data and the runs (default: a temporary folder)")
    args = parser.parse_args()
    size = SIZES[args.tiny]
    device = select_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="gpu_check_")
    out = Path(args.out or tmp.name)  # type: ignore[union-attr]
    root = out / "data"
    os.environ["LOTTERY_LAB_DATA"] = str(root)  # the runs (and the killed subprocess) read the files here
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"gpu_check on {name}, torch {torch.__version__}, {'tiny' if args.tiny else 'full'} sizes, "
          f"autocast {autocast_dtype(device, True)}", flush=True)

    checks: list[tuple[str, Callable[[], str]]] = [
        ("data", lambda: check_data(root, size)),
        ("imp", lambda: check_play("imp", size, args.device, out)),
        ("concave", lambda: check_play("concave", size, args.device, out)),
        ("l0", lambda: check_play("l0", size, args.device, out)),
        ("cs (BatchNorm)", lambda: check_play("cs", size, args.device, out, rounds=2)),
        ("resume", lambda: check_resume(size, args.device, out)),
        ("throughput", lambda: check_throughput(size, args.device, root)),
        ("syncs", lambda: check_syncs(size, args.device)),
    ]
    table = []
    start = time.perf_counter()
    for label, fn in checks:
        t0 = time.perf_counter()
        try:
            detail, ok = fn(), True
        except Exception as exc:  # noqa: BLE001 - every failure is reported, then the check fails
            traceback.print_exc()
            detail, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", False
        table.append((label, "ok" if ok else "FAIL", time.perf_counter() - t0, detail))
        print(f"[{table[-1][1]}] {label} ({table[-1][2]:.1f} s): {detail}", flush=True)
    if tmp is not None:
        tmp.cleanup()
    print(f"\n| check | result | seconds | detail |\n|---|---|---|---|")
    for label, status, seconds, detail in table:
        print(f"| {label} | {status} | {seconds:.1f} | {detail} |")
    failed = [t[0] for t in table if t[1] != "ok"]
    print(f"\ntotal {time.perf_counter() - start:.1f} s; " + (f"FAILED: {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

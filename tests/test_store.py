"""The run store's promises: every file verified on read-back and recomputed by a rerun, nothing
deleted on reading, a read-only ``report``, one lock per run folder, atomic writes that follow the
umask, and checkpoints that load on the CPU whatever the run's device."""

import builtins
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import filelock
import pytest
import torch

from lottery_lab import cli, runs
from lottery_lab.lottery import LotteryConfig, play, run_dir
from lottery_lab.train import Callback, TrainConfig, train


def tiny_data(n: int = 192, d: int = 10, k: int = 3):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    y = (X @ torch.randn(d, k, generator=g)).argmax(1)
    return X[:128], y[:128], X[128:], y[128:]


def cfg(out_dir, **kw) -> LotteryConfig:
    base = dict(method="concave", method_kw={"lam": 1e-3, "epochs": 2}, model="mlp", model_kw={"width": 0.1},
                data="tiny", rounds=2, epochs=2, batch_size=32, lr=0.05, seed=2, out_dir=str(out_dir),
                progress=False, checkpoint_s=0)
    return LotteryConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted concave run (it keeps scores.pt) on tiny data."""
    torch.set_num_threads(1)
    return play(cfg(tmp_path_factory.mktemp("ref")), data=tiny_data()).run_dir


@pytest.fixture
def copy(reference, tmp_path):
    return Path(shutil.copytree(reference, tmp_path / reference.name))


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: contents, mode and modification time (ns)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (None if p.is_dir() else p.read_bytes(), st.st_mode, st.st_mtime_ns)
    st = folder.stat()
    out["."] = (None, st.st_mode, st.st_mtime_ns)
    return out


def without_wall(rows):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------- 11.1: recomputed, not lost

@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_damaged_scores_are_kept_on_reading_and_recomputed_by_a_rerun(reference, copy, damage):
    scores = copy / "round_01" / "scores.pt"
    if damage == "flip":
        flip_byte(scores)
        with pytest.warns(runs.CorruptFileWarning, match="scores.pt is corrupt.*recompute it with: lottery.play\\(dataclasses.replace"):
            assert runs.load(copy).scores(1) is None
        assert scores.exists()                                   # reading deletes nothing
    else:
        scores.unlink()
        scores.with_name("scores.pt.sha256").unlink()
        with pytest.warns(runs.CorruptFileWarning, match="scores.pt is corrupt \\(missing\\)"):
            assert [d.file for d in runs.load(copy).damaged] == ["round_01/scores.pt"]
    weights_before = (copy / "round_01" / "weights.pt").stat().st_mtime_ns
    with pytest.warns(runs.CorruptFileWarning, match="round_01/scores.pt is corrupt.*play recomputes it now"):
        result = play(cfg(copy.parent), data=tiny_data())
    assert scores.read_bytes() == (reference / "round_01" / "scores.pt").read_bytes()
    assert (copy / "round_01" / "weights.pt").stat().st_mtime_ns == weights_before   # the retraining was reused
    assert without_wall(result.rows) == without_wall(runs.load(reference).rows)
    assert runs.load(copy).damaged == []


def test_every_promised_file_is_listed_and_checked(reference, copy):
    meta = json.loads((reference / "round_01" / "metrics.json").read_text())
    assert sorted(meta["files"]) == ["mask.pt", "phases.json", "scores.pt", "weights.pt"]
    assert sorted(json.loads((reference / "round_00" / "metrics.json").read_text())["files"]) == [
        "mask.pt", "rewind.pt", "weights.pt"]
    (copy / "round_01" / "phases.json").write_text("{}\n")
    with pytest.warns(runs.CorruptFileWarning, match="phases.json is corrupt"):
        result = runs.load(copy)
    assert [r["round"] for r in result.rows] == [0, 2]
    assert [r["round"] for r in result.rows] == [0, 2] and len(result.masks) == 2
    assert torch.equal(next(iter(result.masks[1].values())), next(iter(runs.load(reference).masks[2].values())))


# ---------------------------------------------------------------- 11.2: config.json, results.csv

def test_an_edited_config_json_is_refused_and_named(copy, capsys):
    path = copy / "config.json"
    path.write_text(path.read_text().replace('"lr": 0.05', '"lr": 0.7'))
    with pytest.raises(ValueError, match="config.json is corrupt.*does not hash"):
        runs.load(copy)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", str(copy)])
    assert exit_.value.code == 2 and "config.json is corrupt" in capsys.readouterr().err


def test_a_config_json_without_checksum_is_named_and_rewritten(copy):
    (copy / "config.json.sha256").unlink()
    with pytest.warns(runs.CorruptFileWarning):
        assert [d.file for d in runs.load(copy).damaged] == ["config.json"]
    with pytest.warns(runs.CorruptFileWarning, match="config.json is corrupt"):
        play(cfg(copy.parent), data=tiny_data())
    assert runs.load(copy).damaged == []


def test_an_edited_results_csv_is_detected_and_rewritten_from_the_verified_records(reference, copy):
    path = copy / "results.csv"
    row = runs.load(reference).rows[1]
    path.write_text(path.read_text().replace(str(row["test_acc"]), "0.999"))
    with pytest.warns(runs.CorruptFileWarning, match="results.csv is corrupt"):
        result = runs.load(copy)
    assert [d.file for d in result.damaged] == ["results.csv"] and result.rows[1] == row
    with pytest.warns(runs.CorruptFileWarning, match="results.csv is corrupt"):
        play(cfg(copy.parent), data=tiny_data())
    assert path.read_bytes() == (reference / "results.csv").read_bytes()


# ------------------------------------------------------------------------- 11.3: report only reads

@pytest.fixture
def cli_run(tmp_path, capsys):
    """A finished CLI run on the registry's synthetic data (so the recompute command is a CLI one)."""
    assert cli.main(["run", "--data", "synthetic", "--epochs", "1", "--rounds", "2", "--no-progress",
                     "--checkpoint-s", "0", "--out-dir", str(tmp_path / "runs"), "--json"]) == 0
    return Path(json.loads(capsys.readouterr().out)["run_dir"])


@pytest.fixture
def read_only(monkeypatch):
    """Every way to change the file system raises EROFS, as on read-only media."""
    def refuse(*args, **kw):
        raise OSError(30, "Read-only file system")

    real_open = builtins.open

    def open_(file, mode="r", *args, **kw):
        if any(c in mode for c in "wax+"):
            refuse()
        return real_open(file, mode, *args, **kw)

    def make():
        for name in ("replace", "rename", "unlink", "remove", "mkdir", "rmdir", "chmod", "utime"):
            monkeypatch.setattr(os, name, refuse)
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr("tempfile.mkstemp", refuse)
    return make


def test_report_leaves_a_healthy_run_byte_identical_and_works_read_only(cli_run, capsys, read_only):
    before = snapshot(cli_run)
    read_only()
    assert cli.main(["report", str(cli_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in out["runs"][0]["rows"]] == [0, 1, 2] and out["runs"][0]["damaged"] == []
    assert [r["round"] for r in runs.load(cli_run).rows] == [0, 1, 2]
    assert snapshot(cli_run) == before


def test_report_on_a_damaged_run_shows_every_intact_round_names_the_damage_and_changes_nothing(cli_run, capsys):
    rows = runs.load(cli_run).rows
    metrics = cli_run / "round_01" / "metrics.json"
    metrics.write_bytes(metrics.read_bytes()[:20])                      # truncated
    (cli_run / "round_00" / "metrics.json").unlink()                    # deleted
    before = snapshot(cli_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                  # report lists damage, no warnings
        assert cli.main(["report", str(cli_run)]) == 0
    text = capsys.readouterr().out
    assert "round_00/metrics.json: missing" in text and "round_01/metrics.json: its SHA-256" in text
    command = f"lottery-lab run --config {cli_run / 'config.json'}"
    assert f"recompute with: {command}" in text
    assert cli.main(["report", str(cli_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["runs"][0]
    assert [r["round"] for r in out["rows"]] == [2] and out["recompute"] == command
    assert snapshot(cli_run) == before
    # the named command recomputes exactly what was damaged
    with pytest.warns(runs.CorruptFileWarning):
        assert cli.main(command.split()[1:] + ["--json"]) == 0
    capsys.readouterr()
    result = runs.load(cli_run)
    assert result.damaged == [] and without_wall(result.rows) == without_wall(rows)


def test_rerunning_a_finished_run_rewrites_nothing(copy):
    before = snapshot(copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        play(cfg(copy.parent), data=tiny_data())
    assert snapshot(copy) == before


# ---------------------------------------------------------------------------------- 11.8: lock

LOCKED = textwrap.dedent("""
    import json, logging, sys, torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.path.insert(0, {tests!r})
    from test_store import cfg, tiny_data
    from lottery_lab.lottery import play
    print(json.dumps(play(cfg({out!r}, rounds=2), data=tiny_data()).rows))
""")


def test_two_processes_on_one_config_never_interleave_the_second_waits_then_reuses(tmp_path):
    out = tmp_path / "runs"
    folder = run_dir(cfg(out), data=tiny_data())
    procs, logs = [], [tmp_path / f"err{i}" for i in range(2)]
    with runs.folder_lock(folder):                          # both start while the folder is held
        for i in range(2):
            code = LOCKED.format(tests=str(Path(__file__).parent), out=str(out))
            with open(logs[i], "wb") as err:
                procs.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=err,
                                              env={**os.environ, "OMP_NUM_THREADS": "1"}))
        deadline = time.monotonic() + 120                   # until both wait at the lock
        while time.monotonic() < deadline and not all(f"waiting for {folder}" in e.read_text() for e in logs):
            assert all(p.poll() is None for p in procs), [e.read_text()[-1500:] for e in logs]
            time.sleep(0.01)
    rows = [json.loads(p.communicate()[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e.read_text()[-1500:] for e in logs]
    assert all(f"waiting for {folder}" in e.read_text() for e in logs)
    assert rows[0] == rows[1]                               # wall_s too: one trained, the other read back


def test_folder_lock_excludes_other_holders_and_times_out(tmp_path):
    caught = []
    with runs.folder_lock(tmp_path / "f"):
        def other():
            try:
                with runs.folder_lock(tmp_path / "f", timeout=0.1):
                    pass
            except filelock.Timeout as exc:
                caught.append(exc)
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(caught) == 1
    with runs.folder_lock(tmp_path / "f", timeout=0.1):     # released: free again
        pass


# ------------------------------------------------------------------------------ 11.9: atomicity

class Killed(BaseException):
    """Stands in for SIGKILL in the middle of a write."""


@pytest.fixture
def crash_mid_write(monkeypatch):
    """Files opened for writing write half of what they are given, then the process 'dies'."""
    class Half(io.RawIOBase):
        def __init__(self, f):
            self.f = f

        def write(self, b):
            self.f.write(bytes(b)[:max(1, len(b) // 2)])
            self.f.flush()
            raise Killed

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    real_open, real_fdopen = builtins.open, os.fdopen

    def wrap(f, mode):
        return Half(f) if any(c in str(mode) for c in "wax+") else f

    def open_(file, mode="r", *a, **kw):
        return wrap(real_open(file, mode, *a, **kw), mode)

    def fdopen(fd, mode="r", *a, **kw):
        return wrap(real_fdopen(fd, mode, *a, **kw), mode)

    def arm():
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(os, "fdopen", fdopen)
    return arm


def test_a_write_killed_midway_leaves_the_old_file_whole(tmp_path, crash_mid_write):
    store = runs.RunStore(tmp_path / "run")
    old = {"w": torch.arange(1000.0)}
    store.save(1, "weights.pt", old)
    runs.atomic_write(tmp_path / "plain.bin", b"old contents")
    crash_mid_write()
    with pytest.raises(Killed):
        store.save(1, "weights.pt", {"w": torch.zeros(1000)})
    with pytest.raises(Killed):
        runs.atomic_write(tmp_path / "plain.bin", b"new contents that never fully land")
    with pytest.raises(Killed):
        runs.atomic_write(tmp_path / "fresh.bin", b"a file that did not exist")
    assert (tmp_path / "plain.bin").read_bytes() == b"old contents"
    assert not (tmp_path / "fresh.bin").exists()
    assert torch.equal(store.load(1, "weights.pt")["w"], old["w"])
    assert not list(tmp_path.rglob("*.tmp"))


def test_save_figure_is_atomic_and_writes_the_format_of_the_suffix(tmp_path, crash_mid_write):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    runs.save_figure(fig, tmp_path / "a.png")
    old = (tmp_path / "a.png").read_bytes()
    assert old[:8] == b"\x89PNG\r\n\x1a\n"
    runs.save_figure(fig, tmp_path / "a.svg")
    assert b"<svg" in (tmp_path / "a.svg").read_bytes()[:500]
    crash_mid_write()
    with pytest.raises(Killed):
        runs.save_figure(fig, tmp_path / "a.png", dpi=300)
    assert (tmp_path / "a.png").read_bytes() == old


# ------------------------------------------------------------------------------ 11.10: small ones

@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        runs.save_verified(tmp_path / "x.pt", b"data")
        with runs.folder_lock(tmp_path / "run"):
            pass
    finally:
        os.umask(old)
    for p in (tmp_path / "x.pt", tmp_path / "x.pt.sha256", tmp_path / "run" / runs.LOCK_NAME):
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_stale_checkpoints_and_orphan_checksums_are_cleaned_by_the_next_run(copy):
    r1 = copy / "round_01"
    runs.save_verified(r1 / "ckpt_train.pt", runs._to_bytes({"step": 3}))   # a kill after metrics.json
    (r1 / "gone.pt.sha256").write_text("0" * 64 + "  gone.pt\n")             # its file was removed
    play(cfg(copy.parent), data=tiny_data())
    assert not (r1 / "ckpt_train.pt").exists() and not (r1 / "ckpt_train.pt.sha256").exists()
    assert not (r1 / "gone.pt.sha256").exists()


def test_each_corruption_is_reported_once(copy, caplog):
    flip_byte(copy / "round_02" / "weights.pt")
    with warnings.catch_warnings(record=True) as seen, caplog.at_level("WARNING", logger="lottery_lab"):
        warnings.simplefilter("always")
        play(cfg(copy.parent), data=tiny_data())
    corrupt = [w for w in seen if issubclass(w.category, runs.CorruptFileWarning)]
    assert len(corrupt) == 1 and "round_02/weights.pt" in str(corrupt[0].message)
    assert "corrupt" not in caplog.text


# --------------------------------------------------------------- 18.1 / 18.7: checkpoints, devices

class Seen(Callback):
    def on_train_start(self, state):
        self.rng = torch.get_rng_state()
        self.gen = state.generator.get_state()
        self.opt = state.optimizer.state_dict()["state"]


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")
def test_a_checkpoint_saved_on_the_cpu_resumes_onto_another_device(tmp_path):
    """The meta device stands in for a GPU: the RNG states must stay CPU ByteTensors, the model and
    optimiser state go where the model is, and Adam's step counters stay on the CPU."""
    X, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    store = runs.RunStore(tmp_path / "run")

    class Save(Callback):
        def on_train_end(self, state):
            store.save_checkpoint(1, "train", state.state_dict())

    gen = torch.Generator().manual_seed(5)
    batches = [(X[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    config = TrainConfig(optimizer="adam", iterations=8, progress=False)
    train(net, batches, config, callbacks=[Save()], generator=gen, seed=11)
    saved = runs.load_verified(tmp_path / "run" / "round_01" / "ckpt_train.pt")

    ckpt = runs.RunStore(tmp_path / "run", device="meta").load_checkpoint(1, "train")
    assert ckpt["rng"].device.type == "cpu" and ckpt["rng"].dtype == torch.uint8
    meta_net = net.to("meta")
    seen = Seen()
    meta_batches = [(xb.to("meta"), yb.to("meta")) for xb, yb in batches]
    train(meta_net, meta_batches, config, callbacks=[seen], generator=torch.Generator(), seed=11, resume=ckpt)
    assert torch.equal(seen.rng, saved["rng"]) and torch.equal(seen.gen, saved["generator"])
    assert all(p.device.type == "meta" for p in meta_net.parameters())
    for s in seen.opt.values():
        assert s["step"].device.type == "cpu" and s["exp_avg"].device.type == "meta"


def test_checkpoints_follow_the_interval_and_always_close_a_phase(tmp_path, monkeypatch):
    steps: dict = {}
    real = runs.RunStore.save_checkpoint

    def count(self, r, phase, state):
        steps.setdefault((r, phase), []).append(state["step"])
        real(self, r, phase, state)

    monkeypatch.setattr(runs.RunStore, "save_checkpoint", count)
    play(cfg(tmp_path / "a", method="imp", method_kw={}, rounds=1, epochs=3, checkpoint_s=3600), data=tiny_data())
    assert steps == {(0, "train"): [12], (1, "train"): [12]}            # 4 batches x 3 epochs: the ends only
    steps.clear()
    play(cfg(tmp_path / "b", method="imp", method_kw={}, rounds=1, epochs=3, checkpoint_s=0), data=tiny_data())
    assert steps == {(0, "train"): [4, 8, 12], (1, "train"): [4, 8, 12]}
    assert run_dir(cfg(tmp_path, checkpoint_s=0)) == run_dir(cfg(tmp_path, checkpoint_s=60))   # not hashed
    with pytest.raises(ValueError, match="checkpoint_s=-1"):
        cfg(tmp_path, checkpoint_s=-1)

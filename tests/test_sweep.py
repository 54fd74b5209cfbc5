"""Sweeps (issue 13): the shared dense round 0, sweep.run on 1 process / 2 processes / a Dask cluster,
a killed sweep resumed, two concurrent sweeps on one out_dir, the grid file and the thread policy."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lottery_lab import sweep
from lottery_lab._threads import cores, oversubscription, policy, threads_for, using_threads
from lottery_lab.lottery import LotteryConfig, play
from lottery_lab import dense_round as dense

BASE = dict(model="mlp", model_kw={"width": 0.25}, data="digits", rounds=1, epochs=1, device="cpu", progress=False)
METHODS = [("imp", {"prune_fraction": 0.5}), ("random", {})]
ROOT = Path(__file__).resolve().parents[1]


def grid(out_dir, seeds=(0, 1)):
    return [LotteryConfig(method=m, method_kw=kw, seed=s, out_dir=str(out_dir), **BASE)
            for m, kw in METHODS for s in seeds]


def strip(rows):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_shared_dense_round_is_bit_identical_to_training_its_own(tmp_path):
    before = dense.COUNTS["dense"]
    shared = [play(c) for c in grid(tmp_path, seeds=(0,))]
    assert dense.COUNTS["dense"] - before == 1  # the second method copied it
    assert len(list((tmp_path / dense.DENSE_DIR).iterdir())) == 1
    for c, res in zip(grid(tmp_path, seeds=(0,)), shared):
        own = play(LotteryConfig(**{**c.to_dict(), "out_dir": None}))  # trains its own round 0, in memory
        assert strip(res.rows) == strip(own.rows)
        for r in range(len(own.rows)):
            assert same_state(res.masks[r], own.masks[r])
            assert same_state(res.weights(r), own.weights(r))
    # the run folders are self-contained: a run's hash is unchanged and its round 0 holds θ_0 and θ_T
    assert (shared[0].run_dir / "round_00" / "rewind.pt").exists()
    assert shared[0].run_dir.name == f"imp-{grid(tmp_path)[0].short_hash()}"


def test_dense_key_ignores_the_method_only():
    a, b = grid("x", seeds=(0,))
    assert dense.key(a) == dense.key(b)
    assert dense.key(a) != dense.key(LotteryConfig(**{**a.to_dict(), "seed": 1}))
    assert dense.key(a) != dense.key(LotteryConfig(**{**a.to_dict(), "rewind_iter": 3}))
    assert dense.key(a) != dense.key(LotteryConfig(**{**a.to_dict(), "lr": 0.05}))
    assert dense.key(a) != dense.key(a, data_fingerprint="abc")


def test_one_process_two_processes_and_a_dask_cluster_agree(tmp_path):
    distributed = pytest.importorskip("distributed")
    out = {}
    for name, kw in (("one", dict(jobs=1)), ("two", dict(jobs=2))):
        stats = sweep.Stats()
        out[name] = sweep.run(grid(tmp_path / name), progress=False, stats=stats, **kw)
        assert stats.dense_trainings == 2 and stats.runs_trained == 4  # one dense round per seed
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        stats = sweep.Stats()
        out["dask"] = sweep.run(grid(tmp_path / "dask"), executor=client, progress=False, stats=stats)
        assert stats.dense_trainings == 2
    for name in ("two", "dask"):
        assert [strip(r.rows) for r in out[name]] == [strip(r.rows) for r in out["one"]], name
    stats = sweep.Stats()
    again = sweep.run(grid(tmp_path / "one"), jobs=1, progress=False, stats=stats)  # a rerun trains nothing
    assert (stats.dense_trainings, stats.runs_trained) == (0, 0)
    assert [r.rows for r in again] == [r.rows for r in out["one"]]


def test_runs_kept_in_memory_play_in_process_as_play_does():
    configs = [LotteryConfig(**{**c.to_dict(), "out_dir": None}) for c in grid("unused", seeds=(0,))]
    got = sweep.run(configs, progress=False)  # one torch thread per run: the reference plays on one too
    for c, res in zip(configs, got):
        with using_threads(1):
            own = play(c)
        assert res.run_dir is None and strip(res.rows) == strip(own.rows)
        assert all(same_state(res.masks[r], own.masks[r]) for r in range(len(own.rows)))


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path):
    configs = grid(tmp_path, seeds=(0,))
    bad = LotteryConfig(method="imp", seed=0, out_dir=str(tmp_path), rewind_iter=10_000, **BASE)  # fails at run time
    with pytest.raises(sweep.SweepError) as info:
        sweep.run([configs[0], bad, configs[1]], progress=False)
    err = info.value
    assert [f.index for f in err.failures] == [1] and err.failures[0].config == bad
    assert err.results[0] is not None and err.results[2] is not None and err.results[1] is None
    assert "[1] imp seed=0" in str(err) and "rewind_iter=10000 is beyond the training length" in str(err)


GRID = """
[base]
data = "digits"
model = "mlp"
model_kw = {{ width = 0.25 }}
epochs = 1
rounds = 1
device = "cpu"
checkpoint_s = 0
out_dir = "{out}"

[[methods]]
name = "imp"
method_kw = {{ prune_fraction = 0.5 }}

[[methods]]
name = "random"

[cross]
seed = [0, 1]
"""


def cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lottery_lab", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_grid_file_crosses_methods_and_fields(tmp_path):
    from lottery_lab.cli.sweep import load_grid

    path = tmp_path / "g.toml"
    path.write_text(GRID.format(out=tmp_path / "out"))
    configs, keys = load_grid(path)
    assert keys == ["seed"]
    assert [(c.method, c.method_kw, c.seed) for c in configs] == [
        ("imp", {"prune_fraction": 0.5}, 0), ("imp", {"prune_fraction": 0.5}, 1), ("random", {}, 0), ("random", {}, 1)]
    path.write_text("[cross]\nseed = 3\n")
    p = cli("sweep", str(path))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "[cross] seed must be a non-empty list, got 3" in err and "Traceback" not in err


def test_killed_sweep_resumes_and_two_concurrent_sweeps_train_nothing_twice(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(GRID.format(out=tmp_path / "out"))
    p = cli("sweep", str(path), "--no-progress")
    first = None
    deadline = time.time() + 300
    while first is None and time.time() < deadline and p.poll() is None:  # SIGKILL once the first run finished
        # results.csv grows a row per round (written atomically): finished = round 0 and round 1 rows
        done = [f for f in (tmp_path / "out").glob("imp-*/results.csv") if len(f.read_text().splitlines()) >= 3]
        first = done[0] if done else None
        time.sleep(0.05)
    assert first is not None, "the first run never finished"
    p.send_signal(signal.SIGKILL)
    p.wait()
    # two sweeps at once on the killed store: they finish it together, nothing trained twice
    a, b = cli("sweep", str(path), "--json", "--no-progress"), cli("sweep", str(path), "--json", "--no-progress")
    (oa, ea), (ob, eb) = a.communicate(timeout=600), b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, ea + eb
    ja, jb = json.loads(oa), json.loads(ob)
    assert ja["runs"] == jb["runs"] and len(ja["runs"]) == 4  # the same table
    assert ja["dense_trainings"] + jb["dense_trainings"] <= 2  # each seed's dense round at most once in all
    assert ja["runs_trained"] + jb["runs_trained"] <= 3  # the killed sweep had finished one run
    # identical to an uninterrupted sweep in another folder
    ref = sweep.run(grid(tmp_path / "ref"), progress=False)
    got = sweep.run(grid(tmp_path / "out"), progress=False)
    assert [strip(r.rows) for r in got] == [strip(r.rows) for r in ref]
    for g, r in zip(got, ref):
        assert same_state(g.weights(1), r.weights(1)) and same_state(g.masks[1], r.masks[1])


def test_thread_policy():
    n = cores()
    assert threads_for(1) == n and threads_for(n) == 1 and threads_for(4 * n) == 1
    assert threads_for(2) == max(1, n // 2)
    assert policy() == 1 and policy(3) == 3
    assert oversubscription(n, 1) is None and oversubscription(1, n) is None
    assert f"= {n + 1} torch threads on {n} core(s)" in oversubscription(n + 1, 1)
    before = torch.get_num_threads()
    with using_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="jobs=0 must be an integer >= 1"):
        threads_for(0)
    with pytest.raises(ValueError, match="threads=0 must be an integer >= 1"):
        policy(0)


def probe(_):
    """What a sweep task sees: its torch threads and the probe variable of its environment."""
    return torch.get_num_threads(), os.environ.get("LOTTERY_LAB_TEST_PROBE")


def test_every_run_takes_one_thread_unless_told_and_workers_see_the_parents_environment(tmp_path, monkeypatch):
    configs = grid(tmp_path)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert sweep.run(configs, task=probe, items=range(4), progress=False) == [(1, None)] * 4  # in-process
        assert torch.get_num_threads() == 2  # the caller's threads are restored
        assert sweep.run(configs, task=probe, items=range(4), threads=2, progress=False)[0][0] == 2
    finally:
        torch.set_num_threads(before)
    # workers (forked from a fork server started once): 1 thread each, and the parent's environment as it
    # is at each sweep, not as it was when the server started
    for value in ("first", "second"):
        monkeypatch.setenv("LOTTERY_LAB_TEST_PROBE", value)
        assert sweep.run(configs, task=probe, items=range(4), jobs=2, progress=False) == [(1, value)] * 4
    with pytest.warns(RuntimeWarning, match="oversubscribe") if cores() < 4 else contextlib.nullcontext():
        got = sweep.run(configs, task=probe, items=range(2), jobs=2, threads=2, progress=False)
    assert [t for t, _ in got] == [2, 2]


def test_more_workers_than_cores_warn_before_any_work():
    with pytest.warns(RuntimeWarning, match=f"jobs={cores() + 1} x threads=1 = {cores() + 1} torch threads"):
        assert sweep.run([], jobs=cores() + 1, progress=False) == []


def test_cli_run_trains_on_one_thread_unless_told(monkeypatch, tmp_path):
    import lottery_lab.lottery
    from lottery_lab.cli import main

    seen = []

    def fake_play(config, data=None):
        seen.append(torch.get_num_threads())
        raise ValueError("stop here")

    monkeypatch.setattr(lottery_lab.lottery, "play", fake_play)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for extra in ([], ["--threads", "2"]):
            with pytest.raises(SystemExit) as info:
                main(["run", "--data", "digits", "--out-dir", str(tmp_path), *extra])
            assert info.value.code == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="jobs=0"):
        sweep.run(grid(tmp_path), jobs=0)
    with pytest.raises(TypeError, match=r"configs\[0\] must be a LotteryConfig"):
        sweep.run([{"method": "imp"}])
    with pytest.raises(ValueError, match="out_dir=None"):
        sweep.run([LotteryConfig(out_dir=None, **BASE)], jobs=2)


def test_cli_on_a_dask_scheduler_and_worker_started_as_commands(tmp_path):
    pytest.importorskip("distributed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    info = tmp_path / "scheduler.json"
    sched = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(info)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 120
        while not info.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=tmp_path)
        path = tmp_path / "g.toml"
        path.write_text(GRID.format(out=tmp_path / "out"))
        p = cli("sweep", str(path), "--json", "--no-progress", "--scheduler", address)
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        got = json.loads(out)
        assert got["dense_trainings"] == 2 and got["runs_trained"] == 4
        ref = sweep.run(grid(tmp_path / "ref"), progress=False)
        assert [line["test_acc"] for line in got["runs"]] == [r.rows[-1]["test_acc"] for r in ref]
    finally:
        for proc in (worker, sched):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=60)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 has no PYTHONSAFEPATH: lottery_lab is not preloaded")
def test_workers_start_with_this_processs_lottery_lab_preloaded_even_beside_another_copy(tmp_path):
    # a decoy package in the current folder: the fork server (started with `python -c`, current folder
    # first on its path unless told otherwise) must still import the parent's copy, and workers must not
    # need to import it again
    (tmp_path / "lottery_lab").mkdir()
    (tmp_path / "lottery_lab" / "__init__.py").write_text("raise ImportError('the decoy was imported')\n")
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
              "import json, lottery_lab\n"
              "from lottery_lab.sweep.core import map_tasks\n"
              "asks = ['__import__(\"lottery_lab\").__file__', '\"lottery_lab._worker_preload\" in __import__(\"sys\").modules',"
              " '__import__(\"os\").getcwd()', '\"PYTHONSAFEPATH\" in __import__(\"os\").environ']\n"
              "out = map_tasks(eval, asks, jobs=2)\n"
              "print(json.dumps([lottery_lab.__file__] + [o[0] for o in out]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    parent, worker, preloaded, cwd, safe = json.loads(done.stdout.splitlines()[-1])
    assert worker == parent == str(ROOT / "lottery_lab" / "__init__.py")
    assert preloaded is True
    assert cwd == str(tmp_path) and safe is False  # the parent's folder and environment, not the server's


def test_longest_runs_are_handed_out_first_and_results_keep_their_order(tmp_path):
    configs = [LotteryConfig(method="imp", seed=0, out_dir=str(tmp_path), **{**BASE, "rounds": r, "epochs": e})
               for r, e in [(1, 1), (3, 2), (2, 1), (3, 2), (1, 4)]]
    costs = [sweep.cost(c) for c in configs]
    assert costs == [1, 6, 2, 6, 4]
    assert sweep.longest_first(costs) == [1, 3, 4, 2, 0]  # decreasing, ties as given
    search = LotteryConfig(method="concave", method_kw={"epochs": 3}, out_dir=str(tmp_path), **BASE)
    assert sweep.cost(search) == 1 * (1 + 3)
    # handed out in `order` (one thread: it runs them as handed out), returned in the order given
    from concurrent.futures import ThreadPoolExecutor

    seen = []
    with ThreadPoolExecutor(max_workers=1) as one:
        got = sweep.map_tasks(lambda a: seen.append(a) or a * 10, [1, 2, 3], executor=one, order=[2, 0, 1])
    assert seen == [3, 1, 2] and [v for v, *_ in got] == [10, 20, 30]
    got = sweep.map_tasks(eval, ["1", "2", "3"], jobs=2, order=[2, 0, 1])  # worker processes
    assert [v for v, *_ in got] == [1, 2, 3]
    for jobs in (1, 2):  # refused before any task runs (and before a pool starts)
        with pytest.raises(ValueError, match=r"order must be a permutation of range\(3\)"):
            sweep.map_tasks(eval, ["1", "2", "3"], jobs=jobs, order=[0, 0, 1])


def test_a_process_loads_a_registry_dataset_once_for_many_runs(tmp_path, monkeypatch):
    from lottery_lab import data as data_lib
    from lottery_lab import lottery

    import functools

    calls = []
    real = data_lib.get
    monkeypatch.setattr(data_lib, "get", functools.wraps(real)(lambda name, **kw: calls.append((name, kw)) or real(name, **kw)))
    monkeypatch.setattr(lottery, "_DATA_CACHE", type(lottery._DATA_CACHE)())
    fresh = real("digits", seed=3)
    a = lottery._dataset(LotteryConfig(data="digits", data_kw={"seed": 3}), None)[0]
    b = lottery._dataset(LotteryConfig(data="digits", data_kw={"seed": 3}), None)[0]
    assert len(calls) == 1 and a is b
    assert all(torch.equal(getattr(a, k), getattr(fresh, k)) for k in ("X_train", "y_train", "X_test", "y_test"))
    lottery._dataset(LotteryConfig(data="digits", data_kw={"seed": 4}), None)
    assert len(calls) == 2  # other arguments: loaded
    # a run does not write into the kept tensors: two plays leave them equal to a fresh load
    for _ in range(2):
        play(LotteryConfig(method="imp", data="digits", data_kw={"seed": 3}, out_dir=None,
                           **{k: v for k, v in BASE.items() if k != "data"}))
    assert len(calls) == 2
    assert all(torch.equal(getattr(a, k), getattr(fresh, k)) for k in ("X_train", "y_train", "X_test", "y_test"))
    # the cache holds at most 2 datasets, and none larger than its byte limit
    lottery._dataset(LotteryConfig(data="digits", data_kw={"seed": 5}), None)
    assert len(lottery._DATA_CACHE) == 2
    monkeypatch.setattr(lottery, "_DATA_CACHE_BYTES", 1)
    for _ in range(2):
        lottery._dataset(LotteryConfig(data="digits", data_kw={"seed": 6}), None)
    assert len(calls) == 5 and all("6" not in k[2] for k in lottery._DATA_CACHE)


def test_compare_plays_a_rounds_recipe_once_until_its_target(tmp_path, monkeypatch):
    # one play per rounds run (stopping at the target), the same rows as playing one more round per call
    from lottery_lab import compare as compare_lib
    from lottery_lab import lottery

    calls = []
    real = lottery.play
    monkeypatch.setattr(lottery, "play", lambda c, *a, **k: calls.append(c.rounds) or real(c, *a, **k))
    kw = dict(methods=["imp"], seeds=[0], targets=[0.3], epochs=1, data="digits", model="mlp",
              model_kw={"width": 0.25}, progress=False)
    got = compare_lib.compare(out_dir=str(tmp_path / "a"), **kw)
    assert len(calls) == 1
    rows = got.runs[0]["rows"]
    # the reference: play(rounds=r) for r = 1, 2, ... until the density is at most the target
    ref, r = None, 1
    while True:
        ref = real(LotteryConfig(method="imp", method_kw=got.runs[0]["method_kw"], seed=0, rounds=r, epochs=1,
                                 data="digits", model="mlp", model_kw={"width": 0.25}, progress=False,
                                 out_dir=str(tmp_path / "b")))
        if ref.rows[-1]["density"] <= 0.3:
            break
        r += 1
    assert strip(rows) == strip(ref.rows) and len(rows) == r + 1


def test_two_compare_commands_at_once_on_one_out_dir_train_nothing_twice_and_print_one_table(tmp_path):
    args = ["compare", "--data", "digits", "--methods", "imp,snip", "--seeds", "0,1", "--targets", "0.5,0.2",
            "--epochs", "1", "--model-kw", '{"width": 0.25}', "--json", "--no-progress"]
    a = cli(*args, "--out-dir", str(tmp_path / "out"))
    b = cli(*args, "--out-dir", str(tmp_path / "out"), "--jobs", "2")
    (oa, ea), (ob, eb) = a.communicate(timeout=600), b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, ea + eb
    ja, jb = json.loads(oa), json.loads(ob)
    assert ja["rows"] == jb["rows"] and ja["dense"] == jb["dense"]  # the same table
    runs = len(ja["runs"])  # imp: one rounds run per seed; snip: one run per seed and target
    assert runs == 6
    assert ja["dense_trainings"] + jb["dense_trainings"] == 2  # each seed's dense round once in all
    assert ja["runs_trained"] + jb["runs_trained"] == runs  # every run computed by exactly one of them
    # and the table of one command alone, in another folder
    c = cli(*args, "--out-dir", str(tmp_path / "ref"))
    oc, ec = c.communicate(timeout=600)
    assert c.returncode == 0, ec
    assert json.loads(oc)["rows"] == ja["rows"]


def play_or_die(config):
    """A sweep task: ``_play_config``, except that with LOTTERY_LAB_TEST_DIE set the random seed-1 run
    SIGKILLs its own worker process once its round 1 is stored (mid-run: round 2 not done)."""
    from lottery_lab.sweep.core import _play_config

    if os.environ.get("LOTTERY_LAB_TEST_DIE") and (config.method, config.seed) == ("random", 1):
        play(config, until=lambda rows: len(rows) == 2 and os.kill(os.getpid(), signal.SIGKILL))
    return _play_config(config)


def test_a_worker_killed_mid_run_is_reported_and_a_rerun_finishes_with_identical_results(tmp_path, monkeypatch):
    configs = [LotteryConfig(**{**c.to_dict(), "rounds": 2}) for c in grid(tmp_path / "out")]
    monkeypatch.setenv("LOTTERY_LAB_TEST_DIE", "1")
    with pytest.raises(sweep.SweepError) as info:
        sweep.run(configs, jobs=2, task=play_or_die, items=configs, progress=False)
    victim = next(i for i, c in enumerate(configs) if (c.method, c.seed) == ("random", 1))
    failed = {f.index: f.error for f in info.value.failures}
    assert victim in failed and "BrokenProcessPool" in failed[victim]  # the dead worker, named with its config
    from lottery_lab import runs

    where = [p for p in (tmp_path / "out").glob("random-*") if runs.load(p).config.seed == 1]
    assert len(where) == 1 and len(runs.load(where[0]).rows) == 2  # rounds 0 and 1 survived the kill
    kept = (where[0] / "round_01" / "metrics.json").stat().st_mtime_ns
    monkeypatch.delenv("LOTTERY_LAB_TEST_DIE")
    stats = sweep.Stats()
    got = sweep.run(configs, jobs=2, progress=False, stats=stats)
    assert stats.dense_trainings == 0  # the dense rounds were stored before the kill
    assert (where[0] / "round_01" / "metrics.json").stat().st_mtime_ns == kept  # round 1 reused, not recomputed
    ref = sweep.run([LotteryConfig(**{**c.to_dict(), "out_dir": str(tmp_path / "ref")}) for c in configs],
                    progress=False)
    assert [strip(r.rows) for r in got] == [strip(r.rows) for r in ref]
    for g, r in zip(got, ref):
        assert all(same_state(g.weights(k), r.weights(k)) and same_state(g.masks[k], r.masks[k]) for k in range(3))


def test_without_sharing_every_run_trains_its_own_dense_round_and_nothing_else(tmp_path, monkeypatch):
    # LOTTERY_LAB_NO_SHARED_DENSE (the benchmarks' "before"): no shared folder is trained, not even by the
    # sweep's dense step, and each run's round 0 is its own training
    monkeypatch.setenv("LOTTERY_LAB_NO_SHARED_DENSE", "1")
    stats = sweep.Stats()
    got = sweep.run(grid(tmp_path), progress=False, stats=stats)
    assert stats.dense_trainings == len(got) == 4
    assert not (tmp_path / dense.DENSE_DIR).exists()
    monkeypatch.delenv("LOTTERY_LAB_NO_SHARED_DENSE")
    shared = sweep.run(grid(tmp_path / "shared"), progress=False)  # bit-identical on the CPU either way
    assert [strip(r.rows) for r in got] == [strip(r.rows) for r in shared]


def test_the_demo_counts_a_shared_dense_round_once_in_its_training_time(tmp_path):
    from lottery_lab.cli.lottery import _training_s

    results = sweep.run(grid(tmp_path, seeds=(0,)), progress=False)  # imp and random: one dense round
    (folder,) = (tmp_path / dense.DENSE_DIR).iterdir()
    own = json.loads((folder / "round_00" / "metrics.json").read_text())["row"]["wall_s"]
    assert all(r.rows[0]["wall_s"] == own for r in results)  # each run's row 0 repeats it
    expected = own + sum(row["wall_s"] for r in results for row in r.rows[1:])
    assert _training_s(results) == pytest.approx(expected, rel=1e-12)

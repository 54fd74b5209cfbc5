"""Every registered method on the same data, model, budget and seeds, at the same densities.

>>> from lottery_lab.compare import compare
>>> cmp = compare(["imp", "l0"], data="digits", model="mlp", quick=True)  # doctest: +SKIP
>>> print(cmp.table()); cmp.plot()  # doctest: +SKIP

Methods reach a density in different ways: each method class says how in its ``recipes`` attribute
(candidate :class:`Recipe`\\ s, the first one the method accepts is used); :data:`RECIPES` is the
read-only view method name → recipes over the registry:

- a **knob** recipe plays one run per target density with one pruning round, the method's argument
  ``knob`` set from the target (``target_density`` or ``keep`` = t; ``prune_fraction`` = 1 − t for the
  one-shot pruners at initialisation);
- a **rounds** recipe plays rounds until the density is at or below the smallest target, stops falling
  (a round keeping more than :data:`STALL` of the weights before it) or ``max_rounds`` is reached; every
  round is a candidate point.

A method without recipes gets rounds with its defaults. Runs go through :func:`lottery_lab.lottery.play`, so stored runs are reused.

Aggregation (:func:`aggregate`): a round lands in the bin of its nearest target on a log scale (bin
edges at the geometric midpoints between targets; the outer bins as wide as their neighbours); per
method, seed and bin the round nearest the target counts; then mean ± std (``ddof=0``, as
``lottery-lab report``) over seeds of the test accuracy *and of the measured density*. A method that
never reached a bin has no entry there: nothing is shown at a density that was not reached.
"""

from __future__ import annotations

import collections.abc as _abc
import contextlib
import math
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from lottery_lab.results import count, mean_std, plural
from lottery_lab._validation import invalid

__all__ = ["Recipe", "RECIPES", "TARGETS", "SEEDS", "QUICK", "Planned", "Comparison", "recipe_for", "build_grid",
           "reach", "play_to", "bin_of", "aggregate", "dense_baseline", "compare", "plan"]

#: the densities compared, the seeds, and the reduced setting (tests, notebooks in quick mode)
from lottery_lab._choices import QUICK, SEEDS, TARGETS  # noqa: E402,F401  (torch-free home)
#: a rounds recipe stops once a round keeps more than this fraction of the weights kept before it
STALL = 0.9


from lottery_lab.methods.recipe import HALVING as _HALVING  # noqa: E402,F401
from lottery_lab.methods.recipe import ONE_SHOT as _ONE_SHOT  # noqa: E402,F401
from lottery_lab.methods.recipe import Recipe  # noqa: E402  (re-exported; it lives in lottery_lab.methods.recipe)


class _Recipes(_abc.Mapping):
    """method name → its candidate recipes, read from the method classes (``Method.recipes``) in the
    registry; a method without recipes is left out (it gets rounds with its defaults)."""

    def __getitem__(self, name: str) -> tuple[Recipe, ...]:
        from lottery_lab.methods import base

        if name not in base._REGISTRY or not base._REGISTRY[name].recipes:
            raise KeyError(name)
        return tuple(base._REGISTRY[name].recipes)

    def __iter__(self):
        from lottery_lab import methods

        return iter([n for n in methods.names() if n in self])

    def __contains__(self, name) -> bool:
        from lottery_lab.methods import base

        return name in base._REGISTRY and bool(base._REGISTRY[name].recipes)

    def __len__(self) -> int:
        return len(list(iter(self)))


#: method → candidate recipes, first accepted wins: each method class's ``recipes`` attribute
#: (``Method.recipes``), read from the registry when looked up.
RECIPES: Mapping[str, tuple[Recipe, ...]] = _Recipes()


def recipe_for(method: str, recipes: Mapping[str, Sequence[Recipe]] | None = None) -> Recipe:
    """The first recipe of ``method`` it accepts (rounds with its defaults when none is known or fits)."""
    for recipe in (RECIPES if recipes is None else recipes).get(method, ()):
        if recipe.accepts(method):
            return recipe
    return Recipe()


@dataclass(frozen=True)
class Planned:
    """One entry of the grid: a run's config (rounds: the first round; more are played as needed)."""

    config: Any  # LotteryConfig
    recipe: Recipe
    target: float | None  # knob recipes: the target of this run


def _check(methods: Sequence[str] | None, targets: Sequence[float], seeds: Sequence[int]) -> list[str]:
    from lottery_lab import methods as methods_lib

    names = methods_lib.names()
    chosen = list(names if methods is None else methods)
    unknown = [m for m in chosen if m not in names]
    if unknown or not chosen:
        raise ValueError(f"methods={list(methods or [])!r}: {'unknown ' + ', '.join(unknown) if unknown else 'empty'}; "
                         f"registered methods: {', '.join(names)}")
    if not seeds:
        raise ValueError("seeds=[] must name at least one seed")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in seeds):
        raise ValueError(f"seeds={list(seeds)!r} must be integers")
    bad = [t for t in targets if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1]
    if not targets or bad:
        raise ValueError(f"targets={list(targets)!r}: density targets must lie in the open interval (0, 1)"
                         + (f" ({bad} do not)" if bad else " and there must be at least one"))
    return list(dict.fromkeys(chosen))


def build_grid(methods: Sequence[str] | None = None, targets: Sequence[float] = TARGETS,
               seeds: Sequence[int] = SEEDS, recipes: Mapping[str, Sequence[Recipe]] | None = None,
               method_kw: Mapping[str, Mapping[str, Any]] | None = None, **config: Any) -> list[Planned]:
    """The runs of a comparison: per method and seed, one per target (knob) or one (rounds).

    ``method_kw`` adds or overrides fixed method arguments per method (``{"rvsm": {"lam": 1e-3}}``);
    ``config`` holds the other :class:`~lottery_lab.lottery.LotteryConfig` fields of every run.
    """
    from lottery_lab.lottery import LotteryConfig

    chosen = _check(methods, targets, seeds)
    method_kw = dict(method_kw or {})
    stray = sorted(set(method_kw) - set(chosen))
    if stray:
        raise ValueError(f"method_kw names methods not compared: {', '.join(stray)}")
    grid = []
    for name in chosen:
        recipe = recipe_for(name, recipes)
        recipe = replace(recipe, method_kw={**recipe.method_kw, **method_kw.get(name, {})})
        for seed in seeds:
            for target in (sorted(targets, reverse=True) if recipe.knob else [None]):
                cfg = LotteryConfig(method=name, method_kw=recipe.kwargs(target), rounds=1, seed=int(seed), **config)
                grid.append(Planned(cfg, recipe, target))
    return grid


def _stop_round(rows: Sequence[Mapping], floor: float, max_rounds: int) -> int | None:
    """The first round after which a rounds recipe stops, or ``None`` if ``rows`` do not get there."""
    for r in range(1, len(rows)):
        d, before = rows[r]["density"], rows[r - 1]["density"]
        if d <= floor or d > STALL * before or r >= max_rounds:
            return r
    return None


def _stored_rows(config) -> list[dict]:
    """The finished rounds of ``config``'s run on disk (none when it keeps nothing or has not started)."""
    from lottery_lab import runs
    from lottery_lab.lottery import run_dir

    where = run_dir(config)
    if where is None or not (where / "config.json").exists():
        return []
    return runs.load(where).rows


def reach(entry: Planned, floor: float):
    """Play (or read back) one grid entry; rounds recipes go on until :func:`_stop_round` says stop.

    Returns ``(result, trained)``: the :class:`~lottery_lab.runs.LotteryResult` and whether any round
    had to be computed (``False``: everything came from disk).
    """
    from lottery_lab.lottery import play

    if entry.recipe.knob is not None:
        stored = len(_stored_rows(entry.config))
        return play(entry.config), stored < entry.config.rounds + 1
    stored = _stored_rows(entry.config)
    stop = _stop_round(stored, floor, entry.recipe.max_rounds)
    if stop is not None:
        return play(replace(entry.config, rounds=stop)), False
    # one play to max_rounds that stops at the first round _stop_round accepts (the rounds on disk are
    # read back once, not once per extra round)
    result = play(replace(entry.config, rounds=max(entry.recipe.max_rounds, 1)),
                  until=lambda rows: _stop_round(rows, floor, entry.recipe.max_rounds) is not None)
    return result, True


def _folder(out_dir: str | None):
    """``out_dir`` itself, or a scratch folder for ``None``: rounds are played one call at a time, which
    needs them on disk between calls."""
    return contextlib.nullcontext(out_dir) if out_dir is not None else tempfile.TemporaryDirectory(
        prefix="lottery_compare_")


def play_to(method: str, target: float, *, seed: int = 0, recipes: Mapping[str, Sequence[Recipe]] | None = None,
            method_kw: Mapping[str, Any] | None = None, **config: Any):
    """One method at one target density, the way its recipe reaches densities.

    Returns ``(result, r)``: the run's :class:`~lottery_lab.runs.LotteryResult` and the round whose
    density is nearest ``target`` on a log scale (knob recipes: round 1). ``config`` holds
    :class:`~lottery_lab.lottery.LotteryConfig` fields; with ``out_dir=None`` the rounds are played in
    a scratch folder and the result keeps its rows, densities and masks in memory.
    """
    out_dir = config.pop("out_dir", "runs")
    with _folder(out_dir) as where:
        entry = build_grid([method], (target,), (seed,), recipes=recipes,
                           method_kw={method: dict(method_kw)} if method_kw else None, out_dir=where, **config)[0]
        result, _ = reach(entry, target)
        if out_dir is None:
            result = replace(result, masks=list(result.masks), run_dir=None, _store=None,
                             config=replace(result.config, out_dir=None))
    r = min(range(1, len(result.rows)),
            key=lambda i: abs(math.log(max(result.rows[i]["density"], 1e-12) / target)))
    return result, r


# ---------------------------------------------------------------------------------- aggregation

def bin_of(density: float, targets: Sequence[float]) -> float | None:
    """The target nearest ``density`` on a log scale, or ``None`` outside the outer bins' edges."""
    if not density > 0:
        return None
    ts = sorted(targets)
    logs = np.log(ts)
    x = math.log(density)
    half = [(logs[1] - logs[0]) / 2 if len(ts) > 1 else math.log(2) / 2,
            (logs[-1] - logs[-2]) / 2 if len(ts) > 1 else math.log(2) / 2]
    if x < logs[0] - half[0] or x > logs[-1] + half[1]:
        return None
    return ts[int(np.argmin(np.abs(logs - x)))]


def aggregate(rows: Iterable[Mapping], targets: Sequence[float] = TARGETS) -> list[dict]:
    """Mean ± std over seeds per method and density bin (see the module docstring).

    ``rows`` are result rows (``method, seed, round, density, test_acc``); round 0 is ignored. Returns
    one dict per (method, bin reached): ``method, target, density_mean, density_std, test_acc_mean,
    test_acc_std, n, seeds``, methods in order of appearance, targets from dense to sparse.
    """
    best: dict[tuple[str, float, int], Mapping] = {}
    order: list[str] = []
    for row in rows:
        if row["method"] not in order:
            order.append(row["method"])
        if int(row["round"]) == 0:
            continue
        t = bin_of(float(row["density"]), targets)
        if t is None:
            continue
        key = (row["method"], t, int(row["seed"]))
        gap = abs(math.log(float(row["density"]) / t))
        if key not in best or gap < abs(math.log(float(best[key]["density"]) / t)):
            best[key] = row
    out = []
    for method in order:
        for t in sorted(targets, reverse=True):
            picked = [best[k] for k in sorted(best) if k[0] == method and k[1] == t]
            if not picked:
                continue
            d_mean, d_std, n = mean_std(r["density"] for r in picked)
            a_mean, a_std, _ = mean_std(r["test_acc"] for r in picked)
            out.append({"method": method, "target": float(t), "density_mean": d_mean, "density_std": d_std,
                        "test_acc_mean": a_mean, "test_acc_std": a_std, "n": n,
                        "seeds": [int(r["seed"]) for r in picked]})
    return out


def dense_baseline(rows: Iterable[Mapping]) -> dict | None:
    """Mean ± std over seeds of the dense network (round 0; one row per seed)."""
    by_seed: dict[int, float] = {}
    for row in rows:
        if int(row["round"]) == 0:
            by_seed.setdefault(int(row["seed"]), float(row["test_acc"]))
    if not by_seed:
        return None
    a_mean, a_std, n = mean_std(by_seed.values())
    return {"test_acc_mean": a_mean, "test_acc_std": a_std, "n": n, "seeds": sorted(by_seed)}


# ---------------------------------------------------------------------------------- the result

def _pm(mean: float, std: float, n: int, fmt: str) -> str:
    """``mean ± std``; with one seed there is no spread to show, so ``mean ± —``."""
    return f"{mean:{fmt}} ± {std:{fmt}}" if n > 1 else f"{mean:{fmt}} ± —"


@dataclass
class Comparison:
    """The outcome of :func:`compare`: aggregated ``rows``, the ``dense`` baseline and every run."""

    rows: list[dict]
    dense: dict | None
    runs: list[dict]
    settings: dict
    wall_s: float = 0.0
    trainings: dict = field(default_factory=dict)  # dense_trainings, runs_trained (lottery_lab.sweep)

    def table(self) -> str:
        """Fixed-width text: per method and bin, the measured density and test accuracy (mean ± std)."""
        s = self.settings
        lines = [f"{s['data']} / {s['model']}: {count(s['epochs'], 'epoch')} per round, {plural(len(s['seeds']), 'seed')} "
                 f"{', '.join(map(str, s['seeds']))}; bin = nearest target density (log scale), "
                 f"density = measured mean ± std, std over seeds (ddof=0)",
                 f"{'method':<16}{'bin':>6}{'density':>18}{'test acc':>20}{'seeds':>7}"]
        if self.dense is not None:
            d = self.dense
            lines.append(f"{'dense':<16}{'100%':>6}{'100.00%':>18}"
                         f"{_pm(d['test_acc_mean'], d['test_acc_std'], d['n'], '.4f'):>20}{d['n']:>7}")
        for method in s["methods"]:
            for t in sorted(s["targets"], reverse=True):
                row = next((r for r in self.rows if r["method"] == method and r["target"] == t), None)
                head = f"{method:<16}{t:>6.0%}"
                if row is None:
                    lines.append(f"{head}{'not reached':>18}{'—':>20}{0:>7}")
                    continue
                dens = _pm(row["density_mean"], row["density_std"], row["n"], ".2%")
                acc = _pm(row["test_acc_mean"], row["test_acc_std"], row["n"], ".4f")
                lines.append(f"{head}{dens:>18}{acc:>20}{row['n']:>7}")
        return "\n".join(lines)

    def plot(self, ax=None, title: str | None = None, zoom: bool = False, legend: bool = True):
        """Test accuracy against measured density, mean ± std, one line per method (see plots.compare).

        ``zoom``: the accuracy axis from 8 points below the dense network up, where the methods that
        keep up with it are told apart.
        """
        from lottery_lab.plots.compare import accuracy_at_density

        s = self.settings
        ylim = None
        if zoom and self.dense is not None and self.rows:
            top = max(max(r["test_acc_mean"] + r["test_acc_std"] for r in self.rows), self.dense["test_acc_mean"])
            ylim = (self.dense["test_acc_mean"] - 0.08, top + 0.005)
        default = f"{s['data']} / {s['model']}, {count(s['epochs'], 'epoch')}, {count(len(s['seeds']), 'seed')}"
        return accuracy_at_density(self.rows, dense=self.dense, targets=s["targets"], ax=ax, ylim=ylim,
                                   legend=legend, title=title or default + (" (zoom)" if zoom else ""))

    def to_dict(self) -> dict:
        """JSON-ready: settings, the aggregated rows, the dense baseline and the runs."""
        return {"settings": self.settings, "rows": self.rows, "dense": self.dense, "runs": self.runs,
                "wall_s": self.wall_s, **self.trainings}


def compare(methods: Sequence[str] | None = None, *, data: str = "mnist5k", model: str = "mlp",
            targets: Sequence[float] | None = None, seeds: Sequence[int] | None = None,
            epochs: int | None = None, quick: bool = False, out_dir: str | None = "runs",
            recipes: Mapping[str, Sequence[Recipe]] | None = None,
            method_kw: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
            jobs: int = 1, executor: Any = None, threads: int | None = None, stats: Any = None,
            **config: Any) -> Comparison:
    """Play (or reuse) every method's runs and aggregate them at the target densities.

    Parameters
    ----------
    methods : method names (default: every registered method).
    data, model : registry names of the dataset and the model.
    targets : target densities in (0, 1) (default :data:`TARGETS`; quick: ``QUICK["targets"]``).
    seeds : seeds (default :data:`SEEDS`; quick: ``QUICK["seeds"]``).
    epochs : training epochs per round (default 10; quick: ``QUICK["epochs"]``).
    quick : the reduced setting; explicit ``targets``/``seeds``/``epochs`` still win.
    out_dir : where runs are stored and looked up (``None``: nothing stored, nothing reused).
    recipes : replaces :data:`RECIPES`; ``method_kw`` adds fixed arguments per method.
    progress : a ``tqdm.auto`` bar over the runs.
    jobs, executor, threads : run in parallel (see :func:`lottery_lab.sweep.run`); the distinct dense
        rounds are trained first, once each, and ``trainings["dense_trainings"]`` counts them.
    stats : a :class:`lottery_lab.sweep.Stats` to fill (trainings, CPU seconds per process).
    **config : other :class:`~lottery_lab.lottery.LotteryConfig` fields (``lr``, ``batch_size``,
        ``data_kw``, ``device`` …).
    """
    t0 = time.perf_counter()
    runs, rows = [], []
    with _folder(out_dir) as where:
        grid, settings = plan(methods, data=data, model=model, targets=targets, seeds=seeds, epochs=epochs,
                              quick=quick, out_dir=where, recipes=recipes, method_kw=method_kw, **config)
        settings["out_dir"] = out_dir
        from lottery_lab import sweep  # the runs in parallel (jobs/executor), each dense round trained once

        stats = sweep.Stats() if stats is None else stats
        done = sweep.run([e.config for e in grid], jobs=jobs, executor=executor, threads=threads, progress=progress,
                         stats=stats, task=reach_task, items=[(e, min(settings["targets"])) for e in grid],
                         finished=reach_finished, costs=reach_cost)
        for entry, (result_rows, result_dir, trained) in zip(grid, done):
            c = entry.config
            rows.extend(result_rows)
            runs.append({"method": c.method, "seed": c.seed, "target": entry.target, "method_kw": c.method_kw,
                         "recipe": entry.recipe.describe(), "trained": trained, "rows": result_rows,
                         "run_dir": None if out_dir is None else result_dir})
    targets = settings["targets"]
    return Comparison(aggregate(rows, targets), dense_baseline(rows), runs, settings, time.perf_counter() - t0,
                      {"dense_trainings": stats.dense_trainings, "runs_trained": sum(r["trained"] for r in runs)})


def plan(methods: Sequence[str] | None = None, *, data: str = "mnist5k", model: str = "mlp",
         targets: Sequence[float] | None = None, seeds: Sequence[int] | None = None, epochs: int | None = None,
         quick: bool = False, out_dir: str | None = "runs", recipes: Mapping[str, Sequence[Recipe]] | None = None,
         method_kw: Mapping[str, Mapping[str, Any]] | None = None, **config: Any) -> tuple[list[Planned], dict]:
    """``(grid, settings)``: the runs :func:`compare` plays with these arguments (their first rounds) and
    the settings it reports, every config checked; nothing is played (``lottery-lab compare --dry-run``)."""
    from lottery_lab import data as data_lib

    if data not in data_lib.names():
        raise invalid("data", data, f"one of the registered datasets: {', '.join(data_lib.names())}")
    base = QUICK if quick else {}
    targets = tuple(base.get("targets", TARGETS) if targets is None else targets)
    seeds = tuple(base.get("seeds", SEEDS) if seeds is None else seeds)
    epochs = base.get("epochs", 10) if epochs is None else epochs
    grid = build_grid(methods, targets, seeds, recipes=recipes, method_kw=method_kw, data=data, model=model,
                      epochs=epochs, out_dir=out_dir, progress=False, **config)
    names = list(dict.fromkeys(p.config.method for p in grid))
    settings = {"data": data, "model": model, "methods": names, "targets": list(targets), "seeds": list(seeds),
                "epochs": epochs, "out_dir": out_dir, "config": dict(config),
                "recipes": {p.config.method: p.recipe.describe() for p in grid}}
    return grid, settings


# sweep tasks (module level: worker processes import them by name) ------------------------------

def reach_finished(arg) -> bool:
    """Whether a compare grid entry ``(entry, floor)`` is complete on disk (see :func:`lottery_lab.compare.reach`)."""
    entry, floor = arg
    stored = _stored_rows(entry.config)
    if entry.recipe.knob is not None:
        return len(stored) >= entry.config.rounds + 1
    return _stop_round(stored, floor, entry.recipe.max_rounds) is not None


def reach_cost(arg) -> float:
    """A grid entry's expected length for :func:`lottery_lab.sweep.run` (longest first): a rounds recipe
    may play up to its ``max_rounds``, a knob recipe plays its config's rounds."""
    from lottery_lab.sweep.core import cost

    entry, _ = arg
    rounds = entry.config.rounds if entry.recipe.knob is not None else entry.recipe.max_rounds
    return cost(replace(entry.config, rounds=rounds))


def reach_task(arg):
    """A worker's share of :func:`lottery_lab.compare.compare`: ``(entry, floor)`` → ``(rows, run_dir, trained)``."""
    from lottery_lab.lottery import run_dir
    from lottery_lab.sweep.core import claim

    entry, floor = arg
    where = run_dir(entry.config)
    with contextlib.nullcontext() if where is None else claim(where):  # "trained" counted under the lock
        result, trained = reach(entry, floor)
    return result.rows, None if result.run_dir is None else str(result.run_dir), trained

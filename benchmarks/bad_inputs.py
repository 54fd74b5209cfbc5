"""The bad-input table: hundreds of wrong inputs to the CLI and the API, none silently accepted.

Every case must end in a clear error before any work:

- API cases: a ``TypeError`` or ``ValueError`` whose message names the argument (a regex per case);
  anything else — accepted, another exception, a message that does not say what was wrong, past the
  time limit — is a failure.
- CLI cases (``python -m lottery_lab.cli ARGS`` in a fresh folder, one subprocess each): exit code 2,
  one ``error:`` line on stderr, no traceback, within the time limit, and the folder left as it was
  (a rejected command writes nothing). ``--in-process`` calls ``cli.main`` instead (what the test
  suite does for a subset: seconds instead of minutes).

Prints one row per case (case, where, outcome, message) and a summary line; exits 1 on any failure.

    python benchmarks/bad_inputs.py                 # everything, CLI in subprocesses, 2 at a time
    python benchmarks/bad_inputs.py --only api      # the API cases (seconds)
    python benchmarks/bad_inputs.py --jobs 4 --timeout 120
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]

#: the smallest real run: synthetic data, one epoch, one round (the report cases need a run folder)
TINY = ("--data", "synthetic", "--data-kw", '{"n_train": 64}', "--model-kw", '{"width": 0.05}', "--epochs", "1",
        "--rounds", "1", "--no-progress", "--device", "cpu")


@dataclass(frozen=True)
class ApiCase:
    """``call()`` must raise TypeError/ValueError whose message matches ``names`` (case-insensitive)."""

    name: str
    call: Callable[[], Any]
    names: str


@dataclass(frozen=True)
class CliCase:
    """``lottery-lab ARGV`` in a fresh folder (after ``setup(folder)``): exit 2, one error line.

    ``expect``: a regex the error line must match; ``may_write``: the command fails after real work
    (a training that diverges), so files it wrote are allowed.
    """

    name: str
    argv: tuple[str, ...]
    expect: str = ""
    setup: Callable[[Path], None] | None = None
    may_write: bool = False


@dataclass
class Outcome:
    case: str
    where: str
    ok: bool
    outcome: str
    message: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------- API cases

def _config(**kw):
    from lottery_lab.lottery import LotteryConfig

    return lambda: LotteryConfig(**{"out_dir": None, **kw})


def _method(name: str, **kw):
    from lottery_lab import methods

    return lambda: methods.get(name, **kw)


def api_cases() -> list[ApiCase]:
    """The API cases: config fields, every method's arguments, masks, data, models, penalties, convex, grading."""
    import numpy as np
    import torch

    from lottery_lab import data, grading, masks, methods, models, penalties
    from lottery_lab.convex import MaskProblem, solve_pgd
    from lottery_lab.theory import subset_sum
    from lottery_lab.train import TrainConfig

    nan, inf = float("nan"), float("inf")
    cases: list[ApiCase] = []
    add = cases.append
    bad_fields = {
        "rounds": [0, -1, True, 1.5, "3", None], "epochs": [0, -2, True, 2.0, "10", None],
        "iterations": [0, -5, True, 1.5, "100"], "batch_size": [0, True, "128", 1.5, None],
        "lr": [0, -1.0, inf, nan, "0.1", True, None], "momentum": [1.0, -0.1, "0.9", True, nan],
        "weight_decay": [-1.0, nan, "0", True], "milestones": [0.5, (1.5,), (0.0,), "0.5", (0.5, "x"), (nan,)],
        "gamma": [0.0, 2.0, "0.1", True, nan], "rewind_iter": [-1, True, 1.5, "0"],
        "reinit": ["false", 1, None], "seed": [1.5, "0", True, None], "device": ["gpu", 3, "cuda0"],
        "amp": ["no", 0, None], "compile": ["yes", 1], "progress": ["false", 0],
        "out_dir": [3, ["runs"]], "method": ["nope", 3], "model": ["alexnet", None],
        "optimizer": ["lbfgs", None], "schedule": ["linear", 1],
        "method_kw": ["x", {"nope": 1}, {"prune_fraction": 1.5}, {"prune_fraction": "0.5"}],
        "model_kw": [{"widht": 0.5}, {"width": -1}, {"width": True}, {"width": "0.5"}, "x"],
        "data_kw": [{"foo": 1}, "x", {"n_trian": 5}],
    }
    for name, values in bad_fields.items():
        for v in values:
            arg = {"method_kw": "prune_fraction|nope|method_kw", "model_kw": "width|widht|model_kw",
                   "data_kw": "foo|n_trian|data_kw"}.get(name, name)
            add(ApiCase(f"LotteryConfig({name}={v!r})", _config(**{name: v}), arg))
    add(ApiCase("LotteryConfig(rewind_iter=10, iterations=10)", _config(rewind_iter=10, iterations=10), "rewind_iter"))
    add(ApiCase("LotteryConfig(iterations=0, rewind_iter=0)", _config(iterations=0), "iterations"))
    add(ApiCase("LotteryConfig.from_dict(unknown field)",
                lambda: __import__("lottery_lab.lottery").lottery.LotteryConfig.from_dict({"lrr": 0.1}), "lrr"))

    for name in methods.names():
        for arg, default in methods.defaults(name).items():
            if arg in ("penalty", "penalty_kw"):
                continue
            if isinstance(default, bool):
                bad = ["false", "no", 1, None]
            elif default is None:
                bad = ["5", True]
            else:
                bad = ["0.5", True, nan, None]
            for v in bad:
                add(ApiCase(f"methods.get({name!r}, {arg}={v!r})", _method(name, **{arg: v}), arg))
    add(ApiCase("methods.get('nope')", _method("nope"), "nope"))
    add(ApiCase("methods.get('imp', lam=1)", _method("imp", lam=1), "lam"))
    add(ApiCase("methods.get('concave', penalty='l2')", _method("concave", penalty="l2"), "l2|penalty"))
    add(ApiCase("methods.get('rvsm', penalty='log', target_density=0.1)",
                _method("rvsm", penalty="log", target_density=0.1), "target_density|penalty"))

    add(ApiCase("masks.density({})", lambda: masks.density({}), "masks"))
    add(ApiCase("masks.density(list)", lambda: masks.density([torch.ones(3)]), "masks"))
    add(ApiCase("masks.density(empty tensor)", lambda: masks.density({"a": torch.zeros(0)}), "masks"))

    for kw, arg in [(dict(epochs=True), "epochs"), (dict(momentum=True), "momentum"), (dict(lr="0.1"), "lr"),
                    (dict(amp="false"), "amp"), (dict(progress="no"), "progress"), (dict(milestones=0.5), "milestones"),
                    (dict(optimizer="rmsprop"), "optimizer"), (dict(iterations=True), "iterations")]:
        add(ApiCase(f"TrainConfig({kw})", lambda kw=kw: TrainConfig(**kw), arg))

    for kw, arg in [(dict(name="nope"), "nope|name"), (dict(name="synthetic", split="train"), "split"),
                    (dict(name="synthetic", val_fraction=0.0), "val_fraction"),
                    (dict(name="synthetic", val_fraction=1.0), "val_fraction"),
                    (dict(name="synthetic", n_train=0), "n_train"),
                    (dict(name="synthetic", n_train=10 ** 9), "n_train")]:
        add(ApiCase(f"data.get({kw})", lambda kw=kw: data.get(**kw), arg))
    x = torch.zeros(4, 3)
    add(ApiCase("data.from_tensors(lengths differ)",
                lambda: data.from_tensors(x, torch.zeros(3, dtype=torch.long), x, torch.zeros(4, dtype=torch.long)),
                "y_train|length|X_train"))

    for kw, arg in [(dict(name="nope", input_shape=(3,), num_classes=2), "nope|name"),
                    (dict(name="mlp", input_shape=(3,), num_classes=2, width=0), "width"),
                    (dict(name="mlp", input_shape=(3,), num_classes=2, widht=1), "widht"),
                    (dict(name="mlp", input_shape=(3,), num_classes=1), "num_classes"),
                    (dict(name="mlp", input_shape=(), num_classes=2), "input_shape")]:
        add(ApiCase(f"models.get({kw})", lambda kw=kw: models.get(**kw), arg))

    for name, kw, arg in [("nope", {}, "nope"), ("log", {"eps": 0}, "eps"), ("log", {"eps": nan}, "eps"),
                          ("lp", {"p": 1.5}, "p"), ("scad", {"a": 1}, "a"), ("l1", {"eps": 1}, "eps"),
                          ("log", {"eps": "0.1"}, "eps")]:
        add(ApiCase(f"penalties.get({name!r}, {kw})", lambda n=name, kw=kw: penalties.get(n, **kw), arg))

    X, y, theta = np.ones((4, 2)), np.array([0, 1, 0, 1]), np.zeros(2)
    Xn = X.copy()
    Xn[0, 0] = nan
    prob = MaskProblem(X, y, theta)
    for label, fn, arg in [
        ("MaskProblem(X with NaN)", lambda: MaskProblem(Xn, y, theta), "X"),
        ("MaskProblem(y = 0, 1, 2)", lambda: MaskProblem(X, np.array([0, 1, 2, 1]), theta), "y"),
        ("MaskProblem(theta wrong shape)", lambda: MaskProblem(X, y, np.zeros(3)), "theta"),
        ("MaskProblem(ridge=-1)", lambda: MaskProblem(X, y, theta, ridge=-1.0), "ridge"),
        ("solve_pgd(lam=-1)", lambda: solve_pgd(prob, "l1", -1.0), "lam"),
        ("solve_pgd(lam=nan)", lambda: solve_pgd(prob, "l1", nan), "lam"),
        ("solve_pgd(max_iter=0)", lambda: solve_pgd(prob, "l1", 0.1, max_iter=0), "max_iter"),
        ("solve_pgd(tol=-1)", lambda: solve_pgd(prob, "l1", 0.1, tol=-1.0), "tol"),
        ("subset_sum.best_subset(k=-1)", lambda: subset_sum.best_subset(np.ones(4), 1.0, k=-1), "k"),
        ("grading.check(seed=-1)", lambda: grading.check("convex.log_penalty", abs, seed=-1), "seed"),
        ("grading.check(seed=1.5)", lambda: grading.check("convex.log_penalty", abs, seed=1.5), "seed"),
        ("grading.check(task 3)", lambda: grading.check(3, abs), "task_id"),
        ("grading.check('convex.nope')", lambda: grading.check("convex.nope", abs), "convex.nope"),
        ("grading.tasks('physics')", lambda: grading.tasks("physics"), "chapter"),
    ]:
        add(ApiCase(label, fn, arg))
    return cases


def run_api(case: ApiCase, limit: float) -> Outcome:
    """Call the case under a SIGALRM time limit (these are library calls, not adversarial code)."""
    def on_alarm(signum, frame):
        raise TimeoutError

    t0 = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        case.call()
    except TimeoutError:
        return Outcome(case.name, "api", False, "TIMEOUT", f"still running after {limit:g} s", limit)
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        ok = re.search(case.names, message, re.IGNORECASE) is not None
        return Outcome(case.name, "api", ok, type(exc).__name__ if ok else "VAGUE", message,
                       time.perf_counter() - t0)
    except Exception as exc:  # the wrong kind of error is a finding, reported as a row
        return Outcome(case.name, "api", False, f"WRONG {type(exc).__name__}", " ".join(str(exc).split()),
                       time.perf_counter() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(case.name, "api", False, "ACCEPTED", "no error", time.perf_counter() - t0)


# ------------------------------------------------------------------------------------- CLI cases

def _file(name: str, text: str = "not a folder\n") -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return setup


def _json_file(name: str, obj: Any) -> Callable[[Path], None]:
    return _file(name, json.dumps(obj))


def _run_folder(damage: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """Copy the campaign's tiny run into ``folder/run`` (then ``damage`` it)."""
    def setup(folder: Path) -> None:
        shutil.copytree(_TINY_RUN[0], folder / "run")
        if damage is not None:
            damage(folder / "run")
    return setup


_TINY_RUN: list[Path] = []


def make_tiny_run(where: Path) -> Path:
    """Play the smallest real run once (a few seconds) for the report cases."""
    from lottery_lab import cli

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["run", *TINY, "--out-dir", str(where), "--json"]) == 0
    found = [p for p in where.iterdir() if (p / "config.json").exists()] if where.exists() else []
    _TINY_RUN[:] = found[:1]
    return found[0]


def cli_cases() -> list[CliCase]:
    """Bad command lines for every subcommand: options, config files, output paths, run folders."""
    c: list[CliCase] = []
    add = c.append
    run = ("run", *TINY)
    for opt, value, expect in [
        ("--rounds", "0", "rounds"), ("--rounds", "x", "rounds|int"), ("--rounds", "1.5", "rounds|int"),
        ("--epochs", "0", "epochs"), ("--epochs", "1.5", "epochs|int"), ("--iterations", "0", "iterations"),
        ("--iterations", "-3", "iterations"), ("--batch-size", "0", "batch_size"), ("--lr", "-1", "lr"),
        ("--lr", "nan", "lr"), ("--lr", "inf", "lr"), ("--lr", "x", "lr|float"), ("--momentum", "1", "momentum"),
        ("--momentum", "-0.5", "momentum"), ("--weight-decay", "-1", "weight_decay"), ("--gamma", "0", "gamma"),
        ("--gamma", "2", "gamma"), ("--milestones", "1.5", "milestones"), ("--milestones", "x", "milestones"),
        ("--milestones", "0.5,2", "milestones"), ("--milestones", '{"a": 1}', "milestones"),
        ("--rewind-iter", "-1", "rewind_iter"), ("--rewind-iter", "x", "rewind|int"),
        ("--seed", "x", "seed|int"), ("--seed", "1.5", "seed|int"), ("--device", "gpu", "device"),
        ("--optimizer", "lbfgs", "optimizer"), ("--schedule", "linear", "schedule"),
        ("--method", "nope", "method"), ("--model", "alexnet", "model"), ("--data", "nope", "data"),
        ("--method-kw", "notjson", "method-kw|JSON"), ("--method-kw", "[1]", "method-kw|JSON"),
        ("--method-kw", '{"lam": 1}', "lam"), ("--method-kw", '{"prune_fraction": 1.5}', "prune_fraction"),
        ("--method-kw", '{"prune_fraction": "0.5"}', "prune_fraction"),
        ("--model-kw", '{"widht": 0.5}', "widht"), ("--model-kw", '{"width": 0}', "width"),
        ("--model-kw", '{"hidden": "abc"}', "hidden|model|fit"),
        ("--data-kw", '{"foo": 1}', "foo"), ("--data-kw", '{"split": "train"}', "split"),
        ("--data-kw", '{"n_train": 0}', "n_train"), ("--data-kw", "x", "data-kw|JSON"),
    ]:
        argv = list(run)
        if opt in argv:  # replace TINY's value
            i = argv.index(opt)
            argv[i + 1] = value
        else:
            argv += [opt, value]
        add(CliCase(f"run {opt} {value}", tuple(argv), expect))
    for method, kw, expect in [("l0", '{"per_layer": "false"}', "per_layer"),
                               ("l0", '{"dual_restarts": "no"}', "dual_restarts"),
                               ("concave", '{"epochs": true}', "epochs"), ("cs", '{"s_init": "0.5"}', "s_init"),
                               ("rvsm", '{"penalty": "log", "target_density": 0.1}', "target_density"),
                               ("edge_popup", '{"keep": 0}', "keep"), ("synflow", '{"iterations": 0}', "iterations")]:
        add(CliCase(f"run --method {method} --method-kw {kw}", (*run, "--method", method, "--method-kw", kw), expect))
    add(CliCase("run conv model on flat data", (*run, "--model", "conv2"), "fit|shape|conv2"))
    add(CliCase("run --iterations 5 --rewind-iter 5", (*run, "--iterations", "5", "--rewind-iter", "5"), "rewind_iter"))
    tiny_config = {"data": "synthetic", "data_kw": {"n_train": 64}, "model_kw": {"width": 0.05}, "epochs": 1,
                   "rounds": 1, "device": "cpu", "progress": False}
    for name, obj, expect in [("milestones.json", {"milestones": 0.5}, "milestones"),
                              ("momentum.json", {"momentum": "0.9"}, "momentum"),
                              ("unknown.json", {"lrr": 0.1}, "lrr"), ("epochs.json", {"epochs": True}, "epochs"),
                              ("reinit.json", {"reinit": "false"}, "reinit"), ("device.json", {"device": "tpu"}, "device"),
                              ("kw.json", {"method_kw": [1]}, "method_kw"), ("bs.json", {"batch_size": "64"}, "batch_size"),
                              ("iters.json", {"iterations": 0}, "iterations"), ("lr.json", {"lr": None}, "lr")]:
        add(CliCase(f"run --config {name}", ("run", "--config", name), expect,
                    setup=_json_file(name, {**tiny_config, **obj})))
    add(CliCase("run --config list.json", ("run", "--config", "list.json"), "JSON object", setup=_json_file("list.json", [1])))
    add(CliCase("run --config missing.json", (*run, "--config", "missing.json"), "missing.json"))
    add(CliCase("run --config not JSON", (*run, "--config", "bad.json"), "bad.json", setup=_file("bad.json", "{oops")))
    add(CliCase("run --out-dir names a file", (*run, "--out-dir", "afile"), "afile", setup=_file("afile")))
    add(CliCase("run --out-dir under a file", (*run, "--out-dir", "afile/runs"), "afile", setup=_file("afile")))
    add(CliCase("run --plot into a file's folder", (*run, "--out-dir", "none", "--plot", "afile/p.png"), "afile",
                setup=_file("afile")))
    add(CliCase("run --plot names a folder", (*run, "--out-dir", "none", "--plot", "adir"), "adir",
                setup=lambda f: (f / "adir").mkdir()))
    add(CliCase("run --plot with an unknown file type", (*run, "--out-dir", "none", "--plot", "p.xyz"), "xyz|type"))
    add(CliCase("run --plot without a file type", (*run, "--out-dir", "none", "--plot", "plot"), "type"))
    add(CliCase("run --plot under /proc", (*run, "--out-dir", "none", "--plot", "/proc/lottery/p.png"), "proc"))
    add(CliCase("run --lr 1e20 diverges (mnist5k)", ("run", "--data-kw", '{"n_train": 256}', "--epochs", "1", "--rounds",
                                                     "1", "--no-progress", "--lr", "1e20"), "diverged", may_write=True))
    add(CliCase("run --download on an offline dataset with bad root", (*run, "--download", "--data-kw",
                                                                       '{"root": 5}'), "root"))

    report = ("report",)
    add(CliCase("report of a missing folder", (*report, "nope"), "nope"))
    add(CliCase("report of a folder without config.json", (*report, "adir"), "config.json",
                setup=lambda f: (f / "adir").mkdir()))
    add(CliCase("report: config.json is not JSON", (*report, "run"), "config.json",
                setup=_run_folder(lambda r: (r / "config.json").write_text("{not json"))))
    add(CliCase("report: config.json is a JSON list", (*report, "run"), "config.json",
                setup=_run_folder(lambda r: (r / "config.json").write_text("[1, 2]"))))
    add(CliCase("report: config.json without 'config'", (*report, "run"), "config",
                setup=_run_folder(lambda r: (r / "config.json").write_text('{"hash": "x"}'))))
    add(CliCase("report --by nope", (*report, "run", "--by", "nope"), "nope", setup=_run_folder()))
    add(CliCase("report --plot into a file's folder", (*report, "run", "--plot", "afile/r.png"), "afile",
                setup=lambda f: (_run_folder()(f), _file("afile")(f))))
    add(CliCase("report --plot with an unknown type", (*report, "run", "--plot", "r.xyz"), "xyz|type",
                setup=_run_folder()))
    add(CliCase("report with no RUN_DIR", report, "RUN_DIR|arguments"))

    compare = ("compare", "--quick", "--data", "synthetic", "--no-progress")
    for opt, value, expect in [
        ("--methods", "nope", "nope"), ("--methods", ",", "methods"), ("--targets", "0", "targets|interval"),
        ("--targets", "1.5", "targets|interval"), ("--targets", "x", "targets"), ("--seeds", "x", "seeds"),
        ("--epochs", "0", "epochs|>= 1"), ("--batch-size", "0", ">= 1"), ("--lr", "x", "lr|float"),
        ("--lr", "-1", "lr"), ("--data-kw", "x", "data-kw"), ("--data-kw", '{"foo": 1}', "foo"),
        ("--method-kw", '{"l0": {"per_layer": "false"}}', "per_layer"), ("--method-kw", "[1]", "method-kw"),
        ("--data", "nope", "nope|data"), ("--model", "alexnet", "alexnet|model"), ("--device", "gpu", "device"),
        ("--threads", "0", ">= 1"), ("--threads", "x", "threads|int"),
    ]:
        add(CliCase(f"compare {opt} {value}", (*compare, opt, value), expect))
    add(CliCase("compare --out-dir names a file", (*compare, "--out-dir", "afile"), "afile", setup=_file("afile")))
    add(CliCase("compare --plot unknown type", (*compare, "--plot", "c.xyz"), "xyz|type"))
    add(CliCase("compare --csv names a folder", (*compare, "--csv", "adir"), "adir", setup=lambda f: (f / "adir").mkdir()))
    add(CliCase("compare --csv into a file's folder", (*compare, "--csv", "afile/c.csv"), "afile", setup=_file("afile")))

    for argv, expect, setup in [
        (("convex", "--pair", "3", "3"), "differ|pair", None), (("convex", "--pair", "3", "10"), r"\[0, 9\]|pair", None),
        (("convex", "--pair", "a", "b"), "pair|int", None), (("convex", "--seed", "x"), "seed|int", None),
        (("convex", "--quick", "--out", "afile"), "afile", _file("afile")),
        (("convex", "--quick", "--out", "afile/sub"), "afile", _file("afile")),
        (("assignments", "build", "out", "--source", "nope"), "nope", None),
        (("assignments", "build", "afile", "--source", str(ROOT / "notebooks" / "assignments")), "afile",
         _file("afile")),
        (("assignments", "build", "src", "--source", "src"), "src", lambda f: (f / "src").mkdir()),
        (("assignments", "tag", "nope"), "nope", None), (("assignments", "list", "--chapter", "nope"), "chapter", None),
        (("demo", "--out", "afile"), "afile", _file("afile")), (("demo", "--threads", "0"), ">= 1", None),
        (("demo", "--threads", "x"), "threads|int", None), (("nope",), "invalid choice|nope", None),
        (("run", "--no-such-option"), "unrecognized", None),
    ]:
        add(CliCase(" ".join(argv), tuple(argv), expect, setup=setup))
    return c


def mount_cases(full: Path, read_only: Path) -> list[CliCase]:
    """Cases on real filesystems: a tiny tmpfs that fills up, a read-only tmpfs (root only: they are mounted)."""
    run = ("run", *TINY)
    return [
        CliCase("run --out-dir on a full disk", (*run, "--out-dir", str(full / "runs")), "No space left.*full"),
        CliCase("run --out-dir on a read-only disk", (*run, "--out-dir", str(read_only / "runs")), "cannot write|read-only"),
        CliCase("run --plot on a read-only disk", (*run, "--out-dir", "none", "--plot", str(read_only / "p.png")),
                "cannot write|read-only"),
        CliCase("compare --out-dir on a read-only disk", ("compare", "--quick", "--out-dir", str(read_only)),
                "cannot write|read-only"),
        CliCase("demo --out on a read-only disk", ("demo", "--quick", "--out", str(read_only / "demo")),
                "cannot write|read-only"),
        CliCase("convex --out on a read-only disk", ("convex", "--quick", "--out", str(read_only / "c")),
                "cannot write|read-only"),
        CliCase("assignments build on a read-only disk", ("assignments", "build", str(read_only / "a")),
                "cannot write|read-only"),
    ]


@contextlib.contextmanager
def mounted_tmpfs(parent: Path):
    """(full, read_only): a 8 KiB tmpfs and a read-only tmpfs under ``parent``; None where mounting fails."""
    full, read_only = parent / "full", parent / "ro"
    full.mkdir()
    read_only.mkdir()
    mounted = []
    try:
        for where, options in ((full, "size=8k"), (read_only, "ro,size=64k")):
            if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True).returncode != 0:
                yield None
                return
            mounted.append(where)
        yield full, read_only
    finally:
        for where in mounted:
            subprocess.run(["umount", str(where)], capture_output=True)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def _judge_cli(case: CliCase, rc: int | None, err: str, before: dict, after: dict, seconds: float,
               limit: float) -> Outcome:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    message = errors[-1] if errors else (lines[-1] if lines else "")
    if rc is None:
        return Outcome(case.name, "cli", False, "TIMEOUT", f"still running after {limit:g} s", seconds)
    if "Traceback" in err:
        return Outcome(case.name, "cli", False, "TRACEBACK", lines[-1] if lines else "", seconds)
    if rc == 0:
        return Outcome(case.name, "cli", False, "ACCEPTED", "exit code 0", seconds)
    if rc != 2 or len(errors) != 1:
        return Outcome(case.name, "cli", False, f"EXIT {rc}", f"{len(errors)} error lines: {message}", seconds)
    if case.expect and not re.search(case.expect, message, re.IGNORECASE):
        return Outcome(case.name, "cli", False, "VAGUE", message, seconds)
    if after != before and not case.may_write:
        written = sorted(set(after) - set(before)) or sorted(k for k in after if after[k] != before.get(k))
        return Outcome(case.name, "cli", False, "WROTE", f"{', '.join(written[:3])} ({message})", seconds)
    return Outcome(case.name, "cli", True, "exit 2", message, seconds)


def run_cli(case: CliCase, limit: float, in_process: bool) -> Outcome:
    """Run one CLI case in a fresh temporary folder; judge exit code, stderr and what was written."""
    with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
        folder = Path(tmp)
        if case.setup is not None:
            case.setup(folder)
        before = _snapshot(folder)
        t0 = time.perf_counter()
        if in_process:
            rc, err = _in_process(case.argv, folder, limit)
        else:
            env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
            try:
                proc = subprocess.run([sys.executable, "-m", "lottery_lab.cli", *case.argv], cwd=folder, env=env,
                                      capture_output=True, text=True, timeout=limit, stdin=subprocess.DEVNULL)
                rc, err = proc.returncode, proc.stderr
            except subprocess.TimeoutExpired as exc:
                rc, err = None, exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        seconds = time.perf_counter() - t0
        return _judge_cli(case, rc, err, before, _snapshot(folder), seconds, limit)


def _in_process(argv: tuple[str, ...], folder: Path, limit: float) -> tuple[int | None, str]:
    """``cli.main(argv)`` in ``folder``: (exit code, stderr); an exception escaping is a traceback."""
    import traceback

    from lottery_lab import cli

    def on_alarm(signum, frame):
        raise TimeoutError

    err, cwd = io.StringIO(), os.getcwd()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc: int | None = cli.main(list(argv))
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except TimeoutError:
        rc = None
    except BaseException:
        err.write(traceback.format_exc())
        rc = 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    return rc, err.getvalue()


# ---------------------------------------------------------------------------------------- report

def print_table(outcomes: list[Outcome]) -> None:
    width = min(60, max(len(o.case) for o in outcomes))
    print(f"{'case':<{width}}  {'where':<5}  {'outcome':<12}  message")
    for o in outcomes:
        case = o.case if len(o.case) <= width else o.case[:width - 1] + "…"
        message = o.message if len(o.message) <= 110 else o.message[:109] + "…"
        print(f"{case:<{width}}  {o.where:<5}  {o.outcome:<12}  {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("api", "cli"), help="run only one kind of case")
    parser.add_argument("--jobs", type=int, default=2, help="CLI subprocesses at a time (default: 2)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per CLI case (default: 120)")
    parser.add_argument("--api-timeout", type=float, default=20.0, help="seconds per API case (default: 20)")
    parser.add_argument("--in-process", action="store_true", help="CLI cases via cli.main instead of subprocesses")
    parser.add_argument("--match", default="", help="only cases whose name contains this text")
    parser.add_argument("--mounts", action="store_true",
                        help="also a full disk and a read-only disk (mounts two tmpfs: needs root)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    outcomes: list[Outcome] = []
    if args.only != "cli":
        outcomes += [run_api(c, args.api_timeout) for c in api_cases() if args.match in c.name]
    if args.only != "api":
        with tempfile.TemporaryDirectory(prefix="bad-input-run-") as tmp, \
                mounted_tmpfs(Path(tmp)) if args.mounts else contextlib.nullcontext() as mounts:
            make_tiny_run(Path(tmp) / "tiny")
            if args.mounts and mounts is None:
                print("(could not mount tmpfs: the full-disk and read-only cases are left out)")
            extra = mount_cases(*mounts) if mounts else []
            cases = [c for c in cli_cases() + extra if args.match in c.name]
            if args.in_process:
                outcomes += [run_cli(c, args.timeout, True) for c in cases]
            else:
                with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                    outcomes += list(pool.map(lambda c: run_cli(c, args.timeout, False), cases))
    wall = time.perf_counter() - t0
    print_table(outcomes)
    failed = [o for o in outcomes if not o.ok]
    n_api = sum(o.where == "api" for o in outcomes)
    cli_times = sorted(o.seconds for o in outcomes if o.where == "cli")
    median = cli_times[len(cli_times) // 2] if cli_times else math.nan
    print(f"\n{len(outcomes)} bad inputs ({n_api} API, {len(outcomes) - n_api} CLI"
          f"{' in-process' if args.in_process else f' subprocesses, {args.jobs} at a time'}): "
          f"{len(outcomes) - len(failed)} rejected cleanly, {len(failed)} failed "
          f"({', '.join(sorted({o.outcome for o in failed})) or 'none'}); CLI median {median:.1f} s, "
          f"slowest {max(cli_times, default=math.nan):.1f} s; wall {wall:.0f} s, torch threads 1, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""One set of conventions across ``lottery-lab``'s commands: one error handler, ``--out-dir`` (``--out`` its
alias), ``--device auto``, compare's options generated from LotteryConfig as run's are (checked through
``compare --dry-run --json`` against configs built by hand), atomic outputs, figures without pyplot."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lottery_lab import cli
from lottery_lab.config import LotteryConfig

QUICK = ["compare", "--quick", "--data", "synthetic", "--no-progress"]


def _subparsers(parser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _error(capsys, argv) -> str:
    """``lottery-lab ARGV`` must exit 2 (SystemExit, as argparse's own errors) with one ``error:`` line
    (argparse puts its usage above the errors it finds itself); that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert exc.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    return errors[0].strip()


@pytest.fixture
def no_training(monkeypatch):
    from lottery_lab import lottery

    def play(*args, **kwargs):
        raise AssertionError("play() was called")

    monkeypatch.setattr(lottery, "play", play)


# ------------------------------------------------------------------------------- one error handler

@pytest.mark.parametrize("argv, prog, words", [
    (["run", "--data", "synthetic", "--rounds", "0", "--out-dir", "none"], "lottery-lab run", "rounds=0"),
    ([*QUICK, "--data", "nope"], "lottery-lab compare", "data='nope' must be one of the registered datasets"),
    (["demo", "--out-dir", "{afile}"], "lottery-lab demo", "is a file, not a folder"),
    (["convex", "--pair", "3", "3", "--quick"], "lottery-lab convex", "different"),
    (["report", "{tmp}/nowhere"], "lottery-lab report", "is not a run directory"),
    (["assignments", "list", "--chapter", "nope"], "lottery-lab assignments list", "nope"),
    (["sweep", "{tmp}/missing.toml"], "lottery-lab sweep", "no such file"),
])
def test_every_command_reports_its_errors_through_the_one_handler(argv, prog, words, tmp_path, capsys,
                                                                  no_training):
    (tmp_path / "afile").write_text("x")
    argv = [a.format(afile=tmp_path / "afile", tmp=tmp_path) for a in argv]
    line = _error(capsys, argv)
    assert line.startswith(f"{prog}: error: ") and words in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]           # nothing written


# ------------------------------------------------------------------------------- --out-dir, --out

def test_every_command_that_writes_a_folder_takes_out_dir_and_out_is_its_alias(tmp_path):
    parsers = _subparsers(cli.build_parser())
    for command in ("demo", "run", "compare", "convex", "sweep"):
        assert "--out-dir" in parsers[command].format_help(), command
    parser = cli.build_parser()
    for command, extra in (("demo", []), ("convex", []), ("compare", [])):
        for option in ("--out-dir", "--out"):
            args = parser.parse_args([command, *extra, option, str(tmp_path / "x")])
            assert args.out_dir == str(tmp_path / "x"), (command, option)
        assert "--out is an alias of --out-dir" in " ".join(parsers[command].format_help().split())


def test_convex_out_alias_writes_there_without_pyplot(tmp_path):
    """The convex command draws on Figure(): in a fresh interpreter it never imports pyplot."""
    code = ("import sys, json\nfrom lottery_lab import cli\n"
            f"rc = cli.main(['convex', '--quick', '--json', '--out', {str(tmp_path)!r}])\n"
            "print(json.dumps([rc, 'matplotlib.pyplot' in sys.modules]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [0, False]
    assert {"accuracy_vs_density.png", "objective_traces.png", "results.json"} <= {p.name for p in tmp_path.iterdir()}
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- compare's options from the config

def _dry_run(capsys, argv) -> dict:
    capsys.readouterr()
    assert cli.main([*QUICK, "--dry-run", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_compare_takes_every_config_field_it_does_not_set_itself():
    from lottery_lab.cli.compare import OWN_FIELDS

    text = _subparsers(cli.build_parser())["compare"].format_help()
    for f in dataclasses.fields(LotteryConfig):
        assert ("--" + f.name.replace("_", "-") in text) or f.name in OWN_FIELDS, f.name
    for name in ("optimizer", "momentum", "schedule", "weight_decay", "rewind_iter", "model_kw", "device"):
        assert name not in OWN_FIELDS


def test_compare_options_reach_every_planned_config(tmp_path, capsys, no_training):
    out = _dry_run(capsys, ["--methods", "imp,l0", "--out-dir", str(tmp_path / "runs"), "--optimizer", "adam",
                            "--momentum", "0.5", "--schedule", "step", "--weight-decay", "0.0001",
                            "--rewind-iter", "3", "--model-kw", '{"width": 0.5}', "--batch-size", "64"])
    fields = dict(optimizer="adam", momentum=0.5, schedule="step", weight_decay=1e-4, rewind_iter=3,
                  model_kw={"width": 0.5}, batch_size=64)
    assert out["settings"]["config"] == fields
    planned = {(r["method"], r["target"]): r for r in out["runs"]}
    assert set(planned) == {("imp", None), ("l0", 0.2), ("l0", 0.05)}
    from lottery_lab.lottery import run_dir

    by_hand = {("imp", None): {"prune_fraction": 0.5}, ("l0", 0.2): {"target_density": 0.2},
               ("l0", 0.05): {"target_density": 0.05}}
    for (method, target), kw in by_hand.items():
        config = LotteryConfig(method=method, method_kw=kw, data="synthetic", epochs=2, rounds=1, progress=False,
                               out_dir=str(tmp_path / "runs"), **fields)
        got = planned[(method, target)]
        assert {k: got["config"][k] for k in fields} == fields
        assert got["config"]["device"] == "auto"                         # the default, as run's
        assert got["run_dir"] == str(run_dir(config))                     # same fields, same run identity
    assert not (tmp_path / "runs").exists()                              # a dry run writes nothing


def test_compare_dry_run_without_options_plans_the_defaults(capsys, no_training):
    out = _dry_run(capsys, ["--methods", "imp"])
    assert out["settings"]["config"] == {}
    config = out["runs"][0]["config"]
    defaults = LotteryConfig(method="imp", method_kw={"prune_fraction": 0.5}).to_dict()
    for key in ("optimizer", "momentum", "schedule", "weight_decay", "rewind_iter", "lr", "batch_size", "device"):
        assert config[key] == defaults[key], key


@pytest.mark.parametrize("option, value, words", [
    ("--optimizer", "lbfgs", "optimizer"), ("--momentum", "x", "--momentum: invalid float value"),
    ("--momentum", "1.5", "momentum"), ("--schedule", "linear", "schedule"),
    ("--weight-decay", "-1", "weight_decay"), ("--rewind-iter", "-1", "rewind_iter"),
    ("--model-kw", "[1]", "--model-kw takes a JSON object"), ("--model-kw", '{"widht": 1}', "widht"),
    ("--device", "gpu", "device"), ("--batch-size", "0", "batch_size"),
])
def test_compare_bad_config_values_exit_2_before_any_work(option, value, words, tmp_path, capsys, no_training):
    out = tmp_path / "runs"
    line = _error(capsys, [*QUICK, "--methods", "imp", "--out-dir", str(out), option, value])
    assert words in line, line
    assert not out.exists()


# ------------------------------------------------------------------------------------- outputs

def test_compare_csv_is_written_atomically(tmp_path, monkeypatch):
    """The CSV goes through a temp file and os.replace: a write that fails leaves the old table whole."""
    from lottery_lab.cli.compare import _save_csv

    result = SimpleNamespace(
        dense={"test_acc_mean": 0.9, "test_acc_std": 0.01, "n": 2, "seeds": [0, 1]},
        rows=[{"method": "imp", "target": 0.2, "density_mean": 0.25, "density_std": 0.0, "test_acc_mean": 0.88,
               "test_acc_std": 0.02, "n": 2, "seeds": [0, 1]}])
    path = tmp_path / "t.csv"
    _save_csv(result, path)
    first = path.read_text()
    assert first.splitlines() == ["method,target,density_mean,density_std,test_acc_mean,test_acc_std,n,seeds",
                                  "dense,1.0,1.0,0.0,0.9,0.01,2,0 1", "imp,0.2,0.25,0.0,0.88,0.02,2,0 1"]

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    result.rows[0]["test_acc_mean"] = 0.5
    with pytest.raises(OSError):
        _save_csv(result, path)
    assert path.read_text() == first and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_run_threads_and_assignments_json(capsys, monkeypatch):
    from lottery_lab import _threads, lottery
    from lottery_lab.grading import tasks

    seen = []
    monkeypatch.setattr(_threads, "set_threads", lambda n: seen.append(n) or torch.get_num_threads())
    monkeypatch.setattr(lottery, "play", lambda config: (_ for _ in ()).throw(ValueError("stopped here")))
    line = _error(capsys, ["run", "--data", "synthetic", "--out-dir", "none", "--threads", "1"])
    assert seen == [1] and line == "lottery-lab run: error: stopped here"
    assert "must be >= 1" in _error(capsys, ["run", "--threads", "0"])
    assert cli.main(["assignments", "list", "--chapter", "theory", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in listed] == [t.id for t in tasks("theory")]
    assert all(t["points"] > 0 and t["checks"] >= 1 for t in listed)


def test_help_of_the_shared_options_names_no_heavy_module():
    """cli.options is imported by every command module at parse time: it must stay torch-free."""
    source = Path(cli.__file__).with_name("options.py").read_text()
    assert not any(word in source for word in ("import torch", "import matplotlib", "import cvxpy"))

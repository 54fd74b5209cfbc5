"""``lottery-lab demo | run | report``: the reduced demo, run/report/--json round trips, bad options.

The demo runs here as ``lottery-lab demo --quick`` (tiny data, 1 epoch, 2 rounds), the documented
reduced setting; the full demo is timed by hand (README).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from lottery_lab import cli
from lottery_lab.cli import lottery as lottery_cli
from lottery_lab.lottery import LotteryConfig

TINY = ["--data", "synthetic", "--epochs", "1", "--rounds", "2", "--no-progress"]


def main(argv: list[str]) -> int:
    """``lottery-lab ARGV`` in-process, through the one error handler of :func:`lottery_lab.cli.main`."""
    return cli.main(argv)


def run_json(argv: list[str], capsys) -> dict:
    capsys.readouterr()
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_registered_in_the_lottery_lab_command():
    assert "lottery_lab.cli.lottery" in cli.COMMAND_MODULES


def test_demo_quick(tmp_path, capsys):
    out = run_json(["demo", "--quick", "--out", str(tmp_path)], capsys)
    assert [r["rows"][0]["method"] for r in out["runs"]] == ["imp", "concave", "random"]
    assert set(out["summary"]) == {"imp", "concave", "random"}
    imp = out["summary"]["imp"]
    assert [round(r["density"], 3) for r in imp] == [1.0, 0.5, 0.25]
    random_densities = [r["density"] for r in out["summary"]["random"]]
    assert random_densities == pytest.approx([r["density"] for r in imp], abs=1e-4)  # the control matches IMP
    assert (tmp_path / "accuracy_vs_density.png").stat().st_size > 0
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0                   # resumes from disk
    text = capsys.readouterr().out
    assert "test acc" in text and "imp" in text and "accuracy_vs_density.png" in text
    assert "concave {" in text and ", 1 round\n" in text and "1 rounds" not in text  # the quick concave: 1 round
    table = [line.split() for line in text.splitlines() if line.startswith(("imp ", "concave ", "random "))]
    assert table and all(cells[4] == "—" and cells[5] == "1" for cells in table)  # one seed: no std to show


def test_demo_full_settings_reach_five_percent():
    for method in ("imp", "random"):
        keep = 1 - lottery_cli.DEMO["methods"][method]["prune_fraction"]
        assert keep ** lottery_cli.DEMO["rounds"][method] <= 0.05


def test_run_report_round_trip(tmp_path, capsys):
    run = run_json(["run", *TINY, "--method", "imp", "--method-kw", '{"prune_fraction": 0.5}',
                    "--out-dir", str(tmp_path / "runs")], capsys)
    assert [r["round"] for r in run["rows"]] == [0, 1, 2]
    assert [round(r["density"], 3) for r in run["rows"]] == [1.0, 0.5, 0.25]
    assert run["config"]["method_kw"] == {"prune_fraction": 0.5} and run["config"]["data"] == "synthetic"
    assert (tmp_path / "runs").joinpath(run["run_dir"].split("/")[-1], "accuracy_vs_density.png").exists()

    seed1 = run_json(["run", *TINY, "--method", "imp", "--method-kw", '{"prune_fraction": 0.5}', "--seed", "1",
                      "--out-dir", str(tmp_path / "runs")], capsys)
    report = run_json(["report", run["run_dir"], seed1["run_dir"], "--plot", str(tmp_path / "r.png")], capsys)
    assert report["runs"][0]["rows"] == run["rows"]
    summary = report["summary"]["imp"]
    assert [s["n"] for s in summary] == [2, 2, 2]
    accs = [(run["rows"][i]["test_acc"], seed1["rows"][i]["test_acc"]) for i in range(3)]
    assert [s["test_acc_mean"] for s in summary] == pytest.approx([(a + b) / 2 for a, b in accs])
    assert (tmp_path / "r.png").exists()

    assert main(["report", run["run_dir"]]) == 0
    text = capsys.readouterr().out
    assert "imp (seed 0)" in text and "test acc" in text and "no plot written" in text   # report only reads


def test_config_file_and_options(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"method": "random", "data": "synthetic", "epochs": 1, "rounds": 1, "seed": 3,
                               "progress": False, "out_dir": str(tmp_path / "runs")}))
    out = run_json(["run", "--config", str(cfg), "--seed", "4", "--milestones", "0.3,0.6"], capsys)
    assert out["config"]["method"] == "random" and out["config"]["seed"] == 4          # the option wins
    assert out["config"]["milestones"] == [0.3, 0.6] and len(out["rows"]) == 2


def test_every_config_field_is_an_option(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for f in dataclasses.fields(LotteryConfig):
        assert "--" + f.name.replace("_", "-") in text
        assert f.metadata["help"].split("(")[0].strip()[:20] in " ".join(text.split())


def test_options_are_generated_from_any_dataclass():
    @dataclasses.dataclass
    class Toy:
        n: int = dataclasses.field(default=1, metadata={"help": "a count"})
        x: float | None = None
        flag: bool = False
        kw: dict = dataclasses.field(default_factory=dict)
        steps: tuple = (0.5,)

    parser = argparse.ArgumentParser()
    lottery_cli.add_dataclass_options(parser, Toy)
    args = parser.parse_args(["--n", "3", "--x", "none", "--flag", "--kw", '{"a": 1}', "--steps", "[0.1, 0.2]"])
    assert vars(args) == {"n": 3, "x": None, "flag": True, "kw": {"a": 1}, "steps": (0.1, 0.2)}
    assert vars(parser.parse_args([])) == {}                                       # only what is given
    assert "a count (default: 1)" in parser.format_help()


@pytest.mark.parametrize("argv, message", [
    (["run", "--rounds", "0"], "rounds=0 must be an integer >= 1"),
    (["run", "--method", "magic"], "method='magic' must be one of the registered methods: imp"),
    (["run", "--model", "gpt"], "model='gpt' must be one of the registered models: mlp"),
    (["run", "--data", "imagenet"], "data='imagenet' must be one of the registered datasets: digits"),
    (["run", "--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["run", "--method-kw", "{oops"], "--method-kw takes JSON"),
    (["run", "--method-kw", "[1]"], "--method-kw takes a JSON object"),
    (["run", "--method", "concave", "--method-kw", '{"alpha": 1.5}'], "alpha=1.5 must be a number in (0, 1)"),
    (["run", "--config", "/nonexistent/c.json"], "--config /nonexistent/c.json: cannot read"),
    (["run", *TINY, "--rewind-iter", "1000"], "rewind_iter=1000 is beyond the training length"),
    (["report", "/nonexistent/run"], "is not a run directory"),
    (["demo", "--threads", "0"], "must be >= 1"),
    (["launch"], "invalid choice: 'launch'"),
])
def test_bad_options_exit_2_with_a_message(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(argv + (["--out-dir", str(tmp_path)] if argv[0] == "run" else []))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_counts_read_as_english():
    from lottery_lab.results import count
    assert [count(n, "round") for n in (0, 1, 2)] == ["0 rounds", "1 round", "2 rounds"]

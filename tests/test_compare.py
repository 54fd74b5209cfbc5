"""``lottery_lab.compare`` and ``lottery-lab compare``: the grid from the recipes, reuse of stored runs,
aggregation against hand-computed means, the CLI round trip, bad input.

Runs use the synthetic dataset (a few hundred points, 1 epoch): seconds each.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lottery_lab import cli, compare, lottery, methods
from lottery_lab.compare import Recipe

TINY = {"data": "synthetic", "model": "mlp", "epochs": 1, "data_kw": {"n_train": 256},
        "device": "cpu", "progress": False}


# ------------------------------------------------------------------------------------- the grid

def test_every_registered_method_has_an_accepted_recipe():
    for name in methods.names():
        assert compare.recipe_for(name).accepts(name)
    assert compare.recipe_for("imp").method_kw == {"prune_fraction": 0.5}
    assert compare.recipe_for("l0").knob == "target_density"
    assert compare.recipe_for("edge_popup").knob == "keep"
    snip = compare.recipe_for("snip")
    assert (snip.knob, snip.complement) == ("prune_fraction", True)
    concave = compare.recipe_for("concave")   # target_density once the method takes it, else rounds
    assert concave.knob == ("target_density" if "target_density" in methods.defaults("concave") else None)


def test_grid_from_the_recipes():
    grid = compare.build_grid(["imp", "l0", "edge_popup", "snip"], targets=(0.2, 0.05), seeds=(0, 1),
                              data="synthetic", out_dir=None)
    by = {}
    for p in grid:
        by.setdefault(p.config.method, []).append(p)
    assert [(p.config.seed, p.target, p.config.method_kw) for p in by["imp"]] == [
        (0, None, {"prune_fraction": 0.5}), (1, None, {"prune_fraction": 0.5})]
    assert [(p.config.seed, p.config.method_kw) for p in by["l0"]] == [
        (0, {"target_density": 0.2}), (0, {"target_density": 0.05}),
        (1, {"target_density": 0.2}), (1, {"target_density": 0.05})]
    assert [p.config.method_kw for p in by["edge_popup"]][:2] == [{"keep": 0.2}, {"keep": 0.05}]
    assert [p.config.method_kw for p in by["snip"]][:2] == [{"prune_fraction": 0.8}, {"prune_fraction": 0.95}]
    assert all(p.config.rounds == 1 and p.config.data == "synthetic" for p in grid)


def test_an_unknown_method_gets_rounds_with_its_defaults(monkeypatch):
    @methods.register
    class Halver(methods.Method):
        name = "test_halver"

        def __init__(self, fraction: float = 0.5):
            self.fraction = fraction

        def prune(self, model, mask, ctx, search=None):
            params = dict(model.named_parameters())
            return methods.base.prune_lowest({n: params[n].abs() for n in mask}, mask, self.fraction)

    try:
        assert compare.recipe_for("test_halver") == Recipe()
        # a recipe the method does not accept is skipped for the next one
        recipes = {"test_halver": (Recipe(knob="target_density"), Recipe(method_kw={"fraction": 0.6}))}
        assert compare.recipe_for("test_halver", recipes).method_kw == {"fraction": 0.6}
        grid = compare.build_grid(["test_halver"], seeds=(3,), data="synthetic", out_dir=None)
        assert [(p.config.method_kw, p.config.seed, p.target) for p in grid] == [({}, 3, None)]
        result = compare.compare(["test_halver"], targets=(0.3,), seeds=(0,), out_dir=None, **TINY)
        # rounds until the density is at or below the smallest target: 50%, 25%
        assert [round(r["density"], 2) for r in result.runs[0]["rows"]] == [1.0, 0.5, 0.25]
        assert [(r["target"], round(r["density_mean"], 2)) for r in result.rows] == [(0.3, 0.25)]
    finally:
        methods.unregister("test_halver")


def test_method_kw_overrides_the_recipe():
    grid = compare.build_grid(["rvsm"], seeds=(0,), method_kw={"rvsm": {"lam": 1e-3}}, out_dir=None)
    assert grid[0].config.method_kw["lam"] == 1e-3
    with pytest.raises(ValueError, match="method_kw names methods not compared: imp"):
        compare.build_grid(["rvsm"], seeds=(0,), method_kw={"imp": {}}, out_dir=None)


def test_stop_rule():
    rows = [{"density": d} for d in (1.0, 0.5, 0.25, 0.125)]
    assert compare._stop_round(rows, floor=0.25, max_rounds=8) == 2         # reached the smallest target
    assert compare._stop_round(rows, floor=0.01, max_rounds=3) == 3         # max_rounds
    assert compare._stop_round(rows, floor=0.01, max_rounds=8) is None      # not there yet: play on
    stall = [{"density": d} for d in (1.0, 0.6, 0.57)]
    assert compare._stop_round(stall, floor=0.01, max_rounds=8) == 2         # kept 95% of the weights: stop


# ---------------------------------------------------------------------------------- aggregation

def test_bins_are_nearest_target_on_a_log_scale():
    targets = (0.2, 0.1, 0.05, 0.02)
    assert compare.bin_of(0.25, targets) == 0.2
    assert compare.bin_of(0.14, targets) == 0.1       # geometric midpoint of 0.1 and 0.2 is 0.1414
    assert compare.bin_of(0.145, targets) == 0.2
    assert compare.bin_of(0.0156, targets) == 0.02
    assert compare.bin_of(0.5, targets) is None        # beyond the outer edge 0.2·√2
    assert compare.bin_of(0.012, targets) is None      # below 0.02/√2.5
    assert compare.bin_of(0.0, targets) is None


def _row(method, seed, r, density, acc):
    return {"method": method, "seed": seed, "round": r, "density": density, "test_acc": acc}


def test_aggregate_against_hand_computed_mean_and_std():
    rows = [
        _row("a", 0, 0, 1.0, 0.90), _row("a", 0, 1, 0.5, 0.91), _row("a", 0, 2, 0.25, 0.92),
        _row("a", 0, 3, 0.21, 0.80),                       # the nearest to 20% wins the bin for seed 0
        _row("a", 1, 0, 1.0, 0.94), _row("a", 1, 1, 0.18, 0.86), _row("a", 1, 2, 0.06, 0.70),
        _row("b", 0, 0, 1.0, 0.90), _row("b", 0, 1, 0.09, 0.60),
        _row("b", 1, 0, 1.0, 0.94), _row("b", 1, 1, 0.30, 0.99),  # 30% is outside every bin
    ]
    out = compare.aggregate(rows, targets=(0.2, 0.1, 0.05))
    assert [(r["method"], r["target"], r["n"]) for r in out] == [("a", 0.2, 2), ("a", 0.05, 1), ("b", 0.1, 1)]
    a20 = out[0]
    assert a20["seeds"] == [0, 1]
    assert a20["density_mean"] == pytest.approx((0.21 + 0.18) / 2)
    assert a20["density_std"] == pytest.approx(0.015)                     # |0.21 − 0.18| / 2
    assert a20["test_acc_mean"] == pytest.approx(0.83)
    assert a20["test_acc_std"] == pytest.approx(0.03)
    assert out[1]["density_mean"] == 0.06 and out[1]["test_acc_std"] == 0.0
    dense = compare.dense_baseline(rows)
    assert dense["n"] == 2 and dense["test_acc_mean"] == pytest.approx(0.92)
    assert dense["test_acc_std"] == pytest.approx(np.std([0.90, 0.94]))


# -------------------------------------------------------------------------- playing and reusing

def test_stored_runs_are_reused_not_retrained(tmp_path, monkeypatch):
    kw = dict(targets=(0.3,), seeds=(0,), out_dir=str(tmp_path), **TINY)
    first = compare.compare(["imp", "snip"], **kw)
    assert all(r["trained"] for r in first.runs)
    metrics = sorted(tmp_path.rglob("metrics.json"))
    stamps = [p.stat().st_mtime_ns for p in metrics]

    def no_training(*a, **k):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(lottery, "train", no_training)
    second = compare.compare(["imp", "snip"], **kw)
    assert not any(r["trained"] for r in second.runs)
    assert second.rows == first.rows and second.dense == first.dense
    assert sorted(tmp_path.rglob("metrics.json")) == metrics
    assert [p.stat().st_mtime_ns for p in metrics] == stamps


def test_more_rounds_extend_a_stored_run(tmp_path):
    kw = dict(seeds=(0,), out_dir=str(tmp_path), **TINY)
    compare.compare(["imp"], targets=(0.3,), **kw)                            # 2 rounds: 50%, 25%
    more = compare.compare(["imp"], targets=(0.3, 0.1), **kw)                  # on to 12.5%, 6.25%
    assert [r["trained"] for r in more.runs] == [True]
    assert [round(r["density"], 4) for r in more.runs[0]["rows"]] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert len(list(tmp_path.glob("imp-*"))) == 1                                 # the same run folder


def test_play_to_picks_the_round_nearest_the_target():
    result, r = compare.play_to("imp", 0.2, out_dir=None, **TINY)   # 50%, 25%, 12.5% (at or below 20%: stop)
    assert [round(row["density"], 3) for row in result.rows] == [1.0, 0.5, 0.25, 0.125]
    assert r == 2                                                      # 25% is nearer 20% than 12.5% (log scale)
    assert result.run_dir is None and len(result.masks) == 4          # kept in memory, scratch folder gone
    result, r = compare.play_to("magnitude_init", 0.1, out_dir=None, **TINY)
    assert r == 1 and result.rows[1]["density"] == pytest.approx(0.1, abs=1e-3)


def test_method_explorer_plays_and_draws(monkeypatch):
    import matplotlib.pyplot as plt

    from lottery_lab.widgets.methods import method_explorer

    monkeypatch.setattr(plt, "show", lambda: None)
    w = method_explorer(method="edge_popup", target=0.1, play_now=True, out_dir=None, **TINY)
    assert "keep = target" in w.children[1].value
    assert "edge_popup: round 1 of 1, density 10.0" in w.children[2].value, w.children[2].value
    method, target, seed, button = w.children[0].children
    method.value = "imp"                                               # the recipe line follows the method
    assert "prune_fraction=0.5" in w.children[1].value
    target.value = 0.3
    button.click()
    assert "imp: round 2 of 2, density 25.00%" in w.children[2].value, w.children[2].value
    plt.close("all")


# ------------------------------------------------------------------------------------------ CLI

def main(argv: list[str]) -> int:
    """``lottery-lab ARGV`` in-process, through the one error handler of :func:`lottery_lab.cli.main`."""
    return cli.main(argv)


def test_registered_in_the_lottery_lab_command():
    assert "lottery_lab.cli.compare" in cli.COMMAND_MODULES


def test_cli_round_trip_quick_json(tmp_path, capsys):
    argv = ["compare", "--quick", "--methods", "imp,l0,edge_popup", "--data", "synthetic", "--epochs", "1",
            "--data-kw", '{"n_train": 256}', "--out-dir", str(tmp_path), "--no-progress"]
    threads = torch.get_num_threads()
    assert main(argv + ["--json"]) == 0
    assert torch.get_num_threads() == threads  # the in-process policy's thread count is given back
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["seeds"] == [0] and out["settings"]["targets"] == [0.2, 0.05]
    assert out["settings"]["methods"] == ["imp", "l0", "edge_popup"]
    assert len(out["runs"]) == 1 + 2 + 2 and all(r["trained"] for r in out["runs"])
    edge = [r for r in out["rows"] if r["method"] == "edge_popup"]
    assert [(r["target"], r["density_mean"]) for r in edge] == [(0.2, pytest.approx(0.2, abs=0.01)),
                                                                (0.05, pytest.approx(0.05, abs=0.01))]
    for r in out["rows"]:
        assert compare.bin_of(r["density_mean"], [0.2, 0.05]) == r["target"]
    assert (tmp_path / "compare-synthetic-mlp-quick.png").stat().st_size > 0
    csv_lines = (tmp_path / "compare-synthetic-mlp-quick.csv").read_text().splitlines()
    assert csv_lines[0].startswith("method,target,density_mean") and csv_lines[1].startswith("dense,")
    assert main(argv) == 0                                                      # again: the text table, reused
    text = capsys.readouterr().out
    assert "edge_popup" in text and "test acc" in text and "0 trained, 5 reused" in text


@pytest.mark.parametrize("argv, message", [
    (["--methods", "imp,nope"], "unknown method.*nope.*registered methods: imp"),
    (["--methods", ","], "--methods must list at least one value"),
    (["--seeds", ""], "--seeds must list at least one value"),
    (["--seeds", "a,b"], "--seeds takes a comma-separated list of int"),
    (["--targets", "0.2,1.5"], r"open interval \(0, 1\).*1.5"),
    (["--targets", "0"], r"open interval \(0, 1\)"),
    (["--method-kw", "[1]"], "--method-kw takes a JSON object"),
    (["--data", "nope"], "data='nope' must be one of the registered datasets"),
])
def test_cli_bad_input(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--out-dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


@pytest.mark.parametrize("kw, message", [
    ({"methods": ["imp", "nope"]}, r"methods=\['imp', 'nope'\]: unknown nope; registered methods: imp"),
    ({"methods": []}, "methods=.*empty"),
    ({"seeds": ()}, "seeds=.* at least one seed"),
    ({"targets": (0.2, 1.0)}, r"targets=\[0.2, 1.0\]: density targets must lie in the open interval"),
    ({"targets": (-0.1,)}, "targets="),
    ({"targets": ()}, "targets="),
    ({"data": "nope"}, "data='nope' must be one of the registered datasets"),
])
def test_bad_input_names_the_argument(kw, message):
    with pytest.raises(ValueError, match=message):
        compare.compare(**{"out_dir": None, "progress": False, **kw})


def test_table_shows_measured_density_and_unreached_bins():
    cmp = compare.Comparison(
        rows=[{"method": "a", "target": 0.2, "density_mean": 0.25, "density_std": 0.0, "test_acc_mean": 0.9,
               "test_acc_std": 0.01, "n": 3, "seeds": [0, 1, 2]}],
        dense={"test_acc_mean": 0.95, "test_acc_std": 0.0, "n": 3, "seeds": [0, 1, 2]}, runs=[],
        settings={"data": "d", "model": "m", "epochs": 1, "seeds": [0, 1, 2], "methods": ["a"],
                  "targets": [0.2, 0.05]})
    lines = cmp.table().splitlines()
    assert "nearest target" in lines[0]
    assert lines[3].split()[:3] == ["a", "20%", "25.00%"]
    assert "not reached" in lines[4]
    assert math.isclose(cmp.to_dict()["rows"][0]["density_mean"], 0.25)
    assert lines[3].split()[3:7] == ["±", "0.00%", "0.9000", "±"]  # three seeds: a spread, even if 0
    one = compare.Comparison(rows=[{**cmp.rows[0], "n": 1, "seeds": [0]}], dense={**cmp.dense, "n": 1},
                             runs=[], settings={**cmp.settings, "seeds": [0]})
    single = one.table().splitlines()
    assert single[2].split()[3:6] == ["0.9500", "±", "—"] and single[3].split()[2:7] == ["25.00%", "±", "—", "0.9000", "±"]

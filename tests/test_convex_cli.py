"""``lottery-lab convex``: the quick run prints JSON, writes the figures; bad digits exit with 2."""

import json

import pytest

from lottery_lab.cli import main


def test_convex_quick_json_writes_figures(tmp_path, capsys):
    assert main(["convex", "--pair", "3", "8", "--quick", "--json", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    for name in ("accuracy_vs_density.png", "objective_traces.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    methods = {r["method"] for r in summary["rows"]}
    assert methods == {"mask-log", "mask-l1", "weight-l1 (prox)", "weight-l1 (subgrad)"}
    dens = {m: min(r["density"] for r in summary["rows"] if r["method"] == m) for m in methods}
    # proximal methods reach exact sparsity; subgradient descent leaves every informative weight non-zero
    assert max(dens["mask-l1"], dens["weight-l1 (prox)"]) < 0.1 < dens["weight-l1 (subgrad)"]
    assert summary["dense_test_acc"] > 0.9


def test_convex_bad_pair_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["convex", "--pair", "3", "3", "--quick"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("lottery-lab convex: error: ") and "different" in err and len(err.splitlines()) == 1

"""``lottery_lab.presets`` and ``lottery-lab run --preset NAME [--dry-run]``.

The expected numbers are written out here from OpenLTH's files (facebookresearch/open_lth@2ce732f,
``default_hparams`` of models/mnist_lenet.py, models/cifar_resnet.py, models/cifar_vgg.py), not read
from lottery_lab; the estimate is checked against the step count and time written by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from lottery_lab import cli, masks, methods, models, presets
from lottery_lab.config import LotteryConfig
from lottery_lab.methods.base import Context

# OpenLTH: training_steps, batch_size, lr, momentum, weight_decay, milestone_steps (epochs), gamma,
# pruning_fraction, pruning_layers_to_ignore
OPEN_LTH = {
    "mnist_lenet_300_100": dict(model="mlp", data="mnist", epochs=40, batch=128, lr=0.1, momentum=0.0, wd=0.0,
                                milestones=None, gamma=None, fraction=0.2, ignore_output=True),
    "cifar_resnet_20": dict(model="resnet20", data="cifar10", epochs=160, batch=128, lr=0.1, momentum=0.9, wd=1e-4,
                            milestones=(80, 120), gamma=0.1, fraction=0.2, ignore_output=False),
    "cifar_vgg_16": dict(model="vgg16", data="cifar10", epochs=160, batch=128, lr=0.1, momentum=0.9, wd=1e-4,
                         milestones=(80, 120), gamma=0.1, fraction=0.2, ignore_output=True),
}


def _error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _dry_run(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert cli.main(["run", *argv, "--dry-run"]) == 0
    return json.loads(capsys.readouterr().out)


def test_names_are_the_three_openlth_presets_and_their_concave_versions():
    assert presets.names() == [*OPEN_LTH, *(f"{n}_concave" for n in OPEN_LTH)]


@pytest.mark.parametrize("name", list(OPEN_LTH))
def test_imp_preset_has_openlths_numbers(name):
    ref = OPEN_LTH[name]
    c = presets.resolve(name)
    assert isinstance(c, LotteryConfig)
    assert (c.method, c.model, c.data) == ("imp", ref["model"], ref["data"])
    assert (c.epochs, c.iterations, c.batch_size, c.optimizer) == (ref["epochs"], None, ref["batch"], "sgd")
    assert (c.lr, c.momentum, c.weight_decay, c.rewind_iter) == (ref["lr"], ref["momentum"], ref["wd"], 0)
    if ref["milestones"] is None:
        assert c.schedule == "constant"
    else:  # OpenLTH's milestones in epochs, ours as fractions of training
        assert c.schedule == "step" and c.gamma == ref["gamma"]
        assert c.milestones == tuple(m / ref["epochs"] for m in ref["milestones"])
    assert c.method_kw["prune_fraction"] == ref["fraction"]
    file = {"mlp": "mnist_lenet", "resnet20": "cifar_resnet", "vgg16": "cifar_vgg"}[ref["model"]]
    assert presets.get(name).source.startswith(f"facebookresearch/open_lth@2ce732f models/{file}.py")


@pytest.mark.parametrize("name", list(OPEN_LTH))
def test_imp_preset_prunes_as_sparse_global(name):
    """One pruning step with the preset's method on its model: 20 % of all weights by |θ| over the
    prunable layers, the output layer left whole where OpenLTH ignores fc.weight."""
    ref = OPEN_LTH[name]
    c = presets.resolve(name)
    torch.manual_seed(0)
    shape = (1, 28, 28) if ref["data"] == "mnist" else (3, 32, 32)
    model = models.get(c.model, input_shape=shape, num_classes=10)
    mask = masks.ones_like(model)
    new = methods.get(c.method, **c.method_kw).prune(model, mask, Context(1, torch.Generator()))
    total = sum(m.numel() for m in mask.values())
    pruned = total - sum(int(m.sum()) for m in new.values())
    assert abs(pruned - ref["fraction"] * total) <= 1          # OpenLTH: ceil(fraction × remaining)
    output = list(mask)[-1]
    params = dict(model.named_parameters())
    if ref["ignore_output"]:
        assert bool(new[output].all())
        rest = [n for n in mask if n != output]
    else:
        rest = list(mask)
    kept = torch.cat([params[n].detach().abs()[new[n]] for n in rest])
    dropped = torch.cat([params[n].detach().abs()[~new[n]] for n in rest])
    assert dropped.max() <= kept.min()                          # one global magnitude threshold


@pytest.mark.parametrize("name", list(OPEN_LTH))
def test_concave_preset_trains_as_the_imp_preset_with_the_papers_alpha_and_mask_init(name):
    imp, concave = presets.resolve(name), presets.resolve(f"{name}_concave")
    assert concave.method == "concave"
    assert 0.001 <= concave.method_kw["alpha"] <= 0.1 and concave.method_kw["mask_init"] == 0.5
    same = ("model", "data", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
            "milestones", "gamma", "rewind_iter")
    assert {f: getattr(concave, f) for f in same} == {f: getattr(imp, f) for f in same}
    assert "lam" in " ".join(presets.get(f"{name}_concave").notes)  # says what the paper does not give


def test_resolve_overrides_and_bad_input():
    c = presets.resolve("cifar_resnet_20", {"epochs": 3, "seed": 7})
    assert (c.epochs, c.seed, c.weight_decay) == (3, 7, 1e-4)
    assert presets.resolve("cifar_resnet_20").epochs == 160       # the preset itself is untouched
    with pytest.raises(ValueError, match="unknown preset 'resnet'.*cifar_resnet_20"):
        presets.resolve("resnet")
    with pytest.raises(TypeError, match="overrides"):
        presets.resolve("cifar_resnet_20", [("epochs", 3)])
    with pytest.raises(TypeError, match="unknown config field"):
        presets.resolve("cifar_resnet_20", {"epoch": 3})
    with pytest.raises(ValueError, match="rounds"):
        presets.resolve("cifar_resnet_20", {"rounds": 0})
    with pytest.raises(TypeError, match="LotteryConfig"):
        presets.estimate({"epochs": 3})
    with pytest.raises(ValueError, match="training-set size"):
        presets.estimate(LotteryConfig(data="custom", progress=False))


def test_estimate_counts_steps_and_seconds():
    per_epoch = math.ceil(50000 / 128)                           # 391
    T = 160 * per_epoch
    e = presets.estimate(presets.resolve("cifar_resnet_20"))
    assert (e["steps_per_round"], e["steps_total"]) == (T, T + 14 * T)
    e = presets.estimate(presets.resolve("cifar_resnet_20_concave"))   # a search and a retraining per round
    assert (e["steps_per_round"], e["steps_total"]) == (2 * T, T + 5 * 2 * T)
    e = presets.estimate(presets.resolve("cifar_resnet_20", {"rewind_iter": 500, "reinit": True, "rounds": 2}))
    assert e["steps_total"] == T + 2 * 2 * (T - 500)
    e = presets.estimate(presets.resolve("mnist_lenet_300_100", {"data_kw": {"n_train": 1000}, "iterations": 50}))
    assert (e["n_train"], e["batches_per_epoch"], e["steps_total"]) == (1000, 8, 50 + 14 * 50)
    rates = presets.CPU_IMAGES_PER_S[("resnet20", (3, 32, 32))]
    e = presets.estimate(presets.resolve("cifar_resnet_20_concave"))
    assert e["cpu_s_1_thread"] == pytest.approx(128 * ((T + 5 * T) / rates["train"] + 5 * T / rates["search"]))
    assert e["gpu_s"] is None                                   # no GPU throughput measured
    assert presets.estimate(LotteryConfig(model="conv6", data="digits", progress=False))["cpu_s_1_thread"] is None


def test_every_preset_has_a_measured_cpu_rate():
    for name in presets.names():
        c = presets.resolve(name)
        assert presets.estimate(c)["cpu_s_1_thread"] > 0, name


def test_cli_dry_run_prints_json_and_trains_nothing(tmp_path, capsys, monkeypatch):
    import lottery_lab.lottery as lottery

    def no_play(*a, **k):
        raise AssertionError("--dry-run trained")

    monkeypatch.setattr(lottery, "play", no_play)
    out = _dry_run(capsys, ["--preset", "cifar_resnet_20", "--out-dir", str(tmp_path / "runs")])
    assert set(out) >= {"config", "estimate"}
    assert set(out["estimate"]) >= {"steps_per_round", "steps_total", "cpu_s_1_thread", "gpu_s"}
    assert out["config"]["epochs"] == 160 and out["config"]["model"] == "resnet20"
    assert out["config"] == presets.resolve("cifar_resnet_20", {"out_dir": str(tmp_path / "runs")}).to_dict()
    assert not (tmp_path / "runs").exists()                      # nothing written


def test_cli_options_override_config_file_which_overrides_preset(tmp_path, capsys):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"epochs": 7, "lr": 0.05}))
    out = _dry_run(capsys, ["--preset", "cifar_vgg_16", "--config", str(f), "--epochs", "2", "--seed", "3"])
    c = out["config"]
    assert (c["epochs"], c["lr"], c["seed"], c["model"], c["weight_decay"]) == (2, 0.05, 3, "vgg16", 1e-4)
    plain = _dry_run(capsys, ["--epochs", "2"])                  # no preset: LotteryConfig's defaults
    assert plain["config"]["model"] == LotteryConfig.model and "preset" not in plain


def test_cli_unknown_preset_is_one_error_line(capsys):
    line = _error(capsys, ["run", "--preset", "resnet", "--dry-run"])
    assert "resnet" in line and "cifar_resnet_20" in line
    line = _error(capsys, ["run", "--preset", "cifar_resnet_20", "--epochs", "0", "--dry-run"])
    assert "epochs" in line


def test_run_help_imports_no_torch_and_names_the_presets():
    code = ("import contextlib, io, json, sys\nfrom lottery_lab import cli\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    try:\n        cli.main(['run', '--help'])\n"
            "    except SystemExit:\n        pass\n"
            "print(json.dumps({'heavy': [m for m in ('torch', 'cvxpy', 'matplotlib') if m in sys.modules], "
            "'help': buf.getvalue()}))")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["heavy"] == []
    assert "--preset" in out["help"] and "--dry-run" in out["help"] and "cifar_resnet_20" in out["help"]

"""The lottery runner: config validation and hashing, rounds, rewinding, controls, results."""

import csv
import math

import pytest
import torch

from lottery_lab import masks, methods, models
from lottery_lab.lottery import LotteryConfig, derive_seed, play, run_dir
from lottery_lab.train import TrainConfig, train


def tiny_data(n_train=96, n_test=48, d=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_train + n_test, d, generator=g)
    y = (X @ torch.randn(d, classes, generator=g)).argmax(1)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def cfg(**kw):
    base = dict(model="mlp", model_kw={"width": 0.1}, data="tiny", rounds=2, epochs=2, batch_size=32,
                out_dir=None, progress=False)
    base.update(kw)
    return LotteryConfig(**base)


# ------------------------------------------------------------------------------------- config

@pytest.mark.parametrize("kw, err, words", [
    (dict(rounds=0), ValueError, "rounds=0"),
    (dict(method="lth"), ValueError, "method='lth'.*imp, random, concave"),
    (dict(model="alexnet"), ValueError, "model='alexnet'.*mlp"),
    (dict(method_kw={"prune_fraction": 1.0}), ValueError, "prune_fraction=1.0"),
    (dict(method="concave", method_kw={"alpha": 2.0}), ValueError, "alpha=2.0"),
    (dict(method="concave", method_kw={"lam": -1}), ValueError, "lam=-1"),
    (dict(method_kw={"lam": 1}), TypeError, "lam.*accepts: prune_fraction"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer='rmsprop'.*sgd, adam"),
    (dict(schedule="linear"), ValueError, "schedule='linear'"),
    (dict(rewind_iter=-1), ValueError, "rewind_iter=-1"),
    (dict(iterations=10, rewind_iter=10), ValueError, "rewind_iter=10 is beyond"),
    (dict(device="tpu"), ValueError, "device='tpu'"),
    (dict(method_kw=[1]), TypeError, r"method_kw=\[1\] must be a dict"),
    (dict(lr=0.0), ValueError, "lr=0.0"),
])
def test_bad_config_raises_naming_the_argument(kw, err, words):
    with pytest.raises(err, match=words):
        cfg(**kw)


def test_rewind_beyond_an_epoch_based_training_length_is_caught_before_training():
    data = tiny_data()                                       # 96 / 32 = 3 steps per epoch, 2 epochs
    with pytest.raises(ValueError, match=r"rewind_iter=6 is beyond.*< 6 steps \(2 epochs x 3 batches"):
        play(cfg(rewind_iter=6), data=data)


def test_unknown_dataset_lists_the_registry():
    with pytest.raises(ValueError, match="'nope'.*mnist5k"):
        play(cfg(data="nope"))


def test_custom_tensors_with_mismatched_labels_are_rejected():
    X, y, Xt, yt = tiny_data()
    with pytest.raises(ValueError, match="X_train has 96 rows but y_train has 95"):
        play(cfg(), data=(X, y[:-1], Xt, yt))
    with pytest.raises(TypeError, match="tuple"):
        play(cfg(), data=(X, y))


def test_hash_ignores_defaults_and_bookkeeping_fields():
    base = LotteryConfig()
    assert base.short_hash() == LotteryConfig(lr=0.1, method_kw={"prune_fraction": 0.2}).short_hash()
    assert base.short_hash() == LotteryConfig(out_dir="elsewhere", progress=False, device="cpu",
                                              rounds=9).short_hash()
    assert base.short_hash() != LotteryConfig(lr=0.2).short_hash()
    assert base.short_hash() != LotteryConfig(seed=1).short_hash()
    assert base.short_hash() != base.short_hash(data_fingerprint="abc")
    assert len(base.short_hash()) == 10


#: short hashes computed before method hashing resolved the arguments (commit c503f33): these runs'
#: folders must stay where they are
PINNED_HASHES = [
    (dict(), "44136fa355"),
    (dict(method="concave", method_kw={"lam": 1e-4}), "50e4bfa480"),
    (dict(method="l0", method_kw={"per_layer": True, "target_density": 0.1}), "eb4fd7a8d1"),
    (dict(model="mlp", model_kw={"width": 0.5}, data_kw={"split": "val"}), "51da7c1273"),
    (dict(rewind_iter=100, seed=3, method_kw={"prune_fraction": 0.3}), "b1b4769d7a"),
    (dict(method="rvsm"), "b6fcb90934"),
    (dict(method="synflow", method_kw={"prune_fraction": 0.5}), "7f5cdb1eff"),
]


@pytest.mark.parametrize("kw, expected", PINNED_HASHES)
def test_hashes_of_configs_whose_method_defaults_did_not_change_are_pinned(kw, expected):
    assert LotteryConfig(**kw).short_hash() == expected


def test_changed_method_defaults_change_the_hash():
    # cs's defaults changed (the reference's), snip's and edge_popup's gained arguments that change
    # what they compute: their old folders (hashes before the change) must not be reused
    assert LotteryConfig(method="cs").short_hash() != "450ca7f343"
    assert LotteryConfig(method="snip").short_hash() != "64fea956c2"
    assert LotteryConfig(method="edge_popup", method_kw={"keep": 0.3}, model="resnet20",
                         data="cifar10").short_hash() != "ca44d612e3"

    def toy(default):
        class Toy(methods.Method):
            name = "toy-default"
            hash_baseline = {"a": 1}

            def __init__(self, a: int = default):
                self.a = a

            def prune(self, model, mask, ctx, search=None):
                return mask
        return Toy

    try:
        methods.register(toy(1))
        old = LotteryConfig(method="toy-default").short_hash()
        assert LotteryConfig(method="toy-default", method_kw={"a": 1}).short_hash() == old
        methods.register(toy(2))                                   # the default changes
        assert LotteryConfig(method="toy-default").short_hash() != old
        assert LotteryConfig(method="toy-default", method_kw={"a": 1}).short_hash() == old
        assert LotteryConfig(method="toy-default").hashed_fields()["method_kw"] == {"a": 2}
    finally:
        methods.unregister("toy-default")


def test_config_round_trips_through_a_dict_and_carries_help():
    c = LotteryConfig(method="concave", method_kw={"lam": 1e-4}, milestones=(0.3,), out_dir=None)
    assert LotteryConfig.from_dict(c.to_dict()) == c
    with pytest.raises(TypeError, match="unknown config field.*colour"):
        LotteryConfig.from_dict({"colour": "red"})
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(LotteryConfig))


# ---------------------------------------------------------------------------------------- play

def test_play_imp_rows_densities_and_result_helpers(tmp_path):
    result = play(cfg(rounds=3, method_kw={"prune_fraction": 0.5}), data=tiny_data())
    rows = result.rows
    assert [r["round"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["density"] == 1.0
    for r, row in enumerate(rows):
        assert row["density"] == pytest.approx(0.5 ** r, abs=0.01)
        assert {"round", "density", "test_acc", "test_loss", "train_loss", "method", "seed", "wall_s"} <= set(row)
        assert row["method"] == "imp" and row["seed"] == 0 and 0 <= row["test_acc"] <= 1
        assert math.isfinite(row["train_loss"]) and row["wall_s"] >= 0
    assert result.run_dir is None
    assert len(result.masks) == 4 and masks.density(result.masks[2]) == rows[2]["density"]
    assert result.layer_densities[0] == {k: 1.0 for k in result.masks[0]}
    path = result.to_csv(tmp_path / "rows.csv")
    with open(path) as f:
        back = list(csv.DictReader(f))
    assert [float(r["density"]) for r in back] == [r["density"] for r in rows]
    table = result.table()
    assert "density" in table and len(table.splitlines()) == 2 + 4
    ax = result.plot()
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"


def test_out_dir_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    play(cfg(rounds=1), data=tiny_data())
    assert list(tmp_path.iterdir()) == []


def test_concave_and_random_runs_and_reinit_control():
    data = tiny_data()
    conc = play(cfg(method="concave", method_kw={"lam": 0.05, "mask_lr": 1.0}, reinit=True), data=data)
    assert conc.rows[0]["reinit_acc"] is None
    assert all(0 <= row["reinit_acc"] <= 1 for row in conc.rows[1:])
    dens = [row["density"] for row in conc.rows]
    assert dens == sorted(dens, reverse=True) and dens[-1] < 1.0
    m = conc.scores(1)
    assert m is not None and all(((v >= 0) & (v <= 1)).all() for v in m.values())
    imp = play(cfg(method="imp"), data=data)
    rnd = play(cfg(method="random"), data=data)
    assert [r["density"] for r in rnd.rows] == [r["density"] for r in imp.rows]
    assert rnd.rows[0] == {**imp.rows[0], "method": "random", "wall_s": rnd.rows[0]["wall_s"]}


def test_a_newly_registered_method_plays_without_edits():
    @methods.register
    class FirstLayerOnly(methods.Method):
        """Prunes half of the first layer's kept weights, by index (a toy)."""

        name = "toy-first-layer"

        def prune(self, model, mask, ctx, search=None):
            out = {k: v.clone() for k, v in mask.items()}
            first = next(iter(out))
            flat = out[first].view(-1)
            alive = torch.nonzero(flat).flatten()
            flat[alive[: len(alive) // 2]] = False
            return out

    try:
        result = play(cfg(method="toy-first-layer", rounds=2), data=tiny_data())
        first = next(iter(result.layer_densities[0]))
        assert [ld[first] for ld in result.layer_densities] == pytest.approx([1.0, 0.5, 0.25], abs=0.01)
    finally:
        methods.unregister("toy-first-layer")


def test_rewind_point_is_theta_k_of_the_dense_run(tmp_path):
    """rewind.pt is θ after k steps of round 0 — reproduced here by an independent training run."""
    data = tiny_data()
    config = cfg(rounds=1, rewind_iter=4, out_dir=str(tmp_path))
    result = play(config, data=data)
    theta_k = torch.load(result.run_dir / "round_00" / "rewind.pt", weights_only=True)

    from lottery_lab.data import Batches

    with torch.random.fork_rng():
        torch.manual_seed(derive_seed(0, "init"))
        ref = models.get("mlp", input_shape=(8,), num_classes=3, width=0.1)
    g = torch.Generator().manual_seed(derive_seed(0, "data"))
    train(ref, Batches(data[0], data[1], 32, generator=g), TrainConfig(iterations=4, progress=False),
          generator=g, seed=derive_seed(0, "train", 0, "train"))
    for k, v in ref.state_dict().items():
        assert torch.equal(theta_k[k], v), k
    assert result.run_dir == run_dir(config, data=data)


def test_rerun_and_more_rounds_reuse_finished_rounds(tmp_path):
    data = tiny_data()
    first = play(cfg(rounds=1, out_dir=str(tmp_path)), data=data)
    more = play(cfg(rounds=3, out_dir=str(tmp_path)), data=data)
    assert more.run_dir == first.run_dir
    assert more.rows[:2] == first.rows                     # wall_s too: they were read back, not rerun
    assert len(more.rows) == 4
    assert [p.name for p in sorted(first.run_dir.glob("round_*"))] == [f"round_{r:02d}" for r in range(4)]


def test_conv_model_on_images_runs_channels_last():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(96, 3, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)
    result = play(cfg(model="conv2", rounds=1, epochs=1), data=(X[:64], y[:64], X[64:], y[64:]))
    layers = result.layer_densities[1]
    assert any(m.dim() == 4 for m in result.masks[1].values())          # conv weights are masked
    assert masks.density(result.masks[1]) == pytest.approx(0.8, abs=0.01) and len(layers) >= 4

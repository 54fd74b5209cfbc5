"""Lottery figures (mean ± std over seeds, per-layer density, histogram of m) and the explorer widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lottery_lab.plots import lottery as P


def _rows(method, seed, accs, densities=(1.0, 0.5, 0.25)):
    return [{"round": r, "density": d, "test_acc": a, "method": method, "seed": seed}
            for r, (d, a) in enumerate(zip(densities, accs))]


def test_summarize_mean_and_std_over_seeds():
    rows = _rows("imp", 0, [0.9, 0.8, 0.7]) + _rows("imp", 1, [0.7, 0.6, 0.5]) + _rows("random", 0, [0.9, 0.5, 0.1])
    s = P.summarize(rows)
    assert list(s) == ["imp", "random"]
    assert s["imp"]["mean"] == pytest.approx([0.8, 0.7, 0.6])
    assert s["imp"]["std"] == pytest.approx([0.1, 0.1, 0.1])
    assert s["imp"]["n"].tolist() == [2, 2, 2] and s["random"]["std"].tolist() == [0, 0, 0]


def test_accuracy_vs_density_draws_one_line_per_method_with_bands():
    class Result:  # anything with .rows works, as LotteryResult does
        rows = _rows("concave", 0, [0.9, 0.85, 0.8])

    rows = _rows("imp", 0, [0.9, 0.8, 0.7]) + _rows("imp", 1, [0.7, 0.6, 0.5])
    ax = P.accuracy_vs_density([rows, Result()])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["imp (2 seeds)", "concave"]
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    assert len(ax.collections) == 1                                                  # one ±std band
    assert np.allclose(ax.lines[0].get_ydata(), [0.8, 0.7, 0.6])
    plt.close("all")


def test_layer_density_from_masks_and_groups():
    mask = {"0.weight": torch.tensor([1, 0, 0, 0]), "2.weight": torch.ones(3, dtype=torch.bool)}
    ax = P.layer_density(mask)
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.25, 1.0])
    ax = P.layer_density({"imp": {"a": 0.5, "b": 0.1}, "concave": {"a": 0.2, "b": 0.3}})
    assert len(ax.patches) == 4 and [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    plt.close("all")



def test_layer_bars_are_labelled_by_layer_names_not_sequential_indices():
    """LeNet-300-100's keys are 1/3/5.weight (Sequential indices): the bars read fc1/fc2/fc3."""
    from lottery_lab import masks, models

    def ticks(ax):
        return [t.get_text() for t in ax.get_xticklabels()]

    lenet = models.get("mlp", input_shape=(1, 28, 28), num_classes=10)
    assert list(masks.prunable(lenet)) == ["1.weight", "3.weight", "5.weight"]
    assert ticks(P.layer_density(masks.ones_like(lenet))) == ["fc1", "fc2", "fc3"]
    conv2 = models.get("conv2", input_shape=(3, 32, 32), num_classes=10)
    names = masks.layer_names(conv2)
    kinds = ["conv" if p.dim() == 4 else "fc" for p in masks.prunable(conv2).values()]
    assert list(names.values()) == ["conv1", "conv2", "fc1", "fc2", "fc3"] and [n[:-1] for n in names.values()] == kinds
    assert ticks(P.layer_density(masks.ones_like(conv2))) == list(names.values())
    stored = masks.layer_density(masks.ones_like(lenet))  # what a run stores: floats by parameter name
    assert ticks(P.layer_density(stored)) == ["layer 1", "layer 2", "layer 3"]
    assert ticks(P.layer_density(stored, labels=masks.layer_names(lenet))) == ["fc1", "fc2", "fc3"]
    resnet = masks.layer_density(masks.ones_like(models.get("resnet20", input_shape=(3, 32, 32), num_classes=10)))
    assert ticks(P.layer_density(resnet))[:2] == ["conv", "blocks.0.conv1"]  # names that are names stay
    plt.close("all")


def test_mask_histogram_pools_layers_and_marks_alpha():
    m = {"a": torch.tensor([0.0, 0.0, 0.2, 1.0]), "b": np.array([0.9, 1.0, 0.1, 0.6])}
    ax = P.mask_histogram(m, alpha=0.5, bins=10)
    assert sum(p.get_height() for p in ax.patches) == 8
    assert "keeps 50.0%" in ax.get_legend().get_texts()[0].get_text()
    plt.close("all")


def test_rows_of_rejects_unknown_rows():
    with pytest.raises(TypeError, match="cannot read a result row"):
        P.rows_of([42])


def test_explorer_plays_and_draws(monkeypatch):
    from lottery_lab.widgets.lottery import lottery_explorer

    monkeypatch.setattr(plt, "show", lambda: None)
    w = lottery_explorer(lam=1e-3, rounds=1, data="synthetic", data_kw={"n_train": 256}, epochs=1, out_dir=None,
                         method_kw={"mask_lr": 10.0}, play_now=True)
    status = w.children[2].value
    assert "final density" in status, status
    lam, alpha = w.children[0].children
    assert lam.value == pytest.approx(1e-3) and alpha.value == 0.5
    alpha.value = 1.0                                          # the slider clips; bad config → message
    w.children[1].children[0].value = "l0"
    w.children[1].children[2].click()
    assert "final density" in w.children[2].value or "error" in w.children[2].value

"""``plots.lottery.mask_value_histograms`` and ``mask_value_stats``: one panel per layer of the relaxed
mask, with shares counted here by hand."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lottery_lab.plots.lottery import mask_value_histograms, mask_value_stats


def _m():
    return {"a.weight": torch.tensor([0.0, 0.0, 0.005, 0.3, 0.6, 1.0, 1.0, 0.995]),
            "b.weight": np.array([[0.0, 1.0], [0.02, 0.98]])}


def test_stats_count_kept_and_binary_shares_per_layer_and_pooled():
    s = mask_value_stats(_m(), alphas=[0.01, 0.5])
    assert s["a.weight"]["n"] == 8 and s["b.weight"]["n"] == 4 and s["all"]["n"] == 12
    assert s["a.weight"]["kept"] == {0.01: 5 / 8, 0.5: 4 / 8}
    assert s["b.weight"]["kept"] == {0.01: 3 / 4, 0.5: 2 / 4}
    assert s["all"]["kept"][0.5] == pytest.approx(6 / 12)
    assert (s["a.weight"]["low"], s["a.weight"]["high"], s["a.weight"]["middle"]) == (3 / 8, 3 / 8, 2 / 8)
    assert s["b.weight"]["middle"] == pytest.approx(2 / 4)
    for k in s:
        assert s[k]["low"] + s[k]["high"] + s[k]["middle"] == pytest.approx(1.0)


def test_one_panel_per_layer_with_the_kept_share_at_alpha():
    fig = Figure()
    axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    used = mask_value_histograms(_m(), alpha=0.5, axes=axes, bins=10)
    assert used == axes[:2]
    assert "a (8)" in axes[0].get_title() and "25.0%" in axes[0].get_title()
    texts = [t.get_text() for t in axes[1].texts]
    assert texts == ["m ≥ 0.5: 50.0%"]
    heights = [p.get_height() for p in axes[0].patches]
    assert sum(heights) == 8 and heights[0] == 3 and heights[-1] == 3   # bins of width 0.1


def test_new_grid_and_bad_input():
    axes = mask_value_histograms(_m(), cols=1)
    assert len(axes) == 2
    with pytest.raises(ValueError, match="non-empty dict"):
        mask_value_histograms({})
    with pytest.raises(ValueError, match="axes has 1 axes for 2 layers"):
        mask_value_histograms(_m(), axes=[Figure().add_subplot()])

"""The strong-ticket law plot labels its curve points k=… without overlapping labels."""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from lottery_lab.plots.theory import overparameterisation_vs_density


def _boxes(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if isinstance(t, Annotation)]


def test_labels_never_overlap_and_the_first_point_is_labelled():
    k = np.arange(2, 40)
    curve = {"k": list(k), "density": list(1.0 / k), "overparameterisation": list(k * np.log(k) + 3.0)}
    fig = Figure(figsize=(5, 3.5))
    overparameterisation_vs_density(curve, ax=fig.add_subplot())
    boxes = _boxes(fig)
    assert boxes and boxes[0][0] == "k=2"
    assert len(boxes) >= 4                                     # the sparse end still gets labels
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        assert not ba.overlaps(bb), (a, b)


def test_well_spread_points_are_all_labelled():
    curve = {"k": [2, 20, 200], "density": [0.5, 0.05, 0.005], "overparameterisation": [2.0, 60.0, 1500.0]}
    fig = Figure(figsize=(5, 3.5))
    overparameterisation_vs_density(curve, ax=fig.add_subplot())
    assert [t for t, _ in _boxes(fig)] == ["k=2", "k=20", "k=200"]

"""What an explorer's controls and status line show: a log slider's snapped value reads as the round
number it stands for (ε at 10^-1.3 reads 0.05, not 0.0501), neighbouring stops read differently, and a
status line prints its numbers short (λ = 2e-05, not 1.9952623149688786e-05)."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def _sliders(monkeypatch, module, build):
    """The controls ``build()`` hands to ``widgets.interactive`` (nothing is drawn)."""
    monkeypatch.setenv("LOTTERY_LAB_STATIC", "0")
    monkeypatch.setattr(module.widgets, "interactive", lambda fn, **controls: controls)
    return {k: w for k, w in build().items() if isinstance(w, widgets.FloatLogSlider)}


def _every_explorer_slider(monkeypatch):
    from lottery_lab import convex
    from lottery_lab.theory import no_overlap
    from lottery_lab.widgets import convex as wconvex
    from lottery_lab.widgets import theory as wtheory

    D = convex.data.synthetic(n=60, d=4, s=2, seed=0)
    prob = convex.MaskProblem(D.X, D.y, D.theta)
    found = {}
    for name, module, build in [
        ("mask_explorer", wconvex, lambda: wconvex.mask_explorer(prob, D.mask)),
        ("subset_sum_explorer", wtheory, lambda: wtheory.subset_sum_explorer()),
        ("rvsm_explorer", wtheory, lambda: wtheory.rvsm_explorer(no_overlap.sparse_teacher(d=8, nnz=4))),
    ]:
        found.update({f"{name}.{k}": w for k, w in _sliders(monkeypatch, module, build).items()})
    return found


def _stops(slider: widgets.FloatLogSlider) -> np.ndarray:
    n = int(round((slider.max - slider.min) / slider.step))
    return slider.base ** (slider.min + slider.step * np.arange(n + 1))


def test_log_sliders_read_as_the_round_numbers_they_snap_to(monkeypatch):
    sliders = _every_explorer_slider(monkeypatch)
    assert {"mask_explorer.eps", "mask_explorer.lam", "rvsm_explorer.beta"} <= set(sliders)
    for name, slider in sliders.items():
        shown = [format(v, slider.readout_format) for v in _stops(slider)]
        assert len(set(shown)) == len(shown), (name, shown)           # neighbouring stops differ
        for v, text in zip(_stops(slider), shown):
            assert float(text) == pytest.approx(v, rel=0.06), (name, v, text)   # and say the value
            assert len(text.lstrip("0.").replace(".", "").split("e")[0]) <= 2, (name, text)
    eps = sliders["mask_explorer.eps"]
    assert format(10 ** -1.3, eps.readout_format) == "0.05"


def test_the_lottery_explorer_status_prints_short_numbers(monkeypatch):
    import lottery_lab.lottery as lottery
    from lottery_lab.widgets.lottery import lottery_explorer

    seen = []

    def play(config, data=None):  # record the status shown while playing, then stop
        seen.append(box["w"].children[2].value)
        raise ValueError("stopped by the test")

    box = {}
    monkeypatch.setattr(lottery, "play", play)
    box["w"] = lottery_explorer(lam=10 ** -4.7, rounds=1, data="synthetic", out_dir=None)
    box["w"].children[1].children[2].click()
    assert seen, "the explorer did not play"
    status = seen[0]
    assert "lam = 2e-05" in status and "1.99526" not in status, status
    assert status.startswith("playing 1 round with ") and "round(s)" not in status, status

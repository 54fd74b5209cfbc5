"""The notebooks' lottery and method explorers in a static page: every figure of their grid drawn when the
notebook executes, the page's controls choosing among them; live ipywidgets otherwise."""

from __future__ import annotations

import itertools
import json
import re

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import pytest

from lottery_lab.widgets.lottery import lottery_explorer
from lottery_lab.widgets.methods import method_explorer

TINY = dict(data="digits", model="mlp", epochs=1, seed=0, device="cpu", out_dir=None, batch_size=64)


def _parse(html: str) -> dict:
    """What the page's script gets: the figures, the combination → figure map, the values shown per
    control, and each control's number of positions in the HTML (range: max + 1; menu: options)."""
    figures = json.loads(re.search(r"figures = (\[.*?\]), frame", html).group(1))
    frame = json.loads(re.search(r"frame = (\{.*?\}), shown", html).group(1))
    shown = json.loads(re.search(r"shown = (\[.*?\]);", html).group(1))
    positions = []
    for m in re.finditer(r'<input type="range" data-control="\d+" min="0" max="(\d+)"|<select data-control="\d+">(.*?)</select>',
                         html):
        positions.append(int(m.group(1)) + 1 if m.group(1) is not None else m.group(2).count("<option"))
    start = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    return {"figures": figures, "frame": frame, "shown": shown, "positions": positions, "start": start}


def _check_grid(p: dict, shown: list[list[str]]) -> None:
    assert p["shown"] == shown
    assert p["positions"] == [len(s) for s in shown]  # the controls offer exactly the values drawn
    keys = {",".join(map(str, c)) for c in itertools.product(*[range(len(s)) for s in shown])}
    assert set(p["frame"]) == keys  # the script's keys are the controls' positions, every one present
    assert len(p["figures"]) == len(keys)  # one image per grid point …
    assert len(set(p["figures"])) == len(keys)  # … and no two alike: every control changes the figure
    assert all(f.startswith("data:image/png;base64,") for f in p["figures"])


@pytest.fixture
def static(monkeypatch):
    monkeypatch.setenv("LOTTERY_LAB_STATIC", "1")


def test_lottery_explorer_static_draws_every_setting_and_round(static):
    out = lottery_explorer(lam=1e-5, alpha=0.5, penalty="log", rounds=2, method_kw={"mask_lr": 100.0},
                           static_values={"lam": [1e-5, 1e-3], "alpha": [0.5], "penalty": ["log", "l1"]}, **TINY)
    p = _parse(out.data)
    _check_grid(p, [["1e-05", "0.001"], ["0.5"], ["log", "l1"], ["1", "2"]])
    assert p["start"] == p["figures"][p["frame"]["0,0,0,1"]]  # λ = 1e-5, log, 2 rounds


def test_lottery_explorer_static_refuses_unknown_controls(static):
    with pytest.raises(ValueError, match="unknown control"):
        lottery_explorer(static_values={"beta": [1.0]}, **TINY)


def test_method_explorer_static_draws_every_method_and_target(static):
    out = method_explorer(method="imp", target=0.5, targets=(0.5, 0.3), static_methods=["imp", "snip"], **TINY)
    p = _parse(out.data)
    _check_grid(p, [["imp", "snip"], ["50.0%", "30.0%"]])
    assert p["start"] == p["figures"][p["frame"]["0,0"]]


def test_explorers_stay_live_without_the_static_setting(monkeypatch):
    monkeypatch.delenv("LOTTERY_LAB_STATIC", raising=False)
    assert isinstance(lottery_explorer(**TINY), widgets.VBox)
    assert isinstance(method_explorer(**TINY), widgets.VBox)

"""Precomputed explorers: one figure per combination of control values, chosen by the page's script."""

from __future__ import annotations

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from lottery_lab.widgets._static import Control, grid, precomputed_explorer, static_page


def _draw(a: float, kind: str):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, a if kind == "up" else -a])
    return fig


def _parts(html: str) -> tuple[list[str], dict[str, int], str]:
    figures = json.loads(re.search(r"figures = (\[.*?\]), frame", html).group(1))
    frame = json.loads(re.search(r"frame = (\{.*?\}), shown", html).group(1))
    start = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    return figures, frame, start


def test_every_combination_has_its_own_figure_and_the_start_is_shown():
    calls = []

    def draw(a, kind):
        calls.append((a, kind))
        return _draw(a, kind)

    out = precomputed_explorer(draw, [Control("a", [1.0, 2.0, 3.0], 2.0), Control("kind", ["up", "down"], "down")],
                               progress=False)
    figures, frame, start = _parts(out.data)
    assert sorted(calls) == sorted((a, k) for a in (1.0, 2.0, 3.0) for k in ("up", "down"))
    assert set(frame) == {f"{i},{j}" for i in range(3) for j in range(2)}
    assert len(set(figures)) == 6  # six different plots, six different PNGs
    assert start == figures[frame["1,1"]]  # a = 2.0, kind = "down"
    assert all(base64.b64decode(f.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)
    assert out.data.count('type="range"') == 1 and out.data.count("<select") == 1


def test_same_draws_a_shared_figure_once():
    calls = []

    def draw(a, kind):
        calls.append((a, kind))
        return _draw(a, "up")

    out = precomputed_explorer(draw, [Control("a", [1.0, 2.0], 1.0), Control("kind", ["up", "down"], "up")],
                               same=lambda a, kind: a, progress=False)
    figures, frame, _ = _parts(out.data)
    assert len(calls) == 2 and len(figures) == 2
    assert frame["0,0"] == frame["0,1"] != frame["1,0"] == frame["1,1"]


def test_bad_controls_are_refused():
    with pytest.raises(ValueError, match="start must be one of"):
        Control("a", [1, 2], 3)
    with pytest.raises(ValueError, match="values must not be empty"):
        Control("a", [], 1)
    with pytest.raises(ValueError, match="at least one control"):
        precomputed_explorer(_draw, [])


def test_grid_is_log_spaced_and_holds_the_start():
    assert grid(0.05, -3, 0, 1.0) == pytest.approx([1e-3, 1e-2, 0.05, 0.1, 1.0])
    assert grid(0.01, -4, 0, 0.5)[::2] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])


def test_static_page_follows_the_book_builds_variable(monkeypatch):
    monkeypatch.delenv("LOTTERY_LAB_STATIC", raising=False)
    assert not static_page()
    monkeypatch.setenv("LOTTERY_LAB_STATIC", "1")
    assert static_page()

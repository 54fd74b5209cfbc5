"""``lottery_lab.results`` (summaries over seeds, run tables, CSV) apart from the store, and the figures'
shared pieces: one mean ± std, one log density axis, distinct names for figures and axes."""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lottery_lab import compare, results, runs
from lottery_lab.plots import axes as plot_axes


def _rows(method, seed, accs, densities=(1.0, 0.2, 0.05)):
    return [{"round": r, "density": d, "test_acc": a, "method": method, "seed": seed}
            for r, (d, a) in enumerate(zip(densities, accs))]


def test_mean_std_is_the_population_std_over_seeds():
    values = np.random.default_rng(3).random(7).tolist()
    mean, std, n = results.mean_std(values)
    assert mean == pytest.approx(statistics.fmean(values), abs=1e-15)
    assert std == pytest.approx(statistics.pstdev(values), abs=1e-15)   # ddof=0: one seed has std 0
    assert n == 7 and results.mean_std([0.25]) == (0.25, 0.0, 1)
    with pytest.raises(ValueError, match=r"values=\[\] must hold at least one number"):
        results.mean_std([])


def test_report_summary_and_compare_aggregate_agree_on_the_same_seeds():
    """The same rows averaged by the report's summarize and by compare's aggregate: the same numbers."""
    rows = (_rows("imp", 0, [0.9, 0.8, 0.7]) + _rows("imp", 1, [0.8, 0.75, 0.5])
            + _rows("imp", 2, [0.85, 0.7, 0.55]))
    s = results.summarize(rows)["imp"]
    agg = compare.aggregate(rows, targets=(0.2, 0.05))
    for i, t in ((1, 0.2), (2, 0.05)):
        a = next(r for r in agg if r["target"] == t)
        accs = [r["test_acc"] for r in rows if r["round"] == i]
        assert a["test_acc_mean"] == s["mean"][i] == pytest.approx(statistics.fmean(accs))
        assert a["test_acc_std"] == s["std"][i] == pytest.approx(statistics.pstdev(accs))
        assert a["n"] == s["n"][i] == 3
    dense = compare.dense_baseline(rows)
    assert (dense["test_acc_mean"], dense["test_acc_std"]) == (s["mean"][0], s["std"][0])


def test_run_table_and_csv():
    rows = [{"round": 0, "density": 1.0, "test_acc": 0.9, "train_loss": 0.3, "wall_s": 1.25, "method": "imp",
             "seed": 0, "extra": "x"},
            {"round": 1, "density": 0.5, "test_acc": 0.85, "train_loss": None, "wall_s": 2.0, "method": "imp",
             "seed": 0}]
    lines = results.run_table(rows, "imp (seed 0)").splitlines()
    assert lines[0] == "imp (seed 0)" and lines[1].split() == ["round", "density", "test", "acc", "train", "loss",
                                                               "wall", "s"]
    assert lines[2].split() == ["0", "1.0000", "0.9000", "0.3000", "1.2"]
    assert lines[3].split() == ["1", "0.5000", "0.8500", "-", "2.0"]     # a missing value shows as '-'
    back = list(csv.DictReader(io.StringIO(results.csv_bytes(rows).decode())))
    assert list(back[0]) == ["round", "density", "test_acc", "train_loss", "method", "seed", "wall_s", "extra"]
    assert back[1]["train_loss"] == "" and back[1]["extra"] == "" and back[0]["extra"] == "x"
    result = runs.LotteryResult(rows, SimpleNamespace(method="imp", seed=0), None, [])
    assert result.table() == results.run_table(rows, "imp (seed 0)") == str(result)


def test_old_names_still_import():
    from lottery_lab import lottery
    from lottery_lab.plots import convex as cplots
    from lottery_lab.plots import lottery as lplots

    assert lottery.LotteryResult is runs.LotteryResult
    assert runs.ROW_KEYS is results.ROW_KEYS
    assert lplots.summarize is results.summarize and lplots.rows_of is results.rows_of
    assert cplots.accuracy_vs_density is cplots.accuracy_figure
    assert cplots.mask_histogram is cplots.mask_histogram_figure


def test_results_and_the_figure_modules_import_no_torch_and_no_pyplot():
    code = ("import sys, json\nimport lottery_lab.results\n"
            "t = 'torch' in sys.modules or 'matplotlib' in sys.modules\n"
            "import lottery_lab.plots.lottery, lottery_lab.plots.compare, lottery_lab.plots.convex\n"
            "import lottery_lab.plots.theory\n"
            "print(json.dumps([t, 'matplotlib.pyplot' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [False, False]


# ------------------------------------------------------------------------------- the density axis

def _fake_convex_experiment():
    from lottery_lab.convex.experiments import METHODS

    rows = [{"method": m, "density": d, "test_acc": 0.9 - 0.1 * i * d} for i, m in enumerate(METHODS)
            for d in (0.5, 0.1, 0.02)]
    return SimpleNamespace(rows=rows, dense_test_acc=0.95, settings={"a": 3, "b": 8})


def _axes_of_every_density_plot():
    from lottery_lab.plots import compare as pcompare
    from lottery_lab.plots import convex as pconvex
    from lottery_lab.plots import lottery as plottery

    rows = _rows("imp", 0, [0.9, 0.8, 0.7]) + _rows("imp", 1, [0.8, 0.75, 0.5])
    result = runs.LotteryResult(_rows("imp", 0, [0.9, 0.8, 0.7]), SimpleNamespace(method="imp", seed=0), None, [])
    agg = compare.aggregate(rows, targets=(0.2, 0.05))
    return {
        "plots.lottery.accuracy_vs_density": plottery.accuracy_vs_density(rows, ax=Figure().add_subplot()),
        "LotteryResult.plot": result.plot(ax=Figure().add_subplot()),
        "plots.compare.accuracy_at_density": pcompare.accuracy_at_density(agg, targets=(0.2, 0.05),
                                                                          ax=Figure().add_subplot()),
        "plots.convex.accuracy_figure": pconvex.accuracy_figure(_fake_convex_experiment(),
                                                                ax=Figure().add_subplot()).axes[0],
    }


def test_every_density_plot_formats_its_axis_through_the_one_helper():
    for name, ax in _axes_of_every_density_plot().items():
        assert ax.get_xscale() == "log", name
        assert ax.xaxis_inverted(), name                                   # dense on the left
        assert ax.xaxis.get_major_formatter().func is plot_axes.percent, name
        ticks = [t for t in ax.get_xticks() if min(ax.get_xlim()) <= t <= max(ax.get_xlim())]
        allowed = set(plot_axes.DENSITY_TICKS) | {0.2, 0.05}
        if name.startswith(("plots.lottery", "LotteryResult")):  # a run's rounds: ticked at its densities
            allowed = {float(x) for line in ax.get_lines() for x in line.get_xdata()}
        assert set(ticks) <= allowed, name


def test_density_ticks_read_as_percent_and_follow_the_data():
    assert [plot_axes.percent(x) for x in (1.0, 0.5, 0.05, 0.005)] == ["100%", "50%", "5%", "0.5%"]
    ax = Figure().add_subplot()
    ax.plot([1.0, 0.3, 0.04], [0.9, 0.8, 0.7])
    plot_axes.density_axis(ax, [1.0, 0.3, 0.04])
    assert list(ax.xaxis.get_major_locator().locs) == [1.0, 0.5, 0.2, 0.1, 0.05]   # 0.8 × 0.04 ≤ t ≤ 1.25
    ax = Figure().add_subplot()
    plot_axes.density_axis(ax, [0.21, 0.06], extra_ticks=(0.2, 0.05), pad=1.3)
    assert ax.get_xlim() == pytest.approx((0.21 * 1.3, 0.05 / 1.3))



def _labelled_ticks(ax):
    fmt = ax.xaxis.get_major_formatter()
    return {float(t): fmt(t, i) for i, t in enumerate(ax.xaxis.get_major_locator().locs)}


def test_a_few_rounds_label_every_plotted_density():
    """The demo's quick rounds (100 %, 50 %, 25 % and a concave point at 98 %): 25 % had no label."""
    from lottery_lab.plots import lottery as plottery

    rows = (_rows("imp", 0, [0.6, 0.74, 0.73], (1.0, 0.5, 0.25)) + _rows("concave", 0, [0.6, 0.47], (1.0, 0.9818))
            + _rows("random", 0, [0.6, 0.61, 0.27], (1.0, 0.5, 0.25)))
    ax = plottery.accuracy_vs_density(rows, ax=Figure().add_subplot())
    labels = _labelled_ticks(ax)
    plotted = {float(x) for line in ax.get_lines() for x in line.get_xdata()}
    for d in plotted - {0.9818}:  # 98 % sits at 1/60 of the axis from 100 %: drawn by that label
        assert labels.get(d) == f"{d:.0%}", (d, labels)
    assert min(abs(np.log(0.9818 / t)) for t in labels) < plot_axes.DATA_TICK_GAP * np.log(1 / 0.25)


def test_data_ticks_keep_labels_apart_and_always_label_both_ends():
    imp = [0.8 ** r for r in range(15)]  # 14 rounds of IMP at 20 %: too many labels to print them all
    ticks = plot_axes.data_ticks(imp)
    assert ticks[0] == 1.0 and ticks[-1] == imp[-1] and ticks == sorted(ticks, reverse=True)
    span = np.log(imp[0] / imp[-1])
    assert all(np.log(a / b) >= plot_axes.DATA_TICK_GAP * span for a, b in zip(ticks, ticks[1:]))
    assert all(min(abs(np.log(d / t)) for t in ticks) < plot_axes.DATA_TICK_GAP * span for d in imp)
    assert [plot_axes.percent(x) for x in (0.8 ** 3, 0.8 ** 14)] == ["51.2%", "4.4%"]
    with pytest.raises(ValueError, match="ticks must be 'data' or a sequence"):
        plot_axes.density_axis(Figure().add_subplot(), [1.0, 0.5], ticks="auto")


def test_one_seed_shows_no_std_in_the_table():
    """A spread needs two seeds: one seed's ± std reads —, not a 0.0000 that looks measured."""
    one = results.summary_table(results.summarize(_rows("imp", 0, [0.9, 0.8, 0.7])))
    body = [line.split() for line in one.splitlines()[1:]]
    assert [cells[4] for cells in body] == ["—"] * 3 and [cells[5] for cells in body] == ["1"] * 3
    two = results.summary_table(results.summarize(_rows("imp", 0, [0.9, 0.8, 0.7]) + _rows("imp", 1, [0.8, 0.7, 0.6])))
    assert [line.split()[4] for line in two.splitlines()[1:]] == [f"{statistics.pstdev([a, b]):.4f}"
                                                                  for a, b in ((0.9, 0.8), (0.8, 0.7), (0.7, 0.6))]


def test_figures_and_axes_have_distinct_names():
    from lottery_lab.plots import convex as pconvex
    from lottery_lab.plots import lottery as plottery

    exp = _fake_convex_experiment()
    assert isinstance(pconvex.accuracy_figure(exp), Figure)
    m = np.array([0.0, 0.2, 0.9, 1.0])
    assert isinstance(pconvex.mask_histogram_figure(m, m_ref=np.array([0, 0, 1, 1])), Figure)
    assert isinstance(plottery.accuracy_vs_density(_rows("imp", 0, [0.9, 0.8, 0.7])), Axes)
    assert isinstance(plottery.mask_histogram({"a": m}), Axes)
    fig = Figure()                                          # the CLI's figures: no pyplot, sized by the plot
    same, (left, right) = plot_axes.subplots(1, 2, figsize=(10.0, 4.0), fig=fig)
    assert same is fig and fig.get_size_inches().tolist() == [10.0, 4.0] and left.figure is fig
    import matplotlib.pyplot as plt

    plt.close("all")


def test_counts_read_in_the_singular_for_one():
    """'1 epochs per round', '1 seed(s)': one of a thing is singular in tables and titles."""
    assert [results.count(n, "round") for n in (0, 1, 2)] == ["0 rounds", "1 round", "2 rounds"]
    settings = {"data": "mnist5k", "model": "mlp", "epochs": 1, "seeds": [0], "methods": [], "targets": [0.2]}
    one = compare.Comparison(rows=[], dense=None, runs=[], settings=settings)
    assert one.table().splitlines()[0].startswith("mnist5k / mlp: 1 epoch per round, seed 0;")
    assert one.plot(ax=Figure().add_subplot(), legend=False).get_title() == "mnist5k / mlp, 1 epoch, 1 seed"
    two = compare.Comparison(rows=[], dense=None, runs=[], settings={**settings, "epochs": 2, "seeds": [0, 1]})
    assert two.table().splitlines()[0].startswith("mnist5k / mlp: 2 epochs per round, seeds 0, 1;")

"""The bootstrap of benchmarks/exp_headline.py against cases with a known answer."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("exp_headline", ROOT / "benchmarks" / "exp_headline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


H = _module()


def _exact_quantile(x: list[float], q: float) -> float:
    """The q-quantile (inverse CDF: smallest v with P(mean ≤ v) ≥ q) of the mean of len(x) draws with
    replacement, by enumerating all len(x)^len(x) equally likely resamples."""
    means = np.sort([np.mean(t) for t in itertools.product(x, repeat=len(x))])
    cdf = np.arange(1, len(means) + 1) / len(means)
    return float(means[np.searchsorted(cdf, q - 1e-12)])


def test_constant_difference_gives_a_zero_width_interval():
    a = np.array([0.91, 0.95, 0.88, 0.97, 0.93])
    mean, low, high = H.paired_ci(a + 0.0125, a)
    assert mean == pytest.approx(0.0125, abs=1e-12)
    assert low == pytest.approx(0.0125, abs=1e-12) and high == pytest.approx(0.0125, abs=1e-12)


@pytest.mark.parametrize("level", [0.6, 0.8, 0.9, 0.95])
def test_percentile_interval_matches_brute_force_on_three_values(level):
    x = [0.2, 0.5, 1.7]   # the 27 resample means take 10 distinct values; no level sits on a CDF step
    means = np.sort([np.mean(t) for t in itertools.product(x, repeat=3)])
    values, counts = np.unique(np.round(means, 12), return_counts=True)
    assert len(values) == 10
    cdf = np.cumsum(counts) / 27                 # the CDF's steps, at the distinct means
    for q in ((1 - level) / 2, (1 + level) / 2):
        assert np.min(np.abs(cdf - q)) > 0.01   # the Monte Carlo quantile cannot straddle a step
    mean, low, high = H.bootstrap_ci(x, level=level, n_boot=40_000, seed=1)
    assert mean == pytest.approx(np.mean(x))
    assert low == pytest.approx(_exact_quantile(x, (1 - level) / 2), abs=1e-12)
    assert high == pytest.approx(_exact_quantile(x, (1 + level) / 2), abs=1e-12)
    assert means[0] <= low <= mean <= high <= means[-1]


def test_interval_at_95_percent_on_three_values_is_min_to_max():
    # P(resample mean = min) = 1/27 > 2.5 %: the 95 % percentile interval is [min, max]
    assert H.bootstrap_ci([3.0, -1.0, 2.0], level=0.95, n_boot=20_000, seed=0)[1:] == (-1.0, 3.0)


def test_seeded_and_shrinking_with_more_pairs():
    rng = np.random.default_rng(5)
    d_small, d_large = rng.normal(1.0, 1.0, 5), rng.normal(1.0, 1.0, 500)
    assert H.bootstrap_ci(d_small, seed=3) == H.bootstrap_ci(d_small, seed=3)
    _, lo5, hi5 = H.bootstrap_ci(d_small)
    _, lo500, hi500 = H.bootstrap_ci(d_large)
    assert hi500 - lo500 < (hi5 - lo5) / 3
    # a large sample: the percentile interval is close to mean ± 1.96 s / sqrt(n)
    half = 1.96 * d_large.std() / np.sqrt(d_large.size)
    assert (hi500 - lo500) / 2 == pytest.approx(half, rel=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: H.bootstrap_ci([]), "x=.*non-empty"),
    (lambda: H.bootstrap_ci([1.0, float("nan")]), "x=.*finite"),
    (lambda: H.bootstrap_ci([1.0, 2.0], level=1.0), "level=1.0"),
    (lambda: H.bootstrap_ci([1.0, 2.0], n_boot=0), "n_boot=0"),
    (lambda: H.paired_ci([1.0, 2.0], [1.0]), "len\\(a\\)=2, len\\(b\\)=1"),
])
def test_bad_input_is_refused_with_the_argument_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()

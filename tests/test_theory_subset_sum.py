"""Subset sums: meet in the middle and full enumeration against brute force over all subsets."""

import itertools
import math

import numpy as np
import pytest

from lottery_lab.theory import subset_sum as ss


def _brute(x: np.ndarray, z: float, k: int | None) -> float:
    sizes = range(x.size + 1) if k is None else [k]
    return min(abs(z - sum(x[list(c)])) for r in sizes for c in itertools.combinations(range(x.size), r))


@pytest.mark.parametrize("fixed_size", [False, True])
def test_mitm_equals_brute_force(fixed_size):
    rng = np.random.default_rng(1 + fixed_size)
    for _ in range(120):
        n = int(rng.integers(1, 13))
        x = rng.uniform(-1, 1, n)
        z = float(rng.uniform(-2, 2))
        k = int(rng.integers(0, n + 1)) if fixed_size else None
        err, idx = ss.best_subset(x, z, k)
        assert err == pytest.approx(_brute(x, z, k), abs=1e-12)
        assert abs(z - x[idx].sum()) == pytest.approx(err, abs=1e-12)
        assert len(set(idx.tolist())) == idx.size and np.all(np.diff(idx) > 0)
        if k is not None:
            assert idx.size == k


def test_mitm_large_k_small_uses_more_samples():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 300)
    err, idx = ss.best_subset(x, 0.37, k=2)
    pairs = x[:, None] + x[None, :]
    np.fill_diagonal(pairs, np.inf)
    assert err == pytest.approx(np.min(np.abs(0.37 - pairs)), abs=1e-14)
    assert idx.size == 2


def test_subset_sums_match_enumeration():
    rng = np.random.default_rng(4)
    for _ in range(40):
        n = int(rng.integers(1, 11))
        x = rng.uniform(-1, 1, n)
        for k in [None, int(rng.integers(0, n + 1))]:
            sizes = range(n + 1) if k is None else [k]
            ref = np.sort([sum(x[list(c)]) for r in sizes for c in itertools.combinations(range(n), r)])
            np.testing.assert_allclose(ss.subset_sums(x, k), ref, atol=1e-12)


def test_sup_error_brackets_a_fine_grid():
    rng = np.random.default_rng(5)
    for k in [None, 3]:
        x = rng.uniform(-1, 1, 10)
        half = 1.0 if k is None else math.sqrt(k)
        grid = np.linspace(-half, half, 4001)
        grid_sup = max(ss.best_subset(x, z, k)[0] for z in grid[::20])
        sums = ss.subset_sums(x, k)
        dense = np.max(np.min(np.abs(grid[:, None] - sums[None, :]), axis=1))
        exact = ss.sup_error(x, k)
        assert grid_sup <= exact + 1e-12
        assert dense <= exact + 1e-12 <= dense + (grid[1] - grid[0]) / 2 + 1e-12


def _sup_error_by_brute_force(x: np.ndarray, k: int | None, lo: float, hi: float) -> float:
    """max over [lo, hi] of the distance to the nearest subset sum, from an itertools enumeration:
    evaluated at both ends, at every midpoint of two consecutive sums that lies inside, and on a grid."""
    sizes = range(x.size + 1) if k is None else [k]
    sums = np.sort([sum(x[list(c)]) for r in sizes for c in itertools.combinations(range(x.size), r)])
    mids = (sums[1:] + sums[:-1]) / 2
    z = np.concatenate([[lo, hi], mids[(mids >= lo) & (mids <= hi)], np.linspace(lo, hi, 2001)])
    return float(np.max(np.min(np.abs(z[:, None] - sums[None, :]), axis=1)))


@pytest.mark.parametrize("fixed_size", [False, True])
def test_sup_error_equals_brute_force_on_random_instances(fixed_size):
    # the gaps that straddle an end of the interval, with their midpoint inside, are where a
    # version that took only the gaps between two sums inside [lo, hi] fell short (4-10 % of draws)
    rng = np.random.default_rng(11 + fixed_size)
    for trial in range(300):
        n = int(rng.integers(1, 10))
        x = rng.uniform(-1, 1, n)
        k = int(rng.integers(0, n + 1)) if fixed_size else None
        if trial % 2:
            lo, hi = np.sort(rng.uniform(-2, 2, 2))
        else:  # the default interval: [-1, 1], or [-sqrt(k), sqrt(k)]
            half = 1.0 if k is None else math.sqrt(max(k, 1))
            lo, hi = -half, half
        expect = _sup_error_by_brute_force(x, k, float(lo), float(hi))
        got = ss.sup_error(x, k, float(lo), float(hi)) if trial % 2 else ss.sup_error(x, k)
        assert got == pytest.approx(expect, abs=1e-12), (x, k, lo, hi)


def test_sup_error_counts_a_gap_straddling_an_end():
    # sums {0, 0.3, 1.6, 1.9}, interval [0.2, 1.0]: the gap (0.3, 1.6) has its midpoint 0.95 inside, so
    # the sup is 0.65 there (the ends give 0.1 and 0.6), though only one sum lies inside
    assert ss.sup_error(np.array([0.3, 1.6]), None, 0.2, 1.0) == pytest.approx(0.65, abs=1e-12)


def test_coverage_monotone_and_threshold():
    cov = ss.coverage(np.arange(1, 16), None, trials=30, seed=0, progress=False)
    assert np.all(np.diff(cov.sup_errors, axis=1) <= 1e-15)
    p = cov.probability(0.05)
    assert np.all(np.diff(p) >= 0) and p[0] == 0 and p[-1] >= 0.9
    n_star = cov.threshold(0.05)
    i = np.searchsorted(cov.n_values, n_star)
    assert p[i - 1] < 0.5 <= p[i]


def test_fits_recover_a_known_law():
    cov = ss.coverage(np.arange(1, 17), None, trials=40, seed=1, progress=False)
    fit = ss.fit_thresholds([cov], [0.1, 0.03, 0.01, 0.003])
    assert fit.r2 > 0.95 and 0.8 < fit.slope < 1.8
    np.testing.assert_allclose(fit.y, fit.n_star)
    y, x = fit.y, fit.x
    assert fit.r2_origin == pytest.approx(1 - np.sum((y - fit.C * x) ** 2) / np.sum((y - y.mean()) ** 2))
    assert fit.C == pytest.approx(np.sum(x * y) / np.sum(x * x)) and fit.r2_origin < fit.r2
    covs = [ss.coverage(ss.default_n_values(k, 0.03), k, trials=20, seed=k, progress=False)
            for k in (3, 4)]
    fit = ss.fit_thresholds(covs, [0.1, 0.03])
    ok = np.isfinite(fit.n_star)
    np.testing.assert_allclose(fit.y[ok], fit.n_star[ok] * ss.binary_entropy(fit.k[ok] / fit.n_star[ok]))
    np.testing.assert_allclose(fit.x, np.log2(fit.k / fit.eps))


def test_binary_entropy():
    assert ss.binary_entropy(0.5) == pytest.approx(1.0)
    assert ss.binary_entropy(0.0) == 0 and ss.binary_entropy(1.0) == 0
    assert ss.binary_entropy(0.11) == pytest.approx(-(0.11 * math.log2(0.11) + 0.89 * math.log2(0.89)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ss.best_subset(np.zeros(41), 0.0), r"n <= 40"),
        (lambda: ss.best_subset(np.zeros(70), 0.0, k=12), r"size k=12 allows n <= \d+"),
        (lambda: ss.best_subset(np.zeros(5), 0.0, k=6), r"k must be .* \[0, n=5\]"),
        (lambda: ss.best_subset(np.zeros(5), 0.0, k=-1), r"k must be"),
        (lambda: ss.best_subset(np.zeros((2, 3)), 0.0), r"samples must be a 1-d array"),
        (lambda: ss.best_subset(np.zeros(3), math.nan), r"z must be finite"),
        (lambda: ss.subset_sums(np.zeros(24)), r"MAX_ENUMERATED .* n <= 23"),
        (lambda: ss.coverage([3, 4], k=5, trials=2, progress=False), r"k > n"),
        (lambda: ss.coverage([4, 3], trials=2, progress=False), r"n_values must be .* increasing"),
        (lambda: ss.coverage([30], trials=2, progress=False), r"MAX_ENUMERATED"),
        (lambda: ss.coverage([3], trials=0, progress=False), r"trials must be"),
        (lambda: ss.default_n_values(None, 0.0), r"eps must be a finite number > 0"),
        (lambda: ss.fit_thresholds([], [-0.1]), r"eps must be a finite number > 0, got eps=-0.1"),
        (lambda: ss.sup_error(np.zeros(3), lo=1.0, hi=0.0), r"lo <= hi"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_coverage_probability_rejects_bad_eps_and_q():
    cov = ss.coverage([1, 2], None, trials=2, progress=False)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        cov.probability(0.0)
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\)"):
        cov.threshold(0.1, q=1.0)

"""Random subset sums, exactly: the combinatorial engine behind the strong lottery ticket hypothesis.

Two exact algorithms, both vectorised with numpy:

* :func:`best_subset` — meet in the middle. The samples are split into two halves; all subset sums of
  each half are listed (2^(n/2) each) and sorted, and for every sum a of one half the best partner of
  z − a in the other is found by binary search (``np.searchsorted``). Fixed-size subsets (RFSS) do
  the same per split of k = c + (k − c) between the halves, listing only subsets of at most k
  elements. Exact for n ≤ :func:`max_mitm_n` (40 for any size; more for small k).
* :func:`subset_sums` — the sorted list of *all* subset sums (or all k-element sums), built as the
  outer sums of the two halves' lists; :func:`sup_error` reads off it the exact worst-case error
  sup_z min_S |z − Σ_S| over a whole interval of targets. Exact while at most :data:`MAX_ENUMERATED`
  sums are listed.

On top of these, :func:`coverage` estimates the probability that *every* target in an interval is
ε-approximable, and :func:`fit_thresholds` measures the threshold sample size n*(k, ε) and fits it
against the scaling laws n* ∝ log₂(1/ε) (Lueker, 1998) and n·H₂(k/n) ∝ log₂(k/ε).  The second is this
project's *empirical* law for covering every target of [−√k, √k]: Natale et al. (NeurIPS 2024,
Theorem 2) prove n·H₂(k/n) ≥ c·log₂(k/ε) (k ≤ n/2) for a *fixed* target with constant probability, and
every target with probability ≥ 1 − ε (their Corollary 1) with log₂²(k/ε) in place of log₂(k/ε).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "MAX_MITM_HALF", "MAX_ENUMERATED", "max_mitm_n", "best_subset", "subset_sums", "sup_error",
    "binary_entropy", "CoverageResult", "coverage", "default_n_values", "ThresholdFit",
    "fit_thresholds",
]

MAX_MITM_HALF = 2**20
"""Most subset sums :func:`best_subset` lists per half (any size: n ≤ 40, a few seconds)."""

MAX_ENUMERATED = 2**23
"""Most subset sums :func:`subset_sums` lists (2^n for any size, C(n, k) for size k): n ≤ 23."""


def _as_samples(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"samples must be a 1-d array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite")
    return x


def _check_k(k: int | None, n: int) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be None (any size) or an int in [0, n={n}], got {k!r}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be None (any size) or an int in [0, n={n}], got k={k}")
    return int(k)


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite number > 0, got eps={eps}")
    return eps


@dataclass
class _Levels:
    """The subsets of a half with at most ``cap`` elements, level c holding those of size c.

    Entry p of level c extends entry ``parent[c][p]`` of level c − 1 by the element ``last[c][p]``,
    larger than every element before it, so each subset is listed once and can be walked back.
    """

    sums: list[np.ndarray]
    last: list[np.ndarray]
    parent: list[np.ndarray]

    @classmethod
    def of(cls, x: np.ndarray, cap: int) -> "_Levels":
        m = x.size
        sums, last, parent = [np.zeros(1)], [np.full(1, -1)], [np.full(1, -1)]
        for _ in range(min(cap, m)):
            width = m - 1 - last[-1]
            par = np.repeat(np.arange(width.size), width)
            start = np.cumsum(width) - width
            j = last[-1][par] + 1 + (np.arange(par.size) - start[par])
            sums.append(sums[-1][par] + x[j])
            last.append(j)
            parent.append(par)
        return cls(sums, last, parent)

    def members(self, c: int, p: int) -> list[int]:
        out = []
        for level in range(c, 0, -1):
            out.append(int(self.last[level][p]))
            p = int(self.parent[level][p])
        return out


def _half_count(m: int, k: int | None) -> int:
    return 2**m if k is None else sum(math.comb(m, c) for c in range(min(k, m) + 1))


def max_mitm_n(k: int | None = None) -> int:
    """Largest n for which :func:`best_subset` lists at most :data:`MAX_MITM_HALF` sums per half."""
    fits = lambda n: _half_count(n - n // 2, k) <= MAX_MITM_HALF  # noqa: E731
    lo, hi = 1, 2
    while fits(hi):
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def best_subset(samples: np.ndarray, z: float, k: int | None = None) -> tuple[float, np.ndarray]:
    """The subset of ``samples`` whose sum is closest to ``z``, found exactly by meet in the middle.

    Parameters
    ----------
    samples : array of shape (n,)
        The sample Ω; n ≤ :func:`max_mitm_n` (k).
    z : float
        The target.
    k : int or None
        None: any subset (Random Subset Sum); an int in [0, n]: subsets of exactly k elements
        (Random Fixed-Size Subset Sum).

    Returns
    -------
    err : float
        min over admissible subsets S of |z − Σ_{i∈S} samples[i]|.
    idx : ndarray of int
        The indices of one optimal subset, sorted.

    Examples
    --------
    >>> err, idx = best_subset([0.5, -0.2, 0.3, 0.9], 0.8, k=2)
    >>> round(err, 12), idx.tolist()
    (0.0, [0, 2])
    """
    x = _as_samples(samples)
    n = x.size
    k = _check_k(k, n)
    n_a = n // 2
    if _half_count(n - n_a, k) > MAX_MITM_HALF:
        what = "any size" if k is None else f"size k={k}"
        raise ValueError(
            f"samples has n={n} elements; exact meet-in-the-middle search for {what} allows "
            f"n <= {max_mitm_n(k)}"
        )
    z = float(z)
    if not math.isfinite(z):
        raise ValueError(f"z must be finite, got z={z}")
    cap = n if k is None else k
    half_a, half_b = _Levels.of(x[:n_a], cap), _Levels.of(x[n_a:], cap)
    if k is None:
        pairs = [(range(len(half_a.sums)), range(len(half_b.sums)))]
    else:
        pairs = [([c], [k - c]) for c in range(max(0, k - (n - n_a)), min(k, n_a) + 1)]
    best = (math.inf, (0, 0), (0, 0))
    for levels_a, levels_b in pairs:
        a_sums, a_ref = _flatten(half_a, levels_a)
        b_sums, b_ref = _flatten(half_b, levels_b)
        order = np.argsort(b_sums)
        b_sums, b_ref = b_sums[order], b_ref[order]
        order = np.argsort(-a_sums)  # increasing targets: binary searches that walk memory in order
        a_sums, a_ref = a_sums[order], a_ref[order]
        target = z - a_sums
        j = np.searchsorted(b_sums, target)
        cand = np.stack([np.clip(j - 1, 0, b_sums.size - 1), np.clip(j, 0, b_sums.size - 1)])
        errs = np.abs(target[None, :] - b_sums[cand])
        which = np.argmin(errs, axis=0)
        col = np.arange(target.size)
        errs, cand = errs[which, col], cand[which, col]
        i = int(np.argmin(errs))
        if errs[i] < best[0]:
            best = (float(errs[i]), tuple(a_ref[i]), tuple(b_ref[cand[i]]))
    err, (c_a, p_a), (c_b, p_b) = best
    idx = half_a.members(c_a, p_a) + [n_a + i for i in half_b.members(c_b, p_b)]
    return err, np.array(sorted(idx), dtype=np.int64)


def _flatten(half: _Levels, levels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The sums of the given levels in one array, with (level, position) of each."""
    sums = np.concatenate([half.sums[c] for c in levels])
    ref = np.concatenate([np.stack([np.full(half.sums[c].size, c), np.arange(half.sums[c].size)], 1)
                          for c in levels])
    return sums, ref


def _check_enumeration(n: int, k: int | None) -> None:
    count = 2**n if k is None else math.comb(n, k)
    if count > MAX_ENUMERATED:
        what = f"2^{n}" if k is None else f"C({n}, {k})"
        raise ValueError(
            f"samples has n={n} elements: listing all {what} = {count} subset sums exceeds "
            f"MAX_ENUMERATED = {MAX_ENUMERATED} (for any size, n <= {int(math.log2(MAX_ENUMERATED))})"
        )


def subset_sums(samples: np.ndarray, k: int | None = None) -> np.ndarray:
    """All subset sums of ``samples`` (all 2^n, or the C(n, k) of size k), sorted.

    Built as the outer sums a + b of the two halves' lists, split by size for fixed k, then sorted.
    Raises ValueError when there are more than :data:`MAX_ENUMERATED` of them.
    """
    x = _as_samples(samples)
    n = x.size
    k = _check_k(k, n)
    _check_enumeration(n, k)
    n_a = n // 2
    cap = n if k is None else k
    half_a, half_b = _Levels.of(x[:n_a], cap), _Levels.of(x[n_a:], cap)
    if k is None:
        parts = [np.add.outer(np.concatenate(half_a.sums), np.concatenate(half_b.sums)).ravel()]
    else:
        parts = [np.add.outer(half_a.sums[c], half_b.sums[k - c]).ravel()
                 for c in range(max(0, k - (n - n_a)), min(k, n_a) + 1)]
    return np.sort(np.concatenate(parts))


def _sup_distance(sums: np.ndarray, lo: float, hi: float) -> float:
    """sup over z in [lo, hi] of the distance from z to the nearest element of the sorted ``sums``."""

    def dist(z: float) -> float:
        j = int(np.searchsorted(sums, z))
        return min(abs(z - sums[max(j - 1, 0)]), abs(z - sums[min(j, sums.size - 1)]))

    worst = max(dist(lo), dist(hi))
    # the peaks are the midpoints of consecutive sums; a gap that straddles lo or hi counts too when
    # its midpoint is inside, so take one sum beyond each end
    first = max(int(np.searchsorted(sums, lo)) - 1, 0)
    near = sums[first:int(np.searchsorted(sums, hi, side="right")) + 1]
    mid = (near[1:] + near[:-1]) / 2
    inside = (mid >= lo) & (mid <= hi)
    if inside.any():
        worst = max(worst, float(np.max(np.diff(near)[inside])) / 2)
    return worst


def _interval(lo: float | None, hi: float | None, k: int | None) -> tuple[float, float]:
    half = 1.0 if k is None else math.sqrt(max(k, 1))
    lo = -half if lo is None else float(lo)
    hi = half if hi is None else float(hi)
    if not lo <= hi:
        raise ValueError(f"the target interval needs lo <= hi, got lo={lo}, hi={hi}")
    return lo, hi


def sup_error(
    samples: np.ndarray, k: int | None = None, lo: float | None = None, hi: float | None = None
) -> float:
    """Worst-case best approximation error over an interval of targets.

    Returns sup_{z ∈ [lo, hi]} min_S |z − Σ_{i∈S} samples[i]| over the admissible subsets S. This is
    the limit of "every z on a grid of [lo, hi] is ε-approximable" as the grid gets finer: the sup is
    attained at an end of the interval or half-way between two consecutive subset sums, for every
    such midpoint inside [lo, hi] (including the gaps that straddle lo or hi).

    Parameters
    ----------
    samples : array of shape (n,)
    k : int or None
        None: any subset; an int in [0, n]: subsets of exactly k elements.
    lo, hi : float, optional
        The target interval; default [−1, 1] for any size and [−√k, √k] for size k.
    """
    x = _as_samples(samples)
    k = _check_k(k, x.size)
    lo, hi = _interval(lo, hi, k)
    return _sup_distance(subset_sums(x, k), lo, hi)


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """H₂(p) = −p log₂ p − (1 − p) log₂(1 − p), with H₂(0) = H₂(1) = 0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log2(p) - (1 - p) * np.log2(1 - p)
    return np.where((p <= 0) | (p >= 1), 0.0, h)


@dataclass
class CoverageResult:
    """Worst-case subset-sum errors of random Uniform[−1, 1] samples, for a range of sample sizes.

    Attributes
    ----------
    n_values : ndarray (N,)
        The sample sizes n, increasing.
    sup_errors : ndarray (trials, N)
        For each trial (one sample of size max(n_values), whose first n elements are used for each n)
        the worst-case error over the target interval; it never increases with n.
    k : int or None
        Subset size (None: any size).
    lo, hi : float
        The target interval.
    """

    n_values: np.ndarray
    sup_errors: np.ndarray
    k: int | None
    lo: float
    hi: float

    def probability(self, eps: float) -> np.ndarray:
        """Fraction of trials in which every target in [lo, hi] is ε-approximable, for each n."""
        return np.mean(self.sup_errors <= _check_eps(eps), axis=0)

    def threshold(self, eps: float, q: float = 0.5) -> float:
        """The sample size n* at which that probability reaches q (linear interpolation in n).

        nan if it does not within ``n_values``.
        """
        if not 0 < q < 1:
            raise ValueError(f"q must be in (0, 1), got q={q}")
        p = self.probability(eps)
        above = np.flatnonzero(p >= q)
        if above.size == 0:
            return math.nan
        i = int(above[0])
        if i == 0:
            return float(self.n_values[0])
        n0, n1, p0, p1 = self.n_values[i - 1], self.n_values[i], p[i - 1], p[i]
        return float(n0 + (q - p0) / (p1 - p0) * (n1 - n0))


def default_n_values(k: int | None, eps_min: float, margin_bits: float = 6.0,
                     max_points: int = 40) -> np.ndarray:
    """Sample sizes for :func:`coverage`: from max(k, 1) up to the smallest n with log₂(number of
    subsets) ≥ log₂(k/ε_min) + ``margin_bits`` (or the enumeration limit), at most ``max_points`` of
    them, spaced evenly in log n.
    """
    eps_min = _check_eps(eps_min)
    first = 1 if k is None else int(k)
    count = (lambda n: 2.0**n) if k is None else (lambda n: float(math.comb(n, k)))  # noqa: E731
    need = math.log2(max(first, 1) / eps_min) + margin_bits
    n = first
    while math.log2(max(count(n), 1.0)) < need and count(n + 1) <= MAX_ENUMERATED:
        n += 1
    return np.unique(np.round(np.geomspace(first, n, min(max_points, n - first + 1))).astype(int))


def coverage(
    n_values: Sequence[int], k: int | None = None, trials: int = 100, seed: int = 0,
    lo: float | None = None, hi: float | None = None, progress: bool = True,
) -> CoverageResult:
    """Draw ``trials`` Uniform[−1, 1] samples and record, for each n in ``n_values``, the worst-case
    error over [lo, hi] of the best subset (of size k) of the sample's first n elements.

    Parameters
    ----------
    n_values : increasing ints
        Sample sizes, each ≥ max(k, 1); 2^n (or C(n, k)) must not exceed :data:`MAX_ENUMERATED`.
    k : int or None
        Subset size (None: any size, the RSS problem; an int ≥ 1: the RFSS problem).
    trials : int
        Independent samples.
    seed : int
        Seed of the numpy generator.
    lo, hi : float, optional
        Target interval; default [−1, 1] (any size) or [−√k, √k] (size k).
    progress : bool
        Show a tqdm progress bar.
    """
    ns = np.asarray(n_values)
    if ns.ndim != 1 or ns.size == 0 or not np.issubdtype(ns.dtype, np.integer) or np.any(np.diff(ns) <= 0):
        raise ValueError(f"n_values must be a non-empty increasing sequence of ints, got {n_values!r}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be None (any size) or an int >= 1, got {k!r}")
    if ns[0] < (1 if k is None else k):
        raise ValueError(f"n_values must be >= max(k, 1) = {1 if k is None else k}, got n={ns[0]} "
                         f"(k > n)")
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an int >= 1, got {trials!r}")
    _check_enumeration(int(ns[-1]), k)
    lo, hi = _interval(lo, hi, k)
    rng = np.random.default_rng(seed)
    errors = np.empty((trials, ns.size))
    label = "RSS" if k is None else f"RFSS k={k}"
    for t in tqdm(range(trials), desc=f"{label} coverage", disable=not progress, leave=False):
        x = rng.uniform(-1, 1, int(ns[-1]))
        errors[t] = [_sup_distance(subset_sums(x[:n], k), lo, hi) for n in ns]
    return CoverageResult(ns, errors, k, lo, hi)


@dataclass
class ThresholdFit:
    """Empirical thresholds n*(k, ε) and the least-squares fits of a scaling law y ≈ C·x and
    y ≈ slope·x + intercept.

    For RSS (k = None), x = log₂(1/ε) and y = n*; for RFSS, x = log₂(k/ε) and y = n*·H₂(k/n*).

    Attributes
    ----------
    k : ndarray
        Subset size of each point (0 for RSS).
    eps : ndarray
        Error level of each point.
    n_star : ndarray
        Threshold sample size: the probability that every target is ε-approximable reaches ``q``
        (nan where it does not within the sizes tried; such points are left out of the fits).
    x, y : ndarray
        The law's two sides at each point.
    C : float
        Slope of the fit through the origin.
    slope, intercept : float
        The affine fit.
    r2 : float
        Coefficient of determination of the affine fit.
    q : float
        The probability level that defines n*.
    r2_origin : float
        Coefficient of determination of the fit through the origin, 1 − Σ(y − Cx)² / Σ(y − ȳ)² (the
        fit that :func:`~lottery_lab.theory.gadget.predicted_block_size` uses with C; it can be
        negative, when y = Cx fits worse than the mean of y).
    """

    k: np.ndarray
    eps: np.ndarray
    n_star: np.ndarray
    x: np.ndarray
    y: np.ndarray
    C: float
    slope: float
    intercept: float
    r2: float
    q: float
    r2_origin: float

    def table(self) -> list[dict]:
        """One row per (k, ε): the threshold and the law's two sides."""
        return [
            {"k": int(k), "eps": float(e), "n_star": float(n), "x": float(a), "y": float(b)}
            for k, e, n, a, b in zip(self.k, self.eps, self.n_star, self.x, self.y)
        ]


def fit_thresholds(
    coverages: Sequence[CoverageResult], eps_values: Sequence[float], q: float = 0.5
) -> ThresholdFit:
    """Thresholds n*(k, ε) from coverage results, and the fits of the scaling law.

    Parameters
    ----------
    coverages : CoverageResult, several
        All for any size (RSS: fits n* against log₂(1/ε), Lueker's n = O(log 1/ε)) or all for fixed
        sizes k (RFSS: fits n*·H₂(k/n*) against log₂(k/ε), an empirical law for all targets at once;
        Natale et al.'s Theorem 2 has this form for one fixed target).
    eps_values : floats > 0
        The error levels.
    q : float
        Probability level defining n* (0.5: the median).
    """
    eps = np.array([_check_eps(e) for e in eps_values])
    kinds = {c.k is None for c in coverages}
    if len(kinds) != 1:
        raise ValueError("coverages must be all any-size (k=None) or all fixed-size, not a mix")
    rss = kinds.pop()
    k_arr = np.array([0 if c.k is None else c.k for c in coverages for _ in eps])
    e_arr = np.tile(eps, len(coverages))
    n_arr = np.array([c.threshold(e, q) for c in coverages for e in eps])
    if rss:
        x, y = np.log2(1 / e_arr), n_arr
    else:
        x = np.log2(k_arr / e_arr)
        with np.errstate(invalid="ignore"):
            y = n_arr * binary_entropy(k_arr / n_arr)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        raise ValueError("fewer than two thresholds were reached: raise n_values or eps_values")
    xs, ys = x[ok], y[ok]
    C = float(xs @ ys / (xs @ xs))
    slope, intercept = (float(v) for v in np.polyfit(xs, ys, 1))
    total = max(float(((ys - ys.mean()) ** 2).sum()), 1e-300)
    resid = ys - (slope * xs + intercept)
    r2 = float(1 - resid @ resid / total)
    resid0 = ys - C * xs
    return ThresholdFit(k_arr, e_arr, n_arr, x, y, C, slope, intercept, r2, q,
                        float(1 - resid0 @ resid0 / total))

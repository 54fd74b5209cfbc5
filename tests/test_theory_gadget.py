"""The subset-sum gadget: a pruned random network within ε of the target at the predicted density."""

import itertools
import math

import numpy as np
import pytest

from lottery_lab.theory import gadget, subset_sum


@pytest.mark.parametrize("k", [2, 3, 4])
def test_pruned_network_is_within_eps_at_the_predicted_density(k):
    d, h, eps = 3, 2, 0.05
    rng = np.random.default_rng(k)
    W = rng.uniform(-1, 1, (h, d))
    net = gadget.build(W, eps, k, C=2.0, seed=k)
    assert net.n == gadget.predicted_block_size(k, eps / d, C=2.0)
    x = rng.uniform(-1, 1, (20_000, d))
    err = net.sup_error(x)
    assert err <= net.guaranteed_error + 1e-12 and net.guaranteed_error <= eps
    # the V layer keeps exactly k of the n candidates per target weight and sign
    assert net.mask_V.sum() == 2 * h * d * k
    assert net.density == pytest.approx(gadget.predicted_density(d, h, net.n, k), rel=0.15)
    assert net.overparameterisation == gadget.overparameterisation(d, h, net.n)


def test_gadget_reproduces_the_target_exactly_from_its_own_subsets():
    """Independent check of the construction: g(x) recomputed from the chosen subsets by hand."""
    d, h, k = 2, 2, 2
    rng = np.random.default_rng(0)
    W = rng.uniform(-1, 1, (h, d))
    U, V = gadget.random_network(d, h, 8, first_layer="uniform", seed=1)
    net = gadget.prune(W, U, V, k)
    x = rng.uniform(-1, 1, (50, d))
    ref = np.zeros((50, h))
    for i, j in itertools.product(range(h), range(d)):
        rows = np.flatnonzero(net.mask_V[i])
        rows = rows[(rows >= 16 * j) & (rows < 16 * (j + 1))]
        assert rows.size == 2 * k
        for r in rows:
            ref[:, i] += V[i, r] * np.maximum(U[r, j] * x[:, j], 0)
    np.testing.assert_allclose(net(x), np.maximum(ref, 0), atol=1e-12)
    # each half's coefficient sum is the exact best k-subset sum (brute force)
    for i, j, s in itertools.product(range(h), range(d), range(2)):
        rows = np.arange(16 * j + 8 * s, 16 * j + 8 * (s + 1))
        coef = V[i, rows] * U[rows, j]
        best = min(abs(W[i, j] - coef[list(c)].sum()) for c in itertools.combinations(range(8), k))
        assert net.weight_errors[i, j, s] == pytest.approx(best, abs=1e-12)


def test_block_size_follows_the_law():
    for k, eps_w, C in [(2, 0.01, 1.5), (5, 0.001, 2.0)]:
        n = gadget.predicted_block_size(k, eps_w, C)
        need = C * math.log2(k / eps_w)
        assert n * subset_sum.binary_entropy(k / n) >= need > (n - 1) * subset_sum.binary_entropy(k / (n - 1))


def test_tradeoff_curve_is_monotone_in_k():
    curve = gadget.tradeoff_curve([1, 2, 4, 8], 0.05, 4, 4, C=2.0)
    assert np.all(np.diff(curve["density"]) > 0)
    assert np.all(np.diff(curve["overparameterisation"]) < 0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: gadget.build(np.ones((2, 2)), 0.0, 2, C=2.0), r"eps must be > 0, got eps=0.0"),
        (lambda: gadget.build(np.ones(3), 0.1, 2, C=2.0), r"W must be a 2-d array"),
        (lambda: gadget.random_network(2, 2, 4, first_layer="gauss"), r"first_layer must be one of"),
        (lambda: gadget.prune(np.ones((2, 2)), *gadget.random_network(2, 2, 4), k=5), r"k must be an int in \[1, n=4\]"),
        (lambda: gadget.prune(np.ones((2, 3)), *gadget.random_network(2, 2, 4), k=2), r"shapes do not match"),
        (lambda: gadget.prune(np.ones((1, 1)), *gadget.random_network(1, 1, 50), k=25), r"exceeds the exact subset-sum limit n <= 40"),
        (lambda: gadget.predicted_block_size(0, 0.1, 2.0), r"k must be an int >= 1"),
        (lambda: gadget.predicted_block_size(2, -0.1, 2.0), r"eps_w must be > 0"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()

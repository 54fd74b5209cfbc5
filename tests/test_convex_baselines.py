"""Weight-space baselines of the MNIST sanity check against cvxpy and against each other."""

import cvxpy as cp
import numpy as np
import pytest

from lottery_lab.convex import baselines, data


@pytest.fixture(scope="module")
def problem():
    D = data.synthetic(150, 10, 3, seed=5, snr=2.0)
    return D.X, D.y


def _cvxpy_l1_logistic(X, y, lam):
    s = np.where(y > 0, 1.0, -1.0)
    w = cp.Variable(X.shape[1])
    obj = cp.sum(cp.logistic(-cp.multiply(s, X @ w))) / len(y) + lam * cp.norm1(w)
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    return w.value, obj.value


def test_proximal_path_matches_cvxpy_and_subgradient_does_not_get_below(problem):
    X, y = problem
    lams = baselines.weight_lam_max(X, y) * np.array([0.02, 0.2, 0.6, 1.0])
    prox = baselines.weight_l1_prox(X, y, lams, n_iter=5000, tol=1e-10)
    sub = baselines.weight_l1_subgradient(X, y, lams, n_iter=500)
    for j, lam in enumerate(lams):
        w_ref, f_ref = _cvxpy_l1_logistic(X, y, lam)
        assert prox.objective[j] == pytest.approx(f_ref, rel=1e-6)
        np.testing.assert_allclose(prox.w[j], w_ref, atol=1e-4)
        assert sub.objective[j] >= f_ref - 1e-7
    assert np.all(prox.w[-1] == 0)  # λ = ‖∇ℓ(0)‖_∞ keeps nothing
    assert np.all(sub.w[1:] != 0)  # subgradient steps never land on 0


def test_dense_fit_is_stationary(problem):
    X, y = problem
    theta = baselines.fit_dense_theta(X, y, ridge=0.1)
    s = np.where(y > 0, 1.0, -1.0)
    grad = -(s / (1 + np.exp(s * (X @ theta)))) @ X / len(y) + 0.1 * theta
    assert np.max(np.abs(grad)) <= 1e-6

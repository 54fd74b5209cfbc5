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


# --- bit-equality with the code the baselines replaced (their own logistic loss and FISTA step) -------

def _old_grad(X, y, z):
    from scipy.special import expit

    return -((y * expit(-z)) @ X) / len(y)


def _old_loss(z):
    from scipy.special import log_expit

    return -log_expit(z).mean(axis=-1)


def _old_prox(X, y01, lams, n_iter, tol):
    """weight_l1_prox as it was before it used MaskProblem: its own loss, gradient and momentum."""
    y = np.where(y01 > 0, 1.0, -1.0)
    t = 1.0 / baselines.lipschitz_logistic(X)
    W = np.zeros((len(lams), X.shape[1]))
    Z = np.zeros((len(lams), X.shape[0]))
    W_prev, Z_prev, tk, history = W, Z, 1.0, []
    for _ in range(n_iter):
        tk_next = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
        beta = (tk - 1) / tk_next
        V, ZV = W + beta * (W - W_prev), Z + beta * (Z - Z_prev)
        W_prev, Z_prev, tk = W, Z, tk_next
        U = V - t * _old_grad(X, y, ZV)
        W = np.sign(U) * np.maximum(np.abs(U) - t * lams[:, None], 0.0)
        Z = (W @ X.T) * y
        history.append(_old_loss(Z) + lams * np.abs(W).sum(axis=1))
        if np.max(np.linalg.norm(W - V, axis=1)) / t <= tol:
            break
    return W, np.array(history)


def _old_subgradient(X, y01, lams, n_iter):
    y = np.where(y01 > 0, 1.0, -1.0)
    eta = 1.0 / baselines.lipschitz_logistic(X)
    W, Z = np.zeros((len(lams), X.shape[1])), np.zeros((len(lams), X.shape[0]))
    history = []
    for _ in range(n_iter):
        W = W - eta * (_old_grad(X, y, Z) + lams[:, None] * np.sign(W))
        Z = (W @ X.T) * y
        history.append(_old_loss(Z) + lams * np.abs(W).sum(axis=1))
    return W, np.array(history)


def test_baselines_are_bit_identical_to_their_own_loss_and_fista_before(problem):
    X, y = problem
    lams = baselines.weight_lam_max(X, y) * np.array([0.05, 0.3, 0.9])
    W_old, h_old = _old_prox(X, y, lams, n_iter=300, tol=1e-9)
    new = baselines.weight_l1_prox(X, y, lams, n_iter=300, tol=1e-9)
    assert np.array_equal(new.w, W_old) and np.array_equal(new.history, h_old)
    W_old, h_old = _old_subgradient(X, y, lams, n_iter=200)
    new = baselines.weight_l1_subgradient(X, y, lams, n_iter=200)
    assert np.array_equal(new.w, W_old) and np.array_equal(new.history, h_old)
    s = np.where(y > 0, 1.0, -1.0)
    assert baselines.weight_lam_max(X, y) == float(np.max(np.abs(_old_grad(X, s, np.zeros((1, len(y)))))))

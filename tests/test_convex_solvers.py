"""Projected gradient against exact cvxpy solutions (ℓ1), stationarity certificates and reweighted ℓ1 (log)."""

import numpy as np
import pytest
from scipy.optimize import brentq

from lottery_lab import convex, penalties
from lottery_lab.convex.baselines import fit_dense_theta


def _random_problem(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(20, 120)), int(rng.integers(3, 16))
    ridge = float(rng.choice([0.0, 1e-3, 0.1])) if n > d else 0.05
    D = convex.data.synthetic(n, d, max(1, d // 3), seed=seed, snr=float(rng.uniform(0.5, 3)))
    lam = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.1))))
    return convex.MaskProblem(D.X, D.y, D.theta, ridge=ridge), lam


def _assert_agree(prob, lam, pgd, ref):
    f_ref = convex.solvers.objective(prob, pgd.penalty, lam, ref.m)
    assert pgd.converged
    assert abs(pgd.objective - f_ref) <= 1e-6 * abs(f_ref)
    assert np.max(np.abs(pgd.m - ref.m)) <= 1e-3


@pytest.mark.parametrize("seed", range(24))
def test_l1_pgd_matches_cvxpy_on_random_problems(seed):
    prob, lam = _random_problem(seed)
    _assert_agree(prob, lam, convex.solve_pgd(prob, "l1", lam, tol=1e-9), convex.solve_cvxpy(prob, "l1", lam))


@pytest.fixture(scope="module")
def mnist_problem():
    D = convex.data.mnist_pair(3, 8)
    return convex.MaskProblem(D.X_train, D.y_train, fit_dense_theta(D.X_train, D.y_train), ridge=1e-3)


def test_l1_pgd_matches_cvxpy_on_an_mnist_pair(mnist_problem):
    lam = 1e-3
    pgd = convex.solve_pgd(mnist_problem, "l1", lam, tol=1e-8)
    _assert_agree(mnist_problem, lam, pgd, convex.solve_cvxpy(mnist_problem, "l1", lam))
    assert 0 < np.mean(pgd.m > 0.5) < 0.5  # a sparse mask, not a trivial one


@pytest.mark.parametrize("seed", range(8))
def test_log_pgd_is_stationary_and_no_worse_than_reweighted_l1(seed):
    prob, lam = _random_problem(1000 + seed)
    P = penalties.get("log", eps=[0.05, 0.1, 0.3, 1.0][seed % 4])
    pgd = convex.solve_pgd(prob, P, lam, tol=1e-10)
    rw = convex.solve_cvxpy(prob, P, lam)
    assert pgd.converged and rw.converged
    assert convex.stationarity_gap(prob, P, lam, pgd.m) <= 1e-6
    assert convex.stationarity_residual(prob, P, lam, pgd.m) <= 1e-8
    assert pgd.objective <= rw.objective + 1e-6 * abs(rw.objective)
    # both are monotone descent methods
    assert np.all(np.diff(pgd.history) <= 1e-12)
    assert np.all(np.diff(rw.history) <= 1e-8 * abs(rw.objective))  # up to the solver's accuracy


def test_stationarity_gap_is_positive_away_from_stationary_points():
    prob, lam = _random_problem(7)
    P = penalties.get("log", eps=0.1)
    assert convex.stationarity_gap(prob, P, lam, np.full(prob.d, 0.5)) > 1e-4
    assert convex.stationarity_gap(prob, "l1", lam, convex.solve_cvxpy(prob, "l1", lam).m) <= 1e-7


def _residual_by_hand(prob, lam, eps, m):
    """‖m − clip(m − ∇L(m) − λ ε/(ε + m), 0, 1)‖ for the log penalty, ∇L from its formula."""
    z = prob.y * (prob.X @ (m * prob.theta))
    grad_L = -(prob.X * prob.theta).T @ (prob.y / (1 + np.exp(z))) / prob.n + prob.ridge * m
    return np.linalg.norm(m - np.clip(m - grad_L - lam * eps / (eps + m), 0, 1))


def test_stationarity_residual_is_first_order_and_the_gap_second_order():
    D = convex.data.synthetic(300, 6, 2, seed=21, snr=0.5)
    prob = convex.MaskProblem(D.X, D.y, D.theta, ridge=0.5)  # the optimum sits inside the box
    P, lam = penalties.get("log", eps=0.1), 0.01
    m_star = convex.solve_pgd(prob, P, lam, tol=1e-13).m
    free = (m_star > 0.05) & (m_star < 0.95)
    assert free.sum() >= 2
    v = np.where(free, 1.0, 0.0) / np.sqrt(free.sum())
    res, gap = {}, {}
    for delta in (3e-2, 3e-3):
        m = m_star + delta * v
        res[delta] = convex.stationarity_residual(prob, P, lam, m)
        gap[delta] = convex.stationarity_gap(prob, P, lam, m)
        assert res[delta] == pytest.approx(_residual_by_hand(prob, lam, 0.1, m), rel=1e-10)
    assert 8 < res[3e-2] / res[3e-3] < 12.5  # linear in the distance
    assert 60 < gap[3e-2] / gap[3e-3] < 160  # quadratic in the distance
    assert convex.stationarity_residual(prob, P, lam, m_star) <= 1e-10


def test_both_certificates_vanish_at_a_strict_local_maximum():
    # d = 1, every label +1, θ = 1: F(m) = log(1 + e^{-m}) + λ ε log(1 + m/ε) rises from 0, then falls
    prob = convex.MaskProblem(np.ones((1, 1)), np.ones(1), np.ones(1))
    eps, lam = 0.05, 1.0
    P = penalties.get("log", eps=eps)
    dF = lambda t: -1 / (1 + np.exp(t)) + lam * eps / (eps + t)  # noqa: E731
    m = np.array([brentq(dF, 0.0, 1.0, xtol=1e-15)])
    F = lambda t: np.log1p(np.exp(-t)) + lam * eps * np.log1p(t / eps)  # noqa: E731
    assert F(m[0]) > max(F(m[0] - 1e-3), F(m[0] + 1e-3))  # a strict local maximum
    assert convex.stationarity_residual(prob, P, lam, m) <= 1e-12
    assert convex.stationarity_gap(prob, P, lam, m) <= 1e-9


@pytest.mark.parametrize("penalty", ["l1", "log", penalties.get("tl1", a=0.5), penalties.get("mcp", gamma=0.8)])
def test_batched_path_equals_one_by_one_solves(penalty):
    prob, _ = _random_problem(11)
    lams = np.logspace(-3, -0.5, 7)
    path = convex.solve_pgd(prob, penalty, lams, tol=1e-10)
    assert path.m.shape == (7, prob.d) and path.history.shape[1] == 7
    for j, lam in enumerate(lams):
        one = convex.solve_pgd(prob, penalty, lam, tol=1e-10)
        np.testing.assert_allclose(path.m[j], one.m, atol=1e-6)
        assert path.objective[j] == pytest.approx(one.objective, rel=1e-10)


def test_scalar_result_types_and_start_point():
    prob, lam = _random_problem(3)
    res = convex.solve_pgd(prob, "l1", lam, m0=np.zeros(prob.d))
    assert res.m.shape == (prob.d,) and isinstance(res.objective, float) and isinstance(res.n_iter, int)
    assert res.history.ndim == 1 and len(res.history) == res.n_iter
    assert np.all((res.m >= 0) & (res.m <= 1))


@pytest.fixture(scope="module")
def small():
    return _random_problem(5)[0]


@pytest.mark.parametrize("lam,match", [(-0.1, "^lam="), (np.array([]), "^lam=.*empty"),
                                       (np.array([0.1, -1.0]), "^lam="), (np.nan, "^lam="),
                                       (np.ones((2, 2)), "^lam=")])
def test_bad_lam_raises_value_error(small, lam, match):
    for solve in (convex.solve_pgd, convex.solve_cvxpy):
        with pytest.raises(ValueError, match=match):
            solve(small, "l1", lam)


@pytest.mark.parametrize("penalty,match", [("nope", "penalty='nope' must be one of the registered penalties: l1"), ("l0", "penalty 'l0'")])
def test_bad_penalty_raises_value_error(small, penalty, match):
    point_fns = (convex.stationarity_gap, convex.stationarity_residual)
    for fn in (convex.solve_pgd, convex.solve_cvxpy) + point_fns:
        args = (small, penalty, 0.1) + ((np.ones(small.d),) if fn in point_fns else ())
        with pytest.raises(ValueError, match=match):
            fn(*args)


def test_bad_start_and_point_raise_value_error(small):
    with pytest.raises(ValueError, match="^m0="):
        convex.solve_pgd(small, "l1", 0.1, m0=np.full(small.d, 2.0))
    with pytest.raises(ValueError, match="^m0="):
        convex.solve_pgd(small, "l1", 0.1, m0=np.ones(small.d + 1))
    with pytest.raises(ValueError, match="^m="):
        convex.stationarity_gap(small, "l1", 0.1, -np.ones(small.d))
    with pytest.raises(ValueError, match="^m="):
        convex.stationarity_residual(small, "l1", 0.1, np.ones(small.d + 1))
    with pytest.raises(ValueError, match="^lam=.*single"):
        convex.stationarity_residual(small, "l1", np.array([0.1, 0.2]), np.ones(small.d))
    with pytest.raises(ValueError, match="^tol="):
        convex.solve_pgd(small, "l1", 0.1, tol=-1.0)
    with pytest.raises(ValueError, match="^max_iter="):
        convex.solve_pgd(small, "l1", 0.1, max_iter=0)
    with pytest.raises(ValueError, match="^lam=.*single"):
        convex.solve_cvxpy(small, "l1", np.array([0.1, 0.2]))

"""The mask error bound holds in random trials, for ℓ1 and for the log penalty, and its corollary is sound."""

import numpy as np
import pytest

from lottery_lab import convex, penalties
from lottery_lab.convex.experiments import bound_trials, summarise_bound_trials


@pytest.fixture(scope="module")
def trials():
    return bound_trials(n_problems=26, lams_per_problem=5, seed=2024, n_range=(100, 3000), d_range=(3, 12))


def test_bound_holds_in_every_random_trial(trials):
    assert len(trials) >= 200
    for name in ("l1", "log"):
        ts = [t for t in trials if t.penalty == name]
        assert len(ts) >= 100
        assert len({(t.n, t.d, t.s, t.ridge) for t in ts}) >= 20  # the trials vary the problem
        assert len({t.lam for t in ts}) == len(ts)
    for t in trials:
        assert t.gamma > 0
        assert t.error <= t.bound * (1 + 1e-6) + 1e-9, t


def test_corollary_certificates_are_never_wrong(trials):
    for t in trials:
        if t.certifies_exact:
            assert t.exact_recovery, t
    summary = summarise_bound_trials(trials)
    assert set(summary) == {"l1", "log"}
    assert all(row["violations"] == 0 for row in summary.values())


def test_bound_by_hand_on_a_tiny_problem():
    D = convex.data.synthetic(500, 4, 2, seed=3, snr=0.5)
    prob = convex.MaskProblem(D.X, D.y, D.theta, ridge=0.01)
    lam = 0.02
    b = convex.mask_error_bound(prob, "l1", lam, D.mask, alpha=0.3)
    v = -prob.grad(D.mask) - lam
    pi = np.where(D.mask == 0, np.maximum(v, 0), np.minimum(v, 0))
    assert b.residual == pytest.approx(np.linalg.norm(pi))
    assert b.bound == pytest.approx(np.linalg.norm(pi) / prob.gamma)
    assert b.certifies_exact == (b.bound < 0.3) and b.m_hat is None
    m_hat = convex.solve_pgd(prob, "l1", lam, tol=1e-10).m
    assert np.linalg.norm(m_hat - D.mask) <= b.bound


def test_log_bound_uses_the_stationary_point_and_solves_for_it_when_omitted():
    D = convex.data.synthetic(800, 6, 2, seed=4, snr=0.5)
    prob = convex.MaskProblem(D.X, D.y, D.theta, ridge=0.0)
    P = penalties.get("log", eps=0.1)
    b = convex.mask_error_bound(prob, P, 0.01, D.mask)
    m_hat = convex.solve_pgd(prob, P, 0.01).m
    np.testing.assert_allclose(b.m_hat, m_hat)
    v = -prob.grad(D.mask) - 0.01 * 0.1 / (0.1 + m_hat)
    assert b.residual == pytest.approx(np.linalg.norm(convex.tangent_projection(v, D.mask)))


def test_tangent_projection_keeps_the_feasible_directions():
    v = np.array([-1.0, 2.0, -3.0, 4.0])
    m_ref = np.array([0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(convex.tangent_projection(v, m_ref), [0.0, 2.0, -3.0, 0.0])


def test_bound_is_infinite_without_strong_convexity():
    rng = np.random.default_rng(0)
    prob = convex.MaskProblem(rng.standard_normal((3, 6)), rng.integers(0, 2, 3), rng.standard_normal(6))
    b = convex.mask_error_bound(prob, "l1", 0.1, np.ones(6))
    assert b.bound == np.inf and not b.certifies_exact


@pytest.mark.parametrize("kwargs,match", [
    (dict(m_ref=np.array([0.0, 0.5, 1.0])), "^m_ref="),
    (dict(m_ref=np.ones(4)), "^m_ref="),
    (dict(m_ref=np.ones(3), alpha=1.0), "^alpha="),
    (dict(m_ref=np.ones(3), lam=-1.0), "^lam="),
    (dict(m_ref=np.ones(3), m_hat=np.full(3, 1.5), penalty="log"), "^m_hat="),
])
def test_bad_input_raises_value_error(kwargs, match):
    rng = np.random.default_rng(1)
    prob = convex.MaskProblem(rng.standard_normal((20, 3)), rng.integers(0, 2, 20), np.ones(3))
    args = dict(penalty="l1", lam=0.1) | kwargs
    with pytest.raises(ValueError, match=match):
        convex.mask_error_bound(prob, **args)

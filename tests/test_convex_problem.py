"""MaskProblem against independent references: finite differences, exact Hessian eigenvalues."""

import numpy as np
import pytest

from lottery_lab import convex
from lottery_lab.convex.problem import sigmoid_prime


def _problem(seed, n=60, d=8, ridge=0.0, labels01=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    theta = rng.standard_normal(d)
    y = (rng.random(n) < 0.5).astype(float)
    return convex.MaskProblem(X, y if labels01 else 2 * y - 1, theta, ridge=ridge)


@pytest.mark.parametrize("seed", range(5))
def test_gradient_matches_central_differences(seed):
    prob = _problem(seed, ridge=[0.0, 0.1][seed % 2])
    rng = np.random.default_rng(100 + seed)
    h = 1e-6
    for m in rng.random((3, prob.d)):
        fd = np.array([(prob.loss(m + h * e) - prob.loss(m - h * e)) / (2 * h) for e in np.eye(prob.d)])
        np.testing.assert_allclose(prob.grad(m), fd, atol=1e-8)


def test_loss_matches_direct_formula_and_label_conventions_agree():
    p01, ppm = _problem(0, ridge=0.3), _problem(0, ridge=0.3, labels01=False)
    m = np.random.default_rng(1).random(p01.d)
    y = np.where(p01.y > 0, 1.0, -1.0)
    direct = np.mean(np.log1p(np.exp(-y * (p01.X @ (m * p01.theta))))) + 0.15 * m @ m
    assert p01.loss(m) == pytest.approx(direct, rel=1e-12)
    assert ppm.loss(m) == pytest.approx(direct, rel=1e-12)


def test_batched_loss_and_gradient_equal_row_by_row():
    prob = _problem(2, ridge=0.05)
    M = np.random.default_rng(3).random((4, prob.d))
    np.testing.assert_allclose(prob.loss(M), [prob.loss(m) for m in M], rtol=1e-13)
    np.testing.assert_allclose(prob.grad(M), [prob.grad(m) for m in M], rtol=1e-12, atol=1e-15)


def test_hessian_matches_differences_of_the_gradient():
    prob = _problem(4, ridge=0.2)
    m, h = np.random.default_rng(5).random(prob.d), 1e-6
    fd = np.array([(prob.grad(m + h * e) - prob.grad(m - h * e)) / (2 * h) for e in np.eye(prob.d)])
    np.testing.assert_allclose(prob.hessian(m), fd, atol=1e-8)


@pytest.mark.parametrize("n,d,ridge,scale", [(200, 5, 0.0, 0.3), (50, 10, 0.0, 0.2), (30, 12, 0.01, 0.5),
                                             (400, 4, 0.0, 1.0), (20, 6, 0.1, 0.1)])
def test_gamma_is_a_lower_bound_on_the_hessian_over_the_box(n, d, ridge, scale):
    rng = np.random.default_rng(n * d)
    X = rng.standard_normal((n, d))
    prob = convex.MaskProblem(X, rng.integers(0, 2, n), scale * rng.standard_normal(d), ridge=ridge)
    points = np.vstack([rng.random((40, d)), rng.integers(0, 2, (20, d)), np.ones((1, d))])
    lam_min = min(np.linalg.eigvalsh(prob.hessian(m))[0] for m in points)
    assert prob.gamma > 0
    assert lam_min >= prob.gamma * (1 - 1e-10)
    # and the formula is the documented one
    A = X * prob.theta
    expect = sigmoid_prime(np.abs(A).sum(1).max()) * np.linalg.eigvalsh(A.T @ A / n)[0] + ridge
    assert prob.gamma == pytest.approx(expect, rel=1e-9)


def test_lipschitz_is_an_upper_bound_on_the_hessian():
    prob = _problem(6, ridge=0.05)
    rng = np.random.default_rng(7)
    lam_max = max(np.linalg.eigvalsh(prob.hessian(m))[-1] for m in rng.uniform(-1, 2, (50, prob.d)))
    assert lam_max <= prob.lipschitz * (1 + 1e-12)


def test_gamma_is_zero_when_d_exceeds_n_without_ridge():
    assert _problem(8, n=5, d=8).gamma == pytest.approx(0.0, abs=1e-12)


X3, Y3, T3 = np.ones((3, 2)), np.array([0, 1, 1]), np.ones(2)


@pytest.mark.parametrize("kwargs,name", [
    (dict(X=np.ones((3, 2)), y=np.array([0, 1]), theta=T3), "y"),
    (dict(X=X3, y=Y3, theta=np.ones(3)), "theta"),
    (dict(X=np.ones(3), y=Y3, theta=T3), "X"),
    (dict(X=X3, y=np.array([0, 1, 2]), theta=T3), "y"),
    (dict(X=X3, y=np.array([-1, 0, 1]), theta=T3), "y"),
    (dict(X=X3, y=np.array([0.5, 1, 0]), theta=T3), "y"),
    (dict(X=np.array([[1.0, np.nan], [0, 1], [1, 1]]), y=Y3, theta=T3), "X"),
    (dict(X=np.array([[1.0, np.inf], [0, 1], [1, 1]]), y=Y3, theta=T3), "X"),
    (dict(X=X3, y=Y3, theta=np.array([1.0, np.nan])), "theta"),
    (dict(X=X3, y=Y3, theta=T3, ridge=-0.1), "ridge"),
])
def test_bad_input_raises_value_error_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        convex.MaskProblem(**kwargs)


def test_label_error_names_the_allowed_values():
    with pytest.raises(ValueError, match=r"\{0, 1\} or \{-1, \+1\}"):
        convex.MaskProblem(X3, np.array([0, 1, 2]), T3)

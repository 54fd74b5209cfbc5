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
    assert _problem(8, n=5, d=8).gamma == 0.0


def _sigma_prime_closed_form(t: np.ndarray) -> np.ndarray:
    """σ'(t) = e^{−|t|} / (1 + e^{−|t|})², exact to rounding for every t."""
    e = np.exp(-np.abs(t))
    return e / (1.0 + e) ** 2


def test_sigmoid_prime_is_accurate_where_one_minus_sigma_rounds():
    # for t ≈ 33–37, σ(t) is within a few ulps of 1 and s(1 − s) is off by up to a factor 2
    t = np.concatenate([np.linspace(-45, 45, 9001), np.linspace(33, 37, 4001), [700.0, -700.0]])
    np.testing.assert_allclose(sigmoid_prime(t), _sigma_prime_closed_form(t), rtol=1e-13, atol=0)


def test_gamma_uses_an_accurate_sigma_prime_at_a_large_margin_bound():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    theta = np.array([1.0, -0.5, 2.0])
    M = 36.7368  # where s(1 − s) is twice σ'
    theta *= M / np.abs(X * theta).sum(axis=1).max()
    prob = convex.MaskProblem(X, rng.integers(0, 2, 300), theta)
    assert prob.margin_bound == pytest.approx(M, rel=1e-12)
    A = X * theta
    expect = _sigma_prime_closed_form(prob.margin_bound) * np.linalg.eigvalsh(A.T @ A / 300)[0]
    assert prob.gamma == pytest.approx(expect, rel=1e-9)


def _rank_deficient_design(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X and θ whose (1/n) D_θ XᵀX D_θ is singular by construction."""
    n, d = int(rng.integers(20, 200)), int(rng.integers(3, 12))
    X, theta = rng.standard_normal((n, d)), rng.standard_normal(d)
    if kind == "duplicated":
        X[:, 1], theta[1] = X[:, 0], theta[0]
    elif kind == "parallel":
        X[:, 1] = rng.uniform(0.1, 10) * X[:, 0]
    elif kind == "n < d":
        X = X[: int(rng.integers(1, d))]
    else:  # a zero weight: its column of A vanishes
        theta[int(rng.integers(d))] = 0.0
    return X, theta


@pytest.mark.parametrize("kind", ["duplicated", "parallel", "n < d", "zero theta"])
def test_gamma_certifies_nothing_from_a_singular_design(kind):
    # eigvalsh returns λ_min ≈ ±1e-16 for these; a positive one must not count as strong convexity
    rng = np.random.default_rng(["duplicated", "parallel", "n < d", "zero theta"].index(kind))
    for _ in range(40):
        X, theta = _rank_deficient_design(kind, rng)
        y = rng.integers(0, 2, X.shape[0])
        assert convex.MaskProblem(X, y, theta).gamma == 0.0
        assert convex.MaskProblem(X, y, theta, ridge=0.01).gamma == 0.01


def test_no_exact_recovery_is_certified_when_a_duplicated_feature_splits_the_minimiser():
    # x_2 duplicates x_1 with equal θ, so F depends on m_1 + m_2 only: every split of the pair is an
    # exact minimiser when one is.  λ is chosen so that m_ref = (1, 1, 0) satisfies the first-order
    # conditions of the convex ℓ1 problem exactly.
    rng = np.random.default_rng(12)
    n = 400
    X = rng.standard_normal((n, 3))
    X[:, 2] = X[:, 1]
    theta = np.array([2.0, 1.0, 1.0])
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-X @ np.array([2.0, 1.0, 0.0]))), 1.0, -1.0)
    prob = convex.MaskProblem(X, y, theta)
    a, b = np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.0, 1.0])
    g = prob.grad(a)
    assert g[0] <= g[1] < 0 and g[1] == g[2]
    lam = -g[1]

    def F(m):  # the ℓ1 objective, written out
        return np.mean(np.log1p(np.exp(-y * (X @ (m * theta))))) + lam * m.sum()

    # both are exact minimisers (no cvxpy solution is lower) and they threshold to different masks
    f_ref = F(convex.solve_cvxpy(prob, "l1", lam).m)
    assert F(a) == F(b) and F(a) <= f_ref + 1e-9
    assert not np.array_equal(a > 0.5, b > 0.5)
    res = convex.mask_error_bound(prob, "l1", lam, a)
    assert res.residual == 0.0  # a is stationary ...
    assert res.gamma == 0.0 and res.bound == np.inf and not res.certifies_exact  # ... but not unique


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

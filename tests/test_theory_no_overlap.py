"""No-overlap CNN: closed form against Monte Carlo and finite differences; RVSM and its limit."""

import math

import numpy as np
import pytest

from lottery_lab import penalties
from lottery_lab.theory import no_overlap as no


def _mc(w, w_star, k, n, seed):
    """Independent Monte Carlo reference: sample the network directly, gradient by the chain rule."""
    rng = np.random.default_rng(seed)
    loss, grad = 0.0, np.zeros_like(w)
    for _ in range(n // 200_000):
        x = rng.standard_normal((200_000, k, w.size))
        pre = np.einsum("nkd,d->nk", x, w)
        f = np.maximum(pre, 0).sum(1) / k
        f_star = np.maximum(np.einsum("nkd,d->nk", x, w_star), 0).sum(1) / k
        diff = f - f_star
        loss += np.sum(diff**2)
        grad += np.einsum("n,nkd->d", 2 * diff / k, x * (pre > 0)[:, :, None])
    return loss / n, grad / n


@pytest.mark.parametrize("k, angle", [(3, 0.7), (5, 2.2)])
def test_closed_form_matches_monte_carlo(k, angle):
    d = 4
    rng = np.random.default_rng(k)
    w_star = rng.standard_normal(d)
    # a student at the given angle from the teacher, with a different norm
    e1 = w_star / np.linalg.norm(w_star)
    v = rng.standard_normal(d)
    e2 = v - (v @ e1) * e1
    e2 /= np.linalg.norm(e2)
    w = 1.3 * np.linalg.norm(w_star) * (math.cos(angle) * e1 + math.sin(angle) * e2)
    loss_mc, grad_mc = _mc(w, w_star, k, 10**6, seed=10 + k)
    assert no.population_loss(w, w_star, k) == pytest.approx(loss_mc, rel=0.01)
    grad = no.population_grad(w, w_star, k)
    assert np.linalg.norm(grad - grad_mc) <= 0.01 * np.linalg.norm(grad)


def test_library_monte_carlo_agrees():
    w_star, w = np.array([1.0, -0.5, 0.3]), np.array([0.2, 0.8, -0.4])
    loss, grad = no.monte_carlo(w, w_star, 2, n_samples=200_000, seed=1)
    assert loss == pytest.approx(no.population_loss(w, w_star, 2), rel=0.03)
    assert np.linalg.norm(grad - no.population_grad(w, w_star, 2)) <= 0.03 * np.linalg.norm(grad)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    for k in (1, 2, 6):
        w_star, w = rng.standard_normal(5), rng.standard_normal(5)
        h = 1e-6
        fd = np.array([(no.population_loss(w + h * e, w_star, k) - no.population_loss(w - h * e, w_star, k))
                       / (2 * h) for e in np.eye(5)])
        np.testing.assert_allclose(no.population_grad(w, w_star, k), fd, rtol=1e-6, atol=1e-9)


def test_loss_special_values_and_batch():
    w_star = np.array([0.6, -0.8])
    assert no.population_loss(w_star, w_star, 3) == pytest.approx(0.0, abs=1e-15)
    # at w = 0: E[f*²] = (1/k)(‖w*‖²/2) + (1 − 1/k)‖w*‖²/(2π)
    k = 3
    assert no.population_loss(np.zeros(2), w_star, k) == pytest.approx(0.5 / k + (1 - 1 / k) / (2 * math.pi))
    batch = np.stack([w_star, np.zeros(2), -w_star])
    np.testing.assert_allclose(no.population_loss(batch, w_star, k),
                               [no.population_loss(b, w_star, k) for b in batch])
    assert no.population_grad(batch[[0, 2]], w_star, k).shape == (2, 2)


TEACHER = no.sparse_teacher(16, 8, seed=0)


@pytest.mark.parametrize("penalty", ["l1", "tl1"])
@pytest.mark.parametrize("lam", [0.03, 0.05])
def test_rvsm_converges_to_the_predicted_limit(penalty, lam):
    beta, k = 0.5, 4
    res = no.rvsm(TEACHER, k, penalty, lam, beta, inits=6, seed=1)
    assert res.converged
    assert np.max(np.abs(res.u - res.u[0])) < 1e-7  # the same limit from every initialisation
    fp = no.rvsm_fixed_point(TEACHER, k, penalty, lam, beta)
    assert not fp.ambiguous.any()
    np.testing.assert_allclose(res.u, np.broadcast_to(fp.u, res.u.shape), atol=1e-7)
    np.testing.assert_allclose(res.w, np.broadcast_to(fp.w, res.w.shape), atol=1e-7)
    assert np.all(fp.u[TEACHER == 0] == 0)
    # the limit is stationary for RVSM: ∇ℓ(w̄) + β(w̄ − ū) = 0
    stat = no.population_grad(fp.w, TEACHER, k) + beta * (fp.w - fp.u)
    assert np.max(np.abs(stat)) < 1e-8


@pytest.mark.parametrize("lam", [0.03, 0.1])
def test_l1_limit_is_a_scaled_soft_threshold_of_the_teacher(lam):
    beta, k = 0.5, 4
    fp = no.rvsm_fixed_point(TEACHER, k, "l1", lam, beta)
    a, c = fp.alpha, fp.c
    soft = np.sign(TEACHER) * np.maximum(np.abs(TEACHER) - lam * (a + beta) / (beta * c), 0)
    np.testing.assert_allclose(fp.u, c / a * soft, atol=1e-10)
    # α and c are those of the limit itself
    r, s = np.linalg.norm(fp.w), np.linalg.norm(TEACHER)
    theta = math.acos(np.clip(fp.w @ TEACHER / (r * s), -1, 1))
    assert c == pytest.approx((math.pi - theta) / (math.pi * k), abs=1e-10)
    assert 0 < c / a * (1 + 1e-9) and np.sum(fp.u != 0) < np.sum(TEACHER != 0) + 1


@pytest.mark.parametrize("lam", [0.03, 0.05])
def test_l0_limits_are_teacher_restricted_to_their_support(lam):
    beta, k = 0.5, 4
    res = no.rvsm(TEACHER, k, "l0", lam, beta, inits=6, seed=2)
    assert res.converged
    t = math.sqrt(2 * lam / beta)
    for w, u in zip(res.w, res.u):
        support = u != 0
        fp = no.rvsm_fixed_point(TEACHER, k, "l0", lam, beta, support=support)
        np.testing.assert_allclose(u, fp.u, atol=1e-7)
        # ū = (c/α)·w* on the support; the kept/zeroed coordinates sit on their branches
        np.testing.assert_allclose(u[support], (fp.c / fp.alpha * TEACHER)[support], atol=1e-7)
        assert np.all(np.abs(fp.c / fp.alpha * TEACHER[support]) > t)
        assert np.all(np.abs(fp.c * TEACHER[~support]) / (fp.alpha + beta) <= t + 1e-12)


def test_l0_keeping_every_teacher_weight_recovers_the_teacher_exactly():
    fp = no.rvsm_fixed_point(TEACHER, 4, "l0", 0.005, 0.5, support=TEACHER != 0)
    np.testing.assert_allclose(fp.u, TEACHER, atol=1e-10)
    assert fp.alpha == pytest.approx(0.25) and fp.c == pytest.approx(0.25)


def test_subgradient_descent_does_not_reach_zeros():
    res = no.subgradient_descent(TEACHER, 4, "l1", 0.05, inits=3, lr=0.5, max_iter=3000, seed=0)
    assert np.all(res.u != 0)  # oscillates around zero instead
    small = np.abs(res.u[:, TEACHER == 0])
    assert np.max(small) < 0.05  # …within about lr·λ of it
    rv = no.rvsm(TEACHER, 4, "l1", 0.05, 0.5, inits=3, seed=0)
    assert np.all(rv.u[:, TEACHER == 0] == 0)
    # with l0 the subgradient is 0 away from 0: plain gradient descent, converging to w*
    plain = no.subgradient_descent(TEACHER, 4, "l0", 0.05, inits=2, lr=1.0, max_iter=5000, seed=0)
    np.testing.assert_allclose(plain.u, np.broadcast_to(TEACHER, plain.u.shape), atol=1e-6)


def test_tradeoff_rows():
    rows = no.tradeoff(TEACHER, 4, ["l1", penalties.get("tl1", a=1.0)], [0.0, 0.3], beta=0.2,
                       inits=2, progress=False)
    assert [(r["penalty"], r["lam"]) for r in rows] == [("l1", 0.0), ("l1", 0.3), ("tl1", 0.0), ("tl1", 0.3)]
    assert rows[0]["loss"] < 1e-12 and rows[0]["zeros"] == 0.0  # λ = 0: prox is the identity
    assert rows[1]["zeros"] == 1.0 and rows[1]["support_recovered"] == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: no.population_loss(np.ones(3), np.ones(4), 2), r"w must have shape \(\.\.\., d\) with d = w_star.size = 4"),
        (lambda: no.population_loss(np.ones(3), np.ones((3, 1)), 2), r"w_star must be a non-empty 1-d array"),
        (lambda: no.population_grad(np.ones(3), np.ones(3), 0), r"k \(the number of patches\) must be an int >= 1"),
        (lambda: no.population_grad(np.zeros(3), np.ones(3), 2), r"w must be non-zero"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, 0.0), r"beta must be a finite number > 0, got beta=0.0"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, -1.0), r"beta must be a finite number > 0"),
        (lambda: no.rvsm(TEACHER, 4, "l1", -0.1, 1.0), r"lam must be a finite number >= 0, got lam=-0.1"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, 1.0, lr=0.0), r"lr must be a finite number > 0"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, 1.0, max_iter=0), r"max_iter must be an int >= 1"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, 1.0, inits=np.ones((2, 3))), r"inits must have shape \(R, d=16\)"),
        (lambda: no.rvsm(TEACHER, 4, "nope", 0.1, 1.0), r"penalty='nope' must be one of the registered penalties"),
        (lambda: no.subgradient_descent(TEACHER, 4, "l1", -1.0), r"lam must be a finite number >= 0"),
        (lambda: no.rvsm_fixed_point(TEACHER, 4, "l1", 0.1, 0.0), r"beta must be a finite number > 0"),
        (lambda: no.rvsm_fixed_point(TEACHER, 4, "l0", 0.1, 0.5, support=np.ones(3)), r"support must have shape"),
        (lambda: no.network(np.ones((5, 3)), np.ones(3)), r"x must have shape \(N, k, d=3\)"),
        (lambda: no.sparse_teacher(4, 5), r"nnz must be an int in \[1, d=4\]"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


NAN_TEACHER = np.where(np.arange(16) == 3, np.nan, TEACHER)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: no.population_loss(np.ones(16), NAN_TEACHER, 4), r"^w_star must be finite; got 1 non-finite"),
        (lambda: no.population_loss(np.full(16, np.inf), TEACHER, 4), r"^w must be finite; got 16 non-finite .*inf"),
        (lambda: no.population_loss(np.array([[1.0, 2.0], [np.nan, 0.0]]), np.ones(2), 2), r"^w must be finite"),
        (lambda: no.population_grad(np.ones(16), np.where(TEACHER > 0, -np.inf, TEACHER), 4), r"^w_star must be finite"),
        (lambda: no.population_grad(np.full(16, np.nan), TEACHER, 4), r"^w must be finite"),
        (lambda: no.monte_carlo(np.ones(16), NAN_TEACHER, 4, n_samples=10), r"^w_star must be finite"),
        (lambda: no.rvsm(NAN_TEACHER, 4, "l0", 0.1, 0.5), r"^w_star must be finite"),
        (lambda: no.rvsm(TEACHER, 4, "l1", 0.1, 0.5, inits=np.full((2, 16), np.nan)), r"^inits must be finite"),
        (lambda: no.subgradient_descent(NAN_TEACHER, 4, "l1", 0.1), r"^w_star must be finite"),
        (lambda: no.rvsm_fixed_point(NAN_TEACHER, 4, "l1", 0.1, 0.5), r"^w_star must be finite"),
    ],
)
def test_non_finite_filters_raise_naming_the_argument(call, match):
    # before: NaN from the closed forms, and RVSM iterated on NaN until max_iter (2.7 s) to return NaN
    with pytest.raises(ValueError, match=match):
        call()


def test_rvsm_rejects_a_nan_teacher_before_iterating(monkeypatch):
    def no_iterations(*args, **kwargs):
        raise AssertionError("RVSM started iterating on a NaN teacher")

    monkeypatch.setattr(no, "_run", no_iterations)
    with pytest.raises(ValueError, match="^w_star must be finite"):
        no.rvsm(NAN_TEACHER, 4, "l0", 0.1, 0.5)

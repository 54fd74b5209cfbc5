"""Penalties against independent references: finite differences and brute-force 1-d minimisation."""

import numpy as np
import pytest
import torch

from lottery_lab import penalties

CONFIGS = [
    ("l1", {}),
    ("log", {"eps": 0.1}),
    ("log", {"eps": 1.0}),
    ("lp", {"p": 0.5, "eps": 0.1}),
    ("lp", {"p": 0.2, "eps": 0.5}),
    ("scad", {"a": 3.7, "b": 0.5}),
    ("scad", {"a": 2.5, "b": 1.0}),
    ("mcp", {"gamma": 0.5}),
    ("mcp", {"gamma": 2.0}),
    ("tl1", {"a": 0.5}),
    ("tl1", {"a": 2.0}),
    ("l0", {}),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in p.items())}" for n, p in CONFIGS]

GRID = np.linspace(-4.0, 4.0, 80001)  # step 1e-4, contains 0 exactly
STEP = GRID[1] - GRID[0]


def _triples(rng, n=150):
    x = rng.uniform(-3, 3, n)
    tau = np.where(rng.random(n) < 0.5, rng.uniform(0.0, 0.3, n), rng.uniform(0.3, 2.5, n))
    return x, tau


@pytest.mark.parametrize("name,params", CONFIGS, ids=IDS)
def test_prox_matches_brute_force_grid(name, params):
    P = penalties.get(name, **params)
    rng = np.random.default_rng(abs(hash(name + str(params))) % 2**32)
    x, tau = _triples(rng)
    z = P.prox(x, tau)
    R_grid = P.value(GRID)
    for xi, ti, zi in zip(x, tau, z):
        obj_grid = 0.5 * (GRID - xi) ** 2 + ti * R_grid
        j = int(np.argmin(obj_grid))
        obj_z = 0.5 * (zi - xi) ** 2 + ti * float(P.value(zi))
        # the prox is never worse than the best grid point, and at most a grid step's worth better
        assert obj_z <= obj_grid[j] + 1e-12, (xi, ti, zi, GRID[j])
        assert obj_z >= obj_grid[j] - 4 * STEP * (abs(xi) + 1 + ti), (xi, ti, zi, GRID[j])
        # where the minimiser is unique (no near-tie with another local minimum) it sits on the grid's
        near_tie = np.sort(obj_grid[np.abs(GRID - zi) > 10 * STEP])[:1]
        if near_tie.size == 0 or near_tie[0] - obj_z > 1e-6:
            assert abs(zi - GRID[j]) <= 1e-3 * max(1.0, STEP * 1e4), (xi, ti, zi, GRID[j])


def test_tl1_prox_both_threshold_regimes():
    # Zhang & Xin's threshold has two regimes, λ ≤ a²/(2(a+1)) and above it; here λ = τ a/(a+1),
    # so the boundary is τ = a/2. Check the threshold itself against the grid in both regimes.
    a = 1.0
    P = penalties.get("tl1", a=a)
    R_grid = P.value(GRID)
    for tau in [0.1, 0.3, 0.49, 0.51, 1.0, 2.0]:
        t_star = float(P.threshold(tau))
        for x in [t_star - 2e-3, t_star + 2e-3]:
            obj = 0.5 * (GRID - x) ** 2 + tau * R_grid
            z_grid = GRID[np.argmin(obj)]
            assert (abs(z_grid) < 1e-9) == (x < t_star), (tau, x, z_grid)
            assert abs(float(P.prox(x, tau)) - z_grid) <= 2e-3
    # regime 1 threshold equals τ (slope 1 at 0); regime 2 is strictly larger than τ
    assert float(P.threshold(0.3)) == pytest.approx(0.3)
    assert float(P.threshold(2.0)) == pytest.approx(np.sqrt(2 * 2.0 * a) - a / 2) and float(P.threshold(2.0)) > 2.0 * a / (a + 1)


@pytest.mark.parametrize("name,params", [c for c in CONFIGS if c[0] != "l0"], ids=IDS[:-1])
def test_grad_matches_finite_differences(name, params):
    P = penalties.get(name, **params)
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 400)
    kinks = [0.0]
    if name == "scad":
        kinks += [params["b"], params["a"] * params["b"]]
    if name == "mcp":
        kinks += [params["gamma"]]
    x = x[np.min(np.abs(np.abs(x)[:, None] - np.array(kinks)[None]), axis=1) > 1e-3]
    h = 1e-6
    fd = (P.value(x + h) - P.value(x - h)) / (2 * h)
    np.testing.assert_allclose(P.grad(x), fd, rtol=1e-5, atol=1e-6)
    pos = np.abs(x)
    np.testing.assert_allclose(P.slope(pos), P.grad(pos))


@pytest.mark.parametrize("name,params", [c for c in CONFIGS if c[0] != "l0"], ids=IDS[:-1])
def test_slope_one_at_zero(name, params):
    P = penalties.get(name, **params)
    h = 1e-9
    assert float(P.value(h)) / h == pytest.approx(1.0, rel=1e-6)
    assert float(P.grad(0.0)) == pytest.approx(1.0)
    assert float(P.value(0.0)) == 0.0


def test_l0_hard_threshold_and_counts():
    P = penalties.get("l0")
    x = np.array([-2.0, -0.5, 0.0, 0.3, 1.5])
    np.testing.assert_array_equal(P.value(x), [1, 1, 0, 1, 1])
    np.testing.assert_array_equal(P.prox(x, 0.5), [-2.0, 0.0, 0.0, 0.0, 1.5])  # threshold √(2·0.5) = 1
    np.testing.assert_array_equal(P.grad(x), np.zeros(5))


@pytest.mark.parametrize("name,params", CONFIGS, ids=IDS)
def test_torch_and_numpy_agree(name, params):
    P = penalties.get(name, **params)
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (7, 11))
    tau = rng.uniform(0, 2, (7, 1))  # broadcasts, as in a batched λ path
    xt, taut = torch.tensor(x), torch.tensor(tau)
    for a, b in [(P.value(x), P.value(xt)), (P.grad(x), P.grad(xt)), (P.prox(x, tau), P.prox(xt, taut))]:
        assert isinstance(b, torch.Tensor)
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-12)


def test_torch_value_is_differentiable():
    P = penalties.get("log", eps=0.1)
    m = torch.tensor([0.2, 0.7], dtype=torch.float64, requires_grad=True)
    P.value(m).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), 0.1 / (0.1 + np.array([0.2, 0.7])))


def test_float32_tensor_stays_float32():
    P = penalties.get("scad")
    x = torch.rand(5, dtype=torch.float32)
    for out in (P.value(x), P.grad(x), P.prox(x, 0.1)):
        assert out.dtype == torch.float32


@pytest.mark.parametrize(
    "name,params,word",
    [
        ("log", {"eps": 0.0}, "eps"),
        ("log", {"eps": -1.0}, "eps"),
        ("lp", {"p": 1.0}, "p"),
        ("lp", {"p": 0.0}, "p"),
        ("lp", {"p": 0.5, "eps": 0.0}, "eps"),
        ("tl1", {"a": 0.0}, "a"),
        ("tl1", {"a": -2.0}, "a"),
        ("scad", {"a": 2.0}, "a"),
        ("scad", {"b": 0.0}, "b"),
        ("mcp", {"gamma": 0.0}, "gamma"),
        ("nope", {}, "l1"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(name, params, word):
    with pytest.raises(ValueError, match=word):
        penalties.get(name, **params)


def test_bad_types_and_tau():
    with pytest.raises(TypeError, match="eps"):
        penalties.get("log", eps="0.1")
    with pytest.raises(TypeError, match="epsilon"):  # an unknown keyword, as in a Python call
        penalties.get("log", epsilon=0.1)
    with pytest.raises(TypeError, match="penalty=3"):
        penalties.get(3)
    with pytest.raises(ValueError, match="tau"):
        penalties.get("l1").prox(np.ones(3), -0.1)


def test_registry_names_and_passthrough():
    assert set(penalties.names()) == {"l1", "log", "lp", "scad", "mcp", "tl1", "l0"}
    P = penalties.get("LOG", eps=0.2)
    assert penalties.get(P) is P
    assert P == penalties.get("log", eps=0.2)
    assert not P.is_convex and penalties.get("l1").is_convex

"""Hard-concrete gates against Monte Carlo, and the density multipliers against the ascent rule."""

import math

import pytest
import torch

from lottery_lab.methods.hard_concrete import HardConcrete
from lottery_lab.methods.lagrangian import DensityMultipliers

N = 100_000


@pytest.mark.parametrize("log_alpha", [-3.0, -0.5, 0.0, 1.0, 4.0])
def test_sampling_statistics_match_closed_form(log_alpha):
    hc = HardConcrete()
    g = torch.Generator().manual_seed(int(10 * log_alpha) + 100)
    la = torch.full((N,), log_alpha, dtype=torch.float64)
    z = hc.sample(la, generator=g)
    assert z.min() >= 0 and z.max() <= 1
    # independent reference for P(z = 0): the CDF of the logistic variable log u − log(1 − u)
    c = -hc.gamma / (hc.zeta - hc.gamma)
    p0_ref = 1 / (1 + math.exp(-(hc.beta * math.log(c / (1 - c)) - log_alpha)))
    for emp, ref in [
        ((z == 0).double().mean().item(), p0_ref),
        ((z != 0).double().mean().item(), hc.prob_nonzero(la[:1]).item()),
        ((z == 1).double().mean().item(), hc.prob_one(la[:1]).item()),
    ]:
        sd = math.sqrt(max(ref * (1 - ref), 1e-12) / N)
        assert abs(emp - ref) <= 5 * sd + 1e-4, (emp, ref)
    assert hc.prob_nonzero(la[:1]).item() == pytest.approx(1 - p0_ref, abs=1e-12)


def test_expected_l0_norm_over_a_vector():
    hc = HardConcrete()
    g = torch.Generator().manual_seed(0)
    la = torch.linspace(-4, 4, 50, dtype=torch.float64)
    draws = torch.stack([hc.sample(la, generator=g) for _ in range(4000)])
    emp = (draws != 0).double().sum(1).mean().item()
    assert emp == pytest.approx(hc.prob_nonzero(la).sum().item(), rel=0.01)


def test_sample_is_differentiable_and_deterministic_gate():
    hc = HardConcrete()
    la = torch.zeros(10, requires_grad=True)
    hc.sample(la, generator=torch.Generator().manual_seed(1)).sum().backward()
    assert la.grad is not None and torch.isfinite(la.grad).all()
    # σ(0)(ζ − γ) + γ = 0.5·1.2 − 0.1 = 0.5
    assert hc.deterministic(torch.zeros(1)).item() == pytest.approx(0.5)
    assert hc.deterministic(torch.tensor([10.0, -10.0])).tolist() == [1.0, 0.0]


def test_log_alpha_for_density_inverts_prob_nonzero():
    hc = HardConcrete()
    for d in (0.05, 0.5, 0.9):
        assert hc.prob_nonzero(torch.tensor(hc.log_alpha_for_density(d))).item() == pytest.approx(d)


def test_bad_hard_concrete_parameters():
    with pytest.raises(ValueError, match="beta"):
        HardConcrete(beta=0.0)
    with pytest.raises(ValueError, match="gamma"):
        HardConcrete(gamma=0.1)
    with pytest.raises(ValueError, match="density"):
        HardConcrete().log_alpha_for_density(1.0)


def test_multipliers_ascend_and_restart():
    mult = DensityMultipliers({"global": 0.1, "fc1": 0.2}, lr=0.5)
    # μ ← max(0, μ + (η / κ)(d − κ)), worked by hand: the step counts the violation relative to κ
    mult.step(torch.tensor([0.3, 0.1]))
    assert mult.mu.tolist() == pytest.approx([0.5 * 0.2 / 0.1, 0.0])
    mult.step(torch.tensor([0.2, 0.3]))
    assert mult.mu.tolist() == pytest.approx([1.0 + 0.5, 0.5 * 0.1 / 0.2])
    mult.step(torch.tensor([0.05, 0.3]))  # global satisfied → dual restart
    assert mult.mu[0].item() == 0.0
    d = torch.tensor([0.3, 0.4], requires_grad=True)
    mult.lagrangian_term(d).backward()
    assert d.grad.tolist() == pytest.approx(mult.mu.tolist())
    buf = torch.zeros(1, dtype=torch.float64)
    no_restart = DensityMultipliers({"global": 0.1}, lr=1.0, restarts=False, mu=buf)
    no_restart.step(torch.tensor([0.5]))
    no_restart.step(torch.tensor([0.0]))
    assert buf.item() == pytest.approx(4.0 - 1.0)  # (0.4 − 0.1)/0.1: updated in place, a module buffer sees it


@pytest.mark.parametrize("targets,lr,word", [({}, 0.1, "targets"), ({"g": 0.0}, 0.1, "target"),
                                             ({"g": 1.0}, 0.1, "target"), ({"g": 0.5}, 0.0, "lr")])
def test_bad_multiplier_arguments(targets, lr, word):
    with pytest.raises(ValueError, match=word):
        DensityMultipliers(targets, lr=lr)


def test_gated_net_samples_equal_the_plain_formula_bit_for_bit_values_and_gradients():
    # the written-out backward of GatedNet's gates against autograd through HardConcrete.sample,
    # layer by layer (the same draws: one rand per layer, in order); some gates clamped at 0 and 1
    from torch import nn

    from lottery_lab.methods.l0 import GatedNet

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 5))
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if p.ndim > 1}
    hc = HardConcrete(2 / 3, -0.1, 1.1)
    for dtype in (torch.float32, torch.float64):
        net = GatedNet(model.to(dtype), mask, 0.0, hc, 1)
        with torch.no_grad():
            for la in net.variables:
                la.copy_(torch.randn(la.shape, dtype=dtype) * 3)  # spread: many gates at 0 or 1
        upstream = [torch.randn(la.shape, dtype=dtype) for la in net.variables]
        torch.manual_seed(7)
        z = net._sampled_gates()
        got = torch.autograd.grad(sum((u * g).sum() for u, g in zip(upstream, z)), net.variables)
        torch.manual_seed(7)
        leaves = [la.detach().clone().requires_grad_() for la in net.variables]
        ref_z = [hc.sample(la) for la in leaves]
        ref = torch.autograd.grad(sum((u * g).sum() for u, g in zip(upstream, ref_z)), leaves)
        assert all(torch.equal(a, b) for a, b in zip(z, ref_z))
        assert all(torch.equal(a, b) for a, b in zip(got, ref))
        assert any(bool((g == 0).any()) and bool((g == 1).any()) for g in z)  # both clamps were hit

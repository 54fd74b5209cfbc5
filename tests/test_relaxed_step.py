"""The concave method's fused search step against a straightforward reference step written here.

The reference: w = θ ⊙ m with plain autograd, the network run through ``torch.func.functional_call``,
m's gradient plus λ·R'(m) from the penalty's closed form, SGD with momentum (and weight decay on θ)
written out per tensor, m multiplied by its support, then clipped to [0, 1]. After k steps θ and m
must agree with the engine's (``train`` with the search's module, groups, masks and callbacks).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import masks, methods, penalties
from lottery_lab.methods.concave import RelaxedMaskNet
from lottery_lab.train import TrainConfig, train

LR, MASK_LR, MOMENTUM, WD = 0.1, 5.0, 0.9, 1e-3


def setup(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    g = torch.Generator().manual_seed(seed + 1)
    mask = {n: torch.rand(p.shape, generator=g) < 0.7 for n, p in masks.prunable(net).items()}
    masks.apply(net, mask)
    X = torch.randn(6 * 16, 12, generator=g)
    y = torch.randint(0, 3, (6 * 16,), generator=g)
    batches = [(X[i:i + 16], y[i:i + 16]) for i in range(0, len(y), 16)]
    return net, mask, batches


def slope(name, t):
    """R'(t) for t >= 0, from each penalty's closed form (defaults as documented)."""
    if name == "log":
        return 0.1 / (0.1 + t)
    if name == "l1":
        return torch.ones_like(t)
    if name == "mcp":
        return torch.clamp(1 - t / 0.5, min=0)
    raise AssertionError(name)


def reference(net, mask, batches, steps, penalty, lam=None, target=None, alpha=0.5, dual_lr=1.0, lam0=None):
    """θ and m after ``steps`` plain steps (λ fixed, or ascended towards ``target`` density)."""
    names = list(mask)
    thetas = dict(net.named_parameters())
    m = {n: (mask[n].float() * 1.0).requires_grad_() for n in names}
    bufs: dict[str, torch.Tensor] = {}
    lam_t = None if target is None else torch.tensor(lam0, dtype=torch.float64)
    total = sum(mask[n].numel() for n in names)
    for step in range(steps):
        x, y = batches[step % len(batches)]
        eff = {n: thetas[n] * m[n] for n in names}
        loss = F.cross_entropy(torch.func.functional_call(net, eff, (x,)), y)
        for p in [*thetas.values(), *m.values()]:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for n in names:
                scale = lam if lam_t is None else lam_t.float()
                m[n].grad += scale * slope(penalty, m[n])
            updates = [(k, p, LR, WD) for k, p in thetas.items()] + [("m." + n, m[n], MASK_LR, 0.0) for n in names]
            for key, p, lr, wd in updates:
                d = p.grad + wd * p
                bufs[key] = d.clone() if key not in bufs else MOMENTUM * bufs[key] + d
                p -= lr * bufs[key]
            for n in names:
                m[n].mul_(mask[n]).clamp_(0.0, 1.0)
            if lam_t is not None:
                d = sum(int((m[n] >= alpha).sum()) for n in names) / total
                lam_t *= math.exp(dual_lr * (d - target))
    return {n: thetas[n].detach() for n in thetas}, {n: m[n].detach() for n in names}


def engine(net, mask, batches, steps, **kw):
    search = methods.get("concave", mask_lr=MASK_LR, **kw).search(net, mask, methods.Context(1, torch.Generator()))
    cfg = TrainConfig(iterations=steps, lr=LR, momentum=MOMENTUM, weight_decay=WD, amp=False, progress=False)
    train(search.module, batches, cfg, masks=search.masks, callbacks=search.callbacks,
          param_groups=search.param_groups)
    return dict(net.named_parameters()), search.module.relaxed_mask()


@pytest.mark.parametrize("penalty", ["log", "l1", "mcp"])
def test_fused_step_matches_the_reference_step(penalty):
    steps = 15
    net, mask, batches = setup()
    ref_net, _, _ = setup()
    theta_ref, m_ref = reference(ref_net, mask, batches, steps, penalty, lam=2e-2)
    theta, m = engine(net, mask, batches, steps, lam=2e-2, penalty=penalty)
    for n in theta_ref:
        torch.testing.assert_close(theta[n].detach(), theta_ref[n], rtol=0, atol=1e-6)
    for n in m_ref:
        torch.testing.assert_close(m[n], m_ref[n], rtol=0, atol=1e-6)
        assert (m[n][~mask[n]] == 0).all() and m[n].min() >= 0 and m[n].max() <= 1
    assert any(not torch.equal(m_ref[n], mask[n].float()) for n in m_ref)   # m moved: the check has teeth


def test_fused_step_with_target_density_matches_the_reference_step():
    steps = 12
    net, mask, batches = setup(3)
    ref_net, _, _ = setup(3)
    theta_ref, m_ref = reference(ref_net, mask, batches, steps, "log", target=0.3, lam0=1e-2)
    theta, m = engine(net, mask, batches, steps, lam=1e-2, target_density=0.3)
    for n in theta_ref:
        torch.testing.assert_close(theta[n].detach(), theta_ref[n], rtol=0, atol=1e-6)
    for n in m_ref:
        torch.testing.assert_close(m[n], m_ref[n], rtol=0, atol=1e-6)


def test_effective_weights_are_differentiable_and_buffers_are_reused():
    net, mask, batches = setup()
    relaxed = RelaxedMaskNet(net, mask, 0.8)
    x, y = batches[0]
    F.cross_entropy(relaxed(x), y).backward()
    first = [w.data_ptr() for w in relaxed.effective_weights().values()]
    thetas = dict(net.named_parameters())
    for n in mask:  # d/dθ and d/dm of the loss through w = θ ⊙ m, against plain autograd
        w = (thetas[n] * relaxed.m[n.replace(".", "/")]).detach().requires_grad_()
        eff = {k: (w if k == n else (thetas[k] * relaxed.m[k.replace(".", "/")]).detach()) for k in mask}
        F.cross_entropy(torch.func.functional_call(net, eff, (x,)), y).backward()
        torch.testing.assert_close(thetas[n].grad, w.grad * relaxed.m[n.replace(".", "/")].detach())
        torch.testing.assert_close(relaxed.m[n.replace(".", "/")].grad, w.grad * thetas[n].detach())
    assert [w.data_ptr() for w in relaxed.effective_weights().values()] == first   # no new weight-sized tensors
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())           # θ swapped back after the call
    assert set(dict(relaxed.state_dict())) == {*(f"net.{k}" for k in dict(net.state_dict())),
                                               *(f"m.{k.replace('.', '/')}" for k in mask)}


@pytest.mark.parametrize("name", penalties.names())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_slope_into_a_buffer_is_bit_equal_to_slope(name, dtype):
    g = torch.Generator().manual_seed(0)
    t = torch.rand(4000, generator=g, dtype=dtype) * 3
    t[:50] = 0
    out = torch.full_like(t, float("nan"))
    pen = penalties.get(name)
    assert pen.slope_(t, out) is out
    assert torch.equal(out, pen.slope(t))

"""SNIP and SynFlow scores against hand-computed values on a 2-layer network (and SNIP on BatchNorm)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab.methods.saliency import magnitude_scores, snip_scores, synflow_scores


def _net(bias: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4, bias=bias), nn.ReLU(), nn.Linear(4, 3, bias=bias)).double()


NAMES = ["0.weight", "2.weight"]


def test_snip_matches_hand_computed_cross_entropy_gradient():
    net = _net()
    X = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    W1, W2 = (net[0].weight.detach().numpy(), net[2].weight.detach().numpy())
    x = X.numpy()
    pre = x @ W1.T
    h = np.maximum(pre, 0)
    o = h @ W2.T
    p = np.exp(o - o.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(3)[y.numpy()]) / len(y)
    gW2 = delta.T @ h
    gW1 = ((delta @ W2) * (pre > 0)).T @ x
    s = snip_scores(net, NAMES, X, y)
    np.testing.assert_allclose(s["0.weight"].numpy(), np.abs(gW1 * W1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(s["2.weight"].numpy(), np.abs(gW2 * W2), rtol=1e-10, atol=1e-14)


def test_synflow_matches_path_norm_formula_and_restores_weights():
    net = _net(bias=False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    A1, A2 = (np.abs(net[0].weight.detach().numpy()), np.abs(net[2].weight.detach().numpy()))
    # R = 1ᵀ|W2||W1|1: score(W1[i,j]) = |W1[i,j]|·Σ_k|W2[k,i]|, score(W2[k,i]) = |W2[k,i]|·Σ_j|W1[i,j]|
    s = synflow_scores(net, NAMES, (5,))
    np.testing.assert_allclose(s["0.weight"].numpy(), A1 * A2.sum(0)[:, None], rtol=1e-12)
    np.testing.assert_allclose(s["2.weight"].numpy(), A2 * A1.sum(1)[None, :], rtol=1e-12)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # with a mask: pruned weights carry no flow
    m1 = torch.ones_like(net[0].weight)
    m1[0, :] = 0
    s = synflow_scores(net, NAMES, (5,), masks={"0.weight": m1})
    B1 = A1 * m1.numpy()
    np.testing.assert_allclose(s["2.weight"].numpy(), A2 * B1.sum(1)[None, :], rtol=1e-12)
    assert (s["0.weight"][0] == 0).all()
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_magnitude_scores_are_absolute_weights():
    net = _net()
    s = magnitude_scores(net, NAMES)
    assert torch.equal(s["0.weight"], net[0].weight.detach().abs())


def _bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                        nn.Linear(3 * 4 * 4, 3)).double()
    with torch.no_grad():                               # running statistics far from the batch's
        net[1].running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        net[1].running_var.copy_(torch.tensor([4.0, 0.25, 9.0]))
        net[1].weight.copy_(torch.tensor([1.5, 0.7, -1.2]))
        net[1].bias.copy_(torch.tensor([0.1, -0.3, 0.2]))
    return net


def _snip_by_hand(net, X, y, train_mode):
    """|∂L/∂w ⊙ w| of a hand-written conv → BatchNorm → ReLU → linear forward (BN in the given mode)."""
    conv, bn, lin = net[0], net[1], net[4]
    Wc = conv.weight.detach().clone().requires_grad_()
    Wl = lin.weight.detach().clone().requires_grad_()
    z = F.conv2d(X, Wc, padding=1)
    if train_mode:
        mean, var = z.mean((0, 2, 3)), z.var((0, 2, 3), unbiased=False)
    else:
        mean, var = bn.running_mean, bn.running_var
    zn = (z - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + bn.eps)
    h = torch.relu(zn * bn.weight.detach()[None, :, None, None] + bn.bias.detach()[None, :, None, None])
    loss = F.cross_entropy(F.linear(h.flatten(1), Wl, lin.bias.detach()), y)
    gc, gl = torch.autograd.grad(loss, [Wc, Wl])
    return {"0.weight": (gc * Wc).abs().detach(), "4.weight": (gl * Wl).abs().detach()}


def test_snip_scores_in_eval_and_train_mode_on_batchnorm_match_hand_computation():
    net = _bn_net()
    net.train()
    g = torch.Generator().manual_seed(2)
    X = torch.randn(8, 2, 4, 4, dtype=torch.float64, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    names = ["0.weight", "4.weight"]
    got = {mode: snip_scores(net, names, X, y, mode=mode) for mode in ("eval", "train")}
    for mode in ("eval", "train"):
        ref = _snip_by_hand(net, X, y, train_mode=mode == "train")
        for n in names:
            torch.testing.assert_close(got[mode][n], ref[n], rtol=1e-10, atol=1e-14)
    assert not torch.allclose(got["eval"]["0.weight"], got["train"]["0.weight"])   # the mode matters
    assert torch.equal(snip_scores(net, names, X, y)["0.weight"], got["eval"]["0.weight"])  # default: eval
    assert net.training                                                     # mode and state restored
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="mode='test'.*eval, train"):
        snip_scores(net, names, X, y, mode="test")
